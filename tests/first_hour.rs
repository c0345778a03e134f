//! The first hour of a new user (issue 16): scenarios without a header, `meshbook new`,
//! errors that teach, and the command-line conventions people expect. Each through the binary,
//! with the exit code and the message's key words asserted.

use crate::support::Test;
use crate::targets::Served;

// ---- Headerless scenarios -------------------------------------------------------------------

const HEADERLESS: &str = r#"let east = cluster("east");
section("Create", || {
    east.create_namespace("demo");
    expect(east.get("namespace", "demo") != (), "namespace exists");
});
"#;

#[test]
fn without_a_header_the_clusters_are_the_names_the_script_uses() {
    Test::runbook(HEADERLESS)
        .run()
        .status(0)
        .stdout_has("simulated clusters: east")
        .stdout_has("east -> simulated");
}

#[test]
fn without_a_header_context_maps_the_scripts_clusters() {
    let served = Served::start("prod-east");
    let kubeconfig = served.kubeconfig.to_string_lossy().to_string();
    // Accepted as a mapping (no "declares no cluster"), so the context itself is looked up.
    Test::runbook(HEADERLESS)
        .env("KUBECONFIG", &kubeconfig)
        .args(&["--context", "east=no-such-context"])
        .run()
        .status(2)
        .stderr_has("`no-such-context`")
        .no_backtrace();
    Test::runbook(HEADERLESS)
        .args(&["--context", "west=x"])
        .run()
        .status(2)
        .stderr_has("declares no cluster `west`")
        .stderr_has("`east`");
    Test::runbook(HEADERLESS)
        .env("KUBECONFIG", &kubeconfig)
        .args(&["--context", "east=prod-east"])
        .run()
        .status(0)
        .stdout_has("contexts: east=prod-east");
}

#[test]
fn check_reports_undeclared_clusters_and_nested_sections() {
    Test::new()
        .file(
            "r.rhai",
            "//! clusters:\n//!   cluster1: CLUSTER1\nlet c1 = cluster(\"cluster1\");\nlet c2 = cluster(\"clustr1\");\nsection(\"Outer\", || {\n    step(\"inner step\", || {\n        section(\"Inner\", || { c1.create_namespace(\"x\"); });\n    });\n});\n",
        )
        .args(&["check", "r.rhai"])
        .run()
        .status(2)
        .stderr_has("the header declares no cluster `clustr1`")
        .stderr_has("r.rhai:4:")
        .stderr_has("did you mean `cluster1`")
        .stderr_has("section `Inner` is inside section `Outer`")
        .stderr_has("r.rhai:7:")
        .stderr_has("use `step(title, || ...)`")
        .no_backtrace();
}

#[test]
fn new_writes_a_starter_that_checks_and_runs() {
    let out = Test::new()
        .args(&[
            "new",
            "canary",
            "--clusters",
            "east,west",
            "--steps",
            "Deploy v1,Shift traffic",
        ])
        .run()
        .status(0)
        .stdout_has("wrote canary.rhai")
        .stdout_has("meshbook run canary.rhai");
    let text = out.file("canary.rhai");
    for want in [
        "//! clusters:",
        "//!   east: EAST",
        "//!   west: WEST",
        "section(\"Deploy v1\"",
        "section(\"Shift traffic\"",
        "section(\"Clean up\"",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    Test::new()
        .file("canary.rhai", &text)
        .args(&["check", "canary.rhai"])
        .run()
        .status(0)
        .stdout_has("3 sections");
    Test::new()
        .file("canary.rhai", &text)
        .args(&["run", "canary.rhai"])
        .run()
        .status(0)
        .stdout_has("simulated clusters: east, west")
        .stdout_has("3 of 3 sections passed");
    Test::new()
        .file("canary.rhai", "// mine\n")
        .args(&["new", "canary"])
        .run()
        .status(2)
        .stderr_has("does not overwrite")
        .stderr_has("--force");
}

// ---- Parameters and the environment ---------------------------------------------------------

#[test]
fn a_numeric_parameter_refuses_text_before_the_run_starts() {
    Test::runbook("//! params:\n//!   TOTAL: 3\nsection(\"s\", || { say(param(\"TOTAL\")); });\n")
        .args(&["--set", "TOTAL=abc"])
        .run()
        .status(2)
        .stderr_has("parameter `TOTAL` takes a whole number")
        .stderr_has("its default is 3");
    // Without a header, `param("TOTAL", 3)` declares it.
    Test::runbook(
        "let total = param(\"TOTAL\", 3);\nsection(\"s\", || { say(`total ${total * 2}`); });\n",
    )
    .args(&["--set", "TOTAL=abc"])
    .run()
    .status(2)
    .stderr_has("`abc` is not one");
    Test::runbook(
        "let total = param(\"TOTAL\", 3);\nsection(\"s\", || { say(`total ${total * 2}`); });\n",
    )
    .args(&["--set", "TOTAL=21"])
    .run()
    .status(0)
    .stdout_has("total 42");
    Test::runbook(
        "let total = param(\"TOTAL\", 3);\nsection(\"s\", || { say(`total ${total}`); });\n",
    )
    .args(&["--set", "TOTL=21"])
    .run()
    .status(2)
    .stderr_has("did you mean `TOTAL`");
}

#[test]
fn an_undeclared_env_fails_on_simulated_clusters_too() {
    Test::runbook(
        "let c = cluster(\"cluster1\");\nsection(\"s\", || { say(env(\"UNDECLARED\")); });\n",
    )
    .run()
    .status(2)
    .stderr_has("`UNDECLARED`")
    .stderr_has("export UNDECLARED=");
    // A variable the header declares still gets a placeholder on simulated clusters.
    Test::runbook("//! env:\n//!   LICENSE: {}\nlet c = cluster(\"cluster1\");\nsection(\"s\", || { say(env(\"LICENSE\")); });\n")
        .run()
        .status(0)
        .stdout_has("placeholder");
}

// ---- Errors that teach ----------------------------------------------------------------------

#[test]
fn wrong_argument_types_show_the_signatures_that_exist() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.scale(\"demo\", \"web\", \"2\");\n});\n")
        .run()
        .status(1)
        .stderr_has("argument 4 `replicas` must be an int, not a string")
        .stderr_has("scale(cluster: Cluster, ns: string, deploy: string, replicas: int)")
        .stderr_has("runbook.rhai:3:")
        .no_backtrace();
    Test::runbook(
        "let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.scale(\"demo\");\n});\n",
    )
    .run()
    .status(1)
    .stderr_has("it takes 4 arguments")
    .stderr_has("the signatures that exist");
}

#[test]
fn a_property_of_an_absent_object_names_the_call_that_returned_it() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  let d = c.get(\"deployment\", \"web\", \"default\");\n  let n = d.spec.replicas;\n});\n")
        .run()
        .status(1)
        .stderr_has("`d` is `()` (absent), so it has no property `spec`")
        .stderr_has("set at line 3 by `c.get(\"deployment\", \"web\", \"default\")`")
        .stderr_has("?.")
        .stderr_has("!= ()")
        .no_backtrace();
}

#[test]
fn a_misspelt_kind_names_the_closest_served_kinds() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.get(\"deplyoment\", \"web\", \"default\");\n});\n")
        .run()
        .status(1)
        .stderr_has("no resource type `deplyoment`")
        .stderr_has("did you mean `deployment`");
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.apply(\"apiVersion: apps/v1\\nkind: Deploymnet\\nmetadata: {name: web, namespace: default}\\n\");\n});\n")
        .run()
        .status(1)
        .stderr_has("did you mean `Deployment`");
}

#[test]
fn yaml_errors_name_tabs_duplicate_keys_and_the_document() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.apply(\"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n\\tname: b\\n\");\n});\n")
        .run()
        .status(1)
        .stderr_has("document 2")
        .stderr_has("indented with a tab");
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.apply(\"apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: a\\n  name: b\\n\");\n});\n")
        .run()
        .status(1)
        .stderr_has("document 1")
        .stderr_has("the key \"name\" appears twice");
    Test::runbook("section(\"s\", || {\n  yaml(\"a: 1\\nb:\\n\\t- 2\\n\");\n});\n")
        .run()
        .status(1)
        .stderr_has("line 3 is indented with a tab");
}

#[test]
fn the_repl_teaches_too() {
    Test::new()
        .args(&["repl", "--sim"])
        .stdin("let c = cluster(\"cluster1\");\nc.wait_rolout(\"a\", \"b\")\nc.scale(\"x\", \"web\", \"2\")\n")
        .run()
        .status(0)
        .stderr_has("did you mean `wait_rollout`")
        .stderr_has("scale(cluster: Cluster, ns: string, deploy: string, replicas: int)");
}

// ---- Command-line conventions ---------------------------------------------------------------

#[test]
fn version_names_the_commit() {
    let out = Test::new().args(&["--version"]).run().status(0);
    let line = out.stdout.trim();
    let rest = line
        .strip_prefix(&format!("meshbook {} (", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("unexpected version line: {line}"));
    let commit: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    assert!(
        commit.len() >= 7 || rest.starts_with("commit unknown"),
        "no commit in {line}"
    );
}

#[test]
fn completions_are_valid_shell_scripts() {
    let out = Test::new().args(&["completions", "bash"]).run().status(0);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("meshbook.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "bash -n refused the script: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.stdout.contains("meshbook"), "{}", out.stdout);
    for sub in ["run", "check", "completions", "new"] {
        assert!(out.stdout.contains(sub), "bash completion lacks {sub}");
    }
    Test::new()
        .args(&["completions", "zsh"])
        .run()
        .status(0)
        .stdout_has("#compdef meshbook");
    Test::new()
        .args(&["completions", "fish"])
        .run()
        .status(0)
        .stdout_has("complete -c meshbook");
    Test::new()
        .args(&["completions", "powershell-ish"])
        .run()
        .status(2)
        .stderr_has("bash");
}

#[test]
fn list_and_check_speak_json() {
    let out = Test::new().args(&["list", "--json"]).run().status(0);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).expect("list --json is JSON");
    let global = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "global-mesh")
        .expect("global-mesh listed");
    assert_eq!(global["clusters"][0]["name"], "cluster1");
    assert!(global["sections"].as_array().unwrap().len() > 2, "{global}");

    let out = Test::new()
        .args(&["check", "--all", "--json"])
        .run()
        .status(0);
    let check: serde_json::Value = serde_json::from_str(&out.stdout).expect("check --json is JSON");
    assert_eq!(check["ok"], true);

    let out = Test::new()
        .file(
            "bad.rhai",
            "let c = cluster(\"east\");\nsection(\"a\", || { sya(\"x\"); });\n",
        )
        .args(&["check", "bad.rhai", "--json"])
        .run()
        .status(2);
    let check: serde_json::Value = serde_json::from_str(&out.stdout).expect("check --json is JSON");
    let finding = &check["runbooks"][0]["findings"][0];
    assert_eq!(finding["line"], 2, "{check}");
    assert_eq!(finding["file"], "bad.rhai", "{check}");
    assert!(
        finding["message"].as_str().unwrap().contains("sya"),
        "{check}"
    );
    assert!(finding["help"].as_str().unwrap().contains("say"), "{check}");
}

// ---- Simulated runs simulate only what touches a cluster ------------------------------------

#[test]
fn programs_without_a_cluster_run_for_real_on_simulated_clusters() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  let r = run(\"echo\", [\"hello\"]);\n  expect(r.stdout.contains(\"hello\"), \"echo ran\");\n});\n")
        .run()
        .status(0)
        .stdout_has("simulated clusters: cluster1")
        .stdout_has("echo hello -> exit 0");
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || { run(\"kubectl\", [\"get\", \"ns\"]); });\n")
        .run()
        .status(1)
        .stderr_has("current context")
        .stderr_has(".kubectl([...])");
}

#[test]
fn kubectl_on_sim_serve_contexts_goes_to_the_simulator() {
    let served = Served::start("east");
    Test::runbook("let east = cluster(\"east\");\nsection(\"k\", || {\n  east.create_namespace(\"demo\");\n  let r = east.kubectl([\"get\", \"ns\", \"demo\", \"-o\", \"jsonpath={.status.phase}\"]);\n  expect(r.stdout == \"Active\", \"kubectl sees the namespace\");\n});\n")
        .env("KUBECONFIG", &served.kubeconfig.to_string_lossy())
        .args(&["--context", "east=east"])
        .run()
        .status(0)
        .stdout_has("contexts: east=east")
        .stdout_has("kubectl sees the namespace");
}

#[test]
fn a_missing_simulated_rule_names_the_call_and_how_to_add_one() {
    const RUNBOOK: &str = "let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  let r = c.istioctl([\"proxy-status\"]);\n  say(r.stdout);\n});\n";
    Test::runbook(RUNBOOK)
        .run()
        .status(1)
        .stderr_has("no simulated behaviour for `istioctl` subcommand `proxy-status`")
        .stderr_has("istioctl([\"proxy-status\"])` on `cluster1`")
        .stderr_has("MESHBOOK_STDLIB=DIR")
        .stderr_has("runbook.rhai:3:");
    // Done as the help says: a directory with only the new rule, laid over the bundled stdlib.
    Test::runbook(RUNBOOK)
        .file(
            "mine/sim/tools/proxy-status.yaml",
            "rules:\n- name: proxy-status\n  match: {tool: istioctl, args: [proxy-status]}\n  stdout: \"NAME  CLUSTER  SYNCED\"\n",
        )
        .env("MESHBOOK_STDLIB", "mine")
        .run()
        .status(0)
        .stdout_has("NAME  CLUSTER  SYNCED");
}

// ---- The REPL -------------------------------------------------------------------------------

#[test]
fn the_repl_folds_managed_fields_unless_full() {
    let out = Test::new()
        .args(&["repl", "--sim"])
        .stdin("let c = cluster(\"cluster1\");\nc.apply(\"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x, namespace: default}\\ndata: {a: b}\\n\");\nc.get(\"configmap\", \"x\", \"default\")\n:full c.get(\"configmap\", \"x\", \"default\")\n")
        .run()
        .status(0)
        .stdout_has("managedFields: (1 entry folded; `:full EXPR` shows them)");
    // Only the `:full` answer lists the field manager.
    assert_eq!(
        out.stdout.matches("manager: meshbook").count(),
        1,
        "{}",
        out.stdout
    );
}

#[test]
fn a_long_wait_says_what_it_waits_for_and_what_it_last_saw() {
    Test::runbook("let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.apply(\"apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web, namespace: default}\\nspec:\\n  replicas: 1\\n  selector: {matchLabels: {app: web}}\\n  template:\\n    metadata: {labels: {app: web}}\\n    spec: {containers: [{name: web, image: nginx}]}\\n\");\n  c.wait_rollout(\"default\", \"web\");\n  c.wait_for(\"deployment\", \"web\", \"default\", |d| d.spec.replicas == 99, \"1500ms\");\n});\n")
        // A line every 300 ms instead of every 10 s, so the test is short; in a pipe as here.
        .env("MESHBOOK_PROGRESS_MS", "300")
        .run()
        .status(1)
        .stdout_has("still waiting for deployment/web -n default to match the condition on cluster1")
        .stdout_has("last seen: wanted 1")
        .stdout_has("Available=True");
}

#[test]
fn docs_writes_rhai_definition_files() {
    let out = Test::new()
        .args(&["docs", "--definitions", "defs"])
        .run()
        .status(0)
        .stdout_has("definition file");
    let defs = out.file("defs/__static__.d.rhai");
    assert!(
        defs.contains("fn scale(cluster: Cluster, ns: string, deploy: string, replicas: int)"),
        "{defs}"
    );
    assert!(defs.contains("fn wait_rollout("), "{defs}");
    assert!(
        defs.contains("Scales a Deployment"),
        "doc comments are kept"
    );
}

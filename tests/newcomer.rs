//! The three newcomer scenarios of issue 16, written as a new user would: no `//!` header,
//! clusters named by `cluster("...")`, parameters read with defaults. Each runs on simulated
//! clusters and against `meshbook sim serve` contexts.

use crate::support::{Output, Test};
use crate::targets::Served;

/// Runs `src` simulated, then against `sim serve` clusters of the same names.
fn both_ways(src: &str, clusters: &[&str], extra: &[&str], env: &[(&str, &str)]) -> [Output; 2] {
    let run = |t: Test| {
        let mut t = t.args(extra);
        for (k, v) in env {
            t = t.env(k, v);
        }
        t.run()
    };
    let simulated = run(Test::runbook(src));
    let served = Served::start(&clusters.join(","));
    let mut contexts = Vec::new();
    for c in clusters {
        contexts.push("--context".to_string());
        contexts.push(format!("{c}={c}"));
    }
    let contexts: Vec<&str> = contexts.iter().map(String::as_str).collect();
    let real = run(Test::runbook(src)
        .env("KUBECONFIG", &served.kubeconfig.to_string_lossy())
        .args(&contexts));
    [simulated, real]
}

const CANARY: &str = r#"let c = cluster("prod");
let ns = "shop";

fn web(version, replicas) {
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web-${version}, namespace: shop, labels: {app: web, version: ${version}}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web, version: ${version}}}
  template:
    metadata: {labels: {app: web, version: ${version}}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}`
}

section("Deploy v1", || {
    c.create_namespace(ns);
    c.apply(web("v1", 3));
    c.wait_rollout(ns, "web-v1");
});

section("Canary v2", || {
    c.apply(web("v2", 1));
    c.wait_rollout(ns, "web-v2");
    let pods = c.list("pod", ns, "app=web");
    expect(pods.len() == 4, `3 v1 pods and 1 canary, got ${pods.len()}`);
});

section("Promote v2", || {
    c.scale(ns, "web-v2", 3);
    c.scale(ns, "web-v1", 0);
    c.wait_rollout(ns, "web-v2");
    expect(c.get("deployment", "web-v2", ns).status.readyReplicas == 3, "v2 serves with 3 replicas");
    expect(c.get("deployment", "web-v1", ns).spec.replicas == 0, "v1 is scaled to zero");
});

section("Clean up", || {
    c.delete("namespace", ns, "", #{wait: true});
});
"#;

#[test]
fn a_canary_in_one_cluster() {
    let [simulated, served] = both_ways(CANARY, &["prod"], &[], &[]);
    simulated
        .status(0)
        .stdout_has("simulated clusters: prod")
        .stdout_has("3 v1 pods and 1 canary")
        .stdout_has("4 of 4 sections passed");
    served
        .status(0)
        .stdout_has("contexts: prod=prod")
        .stdout_has("v2 serves with 3 replicas")
        .stdout_has("4 of 4 sections passed");
}

const COMPARE: &str = r#"let east = cluster("east");
let west = cluster("west");

section("Configure both clusters", || {
    let versions = #{east: "1.4.2", west: "1.5.0"};   // west was upgraded by mistake
    for c in [east, west] {
        c.create_namespace("demo");
        c.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: demo}
data: {version: "${versions[c.name]}"}`);
    }
});

section("Compare versions", || {
    let a = east.get("configmap", "app-config", "demo").data.version;
    let b = west.get("configmap", "app-config", "demo").data.version;
    say(`east runs ${a}, west runs ${b}`);
    expect(a == b, "both clusters run the same version");
});

section("Clean up", || {
    for c in [east, west] { c.delete("namespace", "demo"); }
});
"#;

#[test]
fn a_two_cluster_compare_fails_and_writes_all_three_reports() {
    let reports = [
        "--report",
        "out/run.json",
        "--report",
        "out/run.xml",
        "--report",
        "out/run.md",
    ];
    let [simulated, served] = both_ways(COMPARE, &["east", "west"], &reports, &[]);
    for (out, target) in [
        (simulated, "simulated clusters: east, west"),
        (served, "contexts: east=east, west=west"),
    ] {
        let out = out
            .status(1)
            .stdout_has(target)
            .stdout_has("east runs 1.4.2, west runs 1.5.0")
            .stderr_has("expectation failed: both clusters run the same version")
            .stderr_has("in section `Compare versions`")
            .no_backtrace();
        let json = out.json("out/run.json");
        let statuses: Vec<&str> = json["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["passed", "failed", "not_run"], "{json}");
        assert_eq!(json["summary"]["checks_failed"], 1, "{json}");
        let xml = out.file("out/run.xml");
        assert!(
            xml.contains("<failure") && xml.contains("Compare versions"),
            "{xml}"
        );
        let md = out.file("out/run.md");
        assert!(md.contains("✗ Compare versions"), "{md}");
        assert!(md.contains("east runs 1.4.2"), "{md}");
    }
}

const TEMPLATING: &str = r#"let app = param("APP", "greeter");
let replicas = param("REPLICAS", 1);
let token = secret_env("API_TOKEN");
let c = cluster("cluster1");

const TEMPLATE = `apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{app}}", namespace: tpl, labels: {app: "{{app}}"}}
spec:
  replicas: {{replicas}}
  selector: {matchLabels: {app: "{{app}}"}}
  template:
    metadata: {labels: {app: "{{app}}"}}
    spec:
      containers:
      - name: app
        image: "hashicorp/http-echo:1.0"
        env: [{name: GREETING, value: "{{greeting}}"}]`;

section("Render and apply", || {
    c.create_namespace("tpl");
    c.create_secret("tpl", "api", #{token: token});
    c.apply(render(TEMPLATE, #{app: app, replicas: replicas, greeting: `hello from ${app}`}));
    c.wait_rollout("tpl", app);
    let d = c.get("deployment", app, "tpl");
    expect(d.spec.replicas == replicas, `${app} runs ${replicas} replicas`);
    expect(c.secret_data("tpl", "api", "token") == token, "the token is stored");
    say(`using token ${token}`);
});

section("Clean up", || {
    c.delete("namespace", "tpl");
});
"#;

#[test]
fn templating_with_parameters_and_a_secret() {
    const SECRET: &str = "tok-7f3a91c2e5";
    let [simulated, served] = both_ways(
        TEMPLATING,
        &["cluster1"],
        &[
            "--set",
            "APP=hello",
            "--set",
            "REPLICAS=3",
            "--report",
            "r.json",
            "--report",
            "r.md",
        ],
        &[("API_TOKEN", SECRET)],
    );
    for out in [simulated, served] {
        out.status(0)
            .stdout_has("hello runs 3 replicas")
            .stdout_has("the token is stored")
            .stdout_has("using token ***")
            .nowhere(SECRET);
    }
    // A number parameter refuses text before anything starts; a missing secret is named.
    Test::runbook(TEMPLATING)
        .env("API_TOKEN", SECRET)
        .args(&["--set", "REPLICAS=three"])
        .run()
        .status(2)
        .stderr_has("parameter `REPLICAS` takes a whole number");
}

/// Namespaces and CRDs a `sim serve` cluster holds, as kubectl (an independent client) sees
/// them.
fn kubectl_sees(kubeconfig: &std::path::Path, context: &str) -> String {
    let cache = tempfile::tempdir().unwrap();
    let mut seen = String::new();
    for kind in ["namespaces", "customresourcedefinitions", "deployments"] {
        let out = std::process::Command::new("kubectl")
            .args(["--context", context, "get", kind, "-A", "-o", "name"])
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", cache.path())
            .output()
            .expect("kubectl");
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    seen
}

#[test]
fn a_dry_run_changes_nothing_and_lists_what_it_would_create() {
    let served = Served::start("cluster1,cluster2");
    let before = kubectl_sees(&served.kubeconfig, "cluster1");
    let out = Test::new()
        .args(&[
            "run",
            "global-mesh",
            "--dry-run",
            "--context",
            "cluster1=cluster1",
            "--context",
            "cluster2=cluster2",
        ])
        .env("KUBECONFIG", &served.kubeconfig.to_string_lossy())
        .run()
        .stdout_has("dry run: applies are sent with dryRun=All")
        .stdout_has("[cluster1] customresourcedefinition/gateways.gateway.networking.k8s.io created (dry run)")
        .stdout_has("[cluster2] namespace/istio-system created (dry run)")
        .stdout_has("deployment/productpage-v1 created (namespace bookinfo-frontends, dry run)")
        .stdout_has("dry run: would install chart")
        .stdout_has("(not waited)")
        .no_backtrace();
    assert_ne!(out.code, 2, "the dry run started");
    assert_eq!(kubectl_sees(&served.kubeconfig, "cluster1"), before);
    assert_eq!(kubectl_sees(&served.kubeconfig, "cluster2"), before);

    // A scenario that checks what it wrote passes a dry run, its checks skipped.
    const SMALL: &str = r#"let c = cluster("prod");
section("Deploy", || {
    c.create_namespace("shop");
    c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web-v1, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}`);
    c.wait_rollout("shop", "web-v1");
    expect(c.get("deployment", "web-v1", "shop") != (), "web-v1 is deployed");
    c.scale("shop", "web-v1", 3);
});
section("Clean up", || { c.delete("namespace", "shop"); });
"#;
    let out = Test::runbook(SMALL)
        .env("KUBECONFIG", &served.kubeconfig.to_string_lossy())
        .args(&[
            "--dry-run",
            "--context",
            "prod=cluster1",
            "--report",
            "r.json",
        ])
        .run()
        .status(0)
        .stdout_has("deployment/web-v1 created (namespace shop, dry run)")
        .stdout_has("would scale deployment/web-v1 -n shop to 3")
        .stdout_has("would delete namespace/shop");
    assert!(
        out.json("r.json")["summary"]["checks_skipped"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(kubectl_sees(&served.kubeconfig, "cluster1"), before);
}

#[test]
fn diff_shows_what_a_run_would_change_and_changes_nothing() {
    let served = Served::start("east");
    let kubeconfig = served.kubeconfig.to_string_lossy().to_string();
    let cache = tempfile::tempdir().unwrap();
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .args(["--context", "east"])
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", cache.path())
            .output()
            .expect("kubectl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    kubectl(&["create", "namespace", "shop"]);
    kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "app",
        "--from-literal=version=1",
    ]);
    const RUNBOOK: &str = "let c = cluster(\"east\");\nsection(\"Configure\", || {\n  c.create_namespace(\"shop\");\n  c.apply(\"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: app, namespace: shop}\\ndata: {version: '2'}\\n\");\n  c.apply(\"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: added, namespace: shop}\\ndata: {a: b}\\n\");\n});\n";
    Test::new()
        .file("r.rhai", RUNBOOK)
        .args(&["diff", "r.rhai", "--context", "east=east"])
        .env("KUBECONFIG", &kubeconfig)
        .run()
        .status(1)
        .stdout_has(
            "--- east ConfigMap shop/app (live)\n+++ east ConfigMap shop/app (after apply)\n",
        )
        .stdout_has("-  version: '1'\n+  version: '2'\n")
        .stdout_has("@@ -0,0 +1,")
        .stdout_has("+  name: added\n");
    // (kube-root-ca.crt is the simulator's own map in every namespace.)
    let maps = kubectl(&["-n", "shop", "get", "configmap", "-o", "name"]);
    let maps: Vec<&str> = maps
        .lines()
        .filter(|l| *l != "configmap/kube-root-ca.crt")
        .collect();
    assert_eq!(maps, vec!["configmap/app"]);
    assert!(
        kubectl(&["-n", "shop", "get", "configmap", "app", "-o", "yaml"])
            .contains("version: \"1\"")
    );
}

//! The foundation through the binary: help, check, run, exit codes, reports, secrets.

use crate::support::Test;

#[test]
fn help_lists_the_commands_and_teaches_by_example() {
    let out = Test::new().args(&["--help"]).run().status(0);
    for cmd in ["run", "list", "check", "docs"] {
        assert!(
            out.stdout.contains(&format!("  {cmd} ")),
            "{cmd} missing:\n{}",
            out.stdout
        );
    }
    out.stdout_has("Examples:").stdout_has("Exit codes");
    Test::new()
        .args(&["run", "--help"])
        .run()
        .status(0)
        .stdout_has("--context <NAME=KUBECONTEXT>")
        .stdout_has("Examples:");
}

#[test]
fn usage_errors_exit_2() {
    Test::new()
        .args(&["run"])
        .run()
        .status(2)
        .stderr_has("RUNBOOK");
    Test::new().args(&["frobnicate"]).run().status(2);
}

#[test]
fn check_reports_a_syntax_error_with_file_and_line() {
    Test::new()
        .file("bad.rhai", "let a = 1;\nlet b = ;\n")
        .args(&["check", "bad.rhai"])
        .run()
        .status(2)
        .stderr_has("bad.rhai:2:")
        .stderr_has("let b = ;")
        .no_backtrace();
}

#[test]
fn check_finds_unknown_functions_duplicate_titles_and_bad_imports() {
    Test::new()
        .file(
            "r.rhai",
            "section(\"A\", || { sya(\"x\"); });\nsection(\"a\", || {});\nimport \"no_such_module\" as m;\n",
        )
        .args(&["check", "r.rhai"])
        .run()
        .status(2)
        .stderr_has("no function `sya`")
        .stderr_has("did you mean `say`")
        .stderr_has("two sections are titled `a`")
        .stderr_has("no_such_module");
}

#[test]
fn a_failing_second_section_exits_1_with_junit_failure_and_json_summary() {
    let out = Test::runbook(
        "section(\"one\", || { say(\"first\"); });\nsection(\"two\", || {\n  expect(1 == 2, \"numbers agree\");\n});\nsection(\"three\", || { say(\"never printed\"); });\n",
    )
    .args(&["--report", "out/r.xml", "--report", "out/r.json", "--report", "out/r.md"])
    .run()
    .status(1)
    .stderr_has("expectation failed: numbers agree")
    .stderr_has("runbook.rhai:3:3")
    .stderr_has("in section `two`")
    .stdout_lacks("never printed")
    .no_backtrace();
    assert!(out.file("out/r.xml").contains("<failure"));
    let json = out.json("out/r.json");
    assert!(json["summary"]["checks_failed"].as_u64().unwrap() >= 1);
    assert_eq!(json["sections"][0]["status"], "passed");
    assert_eq!(json["sections"][1]["status"], "failed");
    assert_eq!(json["sections"][2]["status"], "not_run");
    assert_eq!(json["target"], "none");
    assert!(json["sections"][0]["duration"].is_f64(), "{json}");
    for key in [
        "created",
        "configured",
        "unchanged",
        "checks_passed",
        "checks_failed",
        "checks_skipped",
    ] {
        assert!(
            json["summary"][key].is_u64(),
            "summary.{key} is not an integer: {json}"
        );
    }
    assert!(out.file("out/r.md").contains("## ✗ two"));
}

#[test]
fn secrets_never_appear_in_output_or_reports() {
    Test::runbook(
        "//! env:\n//!   TOKEN: { secret: true }\nlet t = secret_env(\"TOKEN\");\nsection(\"leak\", || {\n  say(\"token is \" + t);\n  expect(false, \"bad token \" + t);\n});\n",
    )
    .env("TOKEN", "s3cr3t-license-value")
    .args(&["--report", "r.json", "--report", "r.xml", "--report", "r.md", "-vv"])
    .run()
    .status(1)
    .stdout_has("token is ***")
    .nowhere("s3cr3t-license-value");
}

#[test]
fn secret_env_at_runtime_is_redacted_too() {
    Test::runbook(
        "let t = secret_env(\"API_TOKEN\");\nsection(\"s\", || { say(`value ${t}`); });\n",
    )
    .env("API_TOKEN", "runtime-secret-42")
    .args(&["--report", "r.json"])
    .run()
    .status(0)
    .nowhere("runtime-secret-42");
}

#[test]
fn a_missing_secret_exits_2_and_names_it() {
    Test::runbook(
        "//! env:\n//!   GLOO_MESH_LICENSE_KEY: { secret: true }\nsection(\"a\", || {});\n",
    )
    .run()
    .status(2)
    .stderr_has("GLOO_MESH_LICENSE_KEY")
    .no_backtrace();
}

#[test]
fn params_come_from_the_header_and_set() {
    let src = "//! params:\n//!   VERSION: 1.26.2\nsection(\"p\", || { say(\"version \" + param(\"VERSION\")); });\n";
    Test::runbook(src)
        .run()
        .status(0)
        .stdout_has("version 1.26.2");
    Test::runbook(src)
        .args(&["--set", "VERSION=1.27.0"])
        .run()
        .status(0)
        .stdout_has("version 1.27.0");
    Test::runbook(src)
        .args(&["--set", "VERSON=1"])
        .run()
        .status(2)
        .stderr_has("no parameter `VERSON`")
        .stderr_has("VERSION");
}

#[test]
fn only_skip_and_from_select_sections() {
    let src = "section(\"Alpha\", || { say(\"ran alpha\"); });\nsection(\"Beta\", || { say(\"ran beta\"); });\nsection(\"Gamma\", || { say(\"ran gamma\"); });\n";
    Test::runbook(src)
        .args(&["--only", "beta"])
        .run()
        .status(0)
        .stdout_has("ran beta")
        .stdout_lacks("ran alpha")
        .stdout_lacks("ran gamma");
    Test::runbook(src)
        .args(&["--from", "Beta", "--skip", "gamma"])
        .run()
        .status(0)
        .stdout_has("ran beta")
        .stdout_lacks("ran alpha")
        .stdout_lacks("ran gamma");
    Test::runbook(src)
        .args(&["--only", "delta"])
        .run()
        .status(2)
        .stderr_has("matches no section");
}

#[test]
fn render_is_strict_about_missing_variables() {
    Test::runbook("section(\"r\", || { say(render(\"ns: {{namespace}}\", #{cluster: 1})); });\n")
        .run()
        .status(1)
        .stderr_has("`namespace`");
}

#[test]
fn a_runaway_loop_ends_with_an_error() {
    Test::runbook("section(\"loop\", || { let i = 0; loop { i += 1; } });\n")
        .run()
        .status(1)
        .stderr_has("too many operations");
}

#[test]
fn unknown_runbooks_and_report_formats_are_refused() {
    Test::new()
        .args(&["run", "no-such-runbook"])
        .run()
        .status(2)
        .stderr_has("meshbook list");
    Test::runbook("section(\"a\", || {});\n")
        .args(&["--report", "r.txt"])
        .run()
        .status(2)
        .stderr_has(".json, .xml");
}

/// The calls in a piece of Rhai: (name, number of arguments; a method's object counts) and
/// the properties it reads.
fn calls_in(code: &str) -> (Vec<(String, usize)>, Vec<String>) {
    use rhai::{ASTNode, Expr, Stmt};
    let ast = rhai::Engine::new()
        .compile(code)
        .unwrap_or_else(|e| panic!("example does not compile: {e}\n{code}"));
    let (mut calls, mut properties) = (Vec::new(), Vec::new());
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(c, _))) | Some(ASTNode::Stmt(Stmt::FnCall(c, _))) => {
                calls.push((c.name.to_string(), c.args.len()))
            }
            Some(ASTNode::Expr(Expr::MethodCall(c, _))) => {
                calls.push((c.name.to_string(), c.args.len() + 1))
            }
            Some(ASTNode::Expr(Expr::Property(p, _))) => properties.push(p.2.to_string()),
            _ => {}
        }
        true
    });
    (calls, properties)
}

#[test]
fn docs_show_every_registered_function_with_an_example_that_check_accepts() {
    // The expected list is the engine's own: every function the bindings registered (its
    // global namespace, without Rhai's standard library), less operators and the conversions
    // `print` uses.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let engine = meshbook::engine::docs::reference_engine(rt.handle());
    let documented = meshbook::engine::docs::functions(&engine);
    let mut registered: std::collections::BTreeMap<String, usize> = Default::default();
    for sig in engine.gen_fn_signatures(false) {
        let name = sig.split('(').next().unwrap_or_default().trim();
        let name = name.rsplit(' ').next().unwrap_or(name);
        let name = name.trim_start_matches("get$");
        if name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name != "to_string"
            && name != "to_debug"
        {
            *registered.entry(name.to_string()).or_default() += 1;
        }
    }
    assert!(registered.len() > 60, "{registered:?}");
    for (name, overloads) in &registered {
        let shown = documented.iter().filter(|d| &d.name == name).count();
        assert_eq!(
            shown, *overloads,
            "`{name}` has {overloads} overload(s), {shown} documented"
        );
    }

    // `meshbook docs` shows each signature with its example, and each example calls the
    // function as that signature says.
    let docs = Test::new().args(&["docs"]).run().status(0);
    let mut runbook = String::new();
    for (i, d) in documented.iter().enumerate() {
        assert!(
            docs.stdout.contains(&format!("`{}`", d.signature)),
            "docs lacks {}",
            d.signature
        );
        assert!(
            !d.example.trim().is_empty(),
            "{} has no example",
            d.signature
        );
        for line in d.example.lines() {
            assert!(
                docs.stdout.contains(&format!("Example: `{line}`")),
                "docs lack the example of {}: {line}",
                d.signature
            );
        }
        let (calls, properties) = calls_in(&d.example);
        let used = if d.property {
            properties.contains(&d.name)
        } else {
            calls.contains(&(d.name.clone(), d.arity))
        };
        assert!(
            used,
            "the example of `{}` does not use it with {} argument(s): {}",
            d.signature, d.arity, d.example
        );
        // Sections are top-level; every other example runs inside one, as in a runbook.
        if calls.iter().any(|(n, _)| n == "section") {
            runbook.push_str(&format!("{}\n", d.example));
        } else {
            runbook.push_str(&format!(
                "section(\"Example {i}: {}\", || {{\n{}\n}});\n",
                d.name, d.example
            ));
        }
    }
    // Every example passes the static checks (syntax, known functions, sections).
    Test::new()
        .file("examples.rhai", &runbook)
        .args(&["check", "examples.rhai"])
        .run()
        .status(0)
        .stdout_has("ok: examples.rhai");
}

#[test]
fn pause_without_a_message_parses_and_is_skipped_without_a_terminal() {
    // Rhai reads `()` as one token: `pause()` was a syntax error (found by its docs example).
    Test::runbook("section(\"a\", || {\n  pause();\n  pause(\"look\");\n  say(\"after\");\n});\n")
        .run()
        .status(0)
        .stdout_has("pause skipped: paused")
        .stdout_has("pause skipped: look")
        .stdout_has("after");
}

#[test]
fn a_section_inside_a_section_is_refused() {
    // Found by the static checks, before anything runs (issue 16).
    Test::runbook("section(\"outer\", || { section(\"inner\", || {}); });\n")
        .run()
        .status(2)
        .stderr_has("section `inner` is inside section `outer`")
        .stderr_has("use `step(");
}

#[test]
fn parallel_runs_closures_concurrently_and_keeps_order() {
    // Each task sleeps 300ms; run one after another they would take 1.2s. The assertion is on
    // order and results, the timing is only printed by the runbook.
    Test::runbook(
        "let prefix = \"captured\";\nsection(\"p\", || {\n  let r = parallel([1, 2, 3, 4], |n| { sleep(\"300ms\"); `${prefix}-${n * 10}` });\n  expect(r == [\"captured-10\", \"captured-20\", \"captured-30\", \"captured-40\"], \"ordered results\");\n  let e = parallel([1, 2], |n| { if n == 2 { throw \"second broke\"; } n });\n});\n",
    )
    .run()
    .status(1)
    .stderr_has("parallel task for `2` failed: second broke");
}

#[test]
fn variables_read_by_literal_name_are_checked_before_the_run_starts() {
    Test::runbook(
        "let k = secret_env(\"UNDECLARED_KEY\");\nsection(\"a\", || { say(\"started\"); });\n",
    )
    .run()
    .status(2)
    .stderr_has("`UNDECLARED_KEY` [secret]")
    .stdout_lacks("started")
    .no_backtrace();
}

#[test]
fn a_closed_pipe_ends_quietly_with_0() {
    // The reading end is closed before meshbook writes: its first write fails with EPIPE.
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["docs"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_interrupts_a_long_wait_and_still_writes_the_reports() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wait.rhai"),
        "section(\"wait\", || { expect_http(\"http://127.0.0.1:1/\", #{status: 200, within: \"120s\"}); });\nsection(\"after\", || { say(\"never\"); });\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["run", "wait.rhai", "--report", "r.json"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait (on the output, not on time) until the section is running.
    for line in lines.by_ref() {
        if line.unwrap_or_default().contains("▶ wait") {
            break;
        }
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    // Without the interruption the check would run out its 120s and exit 1, not 130.
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["sections"][0]["status"], "failed");
    assert_eq!(report["sections"][1]["status"], "not_run");
}

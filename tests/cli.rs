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

#[test]
fn docs_lists_every_registered_function() {
    let out = Test::new().args(&["docs"]).run().status(0);
    for f in [
        "section(",
        "step(",
        "say(",
        "expect(",
        "render(",
        "secret_env(",
        "param(",
        "yaml(",
    ] {
        assert!(out.stdout.contains(f), "docs lacks {f}");
    }
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

//! Reports that match what happened: unverified sections (every check skipped),
//! `--fail-on-skip`, `--skip` reasons, and report paths checked before anything runs.
//! Retries and stops at a prompt are in `repl.rs` (they need a prompt). See: issues 12, 13.

use crate::support::Test;

#[test]
fn an_unwritable_report_path_is_refused_before_anything_runs() {
    let out = Test::runbook(
        "//! clusters:\n//!   cluster1: CLUSTER1\nlet c = cluster(\"cluster1\");\nsection(\"a\", || { c.create_namespace(\"applied\"); say(\"section-ran\"); });\n",
    )
    .args(&["--report", "/proc/nope/r.json"])
    .run()
    .status(2)
    .stderr_has("cannot write the report `/proc/nope/r.json`")
    .stderr_has("nothing was run")
    .stdout_lacks("section-ran")
    .stdout_lacks("applied")
    .no_backtrace();
    assert!(out.stdout.trim().is_empty(), "{}", out.stdout);
    Test::runbook("section(\"a\", || { say(\"section-ran\"); });\n")
        .args(&["--bundle", "/proc/nope/bundle"])
        .run()
        .status(2)
        .stderr_has("cannot write the diagnostics bundle")
        .stdout_lacks("section-ran");
}

/// A section whose only check could not be answered (a workload no model knows, on a
/// simulated cluster): never shown or written as passed. See: issue 13, "Honest results".
const UNANSWERED: &str = r#"//! clusters:
//!   cluster1: CLUSTER1
let c = cluster("cluster1");
section("Deploy", || {
    c.create_namespace("demo");
    c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.example/no-model:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]`);
    c.wait_rollout("demo", "web");
});
section("Traffic", || {
    let addr = c.lb_address("demo", "web");
    step("The page answers", || {
        expect_http(`http://${addr}/`, #{status: 200, within: "2s"});
    });
});
"#;

#[test]
fn a_section_whose_checks_were_all_skipped_is_unverified_not_passed() {
    let out = Test::runbook(UNANSWERED)
        .args(&[
            "--report", "r.json", "--report", "r.xml", "--report", "r.md",
        ])
        .run()
        .status(0)
        .stdout_has("? The page answers")
        .stdout_has("unverified (no check answered)")
        .stdout_has("? Traffic")
        .stdout_has("1 of 2 sections passed, 1 unverified (no check answered)")
        .stdout_lacks("✓ Traffic")
        .stdout_lacks("✓ The page answers");
    let json = out.json("r.json");
    let traffic = &json["sections"][1];
    assert_eq!(traffic["status"], "unverified", "{json}");
    assert_eq!(traffic["steps"][0]["status"], "unverified", "{json}");
    assert_eq!(json["summary"]["sections_unverified"], 1, "{json}");
    assert_eq!(json["summary"]["steps_unverified"], 1, "{json}");
    assert_eq!(json["summary"]["checks_skipped"], 1, "{json}");
    assert_eq!(json["summary"]["checks_simulated"], 0, "{json}");
    assert_eq!(json["summary"]["sections_passed"], 1, "{json}");
    let xml = out.file("r.xml");
    assert!(xml.contains("<skipped message=\"skipped: "), "{xml}");
    assert!(
        xml.contains("value=\"unverified (no check answered)\""),
        "{xml}"
    );
    assert!(out.file("r.md").contains("## ? Traffic — unverified"));

    // --fail-on-skip: any skipped check fails the run, in the exit code and every report.
    let out = Test::runbook(UNANSWERED)
        .args(&["--fail-on-skip", "--report", "r.json"])
        .run()
        .status(1)
        .stderr_has("1 check was skipped")
        .stderr_has("--fail-on-skip");
    let json = out.json("r.json");
    assert_eq!(json["status"], "failed", "{json}");
    assert_eq!(json["headline"], "failed: 1 check skipped (--fail-on-skip)");
    // Nothing skipped: the flag changes nothing.
    Test::runbook("section(\"a\", || { expect(true, \"fine\"); });\n")
        .args(&["--fail-on-skip"])
        .run()
        .status(0);
}

#[test]
fn a_section_skipped_with_skip_says_so_and_is_not_an_error() {
    let out = Test::runbook(
        "section(\"Alpha\", || { say(\"a\"); });\nsection(\"Beta\", || { say(\"b\"); });\n",
    )
    .args(&["--skip", "beta", "--report", "r.json", "--report", "r.md"])
    .run()
    .status(0)
    .stdout_has("– Beta  skipped (--skip)");
    let json = out.json("r.json");
    assert_eq!(json["sections"][1]["status"], "skipped", "{json}");
    assert_eq!(json["sections"][1]["reason"], "--skip", "{json}");
    assert!(json["sections"][1]["error"].is_null(), "{json}");
    let md = out.file("r.md");
    assert!(md.contains("## – Beta — skipped (--skip)"), "{md}");
    assert!(!md.contains("**Error:**"), "{md}");
}

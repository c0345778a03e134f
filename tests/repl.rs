//! The REPL and step-through, driven through a pseudo-terminal as a person would (rexpect), and
//! the refusals without a terminal. Every expectation has a timeout: nothing here can hang.

use std::path::Path;
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

use crate::support::{Test, BIN};

/// Seconds each expectation may take (simulated clusters start in milliseconds).
const TIMEOUT_MS: u64 = 15_000;

/// Starts meshbook on a pseudo-terminal in `dir`, with the environment cleaned as in
/// `support::Test`.
fn spawn(dir: &Path, args: &[&str]) -> PtySession {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("CLUSTER")
            || k.starts_with("MESHBOOK_")
            || k.ends_with("_CONTEXT")
            || k == "KUBECONFIG"
            || k.starts_with("GLOO")
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("KUBECONFIG", dir.join("no-kubeconfig"))
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join(".state"))
        .env("KUBECACHEDIR", dir.join(".kube-cache"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(TIMEOUT_MS))
            .strip_ansi_escape_codes(true),
    )
    .expect("spawn meshbook on a pty")
}

/// Runs a pseudo-terminal scenario, once more if it fails. A terminal session's timing is not
/// fully ours: rustyline drops input that reaches the terminal together with the previous line
/// (it reads a chunk and keeps one line), so a keystroke sent in the instant between a prompt's
/// text and the editor's read can be lost on a loaded machine. Each attempt is a fresh process
/// in a fresh directory; a real defect fails both.
fn on_a_terminal(scenario: fn()) {
    if std::panic::catch_unwind(scenario).is_err() {
        eprintln!("pseudo-terminal scenario failed once; running it again");
        scenario();
    }
}

/// Collects everything the program printed, for assertions on what never appeared.
struct Driven {
    p: PtySession,
    seen: String,
}

impl Driven {
    fn new(p: PtySession) -> Self {
        Driven {
            p,
            seen: String::new(),
        }
    }

    fn expect(&mut self, text: &str) {
        match self.p.exp_string(text) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(text);
            }
            Err(e) => panic!("waiting for {text:?}: {e}\n--- seen so far\n{}", self.seen),
        }
    }

    /// Sends a line. rustyline drops input typed ahead of its prompt (it reads a whole chunk
    /// and keeps one line), so callers wait for the prompt first, as a person would.
    fn line(&mut self, text: &str) {
        self.p.send_line(text).expect("send a line");
    }

    /// Waits for `prompt`, then types `text` and Enter.
    fn at(&mut self, prompt: &str, text: &str) {
        self.expect(prompt);
        self.line(text);
    }

    fn send(&mut self, text: &str) {
        self.p.send(text).expect("send");
        self.p.flush().expect("flush");
    }

    /// Waits for the end and returns the exit code.
    fn finish(&mut self) -> i32 {
        match self.p.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => panic!("waiting for the end: {e}\n--- seen so far\n{}", self.seen),
        }
        match self.p.process().wait() {
            Ok(WaitStatus::Exited(_, code)) => code,
            other => panic!("unexpected end {other:?}\n--- seen\n{}", self.seen),
        }
    }
}

const REPL_RUNBOOK: &str = r#"//! title: REPL test
//! clusters:
//!   cluster1: CLUSTER1
let greeting = "hello";
fn shout(s) { s.to_upper() }
section("Only section", || { say("only-section-ran"); });
"#;

#[test]
fn repl_on_simulated_clusters_evaluates_completes_and_helps() {
    on_a_terminal(repl_on_simulated_clusters_evaluates_completes_and_helps_once);
}

fn repl_on_simulated_clusters_evaluates_completes_and_helps_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("book.rhai"), REPL_RUNBOOK).expect("write");
    let mut r = Driven::new(spawn(dir.path(), &["repl", "book.rhai", "--sim"]));
    const P: &str = "meshbook> ";
    // The runbook's variables and functions are loaded; its section did not run.
    r.at(P, "shout(greeting) + \"-loaded\"");
    r.expect("HELLO-loaded");
    assert!(!r.seen.contains("only-section-ran"), "{}", r.seen);

    r.at(P, "let c = cluster(\"cluster1\");");
    r.at(P, "c.create_namespace(\"demo\");");
    r.at(P, "\"ns=\" + c.get(\"namespace\", \"demo\").metadata.name");
    r.expect("ns=demo");

    // Maps print as YAML; an open map continues on the next line.
    r.at(P, "let m = #{");
    r.line("answer: 40 + 2 };");
    r.at(P, "m");
    r.expect("answer: 42");

    // Errors show where, and the session goes on.
    r.at(P, "nope(1)");
    r.expect("no function");
    r.expect("^");

    r.at(P, ":help wait_rollout");
    r.expect("wait_rollout(cluster: Cluster, ns: string, deploy: string)");
    r.expect(
        "example: let c = cluster(\"cluster1\"); c.wait_rollout(\"bookinfo\", \"productpage-v1\");",
    );

    // Tab completes a method after `c.`; Ctrl-U clears the line again.
    r.expect(P);
    r.send("c.wait_rol\t");
    r.expect("c.wait_rollout");
    r.p.send_control('u').expect("ctrl-u");
    r.line("");

    r.at(P, ":sections");
    r.expect("pending  Only section");
    r.at(P, ":run only");
    r.expect("only-section-ran");
    r.at(P, ":sections");
    r.expect("passed   Only section");
    r.at(P, ":clusters");
    r.expect("cluster1 -> simulated");
    r.at(P, ":quit");
    assert_eq!(r.finish(), 0, "{}", r.seen);
    let history = std::fs::read_to_string(dir.path().join(".state/meshbook/history"))
        .expect("history is saved under XDG_STATE_HOME");
    assert!(history.contains("shout(greeting)"), "{history}");
}

const STEP_RUNBOOK: &str = r#"//! title: Step test
//! clusters:
//!   cluster1: CLUSTER1
let ready = false;
section("First", || { say("first-output"); });
section("Second", || { say("second-output"); });
section("Third", || {
    say("third-attempt");
    expect(ready, "ready is set");
    say("third-passed");
});
section("Fourth", || { say("fourth-output"); });
"#;

#[test]
fn step_skip_run_continue_and_retry_after_a_fix() {
    on_a_terminal(step_skip_run_continue_and_retry_after_a_fix_once);
}

fn step_skip_run_continue_and_retry_after_a_fix_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("steps.rhai"), STEP_RUNBOOK).expect("write");
    let mut r = Driven::new(spawn(
        dir.path(),
        &[
            "run",
            "steps.rhai",
            "--step",
            "--pause-on-error",
            "--report",
            "run.json",
        ],
    ));
    r.at("next: First", "s");
    r.at("next: Second", "");
    r.expect("second-output");
    r.at("next: Third", "c");
    r.expect("expectation failed: ready is set");
    r.at("failed> ", ":vars");
    r.expect("let ready = false");
    r.at("failed> ", "ready = true");
    r.at("failed> ", ":retry");
    r.expect("third-passed");
    r.expect("fourth-output");
    // The retried section counts once, as passed after a retry; its failed attempt stays.
    r.expect("passed after 1 retry: 3 of 4 sections passed, 1 skipped");
    let code = r.finish();
    assert_eq!(code, 0, "{}", r.seen);
    assert!(
        r.seen.contains("attempt 1 failed; running it again"),
        "{}",
        r.seen
    );
    assert!(!r.seen.contains("first-output"), "{}", r.seen);
    let report = std::fs::read_to_string(dir.path().join("run.json")).expect("report");
    for text in ["skip `First`", "ready = true", "retry"] {
        assert!(
            report.contains(text),
            "{text:?} not in the report\n{report}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert_eq!(json["headline"], "passed after 1 retry", "{json}");
    assert_eq!(json["summary"]["retries"], 1, "{json}");
    let third = &json["sections"][2];
    assert_eq!(third["status"], "passed", "{json}");
    assert_eq!(third["retries"], 1, "{json}");
    assert_eq!(third["attempts"][0]["status"], "failed", "{json}");
    assert!(
        third["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("expectation failed: ready is set")),
        "{json}"
    );
    assert_eq!(
        json["sections"][0]["reason"], "skipped at the prompt",
        "{json}"
    );
}

#[test]
fn pause_opens_the_repl_in_the_scripts_scope() {
    on_a_terminal(pause_opens_the_repl_in_the_scripts_scope_once);
}

fn pause_opens_the_repl_in_the_scripts_scope_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = r#"//! title: Pause test
let x = 1;
let elsewhere = "top-level-value";
section("Look", || {
    let local = 41;
    pause("have a look");
    say(`x is now ${x}`);
});
"#;
    std::fs::write(dir.path().join("pause.rhai"), src).expect("write");
    let mut r = Driven::new(spawn(dir.path(), &["run", "pause.rhai"]));
    r.expect("have a look");
    r.at("paused> ", "local + 1");
    r.expect("42");
    // A top-level variable the section does not use is in scope too.
    r.at("paused> ", "elsewhere.to_upper()");
    r.expect("TOP-LEVEL-VALUE");
    r.at("paused> ", "x = 5;");
    r.at("paused> ", ":continue");
    r.expect("x is now 5");
    assert_eq!(r.finish(), 0, "{}", r.seen);
}

#[test]
fn abort_at_a_failure_ends_the_run_with_exit_1() {
    on_a_terminal(abort_at_a_failure_ends_the_run_with_exit_1_once);
}

fn abort_at_a_failure_ends_the_run_with_exit_1_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = "//! title: Abort\nsection(\"Bad\", || { throw \"boom\"; });\nsection(\"Later\", || { say(\"later-output\"); });\n";
    std::fs::write(dir.path().join("abort.rhai"), src).expect("write");
    let mut r = Driven::new(spawn(
        dir.path(),
        &["run", "abort.rhai", "--pause-on-error"],
    ));
    r.expect("boom");
    r.at("failed> ", ":abort");
    assert_eq!(r.finish(), 1, "{}", r.seen);
    assert!(!r.seen.contains("later-output"), "{}", r.seen);
}

#[test]
fn without_a_terminal_nothing_waits() {
    let src = "//! title: No tty\nsection(\"A\", || { pause(\"look\"); say(\"after-pause\"); });\n";
    for flag in ["--step", "--pause-on-error"] {
        Test::runbook(src)
            .args(&[flag])
            .run()
            .status(2)
            .stderr_has(&format!("{flag} waits for answers"))
            .stderr_has("--interactive");
    }
    Test::runbook(src)
        .args(&["--break", "nope"])
        .run()
        .status(2)
        .stderr_has("--break `nope` matches no section");
    // pause() is logged and skipped.
    Test::runbook(src)
        .run()
        .status(0)
        .stdout_has("pause skipped")
        .stdout_has("after-pause");
}

#[test]
fn interactive_reads_step_answers_from_stdin() {
    let src = "//! title: Piped\nsection(\"A\", || { say(\"a-output\"); });\nsection(\"B\", || { say(\"b-output\"); });\n";
    Test::runbook(src)
        .args(&["--step", "--interactive"])
        .stdin("s\n\n")
        .run()
        .status(0)
        .stdout_lacks("a-output")
        .stdout_has("b-output");
}

#[test]
fn break_asks_only_before_the_named_section() {
    let src = "//! title: Break\nsection(\"Alpha\", || { say(\"alpha-output\"); });\nsection(\"Beta\", || { say(\"beta-output\"); });\nsection(\"Gamma\", || { say(\"gamma-output\"); });\n";
    Test::runbook(src)
        .args(&["--break", "beta", "--interactive", "--report", "run.json"])
        .stdin("s\n")
        .run()
        .status(0)
        .stdout_has("alpha-output")
        .stdout_lacks("beta-output")
        .stdout_has("gamma-output")
        .stdout_has("next: Beta")
        .stdout_lacks("next: Alpha");
}

#[test]
fn repl_without_a_runbook_has_cluster1_and_cluster2() {
    on_a_terminal(repl_without_a_runbook_has_cluster1_and_cluster2_once);
}

fn repl_without_a_runbook_has_cluster1_and_cluster2_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = Driven::new(spawn(dir.path(), &["repl", "--sim"]));
    r.at("meshbook> ", "let c = cluster(\"cluster2\");");
    r.at("meshbook> ", "c.name.to_upper() + \"!\"");
    r.expect("CLUSTER2!");
    r.at("meshbook> ", ":sections");
    r.expect("(no sections)");
    r.at("meshbook> ", ":continue");
    r.expect("nothing to continue");
    // Ctrl-D leaves like :quit.
    r.expect("meshbook> ");
    r.p.send_control('d').expect("ctrl-d");
    assert_eq!(r.finish(), 0, "{}", r.seen);
}

#[test]
fn quit_at_a_step_prompt_says_where_it_stopped_and_exits_1() {
    let src = "//! title: Quit\nsection(\"A\", || { say(\"a-output\"); });\nsection(\"B\", || { say(\"b-output\"); });\nsection(\"C\", || { say(\"c-output\"); });\n";
    let out = Test::runbook(src)
        .args(&["--step", "--interactive", "--report", "r.json"])
        .args(&["--report", "r.md", "--report", "r.xml"])
        .stdin("\nq\n")
        .run()
        .status(1)
        .stdout_has("a-output")
        .stdout_lacks("b-output")
        .stdout_has("stopped at `B`, 2 sections not run: 1 of 3 sections passed");
    let json = out.json("r.json");
    assert_eq!(json["status"], "stopped", "{json}");
    assert_eq!(json["stopped_at"], "B", "{json}");
    assert_eq!(json["headline"], "stopped at `B`, 2 sections not run");
    assert_eq!(json["sections"][1]["status"], "not_run", "{json}");
    assert!(out
        .file("r.md")
        .contains("**stopped at `B`, 2 sections not run**"));
    assert!(out
        .file("r.xml")
        .contains("value=\"stopped at `B`, 2 sections not run\""));
    let failing = "//! title: Quit\nsection(\"A\", || { throw \"a-broke\"; });\nsection(\"B\", || { say(\"b-output\"); });\n";
    Test::runbook(failing)
        .args(&["--step", "--pause-on-error", "--interactive"])
        .stdin("\n:skip\nq\n")
        .run()
        .status(1)
        .stderr_has("a-broke")
        .stdout_lacks("b-output");
}

// See: issue 16. Lines typed (or pasted) while an earlier line runs are all evaluated, in
// order: one editor holds the input read ahead for the whole session.
#[test]
fn lines_typed_ahead_are_all_evaluated() {
    on_a_terminal(lines_typed_ahead_are_all_evaluated_once);
}

fn lines_typed_ahead_are_all_evaluated_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = Driven::new(spawn(dir.path(), &["repl", "--sim"]));
    r.expect("meshbook> ");
    // Five lines at once, the first slow: the other four arrive while it runs.
    r.line("sleep(\"300ms\"); \"got-\" + (10 + 1)");
    for n in 2..=5 {
        r.line(&format!("\"got-\" + (10 + {n})"));
    }
    for n in 1..=5 {
        r.expect(&format!("got-{}", 10 + n));
    }
    r.at("meshbook> ", ":quit");
    assert_eq!(r.finish(), 0, "{}", r.seen);
}

// See: issue 16. With one editor for the session, Ctrl-C still stops the line that runs.
#[test]
fn ctrl_c_stops_a_running_line_and_the_session_goes_on() {
    on_a_terminal(ctrl_c_stops_a_running_line_and_the_session_goes_on_once);
}

fn ctrl_c_stops_a_running_line_and_the_session_goes_on_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = Driven::new(spawn(dir.path(), &["repl", "--sim"]));
    r.at(
        "meshbook> ",
        "say(\"sleeping-now\"); sleep(\"60s\"); \"woke-late\"",
    );
    r.expect("sleeping-now");
    r.p.send_control('c').expect("ctrl-c");
    r.expect("interrupted");
    r.expect("meshbook> ");
    r.line("\"after-\" + 1");
    r.expect("after-1");
    r.at("meshbook> ", ":quit");
    assert_eq!(r.finish(), 0, "{}", r.seen);
}

/// On a terminal a long wait shows what it waits for and last saw on its live line (every
/// second), before the line of its own that comes every 10 s.
#[test]
fn a_long_wait_shows_a_live_line_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wait.rhai"),
        "let c = cluster(\"cluster1\");\nsection(\"s\", || {\n  c.apply(\"apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web, namespace: default}\\nspec:\\n  replicas: 1\\n  selector: {matchLabels: {app: web}}\\n  template:\\n    metadata: {labels: {app: web}}\\n    spec: {containers: [{name: web, image: nginx}]}\\n\");\n  c.wait_rollout(\"default\", \"web\");\n  c.wait_for(\"deployment\", \"web\", \"default\", |d| d.spec.replicas == 99, \"3s\");\n});\n",
    )
    .unwrap();
    let mut p = spawn(dir.path(), &["run", "wait.rhai"]);
    p.exp_string(
        "· still waiting for deployment/web -n default to match the condition on cluster1",
    )
    .expect("the live line of the wait");
    p.exp_string("last seen: wanted 1")
        .expect("what it last saw");
    p.exp_string("timed out").expect("the wait ends");
}

//! The README is a newcomer's path: its runbook example runs, and CI runs its test command.

use crate::support::Test;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

#[test]
fn the_readme_runbook_example_runs_on_simulated_clusters() {
    let text = readme();
    let start = text
        .find("```rhai\n")
        .expect("a rhai example in the README")
        + "```rhai\n".len();
    let end = start + text[start..].find("```").expect("the example ends");
    Test::runbook(&text[start..end])
        .run()
        .status(0)
        .stdout_has("simulated clusters: cluster1");
}

#[test]
fn ci_runs_the_readme_test_command() {
    let text = readme();
    let command = "cargo test --all-targets";
    assert!(text.contains(command), "the README names `{command}`");
    let ci =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run must run exactly the README's test command"
    );
}

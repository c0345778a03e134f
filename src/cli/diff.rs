//! `meshbook diff`: what a run would change, as `kubectl diff` shows it. The runbook runs as
//! `run --dry-run` (every apply a server-side dry run, nothing changed) and each object an
//! apply would create or change is printed as a unified diff of the live object against the
//! object after the apply.

use clap::Args;

use super::exit;
use super::run::{RunArgs, RunbookSelection};
use crate::session::Session;

const DIFF_EXAMPLES: &str = "\
Examples:
  meshbook diff ./scenario.rhai --context cluster1=prod-east
  meshbook diff global-mesh --only 'Link Clusters' --context cluster1=c1 --context cluster2=c2

The runbook runs as `meshbook run --dry-run`: nothing is changed, tools do not run and waits are
not waited, so a step that reads what an earlier step would have made stops the diff there (it
says so). Objects whose namespace or CRD the run would create cannot be checked by the server:
they are shown whole, marked (not validated).
Exit codes, as kubectl diff: 0 no differences, 1 differences, 2 the diff could not be made.";

/// Show what a run would change on the clusters, as diffs (nothing is changed).
#[derive(Args, Debug)]
#[command(after_help = DIFF_EXAMPLES)]
pub struct DiffArgs {
    #[command(flatten)]
    pub on: RunbookSelection,
}

pub fn run(args: DiffArgs, handle: &tokio::runtime::Handle) -> u8 {
    let run_args = RunArgs {
        on: args.on,
        dry_run: true,
        diff: true,
        ..RunArgs::default()
    };
    // The transcript is kept short (sections only); the diffs follow it.
    super::run::run(run_args, -2, handle).unwrap_or_else(|e| e.report())
}

/// Prints the diffs a dry run gathered and returns the exit code: 0 no differences, 1
/// differences, 2 when the dry run could not start, or stopped before any difference.
pub fn print(session: &Session, run_code: u8) -> u8 {
    let diffs = session.state().diffs.clone();
    for d in &diffs {
        print!("{}", session.redact(d));
    }
    let stopped = run_code != exit::OK;
    if stopped {
        eprintln!(
            "note: the dry run stopped before the end (above); the diff covers the steps before it"
        );
    }
    match (diffs.is_empty(), stopped) {
        (false, _) => exit::FAILED,
        (true, false) => exit::OK,
        (true, true) => exit::CANNOT_START,
    }
}

//! The command line: one file per subcommand, each owning its flags and a `run()`.

mod check;
mod cleanup;
mod completions;
mod diff;
pub mod docs;
mod doctor;
pub mod error;
mod list;
mod new;
pub(crate) mod prepare;
pub mod repl;
pub mod run;
mod sim;
pub mod targets;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes scripts can rely on.
pub mod exit {
    /// Every section passed.
    pub const OK: u8 = 0;
    /// A section failed (a check, an expect, an operation); or the run was stopped with `q`
    /// at a step prompt; or `--fail-on-skip` found a skipped check.
    pub const FAILED: u8 = 1;
    /// The runbook could not start: usage, syntax, unknown runbook, missing environment, a
    /// secret too short to mask, an unwritable report path, unknown context, unreachable
    /// cluster.
    pub const CANNOT_START: u8 = 2;
    /// Interrupted with Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

/// `meshbook --version`: the package version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MESHBOOK_COMMIT"),
    ")"
);

const ABOUT: &str = "Runbooks for multi-cluster service meshes: Rhai scripts over kube-rs, rehearsed offline on simulated clusters";

const LONG_ABOUT: &str = "\
meshbook runs runbooks: Rhai scripts that reproduce multi-cluster Istio ambient and Gloo Mesh
walkthroughs section by section, against real clusters or built-in simulated ones, and prove
each section worked with checks.";

const EXAMPLES: &str = "\
Examples:
  meshbook list                                  # the bundled runbooks and their sections
  meshbook run global-mesh                       # rehearse on simulated clusters
  CLUSTER1=kind-c1 CLUSTER2=kind-c2 meshbook run global-mesh
  meshbook run ./scenario.rhai --context cluster1=prod-east --report out/run.xml
  meshbook check --all                           # check every bundled runbook
  meshbook docs > FUNCTIONS.md                   # reference of every script function
  meshbook repl --sim                            # interactive Rhai on simulated clusters
  meshbook run global-mesh --step --pause-on-error   # section by section, stop on failures
  meshbook new canary --clusters east,west       # a starter runbook: canary.rhai
  meshbook diff ./scenario.rhai --context cluster1=prod-east   # what a run would change

Exit codes: 0 all sections passed, 1 a section failed (or the run stopped at a prompt), 2 the
runbook could not start, 130 interrupted.";

#[derive(Parser, Debug)]
#[command(name = "meshbook", version = VERSION, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show more: unchanged objects and every operation (-v), debug logs (-vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Show less: only sections, failed steps and checks.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl Cli {
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(3) as i8
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Run(run::RunArgs),
    List(list::ListArgs),
    Check(check::CheckArgs),
    Docs(docs::DocsArgs),
    Doctor(doctor::DoctorArgs),
    Sim(sim::SimArgs),
    Repl(repl::ReplArgs),
    Cleanup(cleanup::CleanupArgs),
    New(new::NewArgs),
    Completions(completions::CompletionsArgs),
    Diff(diff::DiffArgs),
}

/// Parses arguments, runs the command, and returns its exit code. Errors are rendered here,
/// with `Display`, never as a Rust debug dump.
pub fn main<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::CANNOT_START
            } else {
                exit::OK
            });
        }
    };
    crate::logging::init(cli.verbosity());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("meshbook-io")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::CANNOT_START);
        }
    };
    let verbosity = cli.verbosity();
    let code = match cli.command {
        Command::Run(args) => {
            run::run(args, verbosity, runtime.handle()).unwrap_or_else(|e| e.report())
        }
        Command::List(args) => list::run(args, runtime.handle()),
        Command::Check(args) => check::run(args, runtime.handle()),
        Command::Docs(args) => docs::run(args, runtime.handle()),
        Command::Doctor(args) => doctor::run(args, runtime.handle()).unwrap_or_else(|e| e.report()),
        Command::Sim(args) => sim::run(args, runtime.handle()).unwrap_or_else(|e| e.report()),
        Command::Repl(args) => {
            repl::run(args, verbosity, runtime.handle()).unwrap_or_else(|e| e.report())
        }
        Command::Cleanup(args) => {
            cleanup::run(args, runtime.handle()).unwrap_or_else(|e| e.report())
        }
        Command::New(args) => new::run(args).unwrap_or_else(|e| e.report()),
        Command::Completions(args) => completions::run(args),
        Command::Diff(args) => diff::run(args, runtime.handle()),
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

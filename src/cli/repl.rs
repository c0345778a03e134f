//! `meshbook repl`: an interactive Rhai session with the clusters bound; with a runbook, its
//! header, imports, functions and top-level variables are loaded, and no section runs.

use std::sync::Arc;

use clap::Args;

use super::error::CliError;
use super::exit;
use super::prepare::{self, Strictness};
use super::targets;
use crate::repl::{Mode, Program, Repl};
use crate::report::{Event, Redactor};
use crate::runbook::{Origin, Runbook};
use crate::session::Session;

const REPL_EXAMPLES: &str = "\
Examples:
  meshbook repl --sim                              # simulated cluster1 and cluster2
  meshbook repl global-mesh                        # a runbook's variables and functions, no section run
  meshbook repl ./scenario.rhai --context cluster1=kind-c1 --context cluster2=kind-c2

In the REPL: `let c = cluster(\"cluster1\");`, `c.get(\"ns\", \"istio-system\")`, Tab completes,
`:help wait_rollout` shows a function, `:sections` and `:run SECTION` run the runbook's sections,
`:quit` (or Ctrl-D) leaves. History is kept in $XDG_STATE_HOME/meshbook/history.";

/// Without a runbook: the two clusters the walkthroughs use.
const DEFAULT_HEADER: &str =
    "//! title: REPL\n//! clusters:\n//!   cluster1: CLUSTER1\n//!   cluster2: CLUSTER2\n";

/// An interactive Rhai session on the clusters (and a runbook's scope).
#[derive(Args, Debug, Default)]
#[command(after_help = REPL_EXAMPLES)]
pub struct ReplArgs {
    /// A bundled runbook or a .rhai file whose header, imports and variables to load.
    pub runbook: Option<String>,
    /// Map a logical cluster to a kubeconfig context; repeatable.
    #[arg(long = "context", value_name = "NAME=KUBECONTEXT")]
    pub context: Vec<String>,
    /// Use simulated clusters even if contexts are set in the environment.
    #[arg(long)]
    pub sim: bool,
    /// Set a runbook parameter (read with `param`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

pub fn run(args: ReplArgs, verbosity: i8, handle: &tokio::runtime::Handle) -> Result<u8, CliError> {
    let redactor = Redactor::new();
    crate::logging::set_redactor(&redactor);
    let runbook = match &args.runbook {
        Some(name) => Runbook::load(name),
        None => Runbook::from_source(
            "repl".into(),
            "<repl>".into(),
            Origin::Inline,
            DEFAULT_HEADER.to_string(),
        ),
    };
    let runbook = runbook.map_err(CliError::from)?;
    let contexts = targets::parse_pairs("--context", &args.context).map_err(CliError::from)?;
    let sets = targets::parse_pairs("--set", &args.set).map_err(CliError::from)?;
    // Variables the runbook reads by name; a runbook with errors still opens (the REPL shows them).
    let env_reads = super::run::static_checks(&runbook, handle)
        .map(|c| c.env_reads)
        .unwrap_or_default();
    // A person is there to fix what is missing: it is noted, not refused.
    let plan = prepare::plan(
        &runbook,
        &contexts,
        sets,
        args.sim,
        &redactor,
        &env_reads,
        Strictness::Repl,
    )
    .map_err(CliError::from)?;
    let fleet = prepare::connect(&runbook, &plan.target, handle).map_err(CliError::from)?;
    let session = Arc::new(Session {
        interactive: true,
        ..prepare::session(&plan, &runbook, &fleet, &redactor, verbosity, handle)
    });
    let reporter = session.reporter.clone();
    let engine = crate::engine::build(&session, crate::repl::hooks::install(Default::default()));
    let ast = crate::engine::compile(&engine, &session).map_err(CliError::from)?;
    let program = Program::new(&runbook.source, ast);
    prepare::announce(&reporter, &runbook, &plan, &fleet);

    // One editor for the session, opened before Ctrl-C is watched: tokio's SIGINT handler is
    // then installed over rustyline's and chains to it (see `repl::console::Console`).
    let console = crate::repl::console::Console::for_session();
    // Ctrl-C stops what a line is doing (the engine's progress hook sees it); the REPL goes on.
    let cancelled = session.cancelled.clone();
    handle.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let script_session = session.clone();
    let result = std::thread::Builder::new()
        .name("meshbook-repl".into())
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let session = script_session;
            let mut scope = rhai::Scope::new();
            let loaded = program
                .without_sections(&engine)
                .map_err(|e| e.to_string())
                .and_then(|top| {
                    engine
                        .run_ast_with_scope(&mut scope, &top)
                        .map_err(|err| crate::engine::render_error(&session, &err, None, Vec::new()))
                });
            if let Err(text) = loaded {
                eprintln!("{}", session.redact(text.trim_end()));
                eprintln!("note: the runbook's top level stopped there; what it defined before is in scope");
            }
            session.emit(Event::Intervention {
                kind: "repl".into(),
                detail: "session started (:help lists the commands)".into(),
            });
            let repl = Repl {
                engine: &engine,
                session: &session,
                program: &program,
            };
            let t = match console {
                Ok(console) => repl.run_on(console, &mut scope, Mode::Session),
                Err(_) => repl.run(&mut scope, Mode::Session),
            };
            session.emit(Event::Intervention {
                kind: "repl".into(),
                detail: format!("session ended: {}", t.summary()),
            });
        })
        .map_err(|e| e.to_string())
        .and_then(|h| {
            h.join()
                .map_err(|_| "the REPL thread stopped unexpectedly".to_string())
        });
    result
        .map(|()| exit::OK)
        .map_err(|e| CliError::new(e).with_code(exit::FAILED))
}

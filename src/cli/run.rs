//! `meshbook run`: load, check, map clusters, run section by section, report.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::error::CliError;
use super::exit;
use super::prepare::{self, Strictness};
use super::targets;
use crate::engine::diagnostic::Diagnostic;
use crate::engine::runner::{section_failure, stop_request};
use crate::fleet::Fleet;
use crate::problem::Problem;
use crate::report::{files, Event, Redactor, Status};
use crate::runbook::Runbook;
use crate::session::{SectionFilter, Session};

const RUN_EXAMPLES: &str = "\
Examples:
  meshbook run global-mesh                     # no context mapped: simulated clusters
  meshbook run global-mesh --context cluster1=kind-c1 --context cluster2=kind-c2
  CLUSTER1=kind-c1 CLUSTER2=kind-c2 meshbook run global-mesh    # contexts from the header
  meshbook run gloo-mesh-multicluster --set GLOO_VERSION=2.9.2 --from 'Install Istio'
  meshbook run ./scenario.rhai --from 'Link Clusters' --report run.json --report run.xml

A runbook's clusters are all mapped to contexts, or none (then it runs on simulated clusters and
says so on the first line). Reports: .json, .xml (JUnit), .md (Markdown transcript) or .html (a
page with the timeline and traffic); a report path that cannot be written is refused before
anything runs.
A section whose checks were all skipped is unverified, not passed; --fail-on-skip makes any
skipped check fail the run.
Exit codes: 0 all sections passed, 1 a section failed (or the run was stopped at a prompt, or a
check was skipped with --fail-on-skip), 2 the runbook could not start, 130 interrupted.";

/// Which runbook, with which parameters, on which clusters, and which of its sections: the
/// arguments `run` and `diff` share.
#[derive(Args, Debug, Default)]
pub struct RunbookSelection {
    /// A bundled runbook (as `meshbook list` prints it) or a path to a .rhai file.
    pub runbook: String,
    /// Set a runbook parameter (read with `param`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Map a logical cluster to a kubeconfig context; repeatable.
    #[arg(long = "context", value_name = "NAME=KUBECONTEXT")]
    pub context: Vec<String>,
    /// Run on simulated clusters even if contexts are set in the environment.
    #[arg(long)]
    pub sim: bool,
    /// Run only this section (case-insensitive title); repeatable.
    #[arg(long, value_name = "SECTION")]
    pub only: Vec<String>,
    /// Skip this section (case-insensitive title); repeatable.
    #[arg(long, value_name = "SECTION")]
    pub skip: Vec<String>,
    /// Start at this section, skipping the ones before it.
    #[arg(long, value_name = "SECTION")]
    pub from: Option<String>,
}

/// Run a runbook, section by section.
#[derive(Args, Debug, Default)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    #[command(flatten)]
    pub on: RunbookSelection,
    /// Write a report: .json, .xml (JUnit), .md (Markdown transcript) or .html (timeline and
    /// traffic charts, one self-contained page); repeatable.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// When a section fails, also write the diagnostics gathered from the clusters (events,
    /// not-ready workloads, logs) into this directory.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Faults and latency of the simulated clusters this run starts.
    #[command(flatten)]
    pub faults: super::sim::FaultArgs,
    /// Ask before every section: Enter runs it, s skips, r opens the REPL, c continues, q quits.
    #[arg(long)]
    pub step: bool,
    /// Ask before this section only (case-insensitive title); repeatable.
    #[arg(long = "break", value_name = "SECTION")]
    pub breaks: Vec<String>,
    /// When a section fails, open the REPL in its scope: :retry, :skip or :abort.
    #[arg(long)]
    pub pause_on_error: bool,
    /// Ask questions even without a terminal (lines are read from stdin).
    #[arg(long)]
    pub interactive: bool,
    /// Go on from where the last run of this runbook stopped: the sections that passed are
    /// skipped, their parameters, clusters and top-level values restored (on simulated
    /// clusters also the clusters' objects).
    #[arg(long, conflicts_with_all = ["from", "only"])]
    pub resume: bool,
    /// With --resume: go on even though the runbook changed since that run.
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Leave everything for inspection: neither the undos registered with cleanup() nor the
    /// `always` sections run; `meshbook cleanup RUNBOOK` deletes what the run created later.
    #[arg(long)]
    pub keep: bool,
    /// Fail the run (exit 1) if any check was skipped (nothing answered it).
    #[arg(long)]
    pub fail_on_skip: bool,
    /// Change nothing: every apply is a server-side dry run (listed per object as it would
    /// change), other writes and tools are described, not done, and waits are not waited.
    #[arg(long)]
    pub dry_run: bool,
    /// Set by `meshbook diff`: print what the dry run's applies would change, as diffs.
    #[arg(skip)]
    pub diff: bool,
}

/// What a run starts with, once everything that can refuse it has passed.
struct Started {
    redactor: Redactor,
    plan: prepare::Plan,
    fleet: Arc<Fleet>,
    session: Arc<Session>,
    engine: rhai::Engine,
    ast: rhai::AST,
}

pub fn run(args: RunArgs, verbosity: i8, handle: &tokio::runtime::Handle) -> Result<u8, CliError> {
    let Started {
        redactor,
        plan,
        fleet,
        session,
        engine,
        ast,
    } = start(&args, verbosity, handle)?;
    watch_ctrl_c(&session, handle);
    let started = std::time::Instant::now();
    let (result, undone) = run_script(engine, ast, &session);
    let (status, code, error_text) = outcome(result, &session);
    finish(
        &args, verbosity, &redactor, &plan, &fleet, &session, started, undone, status, code,
        error_text,
    )
}

/// Everything before the script runs: the runbook, its flags and environment, the static
/// checks, the clusters, the session and the engine. Any refusal happens here, before a
/// cluster is touched.
fn start(
    args: &RunArgs,
    verbosity: i8,
    handle: &tokio::runtime::Handle,
) -> Result<Started, CliError> {
    args.faults.apply();
    let redactor = Redactor::new();
    crate::logging::set_redactor(&redactor);
    let runbook = Runbook::load(&args.on.runbook).map_err(CliError::from)?;
    let resumed = resumed_record(args, &runbook).map_err(CliError::from)?;
    let mut sets = targets::parse_pairs("--set", &args.on.set).map_err(CliError::from)?;
    let mut contexts =
        targets::parse_pairs("--context", &args.on.context).map_err(CliError::from)?;
    if let Some(r) = &resumed {
        // The resumed run's parameters and contexts, unless given again.
        let declared = |k: &str| runbook.header.params.iter().any(|p| p.0 == k);
        let mut all: Vec<(String, String)> = r
            .params
            .iter()
            .filter(|(k, _)| declared(k) && !sets.iter().any(|s| &s.0 == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.append(&mut sets);
        sets = all;
        if contexts.is_empty() {
            contexts = r
                .contexts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
    }
    // Where the results go is checked before anything runs: a report that cannot be written
    // must not be found out after the clusters were changed.
    for path in &args.report {
        files::probe(path).map_err(|e| CliError::from(crate::problem::Problem::from(e)))?;
    }
    if let Some(dir) = &args.bundle {
        probe_dir(dir)?;
    }
    // Static checks first, on a detached session: nothing touches a cluster before they pass.
    let Checked { titles, env_reads } = static_checks(&runbook, handle)?;
    let plan = prepare::plan(
        &runbook,
        &contexts,
        sets,
        args.on.sim,
        &redactor,
        &env_reads,
        Strictness::Run,
    )
    .map_err(CliError::from)?;
    let filter = SectionFilter::resolve(
        &titles,
        &args.on.only,
        &args.on.skip,
        args.on.from.as_deref(),
    )
    .map_err(|e| CliError::from(e).context(format!("{}: ", runbook.display_path)))?;
    let (interactive, hooks) = interactive_hooks(args, &titles)
        .map_err(|e| CliError::from(e).context(format!("{}: ", runbook.display_path)))?;
    let fleet = prepare::connect(&runbook, &plan.target, handle).map_err(CliError::from)?;
    let session = Arc::new(Session {
        filter,
        interactive,
        dry_run: args.dry_run,
        ..prepare::session(&plan, &runbook, &fleet, &redactor, verbosity, handle)
    });
    let reporter = session.reporter.clone();
    {
        let mut st = session.state();
        st.keep = args.keep;
        // A dry run changes nothing, so it leaves the state of the last real run alone.
        st.state_file = (!args.dry_run).then(|| crate::checkpoint::path_for(&runbook));
    }
    let engine = crate::engine::build(&session, hooks);
    let ast = crate::engine::compile(&engine, &session).map_err(CliError::from)?;
    prepare::announce(&reporter, &runbook, &plan, &fleet);
    restore_point(&session, &titles, resumed.as_ref(), args.force, handle)
        .map_err(|e| CliError::from(e).context(format!("{}: ", runbook.display_path)))?;
    reporter.set_plan(titles);
    session.checkpoint("running");
    if args.dry_run {
        reporter.emit(Event::Notice {
            text: "dry run: applies are sent with dryRun=All and listed as they would change; other writes and tools are only described; waits are not waited; nothing is changed".into(),
        });
    }
    Ok(Started {
        redactor,
        plan,
        fleet,
        session,
        engine,
        ast,
    })
}

/// Every Ctrl-C cancels what runs: the first the script, a second the clean-up after it. The
/// handler is installed before the script starts, so no early Ctrl-C is missed.
fn watch_ctrl_c(session: &Session, handle: &tokio::runtime::Handle) {
    let cancelled = session.cancelled.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut sigint) = handle.block_on(async { signal(SignalKind::interrupt()) }) {
            handle.spawn(async move {
                while sigint.recv().await.is_some() {
                    cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    }
    #[cfg(not(unix))]
    handle.spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
}

/// Runs the script on a thread of its own (deep recursion needs a big stack), then the undos
/// registered with `cleanup(...)`, whatever ended it.
#[allow(clippy::type_complexity)]
fn run_script(
    engine: rhai::Engine,
    ast: rhai::AST,
    session: &Arc<Session>,
) -> (
    Result<Result<(), rhai::EvalAltResult>, Problem>,
    crate::engine::runner::UndoOutcome,
) {
    let script_session = session.clone();
    let undo_outcome = Arc::new(std::sync::Mutex::new(None));
    let undo_slot = undo_outcome.clone();
    let result = std::thread::Builder::new()
        .name("meshbook-script".into())
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let r = engine.run_ast(&ast);
            // The undos run whatever ended the script, in its engine (closures need it).
            let undone = crate::engine::runner::run_undos(&engine, &ast, &script_session);
            *undo_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(undone);
            drop(script_session);
            r.map_err(|e| *e)
        })
        .map_err(|e| Problem::new(format!("cannot start the script thread: {e}")))
        .and_then(|h| {
            h.join()
                .map_err(|_| Problem::new("the script thread stopped unexpectedly"))
        });
    let undone = undo_outcome
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    (result, undone)
}

/// What the script's end means for the run: its status, the exit code, and the error to show.
fn outcome(
    result: Result<Result<(), rhai::EvalAltResult>, Problem>,
    session: &Session,
) -> (Status, u8, Option<String>) {
    let reporter = &session.reporter;
    let (status, code, error_text) = match result {
        Err(e) => (Status::Failed, exit::FAILED, Some(format!("error: {e}"))),
        Ok(Ok(())) => match session.state().failure.clone() {
            Some(rendered) if session.is_cancelled() => {
                (Status::Failed, exit::INTERRUPTED, Some(rendered))
            }
            Some(rendered) => (Status::Failed, exit::FAILED, Some(rendered)),
            None if session.is_cancelled() => (
                Status::Failed,
                exit::INTERRUPTED,
                Some("error: interrupted during the clean-up".to_string()),
            ),
            None => (Status::Passed, exit::OK, None),
        },
        Ok(Err(err)) => {
            if let Some(stop) = stop_request(&err) {
                let failed = stop.abort
                    || session
                        .state()
                        .sections
                        .iter()
                        .any(|s| s.1 == Status::Failed);
                if failed {
                    (
                        Status::Failed,
                        exit::FAILED,
                        Some("error: the run was ended at a prompt".to_string()),
                    )
                } else {
                    // `q` at a step prompt: what ran may have passed, but the runbook did not
                    // run to its end; the summary says where it stopped.
                    (Status::Stopped, exit::FAILED, None)
                }
            } else if let Some(failed) = section_failure(&err).filter(|_| !session.is_cancelled()) {
                (Status::Failed, exit::FAILED, Some(failed.rendered))
            } else if let Some(failed) = section_failure(&err) {
                // Ctrl-C: the section shows where the run stopped; the exit code says why.
                (Status::Failed, exit::INTERRUPTED, Some(failed.rendered))
            } else if matches!(err, rhai::EvalAltResult::ErrorTerminated(..))
                || session.is_cancelled()
            {
                (
                    Status::Failed,
                    exit::INTERRUPTED,
                    Some("error: interrupted".to_string()),
                )
            } else {
                let text = crate::engine::render_error(session, &err, None, Vec::new());
                reporter.emit(Event::Notice {
                    text: format!(
                        "the runbook stopped outside any section: {}",
                        crate::engine::diagnostic::plain_message(&err)
                    ),
                });
                (Status::Failed, exit::FAILED, Some(text))
            }
        }
    };
    (status, code, error_text)
}

/// After the script: the error shown, the clean-up reported, the state recorded, diagnostics
/// gathered on failure, the summary printed and the reports written. Returns the exit code.
#[allow(clippy::too_many_arguments)]
fn finish(
    args: &RunArgs,
    verbosity: i8,
    redactor: &Redactor,
    plan: &prepare::Plan,
    fleet: &Fleet,
    session: &Session,
    started: std::time::Instant,
    undone: crate::engine::runner::UndoOutcome,
    status: Status,
    code: u8,
    error_text: Option<String>,
) -> Result<u8, CliError> {
    let reporter = &session.reporter;
    // A section skipped after failing at a `--pause-on-error` prompt still fails the run.
    let (status, code) = if status == Status::Passed
        && session
            .state()
            .sections
            .iter()
            .any(|s| s.1 == Status::Failed)
    {
        (Status::Failed, exit::FAILED)
    } else {
        (status, code)
    };
    if let Some(text) = &error_text {
        eprintln!("\n{}", redactor.redact(text.trim_end()));
    }
    let code = report_cleanup(session, args, &undone, code);
    session.checkpoint(match code {
        exit::OK => "passed",
        exit::INTERRUPTED => "interrupted",
        _ => "failed",
    });
    if status == Status::Failed && code != exit::INTERRUPTED && !fleet.members().is_empty() {
        gather_bundle(session, fleet, args.bundle.as_deref());
    }
    reporter.emit(Event::RunFinished {
        status,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    let mut report = reporter.report();
    report.target = plan.target.report_name();
    let mut code = code;
    if args.fail_on_skip && report.summary.checks_skipped > 0 && code != exit::INTERRUPTED {
        let n = report.summary.checks_skipped;
        eprintln!(
            "\nerror: {n} check{} skipped (nothing answered {}) and --fail-on-skip is set",
            if n == 1 { " was" } else { "s were" },
            if n == 1 { "it" } else { "them" }
        );
        report.status = Status::Failed;
        report.headline = format!(
            "{}{n} check{} skipped (--fail-on-skip)",
            if report.headline.starts_with("failed") {
                format!("{}, ", report.headline)
            } else {
                "failed: ".to_string()
            },
            if n == 1 { "" } else { "s" }
        );
        code = code.max(exit::FAILED);
    }
    print_summary(&report, verbosity, plan.simulated);
    if args.diff {
        code = super::diff::print(session, code);
    }
    for path in &args.report {
        if let Err(e) = files::write(path, &report, redactor) {
            eprintln!("error: {}", String::from(e));
            code = code.max(exit::FAILED);
        }
    }
    Ok(code)
}

/// With `--resume`: the last run's record, refused when there is nothing to resume or the
/// runbook changed since (unless `--force`).
fn resumed_record(
    args: &RunArgs,
    runbook: &Runbook,
) -> Result<Option<crate::checkpoint::Record>, Problem> {
    if !args.resume {
        return Ok(None);
    }
    let path = crate::checkpoint::path_for(runbook);
    let Some(record) = crate::checkpoint::load(&path)? else {
        return Err(Problem::new(format!(
            "{}: --resume: no run of it is recorded (looked for `{}`)",
            runbook.display_path,
            path.display()
        ))
        .with_help("run it without --resume first"));
    };
    if record.resume_at.is_none() {
        return Err(Problem::new(format!(
            "{}: --resume: its last run ({}) stopped at no section: nothing to resume",
            runbook.display_path,
            if record.status.is_empty() {
                "unknown"
            } else {
                &record.status
            }
        ))
        .with_help("run it again without --resume"));
    }
    if record.runbook_hash != crate::checkpoint::content_hash(&runbook.source) && !args.force {
        return Err(Problem::new(format!(
            "{}: --resume: the runbook changed since the run being resumed",
            runbook.display_path
        )).with_help("add --force to go on with the changed runbook (the recorded values may no longer fit), or run it afresh without --resume"));
    }
    Ok(Some(record))
}

/// Where the run starts from and what it starts with: for `--resume`, the sections that
/// passed (skipped) and the recorded values; on simulated clusters of this process, for
/// `--resume` and `--from`, the clusters' objects and values as they were before that section
/// in an earlier run of the same runbook.
fn restore_point(
    session: &Session,
    titles: &[String],
    resumed: Option<&crate::checkpoint::Record>,
    force: bool,
    handle: &tokio::runtime::Handle,
) -> Result<(), Problem> {
    let start = match resumed {
        Some(r) => {
            let at = r.resume_at.clone().unwrap_or_default();
            if !titles.contains(&at) {
                return Err(Problem::new(format!(
                    "--resume: the run stopped at section `{at}`, which the runbook no longer has"
                ))
                .with_help("use --from SECTION"));
            }
            let mut skip = Vec::new();
            for (title, status) in &r.sections {
                if *title == at {
                    break;
                }
                if status == "passed" {
                    skip.push(title.clone());
                }
            }
            let mut st = session.state();
            st.restore_vars = r.variables.clone();
            st.resume_skip = skip.clone();
            drop(st);
            session.emit(Event::Notice {
                text: format!(
                    "resuming at section `{at}`: {} section{} that passed before skipped, {} value{} restored",
                    skip.len(),
                    if skip.len() == 1 { "" } else { "s" },
                    r.variables.len(),
                    if r.variables.len() == 1 { "" } else { "s" },
                ),
            });
            if r.cleaned_up {
                session.emit(Event::Notice {
                    text: "the run being resumed cleaned up after its failure, so what it created may be gone (`--keep` keeps a failure resumable)".into(),
                });
            }
            Some(at)
        }
        None => session.filter.from.clone(),
    };
    let Some(start) = start else {
        return Ok(());
    };
    if session.fleet.sim_snapshot().is_empty() {
        return Ok(());
    }
    let Some(state_file) = session.state().state_file.clone() else {
        return Ok(());
    };
    let path = crate::checkpoint::boundary_path(&state_file, &start);
    match crate::checkpoint::load_boundary(&path) {
        Some(b)
            if b.runbook_hash == crate::checkpoint::content_hash(&session.runbook.source)
                || (resumed.is_some() && force) =>
        {
            handle
                .block_on(session.fleet.sim_restore(&b.clusters))
                .map_err(|e| e.to_string())?;
            session.state().restore_vars = b.variables;
            session.emit(Event::Notice {
                text: format!(
                    "the simulated clusters and top-level values are as an earlier run left them before `{start}`"
                ),
            });
        }
        _ => session.emit(Event::Notice {
            text: format!(
                "no snapshot of the simulated clusters before `{start}` from an earlier run of this runbook: they start empty (run it once whole to rehearse from any section)"
            ),
        }),
    }
    Ok(())
}

/// Says what the clean-up did and what is left (with how to clean it later); a failed undo
/// makes a passing run fail.
fn report_cleanup(
    session: &Session,
    args: &RunArgs,
    undone: &crate::engine::runner::UndoOutcome,
    code: u8,
) -> u8 {
    let created = session.state().created.len();
    let how = format!("meshbook cleanup {}", shell_word(&args.on.runbook));
    let in_process = session
        .fleet
        .members()
        .iter()
        .any(|m| m.cluster.context().is_none());
    if args.keep {
        if created > 0 || !undone.left.is_empty() {
            eprintln!(
                "\nkept for inspection (--keep): {} undo{} and the `always` sections not run; {created} object{} the run created left",
                undone.left.len(),
                if undone.left.len() == 1 { "" } else { "s" },
                if created == 1 { "" } else { "s" },
            );
            if in_process {
                eprintln!("(the simulated clusters were inside this run and are gone with it)");
            } else {
                eprintln!("clean up later with: {how}");
            }
        }
        return code;
    }
    if !undone.left.is_empty() {
        eprintln!(
            "\nthe clean-up was stopped; not run: {}",
            undone.left.join(", ")
        );
        if created > 0 && !in_process {
            eprintln!(
                "{created} object{} the run created may be left: {how} deletes them",
                if created == 1 { "" } else { "s" }
            );
        }
        return code.max(exit::INTERRUPTED);
    }
    if undone.failed > 0 {
        eprintln!(
            "\n{} undo{} failed (see above){}",
            undone.failed,
            if undone.failed == 1 { "" } else { "s" },
            if in_process {
                String::new()
            } else {
                format!("; {how} deletes what the run created and is left")
            }
        );
        return code.max(exit::FAILED);
    }
    code
}

/// A runbook argument as it can be typed again in a shell.
fn shell_word(arg: &str) -> String {
    if arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Whether a person may be asked (a terminal on stdin and stdout, or `--interactive`), and the
/// hooks of `--step`, `--break`, `--pause-on-error` and `pause()`; the flags that wait for
/// input are refused without one.
fn interactive_hooks(
    args: &RunArgs,
    titles: &[String],
) -> Result<(bool, crate::engine::runner::Hooks), Problem> {
    use std::io::IsTerminal;
    let interactive =
        args.interactive || (std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    let breaks = args
        .breaks
        .iter()
        .map(|b| crate::session::find_section(titles, "--break", b))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = crate::repl::hooks::StepOptions {
        step: args.step,
        breaks,
        pause_on_error: args.pause_on_error,
    };
    if opts.waits_for_input() && !interactive {
        let flags: Vec<&str> = [
            (args.step, "--step"),
            (!args.breaks.is_empty(), "--break"),
            (args.pause_on_error, "--pause-on-error"),
        ]
        .iter()
        .filter(|f| f.0)
        .map(|f| f.1)
        .collect();
        return Err(Problem::new(format!(
            "{} wait{} for answers, and there is no terminal to ask on",
            flags.join(" and "),
            if flags.len() == 1 { "s" } else { "" }
        ))
        .with_help("run it in a terminal, or add --interactive to read the answers from stdin"));
    }
    Ok((interactive, crate::repl::hooks::install(opts)))
}

/// The last line: what happened (the report's headline), the counts, and the time.
fn print_summary(report: &crate::report::RunReport, verbosity: i8, simulated: bool) {
    let s = &report.summary;
    let total = report.sections.len();
    let mut parts = vec![format!(
        "{} of {total} section{} passed",
        s.sections_passed,
        if total == 1 { "" } else { "s" }
    )];
    for (n, what) in [
        (s.sections_failed, "failed"),
        (s.sections_skipped, "skipped"),
        (s.sections_unverified, "unverified (no check answered)"),
        (s.sections_not_run, "not run"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let objects = format!(
        "objects: {} created, {} configured, {} unchanged, {} deleted",
        s.created, s.configured, s.unchanged, s.deleted
    );
    let simulated_checks = if simulated || s.checks_simulated > 0 {
        format!(", {} passed (simulated)", s.checks_simulated)
    } else {
        String::new()
    };
    let checks = format!(
        "checks: {} passed{simulated_checks}, {} failed, {} skipped",
        s.checks_passed, s.checks_failed, s.checks_skipped,
    );
    // `FAILED at `x``: the one word a person scans for stays loud.
    let headline = match report.headline.strip_prefix("failed") {
        Some(rest) => format!("FAILED{rest}"),
        None => report.headline.clone(),
    };
    if verbosity >= -1 {
        println!(
            "\n{headline}: {} in {} · {objects} · {checks}",
            parts.join(", "),
            crate::report::terminal::human_ms(report.duration_ms)
        );
    }
}

/// Checks that the `--bundle` directory can be made and written to, before anything runs.
fn probe_dir(dir: &std::path::Path) -> Result<(), Problem> {
    let cannot = |e: std::io::Error| {
        Problem::new(format!(
            "cannot write the diagnostics bundle to `{}`: {e}",
            dir.display()
        ))
        .with_help("choose a writable directory; nothing was run")
    };
    std::fs::create_dir_all(dir).map_err(cannot)?;
    tempfile::tempfile_in(dir).map(drop).map_err(cannot)
}

/// Compiles and statically checks a runbook; returns its section titles or the rendered findings.
/// What the static checks found out about a runbook that passed them.
pub struct Checked {
    /// Section titles in order.
    pub titles: Vec<String>,
    /// Environment variables read by literal name (name, secret).
    pub env_reads: Vec<(String, bool)>,
}

pub fn static_checks(
    runbook: &Runbook,
    handle: &tokio::runtime::Handle,
) -> Result<Checked, CliError> {
    static_diagnostics(runbook, handle).map_err(|findings| {
        CliError::rendered(
            findings
                .iter()
                .map(Diagnostic::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// The same checks, with the findings as diagnostics (for `check --json`).
pub fn static_diagnostics(
    runbook: &Runbook,
    handle: &tokio::runtime::Handle,
) -> Result<Checked, Vec<Diagnostic>> {
    let session = Arc::new(Session::detached(runbook.clone(), handle.clone()));
    let engine = crate::engine::build(&session, Default::default());
    let ast = crate::engine::compile(&engine, &session).map_err(|d| vec![*d])?;
    let (titles, findings) = crate::engine::static_check(&engine, &session, &ast);
    if findings.is_empty() {
        Ok(Checked {
            titles,
            env_reads: crate::engine::analysis::env_reads(&ast),
        })
    } else {
        Err(findings)
    }
}

/// Gathers diagnostics from every cluster for the namespaces the run touched, attaches them to
/// the reports, shows the start of them, and writes them to `--bundle DIR`.
fn gather_bundle(session: &Session, fleet: &Fleet, dir: Option<&std::path::Path>) {
    let namespaces: Vec<String> = {
        let st = session.state();
        let mut all: Vec<String> = st.namespaces.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        all
    };
    if namespaces.is_empty() {
        return;
    }
    let set = fleet.cluster_set();
    let bundle = session.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            crate::k8s::gather_bundle(&set, &namespaces),
        )
        .await
    });
    let Ok(bundle) = bundle else {
        session.emit(Event::Notice {
            text: "diagnostics could not be gathered within 30s".into(),
        });
        return;
    };
    if bundle.is_empty() {
        return;
    }
    let text = bundle.render_text();
    session.reporter.set_bundle(text.clone());
    // The terminal gets what explains a failure (not-ready workloads, warnings, logs); the
    // reports and the bundle directory get everything, Normal events included.
    let telling: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("Normal "))
        .collect();
    let substantive = telling.iter().any(|l| {
        let t = l.trim_start();
        !(t.starts_with("==") || t.starts_with("--") || t == "events:" || t.is_empty())
    });
    if !substantive {
        eprintln!("\ndiagnostics: no warnings and no workloads left unready in the namespaces the run touched (all events are in the reports)");
        if let Some(dir) = dir {
            let _ = std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(dir.join("diagnostics.txt"), session.redact(&text)));
        }
        return;
    }
    let shown: Vec<&str> = telling.iter().copied().take(40).collect();
    eprintln!("\ndiagnostics from the clusters (namespaces the run touched):");
    eprintln!("{}", session.redact(&shown.join("\n")));
    if text.lines().count() > shown.len() {
        eprintln!(
            "... (the full diagnostics are in the reports{})",
            if dir.is_some() {
                " and the bundle directory"
            } else {
                ""
            }
        );
    }
    if let Some(dir) = dir {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("diagnostics.txt"), session.redact(&text))?;
            let json = serde_json::to_value(&bundle).unwrap_or_default();
            let json = session.reporter.redactor().redact_json(&json);
            std::fs::write(
                dir.join("diagnostics.json"),
                serde_json::to_string_pretty(&json).unwrap_or_default(),
            )
        };
        if let Err(e) = write() {
            eprintln!("error: cannot write the bundle to `{}`: {e}", dir.display());
        }
    }
}

//! The section runner: `section`, `step`, `cleanup` and `pause` run here, with the run's
//! interactive hooks (handed in by the REPL layer, never stored in the session), and so do the
//! undos registered with `cleanup(...)` once the script has ended.

use std::sync::Arc;
use std::time::Instant;

use rhai::{
    Dynamic, Engine, EvalAltResult, EvalContext, FnPtr, ImmutableString, NativeCallContext,
    Position,
};

use super::diagnostic::plain_message as message_of;
use crate::bindings::convert::{fail, fail_with_help, RhaiResult};
use crate::bindings::Def;
use crate::report::{Event, Status};
use crate::session::Session;

/// Raised after a section failed and was reported, to stop the script without reporting twice.
#[derive(Clone, Debug)]
pub struct SectionFailed {
    pub rendered: String,
}

/// Whether an error is the stop signal of an already reported section failure.
pub fn section_failure(err: &EvalAltResult) -> Option<SectionFailed> {
    crate::bindings::convert::raised(err)
}

/// Raised to end a run from an interactive prompt (`q` at a step prompt, `:abort`): the
/// remaining sections are not run. `abort` makes the run fail; otherwise it fails only if a
/// section failed.
#[derive(Clone, Debug)]
pub struct StopRun {
    pub abort: bool,
}

/// Whether an error is a request to stop the run from a prompt.
pub fn stop_request(err: &EvalAltResult) -> Option<StopRun> {
    crate::bindings::convert::raised(err)
}

/// The error that carries a [`StopRun`].
pub fn stop_error(abort: bool) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(StopRun { abort }), Position::NONE).into()
}

/// What to do after a section failed (the REPL's `:retry`, `:skip`, `:abort`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    Retry,
    Skip,
    Abort,
}

/// What to do with a section about to start (the step prompt's answers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeforeSection {
    Run,
    Skip,
    /// End the run here (the remaining sections are not run).
    Quit,
}

/// Asked when a section fails, with the section's title, the rendered error and its body (whose
/// captured variables are the section's scope); the REPL installs one for `--pause-on-error`.
pub type FailureHook =
    dyn Fn(&NativeCallContext, &Session, &str, &str, &FnPtr) -> AfterFailure + Send + Sync;

/// Asked before a section starts, with its title and body; `--step` and `--break` install one.
pub type BeforeSectionHook =
    dyn Fn(&NativeCallContext, &Session, &str, &FnPtr) -> BeforeSection + Send + Sync;

/// Asked by `pause()` on a terminal, in the script's own scope; the REPL opens there. `false`
/// ends the run (`:abort`).
pub type PauseHook = dyn Fn(&mut EvalContext, &Session, &str) -> bool + Send + Sync;

/// Optional interactive hooks, set by the REPL layer.
#[derive(Default)]
pub struct Hooks {
    pub on_failure: Option<Box<FailureHook>>,
    pub before_section: Option<Box<BeforeSectionHook>>,
    pub pause: Option<Box<PauseHook>>,
}

impl Hooks {
    fn any(&self) -> bool {
        self.on_failure.is_some() || self.before_section.is_some() || self.pause.is_some()
    }
}

/// Makes every variable of `scope` shared (in place) and returns them, so values seen
/// elsewhere stay the script's own.
pub fn share_scope(scope: &mut rhai::Scope) -> Vec<(String, Dynamic)> {
    let mut names: Vec<String> = Vec::new();
    for (name, _, _) in scope.iter_raw() {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    let mut out = Vec::new();
    for name in names {
        let constant = scope.is_constant(&name).unwrap_or(false);
        if let Some(v) = scope.get_mut(&name) {
            if !constant && !v.is_shared() {
                *v = std::mem::take(v).into_shared();
            }
            out.push((name, v.clone()));
        }
    }
    out
}

/// Registers the functions that give a runbook its structure (`section`, `step`, `cleanup`,
/// `pause`), run by this module with the run's interactive hooks.
pub fn register(engine: &mut Engine, session: &Arc<Session>, hooks: Arc<Hooks>) {
    let (s, h) = (session.clone(), hooks.clone());
    Def::new("structure", "section", &["title: string", "body: closure", "()"])
        .doc("Runs `body` as a section of the runbook, titled after a heading of the walkthrough.\nTop level only; `--only`, `--skip` and `--from` select sections by title. A failure stops the run.")
        .example(r#"section("Deploy Bookinfo", || { cluster("cluster1").create_namespace("bookinfo"); });"#)
        .register(engine, move |ctx: NativeCallContext, title: &str, body: FnPtr| -> RhaiResult<()> { run_section(&s, &h, &ctx, title, &body, false) });
    let (s, h) = (session.clone(), hooks.clone());
    Def::new("structure", "section", &["title: string", "options: map", "body: closure", "()"])
        .doc("Runs `body` as a section with options: `always: true` runs it even after an earlier section failed (clean-up sections); `--keep` skips it.")
        .example(r#"section("Clean up", #{always: true}, || { cluster("cluster1").delete("namespace", "bookinfo"); });"#)
        .register(engine, move |ctx: NativeCallContext, title: &str, opts: rhai::Map, body: FnPtr| -> RhaiResult<()> {
            let mut always = false;
            for (k, v) in &opts {
                match k.as_str() {
                    "always" => {
                        always = v.as_bool().map_err(|_| {
                            fail(format!("section `{title}`: option `always` must be true or false"))
                        })?
                    }
                    other => {
                        return Err(fail_with_help(
                            format!("section `{title}`: unknown option `{other}`"),
                            "the only section option is `always: true`",
                        ))
                    }
                }
            }
            run_section(&s, &h, &ctx, title, &body, always)
        });
    let s = session.clone();
    Def::new("structure", "cleanup", &["undo: closure", "()"])
        .doc("Registers an undo that runs when the run ends for any reason (passed, failed, Ctrl-C, `:abort`), newest first; `--keep` skips them. Register it right after creating what it undoes.")
        .example(r#"let c = cluster("cluster1"); c.create_namespace("demo"); cleanup(|| c.delete("namespace", "demo"));"#)
        .register(engine, move |undo: FnPtr| {
            let mut st = s.state();
            let section = st.at.section.clone();
            st.undos.push(crate::session::Undo { section, body: undo });
        });
    let s = session.clone();
    Def::new(
        "structure",
        "step",
        &["title: string", "body: closure", "?"],
    )
    .doc("Runs `body` as a named step, shown with its elapsed time; returns what `body` returns.")
    .example(
        r#"let pods = step("Bookinfo pods", || cluster("cluster1").list("pods", "bookinfo"));"#,
    )
    .register(
        engine,
        move |ctx: NativeCallContext, title: &str, body: FnPtr| -> RhaiResult<Dynamic> {
            run_step(&s, &ctx, title, &body)
        },
    );
    Def::new("structure", "pause", &["message: string", "()"])
        .doc("Opens the REPL here with the script's variables in scope (`:continue` resumes); skipped, and logged, without a terminal.")
        .example(r#"pause("Look at the Kiali graph, then type :continue");"#)
        .register(engine, |_message: &str| {});
    Def::new("structure", "pause", &["()"])
        .doc("Same as `pause(message)` without a message.")
        .example(r#"pause();"#)
        .register(engine, || {});
    // On an interactive run, a break-point at every `section(...)` call (made at top level)
    // keeps the top-level variables for the REPL: a registered function cannot see them.
    // A run with a state file keeps them too, for its checkpoints, and puts values back there
    // on `--resume`.
    let records = session.state().state_file.is_some();
    if (session.interactive && hooks.any()) || records {
        let s = session.clone();
        #[allow(deprecated)] // volatile, not deprecated
        engine.register_debugger(
            |_, mut debugger| {
                debugger
                    .break_points_mut()
                    .push(rhai::debugger::BreakPoint::AtFunctionName {
                        name: "section".into(),
                        enabled: true,
                    });
                debugger
            },
            move |mut ctx, event, _node, _source, _pos| {
                if matches!(event, rhai::debugger::DebuggerEvent::BreakPoint(_))
                    && s.state().at.section.is_none()
                {
                    restore_values(&s, ctx.scope_mut());
                    let vars = share_scope(ctx.scope_mut());
                    *s.top_level.lock().unwrap_or_else(|e| e.into_inner()) = vars;
                }
                Ok(rhai::debugger::DebuggerCommand::Continue)
            },
        );
    }
    // The functions above are documentation: `pause` is parsed as a custom syntax, whose
    // implementation receives the caller's scope (a registered function cannot see it).
    let (s, h) = (session.clone(), hooks);
    engine.register_custom_syntax_with_state_raw(
        "pause",
        parse_pause,
        false,
        move |ctx: &mut EvalContext, inputs, _state| {
            let message = match inputs.first() {
                Some(e) => ctx.eval_expression_tree(e)?.to_string(),
                None => "paused".to_string(),
            };
            match h.pause.as_ref() {
                Some(hook) if s.interactive => {
                    if !hook(ctx, &s, &message) {
                        return Err(stop_error(true));
                    }
                }
                _ => s.emit(Event::Intervention {
                    kind: "pause skipped".into(),
                    detail: format!("{message} (not interactive: the run goes on)"),
                }),
            }
            Ok(Dynamic::UNIT)
        },
    );
}

/// Parses `pause()` and `pause(message)`.
fn parse_pause(
    symbols: &[ImmutableString],
    look_ahead: &str,
    _state: &mut Dynamic,
) -> Result<Option<ImmutableString>, rhai::ParseError> {
    Ok(match symbols.len() {
        // `pause()`: Rhai reads `()` as one token.
        1 if look_ahead == "()" => Some("()".into()),
        1 => Some("(".into()),
        2 if symbols[1] == "()" => None,
        2 if look_ahead == ")" => Some(")".into()),
        2 => Some("$expr$".into()),
        3 if symbols[2] != ")" => Some(")".into()),
        _ => None,
    })
}

fn run_section(
    s: &Arc<Session>,
    hooks: &Hooks,
    ctx: &NativeCallContext,
    title: &str,
    body: &FnPtr,
    always: bool,
) -> RhaiResult<()> {
    {
        let st = s.state();
        if let Some(outer) = &st.at.section {
            return Err(fail_with_help(
                format!("section `{title}` is inside section `{outer}`"),
                "sections are top-level; use `step(title, || ...)` inside a section",
            ));
        }
    }
    if s.state().resume_skip.iter().any(|t| t == title) {
        s.emit(Event::SectionFinished {
            title: title.to_string(),
            status: Status::Skipped,
            duration_ms: 0,
            error: Some("passed in the run resumed".to_string()),
        });
        s.state().sections.push((title.to_string(), Status::Passed));
        return Ok(());
    }
    let exclusion = {
        let mut st = s.state();
        let mut reached = st.from_reached;
        let r = s.filter.exclusion(title, &mut reached);
        st.from_reached = reached;
        r
    };
    let (failed_before, keep) = {
        let st = s.state();
        (st.failure.is_some(), st.keep)
    };
    if failed_before && !always && exclusion.is_none() {
        // After a failure only `always` sections run; this one is reported "not run".
        return Ok(());
    }
    let skip_reason = match exclusion {
        Some(reason) => Some(reason.to_string()),
        None if always && keep => Some("--keep".to_string()),
        None => match &hooks.before_section {
            Some(hook) if s.interactive => match hook(ctx, s, title, body) {
                BeforeSection::Run => None,
                BeforeSection::Skip => Some("skipped at the prompt".to_string()),
                BeforeSection::Quit => {
                    s.emit(Event::Stopped {
                        section: title.to_string(),
                    });
                    return Err(stop_error(false));
                }
            },
            _ => None,
        },
    };
    if let Some(reason) = skip_reason {
        s.emit(Event::SectionFinished {
            title: title.to_string(),
            status: Status::Skipped,
            duration_ms: 0,
            error: Some(reason),
        });
        s.state()
            .sections
            .push((title.to_string(), Status::Skipped));
        return Ok(());
    }
    if failed_before {
        s.state().cleaned_up = true;
    }
    snapshot_before(s, title);
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt == 1 {
            s.emit(Event::SectionStarted {
                title: title.to_string(),
            });
        }
        {
            let mut st = s.state();
            st.at.section = Some(title.to_string());
            st.at.steps.clear();
            st.failed_at = None;
        }
        let start = Instant::now();
        let result = body.call_within_context::<Dynamic>(ctx, ());
        let duration_ms = start.elapsed().as_millis() as u64;
        let failed_at = {
            let mut st = s.state();
            st.at.section = None;
            st.at.steps.clear();
            st.failed_at.take()
        };
        match result {
            Ok(_) => {
                s.emit(Event::SectionFinished {
                    title: title.to_string(),
                    status: Status::Passed,
                    duration_ms,
                    error: None,
                });
                s.state().sections.push((title.to_string(), Status::Passed));
                s.checkpoint("running");
                return Ok(());
            }
            Err(err) if section_failure(&err).is_some() => return Err(err),
            Err(err)
                if stop_request(&err).is_some()
                    || matches!(*err, EvalAltResult::ErrorTerminated(..)) =>
            {
                // Ended from inside (`:abort` at a pause, Ctrl-C): the section did not pass.
                s.emit(Event::SectionFinished {
                    title: title.to_string(),
                    status: Status::Failed,
                    duration_ms,
                    error: Some(if stop_request(&err).is_some() {
                        "the run was ended at a prompt inside this section".to_string()
                    } else {
                        "interrupted".to_string()
                    }),
                });
                s.state().sections.push((title.to_string(), Status::Failed));
                return Err(err);
            }
            Err(err) => {
                let (section, steps) = failed_at.unwrap_or((Some(title.to_string()), Vec::new()));
                let rendered = super::render_error(s, &err, section, steps);
                // Asked before the section is reported failed: a retried section is one
                // section in the report, whose earlier attempts are its history.
                let decision = match &hooks.on_failure {
                    Some(hook) if s.interactive => hook(ctx, s, title, &rendered, body),
                    _ => AfterFailure::Abort,
                };
                let report_failed = || {
                    s.emit(Event::SectionFinished {
                        title: title.to_string(),
                        status: Status::Failed,
                        duration_ms,
                        error: Some(rendered.clone()),
                    });
                    s.state().sections.push((title.to_string(), Status::Failed));
                };
                match decision {
                    AfterFailure::Retry => {
                        // The failed attempt stays in the reports, as such.
                        s.emit(Event::AttemptFailed {
                            title: title.to_string(),
                            attempt,
                            duration_ms,
                            error: rendered.clone(),
                        });
                    }
                    AfterFailure::Skip => {
                        report_failed();
                        return Ok(());
                    }
                    AfterFailure::Abort => {
                        report_failed();
                        s.checkpoint("running");
                        if !s.is_cancelled() {
                            // The run goes on to its `always` sections; the others are not run.
                            let mut st = s.state();
                            if st.failure.is_none() {
                                st.failure = Some(rendered);
                            }
                            return Ok(());
                        }
                        return Err(EvalAltResult::ErrorRuntime(
                            Dynamic::from(SectionFailed { rendered }),
                            Position::NONE,
                        )
                        .into());
                    }
                }
            }
        }
    }
}

fn run_step(
    s: &Arc<Session>,
    ctx: &NativeCallContext,
    title: &str,
    body: &FnPtr,
) -> RhaiResult<Dynamic> {
    s.emit(Event::StepStarted {
        title: title.to_string(),
    });
    s.state().at.steps.push(title.to_string());
    let start = Instant::now();
    let result = body.call_within_context::<Dynamic>(ctx, ());
    let duration_ms = start.elapsed().as_millis() as u64;
    let mut st = s.state();
    if result.is_err() && st.failed_at.is_none() {
        st.failed_at = Some((st.at.section.clone(), st.at.steps.clone()));
    }
    st.at.steps.pop();
    drop(st);
    let (status, error) = match &result {
        Ok(_) => (Status::Passed, None),
        Err(e) => (Status::Failed, Some(message_of(e))),
    };
    s.emit(Event::StepFinished {
        title: title.to_string(),
        status,
        duration_ms,
        error,
    });
    result
}

/// What running the registered undos did.
#[derive(Debug, Default)]
pub struct UndoOutcome {
    /// How many ran without error.
    pub ran: usize,
    /// How many failed (each reported as a notice).
    pub failed: usize,
    /// Not run: stopped by a second Ctrl-C, or `--keep` (newest first).
    pub left: Vec<String>,
}

/// Runs the undos registered with `cleanup(...)`, newest first, once the script has ended for
/// any reason. A Ctrl-C that ended the script does not stop them; one pressed while they run
/// does, and the ones left are returned. With `--keep` none run.
pub fn run_undos(engine: &Engine, ast: &rhai::AST, s: &Session) -> UndoOutcome {
    use std::sync::atomic::Ordering;
    let mut out = UndoOutcome::default();
    let (mut rest, keep) = {
        let mut st = s.state();
        (std::mem::take(&mut st.undos), st.keep)
    };
    if rest.is_empty() {
        return out;
    }
    if keep {
        out.left = rest
            .iter()
            .rev()
            .map(crate::session::Undo::describe)
            .collect();
        s.state().undos = rest;
        return out;
    }
    s.state().cleaned_up = true;
    let interrupted = s.cancelled.swap(false, Ordering::SeqCst);
    s.emit(Event::Notice {
        text: format!(
            "cleaning up: {} undo{} registered with cleanup(), newest first{}",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" },
            if interrupted {
                " (Ctrl-C again stops the clean-up)"
            } else {
                ""
            }
        ),
    });
    while let Some(undo) = rest.pop() {
        if s.is_cancelled() {
            rest.push(undo);
            break;
        }
        match undo.body.call::<Dynamic>(engine, ast, ()) {
            Ok(_) => out.ran += 1,
            Err(_) if s.is_cancelled() => {
                rest.push(undo);
                break;
            }
            Err(e) => {
                out.failed += 1;
                s.emit(Event::Notice {
                    text: format!("clean-up: {} failed: {}", undo.describe(), message_of(&e)),
                });
            }
        }
    }
    out.left = rest
        .iter()
        .rev()
        .map(crate::session::Undo::describe)
        .collect();
    s.state().undos = rest;
    if interrupted {
        s.cancelled.store(true, Ordering::SeqCst);
    }
    out
}

/// Puts recorded top-level values back into the script's scope (`--resume`, `--from` on
/// simulated clusters): each the first time the script reaches a section call with it in scope.
fn restore_values(s: &Session, scope: &mut rhai::Scope) {
    let pending: Vec<(String, serde_json::Value)> = {
        let st = s.state();
        if st.restore_vars.is_empty() {
            return;
        }
        st.restore_vars
            .iter()
            .filter(|(name, _)| scope.contains(name) && !scope.is_constant(name).unwrap_or(true))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    };
    for (name, json) in pending {
        s.state().restore_vars.remove(&name);
        let Some(value) = s.restored_value(&json) else {
            s.emit(Event::Notice {
                text: format!(
                    "`{name}` holds a secret that was not recorded: it keeps the value the script gives it"
                ),
            });
            continue;
        };
        if let Some(v) = scope.get_mut(&name) {
            if v.is_shared() {
                if let Some(mut guard) = v.write_lock::<Dynamic>() {
                    *guard = value;
                }
            } else {
                *v = value;
            }
        }
    }
}

/// On simulated clusters of the run's own process, keeps every cluster's objects and the
/// top-level values as they are before a section, so `--resume` and `--from` can start there.
fn snapshot_before(s: &Session, title: &str) {
    let Some(state_file) = s.state().state_file.clone() else {
        return;
    };
    let mut clusters = s.fleet.sim_snapshot();
    if clusters.is_empty() {
        return;
    }
    // Secrets never reach a file in clear: a secret's data is masked in the snapshot too.
    // Objects no write replaced since the last section keep their redacted copy.
    let redactor = s.reporter.redactor();
    let mut redacted = std::mem::take(&mut s.state().snapshot_redactions);
    redacted.redact(&mut clusters, redactor);
    s.state().snapshot_redactions = redacted;
    let boundary = crate::checkpoint::Boundary {
        section: title.to_string(),
        runbook_hash: crate::checkpoint::content_hash(&s.runbook.source),
        variables: s.variables_json(),
        clusters,
    };
    let path = crate::checkpoint::boundary_path(&state_file, title);
    if let Err(e) = crate::checkpoint::save_boundary(&path, &boundary) {
        s.emit(Event::Notice { text: e.into() });
    }
}

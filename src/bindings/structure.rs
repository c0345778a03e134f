//! Runbook structure and output: `section`, `step`, `say`, `expect`, `sleep`, `open`, `pause`.

use std::sync::Arc;
use std::time::Instant;

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position};

use super::convert::{duration, fail, RhaiResult};
use super::define;
use crate::report::{CheckStatus, Event, Status};
use crate::session::Session;

/// Raised after a section failed and was reported, to stop the script without reporting twice.
#[derive(Clone, Debug)]
pub struct SectionFailed {
    pub rendered: String,
}

/// Whether an error is the stop signal of an already reported section failure.
pub fn section_failure(err: &EvalAltResult) -> Option<SectionFailed> {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => v.clone().try_cast::<SectionFailed>(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => section_failure(inner),
        _ => None,
    }
}

/// What to do after a section failed (the REPL's `:retry`, `:skip`, `:abort`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    Retry,
    Skip,
    Abort,
}

/// Asked when a section fails; the REPL installs one for `--pause-on-error`.
pub type FailureHook = dyn Fn(&Session, &str, &str) -> AfterFailure + Send + Sync;

/// Asked before a section starts; `--step` and `--break` install one. `false` skips it.
pub type BeforeSectionHook = dyn Fn(&Session, &str) -> bool + Send + Sync;

/// Asked by `pause()` on a terminal; the REPL opens in the script's scope.
pub type PauseHook = dyn Fn(&NativeCallContext, &Session, &str) + Send + Sync;

/// Optional interactive hooks, set by the REPL layer.
#[derive(Default)]
pub struct Hooks {
    pub on_failure: Option<Box<FailureHook>>,
    pub before_section: Option<Box<BeforeSectionHook>>,
    pub pause: Option<Box<PauseHook>>,
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    define(
        engine,
        "structure",
        "section",
        &["title: string", "body: closure", "()"],
        "Runs `body` as a section of the runbook, titled after a heading of the walkthrough.\nTop level only; `--only`, `--skip` and `--from` select sections by title. A failure stops the run.",
        move |ctx: NativeCallContext, title: &str, body: FnPtr| -> RhaiResult<()> { run_section(&s, &ctx, title, &body) },
    );
    let s = session.clone();
    define(
        engine,
        "structure",
        "step",
        &["title: string", "body: closure", "?"],
        "Runs `body` as a named step, shown with its elapsed time; returns what `body` returns.",
        move |ctx: NativeCallContext, title: &str, body: FnPtr| -> RhaiResult<Dynamic> {
            run_step(&s, &ctx, title, &body)
        },
    );
    let s = session.clone();
    define(
        engine,
        "structure",
        "say",
        &["text: ?", "()"],
        "Prints a line of the transcript (secrets are masked).",
        move |text: Dynamic| {
            s.emit(Event::Say {
                text: text.to_string(),
            });
        },
    );
    let s = session.clone();
    define(
        engine,
        "structure",
        "expect",
        &["condition: bool", "message: string", "()"],
        "Fails the current step with `message` unless `condition` is true; counted as a check.",
        move |cond: bool, message: &str| -> RhaiResult<()> {
            if cond {
                s.emit(Event::Check {
                    name: message.to_string(),
                    status: CheckStatus::Passed,
                    evidence: "expectation held".into(),
                });
                Ok(())
            } else {
                s.emit(Event::Check {
                    name: message.to_string(),
                    status: CheckStatus::Failed,
                    evidence: "expectation did not hold".into(),
                });
                Err(fail(format!("expectation failed: {message}")))
            }
        },
    );
    let s = session.clone();
    define(
        engine,
        "structure",
        "sleep",
        &["duration: string|int", "()"],
        "Waits for a duration such as \"2s\" or \"500ms\" (prefer the wait_* functions, which watch).",
        move |d: Dynamic| -> RhaiResult<()> {
            let d = duration(&d)?;
            s.sleep(d);
            Ok(())
        },
    );
    let s = session.clone();
    define(
        engine,
        "structure",
        "open",
        &["url: string", "()"],
        "Shows a URL to open in a browser (opened for you only with MESHBOOK_OPEN=1 on a terminal).",
        move |url: &str| {
            s.emit(Event::Say { text: format!("open {url}") });
            if s.interactive && std::env::var("MESHBOOK_OPEN").is_ok_and(|v| v == "1") {
                let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
                let _ = std::process::Command::new(opener)
                    .arg(url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
        },
    );
    let s = session.clone();
    let pause = move |ctx: NativeCallContext, message: &str| match s.hooks.pause.as_ref() {
        Some(hook) if s.interactive => hook(&ctx, &s, message),
        _ => s.emit(Event::Intervention {
            kind: "pause skipped".into(),
            detail: format!("{message} (not interactive: the run goes on)"),
        }),
    };
    let p = pause.clone();
    define(
        engine,
        "structure",
        "pause",
        &["message: string", "()"],
        "Opens the REPL here with the script's variables in scope (`:continue` resumes); skipped, and logged, without a terminal.",
        move |ctx: NativeCallContext, message: &str| p(ctx, message),
    );
    define(
        engine,
        "structure",
        "pause",
        &["()"],
        "Same as `pause(message)` without a message.",
        move |ctx: NativeCallContext| pause(ctx, "paused"),
    );
}

fn run_section(
    s: &Arc<Session>,
    ctx: &NativeCallContext,
    title: &str,
    body: &FnPtr,
) -> RhaiResult<()> {
    {
        let st = s.state();
        if let Some(outer) = &st.at.section {
            return Err(fail(format!(
                "section `{title}` is inside section `{outer}`\nhelp: sections are top-level; use `step(title, || ...)` inside a section"
            )));
        }
    }
    let exclusion = {
        let mut st = s.state();
        let mut reached = st.from_reached;
        let r = s.filter.exclusion(title, &mut reached);
        st.from_reached = reached;
        r
    };
    let hooks = &s.hooks;
    let skip_reason = match exclusion {
        Some(reason) => Some(reason.to_string()),
        None => match &hooks.before_section {
            Some(hook) if !hook(s, title) => Some("skipped at the prompt".to_string()),
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
    loop {
        s.emit(Event::SectionStarted {
            title: title.to_string(),
        });
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
                return Ok(());
            }
            Err(err)
                if section_failure(&err).is_some()
                    || matches!(*err, EvalAltResult::ErrorTerminated(..)) =>
            {
                return Err(err);
            }
            Err(err) => {
                let (section, steps) = failed_at.unwrap_or((Some(title.to_string()), Vec::new()));
                let rendered = crate::engine::render_error(s, &err, section, steps);
                s.emit(Event::SectionFinished {
                    title: title.to_string(),
                    status: Status::Failed,
                    duration_ms,
                    error: Some(rendered.clone()),
                });
                let decision = match &hooks.on_failure {
                    Some(hook) if s.interactive => hook(s, title, &rendered),
                    _ => AfterFailure::Abort,
                };
                match decision {
                    AfterFailure::Retry => continue,
                    AfterFailure::Skip => {
                        s.state().sections.push((title.to_string(), Status::Failed));
                        return Ok(());
                    }
                    AfterFailure::Abort => {
                        s.state().sections.push((title.to_string(), Status::Failed));
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
        Err(e) => (Status::Failed, Some(super::convert::message_of(e))),
    };
    s.emit(Event::StepFinished {
        title: title.to_string(),
        status,
        duration_ms,
        error,
    });
    result
}

//! The interactive hooks `meshbook run` installs: the step prompt before sections (`--step`,
//! `--break`), the REPL at a failure (`--pause-on-error`) and at `pause()`. Each decision is an
//! `Event::Intervention` in the report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rhai::{Engine, EvalContext, FnPtr, NativeCallContext, Scope};

use super::commands::{parse_step, StepAnswer, STEP_KEYS};
use super::console::ask;
use super::{Mode, Outcome, Program, Repl};
use crate::engine::runner::{share_scope, AfterFailure, BeforeSection, Hooks};
use crate::report::Event;
use crate::session::Session;

/// The interactive flags of `meshbook run`.
#[derive(Clone, Debug, Default)]
pub struct StepOptions {
    /// Ask before every section.
    pub step: bool,
    /// Ask before these sections (exact titles).
    pub breaks: Vec<String>,
    /// Open the REPL when a section fails.
    pub pause_on_error: bool,
}

impl StepOptions {
    /// Whether any flag needs a person at a terminal.
    pub fn waits_for_input(&self) -> bool {
        self.step || !self.breaks.is_empty() || self.pause_on_error
    }
}

struct State {
    opts: StepOptions,
    stepping: AtomicBool,
    program: OnceLock<Program>,
}

impl State {
    /// The runbook's program, compiled once with the run's engine.
    fn program(&self, engine: &Engine, session: &Session) -> &Program {
        self.program
            .get_or_init(|| match crate::engine::compile(engine, session) {
                Ok(ast) => Program::new(&session.runbook.source, ast),
                Err(_) => Program::empty(),
            })
    }
}

/// Opens the REPL in a section's scope (before it, or after it failed).
fn section_repl(
    st: &State,
    ctx: &NativeCallContext,
    session: &Session,
    body: &FnPtr,
    mode: Mode,
) -> super::Transcript {
    let program = st.program(ctx.engine(), session);
    let mut scope = section_scope(session, program, body);
    let repl = Repl {
        engine: ctx.engine(),
        session,
        program,
    };
    repl.run(&mut scope, mode)
}

/// The REPL's scope at a section: the runbook's top-level variables, then what the section's
/// body captured. All shared with the script: changes made in the REPL are the script's.
fn section_scope(session: &Session, program: &Program, body: &FnPtr) -> Scope<'static> {
    let mut scope = Scope::new();
    for (name, value) in session.top_level() {
        scope.push_dynamic(name, value);
    }
    for (name, _, value) in program.captured_scope(body).iter_raw() {
        if !scope.contains(name) {
            scope.push_dynamic(name.to_string(), value.clone());
        }
    }
    scope
}

fn intervention(session: &Session, kind: &str, detail: String) {
    session.emit(Event::Intervention {
        kind: kind.into(),
        detail,
    });
}

fn say(session: &Session, text: &str) {
    let text = session.redact(text);
    session.reporter.suspend(|| println!("{text}"));
}

/// The hooks for a run. `pause()` always opens the REPL when the run is interactive.
pub fn install(opts: StepOptions) -> Hooks {
    let state = Arc::new(State {
        stepping: AtomicBool::new(opts.step),
        opts,
        program: OnceLock::new(),
    });
    let mut hooks = Hooks::default();
    if state.opts.step || !state.opts.breaks.is_empty() {
        let st = state.clone();
        hooks.before_section = Some(Box::new(
            move |ctx: &NativeCallContext, session: &Session, title: &str, body: &FnPtr| {
                before_section(&st, ctx, session, title, body)
            },
        ));
    }
    if state.opts.pause_on_error {
        let st = state.clone();
        hooks.on_failure = Some(Box::new(
            move |ctx: &NativeCallContext,
                  session: &Session,
                  title: &str,
                  rendered: &str,
                  body: &FnPtr| {
                on_failure(&st, ctx, session, title, rendered, body)
            },
        ));
    }
    let st = state;
    hooks.pause = Some(Box::new(
        move |ctx: &mut EvalContext, session: &Session, message: &str| {
            pause(&st, ctx, session, message)
        },
    ));
    hooks
}

fn before_section(
    st: &State,
    ctx: &NativeCallContext,
    session: &Session,
    title: &str,
    body: &FnPtr,
) -> BeforeSection {
    let stepping = st.stepping.load(Ordering::Relaxed);
    if !stepping && !st.opts.breaks.iter().any(|b| b == title) {
        return BeforeSection::Run;
    }
    let prompt = format!("\n▶ next: {title}  [{STEP_KEYS}] › ");
    loop {
        let Some(answer) = ask(session, &prompt) else {
            intervention(
                session,
                "step",
                format!("input closed before `{title}`: quit"),
            );
            return BeforeSection::Quit;
        };
        match parse_step(&answer) {
            Some(StepAnswer::Run) => {
                intervention(session, "step", format!("run `{title}`"));
                return BeforeSection::Run;
            }
            Some(StepAnswer::Skip) => {
                intervention(session, "step", format!("skip `{title}`"));
                return BeforeSection::Skip;
            }
            Some(StepAnswer::Continue) => {
                st.stepping.store(false, Ordering::Relaxed);
                intervention(
                    session,
                    "step",
                    format!("continue without stepping from `{title}`"),
                );
                return BeforeSection::Run;
            }
            Some(StepAnswer::Quit) => {
                intervention(session, "step", format!("quit before `{title}`"));
                return BeforeSection::Quit;
            }
            Some(StepAnswer::Repl) => {
                say(
                    session,
                    &format!("REPL before `{title}`, with its variables in scope: :continue comes back here, :skip skips it"),
                );
                let t = section_repl(st, ctx, session, body, Mode::Step);
                intervention(
                    session,
                    "repl",
                    format!("before `{title}`: {} ({})", t.summary(), t.outcome.as_str()),
                );
                match t.outcome {
                    Outcome::Continue | Outcome::Retry => {}
                    Outcome::Skip => return BeforeSection::Skip,
                    Outcome::Abort | Outcome::Quit => return BeforeSection::Quit,
                }
            }
            None => say(session, &format!("answer with: {STEP_KEYS}")),
        }
    }
}

fn on_failure(
    st: &State,
    ctx: &NativeCallContext,
    session: &Session,
    title: &str,
    rendered: &str,
    body: &FnPtr,
) -> AfterFailure {
    let text = session.redact(rendered.trim_end());
    session.reporter.suspend(|| eprintln!("\n{text}"));
    say(
        session,
        &format!("`{title}` failed. The REPL is open with its variables in scope: :retry runs it again, :skip moves on, :abort ends the run"),
    );
    let t = section_repl(st, ctx, session, body, Mode::Failure);
    let decision = match t.outcome {
        Outcome::Retry => AfterFailure::Retry,
        Outcome::Skip | Outcome::Continue => AfterFailure::Skip,
        Outcome::Abort | Outcome::Quit => AfterFailure::Abort,
    };
    intervention(
        session,
        "pause on error",
        format!("`{title}` failed: {} ({})", t.summary(), t.outcome.as_str()),
    );
    decision
}

fn pause(st: &State, ctx: &mut EvalContext, session: &Session, message: &str) -> bool {
    let where_ = {
        let at = &session.state().at;
        match &at.section {
            Some(s) => format!(" in `{s}`"),
            None => String::new(),
        }
    };
    say(
        session,
        &format!("⏸ {message}\n(paused{where_}: the script's variables are in scope; :continue resumes, :abort ends the run)"),
    );
    let engine = ctx.engine();
    let program = st.program(engine, session);
    let repl = Repl {
        engine,
        session,
        program,
    };
    // The top-level variables, then the script's own scope at the pause (made shared, so what
    // the person changes is what the script sees when it goes on; new `let`s stay here).
    let live = share_scope(ctx.scope_mut());
    let mut scope = Scope::new();
    for (name, value) in session.top_level() {
        if !live.iter().any(|(n, _)| *n == name) {
            scope.push_dynamic(name, value);
        }
    }
    for (name, value) in live {
        scope.push_dynamic(name, value);
    }
    let t = repl.run(&mut scope, Mode::Pause);
    intervention(
        session,
        "pause",
        format!(
            "{message}{where_}: {} ({})",
            t.summary(),
            t.outcome.as_str()
        ),
    );
    !matches!(t.outcome, Outcome::Abort | Outcome::Quit)
}

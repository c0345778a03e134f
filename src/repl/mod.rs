//! The REPL: Rhai evaluated in a runbook's own scope, with its clusters, modules and functions
//! live. Used by `meshbook repl`, and by `meshbook run` at pauses, step prompts
//! (`--step`, `--break`) and failures (`--pause-on-error`).
//!
//! Each line is compiled against the current scope and evaluated after a prelude of the
//! runbook's imports and functions; new `let`s stay in the scope. Lines starting with `:` are
//! meta-commands ([`commands`]).

pub mod commands;
pub mod complete;
pub mod console;
pub mod hooks;
pub mod input;
mod meta;
pub mod program;
pub mod render;

use rhai::{Dynamic, Engine, Scope};

use crate::engine::diagnostic::{Diagnostic, Sources};
use crate::engine::runner::{section_failure, stop_request};
use crate::problem::Problem;
use crate::session::Session;
use complete::Vocabulary;
use console::{Console, Read};
pub use program::Program;

/// Why the REPL is open; decides what `:continue`, `:retry`, `:skip`, `:abort` mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `meshbook repl`: nothing to resume.
    Session,
    /// `pause()` in a script.
    Pause,
    /// `r` at a step prompt: `:continue` goes back to the prompt.
    Step,
    /// A section failed under `--pause-on-error`.
    Failure,
}

/// How the person left the REPL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Retry,
    Skip,
    Abort,
    Quit,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Continue => "continue",
            Outcome::Retry => "retry",
            Outcome::Skip => "skip",
            Outcome::Abort => "abort",
            Outcome::Quit => "quit",
        }
    }
}

/// What happened in one REPL session (for the report's intervention event).
pub struct Transcript {
    pub outcome: Outcome,
    pub lines: Vec<String>,
}

impl Transcript {
    /// `N lines: a; b; c` (the first few), or `no input`.
    pub fn summary(&self) -> String {
        if self.lines.is_empty() {
            return "no input".into();
        }
        let shown: Vec<String> = self
            .lines
            .iter()
            .take(8)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let more = if self.lines.len() > shown.len() {
            format!("; ... ({} more)", self.lines.len() - shown.len())
        } else {
            String::new()
        };
        format!("{}{more}", shown.join("; "))
    }
}

/// A REPL bound to an engine, a session and the runbook's program.
pub struct Repl<'a> {
    pub engine: &'a Engine,
    pub session: &'a Session,
    pub program: &'a Program,
}

impl Repl<'_> {
    /// What completion knows (the scope's variables are refreshed before each prompt).
    fn vocabulary(&self) -> Vocabulary {
        let docs = crate::engine::docs::functions(self.engine);
        let mut functions: Vec<String> = docs.iter().map(|d| d.name.clone()).collect();
        functions.extend(self.program.functions().into_iter().map(|(n, _)| n));
        functions.sort();
        functions.dedup();
        let mut methods: Vec<String> = docs
            .iter()
            .filter(|d| {
                d.signature.starts_with("handle.")
                    || d.signature
                        .starts_with(&format!("{}(cluster: Cluster", d.name))
            })
            .map(|d| d.name.clone())
            .collect();
        methods.sort();
        methods.dedup();
        Vocabulary {
            functions,
            methods,
            variables: Vec::new(),
            clusters: self.session.fleet.names(),
            sections: self.program.titles.clone(),
        }
    }

    /// Reads and evaluates lines until the person leaves, with an editor per entry (a REPL
    /// opened inside a run).
    pub fn run(&self, scope: &mut Scope, mode: Mode) -> Transcript {
        let console = Console::open(self.vocabulary());
        self.run_with(console, scope, mode)
    }

    /// The same on a console opened beforehand (`meshbook repl`: one editor for the session).
    pub fn run_on(&self, mut console: Console, scope: &mut Scope, mode: Mode) -> Transcript {
        console.set_vocabulary(self.vocabulary());
        self.run_with(Ok(console), scope, mode)
    }

    fn run_with(
        &self,
        console: Result<Console, Problem>,
        scope: &mut Scope,
        mode: Mode,
    ) -> Transcript {
        let mut lines = Vec::new();
        let mut console = match console {
            Ok(c) => c,
            Err(e) => {
                self.err(&format!("error: {e}"));
                let outcome = match mode {
                    Mode::Session => Outcome::Quit,
                    Mode::Failure => Outcome::Abort,
                    Mode::Pause | Mode::Step => Outcome::Continue,
                };
                return Transcript { outcome, lines };
            }
        };
        let prompt = match mode {
            Mode::Session => "meshbook> ",
            Mode::Pause | Mode::Step => "paused> ",
            Mode::Failure => "failed> ",
        };
        loop {
            if let Some(v) = console.vocabulary_mut() {
                let mut vars: Vec<String> = scope.iter().map(|(n, _, _)| n.to_string()).collect();
                vars.sort();
                vars.dedup();
                v.variables = vars;
            }
            let line = match console.read(self.session, prompt) {
                Read::Line(l) => l,
                Read::Interrupted => {
                    self.out("(input dropped; :help lists the commands)");
                    continue;
                }
                Read::End => {
                    let outcome = match mode {
                        Mode::Session => Outcome::Quit,
                        Mode::Failure => Outcome::Abort,
                        Mode::Pause | Mode::Step => Outcome::Continue,
                    };
                    return Transcript { outcome, lines };
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let line = match commands::trailing_command(&line) {
                Some(cmd) => {
                    self.out("(the unfinished input before it was dropped)");
                    cmd.to_string()
                }
                None => line,
            };
            lines.push(self.session.redact(line.trim()));
            if mode == Mode::Session {
                // A Ctrl-C stopped the previous line, not the session.
                self.session
                    .cancelled
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
            let ended = match commands::parse(&line) {
                Some(Ok(meta)) => self.meta(scope, meta, mode),
                Some(Err(message)) => {
                    self.err(&format!("error: {message}"));
                    None
                }
                None => self.eval(scope, &line),
            };
            // Remembered after it ran: a secret the line registered is masked in it too.
            console.remember(self.session, &line);
            if let Some(outcome) = ended {
                return Transcript { outcome, lines };
            }
        }
    }

    fn out(&self, text: &str) {
        let text = self.session.redact(text);
        self.session.reporter.suspend(|| println!("{text}"));
    }

    fn err(&self, text: &str) {
        let text = self.session.redact(text.trim_end());
        self.session.reporter.suspend(|| eprintln!("{text}"));
    }

    /// Evaluates Rhai and shows the result or the error. `Some` when the line ended the run
    /// (an `:abort` in a nested pause).
    pub fn eval(&self, scope: &mut Scope, src: &str) -> Option<Outcome> {
        self.eval_shown(scope, src, false)
    }

    /// Evaluates Rhai and shows the result, whole when `full` (`:full`).
    pub fn eval_shown(&self, scope: &mut Scope, src: &str, full: bool) -> Option<Outcome> {
        let sources = Sources {
            main_name: "<repl>",
            main_text: src,
        };
        let line = match self.engine.compile_with_scope(scope, src) {
            Ok(ast) => ast,
            Err(e) => {
                let mut d = Diagnostic::from_parse(&e, "<repl>", &sources);
                d.help = None;
                self.err(&d.to_string());
                return None;
            }
        };
        let ast = self.program.with_line(&line);
        match self.engine.eval_ast_with_scope::<Dynamic>(scope, &ast) {
            Ok(value) => {
                if let Some(text) = render::show_as(&value, full) {
                    self.out(&text);
                }
                None
            }
            Err(err) => {
                if let Some(stop) = stop_request(&err) {
                    return Some(if stop.abort {
                        Outcome::Abort
                    } else {
                        Outcome::Quit
                    });
                }
                if let Some(failed) = section_failure(&err) {
                    self.err(&failed.rendered);
                } else {
                    self.err(&Diagnostic::from_eval(&err, &sources).to_string());
                }
                None
            }
        }
    }
}

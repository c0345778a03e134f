//! The terminal side: a rustyline editor with completion, multi-line input and a history kept
//! in the user's state directory, redacted: every entry is masked with the run's secrets each
//! time the file is written (an entry is added once it was evaluated, so a secret the entry
//! itself registered is masked in it too). Reads happen with the reporter's spinner hidden.

use std::borrow::Cow;
use std::path::PathBuf;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{FileHistory, History};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Context, Editor};

use super::complete::{complete, Vocabulary};
use super::input::is_incomplete;
use crate::problem::Problem;
use crate::session::Session;

/// Completion and multi-line input for rustyline.
pub struct Helper {
    pub vocabulary: Vocabulary,
}

impl Completer for Helper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(complete(line, pos, &self.vocabulary))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for Helper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl rustyline::Helper for Helper {}

/// Where the REPL history lives: `$XDG_STATE_HOME/meshbook/history` (or the platform's state
/// or local data directory).
pub fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::state_dir)
        .or_else(dirs::data_local_dir)?;
    Some(base.join("meshbook").join("history"))
}

/// What a read returned.
pub enum Read {
    Line(String),
    /// Ctrl-C: the line was dropped.
    Interrupted,
    /// Ctrl-D or the end of input.
    End,
}

/// One REPL's input.
///
/// `meshbook repl` keeps one editor for the whole session ([`Console::for_session`]): what a
/// person types or pastes while a line runs is read ahead and kept for the next prompts. That
/// editor is opened before Ctrl-C is watched, so the run's SIGINT handler (tokio's) is installed
/// over rustyline's and chains to it: Ctrl-C while a line runs stops the line, and drops what was
/// typed after it.
///
/// A REPL opened inside a run (`pause()`, a step prompt, a failure) comes after the run's
/// handler, so it makes an editor per entry and drops it before the entry is evaluated:
/// rustyline holds SIGINT while an editor exists, and Ctrl-C must reach the run then.
pub struct Console {
    editor: Option<Editor<Helper, FileHistory>>,
    vocabulary: Vocabulary,
    history: Option<PathBuf>,
    keep: bool,
}

impl Console {
    /// An editor per entry (a REPL inside a run).
    pub fn open(vocabulary: Vocabulary) -> Result<Console, Problem> {
        let _check = editor(Vocabulary::default(), None)?;
        Ok(Console {
            editor: None,
            vocabulary,
            history: history_path(),
            keep: false,
        })
    }

    /// One editor for the whole session (`meshbook repl`): open it before Ctrl-C is watched.
    pub fn for_session() -> Result<Console, Problem> {
        let history = history_path();
        Ok(Console {
            editor: Some(editor(Vocabulary::default(), history.as_deref())?),
            vocabulary: Vocabulary::default(),
            history,
            keep: true,
        })
    }

    /// What completion knows; set before each prompt.
    pub fn set_vocabulary(&mut self, vocabulary: Vocabulary) {
        if let Some(h) = self.editor.as_mut().and_then(|e| e.helper_mut()) {
            h.vocabulary = vocabulary.clone();
        }
        self.vocabulary = vocabulary;
    }

    pub fn vocabulary_mut(&mut self) -> Option<&mut Vocabulary> {
        Some(&mut self.vocabulary)
    }

    /// Reads one (possibly multi-line) entry with the spinner hidden. The caller adds it to
    /// the history with [`Console::remember`] once it was evaluated.
    pub fn read(&mut self, session: &Session, prompt: &str) -> Read {
        let vocabulary = self.vocabulary.clone();
        let mut editor = match self.editor.take() {
            Some(mut e) => {
                if let Some(h) = e.helper_mut() {
                    h.vocabulary = vocabulary;
                }
                e
            }
            None => match editor(vocabulary, self.history.as_deref()) {
                Ok(e) => e,
                Err(_) => return Read::End,
            },
        };
        let read = session.reporter.suspend(|| editor.readline(prompt));
        let result = match read {
            Ok(line) => {
                echo_when_piped(session, prompt, &line);
                Read::Line(line)
            }
            Err(ReadlineError::Interrupted) => Read::Interrupted,
            Err(_) => Read::End,
        };
        if self.keep {
            self.editor = Some(editor);
        }
        result
    }

    /// Adds an entry to the history file and rewrites the file with every entry redacted by
    /// the run's current secrets (older entries included).
    pub fn remember(&self, session: &Session, line: &str) {
        let Some(path) = &self.history else {
            return;
        };
        if line.trim().is_empty() {
            return;
        }
        let mut history = FileHistory::with_config(&config());
        let _ = history.load(path);
        let mut entries: Vec<String> = history.iter().map(|e| session.redact(e)).collect();
        entries.push(session.redact(line));
        let _ = history.clear();
        for entry in &entries {
            let _ = history.add(entry);
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = history.save(path);
    }
}

fn config() -> Config {
    Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(2000)
        .unwrap_or_else(|_| Config::builder())
        .build()
}

fn editor(
    vocabulary: Vocabulary,
    history: Option<&std::path::Path>,
) -> Result<Editor<Helper, FileHistory>, Problem> {
    let mut editor: Editor<Helper, FileHistory> =
        Editor::with_config(config()).map_err(|e| format!("cannot open the terminal: {e}"))?;
    editor.set_helper(Some(Helper { vocabulary }));
    if let Some(path) = history {
        let _ = editor.load_history(path);
    }
    Ok(editor)
}

/// Asks a one-line question (the step prompt) without completion or history.
pub fn ask(session: &Session, prompt: &str) -> Option<String> {
    let mut editor = rustyline::DefaultEditor::new().ok()?;
    let answer = session.reporter.suspend(|| editor.readline(prompt)).ok()?;
    echo_when_piped(session, prompt, &answer);
    Some(answer)
}

/// Without a terminal (`--interactive` reading a pipe) rustyline shows no prompt: the prompt
/// and the answer are printed, so the output reads as a transcript.
fn echo_when_piped(session: &Session, prompt: &str, line: &str) {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let text = session.redact(&format!("{}{line}", prompt.trim_start_matches('\n')));
        session.reporter.suspend(|| println!("{text}"));
    }
}

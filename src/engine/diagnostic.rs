//! User-facing errors: one paragraph with the message, the runbook file and line, the source
//! line with a caret, the section and step, and what to do. Never a Rust type name or backtrace.

use std::fmt;

use rhai::{EvalAltResult, ParseError, Position};

use crate::assets::Tree;
use crate::bindings::convert::script_error;

/// A place in a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub source_line: Option<String>,
}

/// A rendered error.
#[derive(Clone, Debug, Default)]
pub struct Diagnostic {
    pub message: String,
    pub help: Option<String>,
    pub location: Option<Location>,
    /// Further places, innermost last: stdlib functions the error passed through.
    pub trace: Vec<(String, Location)>,
    pub section: Option<String>,
    pub steps: Vec<String>,
}

/// Resolves a script's text by the name it was compiled under.
pub struct Sources<'a> {
    pub main_name: &'a str,
    pub main_text: &'a str,
}

impl Sources<'_> {
    fn text(&self, name: &str) -> Option<String> {
        if name.is_empty() || name == self.main_name {
            return Some(self.main_text.to_string());
        }
        if let Some(rel) = name.strip_prefix("stdlib/") {
            return Tree::Stdlib.read(rel).map(|c| c.into_owned());
        }
        std::fs::read_to_string(name).ok()
    }

    pub fn locate(&self, name: &str, pos: Position) -> Option<Location> {
        let line = pos.line()?;
        let column = pos.position().unwrap_or(1);
        let file = if name.is_empty() {
            self.main_name
        } else {
            name
        };
        let source_line = self
            .text(file)
            .and_then(|t| t.lines().nth(line - 1).map(|l| l.to_string()));
        Some(Location {
            file: file.to_string(),
            line,
            column,
            source_line,
        })
    }
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            ..Default::default()
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// From a parse error of the runbook (or a module).
    pub fn from_parse(err: &ParseError, file: &str, sources: &Sources) -> Self {
        let mut d = Diagnostic::new(format!("syntax error: {}", err.err_type()));
        d.location = sources.locate(file, err.position());
        d.help = Some("fix the script, then `meshbook check` it before running".into());
        d
    }

    /// From a script error, unwrapping the chain of function calls.
    pub fn from_eval(err: &EvalAltResult, sources: &Sources) -> Self {
        // Walk inwards: each frame's call position lies in the caller's source.
        let mut places: Vec<(String, String, Position)> = Vec::new(); // (function, source of position, pos)
        let mut current_source = String::new();
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                    places.push((name.clone(), current_source.clone(), *pos));
                    if !src.is_empty() {
                        current_source = src.clone();
                    }
                    e = inner;
                }
                EvalAltResult::ErrorInModule(path, inner, pos) => {
                    places.push((format!("import \"{path}\""), current_source.clone(), *pos));
                    current_source = format!("stdlib/{path}.rhai");
                    e = inner;
                }
                _ => break,
            }
        }
        let innermost = (String::new(), current_source.clone(), e.position());
        let (message, help) = explained(e);
        let mut d = Diagnostic {
            message,
            help: help.or_else(|| default_help(e)),
            ..Default::default()
        };
        // The primary location is the innermost place in the runbook itself.
        let in_main = |src: &str| src.is_empty() || src == sources.main_name;
        let all: Vec<&(String, String, Position)> =
            places.iter().chain(std::iter::once(&innermost)).collect();
        if let Some(p) = all.iter().rev().find(|p| in_main(&p.1) && !p.2.is_none()) {
            d.location = sources.locate(&p.1, p.2);
        }
        // Places inside library code (stdlib modules), innermost last.
        let mut in_lib = false;
        for (i, p) in all.iter().enumerate() {
            if !in_main(&p.1) && !p.2.is_none() {
                in_lib = true;
                let func = all
                    .get(i.wrapping_sub(1))
                    .map(|q| q.0.clone())
                    .unwrap_or_default();
                if let Some(loc) = sources.locate(&p.1, p.2) {
                    d.trace.push((func, loc));
                }
            }
        }
        if d.location.is_none() && !in_lib {
            d.location = sources.locate(&innermost.1, innermost.2);
        }
        // A property read on `()`: say what was absent and where it came from.
        if let EvalAltResult::ErrorDotExpr(text, pos) = e {
            let file = if innermost.1.is_empty() {
                sources.main_name.to_string()
            } else {
                innermost.1.clone()
            };
            if let (Some(loc), Some(full)) = (sources.locate(&file, *pos), sources.text(&file)) {
                if let Some((message, help)) = crate::engine::explain::unit_property(
                    text,
                    loc.source_line.as_deref().unwrap_or(""),
                    loc.column,
                    &full,
                    loc.line,
                ) {
                    d.message = message;
                    d.help = Some(help);
                }
            }
        }
        d
    }

    /// The diagnostic as data (`check --json`): message, help, file, line, column, source line.
    pub fn to_json(&self) -> serde_json::Value {
        let loc = self.location.as_ref();
        serde_json::json!({
            "message": self.message,
            "help": self.help,
            "file": loc.map(|l| l.file.clone()),
            "line": loc.map(|l| l.line),
            "column": loc.map(|l| l.column),
            "source_line": loc.and_then(|l| l.source_line.clone()),
            "section": self.section,
        })
    }

    pub fn in_section(mut self, section: Option<String>, steps: Vec<String>) -> Self {
        self.section = section;
        self.steps = steps;
        self
    }
}

/// The message of an error without positions, unwrapping calls into functions and modules.
pub fn plain_message(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => plain_message(inner),
        other => message_of(other),
    }
}

fn message_of(e: &EvalAltResult) -> String {
    explained(e).0
}

/// An error's message and, when known, what to do: a binding's own help, or the engine's
/// explanation of a call that matched no function.
fn explained(e: &EvalAltResult) -> (String, Option<String>) {
    if let Some(se) = script_error(e) {
        return (se.message, se.help);
    }
    let message = match e {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => return super::explain::no_function(sig),
        EvalAltResult::ErrorVariableNotFound(name, _) => {
            format!("no variable `{name}` is defined here")
        }
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too many operations (a runaway loop?)".to_string()
        }
        EvalAltResult::ErrorTerminated(_, _) => "the run was interrupted".to_string(),
        EvalAltResult::ErrorModuleNotFound(path, _) => format!("no module `{path}` to import"),
        other => {
            let text = other.to_string();
            // Rhai appends " (line N, position M)"; the location is shown separately.
            match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            }
        }
    };
    (message, None)
}

fn default_help(e: &EvalAltResult) -> Option<String> {
    Some(match e {
        EvalAltResult::ErrorFunctionNotFound(..) => {
            "`meshbook docs` lists every function and its arguments".into()
        }
        EvalAltResult::ErrorDotExpr(..) | EvalAltResult::ErrorIndexingType(..)
            if message_of(e).contains("'()'") || message_of(e).contains("type ()") =>
        {
            crate::engine::explain::UNIT_HELP.into()
        }
        EvalAltResult::ErrorVariableNotFound(..) => {
            "define it first with `let`; inside a stdlib function, pass it in as an argument (modules cannot see the runbook's variables)".into()
        }
        EvalAltResult::ErrorTooManyOperations(_) => {
            "look for a loop that never ends; waits should use wait_* functions, not loops".into()
        }
        EvalAltResult::ErrorModuleNotFound(..) => {
            "stdlib modules are imported by name, e.g. `import \"bookinfo\" as bookinfo;`".into()
        }
        _ => return None,
    })
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let show = |f: &mut fmt::Formatter<'_>, loc: &Location| -> fmt::Result {
            writeln!(f, "  --> {}:{}:{}", loc.file, loc.line, loc.column)?;
            if let Some(src) = &loc.source_line {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(f, " {pad} |")?;
                writeln!(f, " {num} | {src}")?;
                let caret_at: String = src
                    .chars()
                    .take(loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, " {pad} | {caret_at}^")?;
            }
            Ok(())
        };
        if let Some(loc) = &self.location {
            show(f, loc)?;
        }
        for (func, loc) in &self.trace {
            if func.is_empty() || func.starts_with("anon$") {
                writeln!(f, "  in library code:")?;
            } else {
                writeln!(f, "  in `{func}`:")?;
            }
            show(f, loc)?;
        }
        if let Some(section) = &self.section {
            let steps = if self.steps.is_empty() {
                String::new()
            } else {
                format!(
                    ", step {}",
                    self.steps
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(" > ")
                )
            };
            writeln!(f, "  = in section `{section}`{steps}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "help: {help}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_caret_section_and_help() {
        let src = "let a = 1;\nexpect(false, \"boom\");\n";
        let sources = Sources {
            main_name: "x.rhai",
            main_text: src,
        };
        let mut d = Diagnostic::new("expectation failed: boom").with_help("check the thing");
        d.location = sources.locate("", Position::new(2, 1));
        let d = d.in_section(Some("Install".into()), vec!["Wait".into()]);
        let text = d.to_string();
        assert!(
            text.starts_with("error: expectation failed: boom\n"),
            "{text}"
        );
        assert!(text.contains("  --> x.rhai:2:1\n"), "{text}");
        assert!(text.contains(" 2 | expect(false, \"boom\");\n"), "{text}");
        assert!(text.contains("   | ^\n"), "{text}");
        assert!(text.contains("in section `Install`, step `Wait`"), "{text}");
        assert!(text.ends_with("help: check the thing\n"), "{text}");
    }

    #[test]
    fn unwraps_closure_calls_to_the_runbook_line() {
        let engine = rhai::Engine::new();
        let src = "let f = || {\n  throw \"inner\";\n};\nf.call();\n";
        let mut ast = engine.compile(src).unwrap();
        ast.set_source("demo.rhai");
        let err = engine.run_ast(&ast).unwrap_err();
        let sources = Sources {
            main_name: "demo.rhai",
            main_text: src,
        };
        let d = Diagnostic::from_eval(&err, &sources);
        assert_eq!(d.message, "inner");
        assert_eq!(d.location.as_ref().map(|l| l.line), Some(2), "{d:?}");
    }
}

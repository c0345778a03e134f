//! Multi-line input: a line whose Rhai is incomplete (an open block, call, array or string)
//! continues on the next line instead of being evaluated.

use rhai::{LexError, ParseErrorType};

/// Whether `src` is Rhai that is cut short (more input would complete it). Meta-commands and
/// complete (or wrong) code are not.
pub fn is_incomplete(src: &str) -> bool {
    let trimmed = src.trim();
    if trimmed.is_empty() || trimmed.starts_with(':') {
        return false;
    }
    // A meta-command typed on a continuation line ends the entry (the REPL runs the command).
    if trimmed
        .lines()
        .last()
        .is_some_and(|l| l.trim().starts_with(':'))
    {
        return false;
    }
    let engine = rhai::Engine::new_raw();
    let Err(err) = engine.compile(src) else {
        return false;
    };
    match err.err_type() {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::BadInput(LexError::UnterminatedString) => true,
        ParseErrorType::MissingToken(..) | ParseErrorType::MissingSymbol(..) => {
            at_end(src, err.position())
        }
        _ => false,
    }
}

/// Whether a position lies after the last non-blank character of `src` (or is unknown).
fn at_end(src: &str, pos: rhai::Position) -> bool {
    let (Some(line), Some(col)) = (pos.line(), pos.position()) else {
        return pos.is_none() || pos.position().is_none();
    };
    let text = src.trim_end();
    let last_line = text.lines().count().max(1);
    let last_len = text.lines().last().map(|l| l.chars().count()).unwrap_or(0);
    line > last_line || (line == last_line && col > last_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_constructs_continue() {
        for src in [
            "section(\"A\", || {",
            "let x = [1, 2,",
            "fn f(a) {\n  a + 1",
            "let m = #{\n a: 1,",
            "c.apply(`",
            "if true {",
            "let s = \"abc",
            "foo(1,",
        ] {
            assert!(is_incomplete(src), "should continue: {src:?}");
        }
    }

    #[test]
    fn complete_or_wrong_input_is_evaluated() {
        for src in [
            "let x = 1;",
            "1 + 2",
            "section(\"A\", || { say(\"x\"); });",
            ":help",
            "",
            "let = 5;",
            "foo(1;",
            "}",
            "let y = [1,\n:quit",
        ] {
            assert!(!is_incomplete(src), "should evaluate: {src:?}");
        }
    }
}

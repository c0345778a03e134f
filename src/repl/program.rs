//! The runbook's script, cut the ways the REPL needs it: the top level without its sections
//! (what `meshbook repl RUNBOOK` loads), one section alone (`:run`), and a prelude of imports
//! and functions evaluated before each line so the runbook's modules and functions stay
//! callable.
//!
//! Cuts are made in the source text, then compiled: Rhai resolves variables to scope offsets
//! at compile time, so statements lifted out of one AST would read the wrong variables in
//! another scope. A section's text is compiled against the scope it will run in, padded so its
//! lines and columns are those of the runbook (errors point into the runbook).

use rhai::{Dynamic, Engine, Expr, FnPtr, Module, ParseError, Scope, Stmt, AST};

pub struct Program {
    source: String,
    ast: AST,
    /// The runbook's imports and functions, with no other statement.
    prelude: AST,
    /// Sections in source order: title and byte range of the whole statement.
    sections: Vec<(String, std::ops::Range<usize>)>,
    /// Section titles in source order.
    pub titles: Vec<String>,
}

/// The title and position of a top-level `section("title", ...)` statement.
fn section_call(stmt: &Stmt) -> Option<(String, rhai::Position)> {
    let (call, pos) = match stmt {
        Stmt::FnCall(call, pos) => (call, *pos),
        Stmt::Expr(expr) => match expr.as_ref() {
            Expr::FnCall(call, pos) => (call, *pos),
            _ => return None,
        },
        _ => return None,
    };
    if call.name != "section" || !call.namespace.is_empty() || !(2..=3).contains(&call.args.len()) {
        return None;
    }
    match &call.args[0] {
        Expr::StringConstant(s, _) => Some((s.to_string(), pos)),
        _ => None,
    }
}

/// The byte offset of a 1-based line and column (columns count characters).
fn offset_of(src: &str, line: usize, column: usize) -> Option<usize> {
    let mut at = 0;
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map(|(b, _)| b)?;
            return Some(at + col);
        }
        at += l.len();
    }
    None
}

/// The end of a call statement starting at `start` (`name(...)` and an optional `;`), skipping
/// strings, characters and comments.
pub fn statement_end(src: &str, start: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = start + src[start..].find('(')?;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    i += 1;
                    break;
                }
            }
            q @ (b'"' | b'`' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return None;
    }
    let rest = &src[i.min(src.len())..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    Some(if trimmed.starts_with(';') {
        src.len() - trimmed.len() + 1
    } else {
        i.min(src.len())
    })
}

/// `text` with every character outside `keep` turned into a space (newlines stay), so what is
/// kept compiles at its original line and column.
fn padded(src: &str, keep: &std::ops::Range<usize>) -> String {
    let blank = |s: &str| -> String {
        s.chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect()
    };
    format!("{}{}", blank(&src[..keep.start]), &src[keep.clone()])
}

impl Program {
    /// `source` is the runbook's text and `ast` what it compiled to.
    pub fn new(source: &str, ast: AST) -> Program {
        let imports: Vec<Stmt> = ast
            .statements()
            .iter()
            .filter(|s| matches!(s, Stmt::Import(..)))
            .cloned()
            .collect();
        let prelude = AST::new(imports, Module::new()).merge(&ast.clone_functions_only());
        let calls: Vec<(String, rhai::Position)> =
            ast.statements().iter().filter_map(section_call).collect();
        let titles = calls.iter().map(|(t, _)| t.clone()).collect();
        let sections = calls
            .into_iter()
            .filter_map(|(title, pos)| {
                let start = offset_of(source, pos.line()?, pos.position()?)?;
                let end = statement_end(source, start)?;
                Some((title, start..end))
            })
            .collect();
        Program {
            source: source.to_string(),
            ast,
            prelude,
            sections,
            titles,
        }
    }

    /// An empty program (the REPL without a runbook).
    pub fn empty() -> Program {
        Program::new("", AST::empty())
    }

    /// The runbook with its sections blanked out: imports, `let`s, functions.
    pub fn without_sections(&self, engine: &Engine) -> Result<AST, ParseError> {
        let mut text: Vec<char> = Vec::new();
        let mut last = 0;
        for (_, range) in &self.sections {
            text.extend(self.source[last..range.start].chars());
            text.extend(
                self.source[range.clone()]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            last = range.end;
        }
        text.extend(self.source[last..].chars());
        let text: String = text.into_iter().collect();
        let mut ast = engine.compile(&text)?;
        if let Some(src) = self.ast.source() {
            ast.set_source(src.to_string());
        }
        Ok(ast)
    }

    /// The prelude followed by the one `section(title, ...)` statement, compiled for `scope`.
    /// `None` when the runbook has no such section.
    pub fn section(
        &self,
        engine: &Engine,
        scope: &Scope,
        title: &str,
    ) -> Option<Result<AST, ParseError>> {
        let (_, range) = self.sections.iter().find(|(t, _)| t == title)?;
        let text = padded(&self.source, range);
        Some(
            engine
                .compile_with_scope(scope, &text)
                .map(|ast| self.prelude.merge(&ast)),
        )
    }

    /// A line typed at the prompt, preceded by the prelude.
    pub fn with_line(&self, line: &AST) -> AST {
        self.prelude.merge(line)
    }

    /// The runbook's own functions (not closures), for completion and `:help`.
    pub fn functions(&self) -> Vec<(String, Vec<String>)> {
        self.ast
            .iter_functions()
            .filter(|f| !f.name.starts_with("anon$"))
            .map(|f| {
                (
                    f.name.to_string(),
                    f.params.iter().map(|p| p.to_string()).collect(),
                )
            })
            .collect()
    }

    /// The variables a closure of the runbook captured (a section's body), bound to the very
    /// same shared values: what a person changes there, the section sees when it runs again.
    pub fn captured_scope(&self, body: &FnPtr) -> Scope<'static> {
        let mut scope = Scope::new();
        let curry = body.curry();
        if let Some(f) = self.ast.iter_functions().find(|f| f.name == body.fn_name()) {
            for (name, value) in f.params.iter().zip(curry.iter()) {
                scope.push_dynamic(name.to_string(), Dynamic::clone(value));
            }
        }
        scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
let ready = false;
let count = 0;
fn twice(x) { x * 2 }
section("First", || { count += 1; });
section("Second", || { if !ready { throw "not ready"; } count += 10; });
let after = twice(21);
"#;

    fn engine() -> rhai::Engine {
        let mut e = rhai::Engine::new();
        e.register_fn(
            "section",
            |ctx: rhai::NativeCallContext, _t: &str, body: FnPtr| {
                body.call_within_context::<Dynamic>(&ctx, ()).map(|_| ())
            },
        );
        e
    }

    #[test]
    fn finds_sections_in_order() {
        let p = Program::new(SRC, engine().compile(SRC).unwrap());
        assert_eq!(p.titles, vec!["First", "Second"]);
        let (_, r) = &p.sections[1];
        assert!(SRC[r.clone()].starts_with("section(\"Second\""));
        assert!(SRC[r.clone()].ends_with("});"));
    }

    #[test]
    fn top_level_without_sections_runs_nothing_but_keeps_variables() {
        let e = engine();
        let p = Program::new(SRC, e.compile(SRC).unwrap());
        let mut scope = Scope::new();
        e.run_ast_with_scope(&mut scope, &p.without_sections(&e).unwrap())
            .unwrap();
        assert_eq!(scope.get_value::<i64>("count"), Some(0));
        assert_eq!(scope.get_value::<i64>("after"), Some(42));
        // Then one section alone, in that scope, with the runbook's functions at hand.
        let first = p.section(&e, &scope, "First").unwrap().unwrap();
        e.run_ast_with_scope(&mut scope, &first).unwrap();
        assert_eq!(scope.get_value::<i64>("count"), Some(1));
        let line = e.compile("twice(count)").unwrap();
        let v: i64 = e
            .eval_ast_with_scope(&mut scope, &p.with_line(&line))
            .unwrap();
        assert_eq!(v, 2);
        assert_eq!(scope.get_value::<i64>("after"), Some(42));
        assert!(p.section(&e, &scope, "Nope").is_none());
    }

    #[test]
    fn statement_ends_skip_strings_and_comments() {
        let src = "section(\"a)\", || { say(\"}\"); // )\n c.apply(`x)`); /* ) */ });\nnext();";
        let end = statement_end(src, 0).unwrap();
        assert_eq!(&src[end..], "\nnext();");
        assert_eq!(statement_end("f(1, (2)) ", 0), Some(9));
        assert_eq!(statement_end("f(1, ", 0), None);
    }

    #[test]
    fn a_closure_scope_shares_the_captured_values() {
        let e = engine();
        let src = "let ready = false; let body = || ready; body";
        let p = Program::new(src, e.compile(src).unwrap());
        let body: FnPtr = e.eval_ast(&p.ast).unwrap();
        let mut scope = p.captured_scope(&body);
        assert_eq!(scope.get_value::<bool>("ready"), Some(false));
        e.run_with_scope(&mut scope, "ready = true;").unwrap();
        let after: bool = body.call(&e, &p.ast, ()).unwrap();
        assert!(after, "the closure sees the change made in the REPL scope");
    }
}

#[cfg(test)]
mod sharing {
    use rhai::{Dynamic, Engine, Scope};

    /// Making top-level variables shared (what the REPL does at each section call) must not
    /// change what a script computes: copies stay copies.
    #[test]
    fn shared_variables_still_copy_on_assignment() {
        let engine = Engine::new();
        let mut scope = Scope::new();
        engine
            .run_with_scope(&mut scope, "let a = #{x: 1}; let n = 1;")
            .unwrap();
        let shared = crate::engine::runner::share_scope(&mut scope);
        assert_eq!(shared.len(), 2);
        assert!(shared.iter().all(|(_, v)| v.is_shared()));
        let out: Dynamic = engine
            .eval_with_scope(
                &mut scope,
                "let b = a; b.x = 2; let m = n; m += 1; [a.x, b.x, n, m]",
            )
            .unwrap();
        assert_eq!(out.to_string(), "[1, 2, 1, 2]");
        // And a change through the shared handle is the script's own.
        let mut n = shared
            .iter()
            .find(|(name, _)| name == "n")
            .map(|(_, v)| v.clone())
            .unwrap();
        *n.write_lock::<i64>().unwrap() = 7;
        let n: i64 = engine.eval_with_scope(&mut scope, "n").unwrap();
        assert_eq!(n, 7);
    }
}

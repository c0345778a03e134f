//! Static checks made before anything touches a cluster: section titles (literal, unique),
//! imports that resolve, and calls to functions that exist.

use std::collections::BTreeSet;

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

use super::resolver::StdlibResolver;
use crate::syntax::plain_call;

/// A problem found without running the script.
#[derive(Clone, Debug)]
pub struct Finding {
    pub message: String,
    pub help: Option<String>,
    pub position: Position,
    /// The file the position is in (`None`: the runbook itself).
    pub file: Option<String>,
}

/// Section titles in source order, with positions. Non-literal titles are findings.
pub fn sections(ast: &AST) -> (Vec<(String, Position)>, Vec<Finding>) {
    let mut titles = Vec::new();
    let mut findings = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => Some((call, *pos)),
            _ => None,
        };
        if let Some((call, pos)) = call.filter(|(c, _)| {
            c.name == "section" && c.namespace.is_empty() && (2..=3).contains(&c.args.len())
        }) {
            match &call.args[0] {
                Expr::StringConstant(s, _) => titles.push((s.to_string(), pos)),
                _ => findings.push(Finding {
                    message: "a section title must be a string literal".into(),
                    help: Some(
                        "`list`, `--only` and `--skip` read titles without running the runbook"
                            .into(),
                    ),
                    position: pos,
                    file: None,
                }),
            }
        }
        true
    });
    titles.sort_by_key(|(_, p)| (p.line(), p.position()));
    titles.dedup_by(|a, b| a.1 == b.1);
    let mut seen = BTreeSet::new();
    for (t, p) in &titles {
        if !seen.insert(t.to_lowercase()) {
            findings.push(Finding {
                message: format!("two sections are titled `{t}`"),
                help: Some(
                    "section titles must be unique so --only/--skip/--from can name them".into(),
                ),
                position: *p,
                file: None,
            });
        }
    }
    (titles, findings)
}

/// Environment variables the script reads by literal name: `secret_env("X")` (secret) and
/// `env("X")` without a default. A run checks them before it touches any cluster.
pub fn env_reads(ast: &AST) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => call,
            _ => return true,
        };
        let secret = match call.name.as_str() {
            "secret_env" => true,
            "env" => false,
            _ => return true,
        };
        if call.namespace.is_empty() && call.args.len() == 1 {
            if let Expr::StringConstant(name, _) = &call.args[0] {
                match out.iter_mut().find(|(n, _)| n == name.as_str()) {
                    Some(entry) => entry.1 |= secret,
                    None => out.push((name.to_string(), secret)),
                }
            }
        }
        true
    });
    out
}

/// Every body of code in a script, each walkable on its own: the top level (`None`) and each
/// function, closures included (their names start with `anon$`).
fn bodies(ast: &AST) -> Vec<(Option<String>, AST)> {
    let mut out = vec![(None, ast.clone_statements_only())];
    for def in ast.iter_fn_def() {
        let mut module = rhai::Module::new();
        module.set_script_fn(def.clone());
        out.push((
            Some(def.name.to_string()),
            AST::new(Vec::<Stmt>::new(), module),
        ));
    }
    out
}

/// The closure named by a node (`|| { ... }` compiles to a function pointer to `anon$...`).
fn closure_of(node: &ASTNode) -> Option<String> {
    match node {
        ASTNode::Expr(Expr::DynamicConstant(v, _)) => v
            .read_lock::<rhai::FnPtr>()
            .map(|f| f.fn_name().to_string())
            .filter(|n| n.starts_with("anon$")),
        _ => None,
    }
}

/// The closures an expression creates (a section's body argument).
fn closures_in(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    expr.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        if let Some(name) = path.last().and_then(closure_of) {
            out.push(name);
        }
        true
    });
    out
}

/// Sections called inside another section's body (directly, or in a step or closure within
/// it): sections are top-level.
pub fn nested_sections(ast: &AST) -> Vec<Finding> {
    // closure -> the body it is written in; closure -> title of the section it is the body of
    let mut parent: std::collections::HashMap<String, Option<String>> = Default::default();
    let mut section_body: std::collections::HashMap<String, String> = Default::default();
    let mut calls: Vec<(Option<String>, String, Position)> = Vec::new();
    for (body, code) in bodies(ast) {
        code.walk(&mut |path: &[ASTNode]| {
            if let Some(name) = path.last().and_then(closure_of) {
                parent.entry(name).or_insert_with(|| body.clone());
            }
            if let Some((call, pos)) = plain_call(path) {
                if call.name == "section" && call.args.len() == 2 {
                    let title = match &call.args[0] {
                        Expr::StringConstant(t, _) => t.to_string(),
                        _ => "...".to_string(),
                    };
                    for closure in closures_in(&call.args[1]) {
                        section_body.insert(closure, title.clone());
                    }
                    calls.push((body.clone(), title, pos));
                }
            }
            true
        });
    }
    let mut findings = Vec::new();
    for (body, title, pos) in calls {
        let mut at = body;
        let mut hops = 0;
        while let Some(name) = at {
            if let Some(outer) = section_body.get(&name) {
                findings.push(Finding {
                    message: format!("section `{title}` is inside section `{outer}`"),
                    help: Some(
                        "sections are top-level (they mirror the walkthrough's headings); use `step(title, || ...)` inside a section".into(),
                    ),
                    position: pos,
                    file: None,
                });
                break;
            }
            hops += 1;
            at = if hops > 64 {
                None
            } else {
                parent.get(&name).cloned().flatten()
            };
        }
    }
    findings.sort_by_key(|f| (f.position.line(), f.position.position()));
    findings
}

/// Names the engine knows as functions (host, standard library, keywords).
fn known_functions(engine: &Engine) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .into_iter()
        .filter_map(|sig| {
            let name = sig.split('(').next()?.trim();
            let name = name.rsplit(' ').next().unwrap_or(name);
            Some(
                name.trim_start_matches("get$")
                    .trim_start_matches("set$")
                    .to_string(),
            )
        })
        .collect();
    for k in [
        "print",
        "debug",
        "type_of",
        "eval",
        "Fn",
        "call",
        "curry",
        "is_shared",
        "is_def_var",
        "is_def_fn",
        "throw",
        "this",
    ] {
        known.insert(k.to_string());
    }
    known
}

/// Imports that do not resolve and calls to functions that do not exist, in a script and the
/// modules it imports.
pub fn check_calls(engine: &Engine, ast: &AST, resolver: &StdlibResolver) -> Vec<Finding> {
    let known = known_functions(engine);
    let mut findings = Vec::new();
    let mut checked_modules = BTreeSet::new();
    check_ast(
        engine,
        ast,
        None,
        resolver,
        &known,
        &mut findings,
        &mut checked_modules,
    );
    findings
}

fn check_ast(
    engine: &Engine,
    ast: &AST,
    file: Option<String>,
    resolver: &StdlibResolver,
    known: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
    checked: &mut BTreeSet<String>,
) {
    let script_fns: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
    // alias -> module functions
    let mut modules: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut imports: Vec<(String, String, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(x, pos))) = path.last() {
            if let Expr::StringConstant(p, _) = &x.0 {
                imports.push((p.to_string(), x.1.name.to_string(), *pos));
            }
        }
        true
    });
    for (path, alias, pos) in imports {
        match resolver.compile(engine, &path) {
            Ok(module_ast) => {
                let fns: BTreeSet<String> = module_ast
                    .iter_functions()
                    .filter(|f| f.access != rhai::FnAccess::Private)
                    .map(|f| f.name.to_string())
                    .collect();
                modules.push((alias, fns));
                if checked.insert(path.clone()) {
                    let name = module_ast.source().map(str::to_string);
                    check_ast(
                        engine,
                        &module_ast,
                        name,
                        resolver,
                        known,
                        findings,
                        checked,
                    );
                }
            }
            Err(err) => findings.push(Finding {
                message: format!(
                    "import \"{path}\" fails: {}",
                    super::diagnostic::plain_message(&err)
                ),
                help: Some(
                    "stdlib modules are imported by name (`import \"bookinfo\" as bookinfo;`)"
                        .into(),
                ),
                position: if err.position().is_none() {
                    pos
                } else {
                    err.position()
                },
                file: if err.position().is_none() {
                    file.clone()
                } else {
                    resolver.source_of(&path).ok().map(|s| s.1)
                },
            }),
        }
    }
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(c, p))) => (c, *p, false),
            Some(ASTNode::Stmt(Stmt::FnCall(c, p))) => (c, *p, false),
            Some(ASTNode::Expr(Expr::MethodCall(c, p))) => (c, *p, true),
            _ => return true,
        };
        if call.is_operator_call() {
            return true;
        }
        let name = call.name.as_str();
        if !call.namespace.is_empty() {
            let ns = call.namespace.to_string();
            let ns = ns.trim_end_matches("::");
            if let Some((_, fns)) = modules.iter().find(|(a, _)| a == ns) {
                if !fns.contains(name) {
                    findings.push(Finding {
                        message: format!("module `{ns}` has no function `{name}`"),
                        help: Some(format!(
                            "its functions: {}",
                            fns.iter().cloned().collect::<Vec<_>>().join(", ")
                        )),
                        position: pos,
                        file: file.clone(),
                    });
                }
            }
            return true;
        }
        if known.contains(name) || script_fns.contains(name) || name.starts_with("anon$") {
            return true;
        }
        findings.push(Finding {
            message: format!(
                "no function{} `{name}`",
                if method { " or method" } else { "" }
            ),
            help: Some(similar(name, known).map_or_else(
                || "`meshbook docs` lists every function".to_string(),
                |s| format!("did you mean `{s}`? (`meshbook docs` lists every function)"),
            )),
            position: pos,
            file: file.clone(),
        });
        true
    });
}

/// The known name closest to `name`, if it is close enough to be a typo.
fn similar<'a>(name: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    crate::suggest::closest(name, known.iter().map(String::as_str))
        .into_iter()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_titles_in_order_and_duplicates() {
        let engine = Engine::new();
        let ast = engine
            .compile("fn section(a, b) {}\nsection(\"A\", || {});\nsection(\"b\", || {});\nsection(\"B\", || {});\nlet t = \"x\"; section(t, || {});")
            .unwrap();
        let (titles, findings) = sections(&ast);
        let names: Vec<_> = titles.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(names, vec!["A", "b", "B"]);
        assert_eq!(findings.len(), 2, "{findings:?}");
    }

    #[test]
    fn finds_sections_nested_in_sections_and_steps() {
        let engine = Engine::new();
        let src = "let c = 1;\nsection(\"a\", || {\n  step(\"s\", || { section(\"inner\", || { c; }); });\n});\nsection(\"b\", || { section(\"deep\", || {}); });\nfn helper() { section(\"from a function\", || {}); }\nsection(\"c\", || { say(c); });";
        let ast = engine.compile(src).unwrap();
        let found: Vec<_> = nested_sections(&ast)
            .into_iter()
            .map(|f| (f.message, f.position.line()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("section `inner` is inside section `a`".to_string(), Some(3)),
                ("section `deep` is inside section `b`".to_string(), Some(5)),
            ]
        );
    }

    #[test]
    fn finds_literal_environment_reads() {
        let engine = Engine::new();
        let ast = engine
            .compile("let a = secret_env(\"KEY\"); let b = env(\"CTX\"); let c = env(\"OPT\", \"x\"); section(\"s\", || { env(\"KEY\"); });")
            .unwrap();
        assert_eq!(
            env_reads(&ast),
            vec![("KEY".to_string(), true), ("CTX".to_string(), false)]
        );
    }
}

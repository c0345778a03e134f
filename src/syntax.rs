//! Facts read from a script's syntax tree without running it or registering anything: which
//! clusters and parameters a runbook uses (its implicit header). Shared by the runbook loader
//! and the engine's static checks.

use std::collections::BTreeSet;

use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

/// The type of a parameter, from its default (`TOTAL: 3` in the header, `param("TOTAL", 3)`
/// in the script): `--set` values are checked against it before a run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Text,
    Int,
    Bool,
}

/// Parses a script without any binding (for facts read from its syntax tree when a runbook
/// loads); `None` when it does not compile.
pub fn parse_only(source: &str) -> Option<AST> {
    let mut engine = Engine::new_raw();
    engine.set_max_expr_depths(128, 64);
    engine.compile(source).ok()
}

/// A plain call of a host function (`name(...)`, no namespace) at this node, with its position.
pub fn plain_call<'a>(path: &[ASTNode<'a>]) -> Option<(&'a rhai::FnCallExpr, Position)> {
    match path.last() {
        Some(ASTNode::Expr(Expr::FnCall(call, pos)))
        | Some(ASTNode::Stmt(Stmt::FnCall(call, pos)))
            if call.namespace.is_empty() =>
        {
            Some((&**call, *pos))
        }
        _ => None,
    }
}

/// Clusters the script names literally (`cluster("cluster1")`), each with the position of its
/// first call, in source order. A runbook without a header runs on exactly these.
pub fn cluster_calls(ast: &AST) -> Vec<(String, Position)> {
    let mut out: Vec<(String, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some((call, pos)) = plain_call(path) {
            if call.name == "cluster" && call.args.len() == 1 {
                if let Expr::StringConstant(name, _) = &call.args[0] {
                    out.push((name.to_string(), pos));
                }
            }
        }
        true
    });
    out.sort_by_key(|(_, p)| (p.line(), p.position()));
    let mut seen = BTreeSet::new();
    out.retain(|(n, _)| seen.insert(n.clone()));
    out
}

/// Parameters the script reads with a literal default (`param("TOTAL", 3)`), in source order:
/// a runbook without a header declares its parameters this way.
pub fn param_reads(ast: &AST) -> Vec<(String, ParamKind)> {
    let mut out: Vec<(String, ParamKind, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some((call, pos)) = plain_call(path) {
            if call.name == "param" && call.args.len() == 2 {
                if let Expr::StringConstant(name, _) = &call.args[0] {
                    let kind = match &call.args[1] {
                        Expr::IntegerConstant(..) => ParamKind::Int,
                        Expr::BoolConstant(..) => ParamKind::Bool,
                        _ => ParamKind::Text,
                    };
                    out.push((name.to_string(), kind, pos));
                }
            }
        }
        true
    });
    out.sort_by_key(|(_, _, p)| (p.line(), p.position()));
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|(n, _, _)| seen.insert(n.clone()))
        .map(|(n, k, _)| (n, k))
        .collect()
}

/// Every call a script makes by name (plain calls and method calls), with its first argument
/// when that is a literal string (`run("./bin/x", ...)`), in source order.
pub fn named_calls(ast: &AST) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _) | Expr::MethodCall(call, _)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => Some(call),
            _ => None,
        };
        if let Some(call) = call {
            let first = match call.args.first() {
                Some(Expr::StringConstant(s, _)) => Some(s.to_string()),
                _ => None,
            };
            out.push((call.name.to_string(), first));
        }
        true
    });
    out
}

/// The modules a script imports by literal path (`import "gloo" as g;`).
pub fn imports(ast: &AST) -> Vec<String> {
    let mut out = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(import, _))) = path.last() {
            if let Expr::StringConstant(module, _) = &import.0 {
                out.push(module.to_string());
            }
        }
        true
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_literal_clusters_in_order() {
        let engine = Engine::new();
        let ast = engine
            .compile("let a = cluster(\"east\");\nsection(\"s\", || { let b = cluster(\"west\"); cluster(\"east\"); });\nfn f(n) { cluster(n) }")
            .unwrap();
        let names: Vec<_> = cluster_calls(&ast).into_iter().map(|c| c.0).collect();
        assert_eq!(names, vec!["east", "west"]);
    }

    #[test]
    fn finds_parameters_with_literal_defaults() {
        let engine = Engine::new();
        let ast = engine
            .compile("let t = param(\"TOTAL\", 3);\nlet n = param(\"NAME\", \"web\"); let x = param(\"X\"); param(\"ON\", true);")
            .unwrap();
        assert_eq!(
            param_reads(&ast),
            vec![
                ("TOTAL".to_string(), ParamKind::Int),
                ("NAME".to_string(), ParamKind::Text),
                ("ON".to_string(), ParamKind::Bool)
            ]
        );
    }
}

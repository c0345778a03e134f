//! The Rhai engine, built in one place: limits, the stdlib resolver, every binding, and the
//! hooks that route `print` to the transcript and stop a script on Ctrl-C.

pub mod analysis;
pub mod diagnostic;
pub mod docs;
pub mod explain;
pub mod resolver;
pub mod runner;

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, AST};

use crate::report::Event;
use crate::session::Session;
use diagnostic::{Diagnostic, Sources};

/// Enough for any real runbook (they mostly wait on clusters), small enough that a runaway
/// loop ends in seconds with an error.
pub const MAX_OPERATIONS: u64 = 50_000_000;

/// Builds the engine for a session, with the run's interactive hooks (none for a run nobody
/// steps through: `runner::Hooks::default()`).
pub fn build(session: &Arc<Session>, hooks: runner::Hooks) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(64);
    engine.set_max_expr_depths(128, 64);
    engine.set_module_resolver(resolver::StdlibResolver::new(session.runbook.clone()));
    let s = session.clone();
    engine.on_print(move |text| {
        s.emit(Event::Say {
            text: text.to_string(),
        })
    });
    let s = session.clone();
    engine.on_debug(move |text, _src, pos| {
        s.emit(Event::Notice {
            text: format!("debug {pos}: {text}"),
        })
    });
    let s = session.clone();
    engine.on_progress(move |_ops| {
        if s.is_cancelled() {
            Some(Dynamic::from("interrupted"))
        } else {
            None
        }
    });
    runner::register(&mut engine, session, Arc::new(hooks));
    crate::bindings::register_all(&mut engine, session);
    explain::remember(&engine);
    engine
}

/// Compiles the session's runbook, naming the file in errors.
pub fn compile(engine: &Engine, session: &Session) -> Result<AST, Box<Diagnostic>> {
    let rb = &session.runbook;
    let mut ast = engine.compile(&rb.source).map_err(|e| {
        let sources = Sources {
            main_name: &rb.display_path,
            main_text: &rb.source,
        };
        Box::new(Diagnostic::from_parse(&e, &rb.display_path, &sources))
    })?;
    ast.set_source(rb.display_path.clone());
    Ok(ast)
}

/// Renders a script error as the user sees it (not yet redacted: rendering redacts).
pub fn render_error(
    session: &Session,
    err: &EvalAltResult,
    section: Option<String>,
    steps: Vec<String>,
) -> String {
    diagnose(session, err)
        .in_section(section, steps)
        .to_string()
}

/// A script error as a diagnostic, located in the runbook.
pub fn diagnose(session: &Session, err: &EvalAltResult) -> Diagnostic {
    let rb = &session.runbook;
    let sources = Sources {
        main_name: &rb.display_path,
        main_text: &rb.source,
    };
    Diagnostic::from_eval(err, &sources)
}

/// Static findings rendered as diagnostics (for `check` and before `run`).
pub fn static_check(
    engine: &Engine,
    session: &Session,
    ast: &AST,
) -> (Vec<String>, Vec<Diagnostic>) {
    let rb = &session.runbook;
    let sources = Sources {
        main_name: &rb.display_path,
        main_text: &rb.source,
    };
    let resolver = resolver::StdlibResolver::new(rb.clone());
    let (titles, mut findings) = analysis::sections(ast);
    findings.extend(analysis::nested_sections(ast));
    findings.extend(undeclared_clusters(&rb.header, ast));
    findings.extend(analysis::check_calls(engine, ast, &resolver));
    let diags = findings
        .into_iter()
        .map(|f| {
            let mut d = Diagnostic::new(f.message);
            d.help = f.help;
            let file = f.file.unwrap_or_else(|| rb.display_path.clone());
            d.location = sources_locate(&sources, &file, f.position);
            d
        })
        .collect();
    (titles.into_iter().map(|t| t.0).collect(), diags)
}

/// `cluster("x")` calls naming a cluster the header does not declare.
fn undeclared_clusters(header: &crate::runbook::Header, ast: &AST) -> Vec<analysis::Finding> {
    if header.clusters_from_script || header.clusters.is_empty() {
        return Vec::new();
    }
    let declared: Vec<&str> = header
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .chain(header.created_clusters.iter().map(String::as_str))
        .collect();
    crate::syntax::cluster_calls(ast)
        .into_iter()
        .filter(|(name, _)| !declared.contains(&name.as_str()))
        .map(|(name, position)| {
            let near = crate::suggest::closest(&name, declared.iter().copied());
            let mut help = format!(
                "declare it in the header (`//!   {name}: CONTEXT_VARIABLE` under `clusters:`), or use a declared one: {}",
                crate::suggest::or_list(&declared)
            );
            if let Some(n) = near.first() {
                help = format!("did you mean `{n}`? {help}");
            }
            analysis::Finding {
                message: format!("the header declares no cluster `{name}`"),
                help: Some(help),
                position,
                file: None,
            }
        })
        .collect()
}

fn sources_locate(
    sources: &Sources,
    file: &str,
    pos: rhai::Position,
) -> Option<diagnostic::Location> {
    sources.locate(file, pos)
}

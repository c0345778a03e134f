//! Serves `import "name" as x;` from the bundled `stdlib/` (or `MESHBOOK_STDLIB`), and
//! `import "./lib/x"` relative to the runbook.

use std::collections::HashMap;
use std::sync::Mutex;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared, AST};

use crate::assets::Tree;
use crate::problem::Problem;
use crate::runbook::Runbook;

pub struct StdlibResolver {
    runbook: Runbook,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl StdlibResolver {
    pub fn new(runbook: Runbook) -> Self {
        StdlibResolver {
            runbook,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The module's text and the name errors will show for it.
    pub fn source_of(&self, path: &str) -> Result<(String, String), Problem> {
        if path.starts_with("./") || path.starts_with("../") {
            let file = format!("{path}.rhai");
            let text = self.runbook.read_relative(&file)?;
            return Ok((text, file));
        }
        let rel = format!("{path}.rhai");
        let text = Tree::Stdlib.read(&rel).ok_or_else(|| {
            let available: Vec<String> = Tree::Stdlib
                .list("")
                .into_iter()
                .filter(|p| !p.contains('/') && p.ends_with(".rhai"))
                .map(|p| p.trim_end_matches(".rhai").to_string())
                .collect();
            format!(
                "no stdlib module `{path}`; available: {}",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            )
        })?;
        Ok((text.into_owned(), format!("stdlib/{rel}")))
    }

    /// Compiles a module (used by `check` to find errors without running anything).
    pub fn compile(&self, engine: &Engine, path: &str) -> Result<AST, Box<EvalAltResult>> {
        let (text, name) = self
            .source_of(path)
            .map_err(crate::bindings::convert::fail_problem)?;
        let mut ast = engine
            .compile(&text)
            .map_err(|e| Box::new(EvalAltResult::ErrorParsing(*e.0, e.1)))?;
        ast.set_source(name);
        Ok(ast)
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if let Some(m) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return Ok(m.clone());
        }
        let wrap = |e: Box<EvalAltResult>| {
            Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos))
        };
        let ast = self.compile(engine, path).map_err(wrap)?;
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(wrap)?;
        let shared: Shared<Module> = module.into();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), shared.clone());
        Ok(shared)
    }
}

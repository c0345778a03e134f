//! The direction rule of `src/README.md`, checked on the sources: every top-level module
//! imports only modules of its own layer or below, and no two top-level modules import each
//! other (directly or around a cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers, lowest first. A module imports only from its own layer or lower ones.
const LAYERS: &[&[&str]] = &[
    // I/O-free building blocks.
    &["assets", "base", "problem", "suggest", "syntax", "template"],
    // The core: clusters, HTTP, simulated clusters, tools, reports, runbook files.
    &[
        "k8s",
        "http",
        "sim",
        "tools",
        "report",
        "runbook",
        "manifests",
        "logging",
        "checkpoint",
    ],
    // A run's state: its clusters and its session.
    &["fleet", "session", "toolrun"],
    // Thin adapters between Rhai and the core.
    &["bindings"],
    // The engine: runs sections, renders script errors, documents functions.
    &["engine"],
    &["repl"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Top-level module -> top-level modules it names as `crate::X` outside `#[cfg(test)]` code.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps = graph.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                deps.insert(name);
            }
        }
    }
    graph
}

#[test]
fn every_module_imports_only_its_layer_or_below() {
    let mut wrong = Vec::new();
    for (module, deps) in imports() {
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "`{module}` is in no layer: add it to LAYERS and src/README.md"
            ));
            continue;
        };
        for dep in deps {
            match layer_of(&dep) {
                Some(l) if l > own => {
                    wrong.push(format!("`{module}` imports `{dep}`, a layer above it"))
                }
                None => wrong.push(format!("`{module}` imports `{dep}`, which is in no layer")),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = imports();
    // Depth-first search for a back edge, reporting the cycle.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for dep in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

//! `doctor`: which external tools a runbook calls, and whether they are installed.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::invocation::{install_hint, Invocation};
use super::process::run;

/// How long a `version` command may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(15);

/// One tool as found (or not) on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolStatus {
    pub name: String,
    /// Where it is on PATH; `None` when missing.
    pub path: Option<PathBuf>,
    /// The first line of its version output, when it ran.
    pub version: Option<String>,
    /// How to get it (useful when `path` is `None`).
    pub hint: String,
}

impl ToolStatus {
    pub fn found(&self) -> bool {
        self.path.is_some()
    }
}

/// The argv that prints a tool's version.
pub fn version_argv(tool: &str) -> Vec<&'static str> {
    match tool {
        "helm" => vec!["version", "--short"],
        "istioctl" => vec!["version", "--remote=false"],
        "meshctl" => vec!["version"],
        "vcluster" => vec!["--version"],
        "kubectl" => vec!["version", "--client"],
        _ => vec!["--version"],
    }
}

/// Looks each tool up on meshbook's PATH and asks it for its version.
pub async fn doctor(tools: &[&str]) -> Vec<ToolStatus> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    doctor_with_path(tools, &path).await
}

/// [`doctor`] with an explicit PATH (tests, or a PATH a runbook sets).
pub async fn doctor_with_path(tools: &[&str], path: &OsStr) -> Vec<ToolStatus> {
    let mut out = Vec::new();
    for &tool in tools {
        let found = find_on_path(tool, path);
        let version = match &found {
            Some(p) => version_of(tool, p).await,
            None => None,
        };
        out.push(ToolStatus {
            name: tool.to_string(),
            path: found,
            version,
            hint: install_hint(tool),
        });
    }
    out
}

async fn version_of(tool: &str, path: &Path) -> Option<String> {
    let inv = Invocation::new(path.display().to_string(), version_argv(tool))
        .timeout(VERSION_TIMEOUT)
        .label(format!("{tool} version"));
    let out = run(&inv, &|_, _| {}).await.ok()?;
    let text = if out.stdout.trim().is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// The first executable file named `name` in the directories of `path`.
pub fn find_on_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The external tools a runbook calls, read from its syntax tree: `helm_install`/
/// `helm_uninstall`/`helm` -> `helm`, `istioctl`, `meshctl`, `vcluster`, and the program of
/// every `run("x", ...)` (its file name). A script that does not compile calls nothing (the
/// static checks report it).
pub fn tools_used_by(script_text: &str) -> BTreeSet<String> {
    let Some(ast) = crate::syntax::parse_only(script_text) else {
        return BTreeSet::new();
    };
    tools_in(&ast)
}

fn tools_in(ast: &rhai::AST) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, first) in crate::syntax::named_calls(ast) {
        match name.as_str() {
            "helm_install" | "helm_uninstall" | "helm" => {
                out.insert("helm".to_string());
            }
            "istioctl" | "meshctl" | "vcluster" => {
                out.insert(name);
            }
            "run" => {
                if let Some(program) = first {
                    out.insert(super::invocation::tool_name(&program).to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// [`tools_used_by`] for a runbook and the stdlib modules it imports (`import "gloo" as g;`
/// reads `stdlib/gloo.rhai`), recursively.
pub fn tools_used_by_runbook(script_text: &str) -> BTreeSet<String> {
    let mut tools = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue = vec![script_text.to_string()];
    while let Some(text) = queue.pop() {
        let Some(ast) = crate::syntax::parse_only(&text) else {
            continue;
        };
        tools.extend(tools_in(&ast));
        for module in crate::syntax::imports(&ast) {
            let module = module.trim_end_matches(".rhai").to_string();
            if seen.insert(module.clone()) {
                if let Some(src) = crate::assets::Tree::Stdlib.read(&format!("{module}.rhai")) {
                    queue.push(src.into_owned());
                }
            }
        }
    }
    tools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tools_in_a_runbook() {
        let script = r#"
            let c = cluster("cluster1");
            c.helm_install("gloo-platform", "gloo-platform/gloo-platform", #{});
            c.istioctl(["multicluster", "expose"]); // meshctl(["check"]) is commented out
            let out = run("./bin/solo-istioctl", ["version"]);
            vcluster (["create", "x"]);
            let url = "http://example.com//x"; helm(["list"]);
        "#;
        let tools = tools_used_by(script);
        assert_eq!(
            tools.into_iter().collect::<Vec<_>>(),
            ["helm", "istioctl", "vcluster"]
        );
    }

    #[test]
    fn follows_imports_without_failing_on_missing_modules() {
        let tools = tools_used_by_runbook("import \"no-such-module\" as m;\nmeshctl([\"check\"]);");
        assert_eq!(tools.into_iter().collect::<Vec<_>>(), ["meshctl"]);
    }

    #[test]
    fn path_lookup_misses_on_empty_path() {
        assert!(find_on_path("helm", OsStr::new("")).is_none());
        assert_eq!(version_argv("istioctl"), ["version", "--remote=false"]);
    }
}

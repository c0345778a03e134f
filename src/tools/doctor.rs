//! `doctor`: which external tools a runbook calls, and whether they are installed.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

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

/// The external tools a runbook calls: `helm_install`/`helm_uninstall`/`helm` -> `helm`,
/// `istioctl`, `meshctl`, `vcluster`, and the program of every `run("x", ...)` (its file
/// name). Line comments are ignored.
pub fn tools_used_by(script_text: &str) -> BTreeSet<String> {
    static CALL: OnceLock<Regex> = OnceLock::new();
    static RUN: OnceLock<Regex> = OnceLock::new();
    let call = CALL.get_or_init(|| {
        Regex::new(r"\b(helm_install|helm_uninstall|helm|istioctl|meshctl|vcluster)\s*\(")
            .expect("static regex")
    });
    let run_re = RUN.get_or_init(|| Regex::new(r#"\brun\s*\(\s*"([^"]+)""#).expect("static regex"));
    let mut out = BTreeSet::new();
    for line in script_text.lines() {
        let code = strip_line_comment(line);
        for cap in call.captures_iter(code) {
            let name = &cap[1];
            let tool = if name.starts_with("helm") {
                "helm"
            } else {
                name
            };
            out.insert(tool.to_string());
        }
        for cap in run_re.captures_iter(code) {
            out.insert(super::invocation::tool_name(&cap[1]).to_string());
        }
    }
    out
}

/// [`tools_used_by`] for a runbook and the stdlib modules it imports (`import "gloo" as g;`
/// reads `stdlib/gloo.rhai`), recursively.
pub fn tools_used_by_runbook(script_text: &str) -> BTreeSet<String> {
    static IMPORT: OnceLock<Regex> = OnceLock::new();
    let import = IMPORT.get_or_init(|| Regex::new(r#"import\s+"([^"]+)""#).expect("static regex"));
    let mut tools = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue = vec![script_text.to_string()];
    while let Some(text) = queue.pop() {
        tools.extend(tools_used_by(&text));
        for cap in import.captures_iter(&text) {
            let module = cap[1].trim_end_matches(".rhai").to_string();
            if seen.insert(module.clone()) {
                if let Some(src) = crate::assets::Tree::Stdlib.read(&format!("{module}.rhai")) {
                    queue.push(src.into_owned());
                }
            }
        }
    }
    tools
}

/// The part of a line before a `//` that is not inside a string.
fn strip_line_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut prev = '\0';
    for (i, ch) in line.char_indices() {
        match ch {
            '"' if prev != '\\' => in_str = !in_str,
            '/' if !in_str && prev == '/' => return &line[..i - 1],
            _ => {}
        }
        prev = ch;
    }
    line
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

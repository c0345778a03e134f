//! `Invocation`: one external program call, and what it returned (`ToolOutput`).

use std::path::Path;
use std::time::Duration;

use crate::report::Redactor;

/// The default time a tool may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The cluster a tool call targets: the runbook's logical name and its kubeconfig context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCluster {
    pub name: String,
    pub context: String,
}

impl ToolCluster {
    pub fn new(name: impl Into<String>, context: impl Into<String>) -> Self {
        ToolCluster {
            name: name.into(),
            context: context.into(),
        }
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One external program call: argv only, never a shell string.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The program: a name looked up on PATH (`helm`) or a path (`./solo-istioctl`).
    pub program: String,
    /// Arguments, without the program itself.
    pub argv: Vec<String>,
    /// The cluster: its context is passed with the tool's own flag (see [`context_flag`]).
    pub cluster: Option<ToolCluster>,
    /// Extra environment on top of meshbook's own, which is passed through. Setting `PATH`
    /// here also changes where the program is looked up.
    pub env: Vec<(String, String)>,
    /// Text written to the program's stdin (`istioctl install -f -`); stdin is empty otherwise.
    pub stdin: Option<String>,
    /// The process (and its process group) is killed after this long.
    pub timeout: Duration,
    /// A short name for messages, e.g. `cluster1 helm`.
    pub label: String,
    /// The secrets masked in everything shown (streamed lines, errors): usually the run's own
    /// redactor, so a secret registered while the tool runs is masked too.
    pub secrets: Redactor,
}

impl Invocation {
    /// A call of `program` with `argv`, no cluster, the default timeout, labelled by the
    /// program's name.
    pub fn new<S: Into<String>>(
        program: impl Into<String>,
        argv: impl IntoIterator<Item = S>,
    ) -> Self {
        let program = program.into();
        let label = tool_name(&program).to_string();
        Invocation {
            program,
            argv: argv.into_iter().map(Into::into).collect(),
            cluster: None,
            env: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            label,
            secrets: Redactor::new(),
        }
    }

    /// Targets a cluster; the label becomes `<cluster> <tool>`.
    #[must_use]
    pub fn cluster(mut self, cluster: ToolCluster) -> Self {
        self.label = auto_label(Some(&cluster), &self.program);
        self.cluster = Some(cluster);
        self
    }

    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    #[must_use]
    pub fn stdin(mut self, text: impl Into<String>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds values to mask (to this invocation's redactor, shared with its clones). A value
    /// too short to be masked safely is not added: callers refuse those first.
    #[must_use]
    pub fn secrets<S: Into<String>>(self, secrets: impl IntoIterator<Item = S>) -> Self {
        for s in secrets {
            let _ = self.secrets.add(&s.into());
        }
        self
    }

    /// Masks output with `redactor` (the run's own).
    #[must_use]
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.secrets = redactor;
        self
    }

    /// The same call settings (cluster, env, timeout, label, secrets) with another program
    /// and argv.
    #[must_use]
    pub fn with_argv<S: Into<String>>(
        &self,
        program: &str,
        argv: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut inv = self.clone();
        let relabel = self.label == auto_label(self.cluster.as_ref(), &self.program);
        inv.program = program.to_string();
        if relabel {
            inv.label = auto_label(inv.cluster.as_ref(), program);
        }
        inv.argv = argv.into_iter().map(Into::into).collect();
        inv.stdin = None;
        inv
    }

    /// The tool's short name: the program's file name (`./solo-istioctl` -> `istioctl`).
    pub fn tool(&self) -> &str {
        tool_name(&self.program)
    }

    /// The argv actually executed: `argv` plus the context flag when a cluster is set, the tool
    /// has a context flag and argv does not already carry it. The flag goes at the end (before
    /// a `--` separator if there is one).
    pub fn full_argv(&self) -> Vec<String> {
        let mut argv = self.argv.clone();
        let Some(cluster) = &self.cluster else {
            return argv;
        };
        let Some(flag) = context_flag(self.tool()) else {
            return argv;
        };
        let present = argv
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if !present {
            let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
            argv.splice(at..at, [flag.to_string(), cluster.context.clone()]);
        }
        argv
    }
}

/// `<cluster> <tool>` or `<tool>`.
fn auto_label(cluster: Option<&ToolCluster>, program: &str) -> String {
    match cluster {
        Some(c) => format!("{} {}", c.name, tool_name(program)),
        None => tool_name(program).to_string(),
    }
}

/// What a tool printed and how it ended. Text here is raw (not redacted): it is what the
/// script gets back. Anything shown to a person goes through redaction first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    pub duration: Duration,
}

/// The short name of a program: its file name, with a vendor prefix before `-istioctl`
/// dropped (`./solo-istioctl` -> `istioctl`).
pub fn tool_name(program: &str) -> &str {
    let base = Path::new(program)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or(program);
    if base.ends_with("-istioctl") {
        "istioctl"
    } else {
        base
    }
}

/// The flag a tool takes its kubeconfig context with.
pub fn context_flag(tool: &str) -> Option<&'static str> {
    match tool {
        "helm" => Some("--kube-context"),
        "istioctl" | "kubectl" | "vcluster" => Some("--context"),
        "meshctl" => Some("--kubecontext"),
        _ => None,
    }
}

/// Whether a tool talks to clusters (it takes a kube context): on simulated clusters such a
/// call is simulated, or for kubectl sent to the simulator; any other program runs for real.
pub fn is_cluster_cli(tool: &str) -> bool {
    context_flag(tool).is_some()
}

/// How to get a tool that is missing.
pub fn install_hint(tool: &str) -> String {
    match tool {
        "helm" => "install helm: https://helm.sh/docs/intro/install/".into(),
        "istioctl" => "install Solo's build of istioctl: `curl -sSL https://storage.googleapis.com/istio-binaries-d4cba2aff3ef/<version>-solo/istioctl-<version>-solo-<os>-<arch>.tar.gz | tar xzf - -C ~/.istioctl/bin` and add `~/.istioctl/bin` to PATH".into(),
        "meshctl" => "install meshctl: `curl -sL https://run.solo.io/meshctl/install | sh` and add `~/.gloo-mesh/bin` to PATH".into(),
        "vcluster" => "install the vcluster CLI: https://www.vcluster.com/docs/getting-started/setup".into(),
        "kubectl" => "install kubectl: https://kubernetes.io/docs/tasks/tools/".into(),
        other => format!("install `{other}` and make sure it is on PATH"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_flag_per_tool_appended_once() {
        let c = ToolCluster::new("cluster1", "kind-a");
        let inv = Invocation::new("helm", ["list"]).cluster(c.clone());
        assert_eq!(inv.full_argv(), ["list", "--kube-context", "kind-a"]);
        assert_eq!(inv.label, "cluster1 helm");
        let inv = Invocation::new("meshctl", ["check"]).cluster(c.clone());
        assert_eq!(inv.full_argv(), ["check", "--kubecontext", "kind-a"]);
        let inv = Invocation::new("./solo-istioctl", ["x", "--context=other"]).cluster(c.clone());
        assert_eq!(inv.full_argv(), ["x", "--context=other"]);
        let inv = Invocation::new("kubectl", ["exec", "p", "--", "ls"]).cluster(c.clone());
        assert_eq!(
            inv.full_argv(),
            ["exec", "p", "--context", "kind-a", "--", "ls"]
        );
        let inv = Invocation::new("jq", ["."]).cluster(c);
        assert_eq!(inv.full_argv(), ["."]);
    }

    #[test]
    fn tool_names() {
        assert_eq!(tool_name("/usr/local/bin/helm"), "helm");
        assert_eq!(tool_name("./solo-istioctl"), "istioctl");
        assert!(install_hint("meshctl").contains("run.solo.io/meshctl/install"));
        assert!(install_hint("helm").contains("https://helm.sh/docs/intro/install/"));
    }
}

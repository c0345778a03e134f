//! `ToolError`: everything that can go wrong running or simulating an external tool.

use std::time::Duration;

/// An error from running (or simulating) an external tool. Messages are already redacted:
/// no secret value of the invocation appears in them.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program is not on `PATH` (or the given path does not exist).
    #[error("`{program}` was not found {place}; {hint}")]
    NotFound {
        program: String,
        /// `on PATH` or `(no such file)`.
        place: String,
        /// How to get the tool.
        hint: String,
    },

    /// The process could not be started for another reason (permissions, bad interpreter).
    #[error("could not start `{program}`: {message}")]
    Spawn {
        program: String,
        message: String,
        #[source]
        source: std::io::Error,
    },

    /// Reading the process's output or writing its input failed.
    #[error("i/o error while running `{label}`: {message}")]
    Io {
        label: String,
        message: String,
        #[source]
        source: std::io::Error,
    },

    /// The process ran past its timeout and was killed (with its process group).
    #[error("`{label}` timed out after {}s and was killed; raise the step's timeout if the tool needs longer", timeout.as_secs_f64())]
    Timeout { label: String, timeout: Duration },

    /// The process exited with a non-zero code.
    #[error("`{label}` failed with exit code {code}{}", tail_suffix(stderr_tail))]
    Failed {
        label: String,
        code: i32,
        /// The last lines of stderr (redacted).
        stderr_tail: String,
    },

    /// `--set` was given a value that is a known secret: it would show in the process list.
    #[error("`--set {key}=...` carries a secret value; pass secrets in `values` (written to a private file), never with `set`")]
    SecretInSet { key: String },

    /// The values of a helm install could not be written to the temporary file.
    #[error("could not write helm values to a temporary file: {message}")]
    ValuesFile {
        message: String,
        #[source]
        source: std::io::Error,
    },

    /// The values given to a helm install are not valid YAML.
    #[error("helm `values` are not valid YAML: {message}")]
    BadValues { message: String },

    /// A simulated cluster was asked to run a tool call no rule describes.
    #[error("no simulated behaviour for `{tool}` {what}; add a rule under `{rules_dir}` describing what the real tool leaves in the cluster")]
    NoSimRule {
        tool: String,
        /// `chart `x`` or `subcommand `multicluster expose``.
        what: String,
        rules_dir: String,
    },

    /// A simulated rule file is malformed, or its templates fail to render.
    #[error("simulated tool rule `{rule}` ({file}): {message}")]
    SimRule {
        rule: String,
        file: String,
        message: String,
    },

    /// A simulated rule needs an object that is not (yet) in a cluster.
    #[error(
        "simulated `{tool}` needs {what} on cluster `{cluster}`, which does not exist yet{}",
        hint_suffix(hint)
    )]
    SimLookup {
        tool: String,
        what: String,
        cluster: String,
        hint: Option<String>,
    },

    /// A context named in a simulated call's arguments is not one of the simulated clusters.
    #[error(
        "`{tool}` names context `{context}`, which is not a simulated cluster; known: {known}"
    )]
    UnknownContext {
        tool: String,
        context: String,
        known: String,
    },

    /// A simulated check (`meshctl check`) found objects missing.
    #[error("`{label}` check failed: missing {}", missing.join(", "))]
    SimCheckFailed { label: String, missing: Vec<String> },
}

impl crate::base::error::Help for ToolError {
    fn message(&self) -> String {
        match self {
            ToolError::NoSimRule { tool, what, .. } => {
                format!("no simulated behaviour for `{tool}` {what}")
            }
            other => other.to_string(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            ToolError::NoSimRule { rules_dir, .. } => Some(format!(
                "add a rule under `{rules_dir}` describing what the real tool leaves in the cluster"
            )),
            _ => None,
        }
    }
}

/// Text a simulated call reads that is not YAML: the call's values, or a rule's rendered
/// manifest (reported as the rule's error).
#[derive(Debug, thiserror::Error)]
pub enum SimYamlError {
    #[error("values `{file}` are not valid YAML: {error}")]
    Values {
        file: String,
        #[source]
        error: serde_yaml::Error,
    },
    #[error("rendered manifest is not valid YAML: {error}\n{doc}")]
    Manifest {
        doc: String,
        #[source]
        error: serde_yaml::Error,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("; last lines of stderr:\n{tail}")
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::Help;

    #[test]
    fn a_missing_rule_says_how_to_add_one_apart() {
        let e = ToolError::NoSimRule {
            tool: "helm".into(),
            what: "chart `x`".into(),
            rules_dir: "stdlib/sim/tools".into(),
        };
        assert_eq!(e.message(), "no simulated behaviour for `helm` chart `x`");
        assert_eq!(
            e.paragraph(),
            "no simulated behaviour for `helm` chart `x`\nhelp: add a rule under `stdlib/sim/tools` describing what the real tool leaves in the cluster"
        );
        let other = ToolError::SecretInSet { key: "k".into() };
        assert_eq!(other.paragraph(), other.to_string());
    }
}

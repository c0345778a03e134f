//! `SimToolRules`: what external tools do to simulated clusters, as data from
//! `stdlib/sim/tools/*.yaml`. The format is documented in `stdlib/sim/tools/README.md`.
//! The simulator's own rules (the `Rules` of `sim`, objects reacting to objects) share the
//! Handlebars setup, dotted paths and file loading with these; see there for the split.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::error::ToolError;
use super::sim_call::{BooleanFlags, SimCall};
use crate::assets::Tree;

/// The folder of rule files inside the stdlib.
pub const RULES_DIR: &str = "sim/tools";

/// One rule file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    boolean_flags: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    partials: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<SimRule>,
}

/// What a rule matches.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// The tool's short name (`helm`, `istioctl`, `meshctl`, `vcluster`).
    pub tool: String,
    /// Leading positional words; each may list alternatives (`upgrade|install`) or be `*`.
    #[serde(default)]
    pub args: Vec<String>,
    /// helm only: the chart, equal or the last path segment (`gloo-platform-crds` matches
    /// `gloo-platform/gloo-platform-crds` and `oci://.../gloo-platform-crds`).
    #[serde(default)]
    pub chart: Option<String>,
    /// Flags that must be present with this value (`*`: any value).
    #[serde(default)]
    pub flags: BTreeMap<String, String>,
}

/// Iterate a rule over ordered pairs of the clusters named in a flag (`--contexts=a,b`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EachDef {
    /// The flag holding comma-separated contexts (or cluster names).
    pub pairs_of: String,
}

/// An object read from a cluster before rendering (e.g. the peer's east-west address).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LookupDef {
    /// Template variable to set.
    pub var: String,
    /// Cluster name or context (template); the call's cluster when absent.
    #[serde(default)]
    pub cluster: Option<String>,
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object's name, or `*` for every object of the kind (the value is then an array).
    pub name: String,
    /// Dotted path into the object (`status.loadBalancer.ingress.0.ip`).
    pub path: String,
    /// Used when the object or the path is missing (a template); without it a missing
    /// object is an error.
    #[serde(default)]
    pub default: Option<String>,
    /// What to do when it is missing (shown in the error).
    #[serde(default)]
    pub hint: Option<String>,
}

/// Manifests to apply (a Handlebars template, one or more YAML documents).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyDef {
    /// Cluster name or context (template); the call's cluster when absent.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Applied only when this renders truthy (not empty, `false`, `0` or `null`).
    #[serde(default)]
    pub when: Option<String>,
    pub manifest: String,
    /// Objects the real workload creates at run time (not helm): a simulated
    /// `helm uninstall` leaves them, as the real one does.
    #[serde(default)]
    pub keep_on_uninstall: bool,
}

/// An object: one that must exist for a check (`meshctl check`) to pass, or one to delete.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckDef {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

/// A simulated cluster a rule creates (`vcluster create`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClusterDef {
    pub name: String,
    pub context: String,
}

/// What a rule does with helm release bookkeeping.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseAction {
    #[default]
    None,
    Install,
    Uninstall,
}

/// One rule: a match and the effect of the call.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRule {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RuleMatch,
    #[serde(default)]
    pub description: Option<String>,
    /// Chart defaults: values merged under the call's values.
    #[serde(default)]
    pub defaults: Value,
    /// Free data for templates (`{{#each data.crds}}`).
    #[serde(default)]
    pub data: Value,
    /// Extra template variables (templates; evaluated in name order, after lookups).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub each: Option<EachDef>,
    #[serde(default)]
    pub lookups: Vec<LookupDef>,
    #[serde(default)]
    pub apply: Vec<ApplyDef>,
    #[serde(default)]
    pub checks: Vec<CheckDef>,
    /// Objects to delete (same fields as a check).
    #[serde(default)]
    pub delete: Vec<CheckDef>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub new_clusters: Vec<NewClusterDef>,
    /// Cluster names (templates) that stop existing (`vcluster delete`).
    #[serde(default)]
    pub remove_clusters: Vec<String>,
    #[serde(default)]
    pub release: ReleaseAction,
    /// The file the rule came from.
    #[serde(skip)]
    pub file: String,
}

impl SimRule {
    /// How specific the match is: the most specific matching rule wins.
    fn specificity(&self) -> usize {
        self.matcher.args.len()
            + 2 * usize::from(self.matcher.chart.is_some())
            + self.matcher.flags.len()
    }

    /// Whether the rule describes this call.
    pub fn matches(&self, call: &SimCall) -> bool {
        let m = &self.matcher;
        if m.tool != call.tool {
            return false;
        }
        for (i, pattern) in m.args.iter().enumerate() {
            let Some(word) = call.positionals.get(i) else {
                return false;
            };
            if pattern != "*" && !pattern.split('|').any(|alt| alt == word) {
                return false;
            }
        }
        if let Some(chart) = &m.chart {
            let Some((_, actual)) = call.helm_release_chart() else {
                return false;
            };
            let actual = actual.trim_end_matches('/');
            if actual != chart && !actual.ends_with(&format!("/{chart}")) {
                return false;
            }
        }
        m.flags.iter().all(|(name, want)| match call.flag(name) {
            Some(v) => want == "*" || v == want,
            None => false,
        })
    }
}

/// All simulated tool rules, with the Handlebars partials and boolean flags they declare.
#[derive(Debug, Default)]
pub struct SimToolRules {
    pub rules: Vec<SimRule>,
    pub partials: BTreeMap<String, String>,
    pub boolean_flags: BooleanFlags,
    /// Where the rules came from, for messages (`stdlib/sim/tools`).
    pub rules_dir: String,
}

impl SimToolRules {
    /// Loads every `*.yaml` under `stdlib/sim/tools` (embedded, or `MESHBOOK_STDLIB`).
    pub fn load() -> Result<Self, ToolError> {
        let files = Tree::Stdlib.yaml_files(RULES_DIR);
        let mut rules = Self::from_texts(&files)?;
        rules.rules_dir = Tree::Stdlib.display(RULES_DIR);
        Ok(rules)
    }

    /// Parses rule files given as (display name, text).
    pub fn from_texts(files: &[(String, String)]) -> Result<Self, ToolError> {
        let mut out = SimToolRules {
            rules_dir: Tree::Stdlib.display(RULES_DIR),
            ..Default::default()
        };
        for (name, text) in files {
            let file: RuleFile = serde_yaml::from_str(text).map_err(|e| ToolError::SimRule {
                rule: "(file)".into(),
                file: name.clone(),
                message: e.to_string(),
            })?;
            for (tool, flags) in file.boolean_flags {
                out.boolean_flags.entry(tool).or_default().extend(flags);
            }
            out.partials.extend(file.partials);
            for mut rule in file.rules {
                rule.file = name.clone();
                out.rules.push(rule);
            }
        }
        Ok(out)
    }

    /// The most specific rule matching the call (the first of equals, in file order).
    pub fn find(&self, call: &SimCall) -> Option<&SimRule> {
        let mut best: Option<&SimRule> = None;
        for rule in self.rules.iter().filter(|r| r.matches(call)) {
            if best.is_none_or(|b| rule.specificity() > b.specificity()) {
                best = Some(rule);
            }
        }
        best
    }

    /// The error for a call no rule describes, naming the chart or subcommand.
    pub fn no_rule(&self, call: &SimCall) -> ToolError {
        let what = match call.helm_release_chart() {
            Some((_, chart)) => format!("chart `{chart}`"),
            None if call.positionals.is_empty() => "with these flags".to_string(),
            None => format!(
                "subcommand `{}`",
                call.positionals
                    .iter()
                    .take(2)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        };
        ToolError::NoSimRule {
            tool: call.tool.clone(),
            what,
            rules_dir: self.rules_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
boolean_flags: {helm: [install]}
rules:
- name: any helm upgrade
  match: {tool: helm, args: [upgrade|install]}
- name: crds
  match: {tool: helm, args: [upgrade|install], chart: gloo-platform-crds}
- name: expose
  match: {tool: istioctl, args: [multicluster, expose]}
- name: agent profile
  match: {tool: meshctl, args: [cluster, register], flags: {profiles: gloo-mesh-agent}}
"#;

    fn rules() -> SimToolRules {
        SimToolRules::from_texts(&[("t.yaml".into(), RULES.into())]).unwrap()
    }

    fn find(tool: &str, argv: &str) -> Option<String> {
        let rules = rules();
        let argv: Vec<String> = argv.split_whitespace().map(String::from).collect();
        let call = SimCall::parse(tool, &argv, &rules.boolean_flags);
        rules.find(&call).map(|r| r.name.clone())
    }

    #[test]
    fn the_most_specific_rule_wins() {
        assert_eq!(
            find("helm", "upgrade --install r oci://x/y/gloo-platform-crds").as_deref(),
            Some("crds")
        );
        assert_eq!(
            find("helm", "install r repo/gloo-platform-crds").as_deref(),
            Some("crds")
        );
        assert_eq!(
            find("helm", "upgrade --install r repo/not-gloo-platform-crds").as_deref(),
            Some("any helm upgrade")
        );
        assert_eq!(
            find("istioctl", "--context=a multicluster expose -n x").as_deref(),
            Some("expose")
        );
        assert_eq!(find("istioctl", "multicluster link").as_deref(), None);
        assert_eq!(
            find("meshctl", "cluster register c2 --profiles gloo-mesh-agent").as_deref(),
            Some("agent profile")
        );
        assert_eq!(find("meshctl", "cluster register c2").as_deref(), None);
    }

    #[test]
    fn malformed_files_are_named() {
        let err = SimToolRules::from_texts(&[("bad.yaml".into(), "rules: [{name: x}]".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("(bad.yaml)") && err.contains("match"), "{err}");
    }
}

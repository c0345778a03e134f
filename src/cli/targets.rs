//! Which clusters a run targets: every logical cluster mapped to a kube context (by
//! `--context NAME=CTX` or the environment variable the header names), none mapped (simulated
//! clusters), or an error naming what is missing.

use crate::problem::Problem;
use crate::runbook::ClusterDecl;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The runbook declares no clusters.
    None,
    /// Simulated clusters, one per logical cluster.
    Simulated(Vec<String>),
    /// Logical cluster -> kube context.
    Real(Vec<(String, String)>),
}

impl Target {
    /// How the first line of output names the target.
    pub fn describe(&self) -> String {
        match self {
            Target::None => "no clusters".to_string(),
            Target::Simulated(names) => format!("simulated clusters: {}", names.join(", ")),
            Target::Real(map) => format!(
                "contexts: {}",
                map.iter()
                    .map(|(n, c)| format!("{n}={c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// `simulated`, `none`, or the contexts, for reports.
    pub fn report_name(&self) -> String {
        match self {
            Target::None => "none".into(),
            Target::Simulated(_) => "simulated".into(),
            Target::Real(map) => map
                .iter()
                .map(|(n, c)| format!("{n}={c}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Parses `NAME=VALUE` flags.
pub fn parse_pairs(flag: &str, pairs: &[String]) -> Result<Vec<(String, String)>, Problem> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Problem::new(format!("{flag} `{p}` is not NAME=VALUE"))),
        })
        .collect()
}

/// Resolves the target. `env` reads the environment (injected for tests).
pub fn resolve(
    declared: &[ClusterDecl],
    contexts: &[(String, String)],
    force_sim: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Target, Problem> {
    for (name, _) in contexts {
        if !declared.iter().any(|d| &d.name == name) {
            return Err(Problem::new(format!(
                "--context {name}=...: the runbook declares no cluster `{name}`{}",
                if declared.is_empty() {
                    " (it declares none in a header, and calls `cluster(\"...\")` with no literal name)".to_string()
                } else {
                    format!(" (it declares {})", names(declared))
                }
            )));
        }
    }
    if declared.is_empty() {
        return Ok(Target::None);
    }
    if force_sim {
        if !contexts.is_empty() {
            return Err(
                "--sim and --context exclude each other: simulated clusters have no kube context"
                    .into(),
            );
        }
        return Ok(Target::Simulated(
            declared.iter().map(|d| d.name.clone()).collect(),
        ));
    }
    let mut mapped = Vec::new();
    let mut missing = Vec::new();
    for d in declared {
        let from_flag = contexts
            .iter()
            .rev()
            .find(|(n, _)| n == &d.name)
            .map(|(_, c)| c.clone());
        let from_env = d
            .env
            .as_deref()
            .and_then(&env)
            .filter(|v| !v.trim().is_empty());
        match from_flag.or(from_env) {
            Some(ctx) => mapped.push((d.name.clone(), ctx)),
            None => missing.push(d),
        }
    }
    if mapped.is_empty() {
        return Ok(Target::Simulated(
            declared.iter().map(|d| d.name.clone()).collect(),
        ));
    }
    if missing.is_empty() {
        return Ok(Target::Real(mapped));
    }
    let how: Vec<String> = missing
        .iter()
        .map(|d| match &d.env {
            Some(var) => format!(
                "`{}` (pass --context {}=CONTEXT or export {var})",
                d.name, d.name
            ),
            None => format!("`{}` (pass --context {}=CONTEXT)", d.name, d.name),
        })
        .collect();
    Err(Problem::new(format!(
        "some clusters are mapped to contexts and some are not; map every cluster, or none to rehearse on simulated clusters. Missing: {}",
        how.join(", ")
    )))
}

fn names(declared: &[ClusterDecl]) -> String {
    declared
        .iter()
        .map(|d| format!("`{}`", d.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl() -> Vec<ClusterDecl> {
        vec![
            ClusterDecl {
                name: "cluster1".into(),
                env: Some("CLUSTER1".into()),
            },
            ClusterDecl {
                name: "cluster2".into(),
                env: Some("CLUSTER2".into()),
            },
        ]
    }

    #[test]
    fn none_mapped_is_simulated() {
        let t = resolve(&decl(), &[], false, |_| None).unwrap();
        assert_eq!(
            t,
            Target::Simulated(vec!["cluster1".into(), "cluster2".into()])
        );
    }

    #[test]
    fn flags_win_over_environment() {
        let env = |k: &str| (k == "CLUSTER1" || k == "CLUSTER2").then(|| format!("env-{k}"));
        let t = resolve(
            &decl(),
            &[("cluster1".into(), "flag-ctx".into())],
            false,
            env,
        )
        .unwrap();
        assert_eq!(
            t,
            Target::Real(vec![
                ("cluster1".into(), "flag-ctx".into()),
                ("cluster2".into(), "env-CLUSTER2".into())
            ])
        );
    }

    #[test]
    fn partial_mapping_lists_what_is_missing() {
        let err =
            resolve(&decl(), &[("cluster1".into(), "a".into())], false, |_| None).unwrap_err();
        assert!(
            err.to_string().contains("`cluster2`") && err.to_string().contains("export CLUSTER2"),
            "{err}"
        );
    }

    #[test]
    fn unknown_cluster_and_sim_conflicts_are_errors() {
        assert!(
            resolve(&decl(), &[("mgmt".into(), "x".into())], false, |_| None)
                .unwrap_err()
                .to_string()
                .contains("`mgmt`")
        );
        assert!(resolve(&decl(), &[("cluster1".into(), "x".into())], true, |_| None).is_err());
        let env = |_: &str| Some("ctx".to_string());
        assert!(matches!(
            resolve(&decl(), &[], true, env).unwrap(),
            Target::Simulated(_)
        ));
    }

    #[test]
    fn pairs_parse() {
        assert_eq!(
            parse_pairs("--set", &["A=b=c".into()]).unwrap(),
            vec![("A".into(), "b=c".into())]
        );
        assert!(parse_pairs("--set", &["nope".into()]).is_err());
    }
}

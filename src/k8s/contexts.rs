//! From logical cluster names to kubeconfig contexts, and connecting to them.
//!
//! meshbook never sends a request to a context that was not mapped: only the contexts of the
//! map `cli::targets` resolved are turned into clients.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::clusters::{Cluster, ClusterSet};
use super::error::{api_message, chain, K8sError, Result};

/// Connect timeout for real clusters: an unreachable one fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for `/version` at start.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A logical cluster a runbook wants, and the context it was mapped to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Logical name (`cluster1`).
    pub name: String,
    /// Context from `--context NAME=CTX` or the runbook's environment variable.
    pub context: Option<String>,
    /// The environment variable that maps it (for the "what is missing" message).
    pub env_var: Option<String>,
}

/// Reads the kubeconfig: `KUBECONFIG` (`:`-separated files merged as kubectl does: the first
/// file to set a value wins) or `~/.kube/config`. `kubeconfig_var` is the variable's value.
pub fn load_kubeconfig(kubeconfig_var: Option<&OsStr>) -> Result<Kubeconfig> {
    let paths: Vec<PathBuf> = match kubeconfig_var {
        Some(v) => std::env::split_paths(v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => Vec::new(),
    };
    let paths = if paths.is_empty() {
        vec![dirs::home_dir()
            .unwrap_or_default()
            .join(".kube")
            .join("config")]
    } else {
        paths
    };
    paths
        .iter()
        .try_fold(Kubeconfig::default(), |merged, p| {
            Kubeconfig::read_from(p).and_then(|c| merged.merge(c))
        })
        .map_err(|source| K8sError::Kubeconfig {
            source: Box::new(source),
        })
}

/// Checks that every mapped context exists in the kubeconfig, before any request is sent;
/// returns `(logical name, context)` pairs. Which clusters are real, simulated or missing a
/// mapping is decided once, by `cli::targets`; a cluster without a context here is skipped.
pub fn resolve_contexts(
    wanted: &[Wanted],
    kubeconfig: impl FnOnce() -> Result<Kubeconfig>,
) -> Result<Vec<(String, String)>> {
    let mapped: Vec<&Wanted> = wanted.iter().filter(|w| w.context.is_some()).collect();
    if mapped.is_empty() {
        return Ok(Vec::new());
    }
    let config = kubeconfig()?;
    let available: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
    let mut out = Vec::new();
    for w in mapped {
        let ctx = w.context.clone().unwrap_or_default();
        if !available.contains(&ctx.as_str()) {
            return Err(K8sError::UnknownContext {
                cluster: w.name.clone(),
                context: ctx,
                available: if available.is_empty() {
                    "none".to_string()
                } else {
                    available
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
        out.push((w.name.clone(), ctx));
    }
    Ok(out)
}

/// Builds a client for one context and checks that it answers `/version` (fast: short connect
/// timeout). The cluster remembers its version (`Cluster::version`).
pub async fn connect(name: &str, context: &str, kubeconfig: &Kubeconfig) -> Result<Cluster> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let client_error = |cause: String| K8sError::ClientConfig {
        context: context.to_string(),
        cause,
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .map_err(|e| client_error(chain(&e)))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // meshbook retries transient failures itself (k8s::retry), for real and simulated alike.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| client_error(chain(&e)))?;
    let cluster = Cluster::new(
        name,
        Some(context.to_string()),
        server.trim_end_matches('/'),
        client,
    );
    let unreachable = |cause: String| K8sError::Unreachable {
        cluster: name.to_string(),
        context: context.to_string(),
        server: cluster.server().to_string(),
        cause,
    };
    match tokio::time::timeout(PROBE_TIMEOUT, cluster.probe()).await {
        Ok(Ok(_)) => Ok(cluster),
        Ok(Err(e)) => Err(unreachable(api_message(&e))),
        Err(_) => Err(unreachable(format!(
            "no answer to /version within {}s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// Connects to every mapped cluster in parallel; the first failure (in map order) is returned.
pub async fn connect_all(map: &[(String, String)], kubeconfig: &Kubeconfig) -> Result<ClusterSet> {
    let results =
        futures::future::join_all(map.iter().map(|(name, ctx)| connect(name, ctx, kubeconfig)))
            .await;
    let clusters = results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(ClusterSet::new(clusters))
}

/// The line printed at start: `cluster1 -> ctx (https://host:6443, v1.32)`.
pub fn describe(cluster: &Cluster) -> String {
    match cluster.context() {
        Some(ctx) => format!(
            "{} -> {ctx} ({}, {})",
            cluster.name(),
            cluster.server(),
            cluster.version().unwrap_or("unknown version")
        ),
        None => format!("{} -> simulated ({})", cluster.name(), cluster.server()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str, ctx: Option<&str>, var: Option<&str>) -> Wanted {
        Wanted {
            name: name.into(),
            context: ctx.map(String::from),
            env_var: var.map(String::from),
        }
    }

    fn kubeconfig() -> Result<Kubeconfig> {
        Ok(Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- name: kind-a\n  context: {cluster: a, user: a}\n- name: kind-b\n  context: {cluster: b, user: b}\n",
        )
        .unwrap())
    }

    #[test]
    fn nothing_mapped_reads_no_kubeconfig() {
        let map = resolve_contexts(
            &[w("cluster1", None, None), w("cluster2", None, None)],
            || panic!("kubeconfig read"),
        )
        .unwrap();
        assert!(map.is_empty());
    }

    #[test]
    fn all_mapped_to_known_contexts() {
        let map = resolve_contexts(
            &[
                w("cluster1", Some("kind-a"), None),
                w("cluster2", Some("kind-b"), None),
            ],
            kubeconfig,
        )
        .unwrap();
        assert_eq!(
            map,
            vec![
                ("cluster1".to_string(), "kind-a".to_string()),
                ("cluster2".to_string(), "kind-b".to_string())
            ]
        );
    }

    #[test]
    fn an_unknown_context_is_named_with_the_available_ones() {
        let e = resolve_contexts(&[w("cluster1", Some("kind-z"), None)], kubeconfig)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "context `kind-z` (for `cluster1`) is not in the kubeconfig; available contexts: `kind-a`, `kind-b`"
        );
    }

    #[test]
    fn kubeconfig_files_merge_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "apiVersion: v1\nkind: Config\ncurrent-context: one\ncontexts:\n- name: one\n  context: {cluster: c1, user: u}\n").unwrap();
        std::fs::write(&b, "apiVersion: v1\nkind: Config\ncurrent-context: two\ncontexts:\n- name: two\n  context: {cluster: c2, user: u}\n- name: one\n  context: {cluster: other, user: u}\n").unwrap();
        let joined = std::env::join_paths([&a, &b]).unwrap();
        let k = load_kubeconfig(Some(&joined)).unwrap();
        let names: Vec<_> = k.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(k.current_context.as_deref(), Some("one"));
        assert_eq!(k.contexts[0].context.as_ref().unwrap().cluster, "c1");
    }
}

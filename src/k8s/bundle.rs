//! The failure bundle: what a person needs to see when a section fails, from every cluster.

use serde::Serialize;
use serde_json::Value;

use super::clusters::{Cluster, ClusterSet};
use super::events::{render_events, EventSummary};
use super::pods::{default_container, LogOptions};
use super::rollout::{
    conditions_lines, daemonset_status, deployment_status, pod_ready, replica_counts, RolloutStatus,
};

/// Events kept per namespace.
const EVENTS: usize = 20;
/// Log lines kept per failing pod.
const LOG_LINES: i64 = 20;
/// Failing pods whose logs are fetched per namespace.
const LOGGED_PODS: usize = 5;

/// Everything gathered, per cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Bundle {
    /// One entry per cluster.
    pub clusters: Vec<ClusterBundle>,
}

/// What one cluster showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterBundle {
    /// Logical name.
    pub cluster: String,
    /// Per namespace.
    pub namespaces: Vec<NamespaceBundle>,
    /// Errors met while gathering (the bundle is best effort).
    pub errors: Vec<String>,
}

/// What one namespace showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamespaceBundle {
    /// Namespace.
    pub namespace: String,
    /// Recent Events, oldest first.
    pub events: Vec<EventSummary>,
    /// Deployments, DaemonSets and Pods that are not ready.
    pub not_ready: Vec<NotReady>,
    /// Last log lines of failing pods.
    pub logs: Vec<PodLog>,
}

/// A workload that is not ready, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotReady {
    /// `Deployment`, `DaemonSet` or `Pod`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Rollout message, replica counts or pod phase.
    pub summary: String,
    /// Conditions, one per line.
    pub conditions: Vec<String>,
}

/// The tail of a failing pod's log.
#[derive(Debug, Clone, Serialize)]
pub struct PodLog {
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// Last lines.
    pub lines: String,
}

/// Gathers the bundle from every cluster concurrently, for the given namespaces. Never
/// fails: what cannot be read is listed under `errors`.
pub async fn gather_bundle(clusters: &ClusterSet, namespaces: &[String]) -> Bundle {
    let per_cluster = clusters
        .parallel(|c| async move { gather_cluster(&c, namespaces).await })
        .await;
    Bundle {
        clusters: per_cluster,
    }
}

async fn gather_cluster(c: &Cluster, namespaces: &[String]) -> ClusterBundle {
    let mut out = ClusterBundle {
        cluster: c.name().to_string(),
        ..ClusterBundle::default()
    };
    let results =
        futures::future::join_all(namespaces.iter().map(|ns| gather_namespace(c, ns))).await;
    for (nb, errors) in results {
        out.namespaces.push(nb);
        out.errors.extend(errors);
    }
    out
}

async fn gather_namespace(c: &Cluster, ns: &str) -> (NamespaceBundle, Vec<String>) {
    let mut errors = Vec::new();
    let mut nb = NamespaceBundle {
        namespace: ns.to_string(),
        ..NamespaceBundle::default()
    };
    match c.recent_events(ns, None, EVENTS).await {
        Ok(e) => nb.events = e,
        Err(e) => errors.push(e.to_string()),
    }
    for (kind, rule) in [
        (
            "deployments.apps",
            deployment_status as fn(&Value) -> RolloutStatus,
        ),
        ("daemonsets.apps", daemonset_status),
    ] {
        match c.list(kind, Some(ns), None).await {
            Ok(items) => {
                for o in items {
                    if let RolloutStatus::Pending(m) | RolloutStatus::Failed(m) = rule(&o) {
                        nb.not_ready.push(not_ready(&o, m));
                    }
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    match c.list("pods", Some(ns), None).await {
        Ok(pods) => {
            let failing: Vec<Value> = pods
                .into_iter()
                .filter(|p| !pod_ready(p) && !succeeded(p))
                .collect();
            for p in failing.iter().take(LOGGED_PODS) {
                let name = p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let container = default_container(p).unwrap_or_default();
                let opts = LogOptions {
                    tail: Some(LOG_LINES),
                    ..LogOptions::default()
                };
                match c.logs(ns, &format!("pod/{name}"), &opts).await {
                    Ok(lines) => nb.logs.push(PodLog {
                        pod: name,
                        container,
                        lines,
                    }),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            for p in &failing {
                nb.not_ready.push(not_ready(p, pod_summary(p)));
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    (nb, errors)
}

/// `phase Pending; app: ImagePullBackOff (Back-off pulling image "x"), restarts 3`.
pub fn pod_summary(pod: &Value) -> String {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let mut parts = vec![format!("phase {phase}")];
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    for c in statuses.into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("?");
        let state = ["waiting", "terminated"]
            .iter()
            .find_map(|k| c["state"].get(*k).filter(|s| s["reason"].is_string()));
        let mut line = String::new();
        if let Some(s) = state {
            line.push_str(&format!(
                "{name}: {}",
                s["reason"].as_str().unwrap_or_default()
            ));
            if let Some(m) = s["message"].as_str().filter(|m| !m.is_empty()) {
                line.push_str(&format!(" ({m})"));
            }
        }
        let restarts = c["restartCount"].as_i64().unwrap_or(0);
        if restarts > 0 {
            if line.is_empty() {
                line.push_str(name);
            }
            line.push_str(&format!(", restarts {restarts}"));
        }
        if !line.is_empty() {
            parts.push(line);
        }
    }
    parts.join("; ")
}

fn succeeded(pod: &Value) -> bool {
    pod.pointer("/status/phase").and_then(Value::as_str) == Some("Succeeded")
}

fn not_ready(o: &Value, message: String) -> NotReady {
    let summary = match replica_counts(o) {
        Some(c) => format!("{message} ({c})"),
        None => message,
    };
    NotReady {
        kind: o["kind"].as_str().unwrap_or_default().to_string(),
        name: o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        summary,
        conditions: conditions_lines(o),
    }
}

impl Bundle {
    /// Whether nothing worth showing was found.
    pub fn is_empty(&self) -> bool {
        self.clusters.iter().all(|c| {
            c.errors.is_empty()
                && c.namespaces
                    .iter()
                    .all(|n| n.events.is_empty() && n.not_ready.is_empty() && n.logs.is_empty())
        })
    }

    /// Plain text for the terminal and the reports.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for c in &self.clusters {
            s.push_str(&format!("== {} ==\n", c.cluster));
            for n in &c.namespaces {
                s.push_str(&format!("-- namespace {} --\n", n.namespace));
                if !n.not_ready.is_empty() {
                    s.push_str("not ready:\n");
                    for r in &n.not_ready {
                        s.push_str(&format!("  {} {}: {}\n", r.kind, r.name, r.summary));
                        for cond in &r.conditions {
                            s.push_str(&format!("    {cond}\n"));
                        }
                    }
                }
                if !n.events.is_empty() {
                    s.push_str("events:");
                    s.push_str(&render_events(&n.events, "  "));
                    s.push('\n');
                }
                for l in &n.logs {
                    s.push_str(&format!("logs of pod/{}/{}:\n", l.pod, l.container));
                    for line in l.lines.lines() {
                        s.push_str(&format!("  {line}\n"));
                    }
                }
            }
            for e in &c.errors {
                s.push_str(&format!("could not gather: {e}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_say_why_they_are_not_ready() {
        let p = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"name": "app", "restartCount": 3, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}},
            {"name": "proxy", "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(
            pod_summary(&p),
            "phase Pending; app: ImagePullBackOff (Back-off pulling image), restarts 3"
        );
        assert_eq!(pod_summary(&json!({})), "phase Unknown");
    }

    #[test]
    fn renders_not_ready_workloads_events_and_logs() {
        let b = Bundle {
            clusters: vec![ClusterBundle {
                cluster: "cluster1".into(),
                namespaces: vec![NamespaceBundle {
                    namespace: "shop".into(),
                    events: vec![],
                    not_ready: vec![not_ready(
                        &json!({"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2},
                                "status": {"conditions": [{"type": "Available", "status": "False"}]}}),
                        "waiting".into(),
                    )],
                    logs: vec![PodLog {
                        pod: "web-1".into(),
                        container: "app".into(),
                        lines: "boom\n".into(),
                    }],
                }],
                errors: vec![],
            }],
        };
        let text = b.render_text();
        assert!(
            text.contains("  Deployment web: waiting (wanted 2)\n    Available=False\n"),
            "{text}"
        );
        assert!(text.contains("logs of pod/web-1/app:\n  boom\n"), "{text}");
        assert!(!b.is_empty());
        assert!(serde_json::to_string(&b)
            .unwrap()
            .contains("\"cluster\":\"cluster1\""));
    }
}

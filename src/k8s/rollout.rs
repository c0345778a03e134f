//! kubectl's rollout-status rules, as pure functions over objects.

use serde_json::Value;

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStatus {
    /// Rolled out.
    Done(String),
    /// Still going; the message is kubectl's.
    Pending(String),
    /// Failed for good (progress deadline exceeded).
    Failed(String),
}

fn int(obj: &Value, ptr: &str) -> Option<i64> {
    obj.pointer(ptr).and_then(Value::as_i64)
}

/// The `status.conditions[]` entry of a type.
pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
}

/// Whether `status.conditions[type].status` is `True` (type compared case-insensitively, as
/// `kubectl wait --for=condition=` does).
pub fn condition_true(obj: &Value, kind: &str) -> bool {
    condition(obj, kind).is_some_and(|c| c["status"] == "True")
}

/// kubectl's `DeploymentStatusViewer`: observedGeneration caught up, every replica updated,
/// no old replica left, every updated replica available; ProgressDeadlineExceeded fails.
pub fn deployment_status(deploy: &Value) -> RolloutStatus {
    let name = deploy
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let generation = int(deploy, "/metadata/generation").unwrap_or(0);
    let observed = int(deploy, "/status/observedGeneration").unwrap_or(0);
    if generation > observed {
        return RolloutStatus::Pending("waiting for deployment spec update to be observed".into());
    }
    if condition(deploy, "Progressing").is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return RolloutStatus::Failed(format!(
            "deployment {name:?} exceeded its progress deadline"
        ));
    }
    let updated = int(deploy, "/status/updatedReplicas").unwrap_or(0);
    let replicas = int(deploy, "/status/replicas").unwrap_or(0);
    let available = int(deploy, "/status/availableReplicas").unwrap_or(0);
    if let Some(wanted) = int(deploy, "/spec/replicas") {
        if updated < wanted {
            return RolloutStatus::Pending(format!(
                "waiting for deployment {name:?} rollout to finish: {updated} out of {wanted} new replicas have been updated"
            ));
        }
    }
    if replicas > updated {
        return RolloutStatus::Pending(format!(
            "waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return RolloutStatus::Pending(format!(
            "waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available"
        ));
    }
    RolloutStatus::Done(format!("deployment {name:?} successfully rolled out"))
}

/// kubectl's `DaemonSetStatusViewer` (RollingUpdate strategy).
pub fn daemonset_status(ds: &Value) -> RolloutStatus {
    let name = ds
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let generation = int(ds, "/metadata/generation").unwrap_or(0);
    let observed = int(ds, "/status/observedGeneration").unwrap_or(0);
    if generation > observed {
        return RolloutStatus::Pending("waiting for daemon set spec update to be observed".into());
    }
    let desired = int(ds, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(ds, "/status/updatedNumberScheduled").unwrap_or(0);
    let available = int(ds, "/status/numberAvailable").unwrap_or(0);
    if updated < desired {
        return RolloutStatus::Pending(format!(
            "waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated"
        ));
    }
    if available < desired {
        return RolloutStatus::Pending(format!(
            "waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available"
        ));
    }
    RolloutStatus::Done(format!("daemon set {name:?} successfully rolled out"))
}

/// Whether a pod is Ready (condition) and not terminating.
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none() && condition_true(pod, "Ready")
}

/// `replicas 3, updated 2, ready 2, available 2` from a Deployment or DaemonSet status.
pub fn replica_counts(obj: &Value) -> Option<String> {
    let status = obj.get("status")?.as_object()?;
    let keys = [
        ("replicas", "replicas"),
        ("updatedReplicas", "updated"),
        ("readyReplicas", "ready"),
        ("availableReplicas", "available"),
        ("desiredNumberScheduled", "desired"),
        ("updatedNumberScheduled", "updated"),
        ("numberReady", "ready"),
        ("numberAvailable", "available"),
    ];
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|(k, label)| {
            status
                .get(*k)
                .and_then(Value::as_i64)
                .map(|n| format!("{label} {n}"))
        })
        .collect();
    let wanted = obj.pointer("/spec/replicas").and_then(Value::as_i64);
    if parts.is_empty() && wanted.is_none() {
        return None;
    }
    let mut out = String::new();
    if let Some(w) = wanted {
        out.push_str(&format!("wanted {w}"));
        if !parts.is_empty() {
            out.push_str(", ");
        }
    }
    out.push_str(&parts.join(", "));
    Some(out)
}

/// One line per condition: `Available=False (MinimumReplicasUnavailable): message`.
pub fn conditions_lines(obj: &Value) -> Vec<String> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let mut s = format!(
                        "{}={}",
                        c["type"].as_str().unwrap_or("?"),
                        c["status"].as_str().unwrap_or("?")
                    );
                    if let Some(r) = c["reason"].as_str().filter(|r| !r.is_empty()) {
                        s.push_str(&format!(" ({r})"));
                    }
                    if let Some(m) = c["message"].as_str().filter(|m| !m.is_empty()) {
                        s.push_str(&format!(": {m}"));
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(generation: i64, observed: i64, spec: i64, status: Value) -> Value {
        let mut s = status;
        s["observedGeneration"] = json!(observed);
        json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": spec}, "status": s})
    }

    #[test]
    fn every_kubectl_rule_in_order() {
        let d = deploy(2, 1, 1, json!({}));
        assert!(
            matches!(deployment_status(&d), RolloutStatus::Pending(m) if m.contains("spec update"))
        );
        let d = deploy(1, 1, 3, json!({"replicas": 3, "updatedReplicas": 1}));
        assert!(
            matches!(deployment_status(&d), RolloutStatus::Pending(m) if m.contains("1 out of 3 new replicas"))
        );
        let d = deploy(1, 1, 2, json!({"replicas": 3, "updatedReplicas": 2}));
        assert!(
            matches!(deployment_status(&d), RolloutStatus::Pending(m) if m.contains("1 old replicas"))
        );
        let d = deploy(
            1,
            1,
            2,
            json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert!(
            matches!(deployment_status(&d), RolloutStatus::Pending(m) if m.contains("1 of 2 updated replicas are available"))
        );
        let d = deploy(
            1,
            1,
            2,
            json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(
            deployment_status(&d),
            RolloutStatus::Done("deployment \"web\" successfully rolled out".into())
        );
        let d = deploy(0, 0, 0, json!({}));
        assert!(matches!(deployment_status(&d), RolloutStatus::Done(_)));
    }

    #[test]
    fn progress_deadline_fails() {
        let d = deploy(
            1,
            1,
            1,
            json!({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        );
        assert!(
            matches!(deployment_status(&d), RolloutStatus::Failed(m) if m.contains("progress deadline"))
        );
    }

    #[test]
    fn daemonsets_and_pods() {
        let ds = json!({"metadata": {"name": "z", "generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1}});
        assert!(matches!(daemonset_status(&ds), RolloutStatus::Pending(_)));
        let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(pod_ready(&pod));
        assert!(!pod_ready(&json!({"status": {}})));
    }

    #[test]
    fn last_seen_renders_counts_and_conditions() {
        let d = deploy(
            1,
            1,
            2,
            json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "need 2"}]}),
        );
        assert_eq!(
            replica_counts(&d).unwrap(),
            "wanted 2, replicas 2, updated 2, available 1"
        );
        assert_eq!(
            conditions_lines(&d),
            ["Available=False (MinimumReplicasUnavailable): need 2"]
        );
        assert!(condition_true(
            &json!({"status": {"conditions": [{"type": "Programmed", "status": "True"}]}}),
            "programmed"
        ));
    }
}

//! Why a workload's pods are not ready: the first failing pod, its reason in the kubelet's
//! words, and what to do about it (for the timeout of a rollout wait).

use serde_json::Value;

use super::clusters::Cluster;

/// What one failing pod says: `pod NS/NAME: container C is REASON (MESSAGE): ADVICE`.
pub fn diagnose_pod(pod: &Value) -> Option<String> {
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return None;
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let statuses = pod["status"]["containerStatuses"].as_array()?;
    for cs in statuses {
        if cs["ready"] == true {
            continue;
        }
        let cn = cs["name"].as_str().unwrap_or_default();
        let waiting = &cs["state"]["waiting"];
        let (reason, message) = if let Some(r) = waiting["reason"].as_str() {
            (
                r.to_string(),
                waiting["message"].as_str().unwrap_or_default().to_string(),
            )
        } else if cs["state"]["running"].is_object() {
            ("running but not ready".to_string(), String::new())
        } else {
            continue;
        };
        let advice = match reason.as_str() {
            "ImagePullBackOff" | "ErrImagePull" => {
                "the image cannot be pulled: check its name and tag (and the registry credentials, imagePullSecrets) in the pod template, then apply it again".to_string()
            }
            "InvalidImageName" => {
                "the image reference does not parse: fix it in the pod template, then apply it again".to_string()
            }
            "CrashLoopBackOff" => {
                let code = cs["lastState"]["terminated"]["exitCode"].as_i64().unwrap_or(0);
                format!("the container exits (exit code {code}, {} restarts): read its previous log (`kubectl logs {name} -n {ns} -c {cn} --previous`) and fix its command or configuration", cs["restartCount"].as_i64().unwrap_or(0))
            }
            "CreateContainerConfigError" => {
                "a ConfigMap or Secret the container needs is missing: create it or fix the reference".to_string()
            }
            _ if cs["state"]["running"].is_object() => {
                "its readiness probe does not pass: check the probe and the endpoint it calls (`kubectl describe pod` shows the probe's failures)".to_string()
            }
            _ => format!("see `kubectl describe pod {name} -n {ns}`"),
        };
        let detail = if message.is_empty() {
            String::new()
        } else {
            format!(" ({message})")
        };
        return Some(format!(
            "pod {ns}/{name}: container {cn} is {reason}{detail}: {advice}"
        ));
    }
    None
}

impl Cluster {
    /// The diagnosis of the first failing pod selected by a workload's `spec.selector`.
    pub(crate) async fn failing_pod(&self, ns: &str, workload: &Value) -> Option<String> {
        let labels = workload["spec"]["selector"]["matchLabels"].as_object()?;
        let selector: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        let pods = self
            .list("pods", Some(ns), Some(&selector.join(",")))
            .await
            .ok()?;
        pods.iter().find_map(diagnose_pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pull_failure_names_the_pod_and_what_to_do() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "shop"},
            "status": {"containerStatuses": [{"name": "web", "ready": false,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"nginx:nope\""}}}]}});
        let d = diagnose_pod(&pod).unwrap();
        assert!(d.starts_with("pod shop/web-1: container web is ImagePullBackOff (Back-off pulling image \"nginx:nope\"): the image cannot be pulled"), "{d}");
        let ready = json!({"metadata": {"name": "ok"}, "status": {"containerStatuses": [{"name": "c", "ready": true}]}});
        assert_eq!(diagnose_pod(&ready), None);
    }
}

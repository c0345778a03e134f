//! The simulated kubelet: pods start (Running, Ready, an IP) or fail on request, with the
//! Events a kubelet records.

use serde_json::{json, Value};

use super::workloads::res;
use super::{events, Outcome};
use crate::sim::cluster::{random_suffix, Cluster};
use crate::sim::store::{meta_str, now};

/// The one node of every simulated cluster.
pub const NODE_NAME: &str = "sim-node-1";

/// Simulated kubelet: a pod starts (Running and Ready), or completes if a Job owns it.
pub fn pod(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("", "pods");
    let Some(p) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    if !p["metadata"]["deletionTimestamp"].is_null() || p["status"]["phase"] != "Pending" {
        return Outcome::Done;
    }
    if let Some(reason) = p["metadata"]["annotations"][FAIL_ANNOTATION].as_str() {
        return fail_pod(c, &p, reason);
    }
    let for_job = p["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o["kind"] == "Job"));
    let t = now();
    let ip = c.next_pod_ip();
    let _ = c.store.modify(&r, ns, name, false, |cur| {
        let mut p = cur.cloned().unwrap_or_default();
        if p["spec"]["nodeName"].is_null() {
            p["spec"]["nodeName"] = json!(NODE_NAME);
        }
        let statuses: Vec<Value> = p["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|ct| {
                let state = if for_job {
                    json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}})
                } else {
                    json!({"running": {"startedAt": t}})
                };
                json!({"name": ct["name"], "image": ct["image"], "imageID": format!("sim://{}", ct["image"].as_str().unwrap_or_default()),
                    "containerID": format!("sim://{}", random_suffix(12)), "ready": !for_job, "started": !for_job,
                    "restartCount": 0, "state": state})
            })
            .collect();
        let ready = if for_job { "False" } else { "True" };
        let cond = |ty: &str, st: &str| json!({"type": ty, "status": st, "lastProbeTime": null, "lastTransitionTime": t});
        p["status"] = json!({
            "phase": if for_job { "Succeeded" } else { "Running" },
            "conditions": [cond("PodReadyToStartContainers", "True"), cond("Initialized", "True"),
                cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", "True")],
            "hostIP": "172.18.0.2", "hostIPs": [{"ip": "172.18.0.2"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t, "qosClass": "BestEffort",
            "containerStatuses": statuses,
        });
        Ok(p)
    });
    if let Some(p) = c.store.get(&r, ns, name) {
        let node = p["spec"]["nodeName"]
            .as_str()
            .unwrap_or(NODE_NAME)
            .to_string();
        events::record(
            c,
            &p,
            "Normal",
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {node}"),
            "default-scheduler",
        );
        for ct in p["spec"]["containers"].as_array().into_iter().flatten() {
            let cn = ct["name"].as_str().unwrap_or_default();
            let image = ct["image"].as_str().unwrap_or_default();
            events::record(
                c,
                &p,
                "Normal",
                "Pulled",
                &format!("Container image \"{image}\" already present on machine (simulated)"),
                "kubelet",
            );
            events::record(
                c,
                &p,
                "Normal",
                "Created",
                &format!("Created container {cn}"),
                "kubelet",
            );
            events::record(
                c,
                &p,
                "Normal",
                "Started",
                &format!("Started container {cn}"),
                "kubelet",
            );
        }
    }
    Outcome::Done
}

/// Pod annotation that makes the simulated kubelet fail the pod with this reason
/// (`ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, ...), to rehearse failures.
pub const FAIL_ANNOTATION: &str = "sim.meshbook.dev/fail";

fn fail_pod(c: &Cluster, p: &Value, reason: &str) -> Outcome {
    let ns = meta_str(p, "namespace").to_string();
    let name = meta_str(p, "name").to_string();
    if p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == reason {
        return Outcome::Done;
    }
    let crash = reason.contains("Crash");
    let t = now();
    let ip = c.next_pod_ip();
    let _ = c.store.modify(&res("", "pods"), &ns, &name, false, |cur| {
        let mut p = cur.cloned().unwrap_or_default();
        if p["spec"]["nodeName"].is_null() {
            p["spec"]["nodeName"] = json!(NODE_NAME);
        }
        let statuses: Vec<Value> = p["spec"]["containers"].as_array().into_iter().flatten().map(|ct| {
            let msg = if crash {
                format!("back-off 5m0s restarting failed container={} pod={name}", ct["name"].as_str().unwrap_or_default())
            } else {
                format!("Back-off pulling image \"{}\"", ct["image"].as_str().unwrap_or_default())
            };
            json!({"name": ct["name"], "image": ct["image"], "imageID": "", "ready": false, "started": false,
                "restartCount": if crash { 5 } else { 0 }, "state": {"waiting": {"reason": reason, "message": msg}}})
        }).collect();
        let cond = |ty: &str, st: &str| json!({"type": ty, "status": st, "lastProbeTime": null, "lastTransitionTime": t});
        p["status"] = json!({"phase": if crash { "Running" } else { "Pending" },
            "conditions": [cond("Initialized", "True"), cond("Ready", "False"), cond("ContainersReady", "False"), cond("PodScheduled", "True")],
            "hostIP": "172.18.0.2", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t, "qosClass": "BestEffort",
            "containerStatuses": statuses});
        Ok(p)
    });
    if let Some(p) = c.store.get(&res("", "pods"), &ns, &name) {
        for ct in p["spec"]["containers"].as_array().into_iter().flatten() {
            let image = ct["image"].as_str().unwrap_or_default();
            let msg = if crash {
                format!(
                    "Back-off restarting failed container {} in pod {name}",
                    ct["name"].as_str().unwrap_or_default()
                )
            } else {
                format!("Failed to pull image \"{image}\": simulated failure ({reason})")
            };
            events::record(
                c,
                &p,
                "Warning",
                if crash { "BackOff" } else { "Failed" },
                &msg,
                "kubelet",
            );
        }
    }
    Outcome::Done
}

//! The simulated kubelet: pods start (Running, Ready, an IP) or fail as a real kubelet fails
//! them (see `failures.rs`), with the Events a kubelet records.

use serde_json::{json, Value};

use super::workloads::res;
use super::{events, failures, Outcome};
use crate::sim::cluster::{random_suffix, Cluster};
use crate::sim::store::now;

/// The one node of every simulated cluster.
pub const NODE_NAME: &str = "sim-node-1";

/// Simulated kubelet: a pod starts (Running and Ready), or completes if a Job owns it.
pub fn pod(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("", "pods");
    let Some(p) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    if !p["metadata"]["deletionTimestamp"].is_null() {
        return Outcome::Done;
    }
    let for_job = p["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|a| a.iter().any(|o| o["kind"] == "Job"));
    if let Some(f) = failures::planned(&p, &c.opts.fail_images) {
        if !for_job || !matches!(f, failures::Failure::NotReady) {
            return failures::step(c, &p, &f);
        }
    }
    if p["status"]["phase"] != "Pending" {
        return Outcome::Done;
    }
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
                &format!("Container image \"{image}\" already present on machine"),
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

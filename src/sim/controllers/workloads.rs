//! Deployment -> ReplicaSet -> Pods, DaemonSets, StatefulSets, Jobs and pod start-up.

use serde_json::{json, Value};

use super::{events, Outcome};
use crate::sim::cluster::{random_suffix, Cluster};
use crate::sim::resources::ResKey;
use crate::sim::store::{meta_str, now};

pub const NODE_NAME: &str = "sim-node-1";

fn res(group: &str, plural: &str) -> ResKey {
    ResKey::new(group, plural)
}

/// A short stable hash of a pod template (`pod-template-hash`).
pub fn template_hash(template: &Value) -> String {
    // FNV-1a over the canonical JSON
    let s = serde_json::to_string(template).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| CHARS[((h >> (i * 6)) % CHARS.len() as u64) as usize] as char)
        .collect()
}

fn controller_ref(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

fn owned(c: &Cluster, r: &ResKey, ns: &str, owner: &Value) -> Vec<Value> {
    let uid = &owner["metadata"]["uid"];
    c.store
        .list(r, Some(ns))
        .0
        .into_iter()
        .filter(|o| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|x| &x["uid"] == uid))
        })
        .collect()
}

fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn int(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

fn new_pod(owner: &Value, ns: &str, name: &str, template: &Value, extra_labels: &Value) -> Value {
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    if let Some(m) = extra_labels.as_object() {
        for (k, v) in m {
            labels[k] = v.clone();
        }
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
            "ownerReferences": [controller_ref(owner)]},
        "spec": template["spec"].clone()});
    if let Some(a) = template["metadata"]["annotations"].as_object() {
        pod["metadata"]["annotations"] = json!(a);
    }
    pod
}

fn create_pod(c: &Cluster, pod: Value) {
    let Some(def) = c.registry().by_kind("v1", "Pod") else {
        return;
    };
    let ns = meta_str(&pod, "namespace").to_string();
    let _ = c.create(
        &def,
        &ns,
        pod,
        &crate::sim::cluster::WriteOpts::controller("kube-controller-manager"),
    );
}

fn delete(c: &Cluster, r: &ResKey, o: &Value) {
    let _ = c
        .store
        .delete(r, meta_str(o, "namespace"), meta_str(o, "name"), false);
}

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

fn condition(prev: &Value, ty: &str, status: &str, reason: &str, message: &str) -> Value {
    let old = prev["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == ty).cloned());
    let (ltt, lut) = match &old {
        Some(o) if o["status"] == status && o["reason"] == reason => {
            (o["lastTransitionTime"].clone(), o["lastUpdateTime"].clone())
        }
        Some(o) if o["status"] == status => (o["lastTransitionTime"].clone(), json!(now())),
        _ => (json!(now()), json!(now())),
    };
    json!({"type": ty, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": ltt, "lastUpdateTime": lut})
}

/// Deployment -> ReplicaSet for the current template; old ReplicaSets scaled to zero.
pub fn deployment(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let dr = res("apps", "deployments");
    let rr = res("apps", "replicasets");
    let Some(d) = c.store.get(&dr, ns, name) else {
        return Outcome::Done;
    };
    if !d["metadata"]["deletionTimestamp"].is_null() {
        return Outcome::Done;
    }
    let replicas = int(&d["spec"]["replicas"], 1);
    let template = &d["spec"]["template"];
    let hash = template_hash(template);
    let rs_name = format!("{name}-{hash}");
    let sets = owned(c, &rr, ns, &d);
    let revision = |o: &Value| {
        o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let existing = sets
        .iter()
        .find(|s| meta_str(s, "name") == rs_name)
        .cloned();
    let max_rev = sets.iter().map(revision).max().unwrap_or(0);
    let rev = existing
        .as_ref()
        .map(revision)
        .filter(|r| *r == max_rev && *r > 0)
        .unwrap_or(max_rev + 1);
    let paused = d["spec"]["paused"] == true;
    if !paused {
        let mut tpl = template.clone();
        tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let mut selector = d["spec"]["selector"].clone();
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": tpl["metadata"]["labels"],
                "annotations": {"deployment.kubernetes.io/revision": rev.to_string(),
                    "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string()},
                "ownerReferences": [controller_ref(&d)]},
            "spec": {"replicas": replicas, "selector": selector, "template": tpl}});
        let before = existing.as_ref().map(|r| int(&r["spec"]["replicas"], 0));
        if before != Some(replicas) {
            let verb = if before.unwrap_or(0) < replicas {
                "up"
            } else {
                "down"
            };
            events::record(
                c,
                &d,
                "Normal",
                "ScalingReplicaSet",
                &format!(
                    "Scaled {verb} replica set {rs_name} from {} to {replicas}",
                    before.unwrap_or(0)
                ),
                "deployment-controller",
            );
        }
        let _ = c.store.modify(&rr, ns, &rs_name, false, |cur| match cur {
            None => Ok(rs.clone()),
            Some(cur) => {
                let mut n = cur.clone();
                n["spec"]["replicas"] = json!(replicas);
                n["metadata"]["annotations"] = rs["metadata"]["annotations"].clone();
                Ok(n)
            }
        });
        for s in sets.iter().filter(|s| meta_str(s, "name") != rs_name) {
            if int(&s["spec"]["replicas"], 0) != 0 {
                let _ = c.store.modify(&rr, ns, meta_str(s, "name"), false, |cur| {
                    let mut n = cur.cloned().unwrap_or_default();
                    n["spec"]["replicas"] = json!(0);
                    Ok(n)
                });
            }
        }
    }
    // status, only from ReplicaSets whose status is current
    let sets = owned(c, &rr, ns, &d);
    if sets
        .iter()
        .any(|s| s["status"]["observedGeneration"] != s["metadata"]["generation"])
    {
        return Outcome::Done;
    }
    let mut total = 0;
    let mut ready = 0;
    let mut updated = 0;
    for s in &sets {
        let n = int(&s["status"]["replicas"], 0);
        total += n;
        ready += int(&s["status"]["readyReplicas"], 0);
        if meta_str(s, "name") == rs_name {
            updated = n;
        }
    }
    let complete = updated == replicas && total == replicas && ready == replicas;
    let prev = &d["status"];
    let available = condition(
        prev,
        "Available",
        if ready >= replicas.min(1) || complete {
            "True"
        } else {
            "False"
        },
        if ready >= replicas.min(1) || complete {
            "MinimumReplicasAvailable"
        } else {
            "MinimumReplicasUnavailable"
        },
        if ready >= replicas.min(1) || complete {
            "Deployment has minimum availability."
        } else {
            "Deployment does not have minimum availability."
        },
    );
    let progressing = if complete {
        condition(
            prev,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
        )
    } else {
        condition(
            prev,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{rs_name}\" is progressing."),
        )
    };
    let mut status = json!({"observedGeneration": d["metadata"]["generation"], "replicas": total,
        "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [available, progressing]});
    if total > ready {
        status["unavailableReplicas"] = json!(total - ready);
    }
    let _ = c.set_status(&dr, ns, name, status);
    Outcome::Done
}

/// ReplicaSet -> Pods.
pub fn replicaset(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let rr = res("apps", "replicasets");
    let pr = res("", "pods");
    let Some(rs) = c.store.get(&rr, ns, name) else {
        return Outcome::Done;
    };
    if !rs["metadata"]["deletionTimestamp"].is_null() {
        return Outcome::Done;
    }
    let want = int(&rs["spec"]["replicas"], 1).max(0) as usize;
    let pods: Vec<Value> = owned(c, &pr, ns, &rs)
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    if pods.len() < want {
        for _ in pods.len()..want {
            let pod_name = format!("{name}-{}", random_suffix(5));
            let pod = new_pod(&rs, ns, &pod_name, &rs["spec"]["template"], &json!({}));
            create_pod(c, pod);
            events::record(
                c,
                &rs,
                "Normal",
                "SuccessfulCreate",
                &format!("Created pod: {pod_name}"),
                "replicaset-controller",
            );
        }
    } else {
        for p in pods.iter().skip(want) {
            delete(c, &pr, p);
        }
    }
    let pods: Vec<Value> = owned(c, &pr, ns, &rs)
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready,
        "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]});
    let _ = c.set_status(&rr, ns, name, status);
    Outcome::Done
}

/// Keeps the pods named in `names` with the current template hash, removes the rest.
fn converge_named_pods(
    c: &Cluster,
    owner: &Value,
    ns: &str,
    names: &[String],
    hash_label: &str,
    hash: &str,
) -> Vec<Value> {
    let pr = res("", "pods");
    let pods = owned(c, &pr, ns, owner);
    for p in &pods {
        let stale = p["metadata"]["labels"][hash_label] != hash;
        if stale || !names.iter().any(|n| n == meta_str(p, "name")) {
            delete(c, &pr, p);
        }
    }
    for n in names {
        if c.store.get(&pr, ns, n).is_none() {
            let pod = new_pod(
                owner,
                ns,
                n,
                &owner["spec"]["template"],
                &json!({hash_label: hash}),
            );
            create_pod(c, pod);
        }
    }
    owned(c, &pr, ns, owner)
        .into_iter()
        .filter(|p| {
            p["metadata"]["deletionTimestamp"].is_null()
                && p["metadata"]["labels"][hash_label] == hash
        })
        .collect()
}

/// DaemonSet: one pod on the one simulated node.
pub fn daemonset(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("apps", "daemonsets");
    let Some(ds) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    let hash = template_hash(&ds["spec"]["template"]);
    let pod_name = format!("{name}-{}", &hash[..5]);
    let pods = converge_named_pods(c, &ds, ns, &[pod_name], "controller-revision-hash", &hash);
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let status = json!({"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
        "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": pods.len(),
        "observedGeneration": ds["metadata"]["generation"]});
    let _ = c.set_status(&r, ns, name, status);
    Outcome::Done
}

/// StatefulSet: pods `<name>-0..n`.
pub fn statefulset(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("apps", "statefulsets");
    let Some(sts) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    let want = int(&sts["spec"]["replicas"], 1).max(0);
    let hash = template_hash(&sts["spec"]["template"]);
    let names: Vec<String> = (0..want).map(|i| format!("{name}-{i}")).collect();
    let pods = converge_named_pods(
        c,
        &sts,
        ns,
        &names,
        "controller-revision-hash",
        &format!("{name}-{hash}"),
    );
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let rev = format!("{name}-{hash}");
    let status = json!({"replicas": pods.len(), "readyReplicas": ready, "currentReplicas": pods.len(),
        "updatedReplicas": pods.len(), "availableReplicas": ready, "currentRevision": rev, "updateRevision": rev,
        "observedGeneration": sts["metadata"]["generation"], "collisionCount": 0});
    let _ = c.set_status(&r, ns, name, status);
    Outcome::Done
}

/// Job: pods that complete at once; the Job then reports Complete.
pub fn job(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("batch", "jobs");
    let pr = res("", "pods");
    let Some(job) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    let completions = int(&job["spec"]["completions"], 1).max(1);
    let pods = owned(c, &pr, ns, &job);
    if pods.is_empty() {
        for _ in 0..completions {
            let mut pod = new_pod(
                &job,
                ns,
                &format!("{name}-{}", random_suffix(5)),
                &job["spec"]["template"],
                &json!({"job-name": name, "batch.kubernetes.io/job-name": name}),
            );
            pod["spec"]["restartPolicy"] = json!("Never");
            create_pod(c, pod);
        }
    }
    let succeeded = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Succeeded")
        .count() as i64;
    let prev = &job["status"];
    let start = prev["startTime"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(now);
    let mut status = json!({"startTime": start, "succeeded": succeeded, "active": (pods.len() as i64 - succeeded).max(0),
        "ready": 0, "terminating": 0});
    if succeeded >= completions {
        let t = prev["completionTime"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(now);
        status["completionTime"] = json!(t);
        status["uncountedTerminatedPods"] = json!({});
        status["conditions"] = json!([
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t}]);
        status["active"] = json!(0);
    }
    let _ = c.set_status(&r, ns, name, status);
    Outcome::Done
}

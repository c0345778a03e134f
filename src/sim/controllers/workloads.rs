//! Deployment -> ReplicaSet -> Pods, DaemonSets, StatefulSets and Jobs.

use serde_json::{json, Value};

use super::{events, Outcome};
use crate::sim::cluster::{random_suffix, Cluster};
use crate::sim::resources::ResKey;
use crate::sim::store::{meta_str, now};

pub(super) fn res(group: &str, plural: &str) -> ResKey {
    ResKey::new(group, plural)
}

/// A copy without Go's zero values (`null`, `false`, `0`, `""`, empty lists and maps): the
/// pod-template-hash is computed upstream over the Go struct, where an absent member and a
/// zero one are the same; kubectl's protobuf bodies carry `stdin: false` and the like, and its
/// `rollout undo` patch carries `creationTimestamp: null`, none of which change the template.
fn without_zeros(v: &Value) -> Option<Value> {
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(m) => {
            let m: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "creationTimestamp")
                .filter_map(|(k, v)| without_zeros(v).map(|v| (k.clone(), v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(Value::Array(
            a.iter()
                .map(|x| without_zeros(x).unwrap_or(Value::Null))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A short stable hash of a pod template (`pod-template-hash`).
pub fn template_hash(template: &Value) -> String {
    // FNV-1a over the canonical JSON (members sorted, zero values dropped)
    let s = serde_json::to_string(&without_zeros(template)).unwrap_or_default();
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

pub(super) fn controller_ref(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

pub(super) fn owned(c: &Cluster, r: &ResKey, ns: &str, owner: &Value) -> Vec<Value> {
    let uid = owner["metadata"]["uid"].as_str().unwrap_or_default();
    c.store.owned_in(r, ns, uid)
}

pub(super) fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

pub(super) fn int(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

pub(super) fn new_pod(
    owner: &Value,
    ns: &str,
    name: &str,
    template: &Value,
    extra_labels: &Value,
) -> Value {
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

pub(super) fn create_pod(c: &Cluster, pod: Value) {
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

pub(super) fn delete(c: &Cluster, r: &ResKey, o: &Value) {
    let _ = c
        .store
        .delete(r, meta_str(o, "namespace"), meta_str(o, "name"), false);
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
///
/// One pass of the deployment controller (k8s.io/kubernetes pkg/controller/deployment
/// `syncDeployment`): unless paused, the ReplicaSets are brought one rollout step closer to
/// the template ([`sync_replica_sets`]); then the status is computed from the ReplicaSets
/// ([`deployment_status`]).
pub fn deployment(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let dr = res("apps", "deployments");
    let Some(d) = c.store.get(&dr, ns, name) else {
        return Outcome::Done;
    };
    if !d["metadata"]["deletionTimestamp"].is_null() {
        return Outcome::Done;
    }
    let replicas = int(&d["spec"]["replicas"], 1);
    let hash = template_hash(&d["spec"]["template"]);
    let rs_name = format!("{name}-{hash}");
    if d["spec"]["paused"] != true {
        sync_replica_sets(c, &d, ns, replicas, &hash);
    }
    if let Some(status) = deployment_status(c, &d, ns, replicas, &rs_name) {
        let _ = c.set_status(&dr, ns, name, status);
    }
    Outcome::Done
}

/// The `deployment.kubernetes.io/revision` of a ReplicaSet (0 when absent).
fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
}

/// The revision of the ReplicaSet of the current template: its own when it is already the
/// newest, otherwise one more than the newest (a rollout, or a rollback to an old ReplicaSet,
/// which upstream's `getNewReplicaSet` also renumbers as the latest).
fn next_revision(sets: &[Value], current: Option<&Value>) -> i64 {
    let max_rev = sets.iter().map(revision).max().unwrap_or(0);
    current
        .map(revision)
        .filter(|r| *r == max_rev && *r > 0)
        .unwrap_or(max_rev + 1)
}

/// Annotations of a Deployment that are not copied to its ReplicaSets (upstream
/// `annotationsToSkip` in pkg/controller/deployment/util/deployment_util.go).
const SKIPPED_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The annotations of the new ReplicaSet (`SetNewReplicaSetAnnotations`): the Deployment's
/// own (e.g. `kubernetes.io/change-cause`, which `kubectl rollout history` prints), the
/// revision, and when an old ReplicaSet is renumbered (a rollback) the revisions it had in
/// `deployment.kubernetes.io/revision-history`.
fn replica_set_annotations(d: &Value, current: Option<&Value>, replicas: i64, rev: i64) -> Value {
    let mut ann = serde_json::Map::new();
    for (k, v) in d["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if !SKIPPED_ANNOTATIONS.contains(&k.as_str()) {
            ann.insert(k.clone(), v.clone());
        }
    }
    let old = current.map_or(0, revision);
    let mut history: Vec<String> = current
        .and_then(|c| {
            c["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"].as_str()
        })
        .map(|h| h.split(',').map(String::from).collect())
        .unwrap_or_default();
    if old > 0 && old != rev {
        history.push(old.to_string());
    }
    if !history.is_empty() {
        ann.insert(
            "deployment.kubernetes.io/revision-history".into(),
            json!(history.join(",")),
        );
    }
    ann.insert(
        "deployment.kubernetes.io/revision".into(),
        json!(rev.to_string()),
    );
    ann.insert(
        "deployment.kubernetes.io/desired-replicas".into(),
        json!(replicas.to_string()),
    );
    ann.insert(
        "deployment.kubernetes.io/max-replicas".into(),
        json!((replicas + 1).to_string()),
    );
    Value::Object(ann)
}

/// The ReplicaSet `<deployment>-<hash>` for the template, with its revision annotations.
fn replica_set_for(d: &Value, ns: &str, hash: &str, annotations: Value) -> Value {
    let name = meta_str(d, "name");
    let mut tpl = d["spec"]["template"].clone();
    tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"]["pod-template-hash"] = json!(hash);
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "labels": tpl["metadata"]["labels"],
            "annotations": annotations, "ownerReferences": [controller_ref(d)]},
        "spec": {"replicas": d["spec"]["replicas"].as_i64().unwrap_or(1), "selector": selector, "template": tpl}})
}

/// The Deployment carries its newest revision, as upstream's `SetDeploymentRevision` does
/// (`kubectl rollout undo` and `rollout status --revision` read it).
fn set_deployment_revision(c: &Cluster, d: &Value, rev: i64) {
    let want = rev.to_string();
    if d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == want.as_str() {
        return;
    }
    let dr = res("apps", "deployments");
    let _ = c.store.modify(
        &dr,
        meta_str(d, "namespace"),
        meta_str(d, "name"),
        false,
        |cur| {
            let mut n = cur.cloned().unwrap_or_default();
            if n.is_null() {
                return Ok(n);
            }
            if !n["metadata"]["annotations"].is_object() {
                n["metadata"]["annotations"] = json!({});
            }
            n["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!(want);
            Ok(n)
        },
    );
}

/// One rollout step: creates or resizes the new ReplicaSet and resizes the old ones as
/// [`rollout_plan`] says, recording `ScalingReplicaSet` for the new one.
fn sync_replica_sets(c: &Cluster, d: &Value, ns: &str, replicas: i64, hash: &str) {
    let rr = res("apps", "replicasets");
    let rs_name = format!("{}-{hash}", meta_str(d, "name"));
    let sets = owned(c, &rr, ns, d);
    let existing = sets
        .iter()
        .find(|s| meta_str(s, "name") == rs_name)
        .cloned();
    let rev = next_revision(&sets, existing.as_ref());
    let annotations = replica_set_annotations(d, existing.as_ref(), replicas, rev);
    let rs = replica_set_for(d, ns, hash, annotations);
    let plan = rollout_plan(d, replicas, existing.as_ref(), &sets, &rs_name);
    let target = plan.new_replicas;
    let before = existing.as_ref().map(|r| int(&r["spec"]["replicas"], 0));
    if before != Some(target) {
        let verb = if before.unwrap_or(0) < target {
            "up"
        } else {
            "down"
        };
        events::record(
            c,
            d,
            "Normal",
            "ScalingReplicaSet",
            &format!(
                "Scaled {verb} replica set {rs_name} from {} to {target}",
                before.unwrap_or(0)
            ),
            "deployment-controller",
        );
    }
    let _ = c.store.modify(&rr, ns, &rs_name, false, |cur| match cur {
        None => {
            let mut n = rs.clone();
            n["spec"]["replicas"] = json!(target);
            Ok(n)
        }
        Some(cur) => {
            let mut n = cur.clone();
            n["spec"]["replicas"] = json!(target);
            n["metadata"]["annotations"] = rs["metadata"]["annotations"].clone();
            Ok(n)
        }
    });
    set_deployment_revision(c, d, rev);
    for (old_name, want) in plan.old_replicas {
        let _ = c.store.modify(&rr, ns, &old_name, false, |cur| {
            let mut n = cur.cloned().unwrap_or_default();
            n["spec"]["replicas"] = json!(want);
            Ok(n)
        });
    }
}

/// The Deployment's status from its ReplicaSets, or `None` while any of them has not
/// observed its own latest spec (a status from stale counts would flap).
fn deployment_status(
    c: &Cluster,
    d: &Value,
    ns: &str,
    replicas: i64,
    rs_name: &str,
) -> Option<Value> {
    let sets = owned(c, &res("apps", "replicasets"), ns, d);
    if sets
        .iter()
        .any(|s| s["status"]["observedGeneration"] != s["metadata"]["generation"])
    {
        return None;
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
    let available_total: i64 = sets
        .iter()
        .map(|s| int(&s["status"]["availableReplicas"], 0))
        .sum();
    let prev = &d["status"];
    let available = if ready >= replicas.min(1) || complete {
        condition(
            prev,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            prev,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
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
        "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available_total,
        "conditions": [available, progressing]});
    if total > ready {
        status["unavailableReplicas"] = json!(total - ready);
    }
    Some(status)
}

/// What one step of a rollout does: the new ReplicaSet's size and the old ones' sizes.
struct RolloutPlan {
    new_replicas: i64,
    old_replicas: Vec<(String, i64)>,
}

/// `maxSurge`/`maxUnavailable` as a count of `replicas` (percentages round up for surge,
/// down for unavailability, as the deployment controller does).
fn resolve_bound(v: &Value, replicas: i64, default_pct: i64, round_up: bool) -> i64 {
    let pct = |p: i64| {
        if round_up {
            (p * replicas + 99) / 100
        } else {
            p * replicas / 100
        }
    };
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0).max(0),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(pct(default_pct), pct),
        _ => pct(default_pct),
    }
}

/// One step of the deployment controller's rollout: RollingUpdate scales the new ReplicaSet up
/// within `replicas + maxSurge` pods, then the old ones down while at least
/// `replicas - maxUnavailable` pods stay available; Recreate empties the old ones first.
fn rollout_plan(
    d: &Value,
    replicas: i64,
    new_rs: Option<&Value>,
    sets: &[Value],
    new_name: &str,
) -> RolloutPlan {
    let mut olds: Vec<&Value> = sets
        .iter()
        .filter(|s| meta_str(s, "name") != new_name && int(&s["spec"]["replicas"], 0) > 0)
        .collect();
    let new_current = new_rs.map_or(0, |r| int(&r["spec"]["replicas"], 0));
    let old_total: i64 = olds.iter().map(|s| int(&s["spec"]["replicas"], 0)).sum();
    if old_total == 0 {
        return RolloutPlan {
            new_replicas: replicas,
            old_replicas: vec![],
        };
    }
    let strategy = &d["spec"]["strategy"];
    if strategy["type"] == "Recreate" {
        let old_pods: i64 = olds.iter().map(|s| int(&s["status"]["replicas"], 0)).sum();
        return RolloutPlan {
            new_replicas: if old_pods == 0 { replicas } else { 0 },
            old_replicas: olds
                .iter()
                .map(|s| (meta_str(s, "name").to_string(), 0))
                .collect(),
        };
    }
    let ru = &strategy["rollingUpdate"];
    let surge = resolve_bound(&ru["maxSurge"], replicas, 25, true);
    let mut unavailable = resolve_bound(&ru["maxUnavailable"], replicas, 25, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let all = old_total + new_current;
    // pods a ReplicaSet has not removed yet still count against the surge
    let existing_pods: i64 = sets
        .iter()
        .map(|s| int(&s["spec"]["replicas"], 0).max(int(&s["status"]["replicas"], 0)))
        .sum();
    let max_total = replicas + surge;
    if new_current < replicas && existing_pods < max_total {
        let new_replicas = replicas.min(new_current + (max_total - existing_pods));
        return RolloutPlan {
            new_replicas,
            old_replicas: vec![],
        };
    }
    let new_replicas = new_current.min(replicas);
    let min_available = replicas - unavailable;
    let new_available = new_rs.map_or(0, |r| int(&r["status"]["availableReplicas"], 0));
    let new_unavailable = (new_replicas - new_available).max(0);
    let mut budget = (all - min_available - new_unavailable).max(0);
    // oldest revisions go first
    olds.sort_by_key(|s| revision(s));
    let mut old_replicas = Vec::new();
    for s in olds {
        if budget == 0 {
            break;
        }
        let cur = int(&s["spec"]["replicas"], 0);
        let down = cur.min(budget);
        budget -= down;
        old_replicas.push((meta_str(s, "name").to_string(), cur - down));
    }
    RolloutPlan {
        new_replicas,
        old_replicas,
    }
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
    controller_revision(c, &ds, ns, name, &hash);
    let pod_name = format!("{name}-{}", &hash[..5]);
    let pods = converge_named_pods(c, &ds, ns, &[pod_name], "controller-revision-hash", &hash);
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let status = json!({"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
        "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": pods.len(),
        "observedGeneration": ds["metadata"]["generation"]});
    let _ = c.set_status(&r, ns, name, status);
    Outcome::Done
}

/// The ControllerRevision `<name>-<hash>` of a DaemonSet's or StatefulSet's template (the
/// history `kubectl rollout history` and `undo` read), numbered after the owner's others.
fn controller_revision(c: &Cluster, owner: &Value, ns: &str, name: &str, hash: &str) {
    let r = res("apps", "controllerrevisions");
    let rev_name = format!("{name}-{hash}");
    if c.store.get(&r, ns, &rev_name).is_some() {
        return;
    }
    let next = owned(c, &r, ns, owner)
        .iter()
        .filter_map(|cr| cr["revision"].as_i64())
        .max()
        .unwrap_or(0)
        + 1;
    let mut labels = owner["spec"]["template"]["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["controller-revision-hash"] = json!(hash);
    let cr = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": rev_name, "namespace": ns, "labels": labels,
            "ownerReferences": [controller_ref(owner)]},
        "data": {"spec": {"template": owner["spec"]["template"]}},
        "revision": next});
    let _ = c.store.modify(&r, ns, &rev_name, false, |cur| match cur {
        Some(existing) => Ok(existing.clone()),
        None => Ok(cr.clone()),
    });
}

/// StatefulSet: pods `<name>-0..n`.
pub fn statefulset(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let r = res("apps", "statefulsets");
    let Some(sts) = c.store.get(&r, ns, name) else {
        return Outcome::Done;
    };
    let want = int(&sts["spec"]["replicas"], 1).max(0);
    let hash = template_hash(&sts["spec"]["template"]);
    controller_revision(c, &sts, ns, name, &hash);
    let names: Vec<String> = (0..want).map(|i| format!("{name}-{i}")).collect();
    claims_for(c, &sts, ns, &names);
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

/// One PersistentVolumeClaim `<template>-<pod>` per volumeClaimTemplate and pod, kept when
/// the StatefulSet scales down (as Kubernetes does by default).
fn claims_for(c: &Cluster, sts: &Value, ns: &str, pods: &[String]) {
    let Some(def) = c.registry().by_kind("v1", "PersistentVolumeClaim") else {
        return;
    };
    for tpl in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let tname = tpl["metadata"]["name"].as_str().unwrap_or("data");
        for pod in pods {
            let claim = format!("{tname}-{pod}");
            if c.store.get(&def.key(), ns, &claim).is_none() {
                let labels = sts["spec"]["selector"]["matchLabels"].clone();
                let pvc = json!({"metadata": {"name": claim, "labels": labels}, "spec": tpl["spec"].clone()});
                let _ = c.create(
                    &def,
                    ns,
                    pvc,
                    &crate::sim::cluster::WriteOpts::controller("statefulset-controller"),
                );
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_tracks_changes() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
        let mut b = a.clone();
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a).len(), 10);
        b["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert_ne!(template_hash(&a), template_hash(&b));
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let first = condition(
            &json!({}),
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "ok",
        );
        let prev = json!({"conditions": [first.clone()]});
        let again = condition(&prev, "Available", "True", "MinimumReplicasAvailable", "ok");
        assert_eq!(again, first);
    }
}

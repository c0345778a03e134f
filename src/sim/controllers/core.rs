//! Namespaces, Services (LoadBalancer addresses, Endpoints), CRD establishment and garbage
//! collection.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Controllers, Key, Outcome};
use crate::sim::cluster::Cluster;
use crate::sim::resources::ResKey;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{meta_str, now};

/// The simulated cluster CA (a placeholder PEM block: nothing verifies against it).
const ROOT_CA: &str = "-----BEGIN CERTIFICATE-----\nbWVzaGJvb2sgc2ltdWxhdGVkIGNsdXN0ZXIgQ0EgKG5vdCBhIHJlYWwgY2VydGlmaWNhdGUp\n-----END CERTIFICATE-----\n";

/// A Terminating namespace deletes its contents, then goes away.
pub fn namespace(c: &Cluster, name: &str) -> Outcome {
    let res = ResKey::new("", "namespaces");
    let Some(ns) = c.store.get(&res, "", name) else {
        return Outcome::Done;
    };
    if ns["metadata"]["deletionTimestamp"].is_null() {
        // every namespace has a `default` ServiceAccount
        let sa = ResKey::new("", "serviceaccounts");
        if c.store.get(&sa, name, "default").is_none() {
            if let Some(def) = c.registry().by_kind("v1", "ServiceAccount") {
                let _ = c.create(
                    &def,
                    name,
                    json!({"metadata": {"name": "default"}}),
                    &crate::sim::cluster::WriteOpts::controller("kube-controller-manager"),
                );
            }
        }
        // and the cluster's CA bundle (kube-root-ca.crt)
        let cm = ResKey::new("", "configmaps");
        if c.store.get(&cm, name, "kube-root-ca.crt").is_none() {
            if let Some(def) = c.registry().by_kind("v1", "ConfigMap") {
                let _ = c.create(
                    &def,
                    name,
                    json!({"metadata": {"name": "kube-root-ca.crt", "annotations": {
                        "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                        "data": {"ca.crt": ROOT_CA}}),
                    &crate::sim::cluster::WriteOpts::controller("kube-root-ca-cert-publisher"),
                );
            }
        }
        return Outcome::Done;
    }
    let contents = c.store.in_namespace(name);
    if contents.is_empty() {
        let _ = c.store.delete(&res, "", name, false);
        return Outcome::Done;
    }
    for (r, o) in contents {
        let oname = meta_str(&o, "name").to_string();
        if o["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
        {
            let _ = c.store.modify(&r, name, &oname, false, |cur| {
                let mut n = cur.cloned().unwrap_or_default();
                n["metadata"]["finalizers"] = json!([]);
                if n["metadata"]["deletionTimestamp"].is_null() {
                    n["metadata"]["deletionTimestamp"] = json!(now());
                }
                Ok(n)
            });
        }
        let _ = c.store.delete(&r, name, &oname, false);
    }
    Outcome::Retry
}

/// LoadBalancer status and Endpoints for one Service.
pub fn service(ctl: &Arc<Controllers>, key: &Key) -> Outcome {
    let c = &ctl.cluster;
    let Some(svc) = c.store.get(&key.res, &key.ns, &key.name) else {
        return Outcome::Done;
    };
    let is_lb = svc["spec"]["type"] == "LoadBalancer";
    let has_ingress = svc["status"]["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if is_lb && !has_ingress {
        ctl.schedule_lb(key.clone());
    } else if !is_lb && has_ingress {
        let mut st = svc["status"].clone();
        st["loadBalancer"] = json!({});
        let _ = c.set_status(&key.res, &key.ns, &key.name, st);
    }
    endpoints(c, &svc);
    Outcome::Done
}

pub fn assign_lb(c: &Cluster, key: &Key) {
    let _ = c.store.modify(&key.res, &key.ns, &key.name, false, |cur| {
        let mut s = cur
            .cloned()
            .ok_or_else(|| crate::sim::status::ApiError::not_found(&key.res, &key.name))?;
        let has = s["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if s["spec"]["type"] == "LoadBalancer" && !has {
            let ip = s["spec"]["loadBalancerIP"]
                .as_str()
                .filter(|ip| !ip.is_empty())
                .map(String::from)
                .unwrap_or_else(|| c.next_lb_ip());
            let mut ports = Vec::new();
            for p in s["spec"]["ports"].as_array().into_iter().flatten() {
                ports.push(json!({"port": p["port"], "protocol": p["protocol"]}));
            }
            s["status"]["loadBalancer"] =
                json!({"ingress": [{"ip": ip, "ipMode": "VIP", "ports": ports}]});
        }
        Ok(s)
    });
}

fn endpoints(c: &Cluster, svc: &Value) {
    let sel = &svc["spec"]["selector"];
    let Some(sel_map) = sel.as_object().filter(|m| !m.is_empty()) else {
        return;
    };
    let ns = meta_str(svc, "namespace").to_string();
    let name = meta_str(svc, "name").to_string();
    let selector = LabelSelector::from_object(&json!({"matchLabels": sel_map}));
    let pods = c.store.list_shared(&ResKey::new("", "pods"), Some(&ns));
    let mut ready = Vec::new();
    for p in pods
        .iter()
        .filter(|p| selector.matches(p) && p["metadata"]["deletionTimestamp"].is_null())
    {
        if let Some(ip) = p["status"]["podIP"].as_str() {
            ready.push(json!({"ip": ip, "nodeName": p["spec"]["nodeName"],
                "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}));
        }
    }
    let ports: Vec<Value> = svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = if p["targetPort"].is_number() {
                p["targetPort"].clone()
            } else {
                p["port"].clone()
            };
            let mut v = json!({"port": port, "protocol": p["protocol"]});
            if let Some(n) = p["name"].as_str() {
                v["name"] = json!(n);
            }
            v
        })
        .collect();
    let subsets = if ready.is_empty() {
        json!([])
    } else {
        json!([{"addresses": ready, "ports": ports}])
    };
    endpoint_slice(c, svc, &ready, &ports);
    let res = ResKey::new("", "endpoints");
    let labels = svc["metadata"]["labels"].clone();
    let _ = c.store.modify(&res, &ns, &name, false, |cur| {
        let mut e = cur.cloned().unwrap_or_else(|| {
            json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns}})
        });
        if !labels.is_null() {
            e["metadata"]["labels"] = labels.clone();
        }
        if subsets.as_array().is_some_and(|a| a.is_empty()) {
            if let Some(m) = e.as_object_mut() {
                m.remove("subsets");
            }
        } else {
            e["subsets"] = subsets.clone();
        }
        Ok(e)
    });
}

pub fn service_deleted(c: &Cluster, ns: &str, name: &str) {
    let _ = c
        .store
        .delete(&ResKey::new("", "endpoints"), ns, name, false);
    let slices = ResKey::new("discovery.k8s.io", "endpointslices");
    for s in c.store.list(&slices, Some(ns)).0 {
        if s["metadata"]["labels"]["kubernetes.io/service-name"] == name {
            let _ = c.store.delete(&slices, ns, meta_str(&s, "name"), false);
        }
    }
}

/// The EndpointSlice of a Service (`<svc>-<suffix>`, labelled with the Service's name), as the
/// EndpointSlice controller keeps it beside Endpoints.
fn endpoint_slice(c: &Cluster, svc: &Value, ready: &[Value], ports: &[Value]) {
    let ns = meta_str(svc, "namespace").to_string();
    let name = meta_str(svc, "name").to_string();
    let uid = meta_str(svc, "uid");
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = uid
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .take(5)
        .map(|b| CHARS[usize::from(b) % CHARS.len()] as char)
        .collect();
    let slice_name = format!("{name}-{suffix}");
    let endpoints: Vec<Value> = ready
        .iter()
        .map(|a| json!({"addresses": [a["ip"]], "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": a["nodeName"], "targetRef": a["targetRef"]}))
        .collect();
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| {
            let mut v = json!({"port": p["port"], "protocol": p["protocol"]});
            v["name"] = p.get("name").cloned().unwrap_or(json!(""));
            v
        })
        .collect();
    let res = ResKey::new("discovery.k8s.io", "endpointslices");
    let owner = json!([{"apiVersion": "v1", "kind": "Service", "name": name, "uid": uid,
        "controller": true, "blockOwnerDeletion": true}]);
    let _ = c.store.modify(&res, &ns, &slice_name, false, |cur| {
        let mut e = cur.cloned().unwrap_or_else(|| {
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": slice_name, "namespace": ns, "generateName": format!("{name}-"),
                    "labels": {"kubernetes.io/service-name": name,
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                    "ownerReferences": owner},
                "addressType": "IPv4"})
        });
        e["endpoints"] = json!(endpoints);
        e["ports"] = json!(ports);
        Ok(e)
    });
}

/// PersistentVolumeClaims bind at once (helm's `--wait` waits for Bound).
pub fn bind_claim(c: &Cluster, ns: &str, name: &str) -> Outcome {
    let res = ResKey::new("", "persistentvolumeclaims");
    let Some(pvc) = c.store.get(&res, ns, name) else {
        return Outcome::Done;
    };
    let mut access = pvc["spec"]["accessModes"].clone();
    if access.is_null() {
        access = json!(["ReadWriteOnce"]);
    }
    let capacity = pvc["spec"]["resources"]["requests"].clone();
    let status = json!({"phase": "Bound", "accessModes": access,
        "capacity": if capacity.is_null() { json!({"storage": "1Gi"}) } else { capacity }});
    let _ = c.set_status(&res, ns, name, status);
    Outcome::Done
}

/// Marks a CRD NamesAccepted and Established.
pub fn crd(c: &Cluster, name: &str) -> Outcome {
    let res = ResKey::new("apiextensions.k8s.io", "customresourcedefinitions");
    let Some(crd) = c.store.get(&res, "", name) else {
        return Outcome::Done;
    };
    let Some(def) = crate::sim::resources::crd_def(&crd) else {
        return Outcome::Done;
    };
    let mut names = crd["spec"]["names"].clone();
    if names["singular"].is_null() {
        names["singular"] = json!(def.singular);
    }
    if names["listKind"].is_null() {
        names["listKind"] = json!(format!("{}List", def.kind));
    }
    let prev = &crd["status"];
    let cond = |t: &str, reason: &str, msg: &str| {
        let ltt = prev["conditions"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["type"] == t))
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or_else(|| json!(now()));
        json!({"type": t, "status": "True", "reason": reason, "message": msg, "lastTransitionTime": ltt})
    };
    let status = json!({
        "acceptedNames": names,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": [def.versions[0]],
    });
    let _ = c.set_status(&res, "", name, status);
    Outcome::Done
}

/// Deletes objects whose owner (by uid) is gone.
pub fn collect_garbage(c: &Cluster, uid: &str) {
    if uid.is_empty() {
        return;
    }
    for (res, o) in c.store.owned_by(uid) {
        let ns = meta_str(&o, "namespace").to_string();
        let name = meta_str(&o, "name").to_string();
        let _ = c.store.delete(&res, &ns, &name, false);
    }
}

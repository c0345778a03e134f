//! core/v1 Events recorded by the simulated controllers and kubelet, as `kubectl describe`
//! and failure reports show them.

use serde_json::{json, Value};

use crate::sim::cluster::{Cluster, WriteOpts};
use crate::sim::store::{meta_str, now};

/// Records an Event about `obj` (`type_` is Normal or Warning).
pub fn record(c: &Cluster, obj: &Value, type_: &str, reason: &str, message: &str, component: &str) {
    let Some(def) = c.registry().by_kind("v1", "Event") else {
        return;
    };
    let ns = match meta_str(obj, "namespace") {
        "" => "default",
        ns => ns,
    };
    let t = now();
    let suffix: u64 = rand::random::<u64>() & 0xffff_ffff_ffff;
    let event = json!({
        "metadata": {"name": format!("{}.{suffix:x}", meta_str(obj, "name")), "namespace": ns},
        "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"]},
        "reason": reason, "message": message, "type": type_,
        "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
        "firstTimestamp": t, "lastTimestamp": t, "count": 1,
    });
    let _ = c.create(&def, ns, event, &WriteOpts::controller(component));
}

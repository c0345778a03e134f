//! `/version`, legacy discovery (`/api`, `/apis`, group versions) and the OpenAPI probes.

use serde_json::{json, Value};

use super::cluster::Cluster;

pub const GIT_VERSION: &str = "v1.32.3-meshbook-sim";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0]})
}

pub fn group_list(c: &Cluster) -> Value {
    let groups: Vec<Value> = c
        .registry()
        .groups()
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(c: &Cluster, name: &str) -> Option<Value> {
    let groups = c.registry().groups();
    let (g, vs) = groups.iter().find(|(g, _)| g == name)?;
    let mut v = group_json(g, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

pub fn resource_list(c: &Cluster, group: &str, version: &str) -> Option<Value> {
    let defs = c.registry().in_group_version(group, version);
    if defs.is_empty() {
        return None;
    }
    let resources: Vec<Value> = defs.iter().flat_map(|d| d.api_resources()).collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

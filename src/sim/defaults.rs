//! What the API server fills in or checks on every write (defaulting and validation).

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::resources::ResourceDef;
use super::status::ApiError;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Checks and defaults an object about to be written (`old` is the stored version).
pub fn admit(
    cluster: &Cluster,
    def: &ResourceDef,
    old: Option<&Value>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if old.is_none() && !valid_name(&name) {
        let msg = if name.is_empty() {
            "Required value: name or generateName is required".to_string()
        } else {
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
        };
        return Err(ApiError::invalid(
            &def.kind,
            &def.group,
            &name,
            &[("metadata.name", msg)],
        ));
    }
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if !v.is_string() {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    &name,
                    &[(
                        &format!("metadata.labels.{k}"),
                        "Invalid value: label values must be strings".to_string(),
                    )],
                ));
            }
        }
    }
    match (def.group.as_str(), def.plural.as_str()) {
        ("", "namespaces") => {
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"]["finalizers"] = json!(["kubernetes"]);
            }
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Active");
            }
        }
        ("", "services") => service(cluster, old, obj),
        ("", "pods") => {
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Pending");
                obj["status"]["qosClass"] = json!("BestEffort");
            }
            if obj["spec"]["restartPolicy"].is_null() {
                obj["spec"]["restartPolicy"] = json!("Always");
            }
            if obj["spec"]["serviceAccountName"].is_null() {
                obj["spec"]["serviceAccountName"] = json!("default");
            }
        }
        ("apps", "deployments") => {
            default(obj, &["spec", "replicas"], json!(1));
            default(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default(obj, &["spec", "progressDeadlineSeconds"], json!(600));
            default(
                obj,
                &["spec", "strategy"],
                json!({"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            workload_checks(def, &name, obj)?;
        }
        ("apps", "replicasets") => {
            default(obj, &["spec", "replicas"], json!(1));
            workload_checks(def, &name, obj)?;
        }
        ("apps", "statefulsets") => {
            default(obj, &["spec", "replicas"], json!(1));
            default(obj, &["spec", "podManagementPolicy"], json!("OrderedReady"));
            default(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default(
                obj,
                &["spec", "updateStrategy"],
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            workload_checks(def, &name, obj)?;
        }
        ("apps", "daemonsets") => {
            default(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default(
                obj,
                &["spec", "updateStrategy"],
                json!({"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            workload_checks(def, &name, obj)?;
        }
        ("batch", "jobs") => {
            default(obj, &["spec", "completions"], json!(1));
            default(obj, &["spec", "parallelism"], json!(1));
            default(obj, &["spec", "backoffLimit"], json!(6));
            default(obj, &["spec", "completionMode"], json!("NonIndexed"));
            default(obj, &["spec", "suspend"], json!(false));
            if old.is_none() && obj["spec"]["selector"].is_null() {
                let uid = super::store::new_uid();
                obj["metadata"]["labels"]["batch.kubernetes.io/job-name"] = json!(name);
                obj["spec"]["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
                labels["batch.kubernetes.io/controller-uid"] = json!(uid);
                labels["controller-uid"] = json!(uid);
                labels["batch.kubernetes.io/job-name"] = json!(name);
                labels["job-name"] = json!(name);
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            if super::resources::crd_def(obj).is_none() {
                return Err(ApiError::invalid(&def.kind, &def.group, &name,
                    &[("spec", "Invalid value: group, names.plural, names.kind and at least one served version are required".to_string())]));
            }
            let want = format!(
                "{}.{}",
                obj["spec"]["names"]["plural"].as_str().unwrap_or_default(),
                obj["spec"]["group"].as_str().unwrap_or_default()
            );
            if want != name {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    &name,
                    &[(
                        "metadata.name",
                        format!(
                            "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
                        ),
                    )],
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn default(obj: &mut Value, path: &[&str], value: Value) {
    let mut cur = obj;
    for p in &path[..path.len() - 1] {
        if !cur[*p].is_object() {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
    let last = path[path.len() - 1];
    if cur[last].is_null() {
        cur[last] = value;
    }
}

fn workload_checks(def: &ResourceDef, name: &str, obj: &Value) -> Result<(), ApiError> {
    let sel = &obj["spec"]["selector"];
    if sel.is_null() {
        return Err(ApiError::invalid(
            &def.kind,
            &def.group,
            name,
            &[("spec.selector", "Required value".to_string())],
        ));
    }
    let labels = &obj["spec"]["template"]["metadata"]["labels"];
    if !super::selector::LabelSelector::from_object(sel).matches_labels(labels) {
        return Err(ApiError::invalid(
            &def.kind,
            &def.group,
            name,
            &[(
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`".to_string(),
            )],
        ));
    }
    Ok(())
}

fn service(cluster: &Cluster, old: Option<&Value>, obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec["type"].is_null() {
        spec["type"] = json!("ClusterIP");
    }
    let ty = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if spec["clusterIP"].is_null() || spec["clusterIP"] == "" {
        let ip = old
            .and_then(|o| o["spec"]["clusterIP"].as_str())
            .map(String::from)
            .unwrap_or_else(|| {
                if ty == "ExternalName" {
                    String::new()
                } else {
                    cluster.next_cluster_ip()
                }
            });
        if !ip.is_empty() {
            spec["clusterIP"] = json!(ip);
        }
    }
    if let Some(ip) = spec["clusterIP"].as_str().map(String::from) {
        spec["clusterIPs"] = json!([ip]);
        spec["ipFamilies"] = json!(["IPv4"]);
        default(obj, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
    }
    let spec = &mut obj["spec"];
    if spec["sessionAffinity"].is_null() {
        spec["sessionAffinity"] = json!("None");
    }
    if ty != "ClusterIP" && ty != "ExternalName" && spec["externalTrafficPolicy"].is_null() {
        spec["externalTrafficPolicy"] = json!("Cluster");
    }
    if spec["internalTrafficPolicy"].is_null() {
        spec["internalTrafficPolicy"] = json!("Cluster");
    }
    let old_ports = old
        .map(|o| o["spec"]["ports"].clone())
        .unwrap_or(Value::Null);
    if let Some(ports) = spec["ports"].as_array_mut() {
        for p in ports {
            if p["protocol"].is_null() {
                p["protocol"] = json!("TCP");
            }
            if p["targetPort"].is_null() {
                p["targetPort"] = p["port"].clone();
            }
            if ty == "ClusterIP" {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
            }
            if (ty == "NodePort" || ty == "LoadBalancer") && p["nodePort"].is_null() {
                let kept = old_ports
                    .as_array()
                    .and_then(|a| a.iter().find(|o| o["port"] == p["port"]))
                    .and_then(|o| o["nodePort"].as_u64());
                p["nodePort"] = json!(kept.unwrap_or_else(|| cluster.next_node_port()));
            }
        }
    }
    if obj["status"]["loadBalancer"].is_null() {
        obj["status"]["loadBalancer"] = json!({});
    }
}

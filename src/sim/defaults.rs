//! What the API server fills in or checks on every write (defaulting and validation).

use serde_json::{json, Value};

use super::cluster::{Cluster, WriteOpts};
use super::resources::ResourceDef;
use super::status::ApiError;
use super::validation;

/// Checks and defaults an object about to be written (`old` is the stored version): decoding
/// against the kind's schema, defaults, then the API server's validation.
pub fn admit(
    cluster: &Cluster,
    def: &ResourceDef,
    old: Option<&Value>,
    obj: &mut Value,
    opts: &WriteOpts,
) -> Result<(), ApiError> {
    validation::decode(cluster, def, obj, opts.validation, &opts.warnings)?;
    // built-in kinds always carry their status struct (`status: {}` from the first answer)
    if !def.custom && def.status && obj["status"].is_null() {
        obj["status"] = json!({});
    }
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if def.group == "apps" && obj["spec"]["template"]["spec"].is_object() {
        pod_spec_defaults(&mut obj["spec"]["template"]["spec"]);
    }
    if def.group == "batch" && def.plural == "jobs" && obj["spec"]["template"]["spec"].is_object() {
        pod_spec_defaults(&mut obj["spec"]["template"]["spec"]);
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
        ("", "secrets") => string_data(obj),
        ("", "pods") => {
            pod_spec_defaults(&mut obj["spec"]);
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
            if obj["spec"]["strategy"]["type"] == "" {
                obj["spec"]["strategy"]["type"] = json!("RollingUpdate");
            }
            if obj["spec"]["strategy"]["type"] == "RollingUpdate" {
                default(
                    obj,
                    &["spec", "strategy", "rollingUpdate", "maxSurge"],
                    json!("25%"),
                );
                default(
                    obj,
                    &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
                    json!("25%"),
                );
            }
            default(obj, &["spec", "replicas"], json!(1));
            default(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default(obj, &["spec", "progressDeadlineSeconds"], json!(600));
            default(
                obj,
                &["spec", "strategy"],
                json!({"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
        }
        ("apps", "replicasets") => {
            default(obj, &["spec", "replicas"], json!(1));
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
        }
        ("apps", "daemonsets") => {
            default(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default(
                obj,
                &["spec", "updateStrategy"],
                json!({"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
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
    validation::validate(cluster, def, old, obj)
}

fn unset(v: &Value) -> bool {
    v.is_null() || v == ""
}

/// The defaults of a pod spec (SetDefaults_PodSpec and SetDefaults_Container).
fn pod_spec_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("securityContext", json!({})),
    ] {
        if unset(&spec[k]) {
            spec[k] = v;
        }
    }
    for field in ["containers", "initContainers"] {
        let Some(cs) = spec[field].as_array_mut() else {
            continue;
        };
        for c in cs {
            if unset(&c["imagePullPolicy"]) {
                let image = c["image"].as_str().unwrap_or_default();
                let last = image.rsplit('/').next().unwrap_or(image);
                let tag = last.split_once(':').map(|(_, t)| t);
                let latest = !image.contains('@') && tag.is_none_or(|t| t == "latest");
                c["imagePullPolicy"] = json!(if latest { "Always" } else { "IfNotPresent" });
            }
            if unset(&c["terminationMessagePath"]) {
                c["terminationMessagePath"] = json!("/dev/termination-log");
            }
            if unset(&c["terminationMessagePolicy"]) {
                c["terminationMessagePolicy"] = json!("File");
            }
            if c["resources"].is_null() {
                c["resources"] = json!({});
            }
            if let Some(ports) = c["ports"].as_array_mut() {
                for p in ports {
                    if unset(&p["protocol"]) {
                        p["protocol"] = json!("TCP");
                    }
                }
            }
        }
    }
}

/// `stringData` is written into `data` (base64) and never stored, as the API server does.
fn string_data(obj: &mut Value) {
    use base64::Engine as _;
    let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    if let Some(m) = sd.as_object() {
        for (k, v) in m {
            let text = v.as_str().unwrap_or_default();
            obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
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

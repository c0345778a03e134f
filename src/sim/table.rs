//! `meta.k8s.io/v1` Table responses for `kubectl get`.

use serde_json::{json, Value};

use super::resources::ResourceDef;

/// Human age as kubectl prints it (`5s`, `3m`, `2h`, `4d`).
pub fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn col(name: &str, ty: &str) -> Value {
    json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" },
        "description": "", "priority": 0})
}

/// Evaluates a simple JSONPath like `.spec.size` or `.status.conditions[?(@.type=="Ready")].status`.
pub fn json_path(obj: &Value, path: &str) -> Value {
    let path = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut cur = obj.clone();
    let mut rest = path;
    while !rest.is_empty() {
        rest = rest.trim_start_matches('.');
        if let Some(r) = rest.strip_prefix("[?(@.") {
            let Some(end) = r.find(")]") else {
                return Value::Null;
            };
            let cond = &r[..end];
            rest = &r[end + 2..];
            let Some((k, v)) = cond.split_once("==") else {
                return Value::Null;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'');
            cur = cur
                .as_array()
                .and_then(|a| a.iter().find(|i| i[k.trim()].as_str() == Some(v)))
                .cloned()
                .unwrap_or(Value::Null);
            continue;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Value::Null;
            };
            let idx: usize = r[..end].parse().unwrap_or(0);
            cur = cur.get(idx).cloned().unwrap_or(Value::Null);
            rest = &r[end + 1..];
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        cur = cur.get(&rest[..end]).cloned().unwrap_or(Value::Null);
        rest = &rest[end..];
    }
    cur
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

type Cell = Box<dyn Fn(&Value) -> Value>;

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn or_none(v: String) -> Value {
    json!(if v.is_empty() {
        "<none>".to_string()
    } else {
        v
    })
}

fn service_external(o: &Value) -> Value {
    let spec = &o["spec"];
    json!(match spec["type"].as_str().unwrap_or("ClusterIP") {
        "LoadBalancer" => {
            let ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| {
                            s(if i["ip"].is_null() {
                                &i["hostname"]
                            } else {
                                &i["ip"]
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(&spec["externalName"]),
        _ => "<none>".into(),
    })
}

fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = o["spec"]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| match p["nodePort"].as_u64() {
                    Some(np) => format!("{}:{}/{}", s(&p["port"]), np, s(&p["protocol"])),
                    None => format!("{}/{}", s(&p["port"]), s(&p["protocol"])),
                })
                .collect()
        })
        .unwrap_or_default();
    or_none(ports.join(","))
}

fn pod_ready(o: &Value) -> Value {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = o["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|c| c["ready"] == true).count());
    json!(format!("{ready}/{total}"))
}

fn pod_status(o: &Value) -> Value {
    if o["metadata"]["deletionTimestamp"].is_string() {
        return json!("Terminating");
    }
    let phase = o["status"]["phase"].as_str().unwrap_or("Pending");
    json!(if phase == "Succeeded" {
        "Completed"
    } else {
        phase
    })
}

fn node_roles(o: &Value) -> Value {
    let roles: Vec<String> = o["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    or_none(roles.join(","))
}

fn job_status(o: &Value) -> Value {
    let done = o["status"]["conditions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True")
    });
    json!(if done { "Complete" } else { "Running" })
}

fn field(path: &'static str) -> Cell {
    Box::new(move |o| {
        let v = json_path(o, path);
        if v.is_null() {
            json!("<none>")
        } else {
            v
        }
    })
}

fn count(path: &'static str) -> Cell {
    Box::new(move |o| json!(n(&json_path(o, path))))
}

/// The columns between NAME and AGE for a built-in kind.
fn builtin_columns(group: &str, plural: &str) -> Vec<(&'static str, Cell)> {
    match (group, plural) {
        ("", "services") => vec![
            ("Type", field(".spec.type")),
            ("Cluster-IP", field(".spec.clusterIP")),
            ("External-IP", Box::new(service_external)),
            ("Port(s)", Box::new(service_ports)),
        ],
        ("", "pods") => vec![
            ("Ready", Box::new(pod_ready)),
            ("Status", Box::new(pod_status)),
            ("Restarts", Box::new(|_| json!(0))),
        ],
        ("", "namespaces") => vec![("Status", field(".status.phase"))],
        ("", "nodes") => vec![
            ("Status", Box::new(|_| json!("Ready"))),
            ("Roles", Box::new(node_roles)),
        ],
        ("", "configmaps") => vec![(
            "Data",
            Box::new(|o| {
                json!(
                    o["data"].as_object().map_or(0, |m| m.len())
                        + o["binaryData"].as_object().map_or(0, |m| m.len())
                )
            }),
        )],
        ("", "secrets") => vec![
            ("Type", field(".type")),
            (
                "Data",
                Box::new(|o| json!(o["data"].as_object().map_or(0, |m| m.len()))),
            ),
        ],
        ("", "serviceaccounts") => vec![(
            "Secrets",
            Box::new(|o| json!(o["secrets"].as_array().map_or(0, Vec::len))),
        )],
        ("", "endpoints") => vec![(
            "Endpoints",
            Box::new(|o| {
                let mut eps = Vec::new();
                for ss in o["subsets"].as_array().into_iter().flatten() {
                    for a in ss["addresses"].as_array().into_iter().flatten() {
                        for p in ss["ports"].as_array().into_iter().flatten() {
                            eps.push(format!("{}:{}", s(&a["ip"]), s(&p["port"])));
                        }
                    }
                }
                or_none(eps.join(","))
            }),
        )],
        ("apps", "deployments") => vec![
            (
                "Ready",
                Box::new(|o| {
                    json!(format!(
                        "{}/{}",
                        n(&o["status"]["readyReplicas"]),
                        n(&o["spec"]["replicas"])
                    ))
                }),
            ),
            ("Up-to-date", count(".status.updatedReplicas")),
            ("Available", count(".status.availableReplicas")),
        ],
        ("apps", "replicasets") => vec![
            ("Desired", count(".spec.replicas")),
            ("Current", count(".status.replicas")),
            ("Ready", count(".status.readyReplicas")),
        ],
        ("apps", "statefulsets") => vec![(
            "Ready",
            Box::new(|o| {
                json!(format!(
                    "{}/{}",
                    n(&o["status"]["readyReplicas"]),
                    n(&o["spec"]["replicas"])
                ))
            }),
        )],
        ("apps", "daemonsets") => vec![
            ("Desired", count(".status.desiredNumberScheduled")),
            ("Current", count(".status.currentNumberScheduled")),
            ("Ready", count(".status.numberReady")),
            ("Up-to-date", count(".status.updatedNumberScheduled")),
            ("Available", count(".status.numberAvailable")),
        ],
        ("batch", "jobs") => vec![
            ("Status", Box::new(job_status)),
            (
                "Completions",
                Box::new(|o| {
                    json!(format!(
                        "{}/{}",
                        n(&o["status"]["succeeded"]),
                        o["spec"]["completions"].as_i64().unwrap_or(1)
                    ))
                }),
            ),
        ],
        _ => vec![],
    }
}

/// A Table of objects (each row carries the object, as kubectl expects).
pub fn table(def: &ResourceDef, objs: &[Value], rv: &str) -> Value {
    let mut cols: Vec<(String, String, Cell)> = builtin_columns(&def.group, &def.plural)
        .into_iter()
        .map(|(name, cell)| (name.to_string(), "string".to_string(), cell))
        .collect();
    let mut has_age = false;
    for pc in &def.printer_columns {
        let path = pc.json_path.clone();
        let is_date = pc.type_ == "date";
        has_age |= pc.name.eq_ignore_ascii_case("age");
        let cell: Cell = Box::new(move |o| {
            let v = json_path(o, &path);
            if is_date {
                json!(age(v.as_str().unwrap_or("")))
            } else {
                v
            }
        });
        cols.push((pc.name.clone(), pc.type_.clone(), cell));
    }
    let mut columns = vec![col("Name", "string")];
    columns.extend(cols.iter().map(|(name, ty, _)| col(name, ty)));
    if !has_age {
        columns.push(col("Age", "string"));
    }
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let mut cells = vec![json!(o["metadata"]["name"])];
            cells.extend(cols.iter().map(|(_, _, f)| f(o)));
            if !has_age {
                cells.push(json!(age(o["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or(""))));
            }
            json!({"cells": cells, "object": o})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
        "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let o = json!({"spec": {"size": 3}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(json_path(&o, ".spec.size"), json!(3));
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            json!("True")
        );
        assert_eq!(json_path(&o, ".status.conditions[0].type"), json!("Ready"));
        assert_eq!(json_path(&o, ".nope.x"), Value::Null);
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;
    use crate::sim::resources::builtin_defs;

    #[test]
    fn service_table_has_external_ip_fourth() {
        let def = builtin_defs()
            .into_iter()
            .find(|d| d.plural == "services")
            .unwrap();
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30001}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}});
        let t = table(&def, &[svc], "1");
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "LoadBalancer");
        assert_eq!(cells[3], "198.51.100.1");
        assert_eq!(cells[4], "80:30001/TCP");
        assert_eq!(t["columnDefinitions"][5]["name"], "Age");
    }
}

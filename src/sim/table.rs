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

fn service_row(o: &Value) -> (Vec<Value>, Vec<Value>) {
    let spec = &o["spec"];
    let ty = spec["type"].as_str().unwrap_or("ClusterIP");
    let external = match ty {
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
    };
    let ports: Vec<String> = spec["ports"]
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
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    let cip = spec["clusterIP"].as_str().unwrap_or("<none>");
    (
        vec![
            col("Name", "string"),
            col("Type", "string"),
            col("Cluster-IP", "string"),
            col("External-IP", "string"),
            col("Port(s)", "string"),
            col("Age", "string"),
        ],
        vec![json!(ty), json!(cip), json!(external), json!(ports)],
    )
}

fn pod_row(o: &Value) -> (Vec<Value>, Vec<Value>) {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = o["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|c| c["ready"] == true).count());
    let status = if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating".to_string()
    } else {
        o["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_string()
    };
    (
        vec![
            col("Name", "string"),
            col("Ready", "string"),
            col("Status", "string"),
            col("Restarts", "string"),
            col("Age", "string"),
        ],
        vec![json!(format!("{ready}/{total}")), json!(status), json!("0")],
    )
}

fn deployment_row(o: &Value) -> (Vec<Value>, Vec<Value>) {
    let st = &o["status"];
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    (
        vec![
            col("Name", "string"),
            col("Ready", "string"),
            col("Up-to-date", "string"),
            col("Available", "string"),
            col("Age", "string"),
        ],
        vec![
            json!(format!(
                "{}/{}",
                n(&st["readyReplicas"]),
                n(&o["spec"]["replicas"])
            )),
            json!(n(&st["updatedReplicas"])),
            json!(n(&st["availableReplicas"])),
        ],
    )
}

/// A Table of objects (each row carries the object as kubectl expects).
pub fn table(def: &ResourceDef, objs: &[Value], rv: &str) -> Value {
    let mut columns = vec![col("Name", "string"), col("Age", "string")];
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let name = json!(o["metadata"]["name"]);
            let age_cell = json!(age(o["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or("")));
            let middle = match (def.group.as_str(), def.plural.as_str()) {
                ("", "services") => Some(service_row(o)),
                ("", "pods") => Some(pod_row(o)),
                ("apps", "deployments") => Some(deployment_row(o)),
                _ if !def.printer_columns.is_empty() => {
                    let mut cols = vec![col("Name", "string")];
                    let mut cells = vec![];
                    for pc in &def.printer_columns {
                        cols.push(col(&pc.name, &pc.type_));
                        let v = json_path(o, &pc.json_path);
                        cells.push(if pc.type_ == "date" {
                            json!(age(v.as_str().unwrap_or("")))
                        } else if v.is_null() {
                            json!(null)
                        } else {
                            v
                        });
                    }
                    if !def
                        .printer_columns
                        .iter()
                        .any(|c| c.name.eq_ignore_ascii_case("age"))
                    {
                        cols.push(col("Age", "date"));
                        cells.push(age_cell.clone());
                        let mut row = vec![name.clone()];
                        row.extend(cells);
                        columns = cols;
                        return json!({"cells": row, "object": o});
                    }
                    Some((cols, cells))
                }
                _ => None,
            };
            let cells = match middle {
                Some((cols, cells)) => {
                    columns = cols;
                    let mut row = vec![name];
                    row.extend(cells);
                    if columns.last().is_some_and(|c| c["name"] == "Age") {
                        row.push(age_cell);
                    }
                    row
                }
                None => vec![name, age_cell],
            };
            json!({"cells": cells, "object": o})
        })
        .collect();
    if objs.is_empty() {
        columns = match (def.group.as_str(), def.plural.as_str()) {
            ("", "services") => service_row(&json!({})).0,
            ("", "pods") => pod_row(&json!({})).0,
            ("apps", "deployments") => deployment_row(&json!({})).0,
            _ if !def.printer_columns.is_empty() => {
                let mut c = vec![col("Name", "string")];
                c.extend(def.printer_columns.iter().map(|p| col(&p.name, &p.type_)));
                c.push(col("Age", "date"));
                c
            }
            _ => columns,
        };
    }
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

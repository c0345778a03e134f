//! `meta.k8s.io/v1` Table responses for `kubectl get`, with the columns of the API server's
//! own printers (k8s.io/kubernetes pkg/printers/internalversion/printers.go, Kubernetes
//! 1.32): the server always generates the wide cells (`GenerateOptions{Wide: true}`) and marks
//! the `-o wide` columns with priority 1. Custom resources get their CRD's
//! `additionalPrinterColumns` (apiextensions-apiserver's tableconvertor: `priority` > 0 only
//! under wide; Age alone when the CRD declares none); kinds without a printer get
//! `Name` and `Created At`, as the default table convertor gives them.

use serde_json::{json, Value};

use super::resources::ResourceDef;

/// Human age as kubectl prints it (`duration.HumanDuration`: `45s`, `3m20s`, `2h5m`, `4d`).
pub fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    human_duration(secs)
}

/// k8s.io/apimachinery/pkg/util/duration `HumanDuration`, on whole seconds.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return two(minutes, "m", secs % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        return two(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return two(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return two(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `5m` or `5m30s`: the second unit only when it is not zero.
fn two(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

fn col(name: &str, ty: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" },
        "description": "", "priority": priority})
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

/// One column: header, type, priority (1: `-o wide` only) and how to compute the cell.
struct Column {
    name: String,
    ty: String,
    priority: i64,
    cell: Cell,
}

fn c(name: &str, cell: Cell) -> Column {
    Column {
        name: name.to_string(),
        ty: "string".into(),
        priority: 0,
        cell,
    }
}

fn ci(name: &str, cell: Cell) -> Column {
    Column {
        ty: "integer".into(),
        ..c(name, cell)
    }
}

fn wide(name: &str, cell: Cell) -> Column {
    Column {
        priority: 1,
        ..c(name, cell)
    }
}

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

fn field(path: &'static str) -> Cell {
    Box::new(move |o| {
        let v = json_path(o, path);
        if v.is_null() || v == "" {
            json!("<none>")
        } else {
            v
        }
    })
}

fn text(path: &'static str) -> Cell {
    Box::new(move |o| json!(s(&json_path(o, path))))
}

fn count(path: &'static str) -> Cell {
    Box::new(move |o| json!(n(&json_path(o, path))))
}

fn len(path: &'static str) -> Cell {
    Box::new(move |o| json!(json_path(o, path).as_array().map_or(0, Vec::len)))
}

fn age_of(path: &'static str) -> Cell {
    Box::new(move |o| match json_path(o, path).as_str() {
        Some(t) => json!(age(t)),
        None => json!("<none>"),
    })
}

/// `labels.FormatLabels`: `k=v` sorted by key, comma-joined, `<none>` when empty.
fn format_labels(m: &Value) -> String {
    let mut pairs: Vec<String> = m
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// `metav1.FormatLabelSelector`: matchLabels then matchExpressions, `<none>` when empty.
fn format_selector(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect())
        .unwrap_or_default();
    parts.sort();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = s(&e["key"]);
        let mut values: Vec<String> = e["values"]
            .as_array()
            .map(|a| a.iter().map(s).collect())
            .unwrap_or_default();
        values.sort();
        parts.push(match s(&e["operator"]).as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key,
            "DoesNotExist" => format!("!{key}"),
            op => format!("{key} {op} {}", values.join(",")),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

/// `listWithMoreString`: the first three, then `+ N more...`.
fn list_with_more(items: Vec<String>, empty: &str) -> String {
    let total = items.len();
    if total == 0 {
        return empty.into();
    }
    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if total > 3 {
        format!("{shown} + {} more...", total - 3)
    } else {
        shown
    }
}

fn containers_of(spec: &'static str) -> Cell {
    Box::new(move |o| {
        let names: Vec<String> = json_path(o, spec)["containers"]
            .as_array()
            .map(|a| a.iter().map(|c| s(&c["name"])).collect())
            .unwrap_or_default();
        json!(names.join(","))
    })
}

fn images_of(spec: &'static str) -> Cell {
    Box::new(move |o| {
        let images: Vec<String> = json_path(o, spec)["containers"]
            .as_array()
            .map(|a| a.iter().map(|c| s(&c["image"])).collect())
            .unwrap_or_default();
        json!(images.join(","))
    })
}

fn selector_of(path: &'static str) -> Cell {
    Box::new(move |o| json!(format_selector(&json_path(o, path))))
}

/// The wide CONTAINERS, IMAGES and SELECTOR of a workload whose pod spec is at `spec`.
fn workload_wide(spec: &'static str, selector: Option<&'static str>) -> Vec<Column> {
    let mut v = vec![
        wide("Containers", containers_of(spec)),
        wide("Images", images_of(spec)),
    ];
    if let Some(sel) = selector {
        v.push(wide("Selector", selector_of(sel)));
    }
    v
}

fn service_external(o: &Value) -> Value {
    let spec = &o["spec"];
    let lb: Vec<String> = o["status"]["loadBalancer"]["ingress"]
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
    let external: Vec<String> = spec["externalIPs"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    json!(match spec["type"].as_str().unwrap_or("ClusterIP") {
        "LoadBalancer" => {
            let all: Vec<String> = lb.into_iter().chain(external).collect();
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(&spec["externalName"]),
        _ if !external.is_empty() => external.join(","),
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

/// printPod's STATUS: the phase (or `status.reason`), overridden by an init container's or a
/// container's waiting/terminated reason; `Terminating` once deleted.
fn pod_status(o: &Value) -> Value {
    let st = &o["status"];
    let mut reason = s(&st["phase"]);
    if reason.is_empty() {
        reason = "Pending".into();
    }
    if let Some(r) = st["reason"].as_str() {
        reason = r.into();
    }
    let mut initializing = false;
    let inits = o["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    for (i, cs) in st["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let term = &cs["state"]["terminated"];
        if term.is_object() && n(&term["exitCode"]) == 0 {
            continue;
        }
        if cs["state"]["running"].is_object() && cs["started"] == true {
            // a sidecar (restartable init container) that runs is fine
            continue;
        }
        initializing = true;
        reason = if term.is_object() {
            match term["reason"].as_str() {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!("Init:ExitCode:{}", n(&term["exitCode"])),
            }
        } else {
            match cs["state"]["waiting"]["reason"].as_str() {
                Some(r) if !r.is_empty() && r != "PodInitializing" => format!("Init:{r}"),
                _ => format!("Init:{i}/{inits}"),
            }
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for cs in st["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
        {
            let state = &cs["state"];
            if let Some(r) = state["waiting"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.into();
            } else if let Some(r) = state["terminated"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.into();
            } else if state["terminated"].is_object() {
                let t = &state["terminated"];
                reason = if n(&t["signal"]) != 0 {
                    format!("Signal:{}", n(&t["signal"]))
                } else {
                    format!("ExitCode:{}", n(&t["exitCode"]))
                };
            } else if cs["ready"] == true && state["running"].is_object() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = st["conditions"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }
    if o["metadata"]["deletionTimestamp"].is_string() && reason != "Succeeded" && reason != "Failed"
    {
        reason = "Terminating".into();
    }
    json!(reason)
}

/// printPod's RESTARTS: the sum, with the last restart's age (`3 (45s ago)`).
fn pod_restarts(o: &Value) -> Value {
    let mut restarts = 0;
    let mut last: Option<String> = None;
    for cs in o["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        restarts += n(&cs["restartCount"]);
        if let Some(t) = cs["lastState"]["terminated"]["finishedAt"].as_str() {
            if last.as_deref().is_none_or(|l| l < t) {
                last = Some(t.to_string());
            }
        }
    }
    match last {
        Some(t) if restarts != 0 => json!(format!("{restarts} ({} ago)", age(&t))),
        _ => json!(restarts.to_string()),
    }
}

fn readiness_gates(o: &Value) -> Value {
    let gates = o["spec"]["readinessGates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if gates.is_empty() {
        return json!("<none>");
    }
    let conds = o["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ok = gates
        .iter()
        .filter(|g| {
            conds
                .iter()
                .any(|c| c["type"] == g["conditionType"] && c["status"] == "True")
        })
        .count();
    json!(format!("{ok}/{}", gates.len()))
}

fn node_roles(o: &Value) -> Value {
    let mut roles: Vec<String> = o["metadata"]["labels"]
        .as_object()
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    or_none(roles.join(","))
}

fn node_status(o: &Value) -> Value {
    let ready = o["status"]["conditions"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["type"] == "Ready").cloned());
    let mut st = match ready {
        Some(c) if c["status"] == "True" => "Ready".to_string(),
        Some(_) => "NotReady".into(),
        None => "Unknown".into(),
    };
    if o["spec"]["unschedulable"] == true {
        st.push_str(",SchedulingDisabled");
    }
    json!(st)
}

fn node_address(kind: &'static str) -> Cell {
    Box::new(move |o| {
        or_none(
            o["status"]["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == kind))
                .map(|x| s(&x["address"]))
                .unwrap_or_default(),
        )
    })
}

fn has_condition(o: &Value, ty: &str) -> bool {
    o["status"]["conditions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

/// printJob's STATUS.
fn job_status(o: &Value) -> Value {
    json!(if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    })
}

fn job_completions(o: &Value) -> Value {
    let succeeded = n(&o["status"]["succeeded"]);
    json!(match o["spec"]["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match o["spec"]["parallelism"].as_i64() {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    })
}

fn job_duration(o: &Value) -> Value {
    let t = |p: &str| {
        o["status"][p]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    json!(match (t("startTime"), t("completionTime")) {
        (Some(a), Some(b)) => human_duration((b - a).num_seconds()),
        (Some(a), None) =>
            human_duration((chrono::Utc::now() - a.with_timezone(&chrono::Utc)).num_seconds()),
        _ => String::new(),
    })
}

fn endpoints(o: &Value) -> Value {
    let mut eps = Vec::new();
    for ss in o["subsets"].as_array().into_iter().flatten() {
        let ports: Vec<String> = ss["ports"]
            .as_array()
            .map(|a| a.iter().map(|p| s(&p["port"])).collect())
            .unwrap_or_default();
        for a in ss["addresses"].as_array().into_iter().flatten() {
            if ports.is_empty() {
                eps.push(s(&a["ip"]));
            }
            for p in &ports {
                eps.push(format!("{}:{p}", s(&a["ip"])));
            }
        }
    }
    json!(list_with_more(eps, "<none>"))
}

fn slice_ports(o: &Value) -> Value {
    let ports: Vec<String> = o["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    if !p["port"].is_null() {
                        s(&p["port"])
                    } else if !p["name"].is_null() {
                        s(&p["name"])
                    } else {
                        "*".into()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    json!(list_with_more(ports, "<unset>"))
}

fn slice_endpoints(o: &Value) -> Value {
    let addrs: Vec<String> = o["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
        .map(|a| s(&a))
        .collect();
    json!(list_with_more(addrs, "<unset>"))
}

fn ingress_hosts(o: &Value) -> Value {
    let hosts: Vec<String> = o["spec"]["rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["host"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    json!(if hosts.is_empty() {
        "*".to_string()
    } else {
        list_with_more(hosts, "*")
    })
}

fn ingress_address(o: &Value) -> Value {
    let addrs: Vec<String> = o["status"]["loadBalancer"]["ingress"]
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
    json!(addrs.join(","))
}

fn ingress_ports(o: &Value) -> Value {
    json!(
        if o["spec"]["tls"].as_array().is_some_and(|a| !a.is_empty()) {
            "80, 443"
        } else {
            "80"
        }
    )
}

/// printEvent's OBJECT: `kind/name` in lower case.
fn event_object(o: &Value) -> Value {
    let io = &o["involvedObject"];
    let kind = s(&io["kind"]).to_lowercase();
    json!(match io["name"].as_str() {
        Some(name) if !name.is_empty() => format!("{kind}/{name}"),
        _ => kind,
    })
}

fn event_times(o: &Value) -> (String, String, i64) {
    let first = o["firstTimestamp"]
        .as_str()
        .or(o["eventTime"].as_str())
        .map(age)
        .unwrap_or_else(|| "<unknown>".into());
    let mut last = o["lastTimestamp"]
        .as_str()
        .map(age)
        .unwrap_or_else(|| first.clone());
    let mut count = o["count"].as_i64().unwrap_or(0);
    if o["series"].is_object() {
        if let Some(t) = o["series"]["lastObservedTime"].as_str() {
            last = age(t);
        }
        count = n(&o["series"]["count"]);
    } else if count == 0 {
        count = 1;
    }
    (first, last, count)
}

fn event_source(o: &Value) -> Value {
    let src = &o["source"];
    let (a, b) = if src["component"].is_string() {
        (s(&src["component"]), s(&src["host"]))
    } else {
        (s(&o["reportingComponent"]), s(&o["reportingInstance"]))
    };
    json!(if b.is_empty() { a } else { format!("{a}, {b}") })
}

fn controller_of(o: &Value) -> Value {
    let r = o["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["controller"] == true).cloned());
    json!(match r {
        Some(r) => {
            let group = s(&r["apiVersion"])
                .split_once('/')
                .map(|(g, _)| g.to_string())
                .unwrap_or_default();
            let kind = s(&r["kind"]).to_lowercase();
            let gk = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            format!("{gk}/{}", s(&r["name"]))
        }
        None => "<none>".into(),
    })
}

fn binding_subjects(kind: &'static str) -> Cell {
    Box::new(move |o| {
        let names: Vec<String> = o["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["kind"] == kind)
            .map(|x| {
                if kind == "ServiceAccount" {
                    format!("{}/{}", s(&x["namespace"]), s(&x["name"]))
                } else {
                    s(&x["name"])
                }
            })
            .collect();
        json!(names.join(", "))
    })
}

fn access_modes(o: &Value) -> Value {
    let modes: Vec<&str> = o["status"]["accessModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| match m.as_str()? {
            "ReadWriteOnce" => Some("RWO"),
            "ReadOnlyMany" => Some("ROX"),
            "ReadWriteMany" => Some("RWX"),
            "ReadWriteOncePod" => Some("RWOP"),
            _ => None,
        })
        .collect();
    json!(modes.join(","))
}

fn created_at(o: &Value) -> Value {
    json!(s(&o["metadata"]["creationTimestamp"]))
}

/// The columns of a built-in kind, `Name` included, or `None` for a kind without a printer.
fn builtin_columns(group: &str, plural: &str) -> Option<Vec<Column>> {
    let name = || c("Name", Box::new(|o: &Value| json!(o["metadata"]["name"])));
    let age_col = || c("Age", age_of(".metadata.creationTimestamp"));
    let mut cols = match (group, plural) {
        ("", "events") => {
            // no leading Name: printEvent's columns, Name last and wide only
            return Some(vec![
                c("Last Seen", Box::new(|o| json!(event_times(o).1))),
                c("Type", text(".type")),
                c("Reason", text(".reason")),
                c("Object", Box::new(event_object)),
                wide("Subobject", text(".involvedObject.fieldPath")),
                wide("Source", Box::new(event_source)),
                c("Message", Box::new(|o| json!(s(&o["message"]).trim()))),
                wide("First Seen", Box::new(|o| json!(event_times(o).0))),
                Column {
                    ty: "integer".into(),
                    ..wide("Count", Box::new(|o| json!(event_times(o).2)))
                },
                wide("Name", Box::new(|o| json!(o["metadata"]["name"]))),
            ]);
        }
        ("events.k8s.io", "events") => {
            return Some(vec![
                c(
                    "Last Seen",
                    Box::new(|o| {
                        json!(o["deprecatedLastTimestamp"]
                            .as_str()
                            .or(o["eventTime"].as_str())
                            .map(age)
                            .unwrap_or_default())
                    }),
                ),
                c("Type", text(".type")),
                c("Reason", text(".reason")),
                c(
                    "Object",
                    Box::new(|o| {
                        let r = &o["regarding"];
                        json!(format!(
                            "{}/{}",
                            s(&r["kind"]).to_lowercase(),
                            s(&r["name"])
                        ))
                    }),
                ),
                c("Message", Box::new(|o| json!(s(&o["note"]).trim()))),
            ]);
        }
        ("", "pods") => vec![
            c("Ready", Box::new(pod_ready)),
            c("Status", Box::new(pod_status)),
            c("Restarts", Box::new(pod_restarts)),
            age_col(),
            wide("IP", field(".status.podIP")),
            wide("Node", field(".spec.nodeName")),
            wide("Nominated Node", field(".status.nominatedNodeName")),
            wide("Readiness Gates", Box::new(readiness_gates)),
        ],
        ("", "services") => vec![
            c("Type", text(".spec.type")),
            c("Cluster-IP", field(".spec.clusterIP")),
            c("External-IP", Box::new(service_external)),
            c("Port(s)", Box::new(service_ports)),
            age_col(),
            wide(
                "Selector",
                Box::new(|o| json!(format_labels(&o["spec"]["selector"]))),
            ),
        ],
        ("", "namespaces") => vec![c("Status", text(".status.phase")), age_col()],
        ("", "nodes") => vec![
            c("Status", Box::new(node_status)),
            c("Roles", Box::new(node_roles)),
            age_col(),
            c("Version", text(".status.nodeInfo.kubeletVersion")),
            wide("Internal-IP", node_address("InternalIP")),
            wide("External-IP", node_address("ExternalIP")),
            wide("OS-Image", text(".status.nodeInfo.osImage")),
            wide("Kernel-Version", text(".status.nodeInfo.kernelVersion")),
            wide(
                "Container-Runtime",
                text(".status.nodeInfo.containerRuntimeVersion"),
            ),
        ],
        ("", "configmaps") => vec![
            ci(
                "Data",
                Box::new(|o| {
                    json!(
                        o["data"].as_object().map_or(0, |m| m.len())
                            + o["binaryData"].as_object().map_or(0, |m| m.len())
                    )
                }),
            ),
            age_col(),
        ],
        ("", "secrets") => vec![
            c("Type", text(".type")),
            ci(
                "Data",
                Box::new(|o| json!(o["data"].as_object().map_or(0, |m| m.len()))),
            ),
            age_col(),
        ],
        ("", "serviceaccounts") => vec![ci("Secrets", len(".secrets")), age_col()],
        ("", "endpoints") => vec![c("Endpoints", Box::new(endpoints)), age_col()],
        ("", "persistentvolumeclaims") => vec![
            c("Status", text(".status.phase")),
            c("Volume", text(".spec.volumeName")),
            c("Capacity", text(".status.capacity.storage")),
            c("Access Modes", Box::new(access_modes)),
            c("StorageClass", text(".spec.storageClassName")),
            c(
                "VolumeAttributesClass",
                Box::new(|o| {
                    json!(o["spec"]["volumeAttributesClassName"]
                        .as_str()
                        .unwrap_or("<unset>"))
                }),
            ),
            age_col(),
            wide(
                "VolumeMode",
                Box::new(|o| json!(o["spec"]["volumeMode"].as_str().unwrap_or("<unset>"))),
            ),
        ],
        ("discovery.k8s.io", "endpointslices") => vec![
            c("AddressType", text(".addressType")),
            c("Ports", Box::new(slice_ports)),
            c("Endpoints", Box::new(slice_endpoints)),
            age_col(),
        ],
        ("apps", "deployments") => {
            let mut v = vec![
                c(
                    "Ready",
                    Box::new(|o| {
                        json!(format!(
                            "{}/{}",
                            n(&o["status"]["readyReplicas"]),
                            n(&o["spec"]["replicas"])
                        ))
                    }),
                ),
                ci("Up-to-date", count(".status.updatedReplicas")),
                ci("Available", count(".status.availableReplicas")),
                age_col(),
            ];
            v.extend(workload_wide(".spec.template.spec", Some(".spec.selector")));
            v
        }
        ("apps", "replicasets") => {
            let mut v = vec![
                ci("Desired", count(".spec.replicas")),
                ci("Current", count(".status.replicas")),
                ci("Ready", count(".status.readyReplicas")),
                age_col(),
            ];
            v.extend(workload_wide(".spec.template.spec", Some(".spec.selector")));
            v
        }
        ("apps", "statefulsets") => {
            let mut v = vec![
                c(
                    "Ready",
                    Box::new(|o| {
                        json!(format!(
                            "{}/{}",
                            n(&o["status"]["readyReplicas"]),
                            n(&o["spec"]["replicas"])
                        ))
                    }),
                ),
                age_col(),
            ];
            v.extend(workload_wide(".spec.template.spec", None));
            v
        }
        ("apps", "daemonsets") => {
            let mut v = vec![
                ci("Desired", count(".status.desiredNumberScheduled")),
                ci("Current", count(".status.currentNumberScheduled")),
                ci("Ready", count(".status.numberReady")),
                ci("Up-to-date", count(".status.updatedNumberScheduled")),
                ci("Available", count(".status.numberAvailable")),
                c(
                    "Node Selector",
                    Box::new(|o| {
                        json!(format_labels(
                            &o["spec"]["template"]["spec"]["nodeSelector"]
                        ))
                    }),
                ),
                age_col(),
            ];
            v.extend(workload_wide(".spec.template.spec", Some(".spec.selector")));
            v
        }
        ("apps", "controllerrevisions") => vec![
            c("Controller", Box::new(controller_of)),
            ci("Revision", count(".revision")),
            age_col(),
        ],
        ("batch", "jobs") => {
            let mut v = vec![
                c("Status", Box::new(job_status)),
                c("Completions", Box::new(job_completions)),
                c("Duration", Box::new(job_duration)),
                age_col(),
            ];
            v.extend(workload_wide(".spec.template.spec", Some(".spec.selector")));
            v
        }
        ("batch", "cronjobs") => {
            let mut v = vec![
                c("Schedule", text(".spec.schedule")),
                c("Timezone", field(".spec.timeZone")),
                c(
                    "Suspend",
                    Box::new(|o| {
                        json!(if o["spec"]["suspend"] == true {
                            "True"
                        } else {
                            "False"
                        })
                    }),
                ),
                ci("Active", len(".status.active")),
                c("Last Schedule", age_of(".status.lastScheduleTime")),
                age_col(),
            ];
            v.extend(workload_wide(
                ".spec.jobTemplate.spec.template.spec",
                Some(".spec.jobTemplate.spec.selector"),
            ));
            v
        }
        ("networking.k8s.io", "ingresses") => vec![
            c("Class", field(".spec.ingressClassName")),
            c("Hosts", Box::new(ingress_hosts)),
            c("Address", Box::new(ingress_address)),
            c("Ports", Box::new(ingress_ports)),
            age_col(),
        ],
        ("networking.k8s.io", "ingressclasses") => vec![
            c("Controller", text(".spec.controller")),
            c(
                "Parameters",
                Box::new(|o| {
                    let p = &o["spec"]["parameters"];
                    if p.is_object() {
                        json!(format!("{}/{}", s(&p["kind"]), s(&p["name"])))
                    } else {
                        json!("<none>")
                    }
                }),
            ),
            age_col(),
        ],
        ("networking.k8s.io", "networkpolicies") => {
            vec![
                c("Pod-Selector", selector_of(".spec.podSelector")),
                age_col(),
            ]
        }
        ("coordination.k8s.io", "leases") => {
            vec![c("Holder", text(".spec.holderIdentity")), age_col()]
        }
        ("scheduling.k8s.io", "priorityclasses") => vec![
            ci("Value", count(".value")),
            c(
                "Global-Default",
                Box::new(|o| json!(o["globalDefault"] == true)),
            ),
            age_col(),
            c(
                "PreemptionPolicy",
                Box::new(|o| {
                    json!(o["preemptionPolicy"]
                        .as_str()
                        .unwrap_or("PreemptLowerPriority"))
                }),
            ),
        ],
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            vec![c("Created At", Box::new(created_at))]
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => vec![
            c(
                "Role",
                Box::new(|o| {
                    json!(format!(
                        "{}/{}",
                        s(&o["roleRef"]["kind"]),
                        s(&o["roleRef"]["name"])
                    ))
                }),
            ),
            age_col(),
            wide("Users", binding_subjects("User")),
            wide("Groups", binding_subjects("Group")),
            wide("ServiceAccounts", binding_subjects("ServiceAccount")),
        ],
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations" | "mutatingwebhookconfigurations",
        ) => {
            vec![ci("Webhooks", len(".webhooks")), age_col()]
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => vec![
            ci("Validations", len(".spec.validations")),
            c(
                "ParamKind",
                Box::new(|o| {
                    let p = &o["spec"]["paramKind"];
                    if p.is_object() {
                        json!(format!("{}/{}", s(&p["apiVersion"]), s(&p["kind"])))
                    } else {
                        json!("<unset>")
                    }
                }),
            ),
            age_col(),
        ],
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => vec![
            c("PolicyName", text(".spec.policyName")),
            c(
                "ParamRef",
                Box::new(|o| {
                    let p = &o["spec"]["paramRef"];
                    if p.is_object() {
                        json!(format!("{}/{}", s(&p["namespace"]), s(&p["name"]))
                            .trim_start_matches('/')
                            .to_string())
                    } else {
                        json!("<unset>")
                    }
                }),
            ),
            age_col(),
        ],
        ("storage.k8s.io", "storageclasses") => vec![
            c("Provisioner", text(".provisioner")),
            c(
                "ReclaimPolicy",
                Box::new(|o| json!(o["reclaimPolicy"].as_str().unwrap_or("Delete"))),
            ),
            c(
                "VolumeBindingMode",
                Box::new(|o| json!(o["volumeBindingMode"].as_str().unwrap_or("Immediate"))),
            ),
            c(
                "AllowVolumeExpansion",
                Box::new(|o| json!(o["allowVolumeExpansion"] == true)),
            ),
            age_col(),
        ],
        ("policy", "poddisruptionbudgets") => vec![
            c("Min Available", field(".spec.minAvailable")),
            c("Max Unavailable", field(".spec.maxUnavailable")),
            ci("Allowed Disruptions", count(".status.disruptionsAllowed")),
            age_col(),
        ],
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            vec![c("Created At", Box::new(created_at))]
        }
        _ => return None,
    };
    cols.insert(0, name());
    Some(cols)
}

/// A CRD's `additionalPrinterColumns` (Name first; `Age` alone when none are declared).
fn custom_columns(def: &ResourceDef) -> Vec<Column> {
    let mut cols = vec![c(
        "Name",
        Box::new(|o: &Value| json!(o["metadata"]["name"])),
    )];
    if def.printer_columns.is_empty() {
        cols.push(Column {
            ty: "date".into(),
            ..c("Age", age_of(".metadata.creationTimestamp"))
        });
        return cols;
    }
    for pc in &def.printer_columns {
        let path = pc.json_path.clone();
        let ty = pc.type_.clone();
        let cell: Cell = Box::new(move |o| {
            let v = json_path(o, &path);
            match (ty.as_str(), &v) {
                (_, Value::Null) => Value::Null,
                ("date", Value::String(t)) => json!(age(t)),
                ("integer", Value::Number(x)) => json!(x
                    .as_i64()
                    .unwrap_or_else(|| x.as_f64().unwrap_or(0.0) as i64)),
                ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => v,
                ("string", Value::String(_)) => v,
                // cells of another type than declared print as JSON text, as kubectl shows them
                (_, Value::String(_)) => v,
                _ => json!(v.to_string()),
            }
        });
        cols.push(Column {
            name: pc.name.clone(),
            ty: pc.type_.clone(),
            priority: pc.priority,
            cell,
        });
    }
    cols
}

/// A Table of objects (each row carries the object, as kubectl expects).
pub fn table(def: &ResourceDef, objs: &[Value], rv: &str) -> Value {
    let cols = if def.custom {
        custom_columns(def)
    } else {
        builtin_columns(&def.group, &def.plural).unwrap_or_else(|| {
            vec![
                c("Name", Box::new(|o: &Value| json!(o["metadata"]["name"]))),
                c("Created At", Box::new(created_at)),
            ]
        })
    };
    let columns: Vec<Value> = cols
        .iter()
        .map(|k| col(&k.name, &k.ty, k.priority))
        .collect();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|k| (k.cell)(o)).collect();
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
    fn durations_read_as_kubectl_prints_them() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (59, "59s"),
            (119, "119s"),
            (150, "2m30s"),
            (300, "5m"),
            (900, "15m"),
            (3 * 3600 + 120, "3h2m"),
            (5 * 3600, "5h"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (40 * 86400, "40d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (10 * 365 * 86400, "10y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

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

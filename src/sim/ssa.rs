//! Server-side apply: field sets per manager (`metadata.managedFields`, FieldsV1), conflicts
//! and the removal of fields an applier stops mentioning.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::patch::merge_key;
use super::status::ApiError;
use super::store::now;

/// A field path in FieldsV1 components: `f:spec`, `f:containers`, `k:{"name":"app"}`.
pub type Path = Vec<String>;

const UNTRACKED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// Every owned path of an object (leaves, plus list items merged by key).
pub fn tracked_paths(obj: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            match k.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    if let Some(mm) = v.as_object() {
                        for (mk, mv) in mm {
                            if !UNTRACKED_META.contains(&mk.as_str()) {
                                walk(
                                    mv,
                                    mk,
                                    vec!["f:metadata".into(), format!("f:{mk}")],
                                    &mut out,
                                );
                            }
                        }
                    }
                }
                _ => walk(v, k, vec![format!("f:{k}")], &mut out),
            }
        }
    }
    out
}

fn item_component(key: &str, item: &Value) -> String {
    let mut m = Map::new();
    m.insert(key.to_string(), item[key].clone());
    format!("k:{}", Value::Object(m))
}

fn walk(v: &Value, field: &str, path: Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(format!("f:{k}"));
                walk(c, k, p, out);
            }
        }
        Value::Array(items) if !items.is_empty() => match merge_key(field, items) {
            Some(key) => {
                for item in items {
                    let mut p = path.clone();
                    p.push(item_component(key, item));
                    out.insert(p.clone());
                    walk(item, "", p, out);
                }
            }
            None => {
                out.insert(path);
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

fn step<'a>(v: &'a Value, comp: &str) -> Option<&'a Value> {
    if let Some(f) = comp.strip_prefix("f:") {
        return v.get(f);
    }
    let kv: Map<String, Value> = serde_json::from_str(comp.strip_prefix("k:")?).ok()?;
    let (k, want) = kv.iter().next()?;
    v.as_array()?.iter().find(|i| i.get(k) == Some(want))
}

/// The value at a path, if present.
pub fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, c| step(cur, c))
}

/// Removes the field or list item at a path.
pub fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for comp in parent_path {
        let next = if let Some(f) = comp.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let Some(kv) = comp
                .strip_prefix("k:")
                .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
            else {
                return;
            };
            let Some((k, want)) = kv.into_iter().next() else {
                return;
            };
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| i.get(&k) == Some(&want)))
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(kv) = last
        .strip_prefix("k:")
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
    {
        if let (Some((k, want)), Some(a)) = (kv.into_iter().next(), cur.as_array_mut()) {
            a.retain(|i| i.get(&k) != Some(&want));
        }
    }
}

/// Merges an applied configuration into the live object: maps field by field, keyed lists
/// item by item (applied order first), everything else replaced.
pub fn merge_applied(live: &mut Value, applied: &Value, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                match l.get_mut(k) {
                    Some(lv) => merge_applied(lv, v, k),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => {
            match merge_key(field, a).filter(|_| merge_key(field, l).is_some()) {
                Some(key) => {
                    let mut out = Vec::new();
                    for item in a {
                        match l.iter().position(|x| x[key] == item[key]) {
                            Some(i) => {
                                let mut cur = l.remove(i);
                                merge_applied(&mut cur, item, "");
                                out.push(cur);
                            }
                            None => out.push(item.clone()),
                        }
                    }
                    out.append(l);
                    *l = out;
                }
                None => *l = a.clone(),
            }
        }
        (l, a) => *l = a.clone(),
    }
}

/// Paths as FieldsV1.
pub fn to_fields_v1(paths: &BTreeSet<Path>) -> Value {
    let mut root = json!({});
    for p in paths {
        let mut cur = &mut root;
        for c in p {
            cur = cur
                .as_object_mut()
                .expect("fieldsV1 nodes are objects")
                .entry(c.clone())
                .or_insert_with(|| json!({}));
        }
        if !cur.as_object().is_some_and(|m| m.is_empty()) {
            cur["."] = json!({});
        }
    }
    // mark nodes that are both owned and have children
    fn fix(v: &mut Value, paths: &BTreeSet<Path>, prefix: &mut Path) {
        if let Some(m) = v.as_object_mut() {
            let has_children = m.keys().any(|k| k != ".");
            if has_children && paths.contains(prefix) {
                m.insert(".".into(), json!({}));
            }
            for (k, c) in m.iter_mut() {
                if k != "." {
                    prefix.push(k.clone());
                    fix(c, paths, prefix);
                    prefix.pop();
                }
            }
        }
    }
    fix(&mut root, paths, &mut vec![]);
    root
}

/// FieldsV1 as paths.
pub fn from_fields_v1(v: &Value) -> BTreeSet<Path> {
    fn rec(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
        let Some(m) = v.as_object() else { return };
        if (m.is_empty() || m.contains_key(".")) && !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        for (k, c) in m {
            if k != "." {
                prefix.push(k.clone());
                rec(c, prefix, out);
                prefix.pop();
            }
        }
    }
    let mut out = BTreeSet::new();
    rec(v, &mut vec![], &mut out);
    out
}

/// `.spec.containers[name="app"].image`
pub fn display_path(p: &[String]) -> String {
    let mut s = String::new();
    for c in p {
        if let Some(f) = c.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = c.strip_prefix("k:") {
            let kv: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let inner: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", inner.join(",")));
        }
    }
    s
}

#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
    time: String,
    paths: BTreeSet<Path>,
}

fn read_entries(obj: Option<&Value>) -> Vec<Entry> {
    obj.and_then(|o| o["metadata"]["managedFields"].as_array())
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
            subresource: e["subresource"].as_str().map(String::from),
            time: e["time"].as_str().unwrap_or_default().to_string(),
            paths: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.paths.is_empty())
        .map(|e| {
            let mut v = json!({"manager": e.manager, "operation": e.operation,
                "apiVersion": e.api_version, "time": e.time, "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.paths)});
            if let Some(s) = &e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if list.is_empty() {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    } else {
        obj["metadata"]["managedFields"] = Value::Array(list);
    }
}

fn set_entry(
    entries: &mut Vec<Entry>,
    manager: &str,
    op: &str,
    api_version: &str,
    paths: BTreeSet<Path>,
) {
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == op && e.subresource.is_none())
    {
        Some(e) => {
            if e.paths != paths || e.api_version != api_version {
                e.paths = paths;
                e.api_version = api_version.to_string();
                e.time = now();
            }
        }
        None => entries.push(Entry {
            manager: manager.into(),
            operation: op.into(),
            api_version: api_version.into(),
            subresource: None,
            time: now(),
            paths,
        }),
    }
}

/// Applies `applied` as `manager` onto `live` (None: the object is created).
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut entries = read_entries(live);
    let new_paths = tracked_paths(applied);
    let base = live.cloned().unwrap_or_else(|| json!({}));
    let is_me =
        |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource.is_none();
    // conflicts with other managers over differing values
    let mut conflicts = Vec::new();
    for e in entries
        .iter()
        .filter(|e| !is_me(e) && e.subresource.is_none())
    {
        for p in e.paths.intersection(&new_paths) {
            if get_path(&base, p) != get_path(applied, p) {
                conflicts.push((e.manager.clone(), e.api_version.clone(), p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, _, p)| {
                json!({"type": "FieldManagerConflict",
                "message": format!("conflict with \"{m}\""), "field": display_path(p)})
            })
            .collect();
        let lines: Vec<String> = conflicts
            .iter()
            .map(|(m, v, p)| format!("- conflict with \"{m}\" using {v}: {}", display_path(p)))
            .collect();
        let n = conflicts.len();
        let mut err = ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {n} conflict{}: {}",
                if n == 1 { "" } else { "s" },
                lines.join("\n").trim_start_matches("- ")
            ),
        );
        err.details = json!({"name": applied["metadata"]["name"], "causes": causes});
        return Err(err);
    }
    let mut obj = base.clone();
    // remove what this manager owned before and no longer mentions, unless someone else owns it
    let previous = entries
        .iter()
        .find(|e| is_me(e))
        .map(|e| e.paths.clone())
        .unwrap_or_default();
    for p in previous.difference(&new_paths) {
        let shared = entries
            .iter()
            .filter(|e| !is_me(e))
            .any(|e| e.paths.iter().any(|q| q.starts_with(p)));
        if !shared {
            remove_path(&mut obj, p);
            // parents left empty go too, unless someone still owns something under them
            for i in (1..p.len()).rev() {
                let parent = &p[..i];
                let empty = get_path(&obj, parent).is_some_and(|v| {
                    v.as_object().is_some_and(|m| m.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty())
                });
                let owned = new_paths.iter().any(|q| q.starts_with(parent))
                    || entries
                        .iter()
                        .filter(|e| !is_me(e))
                        .any(|e| e.paths.iter().any(|q| q.starts_with(parent)));
                if !empty || owned {
                    break;
                }
                remove_path(&mut obj, parent);
            }
        }
    }
    merge_applied(&mut obj, applied, "");
    if force {
        for e in entries.iter_mut().filter(|e| !is_me(e)) {
            let taken: Vec<Path> = conflicts
                .iter()
                .filter(|(m, _, _)| *m == e.manager)
                .map(|(_, _, p)| p.clone())
                .collect();
            if !taken.is_empty() {
                for p in taken {
                    e.paths.remove(&p);
                }
                e.time = now();
            }
        }
    }
    set_entry(&mut entries, manager, "Apply", &api_version, new_paths);
    write_entries(&mut obj, &entries);
    Ok(obj)
}

/// Records an ordinary update (PUT or patch) by `manager`: it takes the fields it changed.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    let mut entries = read_entries(old);
    let old_paths = old.map(tracked_paths).unwrap_or_default();
    let new_paths = tracked_paths(new);
    let empty = json!({});
    let old_v = old.unwrap_or(&empty);
    let changed: BTreeSet<Path> = new_paths
        .iter()
        .filter(|p| get_path(old_v, p) != get_path(new, p))
        .cloned()
        .collect();
    let removed: Vec<&Path> = old_paths.difference(&new_paths).collect();
    for e in entries.iter_mut() {
        let before = e.paths.len();
        e.paths
            .retain(|p| !removed.contains(&p) && (e.manager == manager || !changed.contains(p)));
        if e.paths.len() != before {
            e.time = now();
        }
    }
    if !changed.is_empty() || subresource.is_some() {
        let api_version = new["apiVersion"].as_str().unwrap_or_default().to_string();
        match entries.iter_mut().find(|e| {
            e.manager == manager
                && e.operation == "Update"
                && e.subresource.as_deref() == subresource
        }) {
            Some(e) if !changed.is_subset(&e.paths) => {
                e.paths.extend(changed);
                e.time = now();
            }
            Some(_) => {}
            None if !changed.is_empty() => entries.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version,
                subresource: subresource.map(String::from),
                time: now(),
                paths: changed,
            }),
            None => {}
        }
    }
    write_entries(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn fields_v1_round_trip() {
        let paths = tracked_paths(&deploy("nginx"));
        let v1 = to_fields_v1(&paths);
        assert!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["."]
                .is_object()
        );
        assert_eq!(from_fields_v1(&v1), paths);
    }

    #[test]
    fn label_from_another_manager_survives_reapply() {
        let live = apply(None, &deploy("nginx"), "kubectl", false).unwrap();
        let mut labelled = live.clone();
        labelled["metadata"]["labels"]["team"] = json!("a");
        record_update(Some(&live), &mut labelled, "kubectl-label", None);
        let again = apply(Some(&labelled), &deploy("nginx"), "kubectl", false).unwrap();
        assert_eq!(again["metadata"]["labels"]["team"], "a");
        assert_eq!(again, labelled, "an unchanged re-apply changes nothing");
    }

    #[test]
    fn dropped_fields_are_removed_and_conflicts_reported() {
        let live = apply(None, &deploy("nginx"), "mgr-a", false).unwrap();
        let mut smaller = deploy("nginx");
        smaller["metadata"]["labels"] = json!({});
        smaller["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let after = apply(Some(&live), &smaller, "mgr-a", false).unwrap();
        assert!(
            after["metadata"].get("labels").is_none()
                || after["metadata"]["labels"].get("app").is_none()
        );

        let err = apply(Some(&live), &deploy("httpd"), "mgr-b", false).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.details["causes"][0]["type"], "FieldManagerConflict");
        assert!(err.message.contains(".image"), "{}", err.message);
        let forced = apply(Some(&live), &deploy("httpd"), "mgr-b", true).unwrap();
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            "httpd"
        );
    }

    #[test]
    fn keyed_list_items_merge() {
        let live = apply(None, &deploy("nginx"), "a", false).unwrap();
        let mut extra = deploy("nginx");
        extra["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "side", "image": "envoy"}]);
        extra["spec"].as_object_mut().unwrap().remove("replicas");
        let both = apply(Some(&live), &extra, "b", false).unwrap();
        let cs = both["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 2);
    }
}

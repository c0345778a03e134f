//! Server-side apply: field sets per manager (`metadata.managedFields`, FieldsV1), lists
//! merged by their real list types (built-in kinds by the upstream `x-kubernetes-list-type`
//! and `x-kubernetes-list-map-keys` of their OpenAPI schemas, CRDs by their structural
//! schema's), ownership per list item, conflicts with apimachinery's messages, the removal of
//! fields an applier stops mentioning, and writable managedFields.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::cluster::Cluster;
use super::openapi;
use super::patch::merge_key;
use super::resources::ResourceDef;
use super::status::ApiError;
use super::store::now;
use super::validation;

/// A field path in FieldsV1 components: `f:spec`, `f:containers`, `k:{"name":"app"}`,
/// `v:"finalizer"`.
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

/// How a list merges, from its schema's `x-kubernetes-list-type` (structured-merge-diff's
/// rules, <https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy>):
/// `atomic` (the default for lists without one) is replaced whole and owned as one field,
/// `set` merges scalar items owned one by one (`v:<value>`), `map` merges items by their
/// `x-kubernetes-list-map-keys` (`k:{"port":80,"protocol":"TCP"}`).
#[derive(Clone, Debug, PartialEq)]
pub enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// The schema a kind's objects are merged by: a built-in kind's OpenAPI definition (the
/// k8s-openapi schemas of [`openapi`], carrying the upstream list types), a CRD's structural
/// schema, or none (lists then merge by the strategic-merge keys of [`merge_key`]).
#[derive(Clone, Debug, Default)]
pub enum Schema {
    Builtin(&'static str),
    Crd(Arc<Value>),
    #[default]
    Unknown,
}

impl Schema {
    /// The schema of a kind served by `cluster`.
    pub fn of(cluster: &Cluster, def: &ResourceDef) -> Schema {
        if def.custom {
            return validation::crd_schema_of(cluster, def).map_or(Schema::Unknown, Schema::Crd);
        }
        let version = def.versions.first().map_or("v1", String::as_str);
        openapi::builtin_root(&def.group, version, &def.kind)
            .map_or(Schema::Unknown, Schema::Builtin)
    }

    /// The shape at the root of an object.
    pub fn root(&self) -> Shape<'_> {
        match self {
            Schema::Builtin(root) => Shape {
                node: openapi::builtin_definitions().get(*root),
                guess: false,
            },
            Schema::Crd(s) => Shape {
                node: Some(s),
                guess: false,
            },
            Schema::Unknown => Shape {
                node: None,
                guess: true,
            },
        }
    }
}

/// Where a value sits in its kind's schema.
#[derive(Clone, Copy, Debug)]
pub struct Shape<'a> {
    node: Option<&'a Value>,
    /// No schema at all: lists merge by the strategic-merge keys (a kind without one).
    guess: bool,
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

impl<'a> Shape<'a> {
    fn resolved(self) -> Option<&'a Value> {
        let defs = openapi::builtin_definitions();
        let mut s = self.node?;
        for _ in 0..8 {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                s = defs.get(r.rsplit('/').next().unwrap_or(r))?;
            } else if let Some(first) = s.get("allOf").and_then(|a| a.get(0)) {
                s = first;
            } else {
                break;
            }
        }
        Some(s)
    }

    fn ext(self, name: &str) -> Option<&'a Value> {
        self.node
            .and_then(|n| n.get(name))
            .or_else(|| self.resolved().and_then(|n| n.get(name)))
    }

    /// The shape of a field of an object (a CRD's `metadata` is the built-in ObjectMeta).
    pub fn field(self, name: &str, at_root: bool) -> Shape<'a> {
        if at_root && name == "metadata" && !self.guess {
            return Shape {
                node: openapi::builtin_definitions().get(OBJECT_META),
                guess: false,
            };
        }
        let r = self.resolved();
        let node = r
            .and_then(|n| n.get("properties"))
            .and_then(|p| p.get(name))
            .or_else(|| {
                r.and_then(|n| n.get("additionalProperties"))
                    .filter(|a| a.is_object())
            });
        Shape {
            node,
            guess: self.guess,
        }
    }

    /// The shape of a list's items.
    pub fn items(self) -> Shape<'a> {
        Shape {
            node: self.resolved().and_then(|n| n.get("items")),
            guess: self.guess,
        }
    }

    /// Whether a map or struct is owned and replaced as a whole (`x-kubernetes-map-type:
    /// atomic`, e.g. a Service's `selector`, LabelSelector).
    pub fn atomic_map(self) -> bool {
        self.ext("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
    }

    /// The list type of a list field named `field` holding `items`.
    pub fn list_type(self, field: &str, items: &[Value]) -> ListType {
        match self.ext("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                self.ext("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| {
                        k.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Some(_) => ListType::Atomic,
            None if self.guess => match merge_key(field, items) {
                Some(k) if field == "ports" => ListType::Map(vec![k.into(), "protocol".into()]),
                Some(k) => ListType::Map(vec![k.into()]),
                None => ListType::Atomic,
            },
            None => ListType::Atomic,
        }
    }

    /// The shape at a path below this one.
    pub fn at(self, path: &[String]) -> Shape<'a> {
        let mut cur = self;
        for (i, c) in path.iter().enumerate() {
            cur = match c.strip_prefix("f:") {
                Some(f) => cur.field(f, i == 0),
                None => cur.items(),
            };
        }
        cur
    }
}

/// The value of a list-map key of an item, with the key's default when it is left out
/// (structured-merge-diff fills defaulted keys from the schema's `default`: a port's
/// `protocol` is `TCP` (`+default="TCP"` upstream), which is why a Service port applied as
/// `{port: 80}` is owned as `k:{"port":80,"protocol":"TCP"}`).
fn key_value(item: &Value, key: &str, defaults: &Map<String, Value>) -> Option<Value> {
    match item.get(key) {
        Some(v) if !v.is_null() => Some(v.clone()),
        _ => match defaults.get(key) {
            Some(d) => Some(d.clone()),
            None if key == "protocol" => Some(json!("TCP")),
            None => None,
        },
    }
}

/// The schema defaults of a list's item fields (the keys' defaults of a CRD's map list).
fn key_defaults(items: Shape<'_>) -> Map<String, Value> {
    items
        .resolved()
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.get("default")?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// `k:{...}` of a list-map item (keys in name order, as structured-merge-diff writes them).
fn item_component(keys: &[String], item: &Value, defaults: &Map<String, Value>) -> Option<String> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        m.insert(k.clone(), key_value(item, k, defaults)?);
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// Whether a list item matches a `k:` or `v:` component.
fn item_matches(item: &Value, comp: &str) -> bool {
    if let Some(v) = comp.strip_prefix("v:") {
        return serde_json::from_str::<Value>(v).is_ok_and(|want| *item == want);
    }
    let Some(kv) = comp
        .strip_prefix("k:")
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
    else {
        return false;
    };
    kv.iter()
        .all(|(k, want)| key_value(item, k, &Map::new()).as_ref() == Some(want))
}

/// Every owned path of an object (leaves, list items of `map` and `set` lists, atomic maps
/// and lists as one field).
pub fn tracked_paths(obj: &Value, shape: Shape<'_>) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            match k.as_str() {
                "apiVersion" | "kind" | "status" => {}
                "metadata" => {
                    let meta = shape.field("metadata", true);
                    if let Some(mm) = v.as_object() {
                        for (mk, mv) in mm {
                            if !UNTRACKED_META.contains(&mk.as_str()) {
                                walk(
                                    mv,
                                    mk,
                                    meta.field(mk, false),
                                    vec!["f:metadata".into(), format!("f:{mk}")],
                                    &mut out,
                                );
                            }
                        }
                    }
                }
                _ => walk(v, k, shape.field(k, true), vec![format!("f:{k}")], &mut out),
            }
        }
    }
    out
}

fn walk(v: &Value, field: &str, shape: Shape<'_>, path: Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() && !shape.atomic_map() => {
            for (k, c) in m {
                let mut p = path.clone();
                p.push(format!("f:{k}"));
                walk(c, k, shape.field(k, false), p, out);
            }
        }
        Value::Array(items) if !items.is_empty() => match shape.list_type(field, items) {
            ListType::Map(keys) => {
                let comps: Option<Vec<String>> = {
                    let defaults = key_defaults(shape.items());
                    items
                        .iter()
                        .map(|i| item_component(&keys, i, &defaults))
                        .collect()
                };
                let Some(comps) = comps.filter(|_| !keys.is_empty()) else {
                    out.insert(path);
                    return;
                };
                for (item, comp) in items.iter().zip(comps) {
                    let mut p = path.clone();
                    p.push(comp);
                    out.insert(p.clone());
                    walk(item, "", shape.items(), p, out);
                }
            }
            ListType::Set => {
                for item in items {
                    let mut p = path.clone();
                    p.push(format!("v:{item}"));
                    out.insert(p);
                }
            }
            ListType::Atomic => {
                out.insert(path);
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

/// The first `map` list of an applied configuration with two items of the same key, as
/// structured-merge-diff reports it: `.spec.ports: duplicate entries for key
/// [port=80,protocol="TCP"]`.
fn duplicate_key(v: &Value, field: &str, shape: Shape<'_>, path: &mut Path) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, c)| {
            let root = path.is_empty();
            path.push(format!("f:{k}"));
            let found = duplicate_key(c, k, shape.field(k, root), path);
            path.pop();
            found
        }),
        Value::Array(items) => {
            if let ListType::Map(keys) = shape.list_type(field, items) {
                let mut seen = BTreeSet::new();
                let defaults = key_defaults(shape.items());
                for comp in items
                    .iter()
                    .filter_map(|i| item_component(&keys, i, &defaults))
                {
                    if !seen.insert(comp.clone()) {
                        return Some(format!(
                            "{}: duplicate entries for key {}",
                            display_path(path),
                            display_path(&[comp])
                        ));
                    }
                }
            }
            items
                .iter()
                .find_map(|i| duplicate_key(i, "", shape.items(), path))
        }
        _ => None,
    }
}

fn step<'a>(v: &'a Value, comp: &str) -> Option<&'a Value> {
    if let Some(f) = comp.strip_prefix("f:") {
        return v.get(f);
    }
    v.as_array()?.iter().find(|i| item_matches(i, comp))
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
        let next = match comp.strip_prefix("f:") {
            Some(f) => cur.get_mut(f),
            None => cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| item_matches(i, comp))),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last.strip_prefix("f:") {
        Some(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        None => {
            if let Some(a) = cur.as_array_mut() {
                a.retain(|i| !item_matches(i, last));
            }
        }
    }
}

/// Merges an applied configuration into the live object: maps field by field (atomic ones
/// replaced), `map` lists item by item by their keys (applied order first, then the items
/// only the live object has), `set` lists as a union, everything else replaced.
pub fn merge_applied(live: &mut Value, applied: &Value, field: &str, shape: Shape<'_>, root: bool) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !shape.atomic_map() => {
            for (k, v) in a {
                let child = shape.field(k, root);
                match l.get_mut(k) {
                    Some(lv) => merge_applied(lv, v, k, child, false),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match shape.list_type(field, a) {
            ListType::Map(keys)
                if !keys.is_empty()
                    && a.iter().chain(l.iter()).all(|i| {
                        item_component(&keys, i, &key_defaults(shape.items())).is_some()
                    }) =>
            {
                let defaults = key_defaults(shape.items());
                let id = |i: &Value| item_component(&keys, i, &defaults).unwrap_or_default();
                let live = std::mem::take(l);
                *l = merge_ordered(live, a, id, |cur, item| {
                    merge_applied(cur, item, "", shape.items(), false)
                });
            }
            ListType::Set => {
                let live = std::mem::take(l);
                *l = merge_ordered(live, a, |i| i.to_string(), |_, _| {});
            }
            _ => *l = a.clone(),
        },
        (l, a) => *l = a.clone(),
    }
}

/// Merges the items of a live list and an applied one as structured-merge-diff does: items
/// in both are merged in place, items only the live list has keep their position before the
/// applied ones that follow them, applied items keep their order.
fn merge_ordered(
    live: Vec<Value>,
    applied: &[Value],
    id: impl Fn(&Value) -> String,
    merge: impl Fn(&mut Value, &Value),
) -> Vec<Value> {
    let applied_ids: BTreeSet<String> = applied.iter().map(&id).collect();
    let mut live: Vec<Option<Value>> = live.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(live.len() + applied.len());
    let (mut li, mut ri) = (0, 0);
    while li < live.len() || ri < applied.len() {
        if let Some(l) = live.get(li).and_then(Option::as_ref) {
            if !applied_ids.contains(&id(l)) {
                out.push(live[li].take().unwrap_or_default());
                li += 1;
                continue;
            }
        } else if li < live.len() {
            li += 1;
            continue;
        }
        let Some(item) = applied.get(ri) else {
            // only applied items already merged are left
            li += 1;
            continue;
        };
        let want = id(item);
        let found = live
            .iter_mut()
            .find(|x| x.as_ref().is_some_and(|x| id(x) == want))
            .and_then(Option::take);
        match found {
            Some(mut cur) => {
                merge(&mut cur, item);
                out.push(cur);
            }
            None => out.push(item.clone()),
        }
        ri += 1;
    }
    out
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

/// A path as structured-merge-diff prints it: `.spec.ports[port=80,protocol="TCP"].targetPort`,
/// `.metadata.finalizers[="a"]`.
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
        } else if let Some(v) = c.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
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

impl Entry {
    /// How a conflict names the manager (apimachinery's `printManager`: an Apply manager by
    /// its name, an Update manager with the version it wrote).
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

fn parse_entries(list: &Value) -> Vec<Entry> {
    list.as_array()
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

fn read_entries(obj: Option<&Value>) -> Vec<Entry> {
    obj.map(|o| parse_entries(&o["metadata"]["managedFields"]))
        .unwrap_or_default()
}

/// The entries an update starts from. A request that sets `metadata.managedFields` to
/// something else than the live object's replaces them (kubectl's client-side to
/// server-side apply migration is such a JSON patch); an empty list, or a subresource
/// request, leaves the live ones, and `[{}]` (entries owning nothing) resets them: the
/// rules of apimachinery's `decodeLiveOrNew`
/// (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#clearing-managedfields>).
fn entries_for_update(old: Option<&Value>, new: &Value, subresource: Option<&str>) -> Vec<Entry> {
    let requested = &new["metadata"]["managedFields"];
    let live = old.map_or(&Value::Null, |o| &o["metadata"]["managedFields"]);
    let provided = requested.as_array().is_some_and(|a| !a.is_empty());
    if subresource.is_none() && provided && requested != live {
        return parse_entries(requested);
    }
    read_entries(old)
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

/// Whether two managers disagree on a path: leaves and atomic maps and lists by value; a
/// list item or a granular map present on both sides is not a conflict (its fields are).
fn differs(live: &Value, applied: &Value, path: &[String], shape: Shape<'_>) -> bool {
    if path
        .last()
        .is_some_and(|c| c.starts_with("k:") || c.starts_with("v:"))
    {
        return false;
    }
    match (get_path(live, path), get_path(applied, path)) {
        (Some(Value::Object(_)), Some(Value::Object(_))) if !shape.at(path).atomic_map() => false,
        (l, a) => l != a,
    }
}

/// The 409 of a server-side apply that conflicts (apimachinery's `NewConflictError`: one
/// conflict on one line, several grouped by manager, a `FieldManagerConflict` cause each).
fn conflict_error(conflicts: &[(String, Path)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| {
            json!({"type": "FieldManagerConflict",
            "message": format!("conflict with {m}"), "field": display_path(p)})
        })
        .collect();
    let message = if let [(m, p)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {m}: {}",
            display_path(p)
        )
    } else {
        let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with {m}:"));
            for (_, p) in conflicts.iter().filter(|(n, _)| n == m) {
                lines.push(format!("- {}", display_path(p)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let mut err = ApiError::new(409, "Conflict", message);
    err.details = json!({"causes": causes});
    err
}

/// Applies `applied` as `manager` onto `live` (None: the object is created), merging lists
/// by their schema's list types.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: &Schema,
) -> Result<Value, ApiError> {
    if !applied["metadata"]["managedFields"].is_null() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let shape = schema.root();
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(problem) = duplicate_key(applied, "", shape, &mut Vec::new()) {
        let meta = &applied["metadata"];
        let name = meta["name"].as_str().unwrap_or_default();
        let who = match meta["namespace"].as_str().filter(|n| !n.is_empty()) {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        let gv = if api_version.contains('/') {
            api_version.clone()
        } else {
            format!("/{api_version}")
        };
        return Err(ApiError::new(
            500,
            "",
            format!(
                "failed to create typed patch object ({who}; {gv}, Kind={}): {problem}",
                applied["kind"].as_str().unwrap_or_default()
            ),
        ));
    }
    let mut entries = read_entries(live);
    let new_paths = tracked_paths(applied, shape);
    let base = live.cloned().unwrap_or_else(|| json!({}));
    let is_me =
        |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource.is_none();
    // conflicts with other managers over differing values
    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        // managers of subresources conflict too (`"kube-controller-manager" with subresource
        // "scale" using apps/v1: .spec.replicas` when an HPA scaled the Deployment)
        if is_me(e) {
            continue;
        }
        for p in e.paths.intersection(&new_paths) {
            if differs(&base, applied, p, shape) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let named: Vec<(String, Path)> = conflicts
            .iter()
            .map(|(i, p)| (entries[*i].describe(), p.clone()))
            .collect();
        return Err(conflict_error(&named));
    }
    let mut obj = base.clone();
    // remove what this manager owned before and no longer mentions, unless someone else owns it
    let previous = entries
        .iter()
        .find(|e| is_me(e))
        .map(|e| e.paths.clone())
        .unwrap_or_default();
    let owned_by_others = |entries: &[Entry], p: &[String]| {
        entries
            .iter()
            .filter(|e| !is_me(e))
            .any(|e| e.paths.iter().any(|q| q.starts_with(p)))
    };
    for p in previous.difference(&new_paths) {
        if new_paths.iter().any(|q| q.starts_with(p)) || owned_by_others(&entries, p) {
            continue;
        }
        remove_path(&mut obj, p);
        // parents left empty go too, unless someone still owns something under them
        for i in (1..p.len()).rev() {
            let parent = &p[..i];
            let empty = get_path(&obj, parent).is_some_and(|v| {
                v.as_object().is_some_and(|m| m.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            });
            let owned = new_paths.iter().any(|q| q.starts_with(parent))
                || owned_by_others(&entries, parent);
            if !empty || owned {
                break;
            }
            remove_path(&mut obj, parent);
        }
    }
    merge_applied(&mut obj, applied, "", shape, true);
    if force {
        for (i, p) in &conflicts {
            if entries[*i].paths.remove(p) {
                entries[*i].time = now();
            }
        }
    }
    set_entry(&mut entries, manager, "Apply", &api_version, new_paths);
    write_entries(&mut obj, &entries);
    Ok(obj)
}

/// Records an ordinary write (POST, PUT or patch) by `manager`: it takes the fields it
/// changed, from whoever owned them. `new` may carry `metadata.managedFields` of its own
/// (see [`entries_for_update`]).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    schema: &Schema,
) {
    let shape = schema.root();
    let mut entries = entries_for_update(old, new, subresource);
    let old_paths = old.map(|o| tracked_paths(o, shape)).unwrap_or_default();
    let new_paths = tracked_paths(new, shape);
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

    fn dep() -> Schema {
        Schema::Builtin("io.k8s.api.apps.v1.Deployment")
    }

    fn svc() -> Schema {
        Schema::Builtin("io.k8s.api.core.v1.Service")
    }

    fn service(ports: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": ports}})
    }

    #[test]
    fn service_ports_are_owned_by_port_and_protocol() {
        let a = apply(
            None,
            &service(json!([{"port": 80, "targetPort": 8080}])),
            "a",
            false,
            &svc(),
        )
        .unwrap();
        let fields = &a["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
        assert!(
            fields["f:ports"]["k:{\"port\":80,\"protocol\":\"TCP\"}"]["f:targetPort"].is_object(),
            "{fields}"
        );
        assert_eq!(
            fields["f:selector"],
            json!({}),
            "an atomic map is one field"
        );
        let mut b_cfg = service(json!([{"port": 443, "targetPort": 8443}]));
        b_cfg["spec"].as_object_mut().unwrap().remove("selector");
        let both = apply(Some(&a), &b_cfg, "b", false, &svc()).unwrap();
        assert_eq!(both["spec"]["ports"].as_array().unwrap().len(), 2, "{both}");
        // b stops mentioning 443: it goes; a's 80 stays
        let mut b_none = b_cfg.clone();
        b_none["spec"]["ports"] = json!([{"port": 80, "targetPort": 8080}]);
        let after = apply(Some(&both), &b_none, "b", false, &svc()).unwrap();
        let ports = after["spec"]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 1, "{after}");
        assert_eq!(ports[0]["port"], 80);
        // now both own 80; a dropping it keeps it (b still owns it)
        let a_none = service(json!([{"port": 9000}]));
        let kept = apply(Some(&after), &a_none, "a", false, &svc()).unwrap();
        let ports: Vec<i64> = kept["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect();
        assert_eq!(ports, vec![80, 9000]);
        // a different targetPort for a port someone else owns is a conflict
        let err = apply(
            Some(&kept),
            &service(json!([{"port": 80, "targetPort": 1}])),
            "c",
            false,
            &svc(),
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.starts_with("Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.selector\nconflicts with \"b\":\n- .spec.ports[port=80,protocol=\"TCP\"].targetPort")
            || err.message.contains(".spec.ports[port=80,protocol=\"TCP\"].targetPort"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_in_an_applied_list_are_refused() {
        let cfg = service(json!([{"port": 80}, {"port": 80, "protocol": "TCP", "targetPort": 1}]));
        let err = apply(None, &cfg, "a", false, &svc()).unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(err.message, "failed to create typed patch object (default/web; /v1, Kind=Service): .spec.ports: duplicate entries for key [port=80,protocol=\"TCP\"]");
        let udp = service(json!([{"port": 53}, {"port": 53, "protocol": "UDP"}]));
        assert!(
            apply(None, &udp, "a", false, &svc()).is_ok(),
            "one port, two protocols"
        );
    }

    #[test]
    fn sets_and_atomic_lists() {
        let mut d = deploy("nginx");
        d["metadata"]["finalizers"] = json!(["a/x"]);
        d["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--a", "--b"]);
        let live = apply(None, &d, "a", false, &dep()).unwrap();
        let f = &live["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            f["f:metadata"]["f:finalizers"]["v:\"a/x\""].is_object(),
            "{f}"
        );
        let c = &f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
        assert_eq!(c["f:args"], json!({}), "{c}");
        let mut other = deploy("nginx");
        other["metadata"]["finalizers"] = json!(["b/y"]);
        other["spec"].as_object_mut().unwrap().remove("replicas");
        let both = apply(Some(&live), &other, "b", false, &dep()).unwrap();
        assert_eq!(both["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    }

    #[test]
    fn crd_lists_merge_by_their_schema_keys() {
        let schema = Schema::Crd(Arc::new(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "listeners": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "hosts": {"type": "array", "items": {"type": "string"}}}}}})));
        let gw = |listeners: Value, hosts: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "default"},
                "spec": {"listeners": listeners, "hosts": hosts}})
        };
        let a = apply(
            None,
            &gw(json!([{"name": "http", "port": 80}]), json!(["a"])),
            "a",
            false,
            &schema,
        )
        .unwrap();
        let mut b_cfg = gw(json!([{"name": "https", "port": 443}]), json!(["a"]));
        b_cfg["spec"].as_object_mut().unwrap().remove("hosts");
        let both = apply(Some(&a), &b_cfg, "b", false, &schema).unwrap();
        assert_eq!(
            both["spec"]["listeners"].as_array().unwrap().len(),
            2,
            "{both}"
        );
        // a list without a list type is atomic: one owner, replaced whole, a conflict when it differs
        let f = &a["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
        assert_eq!(f["f:hosts"], json!({}), "{f}");
        let err = apply(
            Some(&both),
            &gw(json!([]), json!(["b"])),
            "c",
            false,
            &schema,
        )
        .unwrap_err();
        assert!(err.message.contains(".spec.hosts"), "{}", err.message);
    }

    #[test]
    fn crd_map_keys_take_their_schema_defaults() {
        let schema = Schema::Crd(Arc::new(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "routes": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "kind"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"},
                        "kind": {"type": "string", "default": "Http"}, "weight": {"type": "integer"}}}}}}}})));
        let obj = |routes: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Mesh",
                "metadata": {"name": "m", "namespace": "default"}, "spec": {"routes": routes}})
        };
        let live = apply(
            None,
            &obj(json!([{"name": "a", "weight": 1}])),
            "x",
            false,
            &schema,
        )
        .unwrap();
        let f = &live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:routes"];
        assert!(f["k:{\"kind\":\"Http\",\"name\":\"a\"}"].is_object(), "{f}");
        let mut live = live;
        live["spec"]["routes"][0]["kind"] = json!("Http"); // as the server defaults it
        let merged = apply(
            Some(&live),
            &obj(json!([{"name": "a", "weight": 2}])),
            "x",
            false,
            &schema,
        )
        .unwrap();
        assert_eq!(
            merged["spec"]["routes"],
            json!([{"name": "a", "kind": "Http", "weight": 2}])
        );
    }

    fn deploy(image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    #[test]
    fn fields_v1_round_trip() {
        let paths = tracked_paths(&deploy("nginx"), dep().root());
        let v1 = to_fields_v1(&paths);
        assert!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["."]
                .is_object()
        );
        assert_eq!(from_fields_v1(&v1), paths);
    }

    #[test]
    fn label_from_another_manager_survives_reapply() {
        let live = apply(None, &deploy("nginx"), "kubectl", false, &dep()).unwrap();
        let mut labelled = live.clone();
        labelled["metadata"]["labels"]["team"] = json!("a");
        record_update(Some(&live), &mut labelled, "kubectl-label", None, &dep());
        let again = apply(Some(&labelled), &deploy("nginx"), "kubectl", false, &dep()).unwrap();
        assert_eq!(again["metadata"]["labels"]["team"], "a");
        assert_eq!(again, labelled, "an unchanged re-apply changes nothing");
    }

    #[test]
    fn dropped_fields_are_removed_and_conflicts_reported() {
        let live = apply(None, &deploy("nginx"), "mgr-a", false, &dep()).unwrap();
        let mut smaller = deploy("nginx");
        smaller["metadata"]["labels"] = json!({});
        smaller["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        let after = apply(Some(&live), &smaller, "mgr-a", false, &dep()).unwrap();
        assert!(
            after["metadata"].get("labels").is_none()
                || after["metadata"]["labels"].get("app").is_none()
        );

        let err = apply(Some(&live), &deploy("httpd"), "mgr-b", false, &dep()).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.details["causes"][0]["type"], "FieldManagerConflict");
        assert!(err.message.contains(".image"), "{}", err.message);
        let forced = apply(Some(&live), &deploy("httpd"), "mgr-b", true, &dep()).unwrap();
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            "httpd"
        );
    }

    #[test]
    fn keyed_list_items_merge() {
        let live = apply(None, &deploy("nginx"), "a", false, &dep()).unwrap();
        let mut extra = deploy("nginx");
        extra["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "side", "image": "envoy"}]);
        extra["spec"].as_object_mut().unwrap().remove("replicas");
        let both = apply(Some(&live), &extra, "b", false, &dep()).unwrap();
        let cs = both["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 2);
    }
}

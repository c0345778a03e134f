//! Decoding a built-in kind as the API server's JSON decoder does: each field is checked
//! against the kind's OpenAPI schema (k8s-openapi's), type mismatches fail as Go's
//! `encoding/json` words them, and unknown fields are dropped and reported (strict decoding).

use serde_json::{Map, Value};

use super::super::openapi::Definitions;

/// What decoding found.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Unknown fields, with list indices: `spec.template.spec.containers[0].bogus`.
    pub unknown: Vec<String>,
    /// The first type mismatch, in Go's words.
    pub type_error: Option<TypeMismatch>,
}

/// A value of the wrong type.
#[derive(Debug, Clone)]
pub struct TypeMismatch {
    /// `.spec.replicas` (with indices, as server-side apply shows it).
    pub path: String,
    /// `DeploymentSpec.spec.replicas` (Go's struct field: the enclosing type and the path
    /// from the root without indices).
    pub go_field: String,
    /// `int32`, `string`, `v1.DeploymentSpec`.
    pub go_type: String,
    /// `string`, `number`, `number 2.5`, `bool`, `array`, `object`.
    pub got: String,
    /// Secret data that is not base64: Go's own message.
    pub special: Option<String>,
    /// The schema's type (`integer`, `string`, ...).
    pub schema_type: String,
}

impl TypeMismatch {
    /// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
    pub fn go_message(&self) -> String {
        if let Some(s) = &self.special {
            return s.clone();
        }
        format!(
            "json: cannot unmarshal {} into Go struct field {} of type {}",
            self.got, self.go_field, self.go_type
        )
    }

    /// `.spec.replicas: expected numeric (int or float), got string` (server-side apply).
    pub fn apply_message(&self) -> String {
        let expected = match self.schema_type.as_str() {
            "integer" | "number" => "numeric (int or float)",
            "boolean" => "boolean",
            "array" => "list",
            "object" => "map",
            _ => "string",
        };
        let got = self.got.split(' ').next().unwrap_or("");
        let got = match got {
            "number" => "numeric",
            "array" => "list",
            "object" => "map",
            "bool" => "boolean",
            g => g,
        };
        format!("{}: expected {expected}, got {got}", self.path)
    }
}

struct Walk<'a> {
    defs: &'a Definitions,
    out: Decoded,
    prune: bool,
}

/// Where a value is, built into text only when something is reported: a field of an object
/// or an item of a list, below its parent.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Field(&'p Path<'p>, &'p str),
    Item(&'p Path<'p>, usize),
}

impl Path<'_> {
    /// `.spec.containers[0].image`, or without list indices (Go's struct field path).
    fn render(&self, indices: bool) -> String {
        let mut segs = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Field(parent, k) => {
                    segs.push((Some(*k), 0));
                    at = parent;
                }
                Path::Item(parent, i) => {
                    if indices {
                        segs.push((None, *i));
                    }
                    at = parent;
                }
            }
        }
        let mut out = String::new();
        for (k, i) in segs.iter().rev() {
            match k {
                Some(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                None => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

fn kind_of(v: &Value) -> String {
    match v {
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

/// Decodes `obj` (a whole object) against the schema named `root`: unknown fields are removed
/// from `obj` when `prune`, and reported.
pub fn decode<'a>(defs: &'a Definitions, root: &'a str, obj: &mut Value, prune: bool) -> Decoded {
    let mut w = Walk {
        defs,
        out: Decoded::default(),
        prune,
    };
    if let Some(schema) = defs.get(root) {
        let (s, name) = w.resolve(schema);
        let name = name.or(Some(root));
        w.resolved(s, name, obj, &Path::Root, short_name(root));
    }
    w.out
}

fn short_name(def: &str) -> &str {
    def.rsplit('.').next().unwrap_or(def)
}

/// `v1.DeploymentSpec` from `io.k8s.api.apps.v1.DeploymentSpec`.
fn go_package_type(def: &str) -> String {
    let mut parts = def.rsplit('.');
    let name = parts.next().unwrap_or(def);
    let pkg = parts.next().unwrap_or("");
    match def {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => "intstr.IntOrString".into(),
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => "resource.Quantity".into(),
        _ => format!("{pkg}.{name}"),
    }
}

impl<'a> Walk<'a> {
    /// The schema behind `$ref`s and a leading `allOf`, and the last definition named.
    fn resolve(&self, mut s: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut name = None;
        for _ in 0..8 {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                let n = r.rsplit('/').next().unwrap_or(r);
                name = Some(n);
                match self.defs.get(n) {
                    Some(d) => s = d,
                    None => break,
                }
            } else if let Some(first) = s
                .get("allOf")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                s = first;
            } else {
                break;
            }
        }
        (s, name)
    }

    fn go_type(&self, schema: &'a Value) -> String {
        let (s, name) = self.resolve(schema);
        self.go_type_resolved(s, name)
    }

    fn go_type_resolved(&self, s: &'a Value, name: Option<&str>) -> String {
        if let Some(n) = name {
            if s.get("properties").is_some() || n.contains("IntOrString") || n.contains("Quantity")
            {
                return go_package_type(n);
            }
        }
        match s.get("type").and_then(Value::as_str) {
            Some("integer") => match s.get("format").and_then(Value::as_str) {
                Some("int32") => "int32".into(),
                _ => "int64".into(),
            },
            Some("number") => "float64".into(),
            Some("boolean") => "bool".into(),
            Some("string") => match s.get("format").and_then(Value::as_str) {
                Some("byte") => "[]uint8".into(),
                _ => "string".into(),
            },
            Some("array") => {
                static NULL: Value = Value::Null;
                format!("[]{}", self.go_type(s.get("items").unwrap_or(&NULL)))
            }
            Some("object") => match s.get("additionalProperties") {
                Some(ap) if ap.is_object() => format!("map[string]{}", self.go_type(ap)),
                _ => "map[string]interface {}".into(),
            },
            _ => "interface {}".into(),
        }
    }

    /// Records a type mismatch (the first one only) of `v` against the resolved schema `s`.
    fn mismatch(&mut self, s: &'a Value, name: Option<&str>, v: &Value, path: &Path, owner: &str) {
        if self.out.type_error.is_some() {
            return;
        }
        let mut got = kind_of(v);
        if let Value::Number(n) = v {
            let fractional = n.as_i64().is_none() && n.as_u64().is_none();
            if fractional || s.get("type").and_then(Value::as_str) == Some("integer") {
                got = format!("number {n}");
            }
        }
        let schema_type = s
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("object")
            .to_string();
        let at = path.render(true);
        self.out.type_error = Some(TypeMismatch {
            path: if at.is_empty() { ".".into() } else { at },
            go_field: format!("{owner}.{}", path.render(false).trim_start_matches('.')),
            go_type: self.go_type_resolved(s, name),
            got,
            special: None,
            schema_type,
        });
    }

    fn value(&mut self, schema: &'a Value, v: &mut Value, path: &Path, owner: &str) {
        if v.is_null() {
            return;
        }
        let (s, name) = self.resolve(schema);
        self.resolved(s, name, v, path, owner);
    }

    fn resolved(
        &mut self,
        s: &'a Value,
        name: Option<&'a str>,
        v: &mut Value,
        path: &Path,
        owner: &str,
    ) {
        if v.is_null() {
            return;
        }
        // JSON (CRD defaults, enums, examples) and RawExtension hold any JSON value
        if name.is_some_and(|n| {
            n == "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"
                || n == "io.k8s.apimachinery.pkg.runtime.RawExtension"
        }) {
            return;
        }
        let owner = match name {
            Some(n) if s.get("properties").is_some() => short_name(n),
            _ => owner,
        };
        if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
            let is_quantity = name.is_some_and(|n| n.ends_with("Quantity"));
            let ok = match v {
                Value::String(_) => true,
                Value::Number(n) => is_quantity || n.as_i64().is_some(),
                _ => false,
            };
            if !ok {
                self.mismatch(s, name, v, path, owner);
            }
            return;
        }
        if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
            for b in branches {
                let mut probe = Walk {
                    defs: self.defs,
                    out: Decoded::default(),
                    prune: false,
                };
                let mut copy = v.clone();
                probe.value(b, &mut copy, path, owner);
                if probe.out.type_error.is_none() {
                    return;
                }
            }
            return self.mismatch(s, name, v, path, owner);
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") => {
                let Some(map) = v.as_object_mut() else {
                    return self.mismatch(s, name, v, path, owner);
                };
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    self.object(props, map, path, owner);
                } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    for (_, item) in map.iter_mut() {
                        self.value(ap, item, path, owner);
                    }
                }
            }
            Some("array") => {
                let Some(items) = v.as_array_mut() else {
                    return self.mismatch(s, name, v, path, owner);
                };
                static NULL: Value = Value::Null;
                let item_schema: &'a Value = s.get("items").unwrap_or(&NULL);
                for (i, item) in items.iter_mut().enumerate() {
                    self.value(item_schema, item, &Path::Item(path, i), owner);
                }
            }
            Some("string") => {
                let Some(text) = v.as_str() else {
                    return self.mismatch(s, name, v, path, owner);
                };
                if s.get("format").and_then(Value::as_str) == Some("byte") {
                    if let Some(at) = base64_error_at(text) {
                        if self.out.type_error.is_none() {
                            self.mismatch(s, name, &Value::Null, path, owner);
                            if let Some(t) = self.out.type_error.as_mut() {
                                t.special = Some(format!("illegal base64 data at input byte {at}"));
                            }
                        }
                    }
                }
            }
            Some("integer") => {
                let in_range = match v {
                    Value::Number(n) => match (n.as_i64(), s.get("format").and_then(Value::as_str))
                    {
                        (Some(i), Some("int32")) => i32::try_from(i).is_ok(),
                        (Some(_), _) => true,
                        (None, _) => false,
                    },
                    _ => false,
                };
                if !in_range {
                    self.mismatch(s, name, v, path, owner);
                }
            }
            Some("number") if !v.is_number() => self.mismatch(s, name, v, path, owner),
            Some("boolean") if !v.is_boolean() => self.mismatch(s, name, v, path, owner),
            _ => {}
        }
    }

    fn object(
        &mut self,
        props: &'a Map<String, Value>,
        map: &mut Map<String, Value>,
        path: &Path,
        owner: &str,
    ) {
        let mut unknown: Vec<String> = Vec::new();
        for (k, child) in map.iter_mut() {
            let p = Path::Field(path, k);
            match props.get(k) {
                Some(ps) => self.value(ps, child, &p, owner),
                None => {
                    self.out
                        .unknown
                        .push(p.render(true).trim_start_matches('.').to_string());
                    if self.prune {
                        unknown.push(k.clone());
                    }
                }
            }
        }
        for k in unknown {
            map.remove(&k);
        }
    }
}

/// Where Go's base64 decoder gives up on `s`, if it does.
fn base64_error_at(s: &str) -> Option<usize> {
    use base64::Engine as _;
    if base64::engine::general_purpose::STANDARD.decode(s).is_ok() {
        return None;
    }
    let bad = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '='))
        .map(|(i, _)| i);
    Some(bad.unwrap_or(s.len() / 4 * 4))
}

//! What the API server checks on every write, in its own words: decoding (types and unknown
//! fields against the kind's schema, with `fieldValidation=Strict|Warn|Ignore`), custom
//! resources against their CRD's structural schema and CEL rules, and the semantic rules of
//! built-in kinds. Failures are the server's Status: 400 for bodies that do not decode, 422
//! Invalid with one cause per field, 500 for server-side apply patches that do not fit the
//! schema (as a 1.32 server answers them).
//!
//! | file | role |
//! |---|---|
//! | `field.rs` | field errors and the 422 Status |
//! | `names.rs` | name, key and label formats |
//! | `decode.rs` | built-in kinds against k8s-openapi's schemas (Go decoder messages) |
//! | `builtin.rs` | semantic rules of built-in kinds |
//! | `structural.rs` | CRD structural schemas: pruning, defaults, validation |
//! | `cel.rs` | `x-kubernetes-validations` |

pub mod builtin;
pub mod cel;
mod decode;
pub mod field;
mod names;
pub mod structural;

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::cluster::Cluster;
use super::openapi;
use super::resources::ResourceDef;
use super::status::ApiError;
use field::{FieldError, FieldPath};

/// `fieldValidation`: what to do with unknown fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Fail the request (400).
    Strict,
    /// Drop them and say so in a `Warning` header (the server's default).
    #[default]
    Warn,
    /// Drop them silently.
    Ignore,
}

impl FieldValidation {
    /// From the query parameter.
    pub fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}; supported values: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Warnings collected while handling one request (sent as `Warning` headers).
#[derive(Clone, Debug, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, w: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(w);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn version_of(def: &ResourceDef) -> &str {
    def.versions.first().map_or("v1", String::as_str)
}

fn cannot_handle(def: &ResourceDef, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version {v:?} cannot be handled as a {kind}: {why}",
        kind = def.kind,
        v = version_of(def)
    ))
}

/// The schema of a custom resource's kind (from its CRD, kept with the kind).
pub fn crd_schema_of(_cluster: &Cluster, def: &ResourceDef) -> Option<Arc<Value>> {
    let v = version_of(def);
    def.schemas
        .iter()
        .find(|(name, _)| name == v)
        .map(|(_, s)| s.clone())
}

/// Decodes a body: types checked, unknown fields dropped (and reported as `directive` says),
/// custom resources defaulted.
pub fn decode(
    cluster: &Cluster,
    def: &ResourceDef,
    obj: &mut Value,
    directive: FieldValidation,
    warnings: &Warnings,
) -> Result<(), ApiError> {
    let unknown = if def.custom {
        match crd_schema_of(cluster, def) {
            Some(schema) => structural::prune_and_default(&schema, obj),
            None => vec![],
        }
    } else {
        let Some(root) = openapi::builtin_root(&def.group, version_of(def), &def.kind) else {
            return Ok(());
        };
        let d = decode::decode(openapi::builtin_definitions(), root, obj, true);
        if let Some(t) = d.type_error {
            return Err(cannot_handle(def, &t.go_message()));
        }
        d.unknown
    };
    if unknown.is_empty() {
        return Ok(());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|u| format!("unknown field {u:?}"))
        .collect();
    match directive {
        FieldValidation::Strict => Err(cannot_handle(
            def,
            &format!("strict decoding error: {}", texts.join(", ")),
        )),
        FieldValidation::Warn => {
            texts.into_iter().for_each(|t| warnings.push(t));
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// A server-side apply body must fit the kind's schema: unknown fields and wrong types fail
/// as `failed to create typed patch object (...)` (a 1.32 server answers 500).
pub fn check_apply_patch(
    cluster: &Cluster,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    patch: &Value,
) -> Result<(), ApiError> {
    let mut body = patch.clone();
    let problem = if def.custom {
        let Some(schema) = crd_schema_of(cluster, def) else {
            return Ok(());
        };
        let unknown = structural::prune_and_default(&schema, &mut body);
        match unknown.first() {
            Some(u) => Some(format!(".{}: field not declared in schema", smd_path(u))),
            None => structural::validate(&schema, &body, None)
                .into_iter()
                .find(|e| e.type_ == field::ErrorType::TypeInvalid)
                .map(|e| {
                    format!(
                        ".{}: expected {}, got {}",
                        smd_path(e.field.as_str()),
                        expected_word(&e.detail),
                        got_word(&e)
                    )
                }),
        }
    } else {
        let Some(root) = openapi::builtin_root(&def.group, version_of(def), &def.kind) else {
            return Ok(());
        };
        let d = decode::decode(openapi::builtin_definitions(), root, &mut body, false);
        match (d.unknown.first(), d.type_error) {
            (Some(u), _) => Some(format!(".{}: field not declared in schema", smd_path(u))),
            (None, Some(t)) => Some(t.apply_message()),
            (None, None) => None,
        }
    };
    match problem {
        None => Ok(()),
        Some(p) => {
            let who = if ns.is_empty() {
                name.to_string()
            } else {
                format!("{ns}/{name}")
            };
            let gv = if def.group.is_empty() {
                format!("/{}", version_of(def))
            } else {
                format!("{}/{}", def.group, version_of(def))
            };
            Err(ApiError::new(
                500,
                "",
                format!(
                    "failed to create typed patch object ({who}; {gv}, Kind={}): {p}",
                    def.kind
                ),
            ))
        }
    }
}

/// `spec.rules[0].matchez` as structured-merge-diff prints it (`spec.rules[0].matchez`).
fn smd_path(p: &str) -> String {
    p.trim_start_matches('.').to_string()
}

fn expected_word(detail: &str) -> &'static str {
    if detail.contains("of type integer") || detail.contains("of type number") {
        "numeric (int or float)"
    } else if detail.contains("of type boolean") {
        "boolean"
    } else if detail.contains("of type array") {
        "list"
    } else if detail.contains("of type object") {
        "map"
    } else {
        "string"
    }
}

fn got_word(e: &FieldError) -> String {
    match e.go_value.as_deref().unwrap_or("").trim_matches('"') {
        "integer" | "number" => "numeric".into(),
        "array" => "list".into(),
        "object" => "map".into(),
        other => other.to_string(),
    }
}

/// The semantic checks: 422 Invalid with every cause.
pub fn validate(
    cluster: &Cluster,
    def: &ResourceDef,
    old: Option<&Value>,
    obj: &Value,
) -> Result<(), ApiError> {
    let mut errs: Vec<FieldError> = if def.custom {
        let mut errs = Vec::new();
        builtin::metadata(&mut errs, obj, names::dns1123_subdomain, old.is_none());
        if let Some(schema) = crd_schema_of(cluster, def) {
            errs.extend(structural::validate(&schema, obj, old));
        }
        errs
    } else {
        builtin::validate(&def.group, &def.plural, obj, old)
    };
    if !def.custom && def.group == "apiextensions.k8s.io" {
        crd_rules(obj, old, &mut errs);
    }
    if errs.is_empty() {
        return Ok(());
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    Err(field::invalid(&def.kind, &def.group, name, &errs))
}

/// A CustomResourceDefinition's own rules: one storage version, a scope, a dotted group,
/// structural schemas with CEL rules that compile, immutable scope.
fn crd_rules(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let sp = FieldPath::root("spec");
    let group = spec["group"].as_str().unwrap_or("");
    if !group.is_empty() && !group.contains('.') {
        errs.push(FieldError::invalid(
            &sp.child("group"),
            group,
            "should be a domain with at least one dot",
        ));
    }
    match spec["scope"].as_str() {
        Some("Cluster" | "Namespaced") => {}
        Some(s) => errs.push(FieldError::not_supported(
            &sp.child("scope"),
            s,
            &["Cluster", "Namespaced"],
        )),
        None => errs.push(FieldError::required(&sp.child("scope"), "")),
    }
    let versions = spec["versions"].as_array().map_or(&[][..], Vec::as_slice);
    let storage = versions
        .iter()
        .filter(|v| v["storage"] == Value::Bool(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldError::invalid_go(
            &sp.child("versions"),
            "[]apiextensions.CustomResourceDefinitionVersion{...}",
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let vp = sp
            .child("versions")
            .index(i)
            .child("schema")
            .child("openAPIV3Schema");
        match v["schema"]["openAPIV3Schema"].as_object() {
            None => errs.push(FieldError::required(&vp, "schemas are required")),
            Some(_) => {
                structural::check_crd_schema(&v["schema"]["openAPIV3Schema"], &vp, errs, true)
            }
        }
    }
    if let Some(old) = old {
        if old["spec"]["scope"] != spec["scope"] {
            errs.push(FieldError::invalid(
                &sp.child("scope"),
                spec["scope"].clone(),
                "field is immutable",
            ));
        }
    }
}

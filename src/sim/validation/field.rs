//! Field errors as the API server words them (k8s.io/apimachinery `field.Error`): a path, a
//! type (`FieldValueInvalid`, `FieldValueRequired`, ...), the bad value and a detail, rendered
//! as `spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive`.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::sim::status::ApiError;

/// A path into an object: `spec.template.spec.containers[0].ports[1].containerPort`,
/// `metadata.labels[app]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn root(name: &str) -> Self {
        FieldPath(name.to_string())
    }

    pub fn empty() -> Self {
        FieldPath(String::new())
    }

    /// A child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{name}", self.0))
        }
    }

    /// A list item.
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }

    /// A map entry.
    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{k}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a field error (the `reason` of a Status cause).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrorType {
    /// The cause's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn words(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }

    /// The reason a CEL rule's `reason` names.
    pub fn from_reason(reason: &str) -> Option<Self> {
        Some(match reason {
            "FieldValueInvalid" => ErrorType::Invalid,
            "FieldValueRequired" => ErrorType::Required,
            "FieldValueDuplicate" => ErrorType::Duplicate,
            "FieldValueForbidden" => ErrorType::Forbidden,
            _ => return None,
        })
    }
}

/// One field error.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub type_: ErrorType,
    pub field: FieldPath,
    /// The value shown after `Invalid value:` (`None`: not shown).
    pub value: Option<Value>,
    pub detail: String,
    /// The value as Go prints it (`[]string{"a"}`, `"object"`), shown instead of `value`.
    pub go_value: Option<String>,
}

impl FieldError {
    /// An invalid value shown as Go prints it (a struct, a slice, a type name).
    pub fn invalid_go(field: &FieldPath, go_value: &str, detail: &str) -> Self {
        let mut e = Self::new(ErrorType::Invalid, field, None, detail);
        e.go_value = Some(go_value.to_string());
        e
    }

    pub fn required(field: &FieldPath, detail: &str) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }

    pub fn invalid(field: &FieldPath, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }

    pub fn not_supported(field: &FieldPath, value: impl Into<Value>, valid: &[&str]) -> Self {
        let quoted: Vec<String> = valid.iter().map(|v| format!("{v:?}")).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value.into()), &detail)
    }

    pub fn forbidden(field: &FieldPath, detail: &str) -> Self {
        Self::new(ErrorType::Forbidden, field, None, detail)
    }

    pub fn duplicate(field: &FieldPath, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }

    pub fn duplicate_go(field: &FieldPath, go_value: &str) -> Self {
        let mut e = Self::new(ErrorType::Duplicate, field, None, "");
        e.go_value = Some(go_value.to_string());
        e
    }

    pub fn too_long(field: &FieldPath, max: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            field,
            None,
            &format!("must have at most {max} bytes"),
        )
    }

    pub fn too_many(field: &FieldPath, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            field,
            Some(json!(actual)),
            &format!("must have at most {max} items"),
        )
    }

    pub fn new(type_: ErrorType, field: &FieldPath, value: Option<Value>, detail: &str) -> Self {
        FieldError {
            type_,
            field: field.clone(),
            value,
            detail: detail.to_string(),
            go_value: None,
        }
    }

    /// `Invalid value: 70000: must be between 1 and 65535, inclusive`.
    pub fn body(&self) -> String {
        let mut s = self.type_.words().to_string();
        let shows_value = !matches!(
            self.type_,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong
        );
        if shows_value {
            if let Some(g) = &self.go_value {
                let _ = write!(s, ": {g}");
            } else if let Some(v) = &self.value {
                let _ = write!(s, ": {}", show_value(v));
            }
        }
        if !self.detail.is_empty() {
            let _ = write!(s, ": {}", self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A value as Go's `%v`/`%q` prints it in field errors.
fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// The 422 Invalid Status for a list of field errors (duplicates dropped, as the server does):
/// `Deployment.apps "web" is invalid: [a, b]`.
pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> ApiError {
    let mut seen = std::collections::HashSet::new();
    let errors: Vec<&FieldError> = errors
        .iter()
        .filter(|e| seen.insert(e.to_string()))
        .collect();
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let summary = if texts.len() == 1 {
        texts[0].clone()
    } else {
        format!("[{}]", texts.join(", "))
    };
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(
            |e| json!({"reason": e.type_.reason(), "message": e.body(), "field": e.field.as_str()}),
        )
        .collect();
    let mut err = ApiError::new(
        422,
        "Invalid",
        format!("{qualified} {name:?} is invalid: {summary}"),
    );
    err.details = json!({"name": name, "group": group, "kind": kind, "causes": causes});
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_read_as_the_api_server_writes_them() {
        let p = FieldPath::root("spec")
            .child("ports")
            .index(0)
            .child("port");
        assert_eq!(
            FieldError::invalid(&p, 70000, "must be between 1 and 65535, inclusive").to_string(),
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        let t = FieldPath::root("spec").child("type");
        assert_eq!(
            FieldError::not_supported(&t, "Foo", &["ClusterIP", "NodePort"]).body(),
            "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\""
        );
        assert_eq!(
            FieldError::required(&t, "").to_string(),
            "spec.type: Required value"
        );
        let e = invalid(
            "Service",
            "",
            "web",
            &[
                FieldError::required(&t, ""),
                FieldError::required(&t, ""),
                FieldError::forbidden(&p, "may not be set"),
            ],
        );
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Service \"web\" is invalid: [spec.type: Required value, spec.ports[0].port: Forbidden: may not be set]"
        );
        assert_eq!(e.details["causes"][1]["reason"], "FieldValueForbidden");
    }
}

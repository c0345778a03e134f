//! Kubernetes `Status` error bodies: the errors the simulated API server answers with.

use serde_json::{json, Value};

use super::resources::ResKey;

/// An API error, rendered as a `Status` object with an HTTP code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: Value::Null,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// `deployments.apps "x" not found`.
    pub fn not_found(res: &ResKey, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", res.qualified()),
        )
        .with_details(json!({"name": name, "group": res.group, "kind": res.plural}))
    }

    pub fn already_exists(res: &ResKey, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.qualified()),
        )
        .with_details(json!({"name": name, "group": res.group, "kind": res.plural}))
    }

    pub fn conflict(res: &ResKey, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                res.qualified()
            ),
        )
        .with_details(json!({"name": name, "group": res.group, "kind": res.plural}))
    }

    /// 422 Invalid, with one cause per `(field, message)`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: &[(&str, String)]) -> Self {
        let summary: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
            .collect();
        let g = if group.is_empty() {
            String::new()
        } else {
            format!(".{group}")
        };
        ApiError::new(
            422,
            "Invalid",
            format!("{kind}{g} \"{name}\" is invalid: {}", summary.join(", ")),
        )
        .with_details(json!({"name": name, "group": group, "kind": kind, "causes": causes}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    pub fn unsupported_media(message: impl Into<String>) -> Self {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "Forbidden", message)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        if self.reason.is_empty() {
            if let Some(m) = s.as_object_mut() {
                m.remove("reason");
            }
        }
        s
    }
}

/// The `Success` Status returned by a completed delete.
pub fn success(res: &ResKey, name: &str, uid: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": res.group, "kind": res.plural, "uid": uid}})
}

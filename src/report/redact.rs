//! Secret redaction: every value marked secret is replaced by `***` wherever text is rendered
//! (terminal, logs, reports, error messages). Redaction happens once, at rendering time.

use std::sync::{Arc, RwLock};

/// The replacement for every secret value.
pub const MASK: &str = "***";

/// Secrets shorter than this are not redacted: masking "a" or "1" everywhere would destroy
/// the output while protecting nothing.
const MIN_SECRET_LEN: usize = 4;

/// A shared, growing set of secret values.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a value as secret from now on. Surrounding whitespace is ignored, and each line
    /// of a multi-line value is also redacted on its own (a PEM key printed line by line).
    pub fn add(&self, value: &str) {
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        let mut push = |v: &str| {
            let v = v.trim();
            if v.len() >= MIN_SECRET_LEN && !secrets.iter().any(|s| s == v) {
                secrets.push(v.to_string());
            }
        };
        push(value);
        if value.contains('\n') {
            value.lines().for_each(&mut push);
        }
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Every secret value (for tools that redact their own streams).
    pub fn values(&self) -> Vec<String> {
        self.secrets.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether any secret has been registered.
    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }

    /// Returns `text` with every secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_and_longest_first() {
        let r = Redactor::new();
        r.add("s3cr3t-key");
        r.add("s3cr3t-key-extended");
        assert_eq!(
            r.redact("a s3cr3t-key-extended b s3cr3t-key c"),
            "a *** b *** c"
        );
    }

    #[test]
    fn ignores_tiny_values_and_trims() {
        let r = Redactor::new();
        r.add("ab");
        r.add("  token-value\n");
        assert_eq!(r.redact("ab token-value"), "ab ***");
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let r = Redactor::new();
        r.add("-----BEGIN-----\nAAAAsecretline\n-----END-----");
        assert_eq!(r.redact("x AAAAsecretline y"), "x *** y");
    }

    #[test]
    fn redacts_json_strings_and_keys() {
        let r = Redactor::new();
        r.add("hunter22");
        let v = serde_json::json!({"k": ["hunter22", 1], "hunter22": true});
        let out = r.redact_json(&v);
        assert_eq!(out, serde_json::json!({"k": ["***", 1], "***": true}));
    }
}

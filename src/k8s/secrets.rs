//! Secrets in and out. Values never appear in errors or logs.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};

use super::apply::{ApplyOptions, ApplyOutcome};
use super::clusters::{object_ref, Cluster};
use super::error::{K8sError, Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An Opaque Secret object with base64-encoded data.
pub fn secret_object(ns: &str, name: &str, data: &BTreeMap<String, Vec<u8>>) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(B64.encode(v))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "data": data,
    })
}

/// The key a file gets in `--from-file` when none is given: its file name.
pub fn key_for_path(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Cluster {
    /// Creates or updates an Opaque Secret from string values (server-side apply).
    pub async fn create_secret(
        &self,
        ns: &str,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<ApplyOutcome> {
        let bytes = data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        self.apply_secret(ns, name, &bytes).await
    }

    /// Creates or updates an Opaque Secret from files (`key -> path`), as
    /// `kubectl create secret generic --from-file=key=path`.
    pub async fn secret_from_files(
        &self,
        ns: &str,
        name: &str,
        files: &BTreeMap<String, String>,
    ) -> Result<ApplyOutcome> {
        let mut data = BTreeMap::new();
        for (key, path) in files {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| K8sError::File {
                    path: path.clone(),
                    source,
                })?;
            let key = if key.is_empty() {
                key_for_path(Path::new(path))
            } else {
                key.clone()
            };
            data.insert(key, bytes);
        }
        self.apply_secret(ns, name, &data).await
    }

    /// Creates or updates an Opaque Secret from raw bytes.
    pub async fn apply_secret(
        &self,
        ns: &str,
        name: &str,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<ApplyOutcome> {
        let obj = secret_object(ns, name, data);
        Ok(self
            .apply_object(obj, &ApplyOptions::default())
            .await?
            .outcome)
    }

    /// The decoded value of one key of a Secret (lossy UTF-8). Errors name the secret and
    /// the keys present, never a value.
    pub async fn secret_data(&self, ns: &str, name: &str, key: &str) -> Result<String> {
        let secret =
            self.get("secrets", name, Some(ns))
                .await?
                .ok_or_else(|| K8sError::NotFound {
                    cluster: self.name().to_string(),
                    object: object_ref("Secret", Some(ns), name),
                })?;
        if let Some(v) = secret
            .pointer("/stringData")
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
        {
            return Ok(v.to_string());
        }
        let data = secret.get("data").and_then(Value::as_object);
        let encoded = data.and_then(|d| d.get(key)).and_then(Value::as_str);
        match encoded {
            Some(e) => {
                let bytes = B64.decode(e).map_err(|_| {
                    K8sError::Invalid(format!(
                        "key `{key}` of secret {ns}/{name} on `{}` is not valid base64",
                        self.name()
                    ))
                })?;
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            None => Err(K8sError::MissingKey {
                cluster: self.name().to_string(),
                secret: format!("{ns}/{name}"),
                key: key.to_string(),
                available: data
                    .map(|d| {
                        d.keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "none".into()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_base64_encoded_opaque_objects() {
        let mut d = BTreeMap::new();
        d.insert("token".to_string(), b"s3cr3t".to_vec());
        let o = secret_object("ns", "s", &d);
        assert_eq!(o["data"]["token"], "czNjcjN0");
        assert_eq!(o["type"], "Opaque");
        assert_eq!(key_for_path(Path::new("/tmp/ca.crt")), "ca.crt");
    }
}

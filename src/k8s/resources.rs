//! Reading and changing objects of any kind: get, list, delete, label, annotate, scale,
//! set env, namespaces.

use std::collections::BTreeMap;

use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{json, Map, Value};

use super::apply::{ApplyOptions, ApplyOutcome};
use super::clusters::{object_ref, Cluster};
use super::error::{K8sError, Result};
use super::retry::retrying;
use crate::base::selector::Selector;

/// `{"metadata": {field: {k: v-or-null}}}`: a merge patch where `None` removes the key.
pub fn metadata_patch(field: &str, map: &BTreeMap<String, Option<String>>) -> Value {
    let entries: Map<String, Value> = map
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
        .collect();
    json!({ "metadata": { field: entries } })
}

/// `kubectl set env`'s strategic merge patch: every container gets each variable (`None`
/// removes it with `$patch: delete`).
pub fn set_env_patch(containers: &[String], env: &BTreeMap<String, Option<String>>) -> Value {
    let vars: Vec<Value> = env
        .iter()
        .map(|(k, v)| match v {
            Some(v) => json!({"name": k, "value": v}),
            None => json!({"name": k, "$patch": "delete"}),
        })
        .collect();
    let containers: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "env": vars}))
        .collect();
    json!({"spec": {"template": {"spec": {"containers": containers}}}})
}

impl Cluster {
    /// The object, or `None` when absent. `ns` defaults to the context's namespace for
    /// namespaced kinds.
    pub async fn get(&self, kind: &str, name: &str, ns: Option<&str>) -> Result<Option<Value>> {
        let t = self.resolve(kind).await?;
        let ns = ns.filter(|_| t.namespaced);
        let api = self.api(&t, ns);
        let obj = retrying(|| api.get_opt(name))
            .await
            .map_err(|e| self.api_error("get", object_ref(&t.kind, ns, name), e))?;
        Ok(obj.map(|o| {
            with_type(
                serde_json::to_value(o).unwrap_or_default(),
                &t.api_version(),
                &t.kind,
            )
        }))
    }

    /// Objects of a kind, in a namespace or (`ns: None`) in all namespaces, optionally
    /// filtered by a label selector.
    pub async fn list(
        &self,
        kind: &str,
        ns: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>> {
        let t = self.resolve(kind).await?;
        let ar = t.api_resource();
        let api = match ns.filter(|_| t.namespaced) {
            Some(ns) => kube::Api::namespaced_with(self.client().clone(), ns, &ar),
            None => kube::Api::<kube::api::DynamicObject>::all_with(self.client().clone(), &ar),
        };
        let mut lp = ListParams::default();
        if let Some(s) = selector.filter(|s| !s.trim().is_empty()) {
            Selector::parse(s)?;
            lp = lp.labels(s);
        }
        let what = match ns {
            Some(ns) => format!("{} in {ns}", t.plural),
            None => t.plural.clone(),
        };
        let list = retrying(|| api.list(&lp))
            .await
            .map_err(|e| self.api_error("list", what, e))?;
        Ok(list
            .items
            .into_iter()
            .map(|o| {
                with_type(
                    serde_json::to_value(o).unwrap_or_default(),
                    &t.api_version(),
                    &t.kind,
                )
            })
            .collect())
    }

    /// Deletes an object; `true` if it existed. With `wait`, returns once it is gone.
    pub async fn delete(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        wait: bool,
    ) -> Result<bool> {
        let t = self.resolve(kind).await?;
        let ns = ns.filter(|_| t.namespaced);
        let existed = self.delete_typed(&t, name, ns).await?;
        if existed && wait {
            self.wait_deleted(kind, name, ns, None).await?;
        }
        Ok(existed)
    }

    /// Sets labels (`None` removes the key, as `key-` in kubectl) with a merge patch.
    pub async fn label(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<Value> {
        self.patch_metadata(kind, name, ns, "labels", labels).await
    }

    /// Sets annotations (`None` removes the key) with a merge patch.
    pub async fn annotate(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        annotations: &BTreeMap<String, Option<String>>,
    ) -> Result<Value> {
        self.patch_metadata(kind, name, ns, "annotations", annotations)
            .await
    }

    async fn patch_metadata(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        field: &str,
        map: &BTreeMap<String, Option<String>>,
    ) -> Result<Value> {
        let t = self.resolve(kind).await?;
        let ns = ns.filter(|_| t.namespaced);
        let api = self.api(&t, ns);
        let patch = metadata_patch(field, map);
        let action = if field == "labels" {
            "label"
        } else {
            "annotate"
        };
        let (pp, patch) = (PatchParams::default(), Patch::Merge(&patch));
        let obj = retrying(|| api.patch(name, &pp, &patch))
            .await
            .map_err(|e| self.api_error(action, object_ref(&t.kind, ns, name), e))?;
        Ok(serde_json::to_value(obj).unwrap_or_default())
    }

    /// Sets `spec.replicas` of a Deployment through its scale subresource.
    pub async fn scale(&self, ns: &str, deploy: &str, replicas: i64) -> Result<()> {
        if !(0..=i64::from(i32::MAX)).contains(&replicas) {
            return Err(K8sError::Invalid(format!(
                "cannot scale Deployment {ns}/{deploy} to {replicas} replicas"
            )));
        }
        let t = self.resolve("deployments.apps").await?;
        let api = self.api(&t, Some(ns));
        let patch = json!({"spec": {"replicas": replicas}});
        let (pp, patch) = (PatchParams::default(), Patch::Merge(&patch));
        retrying(|| api.patch_scale(deploy, &pp, &patch))
            .await
            .map_err(|e| self.api_error("scale", object_ref("Deployment", Some(ns), deploy), e))?;
        Ok(())
    }

    /// Sets (or with `None` removes) environment variables on every container of a Deployment,
    /// as `kubectl set env`; a changed template starts a rollout.
    pub async fn set_env(
        &self,
        ns: &str,
        deploy: &str,
        env: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        let t = self.resolve("deployments.apps").await?;
        let what = object_ref("Deployment", Some(ns), deploy);
        let current = self
            .get("deployments.apps", deploy, Some(ns))
            .await?
            .ok_or_else(|| K8sError::NotFound {
                cluster: self.name().to_string(),
                object: what.clone(),
            })?;
        let containers: Vec<String> = current
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let patch = set_env_patch(&containers, env);
        let api = self.api(&t, Some(ns));
        let (pp, patch) = (PatchParams::default(), Patch::Strategic(&patch));
        retrying(|| api.patch(deploy, &pp, &patch))
            .await
            .map_err(|e| self.api_error("set env on", what.clone(), e))?;
        Ok(())
    }

    /// Creates a namespace with labels (server-side apply); when it exists, sets the labels
    /// given and leaves the others alone. Idempotent.
    pub async fn create_namespace(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<ApplyOutcome> {
        let Some(existing) = self.get("namespaces", name, None).await? else {
            let mut obj =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if !labels.is_empty() {
                obj["metadata"]["labels"] = json!(labels);
            }
            return Ok(self
                .apply_object(obj, &ApplyOptions::default())
                .await?
                .outcome);
        };
        // It exists: add the labels asked for, never remove others (as calling it twice with
        // different labels would with server-side apply).
        let current = crate::base::selector::labels_of(&existing);
        let missing: BTreeMap<String, Option<String>> = labels
            .iter()
            .filter(|(k, v)| current.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        if missing.is_empty() {
            return Ok(ApplyOutcome::Unchanged);
        }
        self.label("namespaces", name, None, &missing).await?;
        Ok(ApplyOutcome::Configured)
    }
}

/// Lists of dynamic objects come back without apiVersion/kind per item: put them back.
fn with_type(mut obj: Value, api_version: &str, kind: &str) -> Value {
    if let Some(m) = obj.as_object_mut() {
        m.entry("apiVersion").or_insert_with(|| json!(api_version));
        m.entry("kind").or_insert_with(|| json!(kind));
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_values_remove_keys() {
        let mut m = BTreeMap::new();
        m.insert("keep".to_string(), Some("v".to_string()));
        m.insert("drop".to_string(), None);
        assert_eq!(
            metadata_patch("labels", &m),
            json!({"metadata": {"labels": {"keep": "v", "drop": null}}})
        );
    }

    #[test]
    fn set_env_touches_every_container() {
        let mut env = BTreeMap::new();
        env.insert("A".to_string(), Some("1".to_string()));
        env.insert("B".to_string(), None);
        let p = set_env_patch(&["app".into(), "sidecar".into()], &env);
        let cs = p
            .pointer("/spec/template/spec/containers")
            .unwrap()
            .as_array()
            .unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1]["name"], "sidecar");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "$patch": "delete"}])
        );
    }
}

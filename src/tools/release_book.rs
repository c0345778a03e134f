//! `ReleaseBook`: which objects each simulated helm release applied, so a simulated
//! `helm uninstall` deletes them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::simulated::{ObjectKey, ReleaseKey, SimulatedEffect};

/// Objects applied per simulated helm release.
#[derive(Debug, Default)]
pub struct ReleaseBook {
    releases: BTreeMap<ReleaseKey, Vec<ObjectKey>>,
}

impl ReleaseBook {
    /// Records the objects of an install effect (replacing what an earlier install of the
    /// same release recorded, as `helm upgrade` does). Does nothing for other effects.
    /// Namespaces are not recorded: `helm uninstall` keeps the namespace of
    /// `--create-namespace`.
    pub fn record(&mut self, effect: &SimulatedEffect) {
        let Some(key) = &effect.install else { return };
        let objects = effect
            .applies
            .iter()
            .filter(|a| !a.keep_on_uninstall)
            .flat_map(|a| objects_in(&a.cluster, &a.yaml))
            .filter(|o| !(o.kind == "Namespace" && o.api_version == "v1"))
            .collect();
        self.releases.insert(key.clone(), objects);
    }

    /// The objects to delete for an uninstall effect (forgetting the release), in reverse
    /// order of creation. Empty when the release is unknown.
    pub fn take_for(&mut self, effect: &SimulatedEffect) -> Vec<ObjectKey> {
        let Some(key) = &effect.uninstall else {
            return Vec::new();
        };
        let mut objects = self.releases.remove(key).unwrap_or_default();
        objects.reverse();
        objects
    }

    /// Whether a release is installed.
    pub fn contains(&self, key: &ReleaseKey) -> bool {
        self.releases.contains_key(key)
    }
}

/// The objects (apiVersion, kind, namespace, name) of a multi-document YAML text.
pub fn objects_in(cluster: &str, yaml: &str) -> Vec<ObjectKey> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let Ok(Some(v)) = <Option<Value> as serde::Deserialize>::deserialize(doc) else {
            continue;
        };
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        if let (Some(api_version), Some(kind), Some(name)) =
            (s("/apiVersion"), s("/kind"), s("/metadata/name"))
        {
            out.push(ObjectKey {
                cluster: cluster.to_string(),
                api_version,
                kind,
                namespace: s("/metadata/namespace"),
                name,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::simulated::SimApply;

    #[test]
    fn records_and_takes_release_objects() {
        let key = ReleaseKey {
            cluster: "c1".into(),
            namespace: "ns".into(),
            release: "r".into(),
        };
        let install = SimulatedEffect {
            install: Some(key.clone()),
            applies: vec![SimApply {
                cluster: "c1".into(),
                keep_on_uninstall: false,
                yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: ns}\n".into(),
            }],
            ..Default::default()
        };
        let mut book = ReleaseBook::default();
        book.record(&install);
        assert!(book.contains(&key));
        let uninstall = SimulatedEffect {
            uninstall: Some(key.clone()),
            ..Default::default()
        };
        let gone = book.take_for(&uninstall);
        assert_eq!(
            gone.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert!(book.take_for(&uninstall).is_empty());
    }
}

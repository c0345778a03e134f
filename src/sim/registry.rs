//! The kinds one cluster serves right now: built-ins, then CRDs in creation order.

use super::resources::{builtin_defs, ResKey, ResourceDef};

pub struct Registry {
    defs: Vec<ResourceDef>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            defs: builtin_defs(),
        }
    }
}

impl Registry {
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.defs
            .iter()
            .find(|d| {
                d.group == group && d.plural == plural && d.versions.iter().any(|v| v == version)
            })
            .cloned()
    }

    pub fn by_key(&self, key: &ResKey) -> Option<ResourceDef> {
        self.defs
            .iter()
            .find(|d| d.group == key.group && d.plural == key.plural)
            .cloned()
    }

    /// Finds a kind by `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceDef> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.defs
            .iter()
            .find(|d| d.group == group && d.kind == kind && d.versions.iter().any(|v| v == version))
            .cloned()
    }

    /// Adds or replaces a CRD's kind; returns whether anything changed.
    pub fn upsert(&mut self, def: ResourceDef) -> bool {
        match self
            .defs
            .iter_mut()
            .find(|d| d.group == def.group && d.plural == def.plural)
        {
            Some(d) if d.custom => {
                let changed = d.versions != def.versions
                    || d.kind != def.kind
                    || d.status != def.status
                    || d.scale != def.scale
                    || d.namespaced != def.namespaced
                    || d.short_names != def.short_names;
                *d = def;
                changed
            }
            Some(_) => false,
            None => {
                self.defs.push(def);
                true
            }
        }
    }

    pub fn remove(&mut self, key: &ResKey) {
        self.defs
            .retain(|d| !(d.custom && d.group == key.group && d.plural == key.plural));
    }

    /// Groups with their versions (preferred first): built-ins first, then CRD groups by name,
    /// as the aggregator orders them (so `gateway` means gateway.networking.k8s.io's Gateway
    /// rather than networking.istio.io's, as with kubectl against a real cluster).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut custom: Vec<&ResourceDef> = self.defs.iter().filter(|d| d.custom).collect();
        custom.sort_by(|a, b| a.group.cmp(&b.group));
        let ordered = self.defs.iter().filter(|d| !d.custom).chain(custom);
        for d in ordered {
            if d.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, vs)) => {
                    for v in &d.versions {
                        if !vs.contains(v) {
                            vs.push(v.clone());
                        }
                    }
                }
                None => out.push((d.group.clone(), d.versions.clone())),
            }
        }
        out
    }

    /// Kinds served at one group version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<ResourceDef> {
        self.defs
            .iter()
            .filter(|d| d.group == group && d.versions.iter().any(|v| v == version))
            .cloned()
            .collect()
    }

    pub fn all(&self) -> &[ResourceDef] {
        &self.defs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resources::crd_def;
    use serde_json::json;

    #[test]
    fn crd_groups_follow_builtins_by_name() {
        let mut r = Registry::default();
        for g in ["networking.istio.io", "gateway.networking.k8s.io"] {
            let crd = json!({"spec": {"group": g, "names": {"plural": "gateways", "kind": "Gateway"},
                "versions": [{"name": "v1", "served": true, "storage": true}]}});
            assert!(r.upsert(crd_def(&crd).unwrap()));
        }
        let groups: Vec<String> = r.groups().into_iter().map(|(g, _)| g).collect();
        let gw = groups
            .iter()
            .position(|g| g == "gateway.networking.k8s.io")
            .unwrap();
        let istio = groups
            .iter()
            .position(|g| g == "networking.istio.io")
            .unwrap();
        let apps = groups.iter().position(|g| g == "apps").unwrap();
        assert!(apps < gw && gw < istio, "{groups:?}");
    }
}

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

    /// Groups with their versions (preferred first), built-ins first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in &self.defs {
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

//! Links between the clusters of a fleet, and rules that replicate into linked clusters.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{Rule, Rules, RULE_ANNOTATION};
use crate::base::path::field;
use crate::sim::cluster::Cluster;
use crate::sim::store::meta_str;

impl Rules {
    /// Whether some rule replicates into linked clusters (they need a periodic resync).
    pub(crate) fn replicates(&self) -> bool {
        self.rules.iter().any(|r| r.replicate.is_some())
    }

    /// Re-runs the replicating rules for the objects they match (links may have appeared).
    pub(crate) fn resync_replicating(&self, c: &Cluster) {
        for rule in self.rules.iter().filter(|r| r.replicate.is_some()) {
            let def = c
                .registry()
                .all()
                .iter()
                .find(|d| d.group == rule.matcher.group && d.kind == rule.matcher.kind)
                .cloned();
            let Some(def) = def else { continue };
            for o in c.store.list(&def.key(), None).0 {
                if Self::matches(rule, &o) && o["metadata"]["deletionTimestamp"].is_null() {
                    let _ = self.run(c, rule, &o);
                }
            }
        }
    }

    /// Whether cluster `from` holds a link object pointing at cluster `to`.
    fn links_to(&self, from: &Cluster, to: &Cluster) -> bool {
        for link in &self.links {
            let reg = from.registry();
            let Some(def) = reg
                .all()
                .iter()
                .find(|d| d.group == link.matcher.group && d.kind == link.matcher.kind)
                .cloned()
            else {
                continue;
            };
            drop(reg);
            for o in from.store.list(&def.key(), None).0 {
                let probe = Rule {
                    name: link.name.clone(),
                    matcher: link.matcher.clone(),
                    lookup: BTreeMap::new(),
                    create: vec![],
                    status: None,
                    owned: false,
                    replicate: None,
                };
                if !Self::matches(&probe, &o) {
                    continue;
                }
                for a in field(&o, &link.addresses).as_array().into_iter().flatten() {
                    let text = a.get("value").unwrap_or(a).as_str().unwrap_or_default();
                    let owner = text
                        .parse()
                        .ok()
                        .and_then(|ip| crate::sim::lb_address_owner(&ip));
                    if owner == Some(to.index % 8) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The peers linked with `c` in either direction.
    pub(super) fn linked_peers(&self, c: &Cluster) -> Vec<Arc<Cluster>> {
        c.peers()
            .into_iter()
            .filter(|p| self.links_to(p, c) || self.links_to(c, p))
            .collect()
    }

    /// An object was deleted: remove what replicating rules copied into peers for it.
    pub(crate) fn deleted(&self, c: &Cluster, obj: &Value) {
        for rule in self
            .rules
            .iter()
            .filter(|r| r.replicate.is_some() && Self::applies_to_kind(r, obj))
        {
            remove_copies(c, rule, obj);
        }
    }
}

pub(super) fn remove_copies(c: &Cluster, rule: &Rule, owner: &Value) {
    let uid = meta_str(owner, "uid");
    for peer in c.peers() {
        for (res, o) in peer.store.owned_by(uid) {
            if o["metadata"]["annotations"][RULE_ANNOTATION] == rule.name.as_str() {
                let _ =
                    peer.store
                        .delete(&res, meta_str(&o, "namespace"), meta_str(&o, "name"), false);
            }
        }
    }
}

//! Generic controllers: react to store events after a short delay, converging objects the
//! way Kubernetes' own controllers do (idempotent reconcilers keyed by object).

mod core;
mod events;
mod failures;
mod kubelet;
pub use failures::{fail_images_for_runs, set_fail_images, FAIL_ANNOTATION, FAIL_IMAGE_ENV};
pub use kubelet::NODE_NAME;
mod workloads;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::cluster::Cluster;
use super::resources::ResKey;
use super::rules::Rules;
use super::store::{meta_str, EventType};

/// Identifies one object to reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub res: ResKey,
    pub ns: String,
    pub name: String,
}

/// The outcome of one reconcile: done, or try again later (soon, or after a back-off).
pub enum Outcome {
    Done,
    Retry,
    RetryAfter(Duration),
}

/// The controllers of one cluster.
pub struct Controllers {
    cluster: Arc<Cluster>,
    rules: Arc<Rules>,
    pending: Mutex<HashSet<Key>>,
    lb_pending: Mutex<HashSet<Key>>,
}

/// Starts the controllers of a cluster (needs a tokio runtime).
pub fn spawn(cluster: Arc<Cluster>, rules: Arc<Rules>) {
    let ctl = Arc::new(Controllers {
        cluster: cluster.clone(),
        rules,
        pending: Mutex::new(HashSet::new()),
        lb_pending: Mutex::new(HashSet::new()),
    });
    let mut rx = cluster.store.events();
    if ctl.rules.replicates() {
        // links between clusters appear in other clusters: re-run replicating rules now and then
        let weak = Arc::downgrade(&ctl);
        let every = (cluster.opts.reaction_delay * 10).max(Duration::from_millis(250));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(ctl) = weak.upgrade() else { return };
                if ctl.cluster.stop.is_cancelled() {
                    return;
                }
                if !ctl.cluster.peers().is_empty() {
                    ctl.rules.resync_replicating(&ctl.cluster);
                }
            }
        });
    }
    tokio::spawn(async move {
        // objects present before the controllers started (seeded ones)
        ctl.resync();
        let stop = ctl.cluster.stop.clone();
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => return,
                ev = rx.recv() => ev,
            };
            match ev {
                Ok(ev) => ctl.on_event(ev.type_, &ev.res, &ev.object),
                Err(RecvError::Lagged(_)) => ctl.resync(),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

impl Controllers {
    fn resync(self: &Arc<Self>) {
        let defs: Vec<_> = self.cluster.registry().all().to_vec();
        for d in defs {
            let (items, _) = self.cluster.store.list(&d.key(), None);
            for o in items {
                self.on_event(EventType::Modified, &d.key(), &o);
            }
        }
    }

    fn on_event(self: &Arc<Self>, type_: EventType, res: &ResKey, obj: &Value) {
        let ns = meta_str(obj, "namespace").to_string();
        let name = meta_str(obj, "name").to_string();
        if type_ == EventType::Deleted {
            let uid = meta_str(obj, "uid").to_string();
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(me.cluster.opts.reaction_delay).await;
                core::collect_garbage(&me.cluster, &uid);
            });
            if res.group.is_empty() && res.plural == "services" {
                core::service_deleted(&self.cluster, &ns, &name);
            }
            self.rules.deleted(&self.cluster, obj);
        } else {
            self.enqueue(
                Key {
                    res: res.clone(),
                    ns: ns.clone(),
                    name: name.clone(),
                },
                self.cluster.opts.reaction_delay,
            );
        }
        // owners react to their dependents
        for r in obj["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let def = self.cluster.registry().by_kind(
                r["apiVersion"].as_str().unwrap_or_default(),
                r["kind"].as_str().unwrap_or_default(),
            );
            if let (Some(def), Some(owner)) = (def, r["name"].as_str()) {
                let ons = if def.namespaced {
                    ns.clone()
                } else {
                    String::new()
                };
                self.enqueue(
                    Key {
                        res: def.key(),
                        ns: ons,
                        name: owner.into(),
                    },
                    self.cluster.opts.reaction_delay,
                );
            }
        }
        if res.group.is_empty() && res.plural == "pods" {
            let (svcs, _) = self
                .cluster
                .store
                .list(&ResKey::new("", "services"), Some(&ns));
            // Only the Services that select this pod keep its endpoints: enqueueing every
            // Service of the namespace made each pod event cost O(services x pods).
            let labels = &obj["metadata"]["labels"];
            for s in svcs.iter().filter(|s| selects(s, labels)) {
                self.enqueue(
                    Key {
                        res: ResKey::new("", "services"),
                        ns: ns.clone(),
                        name: meta_str(s, "name").into(),
                    },
                    self.cluster.opts.reaction_delay,
                );
            }
        }
        if !ns.is_empty() && type_ == EventType::Deleted {
            // a namespace being emptied re-checks itself
            self.enqueue(
                Key {
                    res: ResKey::new("", "namespaces"),
                    ns: String::new(),
                    name: ns.clone(),
                },
                self.cluster.opts.reaction_delay,
            );
        }
        for key in self.rules.watchers(&self.cluster, res, obj) {
            self.enqueue(key, self.cluster.opts.reaction_delay);
        }
    }

    pub fn enqueue(self: &Arc<Self>, key: Key, delay: Duration) {
        if self.cluster.stop.is_cancelled() {
            return;
        }
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !p.insert(key.clone()) {
                return;
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            me.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            match me.reconcile(&key) {
                Outcome::Retry => {
                    let d = (me.cluster.opts.reaction_delay * 5).max(Duration::from_millis(10));
                    me.enqueue(key, d);
                }
                Outcome::RetryAfter(d) => me.enqueue(key, d),
                Outcome::Done => {}
            }
        });
    }

    fn reconcile(self: &Arc<Self>, key: &Key) -> Outcome {
        let c = &self.cluster;
        let mut out = match (key.res.group.as_str(), key.res.plural.as_str()) {
            ("", "namespaces") => core::namespace(c, &key.name),
            ("", "services") => core::service(self, key),
            ("", "persistentvolumeclaims") => core::bind_claim(c, &key.ns, &key.name),
            ("", "pods") => kubelet::pod(c, &key.ns, &key.name),
            ("apps", "deployments") => workloads::deployment(c, &key.ns, &key.name),
            ("apps", "replicasets") => workloads::replicaset(c, &key.ns, &key.name),
            ("apps", "daemonsets") => workloads::daemonset(c, &key.ns, &key.name),
            ("apps", "statefulsets") => workloads::statefulset(c, &key.ns, &key.name),
            ("batch", "jobs") => workloads::job(c, &key.ns, &key.name),
            ("apiextensions.k8s.io", "customresourcedefinitions") => core::crd(c, &key.name),
            _ => Outcome::Done,
        };
        if let Some(obj) = c.store.get(&key.res, &key.ns, &key.name) {
            if matches!(self.rules.reconcile(c, &key.res, &obj), Outcome::Retry)
                && matches!(out, Outcome::Done)
            {
                out = Outcome::Retry;
            }
        }
        out
    }

    /// Assigns a LoadBalancer address after `lb_delay`, once per Service.
    fn schedule_lb(self: &Arc<Self>, key: Key) {
        {
            let mut p = self.lb_pending.lock().unwrap_or_else(|e| e.into_inner());
            if !p.insert(key.clone()) {
                return;
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(me.cluster.opts.lb_delay).await;
            core::assign_lb(&me.cluster, &key);
            me.lb_pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        });
    }
}

/// Whether a Service's `spec.selector` (a plain label map) selects pods with `labels`. A
/// Service without a selector selects nothing by label.
fn selects(svc: &Value, labels: &Value) -> bool {
    match svc["spec"]["selector"].as_object() {
        Some(sel) if !sel.is_empty() => crate::base::selector::map_selects(sel, labels),
        _ => false,
    }
}

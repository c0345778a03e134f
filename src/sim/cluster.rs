//! One simulated cluster's state and its write operations (shared by the HTTP handlers and
//! the controllers).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use serde_json::{json, Value};

use super::admission::{Operation, Plan};
use super::defaults::admit;
use super::patch::{json_patch, merge_patch, strategic_merge};
use super::registry::Registry;
use super::resources::{crd_def, ResKey, ResourceDef};
use super::ssa;
use super::status::ApiError;
use super::store::{meta_str, Store, Written};
use super::validation::{self, FieldValidation, Warnings};
use super::SimOptions;

/// How a PATCH body is to be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Apply,
    Merge,
    Strategic,
    Json,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        Some(match ct {
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
            "application/merge-patch+json" => PatchKind::Merge,
            "application/strategic-merge-patch+json" => PatchKind::Strategic,
            "application/json-patch+json" => PatchKind::Json,
            _ => return None,
        })
    }
}

/// Options common to writes.
#[derive(Clone, Debug)]
pub struct WriteOpts {
    pub dry_run: bool,
    pub manager: String,
    pub force: bool,
    /// What to do with unknown fields (`fieldValidation`).
    pub validation: FieldValidation,
    /// Warnings for the response's `Warning` headers.
    pub warnings: Warnings,
    /// A write of the simulated controllers (not of a client).
    pub controller: bool,
}

impl WriteOpts {
    pub fn controller(manager: &str) -> Self {
        WriteOpts {
            dry_run: false,
            manager: manager.into(),
            force: true,
            validation: FieldValidation::Ignore,
            warnings: Warnings::default(),
            controller: true,
        }
    }
}

pub struct Cluster {
    pub name: String,
    pub index: usize,
    pub opts: SimOptions,
    pub store: Store,
    registry: RwLock<Registry>,
    cluster_ips: AtomicU32,
    node_ports: AtomicU32,
    lb_ips: AtomicU32,
    pod_ips: AtomicU32,
    /// The other clusters of the same fleet.
    peers: RwLock<Vec<Weak<Cluster>>>,
    /// Cancelled when the last `SimCluster` handle is dropped: controllers, servers and
    /// watches end.
    pub stop: tokio_util::sync::CancellationToken,
    /// Round-robin turns of the simulated data plane for requests made from this cluster's
    /// pods (`exec ... curl`).
    pub balancer: super::dataplane::Balancer,
    /// Injected faults and latency.
    pub faults: super::faults::FaultPlan,
}

/// One simulated cluster at one moment (see [`Cluster::snapshot`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ClusterSnapshot {
    pub store: super::store::Snapshot,
    /// Cluster IPs, node ports, load-balancer and pod addresses handed out.
    pub counters: [u32; 4],
}

impl Cluster {
    pub fn new(name: &str, index: usize, opts: SimOptions) -> Self {
        let faults = super::faults::FaultPlan::new(opts.faults.clone(), index);
        Cluster {
            name: name.into(),
            index,
            opts,
            store: Store::new(),
            registry: RwLock::new(Registry::default()),
            cluster_ips: AtomicU32::new(10),
            node_ports: AtomicU32::new(30000),
            lb_ips: AtomicU32::new(0),
            pod_ips: AtomicU32::new(10),
            peers: RwLock::new(Vec::new()),
            stop: tokio_util::sync::CancellationToken::new(),
            balancer: super::dataplane::Balancer::default(),
            faults,
        }
    }

    /// Every stored object and the address counters: what [`Cluster::restore`] puts back.
    pub fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot {
            store: self.store.snapshot(),
            counters: [
                self.cluster_ips.load(Ordering::Relaxed),
                self.node_ports.load(Ordering::Relaxed),
                self.lb_ips.load(Ordering::Relaxed),
                self.pod_ips.load(Ordering::Relaxed),
            ],
        }
    }

    /// Puts the cluster back as a snapshot found it: its objects (the custom resource types of
    /// its CRDs served again) and address counters that never hand out an address twice.
    pub fn restore(&self, snap: &ClusterSnapshot) {
        for o in &snap.store.objects {
            if o.group == "apiextensions.k8s.io" && o.plural == "customresourcedefinitions" {
                if let Some(d) = crd_def(&o.object) {
                    self.registry_mut().upsert(d);
                }
            }
        }
        self.store.restore(&snap.store);
        for (counter, v) in [
            &self.cluster_ips,
            &self.node_ports,
            &self.lb_ips,
            &self.pod_ips,
        ]
        .into_iter()
        .zip(snap.counters)
        {
            counter.fetch_max(v, Ordering::Relaxed);
        }
    }

    /// Makes another cluster of the fleet known to this one.
    pub fn add_peer(&self, peer: &Arc<Cluster>) {
        self.peers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(peer));
    }

    /// The other clusters of the fleet that are still running.
    pub fn peers(&self) -> Vec<Arc<Cluster>> {
        self.peers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_cluster_ip(&self) -> String {
        let n = self.cluster_ips.fetch_add(1, Ordering::Relaxed);
        format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1)
    }

    pub fn next_node_port(&self) -> u64 {
        let n = self.node_ports.fetch_add(1, Ordering::Relaxed);
        u64::from(30000 + (n - 30000) % 2768)
    }

    pub fn next_pod_ip(&self) -> String {
        let n = self.pod_ips.fetch_add(1, Ordering::Relaxed);
        format!(
            "10.{}.{}.{}",
            244 + (self.index % 10),
            (n / 250) % 250,
            n % 250 + 1
        )
    }

    /// The next LoadBalancer address from this cluster's slice of the simulated pool.
    pub fn next_lb_ip(&self) -> String {
        let n = self.lb_ips.fetch_add(1, Ordering::Relaxed);
        super::lb_address(self.index, n)
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.store
            .get(&ResKey::new("", "namespaces"), "", ns)
            .is_some()
    }

    fn check_namespace_for_create(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !def.namespaced {
            return Ok(());
        }
        match self.store.get(&ResKey::new("", "namespaces"), "", ns) {
            None => Err(ApiError::not_found(&ResKey::new("", "namespaces"), ns)),
            Some(n) if !n["metadata"]["deletionTimestamp"].is_null() => Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.key().qualified())).with_reason("Forbidden")),
            Some(_) => Ok(()),
        }
    }

    fn prepare(def: &ResourceDef, ns: &str, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON object",
            ));
        }
        if let Some(kind) = obj.get("kind").and_then(Value::as_str) {
            if kind != def.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind of the object ({kind}) does not match the resource ({})",
                    def.kind
                )));
            }
        }
        obj["apiVersion"] = json!(def.preferred_api_version());
        obj["kind"] = json!(def.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if def.namespaced {
            let body_ns = meta_str(obj, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        Ok(())
    }

    /// POST: creates an object (generateName honoured).
    pub fn create(
        &self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        Self::prepare(def, ns, &mut obj)?;
        self.check_namespace_for_create(def, ns, meta_str(&obj, "name"))?;
        if meta_str(&obj, "name").is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            if !prefix.is_empty() {
                obj["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix(5)));
            }
        }
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let name = meta_str(&obj, "name").to_string();
        let plan = self.admission_plan(def, ns, None, Operation::Create);
        admit_all(self, &plan, def, None, &mut obj, opts)?;
        ssa::record_update(
            None,
            &mut obj,
            &opts.manager,
            None,
            &ssa::Schema::of(self, def),
        );
        let w = self.store.create(&def.key(), obj, opts.dry_run)?;
        let _ = name;
        self.after_write(def, &w, opts.dry_run);
        Ok(w.object)
    }

    /// PUT on an object or its `status`/`scale` subresource.
    pub fn replace(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        sub: Option<&str>,
        mut body: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let key = def.key();
        if sub != Some("scale") {
            Self::prepare(def, ns, &mut body)?;
            let body_name = meta_str(&body, "name");
            if !body_name.is_empty() && body_name != name {
                return Err(ApiError::bad_request(
                    "the name of the object does not match the name on the URL",
                ));
            }
            body["metadata"]["name"] = json!(name);
        }
        let plan = self.admission_plan(def, ns, sub, Operation::Update);
        let w = self.store.modify(&key, ns, name, opts.dry_run, |old| {
            let old = old.ok_or_else(|| ApiError::not_found(&key, name))?;
            let want_rv = match sub {
                Some("scale") => body["metadata"]["resourceVersion"].as_str(),
                _ => body["metadata"]["resourceVersion"].as_str(),
            };
            if let Some(rv) = want_rv.filter(|rv| !rv.is_empty()) {
                if Some(rv) != old["metadata"]["resourceVersion"].as_str() {
                    return Err(ApiError::conflict(&key, name,
                        "the object has been modified; please apply your changes to the latest version and try again"));
                }
            }
            let mut new = match sub {
                Some("status") => {
                    let mut n = old.clone();
                    n["status"] = body["status"].clone();
                    n
                }
                Some("scale") => {
                    let mut n = old.clone();
                    n["spec"]["replicas"] = body["spec"]["replicas"].clone();
                    n
                }
                _ => {
                    let mut n = body.clone();
                    if def.status {
                        n["status"] = old["status"].clone();
                    }
                    // managedFields in the body replace the live ones (ssa::record_update)
                    if n["metadata"]["managedFields"].is_null() {
                        n["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
                    }
                    n
                }
            };
            finish(self, &plan, def, Some(old), &mut new, opts, sub)?;
            Ok(new)
        })?;
        self.after_write(def, &w, opts.dry_run);
        Ok(w.object)
    }

    /// PATCH on an object or its `status`/`scale` subresource. An apply patch creates.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        sub: Option<&str>,
        kind: PatchKind,
        patch: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let key = def.key();
        if kind == PatchKind::Strategic && def.custom {
            return Err(ApiError::unsupported_media(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let exists = self.store.get(&key, ns, name).is_some();
        if !exists && kind == PatchKind::Apply && sub.is_none() {
            self.check_namespace_for_create(def, ns, name)?;
        }
        let op = if exists {
            Operation::Update
        } else {
            Operation::Create
        };
        let plan = self.admission_plan(def, ns, sub, op);
        let w = self.store.modify(&key, ns, name, opts.dry_run, |old| {
            let mut new = match (old, kind) {
                (None, PatchKind::Apply) if sub.is_none() => {
                    let mut applied = patch.clone();
                    Self::prepare(def, ns, &mut applied)?;
                    if meta_str(&applied, "name") != name {
                        return Err(ApiError::bad_request(
                            "the name of the object does not match the name on the URL",
                        ));
                    }
                    validation::check_apply_patch(self, def, ns, name, &applied)?;
                    let mut n = ssa::apply(
                        None,
                        &applied,
                        &opts.manager,
                        opts.force,
                        &ssa::Schema::of(self, def),
                    )?;
                    admit_all(self, &plan, def, None, &mut n, opts)?;
                    return Ok(n);
                }
                (None, _) => return Err(ApiError::not_found(&key, name)),
                (Some(old), _) => old.clone(),
            };
            let old = old.expect("checked above");
            let mut target = match sub {
                Some("scale") => scale_of(def, &new),
                _ => new.clone(),
            };
            match kind {
                PatchKind::Merge => merge_patch(&mut target, &patch),
                PatchKind::Strategic => strategic_merge(&mut target, &patch),
                PatchKind::Json => json_patch(&mut target, &patch)?,
                PatchKind::Apply => {
                    let mut applied = patch.clone();
                    if sub.is_none() {
                        Self::prepare(def, ns, &mut applied)?;
                        applied["metadata"]["name"] = json!(name);
                    }
                    if sub != Some("scale") {
                        validation::check_apply_patch(self, def, ns, name, &applied)?;
                    }
                    target = ssa::apply(
                        Some(&target),
                        &applied,
                        &opts.manager,
                        opts.force,
                        &ssa::Schema::of(self, def),
                    )?;
                }
            }
            match sub {
                Some("status") => new["status"] = target["status"].clone(),
                Some("scale") => new["spec"]["replicas"] = target["spec"]["replicas"].clone(),
                _ => {
                    if def.status {
                        target["status"] = old["status"].clone();
                        if target["status"].is_null() {
                            if let Some(m) = target.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                    new = target;
                }
            }
            new["metadata"]["name"] = json!(name);
            if def.namespaced {
                new["metadata"]["namespace"] = json!(ns);
            }
            new["apiVersion"] = json!(def.preferred_api_version());
            new["kind"] = json!(def.kind);
            if kind == PatchKind::Apply && sub.is_none() {
                admit_all(self, &plan, def, Some(old), &mut new, opts)?;
            } else {
                finish(self, &plan, def, Some(old), &mut new, opts, sub)?;
            }
            Ok(new)
        })?;
        self.after_write(def, &w, opts.dry_run);
        Ok(w.object)
    }

    /// DELETE of one object.
    pub fn delete(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let key = def.key();
        let plan = self.admission_plan(def, ns, None, Operation::Delete);
        if !plan.is_empty() {
            let old = self
                .store
                .get(&key, ns, name)
                .ok_or_else(|| ApiError::not_found(&key, name))?;
            plan.run(true, None, Some(&old), opts)?;
            plan.run(false, None, Some(&old), opts)?;
        }
        if def.group.is_empty() && def.plural == "namespaces" {
            // namespaces go Terminating; the namespace controller empties and removes them
            let w = self.store.modify(&key, ns, name, opts.dry_run, |old| {
                let mut n = old.ok_or_else(|| ApiError::not_found(&key, name))?.clone();
                if n["metadata"]["deletionTimestamp"].is_null() {
                    n["metadata"]["deletionTimestamp"] = json!(super::store::now());
                }
                n["status"]["phase"] = json!("Terminating");
                Ok(n)
            })?;
            return Ok(w);
        }
        let w = self.store.delete(&key, ns, name, opts.dry_run)?;
        self.after_write(def, &w, opts.dry_run);
        Ok(w)
    }

    /// The admission webhooks a write may call (gathered before the store is locked).
    fn admission_plan(
        &self,
        def: &ResourceDef,
        ns: &str,
        sub: Option<&str>,
        op: Operation,
    ) -> Plan {
        let version = def.versions.first().map_or("v1", String::as_str);
        Plan::prepare(self, def, version, ns, sub, op)
    }

    fn after_write(&self, def: &ResourceDef, w: &Written, dry_run: bool) {
        if dry_run
            || def.group != "apiextensions.k8s.io"
            || def.plural != "customresourcedefinitions"
        {
            return;
        }
        if let Some(d) = crd_def(&w.object) {
            if w.deleted {
                self.registry_mut().remove(&d.key());
                // a CRD takes its custom resources with it
                for o in self.store.list(&d.key(), None).0 {
                    let _ = self.store.delete(
                        &d.key(),
                        meta_str(&o, "namespace"),
                        meta_str(&o, "name"),
                        false,
                    );
                }
            } else {
                self.registry_mut().upsert(d);
            }
        }
    }

    /// Creates or updates an object as a controller would (server-side apply, forced).
    pub fn apply_object(&self, obj: &Value, manager: &str) -> Result<Value, ApiError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        let def = self.registry().by_kind(api_version, kind).ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({kind} {api_version})"),
            )
        })?;
        let ns = if def.namespaced {
            let n = meta_str(obj, "namespace");
            if n.is_empty() {
                "default"
            } else {
                n
            }
        } else {
            ""
        }
        .to_string();
        let name = meta_str(obj, "name").to_string();
        // an apply body never carries managedFields (a read object may)
        let mut body = obj.clone();
        if let Some(m) = body["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        self.patch(
            &def,
            &ns,
            &name,
            None,
            PatchKind::Apply,
            body,
            &WriteOpts::controller(manager),
        )
    }

    /// Replaces `status` of a stored object (as a controller), unless it is unchanged.
    pub fn set_status(
        &self,
        res: &ResKey,
        ns: &str,
        name: &str,
        status: Value,
    ) -> Result<Written, ApiError> {
        self.store.modify(res, ns, name, false, |old| {
            let mut n = old.ok_or_else(|| ApiError::not_found(res, name))?.clone();
            n["status"] = status;
            Ok(n)
        })
    }
}

fn finish(
    cluster: &Cluster,
    plan: &Plan,
    def: &ResourceDef,
    old: Option<&Value>,
    new: &mut Value,
    opts: &WriteOpts,
    sub: Option<&str>,
) -> Result<(), ApiError> {
    admit_all(cluster, plan, def, old, new, opts)?;
    ssa::record_update(old, new, &opts.manager, sub, &ssa::Schema::of(cluster, def));
    Ok(())
}

/// Defaults and validation, then the admission webhooks of `plan`: mutating ones (a mutated
/// object is defaulted and validated again), then validating ones.
fn admit_all(
    cluster: &Cluster,
    plan: &Plan,
    def: &ResourceDef,
    old: Option<&Value>,
    new: &mut Value,
    opts: &WriteOpts,
) -> Result<(), ApiError> {
    admit(cluster, def, old, new, opts)?;
    if plan.is_empty() {
        return Ok(());
    }
    let before = new.clone();
    plan.run(true, Some(new), old, opts)?;
    if *new != before {
        admit(cluster, def, old, new, opts)?;
    }
    plan.run(false, Some(new), old, opts)
}

/// The autoscaling/v1 Scale view of an object.
pub fn scale_of(def: &ResourceDef, obj: &Value) -> Value {
    let m = &obj["metadata"];
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let _ = def;
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector}})
}

pub fn random_suffix(n: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..n)
        .map(|_| CHARS[rand::random::<usize>() % CHARS.len()] as char)
        .collect()
}

impl ApiError {
    fn with_reason(mut self, reason: &str) -> Self {
        self.reason = reason.into();
        self
    }
}

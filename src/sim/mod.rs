//! Simulated Kubernetes clusters: a real HTTP API server per cluster (in-process, on
//! 127.0.0.1) with an in-memory store, watches, server-side apply, generic controllers and
//! vendor behaviours loaded as data from `stdlib/sim/controllers/`.
//!
//! | file | role |
//! |---|---|
//! | `store.rs` | objects, resourceVersions, the event log watches replay |
//! | `resources.rs`, `registry.rs` | built-in kinds and CRDs served |
//! | `server.rs`, `discovery.rs`, `watch.rs`, `table.rs`, `pods.rs` | the HTTP API |
//! | `portforward_ws.rs` | `kubectl port-forward` (SPDY over WebSocket) into the data plane |
//! | `protobuf.rs` | kubectl's protobuf request bodies for common built-in kinds |
//! | `cluster.rs`, `defaults.rs` | writes: create, replace, patch, apply, delete; defaulting |
//! | `patch.rs`, `ssa.rs` | merge / strategic / JSON patch; server-side apply ownership |
//! | `selector.rs`, `status.rs` | label and field selectors; `Status` error bodies |
//! | `validation/`, `openapi.rs` | what the API server checks on writes; `/openapi/v2`, `/openapi/v3` |
//! | `controllers/` | namespaces, services, CRDs, GC (`core`), workloads, kubelet, failures on demand, events |
//! | `rules.rs`, `rules/` | vendor behaviours from YAML rules; templates; cluster links |
//! | `dataplane/` | the traffic model: who serves a request, what it answers, why |
//! | `serve.rs` | `meshbook sim serve` and the kubeconfig it writes |
//! | `faults.rs` | faults and latency on demand (`--sim-faults`, `--sim-latency`) |

mod admission;
mod cluster;
mod controllers;
pub mod dataplane;
mod defaults;
mod discovery;
pub mod faults;
mod openapi;
pub mod patch;
mod pods;
mod portforward_ws;
mod protobuf;
mod registry;
mod resources;
pub mod rules;
pub mod selector;
mod serve;
mod server;
pub mod ssa;
mod status;
mod store;
mod table;
pub mod validation;
mod watch;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

pub use crate::base::lb::{is_simulated_address, lb_address, lb_address_owner};
pub use cluster::{Cluster, ClusterSnapshot, PatchKind, WriteOpts};
pub use controllers::{set_fail_images, FAIL_ANNOTATION, FAIL_IMAGE_ENV};
pub use discovery::GIT_VERSION;
pub use rules::{Rules, RulesError};
pub use serve::{
    kubeconfig_context_is_simulated, serve_command, serve_until, start_fleet, write_kubeconfig,
    SIMULATED_EXTENSION,
};
pub use status::ApiError;

/// Timing of the simulated controllers.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// How long controllers wait before reacting to a change.
    pub reaction_delay: Duration,
    /// How long a LoadBalancer Service waits for its address.
    pub lb_delay: Duration,
    /// How long a watch that allows bookmarks stays quiet before it gets one.
    pub bookmark_every: Duration,
    /// Injected faults and latency (`--sim-faults`, `--sim-latency`).
    pub faults: faults::FaultOptions,
    /// Globs of images whose pulls fail (`--fail-image`), as ImagePullBackOff.
    pub fail_images: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            reaction_delay: Duration::from_millis(20),
            lb_delay: Duration::from_millis(50),
            bookmark_every: Duration::from_secs(10),
            faults: faults::FaultOptions::for_runs(),
            fail_images: controllers::fail_images_for_runs(),
        }
    }
}

/// One simulated cluster: store, controllers and router. Cheap to clone.
///
/// Keep a handle (or its `SimFleet`) for as long as the cluster is used: dropping the last
/// handle stops its controllers, its socket servers and its watches (a `client()` made
/// earlier still answers, but nothing converges any more).
#[derive(Clone)]
pub struct SimCluster {
    inner: Arc<Cluster>,
    router: axum::Router,
    _stop: Arc<tokio_util::sync::DropGuard>,
}

impl SimCluster {
    /// Starts a cluster with the bundled vendor rules (must run inside a tokio runtime).
    pub fn start(name: &str, index: usize, opts: SimOptions) -> SimCluster {
        Self::start_with_rules(name, index, opts, Arc::new(load_rules()))
    }

    /// Starts a cluster with the given vendor rules.
    pub fn start_with_rules(
        name: &str,
        index: usize,
        opts: SimOptions,
        rules: Arc<Rules>,
    ) -> SimCluster {
        let inner = Arc::new(Cluster::new(name, index, opts));
        seed(&inner);
        controllers::spawn(inner.clone(), rules);
        let router = server::router(inner.clone());
        let _stop = Arc::new(inner.stop.clone().drop_guard());
        SimCluster {
            inner,
            router,
            _stop,
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// The cluster's state (store, registry, write operations).
    pub fn state(&self) -> &Arc<Cluster> {
        &self.inner
    }

    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// An in-process kube client (no socket). Exec and port-forward need `serve` instead.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.router.clone(), "default")
    }

    /// Serves the API on a real socket in the background; returns the bound address.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let router = self.router.clone();
        let stop = self.inner.stop.clone();
        tokio::spawn(async move {
            // Watches stream small chunks: without TCP_NODELAY, Nagle's algorithm and delayed
            // ACKs hold each event back ~40ms, which every wait would pay.
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served =
                axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = served.await {
                tracing::debug!("simulated cluster server stopped: {e}");
            }
        });
        Ok(bound)
    }

    /// Serves on 127.0.0.1 with an OS-chosen port.
    pub async fn serve_local(&self) -> std::io::Result<SocketAddr> {
        self.serve(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .await
    }
}

fn load_rules() -> Rules {
    Rules::bundled().unwrap_or_else(|e| {
        tracing::warn!("simulator rules not loaded: {e}");
        Rules::default()
    })
}

fn seed(c: &Cluster) {
    let opts = WriteOpts::controller("kube-apiserver");
    let reg = c.registry();
    let ns_def = reg.by_kind("v1", "Namespace").expect("built-in");
    let node_def = reg.by_kind("v1", "Node").expect("built-in");
    let svc_def = reg.by_kind("v1", "Service").expect("built-in");
    drop(reg);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let _ = c.create(&ns_def, "", json!({"metadata": {"name": ns}}), &opts);
    }
    let t = store::now();
    let node = json!({"metadata": {"name": controllers::NODE_NAME, "labels": {
            "kubernetes.io/hostname": controllers::NODE_NAME, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": "",
            "topology.kubernetes.io/region": format!("sim-{}", c.name),
            "topology.kubernetes.io/zone": format!("sim-{}-a", c.name)}},
        "spec": {"podCIDR": format!("10.{}.0.0/16", 244 + c.index % 10)},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status (simulated)", "lastHeartbeatTime": t, "lastTransitionTime": t}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": controllers::NODE_NAME}],
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "250"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "250"},
            "nodeInfo": {"kubeletVersion": GIT_VERSION, "kubeProxyVersion": GIT_VERSION, "osImage": "meshbook simulated node",
                "containerRuntimeVersion": "sim://1.0", "architecture": "amd64", "operatingSystem": "linux",
                "kernelVersion": "6.1.0", "machineID": "", "systemUUID": "", "bootID": ""}}});
    let _ = c.create(&node_def, "", node, &opts);
    let svc = json!({"metadata": {"name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
    let _ = c.create(&svc_def, "default", svc, &opts);
    seed_rbac_and_priorities(c, &opts);
}

/// The built-in ClusterRoles (`cluster-admin`, `admin`, `edit`, `view`), the `cluster-admin`
/// binding and the system PriorityClasses, as a new cluster has them.
fn seed_rbac_and_priorities(c: &Cluster, opts: &WriteOpts) {
    let reg = c.registry();
    let role = reg.by_kind("rbac.authorization.k8s.io/v1", "ClusterRole");
    let binding = reg.by_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding");
    let priority = reg.by_kind("scheduling.k8s.io/v1", "PriorityClass");
    drop(reg);
    let bootstrap = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let read = json!(["get", "list", "watch"]);
    let write = json!(["create", "delete", "deletecollection", "patch", "update"]);
    let workloads = json!([
        "pods",
        "services",
        "endpoints",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "persistentvolumeclaims",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "ingresses",
        "networkpolicies",
        "horizontalpodautoscalers",
        "poddisruptionbudgets"
    ]);
    let groups = json!([
        "",
        "apps",
        "batch",
        "networking.k8s.io",
        "autoscaling",
        "policy"
    ]);
    if let Some(def) = role {
        let roles = [
            (
                "cluster-admin",
                json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
            (
                "admin",
                json!([{"apiGroups": groups, "resources": workloads, "verbs": ["*"]},
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["*"]}]),
            ),
            (
                "edit",
                json!([{"apiGroups": groups, "resources": workloads, "verbs": read.as_array().unwrap().iter().chain(write.as_array().unwrap()).collect::<Vec<_>>()}]),
            ),
            (
                "view",
                json!([{"apiGroups": groups, "resources": workloads, "verbs": read}]),
            ),
        ];
        for (name, rules) in roles {
            let mut labels = bootstrap.clone();
            if name != "cluster-admin" {
                labels[format!(
                    "rbac.authorization.k8s.io/aggregate-to-{}",
                    match name {
                        "admin" => "edit",
                        "edit" => "view",
                        _ => "admin",
                    }
                )] = json!("true");
            }
            let _ = c.create(&def, "", json!({"metadata": {"name": name, "labels": labels,
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}, "rules": rules}), opts);
        }
    }
    if let Some(def) = binding {
        let _ = c.create(&def, "", json!({"metadata": {"name": "cluster-admin", "labels": bootstrap,
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]}), opts);
    }
    if let Some(def) = priority {
        for (name, value, what) in [
            ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
            ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ] {
            let _ = c.create(&def, "", json!({"metadata": {"name": name}, "value": value,
                "globalDefault": false, "description": what, "preemptionPolicy": "PreemptLowerPriority"}), opts);
        }
    }
}

/// Several simulated clusters; more can be added at runtime.
#[derive(Clone, Default)]
pub struct SimFleet {
    opts: SimOptions,
    clusters: Arc<Mutex<Vec<SimCluster>>>,
    rules: Arc<std::sync::OnceLock<Arc<Rules>>>,
}

impl SimFleet {
    pub fn new(opts: SimOptions) -> Self {
        SimFleet {
            opts,
            clusters: Arc::default(),
            rules: Arc::default(),
        }
    }

    /// Starts a cluster named `name` (or returns the existing one).
    pub fn add(&self, name: &str) -> SimCluster {
        let mut cs = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cs.iter().find(|c| c.name() == name) {
            return c.clone();
        }
        let rules = self.rules.get_or_init(|| Arc::new(load_rules())).clone();
        let c = SimCluster::start_with_rules(name, cs.len(), self.opts.clone(), rules);
        for other in cs.iter() {
            other.inner.add_peer(&c.inner);
            c.inner.add_peer(&other.inner);
        }
        cs.push(c.clone());
        c
    }

    pub fn get(&self, name: &str) -> Option<SimCluster> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|c| c.name() == name)
            .cloned()
    }

    /// The LoadBalancer Service that owns a simulated address: `(cluster, Service object)`.
    /// Simulated HTTP checks use it to know what an address like 198.51.100.33 stands for.
    pub fn service_for_address(&self, ip: &IpAddr) -> Option<(String, serde_json::Value)> {
        let want = ip.to_string();
        let clusters = self
            .clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for c in clusters {
            let (svcs, _) = c
                .inner
                .store
                .list(&resources::ResKey::new("", "services"), None);
            for s in svcs {
                let hit = s["status"]["loadBalancer"]["ingress"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|i| i["ip"] == want.as_str()));
                if hit {
                    return Some((c.name().to_string(), s));
                }
            }
        }
        None
    }

    pub fn names(&self) -> Vec<String> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }
}

//! A snapshot of the objects of the simulated clusters that decide where traffic goes: the
//! data plane is a pure function of it (and of the balancer's counters).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::sim::selector::LabelSelector;

/// The kinds the data plane reads: `(group, plural, Kind)`. Everything else is irrelevant to
/// where a request goes.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("", "namespaces", "Namespace"),
    ("", "services", "Service"),
    ("", "pods", "Pod"),
    ("networking.k8s.io", "ingresses", "Ingress"),
    ("gateway.networking.k8s.io", "gateways", "Gateway"),
    ("gateway.networking.k8s.io", "httproutes", "HTTPRoute"),
    ("networking.istio.io", "virtualservices", "VirtualService"),
    ("networking.istio.io", "destinationrules", "DestinationRule"),
    ("networking.istio.io", "serviceentries", "ServiceEntry"),
    (
        "security.istio.io",
        "authorizationpolicies",
        "AuthorizationPolicy",
    ),
    (
        "networking.gloo.solo.io",
        "virtualdestinations",
        "VirtualDestination",
    ),
    ("networking.gloo.solo.io", "routetables", "RouteTable"),
    ("apps", "daemonsets", "DaemonSet"),
];

/// The objects of one cluster, by kind.
#[derive(Debug, Default, Clone)]
pub struct ClusterView {
    pub name: String,
    objects: BTreeMap<String, Vec<Value>>,
}

fn key(group: &str, kind: &str) -> String {
    format!("{group}/{kind}")
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

impl ClusterView {
    /// A view of `objects` (each with `apiVersion` and `kind`); other kinds are dropped.
    pub fn new(cluster: &str, objects: impl IntoIterator<Item = Value>) -> ClusterView {
        let mut view = ClusterView {
            name: cluster.to_string(),
            objects: BTreeMap::new(),
        };
        for o in objects {
            let group = group_of(o["apiVersion"].as_str().unwrap_or_default()).to_string();
            let kind = o["kind"].as_str().unwrap_or_default().to_string();
            if KINDS.iter().any(|(g, _, k)| *g == group && *k == kind) {
                view.objects.entry(key(&group, &kind)).or_default().push(o);
            }
        }
        for list in view.objects.values_mut() {
            list.sort_by(|a, b| {
                let ka = (created(a), namespace(a), name(a));
                let kb = (created(b), namespace(b), name(b));
                ka.cmp(&kb)
            });
        }
        view
    }

    /// Every object of a kind, oldest first (ties by namespace/name), as route precedence wants.
    pub fn all(&self, group: &str, kind: &str) -> &[Value] {
        self.objects
            .get(&key(group, kind))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn get(&self, group: &str, kind: &str, ns: &str, name_: &str) -> Option<&Value> {
        self.all(group, kind)
            .iter()
            .find(|o| namespace(o) == ns && name(o) == name_)
    }

    pub fn service(&self, ns: &str, name_: &str) -> Option<&Value> {
        self.get("", "Service", ns, name_)
    }

    pub fn namespace_labels(&self, ns: &str) -> Option<&Value> {
        self.all("", "Namespace")
            .iter()
            .find(|o| name(o) == ns)
            .map(|o| &o["metadata"]["labels"])
    }

    pub fn pod(&self, ns: &str, name_: &str) -> Option<&Value> {
        self.get("", "Pod", ns, name_)
    }

    /// Pods in `ns` whose labels match a Service-style selector map, ready ones only when
    /// `ready_only`, oldest first.
    pub fn pods_selected(&self, ns: &str, selector: &Value, ready_only: bool) -> Vec<&Value> {
        let Some(sel) = selector.as_object().filter(|s| !s.is_empty()) else {
            return Vec::new();
        };
        self.all("", "Pod")
            .iter()
            .filter(|p| namespace(p) == ns)
            .filter(|p| selector_matches_labels(sel, &p["metadata"]["labels"]))
            .filter(|p| !ready_only || pod_ready(p))
            .collect()
    }

    /// Pods matching a label selector map in any namespace (or `ns` when given).
    pub fn pods_matching(&self, ns: Option<&str>, selector: &Value) -> Vec<&Value> {
        self.all("", "Pod")
            .iter()
            .filter(|p| ns.is_none_or(|n| namespace(p) == n))
            .filter(|p| matches_selector(selector, &p["metadata"]["labels"]))
            .collect()
    }

    /// The Service holding load-balancer address `ip`, with the port list.
    pub fn service_with_lb_address(&self, ip: &str) -> Option<&Value> {
        self.all("", "Service")
            .iter()
            .find(|s| has_lb_address(&s["status"]["loadBalancer"]["ingress"], ip))
    }

    /// The Ingress holding load-balancer address `ip` (or hostname).
    pub fn ingress_with_lb_address(&self, ip: &str) -> Option<&Value> {
        self.all("networking.k8s.io", "Ingress")
            .iter()
            .find(|s| has_lb_address(&s["status"]["loadBalancer"]["ingress"], ip))
    }

    /// Whether Istio's ambient data plane (ztunnel) runs in this cluster.
    pub fn has_ambient(&self) -> bool {
        self.all("apps", "DaemonSet")
            .iter()
            .any(|d| name(d) == "ztunnel" && d["status"]["numberReady"].as_i64().unwrap_or(0) > 0)
            || self
                .all("", "Pod")
                .iter()
                .any(|p| p["metadata"]["labels"]["app"] == "ztunnel" && pod_ready(p))
    }
}

/// A Service-style selector (a map of labels, all required).
pub fn selector_matches_labels(sel: &serde_json::Map<String, Value>, labels: &Value) -> bool {
    crate::base::selector::map_selects(sel, labels)
}

/// A `LabelSelector` object (`matchLabels`, `matchExpressions`); an empty one matches all.
pub fn matches_selector(sel: &Value, labels: &Value) -> bool {
    LabelSelector::from_object(sel).matches_labels(labels)
}

fn has_lb_address(ingress: &Value, ip: &str) -> bool {
    ingress
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["ip"] == ip || i["hostname"] == ip))
}

/// A Pod is an endpoint when it is Ready and not terminating.
pub fn pod_ready(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_null()
        && p["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

pub fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn created(o: &Value) -> &str {
    o["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default()
}

pub fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["labels"][key].as_str()
}

/// The simulated clusters a request can travel through.
#[derive(Debug, Default, Clone)]
pub struct World {
    pub clusters: Vec<ClusterView>,
}

impl World {
    pub fn new(clusters: Vec<ClusterView>) -> World {
        World { clusters }
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterView> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The cluster and Service or Ingress that own a load-balancer address.
    pub fn lb_owner(&self, ip: &str) -> Option<(&ClusterView, LbOwner<'_>)> {
        self.clusters.iter().find_map(|c| {
            c.service_with_lb_address(ip)
                .map(|s| (c, LbOwner::Service(s)))
                .or_else(|| {
                    c.ingress_with_lb_address(ip)
                        .map(|i| (c, LbOwner::Ingress(i)))
                })
        })
    }

    /// Clusters that `from` can send mesh traffic to: itself, and every cluster whose
    /// east-west gateway address one of `from`'s `istio-remote` Gateways points at
    /// (Istio's multicluster peering: a remote Gateway per peer, programmed with the peer's
    /// east-west address; https://istio.io/latest/docs/ambient/install/multicluster/).
    pub fn reachable_from(&self, from: &str) -> Vec<&ClusterView> {
        let mut out: Vec<&ClusterView> = self.cluster(from).into_iter().collect();
        let Some(src) = self.cluster(from) else {
            return out;
        };
        for gw in src.all("gateway.networking.k8s.io", "Gateway") {
            if gw["spec"]["gatewayClassName"] != "istio-remote" {
                continue;
            }
            for a in gw["spec"]["addresses"].as_array().into_iter().flatten() {
                let value = a["value"].as_str().unwrap_or_default();
                if let Some((peer, _)) = self.lb_owner(value) {
                    if !out.iter().any(|c| c.name == peer.name) {
                        out.push(peer);
                    }
                }
            }
        }
        out
    }

    /// Whether `ip` is an address some simulated cluster owns.
    pub fn owns_address(&self, ip: &IpAddr) -> bool {
        self.lb_owner(&ip.to_string()).is_some()
    }
}

/// What a load-balancer address stands for.
#[derive(Debug, Clone, Copy)]
pub enum LbOwner<'a> {
    Service(&'a Value),
    Ingress(&'a Value),
}

impl World {
    /// The snapshot of in-process simulated clusters, read straight from their stores.
    pub(crate) fn of_clusters(clusters: &[std::sync::Arc<crate::sim::Cluster>]) -> World {
        World::new(
            clusters
                .iter()
                .map(|c| {
                    let mut objects = Vec::new();
                    for (group, plural, _) in KINDS {
                        let key = crate::sim::resources::ResKey::new(group, plural);
                        objects.extend(c.store.list(&key, None).0);
                    }
                    ClusterView::new(&c.name, objects)
                })
                .collect(),
        )
    }
}

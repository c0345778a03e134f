//! The journey of one request through the simulated clusters.
//!
//! Entry points: a load-balancer address (a Service of type LoadBalancer, an Istio or Gloo
//! gateway's Service, an Ingress), a pod (exec), a pod's port (port-forward). Then, hop by
//! hop: Gateway listeners and HTTPRoutes, cluster DNS and the mesh's own names
//! (`*.mesh.internal` global services, Gloo VirtualDestinations, ServiceEntries), waypoints
//! with their policies and routes, VirtualServices and subsets, endpoints and the application
//! that answers. Each hop appends a line to the trace.

use std::time::Duration;

use serde_json::{json, Value};

use super::gateway_api::{best_match, host_pattern_matches, hostname_matches, sort_routes};
use super::istio::{self, authorize, Decision, Enforcer, Peer};
use super::workloads::{self, parse_duration, Workload};
use super::world::{label, name, namespace, pod_ready, ClusterView, LbOwner, World};
use super::{
    pick_weighted, Answer, Balancer, FailureKind, Models, Origin, Outcome, Reply, Request,
};

/// How deep calls may nest (a loop of services calling each other ends here).
const MAX_DEPTH: usize = 12;
/// Virtual time of one proxy hop (gateway, waypoint).
const PROXY_HOP: Duration = Duration::from_millis(1);
/// Virtual time of crossing to another cluster through its east-west gateway.
const CROSS_CLUSTER: Duration = Duration::from_millis(4);
/// Solo's and Istio's label marking a Service as global
/// (https://docs.solo.io/gloo-mesh/latest/istio/ambient/multicluster/ -- `solo.io/service-scope`).
const SCOPE_LABEL: &str = "solo.io/service-scope";
/// The suffix of global hostnames (`<svc>.<ns>.mesh.internal`).
const GLOBAL_SUFFIX: &str = ".mesh.internal";
/// Traffic distribution of a global service: label or annotation
/// (https://istio.io/latest/docs/reference/config/annotations/#NetworkingTrafficDistribution).
const DISTRIBUTION: &str = "networking.istio.io/traffic-distribution";

/// Answers one request.
pub fn answer(
    world: &World,
    models: &Models,
    balancer: &Balancer,
    origin: &Origin,
    req: &Request,
) -> Answer {
    let mut e = Engine {
        world,
        models,
        balancer,
        trace: Vec::new(),
        depth: 0,
    };
    let got = match origin {
        Origin::Outside => e.enter_from_outside(req),
        Origin::Pod {
            cluster,
            namespace,
            pod,
        } => e.enter_from_pod(cluster, namespace, pod, req),
        Origin::PodPort {
            cluster,
            namespace,
            pod,
            port,
        } => e.enter_from_port_forward(cluster, namespace, pod, *port, req),
    };
    let outcome = match got.res {
        Ok(reply) => Outcome::Reply(reply),
        Err(Fail::Net(kind, message)) => Outcome::Failed { kind, message },
        Err(Fail::Unmodelled(why)) => Outcome::Unmodelled(why),
    };
    Answer {
        outcome,
        elapsed: got.elapsed,
        trace: e.trace,
    }
}

#[derive(Debug, Clone)]
enum Fail {
    Net(FailureKind, String),
    Unmodelled(String),
}

#[derive(Debug, Clone)]
struct Got {
    res: Result<Reply, Fail>,
    elapsed: Duration,
}

impl Got {
    fn reply(status: u16, body: &str) -> Got {
        Got {
            res: Ok(Reply {
                status,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: body.to_string(),
            }),
            elapsed: Duration::ZERO,
        }
    }

    fn fail(kind: FailureKind, message: impl Into<String>) -> Got {
        Got {
            res: Err(Fail::Net(kind, message.into())),
            elapsed: Duration::ZERO,
        }
    }

    fn unmodelled(why: impl Into<String>) -> Got {
        Got {
            res: Err(Fail::Unmodelled(why.into())),
            elapsed: Duration::ZERO,
        }
    }

    fn plus(mut self, d: Duration) -> Got {
        self.elapsed += d;
        self
    }
}

/// Who sends a request, as the mesh sees it.
#[derive(Debug, Clone)]
struct Source {
    cluster: String,
    namespace: String,
    peer: Peer,
    /// Captured by the ambient mesh (ztunnel) or a sidecar: mesh names resolve, waypoints apply.
    in_mesh: bool,
    /// A sidecar proxy: the client applies L7 routing itself.
    sidecar: bool,
    /// An ingress proxy (gateway): waypoints apply only when the Service asks for it.
    ingress: bool,
    /// Already past the destination's waypoint (its routes send on directly).
    via_waypoint: bool,
    /// For the trace.
    what: String,
}

/// A destination named by a route or a URL.
#[derive(Debug, Clone)]
enum Dest {
    /// A Service of a cluster.
    Service {
        cluster: String,
        ns: String,
        name: String,
    },
    /// A hostname, resolved from the source's point of view.
    Host(String),
}

/// What an L7 decision (route, VirtualService) says about the hop after it.
#[derive(Debug, Clone, Default)]
struct Policy {
    timeout: Option<Duration>,
    delay: Option<Duration>,
    abort: Option<u16>,
    subset_labels: Option<Value>,
    headers_set: Vec<(String, String)>,
}

struct Engine<'w> {
    world: &'w World,
    models: &'w Models,
    balancer: &'w Balancer,
    trace: Vec<String>,
    depth: usize,
}

fn svc_fqdn(ns: &str, name: &str) -> String {
    format!("{name}.{ns}.svc.cluster.local")
}

fn mesh_principal(ns: &str, sa: &str) -> String {
    format!("cluster.local/ns/{ns}/sa/{sa}")
}

fn pod_sa(pod: &Value) -> &str {
    pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or("default")
}

fn ms(d: Duration) -> String {
    let m = d.as_millis();
    if m >= 1000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{m}ms")
    }
}

impl<'w> Engine<'w> {
    fn note(&mut self, line: impl Into<String>) {
        let indent = "  ".repeat(self.depth.min(8));
        self.trace.push(format!("{indent}{}", line.into()));
    }

    // ----- entry points --------------------------------------------------------------------

    fn enter_from_outside(&mut self, req: &Request) -> Got {
        let target = req.target().to_string();
        let Some((cv, owner)) = self.world.lb_owner(&target) else {
            self.note(format!(
                "{target}:{} is no load-balancer address of a simulated cluster",
                req.port
            ));
            return Got::fail(
                FailureKind::Connect,
                format!("Failed to connect to {target} port {}: no simulated load balancer has this address", req.port),
            );
        };
        match owner {
            LbOwner::Service(svc) => {
                self.note(format!(
                    "{target}:{} is the load balancer of Service {}/{} in {}",
                    req.port,
                    namespace(svc),
                    name(svc),
                    cv.name
                ));
                self.enter_service(cv, svc, req.port, req)
            }
            LbOwner::Ingress(ing) => self.ingress(cv, ing, req),
        }
    }

    /// A request arriving at a Service from outside the mesh (load balancer, Ingress backend).
    fn enter_service(
        &mut self,
        cv: &'w ClusterView,
        svc: &'w Value,
        port: u16,
        req: &Request,
    ) -> Got {
        let Some(sport) = service_port(svc, port) else {
            self.note(format!(
                "Service {}/{} has no port {port}",
                namespace(svc),
                name(svc)
            ));
            return Got::fail(
                FailureKind::Connect,
                format!(
                    "Failed to connect to {} port {port}: Connection refused",
                    req.target()
                ),
            );
        };
        if let Some(gw_name) = label(svc, "gateway.networking.k8s.io/gateway-name") {
            if let Some(gw) = cv.get(
                "gateway.networking.k8s.io",
                "Gateway",
                namespace(svc),
                gw_name,
            ) {
                return self.gateway(cv, gw, svc, port, req);
            }
        }
        let source = Source {
            cluster: cv.name.clone(),
            namespace: String::new(),
            peer: Peer::default(),
            in_mesh: false,
            sidecar: false,
            ingress: false,
            via_waypoint: false,
            what: "a client outside the cluster".into(),
        };
        let _ = sport;
        self.endpoints_of_service(&source, cv, svc, port, req, &Policy::default(), false)
    }

    fn ingress(&mut self, cv: &'w ClusterView, ing: &'w Value, req: &Request) -> Got {
        let who = format!("Ingress {}/{} in {}", namespace(ing), name(ing), cv.name);
        let ann = &ing["metadata"]["annotations"];
        let listen = ann["alb.ingress.kubernetes.io/listen-ports"]
            .as_str()
            .unwrap_or("");
        let https_only = listen.contains("HTTPS") && !listen.contains("\"HTTP\"");
        let terminates_tls = !ing["spec"]["tls"].is_null()
            || ann["alb.ingress.kubernetes.io/certificate-arn"].is_string();
        self.note(format!(
            "{}:{} is the load balancer of {who}",
            req.target(),
            req.port
        ));
        if req.scheme == "https" && !terminates_tls {
            return Got::fail(
                FailureKind::Tls,
                format!("{who} has no TLS certificate: the handshake fails"),
            );
        }
        if req.scheme == "http" && https_only {
            return Got::fail(
                FailureKind::Connect,
                format!(
                    "Failed to connect to {} port {}: {who} listens on HTTPS only",
                    req.target(),
                    req.port
                ),
            );
        }
        if req.scheme == "https" {
            self.note(format!("TLS terminated by {who}"));
        }
        let host = req.authority_host();
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            if let Some(h) = rule["host"].as_str() {
                if !host_pattern_matches(h, &host) {
                    continue;
                }
            }
            for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                let path = p["path"].as_str().unwrap_or("/");
                let ok = match p["pathType"].as_str().unwrap_or("Prefix") {
                    "Exact" => req.path_only() == path,
                    _ => req.path_only().starts_with(path.trim_end_matches('/')) || path == "/",
                };
                if !ok {
                    continue;
                }
                let backend = &p["backend"]["service"];
                let sname = backend["name"].as_str().unwrap_or_default();
                let Some(svc) = cv.service(namespace(ing), sname) else {
                    self.note(format!("{who}: backend Service {sname} does not exist"));
                    return Got::reply(503, "Service Unavailable");
                };
                let port = backend["port"]["number"]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .or_else(|| {
                        let pname = backend["port"]["name"].as_str()?;
                        svc["spec"]["ports"]
                            .as_array()?
                            .iter()
                            .find(|sp| sp["name"] == pname)?["port"]
                            .as_u64()
                            .and_then(|n| u16::try_from(n).ok())
                    })
                    .unwrap_or(80);
                self.note(format!(
                    "{who}: path {path} -> Service {}/{sname}:{port}",
                    namespace(ing)
                ));
                let mut inner = req.clone();
                inner.scheme = "http".into();
                inner.port = port;
                return self.enter_service(cv, svc, port, &inner).plus(PROXY_HOP);
            }
        }
        self.note(format!(
            "{who}: no rule matches host {host} path {}",
            req.path_only()
        ));
        Got::reply(404, "Not Found")
    }

    /// A pod of a simulated cluster, or why there is none.
    fn locate_pod(
        &self,
        cluster: &str,
        ns: &str,
        pod_name: &str,
    ) -> Result<(&'w ClusterView, &'w Value), Unreachable> {
        let cv = self
            .world
            .cluster(cluster)
            .ok_or_else(|| Unreachable::NoCluster(cluster.to_string()))?;
        let pod = cv.pod(ns, pod_name).ok_or_else(|| Unreachable::NoPod {
            pod: format!("{ns}/{pod_name}"),
            cluster: cluster.to_string(),
        })?;
        Ok((cv, pod))
    }

    fn enter_from_pod(&mut self, cluster: &str, ns: &str, pod_name: &str, req: &Request) -> Got {
        let (cv, pod) = match self.locate_pod(cluster, ns, pod_name) {
            Ok(found) => found,
            Err(why) => return Got::fail(FailureKind::Connect, why.to_string()),
        };
        let source = self.pod_source(cv, pod);
        self.note(format!("request from {}", source.what));
        let target = req.target().to_string();
        if target.parse::<std::net::IpAddr>().is_ok() {
            if self.world.lb_owner(&target).is_some() {
                return self.enter_from_outside(req);
            }
            if let Some((ocv, opod)) = self.pod_by_ip(&target) {
                return self.serve_pod(ocv, opod, req.port, req, &source.peer, !source.in_mesh);
            }
            if let Some(svc) = cv
                .all("", "Service")
                .iter()
                .find(|s| s["spec"]["clusterIP"] == target.as_str())
            {
                let dest = Dest::Service {
                    cluster: cv.name.clone(),
                    ns: namespace(svc).into(),
                    name: name(svc).into(),
                };
                return self.deliver(&source, dest, req.port, req);
            }
            return Got::fail(
                FailureKind::Connect,
                format!(
                    "Failed to connect to {target} port {}: no route to host",
                    req.port
                ),
            );
        }
        self.deliver(&source, Dest::Host(target), req.port, req)
    }

    fn enter_from_port_forward(
        &mut self,
        cluster: &str,
        ns: &str,
        pod_name: &str,
        port: u16,
        req: &Request,
    ) -> Got {
        let (cv, pod) = match self.locate_pod(cluster, ns, pod_name) {
            Ok(found) => found,
            // The port-forward's pod went away under it: its connections are reset.
            Err(why) => return Got::fail(FailureKind::Reset, why.to_string()),
        };
        self.note(format!(
            "port-forward to pod {ns}/{pod_name} port {port} in {cluster}"
        ));
        let mut inner = req.clone();
        inner.port = port;
        self.serve_pod(cv, pod, port, &inner, &Peer::default(), true)
    }

    fn pod_by_ip(&self, ip: &str) -> Option<(&'w ClusterView, &'w Value)> {
        self.world.clusters.iter().find_map(|c| {
            c.all("", "Pod")
                .iter()
                .find(|p| p["status"]["podIP"] == ip)
                .map(|p| (c, p))
        })
    }

    fn pod_source(&self, cv: &ClusterView, pod: &Value) -> Source {
        let ns = namespace(pod).to_string();
        let sidecar = has_sidecar(pod);
        let in_mesh = sidecar || in_ambient(cv, pod);
        Source {
            cluster: cv.name.clone(),
            peer: if in_mesh {
                Peer {
                    principal: Some(mesh_principal(&ns, pod_sa(pod))),
                    namespace: Some(ns.clone()),
                }
            } else {
                Peer::default()
            },
            namespace: ns.clone(),
            in_mesh,
            sidecar,
            ingress: false,
            via_waypoint: false,
            what: format!(
                "pod {ns}/{} in {}{}",
                name(pod),
                cv.name,
                if sidecar {
                    " (sidecar)"
                } else if in_mesh {
                    " (ambient)"
                } else {
                    " (not in the mesh)"
                }
            ),
        }
    }

    // ----- gateways --------------------------------------------------------------------------

    fn gateway(
        &mut self,
        cv: &'w ClusterView,
        gw: &'w Value,
        svc: &'w Value,
        port: u16,
        req: &Request,
    ) -> Got {
        let gname = format!("{}/{}", namespace(gw), name(gw));
        let class = gw["spec"]["gatewayClassName"].as_str().unwrap_or_default();
        let pods = cv.pods_selected(namespace(svc), &svc["spec"]["selector"], true);
        if pods.is_empty() {
            self.note(format!(
                "Gateway {gname} ({class}) has no ready pod behind Service {}",
                name(svc)
            ));
            return Got::fail(
                FailureKind::Connect,
                format!(
                    "Failed to connect to {} port {port}: the gateway's pods are not ready",
                    req.target()
                ),
            );
        }
        let listeners: Vec<&Value> = gw["spec"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["port"].as_u64() == Some(u64::from(port)))
            .collect();
        if listeners.is_empty() {
            self.note(format!("Gateway {gname} has no listener on port {port}"));
            return Got::fail(
                FailureKind::Connect,
                format!(
                    "Failed to connect to {} port {port}: Connection refused",
                    req.target()
                ),
            );
        }
        let host = req.authority_host();
        let listener = listeners.iter().find(|l| match l["hostname"].as_str() {
            Some(h) => host_pattern_matches(h, &host),
            None => true,
        });
        let Some(listener) = listener.copied() else {
            self.note(format!(
                "Gateway {gname}: no listener on port {port} accepts host {host}"
            ));
            return Got::reply(404, "").plus(PROXY_HOP);
        };
        let protocol = listener["protocol"].as_str().unwrap_or("HTTP");
        let tls = matches!(protocol, "HTTPS" | "TLS");
        if req.scheme == "https" && !tls {
            self.note(format!(
                "Gateway {gname} listener {} speaks {protocol}, the client spoke TLS",
                listener["name"].as_str().unwrap_or("")
            ));
            return Got::fail(
                FailureKind::Tls,
                format!(
                    "TLS handshake with {}:{port} failed: the listener speaks plain HTTP",
                    req.target()
                ),
            );
        }
        if req.scheme == "http" && tls {
            return Got::fail(
                FailureKind::Reset,
                format!(
                    "Connection reset by peer: {}:{port} expects TLS",
                    req.target()
                ),
            );
        }
        let lname = listener["name"].as_str().unwrap_or("");
        self.note(format!(
            "Gateway {gname} (class {class}) listener {lname} ({protocol} {port})"
        ));
        let mut routes: Vec<&Value> = cv
            .all("gateway.networking.k8s.io", "HTTPRoute")
            .iter()
            .filter(|r| attached_to_gateway(r, gw, lname, port))
            .filter(|r| route_allowed(cv, gw, listener, r))
            .filter(|r| hostname_matches(&r["spec"]["hostnames"], &host))
            .collect();
        sort_routes(&mut routes);
        let Some(m) = best_match(&routes, req) else {
            self.note(format!(
                "no HTTPRoute rule matches {} {} (routes attached: {})",
                req.method,
                req.path_only(),
                if routes.is_empty() {
                    "none".to_string()
                } else {
                    routes
                        .iter()
                        .map(|r| format!("{}/{}", namespace(r), name(r)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
            return Got::reply(404, "").plus(PROXY_HOP);
        };
        let gw_pod = pods[0];
        let source = Source {
            cluster: cv.name.clone(),
            namespace: namespace(gw).to_string(),
            peer: Peer {
                principal: Some(mesh_principal(namespace(gw), pod_sa(gw_pod))),
                namespace: Some(namespace(gw).to_string()),
            },
            in_mesh: mesh_installed(cv),
            sidecar: false,
            ingress: true,
            via_waypoint: false,
            what: format!("gateway {gname}"),
        };
        // Policies attached to the gateway itself.
        if let Decision::Deny(why) = authorize(
            cv,
            &Enforcer::Proxy {
                gateway: gw,
                service: None,
            },
            &Peer::default(),
            req,
        ) {
            self.note(format!("denied at gateway {gname}: {why}"));
            return Got::reply(403, "RBAC: access denied").plus(PROXY_HOP);
        }
        self.route_rule(&source, cv, &m, req).plus(PROXY_HOP)
    }

    /// Applies an HTTPRoute rule: filters, timeout, weighted backends.
    fn route_rule(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        m: &super::gateway_api::RouteMatch<'w>,
        req: &Request,
    ) -> Got {
        let route = m.route;
        let rule = m.rule;
        let rname = format!("HTTPRoute {}/{}", namespace(route), name(route));
        let mut req = req.clone();
        for f in rule["filters"].as_array().into_iter().flatten() {
            match f["type"].as_str().unwrap_or_default() {
                "RequestHeaderModifier" => {
                    apply_header_modifier(&mut req, &f["requestHeaderModifier"])
                }
                "RequestRedirect" => {
                    let r = &f["requestRedirect"];
                    let status = r["statusCode"]
                        .as_u64()
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(302);
                    let scheme = r["scheme"].as_str().unwrap_or(&req.scheme).to_string();
                    let host = r["hostname"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| req.authority_host());
                    let location = format!("{scheme}://{host}{}", req.path);
                    self.note(format!(
                        "{rname} rule {}: redirect {status} to {location}",
                        m.rule_index + 1
                    ));
                    let mut g = Got::reply(status, "");
                    if let Ok(reply) = g.res.as_mut() {
                        reply.headers.push(("location".into(), location));
                    }
                    return g;
                }
                other => self.note(format!("{rname}: filter {other} is not modelled (ignored)")),
            }
        }
        let timeout = rule["timeouts"]["request"]
            .as_str()
            .and_then(parse_duration)
            .filter(|d| !d.is_zero());
        let backends: Vec<&Value> = rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        if backends.is_empty() {
            self.note(format!(
                "{rname} rule {} ({}) has no backendRefs",
                m.rule_index + 1,
                m.matched
            ));
            return Got::reply(500, "");
        }
        let weights: Vec<u64> = backends
            .iter()
            .map(|b| b["weight"].as_u64().unwrap_or(1))
            .collect();
        let key = format!(
            "route/{}/{}/{}/{}",
            cv.name,
            namespace(route),
            name(route),
            m.rule_index
        );
        let Some(i) = pick_weighted(self.balancer.next(&key), &weights) else {
            self.note(format!("{rname}: every backend has weight 0"));
            return Got::reply(500, "");
        };
        let b = backends[i];
        let bname = b["name"].as_str().unwrap_or_default();
        let bns = b["namespace"].as_str().unwrap_or(namespace(route));
        let port = b["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(req.port);
        let kind = b["kind"].as_str().unwrap_or("Service");
        let dest = if kind == "Hostname"
            || bname.ends_with(GLOBAL_SUFFIX)
            || (kind == "Service" && bname.contains('.') && cv.service(bns, bname).is_none())
        {
            Dest::Host(bname.to_string())
        } else if kind == "Service" {
            if cv.service(bns, bname).is_none() {
                self.note(format!(
                    "{rname}: backend Service {bns}/{bname} does not exist (ResolvedRefs false)"
                ));
                return Got::reply(500, "");
            }
            Dest::Service {
                cluster: cv.name.clone(),
                ns: bns.to_string(),
                name: bname.to_string(),
            }
        } else {
            self.note(format!("{rname}: backend kind {kind} is not modelled"));
            return Got::unmodelled(format!("backend kind {kind} of {rname} has no model"));
        };
        let weight_note = if backends.len() > 1 {
            format!(
                " (weight {} of {})",
                weights[i],
                weights.iter().sum::<u64>()
            )
        } else {
            String::new()
        };
        self.note(format!(
            "{rname} rule {} ({}) -> {}:{port}{weight_note}{}",
            m.rule_index + 1,
            m.matched,
            match &dest {
                Dest::Service { ns, name, .. } => format!("Service {ns}/{name}"),
                Dest::Host(h) => h.clone(),
            },
            timeout
                .map(|t| format!(", timeout {}", ms(t)))
                .unwrap_or_default()
        ));
        let got = proxied(self.deliver(source, dest, port, &req));
        with_timeout(got, timeout, &mut self.trace, &rname)
    }

    // ----- mesh delivery ---------------------------------------------------------------------

    /// Sends a request from `source` to `dest` (a Service or a name) on `port`.
    fn deliver(&mut self, source: &Source, dest: Dest, port: u16, req: &Request) -> Got {
        if self.depth >= MAX_DEPTH {
            return Got::fail(FailureKind::Timeout, "the request loops between services");
        }
        let Some(cv) = self.world.cluster(&source.cluster) else {
            return Got::fail(FailureKind::Connect, "unknown source cluster");
        };
        match dest {
            Dest::Service {
                cluster,
                ns,
                name: n,
            } => {
                let cv = self.world.cluster(&cluster).unwrap_or(cv);
                match cv.service(&ns, &n) {
                    Some(svc) => self.deliver_to_service(source, cv, svc, port, req),
                    None => Got::fail(
                        FailureKind::Resolve,
                        format!("Could not resolve host: {n}.{ns}"),
                    ),
                }
            }
            Dest::Host(host) => self.deliver_to_host(source, cv, &host, port, req),
        }
    }

    fn deliver_to_host(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        host: &str,
        port: u16,
        req: &Request,
    ) -> Got {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        // Cluster DNS: name, name.ns, name.ns.svc, name.ns.svc.cluster.local.
        if let Some((ns, n)) = cluster_dns(cv, &source.namespace, &host) {
            if let Some(svc) = cv.service(&ns, &n) {
                return self.deliver_to_service(source, cv, svc, port, req);
            }
        }
        if let Some(rest) = host.strip_suffix(GLOBAL_SUFFIX) {
            if let Some((n, ns)) = rest.split_once('.') {
                if !source.in_mesh {
                    self.note(format!("{host}: global names are answered by the mesh's DNS proxy, and {} is not in the mesh", source.what));
                    return Got::fail(
                        FailureKind::Resolve,
                        format!("Could not resolve host: {host}"),
                    );
                }
                return self.global(source, ns, n, &host, port, req);
            }
        }
        if let Some((vcv, vd)) = self.virtual_destination_for(&host) {
            return self.virtual_destination(source, vcv, vd, port, req);
        }
        if let Some(se) = service_entry_for(cv, &source.namespace, &host) {
            return self.external(source, cv, Some(se), &host, port, req);
        }
        if self.models.for_host(&host).is_some() {
            return self.external(source, cv, None, &host, port, req);
        }
        self.note(format!("{host} does not resolve from {}", source.what));
        Got::fail(
            FailureKind::Resolve,
            format!("Could not resolve host: {host}"),
        )
    }

    /// A Service of a cluster: Gloo RouteTables, then the waypoint (policies, routes), then
    /// endpoints.
    fn deliver_to_service(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        svc: &'w Value,
        port: u16,
        req: &Request,
    ) -> Got {
        let fqdn = svc_fqdn(namespace(svc), name(svc));
        if source.in_mesh {
            if let Some((vcv, vd, rt)) = self.route_table_for(&fqdn) {
                self.note(format!(
                    "RouteTable {}/{} forwards {fqdn} to VirtualDestination {}/{}",
                    namespace(rt),
                    name(rt),
                    namespace(vd),
                    name(vd)
                ));
                return self.virtual_destination(source, vcv, vd, port, req);
            }
            let scope = label(svc, SCOPE_LABEL).unwrap_or_default();
            if scope == "global-only" {
                self.note(format!("Service {}/{} is global-only: its name reaches every linked cluster's endpoints", namespace(svc), name(svc)));
                return self.global(source, namespace(svc), name(svc), &fqdn, port, req);
            }
        }
        self.service_l7(source, cv, svc, port, req)
    }

    /// The waypoint a Service's traffic goes through, if any
    /// (https://istio.io/latest/docs/ambient/usage/waypoint/#useawaypoint): the Service's
    /// `istio.io/use-waypoint` label, else its namespace's; `none` opts out.
    fn waypoint_of(
        &self,
        cv: &'w ClusterView,
        obj: &Value,
    ) -> Result<Option<&'w Value>, Unreachable> {
        let ns = namespace(obj);
        let ns_labels = cv.namespace_labels(ns).cloned().unwrap_or(Value::Null);
        let (wp, wp_ns) = match label(obj, "istio.io/use-waypoint") {
            Some(w) => (
                w.to_string(),
                label(obj, "istio.io/use-waypoint-namespace")
                    .unwrap_or(ns)
                    .to_string(),
            ),
            None => match ns_labels["istio.io/use-waypoint"].as_str() {
                Some(w) => (
                    w.to_string(),
                    ns_labels["istio.io/use-waypoint-namespace"]
                        .as_str()
                        .unwrap_or(ns)
                        .to_string(),
                ),
                None => return Ok(None),
            },
        };
        if wp == "none" {
            return Ok(None);
        }
        let Some(gw) = cv.get("gateway.networking.k8s.io", "Gateway", &wp_ns, &wp) else {
            return Err(Unreachable::NoWaypoint {
                waypoint: format!("{wp_ns}/{wp}"),
                cluster: cv.name.clone(),
            });
        };
        let ready = cv
            .pods_matching(
                Some(&wp_ns),
                &json!({"matchLabels": {"gateway.networking.k8s.io/gateway-name": wp}}),
            )
            .into_iter()
            .any(pod_ready);
        if !ready {
            return Err(Unreachable::WaypointNotReady {
                waypoint: format!("{wp_ns}/{wp}"),
                cluster: cv.name.clone(),
            });
        }
        Ok(Some(gw))
    }

    fn service_l7(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        svc: &'w Value,
        port: u16,
        req: &Request,
    ) -> Got {
        let sname = format!("{}/{}", namespace(svc), name(svc));
        let fqdn = svc_fqdn(namespace(svc), name(svc));
        let captured = source.in_mesh
            && !source.via_waypoint
            && (!source.ingress || label(svc, "istio.io/ingress-use-waypoint") == Some("true"));
        let waypoint = if captured && mesh_installed(cv) {
            match self.waypoint_of(cv, svc) {
                Ok(w) => w,
                Err(why) => {
                    self.note(why.to_string());
                    return Got::fail(
                        FailureKind::Reset,
                        format!("Connection reset by peer ({why})"),
                    );
                }
            }
        } else {
            None
        };
        let mut policy = Policy::default();
        let mut target_svc = svc;
        let mut l7_peer = source.peer.clone();
        let mut hop = Duration::ZERO;
        if let Some(wp) = waypoint {
            let wname = format!("{}/{}", namespace(wp), name(wp));
            self.note(format!(
                "Service {sname} in {} uses waypoint {wname}",
                cv.name
            ));
            hop += PROXY_HOP;
            let target = ("Service", namespace(svc), name(svc));
            if let Some(denied) = self.waypoint_policies(cv, wp, target, &source.peer, req) {
                return denied.plus(hop);
            }
            // The destination's ztunnel sees the waypoint's identity.
            let wp_sa = name(wp).to_string();
            l7_peer = Peer {
                principal: Some(mesh_principal(namespace(wp), &wp_sa)),
                namespace: Some(namespace(wp).to_string()),
            };
        }
        if waypoint.is_some() || source.sidecar {
            // GAMMA: HTTPRoutes whose parent is this Service
            // (https://gateway-api.sigs.k8s.io/mesh/#gateway-api-for-service-mesh).
            let mut routes: Vec<&Value> = cv
                .all("gateway.networking.k8s.io", "HTTPRoute")
                .iter()
                .filter(|r| attached_to_service(r, svc, port))
                .collect();
            sort_routes(&mut routes);
            if !routes.is_empty() {
                let Some(m) = best_match(&routes, req) else {
                    self.note(format!(
                        "no HTTPRoute rule for Service {sname} matches {}",
                        req.path_only()
                    ));
                    return Got::reply(404, "").plus(hop);
                };
                let inner = Source {
                    ingress: false,
                    sidecar: false,
                    via_waypoint: true,
                    peer: l7_peer.clone(),
                    ..source.clone()
                };
                // Backends of a mesh route are reached directly from the waypoint.
                return self.route_rule(&inner, cv, &m, req).plus(hop);
            }
            if let Some(vs) = istio::virtual_service_for(cv, &fqdn) {
                match self.apply_virtual_service(cv, vs, &fqdn, req) {
                    Ok((p, dest_fqdn)) => {
                        policy = p;
                        if dest_fqdn != fqdn {
                            if let Some((ns, n)) = cluster_dns(cv, namespace(vs), &dest_fqdn) {
                                if let Some(s) = cv.service(&ns, &n) {
                                    target_svc = s;
                                }
                            }
                        }
                    }
                    Err(g) => return g.plus(hop),
                }
            }
        }
        if let Some(code) = policy.abort {
            return Got::reply(code, "fault filter abort").plus(hop);
        }
        let mut inner_req = req.clone();
        inner_req.headers.extend(policy.headers_set.iter().cloned());
        let got = self.endpoints_of_service(
            &Source {
                peer: l7_peer,
                ..source.clone()
            },
            cv,
            target_svc,
            port,
            &inner_req,
            &policy,
            waypoint.is_some(),
        );
        let got = got.plus(policy.delay.unwrap_or_default());
        with_timeout(got, policy.timeout, &mut self.trace, "the route").plus(hop)
    }

    /// The AuthorizationPolicies a waypoint enforces for `target` (`(kind, ns, name)` of the
    /// Service or ServiceEntry): `Some(403)` when they deny the request.
    fn waypoint_policies(
        &mut self,
        cv: &'w ClusterView,
        wp: &'w Value,
        target: (&'w str, &'w str, &'w str),
        peer: &Peer,
        req: &Request,
    ) -> Option<Got> {
        let wname = format!("{}/{}", namespace(wp), name(wp));
        let enforcer = Enforcer::Proxy {
            gateway: wp,
            service: Some(target),
        };
        match authorize(cv, &enforcer, peer, req) {
            Decision::Deny(why) => {
                self.note(format!("denied at waypoint {wname}: {why}"));
                Some(Got::reply(403, "RBAC: access denied"))
            }
            Decision::Allow(Some(why)) => {
                self.note(format!("allowed at waypoint {wname}: {why}"));
                None
            }
            Decision::Allow(None) => None,
        }
    }

    /// Applies a VirtualService: first matching http route, weighted destination, subset,
    /// fault and timeout. Returns the destination's FQDN.
    fn apply_virtual_service(
        &mut self,
        cv: &'w ClusterView,
        vs: &'w Value,
        fqdn: &str,
        req: &Request,
    ) -> Result<(Policy, String), Got> {
        let vname = format!("VirtualService {}/{}", namespace(vs), name(vs));
        let Some((i, route)) = istio::http_route(vs, req) else {
            self.note(format!("{vname}: no http route matches"));
            return Err(Got::reply(404, ""));
        };
        let dests: Vec<&Value> = route["route"].as_array().into_iter().flatten().collect();
        let weights: Vec<u64> = dests
            .iter()
            .map(|d| {
                d["weight"]
                    .as_u64()
                    .unwrap_or(if dests.len() == 1 { 100 } else { 1 })
            })
            .collect();
        let key = format!("vs/{}/{}/{}/{i}", cv.name, namespace(vs), name(vs));
        let mut policy = Policy::default();
        let mut dest_fqdn = fqdn.to_string();
        let mut desc = String::new();
        if let Some(d) = pick_weighted(self.balancer.next(&key), &weights).map(|j| dests[j]) {
            let host = d["destination"]["host"].as_str().unwrap_or(fqdn);
            dest_fqdn = if host.contains('.')
                && !host.ends_with(".svc.cluster.local")
                && cluster_dns(cv, namespace(vs), host).is_none()
            {
                host.to_string()
            } else {
                cluster_dns(cv, namespace(vs), host)
                    .map(|(ns, n)| svc_fqdn(&ns, &n))
                    .unwrap_or_else(|| host.to_string())
            };
            desc = format!(" -> {host}");
            if let Some(subset) = d["destination"]["subset"].as_str() {
                match istio::subset_labels(cv, &dest_fqdn, subset) {
                    Some(l) => {
                        policy.subset_labels = Some(l.clone());
                        desc.push_str(&format!(" subset {subset} ({})", labels_text(l)));
                    }
                    None => {
                        self.note(format!("{vname}: subset {subset} of {dest_fqdn} is defined by no DestinationRule"));
                        return Err(Got::reply(503, "no healthy upstream"));
                    }
                }
            }
        }
        policy.timeout = route["timeout"]
            .as_str()
            .and_then(parse_duration)
            .filter(|d| !d.is_zero());
        let fault = &route["fault"];
        if let Some(delay) = fault["delay"]["fixedDelay"]
            .as_str()
            .and_then(parse_duration)
        {
            if fault_applies(self.balancer, &key, &fault["delay"]) {
                policy.delay = Some(delay);
                desc.push_str(&format!(", fault: delay {}", ms(delay)));
            }
        }
        if let Some(code) = fault["abort"]["httpStatus"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
        {
            if fault_applies(self.balancer, &key, &fault["abort"]) {
                policy.abort = Some(code);
                desc.push_str(&format!(", fault: abort {code}"));
            }
        }
        if let Some(t) = policy.timeout {
            desc.push_str(&format!(", timeout {}", ms(t)));
        }
        for (k, v) in route["headers"]["request"]["set"]
            .as_object()
            .into_iter()
            .flatten()
        {
            policy.headers_set.push((
                k.to_ascii_lowercase(),
                v.as_str().unwrap_or_default().to_string(),
            ));
        }
        self.note(format!("{vname} http route {}{desc}", i + 1));
        Ok((policy, dest_fqdn))
    }

    /// Ready endpoints of a Service in one cluster (filtered by a subset), one picked round
    /// robin and served.
    #[allow(clippy::too_many_arguments)]
    fn endpoints_of_service(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        svc: &'w Value,
        port: u16,
        req: &Request,
        policy: &Policy,
        via_proxy: bool,
    ) -> Got {
        let sname = format!("{}/{}", namespace(svc), name(svc));
        let mut pods = cv.pods_selected(namespace(svc), &svc["spec"]["selector"], true);
        if let Some(l) = policy.subset_labels.as_ref().and_then(Value::as_object) {
            pods.retain(|p| super::world::selector_matches_labels(l, &p["metadata"]["labels"]));
        }
        let total = cv
            .pods_selected(namespace(svc), &svc["spec"]["selector"], false)
            .len();
        if pods.is_empty() {
            self.note(format!(
                "Service {sname} in {} has 0 ready endpoints ({total} pods)",
                cv.name
            ));
            return if via_proxy || source.ingress {
                Got::reply(503, "no healthy upstream").plus(PROXY_HOP)
            } else {
                Got::fail(FailureKind::Connect, format!("Failed to connect to {}: Connection refused (Service {sname} has no ready endpoints)", name(svc)))
            };
        }
        let key = format!(
            "ep/{}/{sname}/{}",
            cv.name,
            policy
                .subset_labels
                .as_ref()
                .map(labels_text)
                .unwrap_or_default()
        );
        let pod = pods[(self.balancer.next(&key) % pods.len() as u64) as usize];
        let target = target_port(svc, pod, port);
        self.note(format!(
            "Service {sname}:{port} in {}: {} ready endpoint(s), picked {} (port {target})",
            cv.name,
            pods.len(),
            name(pod)
        ));
        self.serve_pod(cv, pod, target, req, &source.peer, !source.in_mesh)
    }

    /// A global service `<name>.<ns>.mesh.internal` (or a `global-only` Service's own name):
    /// the endpoints of every reachable cluster whose Service is labelled global, local first
    /// unless the traffic distribution is `Any`.
    #[allow(clippy::too_many_arguments)]
    fn global(
        &mut self,
        source: &Source,
        ns: &str,
        n: &str,
        host: &str,
        port: u16,
        req: &Request,
    ) -> Got {
        let reachable = self.world.reachable_from(&source.cluster);
        let mut members: Vec<(&'w ClusterView, &'w Value, usize)> = Vec::new();
        let mut counts = Vec::new();
        for c in &reachable {
            let Some(svc) = c.service(ns, n) else {
                continue;
            };
            if !matches!(label(svc, SCOPE_LABEL), Some("global" | "global-only")) {
                continue;
            }
            let ready = c.pods_selected(ns, &svc["spec"]["selector"], true).len();
            counts.push(format!("{} {ready} ready", c.name));
            members.push((c, svc, ready));
        }
        let unlinked: Vec<String> = self
            .world
            .clusters
            .iter()
            .filter(|c| !reachable.iter().any(|r| r.name == c.name))
            .filter(|c| {
                c.service(ns, n)
                    .is_some_and(|s| label(s, SCOPE_LABEL).is_some())
            })
            .map(|c| c.name.clone())
            .collect();
        if members.is_empty() {
            self.note(format!(
                "{host}: no reachable cluster has Service {ns}/{n} labelled {SCOPE_LABEL}=global{}",
                if unlinked.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} not linked to {})",
                        unlinked.join(", "),
                        source.cluster
                    )
                }
            ));
            return Got::fail(
                FailureKind::Resolve,
                format!("Could not resolve host: {host}"),
            );
        }
        let local_svc = members
            .iter()
            .find(|(c, _, _)| c.name == source.cluster)
            .map(|(_, s, _)| *s);
        let distribution = members
            .iter()
            .map(|(_, s, _)| *s)
            .chain(local_svc)
            .filter_map(|s| {
                s["metadata"]["annotations"][DISTRIBUTION]
                    .as_str()
                    .or_else(|| label(s, DISTRIBUTION))
            })
            .next_back()
            .unwrap_or("Any")
            .to_string();
        let prefer_local = matches!(
            distribution.as_str(),
            "PreferNetwork" | "PreferClose" | "PreferSameZone" | "PreferSameNode" | "PreferRegion"
        );
        let local_ready = members
            .iter()
            .any(|(c, _, r)| c.name == source.cluster && *r > 0);
        let eligible: Vec<(&'w ClusterView, &'w Value, usize)> = members
            .iter()
            .copied()
            .filter(|(c, _, r)| {
                *r > 0 && (!prefer_local || !local_ready || c.name == source.cluster)
            })
            .collect();
        let mut why = format!(
            "global service {host}: endpoints {}; traffic distribution {distribution}",
            counts.join(", ")
        );
        if prefer_local && !local_ready && !eligible.is_empty() {
            why.push_str(&format!(
                ", {} has 0 ready endpoints: failing over",
                source.cluster
            ));
        }
        if !unlinked.is_empty() {
            why.push_str(&format!(
                " ({} not linked to {}: unreachable)",
                unlinked.join(", "),
                source.cluster
            ));
        }
        self.note(why);
        if eligible.is_empty() {
            return if source.ingress {
                Got::reply(503, "no healthy upstream").plus(PROXY_HOP)
            } else {
                Got::fail(
                    FailureKind::Connect,
                    format!(
                        "Failed to connect to {host} port {port}: no ready endpoint in any cluster"
                    ),
                )
            };
        }
        // Round robin over every eligible endpoint: clusters weighted by their endpoints.
        let weights: Vec<u64> = eligible.iter().map(|(_, _, r)| *r as u64).collect();
        let i = pick_weighted(
            self.balancer
                .next(&format!("global/{}/{host}", source.cluster)),
            &weights,
        )
        .unwrap_or(0);
        let (rc, rsvc, _) = eligible[i];
        let mut hop = Duration::ZERO;
        let mut req = req.clone();
        if rc.name != source.cluster {
            match eastwest_gateway(rc) {
                Some(ew) => {
                    self.note(format!(
                        "to {} through its east-west gateway {}/{}",
                        rc.name,
                        namespace(ew),
                        name(ew)
                    ));
                    hop += CROSS_CLUSTER;
                    // Routes attached to the east-west gateway for this name apply there.
                    let mut routes: Vec<&Value> = rc
                        .all("gateway.networking.k8s.io", "HTTPRoute")
                        .iter()
                        .filter(|r| {
                            attached_to_gateway(r, ew, "", 0)
                                && hostname_matches(&r["spec"]["hostnames"], host)
                                && !r["spec"]["hostnames"].is_null()
                        })
                        .collect();
                    sort_routes(&mut routes);
                    if let Some(m) = best_match(&routes, &req) {
                        let rname = format!("HTTPRoute {}/{}", namespace(m.route), name(m.route));
                        let timeout = m.rule["timeouts"]["request"]
                            .as_str()
                            .and_then(parse_duration)
                            .filter(|d| !d.is_zero());
                        self.note(format!(
                            "{rname} on the east-west gateway: rule {} ({}){}",
                            m.rule_index + 1,
                            m.matched,
                            timeout
                                .map(|t| format!(", timeout {}", ms(t)))
                                .unwrap_or_default()
                        ));
                        self.depth += 1;
                        let got = self.global_in(source, rc, rsvc, host, port, &req);
                        self.depth -= 1;
                        return with_timeout(got, timeout, &mut self.trace, &rname).plus(hop);
                    }
                }
                None => {
                    self.note(format!(
                        "{} has no east-west gateway with an address: cannot cross to it",
                        rc.name
                    ));
                    return Got::fail(
                        FailureKind::Connect,
                        format!(
                            "Failed to connect to {host}: no east-west gateway in {}",
                            rc.name
                        ),
                    );
                }
            }
        }
        req.headers.retain(|(k, _)| k != "x-meshbook-cross");
        self.depth += 1;
        let got = self.global_in(source, rc, rsvc, host, port, &req);
        self.depth -= 1;
        got.plus(hop)
    }

    /// Inside the cluster serving a global name: a VirtualService for the global host, then
    /// the Service's own waypoint and endpoints.
    fn global_in(
        &mut self,
        source: &Source,
        rc: &'w ClusterView,
        rsvc: &'w Value,
        host: &str,
        port: u16,
        req: &Request,
    ) -> Got {
        if let Some(vs) = istio::virtual_service_for(rc, host) {
            match self.apply_virtual_service(rc, vs, host, req) {
                Ok((policy, dest_fqdn)) => {
                    if let Some(code) = policy.abort {
                        return Got::reply(code, "fault filter abort");
                    }
                    let svc = cluster_dns(rc, namespace(vs), &dest_fqdn)
                        .and_then(|(ns, n)| rc.service(&ns, &n))
                        .unwrap_or(rsvc);
                    let src = Source {
                        cluster: rc.name.clone(),
                        ..source.clone()
                    };
                    let got = self.endpoints_of_service(&src, rc, svc, port, req, &policy, true);
                    let got = got.plus(policy.delay.unwrap_or_default());
                    return with_timeout(
                        got,
                        policy.timeout,
                        &mut self.trace,
                        "the VirtualService",
                    );
                }
                Err(g) => return g,
            }
        }
        let src = Source {
            cluster: rc.name.clone(),
            ..source.clone()
        };
        self.service_l7(&src, rc, rsvc, port, req)
    }

    fn virtual_destination_for(&self, host: &str) -> Option<(&'w ClusterView, &'w Value)> {
        self.world.clusters.iter().find_map(|c| {
            c.all("networking.gloo.solo.io", "VirtualDestination")
                .iter()
                .find(|vd| {
                    vd["spec"]["hosts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|h| h.as_str().is_some_and(|h| host_pattern_matches(h, host)))
                })
                .map(|vd| (c, vd))
        })
    }

    fn route_table_for(&self, fqdn: &str) -> Option<(&'w ClusterView, &'w Value, &'w Value)> {
        for c in &self.world.clusters {
            for rt in c.all("networking.gloo.solo.io", "RouteTable") {
                if rt["spec"]["virtualGateways"].is_array() {
                    continue;
                }
                let hosts_match = rt["spec"]["hosts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|h| istio::host_refers_to(h, namespace(rt), fqdn));
                if !hosts_match {
                    continue;
                }
                for route in rt["spec"]["http"].as_array().into_iter().flatten() {
                    for d in route["forwardTo"]["destinations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if d["kind"].as_str() != Some("VIRTUAL_DESTINATION") {
                            continue;
                        }
                        let vns = d["ref"]["namespace"].as_str().unwrap_or(namespace(rt));
                        let vname = d["ref"]["name"].as_str().unwrap_or_default();
                        for vc in &self.world.clusters {
                            if let Some(vd) =
                                vc.get("networking.gloo.solo.io", "VirtualDestination", vns, vname)
                            {
                                return Some((vc, vd, rt));
                            }
                        }
                    }
                }
            }
        }
        None
    }

    /// A Gloo VirtualDestination: the Services its `services` selectors pick in every cluster
    /// (https://docs.solo.io/gloo-mesh/latest/reference/api/virtual_destination/).
    fn virtual_destination(
        &mut self,
        source: &Source,
        _vcv: &'w ClusterView,
        vd: &'w Value,
        port: u16,
        req: &Request,
    ) -> Got {
        let vname = format!("VirtualDestination {}/{}", namespace(vd), name(vd));
        let mut eps: Vec<(&'w ClusterView, &'w Value, &'w Value)> = Vec::new();
        let mut counts = Vec::new();
        for c in &self.world.clusters {
            let mut n = 0;
            for sel in vd["spec"]["services"].as_array().into_iter().flatten() {
                if sel["cluster"].as_str().is_some_and(|want| want != c.name) {
                    continue;
                }
                for svc in c.all("", "Service") {
                    if sel["namespace"]
                        .as_str()
                        .is_some_and(|ns| ns != namespace(svc))
                    {
                        continue;
                    }
                    if sel["name"].as_str().is_some_and(|nm| nm != name(svc)) {
                        continue;
                    }
                    if let Some(l) = sel["labels"].as_object() {
                        if !super::world::selector_matches_labels(l, &svc["metadata"]["labels"]) {
                            continue;
                        }
                    }
                    for p in c.pods_selected(namespace(svc), &svc["spec"]["selector"], true) {
                        if !eps
                            .iter()
                            .any(|(ec, ep, _)| ec.name == c.name && name(ep) == name(p))
                        {
                            eps.push((c, p, svc));
                            n += 1;
                        }
                    }
                }
            }
            if n > 0 {
                counts.push(format!("{} {n}", c.name));
            }
        }
        self.note(format!(
            "{vname}: ready endpoints {}",
            if counts.is_empty() {
                "none".into()
            } else {
                counts.join(", ")
            }
        ));
        if eps.is_empty() {
            return Got::reply(503, "no healthy upstream").plus(PROXY_HOP);
        }
        let turn = self
            .balancer
            .next(&format!("vd/{}/{}", namespace(vd), name(vd)));
        let (c, pod, svc) = eps[(turn % eps.len() as u64) as usize];
        let mut hop = PROXY_HOP;
        if c.name != source.cluster {
            hop += CROSS_CLUSTER;
            self.note(format!("to {} through its east-west gateway", c.name));
        }
        let target = target_port(svc, pod, port);
        self.note(format!(
            "picked {}/{} in {} (port {target})",
            namespace(pod),
            name(pod),
            c.name
        ));
        self.serve_pod(c, pod, target, req, &source.peer, !source.in_mesh)
            .plus(hop)
    }

    /// A host outside the clusters (a ServiceEntry's, or a modelled public host), possibly
    /// through an egress waypoint.
    fn external(
        &mut self,
        source: &Source,
        cv: &'w ClusterView,
        se: Option<&'w Value>,
        host: &str,
        port: u16,
        req: &Request,
    ) -> Got {
        let mut hop = Duration::ZERO;
        if let Some(se) = se {
            let sename = format!("ServiceEntry {}/{}", namespace(se), name(se));
            self.note(format!("{host} is {sename}"));
            if source.in_mesh && mesh_installed(cv) {
                match self.waypoint_of(cv, se) {
                    Ok(Some(wp)) => {
                        let wname = format!("{}/{}", namespace(wp), name(wp));
                        self.note(format!("{sename} uses waypoint {wname}"));
                        hop += PROXY_HOP;
                        let target = ("ServiceEntry", namespace(se), name(se));
                        if let Some(denied) =
                            self.waypoint_policies(cv, wp, target, &source.peer, req)
                        {
                            return denied.plus(hop);
                        }
                    }
                    Ok(None) => {}
                    Err(why) => {
                        self.note(why.to_string());
                        return Got::fail(
                            FailureKind::Reset,
                            format!("Connection reset by peer ({why})"),
                        );
                    }
                }
            }
        }
        let Some(model) = self.models.for_host(host) else {
            self.note(format!(
                "{host} is outside the simulated clusters and has no behaviour model"
            ));
            return Got::unmodelled(format!("no behaviour model for the external host {host}"));
        };
        self.note(format!(
            "{host} answered by the model {} (outside the clusters)",
            model.name
        ));
        let pod = json!({"metadata": {"name": host, "namespace": ""}, "status": {"podIP": "203.0.113.10"}});
        let container = json!({});
        let mut inner = req.clone();
        inner.port = port;
        self.run_workload(cv, &pod, &container, model, &inner)
            .plus(hop + Duration::from_millis(20))
    }

    // ----- workloads -------------------------------------------------------------------------

    /// A pod answers on `port`: its ztunnel (or sidecar) enforces policies, then the
    /// application's behaviour answers.
    fn serve_pod(
        &mut self,
        cv: &'w ClusterView,
        pod: &'w Value,
        port: u16,
        req: &Request,
        peer: &Peer,
        plaintext: bool,
    ) -> Got {
        let pname = format!("{}/{}", namespace(pod), name(pod));
        if !pod_ready(pod) {
            return Got::fail(
                FailureKind::Connect,
                format!("Failed to connect: pod {pname} is not ready"),
            );
        }
        let sidecar = has_sidecar(pod);
        if sidecar || in_ambient(cv, pod) {
            let peer = if plaintext {
                Peer::default()
            } else {
                peer.clone()
            };
            match authorize(cv, &Enforcer::Workload { pod, l7: sidecar }, &peer, req) {
                Decision::Deny(why) => {
                    self.note(format!(
                        "denied at pod {pname}'s {}: {why}",
                        if sidecar { "sidecar" } else { "ztunnel" }
                    ));
                    return if sidecar {
                        Got::reply(403, "RBAC: access denied")
                    } else {
                        Got::fail(FailureKind::Reset, "Recv failure: Connection reset by peer")
                    };
                }
                Decision::Allow(Some(why)) => self.note(format!("allowed at pod {pname}: {why}")),
                Decision::Allow(None) => {}
            }
        }
        let containers: Vec<&Value> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] != "istio-proxy")
            .collect();
        let found = containers.iter().find_map(|c| {
            self.models
                .for_image(c["image"].as_str().unwrap_or_default())
                .map(|m| (*c, m))
        });
        let Some((container, model)) = found else {
            let images: Vec<&str> = containers
                .iter()
                .filter_map(|c| c["image"].as_str())
                .collect();
            self.note(format!(
                "pod {pname} in {} runs {}: no behaviour model",
                cv.name,
                images.join(", ")
            ));
            return Got::unmodelled(format!(
                "no behaviour model for image {} (pod {pname} in {})",
                images.join(", "),
                cv.name
            ));
        };
        if model.client_only || (!model.ports.is_empty() && !model.ports.contains(&port)) {
            self.note(format!(
                "pod {pname} ({}) listens on no port {port}",
                model.name
            ));
            return Got::fail(
                FailureKind::Connect,
                format!("Failed to connect to {pname} port {port}: Connection refused"),
            );
        }
        let mut inner = req.clone();
        inner.port = port;
        self.run_workload(cv, pod, container, model, &inner)
    }

    fn run_workload(
        &mut self,
        cv: &'w ClusterView,
        pod: &Value,
        container: &Value,
        model: &'w Workload,
        req: &Request,
    ) -> Got {
        let pname = if namespace(pod).is_empty() {
            name(pod).to_string()
        } else {
            format!("{}/{}", namespace(pod), name(pod))
        };
        let found = model.routes.iter().find_map(|r| {
            r.matcher
                .matches(&req.method, req.path_only())
                .map(|p| (r, p))
        });
        let Some((route, params)) = found else {
            self.note(format!(
                "{pname} ({}) has no handler for {} {}: 404",
                model.name,
                req.method,
                req.path_only()
            ));
            return Got::reply(404, "Not Found").plus(model.latency);
        };
        let headers: serde_json::Map<String, Value> = req
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let request = json!({
            "method": req.method, "path": req.path_only(), "host": req.authority_host(), "url": req.url(),
            "headers": headers, "params": params, "query": req.path.split_once('?').map(|(_, q)| q).unwrap_or(""),
        });
        let mut data = workloads::context(pod, &cv.name, container, &request);
        self.note(format!(
            "served by {}/{pname} (model {}{})",
            cv.name,
            model.name,
            container["image"]
                .as_str()
                .map(|i| format!(", image {i}"))
                .unwrap_or_default()
        ));
        let mut elapsed = model.latency;
        let source = if namespace(pod).is_empty() {
            None
        } else {
            cv.pod(namespace(pod), name(pod))
                .map(|p| self.pod_source(cv, p))
        };
        for call in &route.calls {
            if let Some(when) = &call.when {
                match workloads::render(when, &data) {
                    Ok(t) if t.trim().is_empty() || t.trim() == "false" => continue,
                    Ok(_) => {}
                    Err(e) => {
                        return Got::unmodelled(format!(
                            "behaviour {}: call {}: {e}",
                            model.name, call.name
                        ))
                    }
                }
            }
            let url = match workloads::render(&call.url, &data) {
                Ok(u) => u,
                Err(e) => {
                    return Got::unmodelled(format!(
                        "behaviour {} call {} URL: {e}",
                        model.name, call.name
                    ))
                }
            };
            let mut result =
                json!({"status": 0, "ok": false, "body": "", "json": {}, "error": null});
            for attempt in 1..=call.attempts.max(1) {
                let Ok(mut creq) = Request::new("GET", &url) else {
                    result["error"] = json!(format!("bad URL {url}"));
                    break;
                };
                for h in &call.forward_headers {
                    if let Some(v) = req.header(h) {
                        creq.headers.push((h.clone(), v.to_string()));
                    }
                }
                self.note(format!(
                    "{} calls {url}{}",
                    name(pod),
                    if attempt > 1 {
                        format!(" (attempt {attempt})")
                    } else {
                        String::new()
                    }
                ));
                self.depth += 1;
                let got = match &source {
                    Some(src) => {
                        let host = creq.host.clone();
                        let port = creq.port;
                        self.deliver(src, Dest::Host(host), port, &creq)
                    }
                    None => Got::unmodelled("an external model cannot call out"),
                };
                self.depth -= 1;
                let took = got.elapsed.min(call.timeout);
                elapsed += took;
                if got.elapsed > call.timeout {
                    self.note(format!(
                        "{}: the call to {url} timed out after {} (the application's timeout)",
                        name(pod),
                        ms(call.timeout)
                    ));
                    result = json!({"status": 0, "ok": false, "body": "", "json": {}, "error": format!("timed out after {}", ms(call.timeout))});
                    continue;
                }
                match got.res {
                    Ok(reply) => {
                        let parsed: Value = serde_json::from_str(&reply.body).unwrap_or(json!({}));
                        let ok = reply.status == 200;
                        result = json!({"status": reply.status, "ok": ok, "body": reply.body, "json": parsed, "error": null});
                        if ok {
                            break;
                        }
                    }
                    Err(Fail::Net(_, msg)) => {
                        result =
                            json!({"status": 0, "ok": false, "body": "", "json": {}, "error": msg});
                    }
                    Err(Fail::Unmodelled(why)) => {
                        return Got {
                            res: Err(Fail::Unmodelled(why)),
                            elapsed,
                        };
                    }
                }
            }
            data["calls"][&call.name] = result;
        }
        if let Some(d) = &route.delay {
            match workloads::render(d, &data)
                .ok()
                .and_then(|t| parse_duration(&t))
            {
                Some(d) => elapsed += d,
                None => {
                    return Got::unmodelled(format!(
                        "behaviour {}: delay `{d}` is not a duration",
                        model.name
                    ))
                }
            }
        }
        let status = match workloads::render(&route.status, &data).map(|s| s.trim().parse::<u16>())
        {
            Ok(Ok(s)) => s,
            _ => {
                return Got::unmodelled(format!(
                    "behaviour {}: status `{}` is not a status code",
                    model.name, route.status
                ))
            }
        };
        let body = match workloads::render(&route.body, &data) {
            Ok(b) => b,
            Err(e) => return Got::unmodelled(format!("behaviour {}: body: {e}", model.name)),
        };
        let mut headers = Vec::new();
        for (k, v) in &route.headers {
            headers.push((
                k.to_ascii_lowercase(),
                workloads::render(v, &data).unwrap_or_else(|_| v.clone()),
            ));
        }
        Got {
            res: Ok(Reply {
                status,
                headers,
                body,
            }),
            elapsed,
        }
    }
}

/// What a proxy (gateway, waypoint) answers when it cannot reach its upstream, as Envoy does:
/// a backend that does not resolve is 500 (Gateway API: an invalid backendRef gets 500), a
/// refused or reset connection is 503.
fn proxied(got: Got) -> Got {
    let status = match &got.res {
        Err(Fail::Net(FailureKind::Resolve, _)) => 500,
        Err(Fail::Net(FailureKind::Connect | FailureKind::Reset | FailureKind::Tls, _)) => 503,
        _ => return got,
    };
    let body = if status == 503 {
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
    } else {
        ""
    };
    Got::reply(status, body).plus(got.elapsed)
}

fn labels_text(l: &Value) -> String {
    l.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn fault_applies(balancer: &Balancer, key: &str, fault: &Value) -> bool {
    let pct = fault["percentage"]["value"]
        .as_f64()
        .or_else(|| fault["percent"].as_f64())
        .unwrap_or(100.0);
    if pct >= 100.0 {
        return true;
    }
    if pct <= 0.0 {
        return false;
    }
    let turn = balancer.next(&format!("{key}/fault"));
    // Deterministic: the first `pct` of every 100 turns.
    ((turn % 100) as f64) < pct
}

/// A proxy's timeout: an upstream slower than `timeout` becomes 504 at `timeout`
/// (Envoy's `upstream request timeout`).
fn with_timeout(got: Got, timeout: Option<Duration>, trace: &mut Vec<String>, who: &str) -> Got {
    match timeout {
        Some(t) if got.elapsed > t => {
            trace.push(format!(
                "{who}: timeout {} elapsed before the upstream answered ({} needed): 504",
                ms(t),
                ms(got.elapsed)
            ));
            Got {
                res: Ok(Reply {
                    status: 504,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: "upstream request timeout".into(),
                }),
                elapsed: t,
            }
        }
        _ => got,
    }
}

fn apply_header_modifier(req: &mut Request, m: &Value) {
    for h in m["set"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(m["add"].as_array().into_iter().flatten())
    {
        if let (Some(k), Some(v)) = (h["name"].as_str(), h["value"].as_str()) {
            let k = k.to_ascii_lowercase();
            req.headers.retain(|(n, _)| *n != k);
            req.headers.push((k, v.to_string()));
        }
    }
    for r in m["remove"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        req.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(r));
    }
}

fn service_port(svc: &Value, port: u16) -> Option<&Value> {
    svc["spec"]["ports"]
        .as_array()?
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
}

/// The container port behind a Service port: `targetPort` by number or by name, else the port.
fn target_port(svc: &Value, pod: &Value, port: u16) -> u16 {
    let Some(sp) = service_port(svc, port) else {
        return port;
    };
    match &sp["targetPort"] {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(port),
        Value::String(pname) => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .find(|p| p["name"] == pname.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())
            .or_else(|| pname.parse().ok())
            .unwrap_or(port),
        _ => port,
    }
}

/// Kubernetes DNS from a pod in `ns`: `name`, `name.ns`, `name.ns.svc`,
/// `name.ns.svc.cluster.local` (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/).
fn cluster_dns(cv: &ClusterView, ns: &str, host: &str) -> Option<(String, String)> {
    let h = host.trim_end_matches('.');
    let h = h
        .strip_suffix(".svc.cluster.local")
        .or_else(|| h.strip_suffix(".svc"))
        .unwrap_or(h);
    let parts: Vec<&str> = h.split('.').collect();
    match parts.as_slice() {
        [n] => Some((ns.to_string(), (*n).to_string())),
        [n, svc_ns] if cv.namespace_labels(svc_ns).is_some() => {
            Some(((*svc_ns).to_string(), (*n).to_string()))
        }
        _ => None,
    }
}

/// A ServiceEntry of the source's cluster naming `host`, visible from namespace `ns`.
fn service_entry_for<'w>(cv: &'w ClusterView, ns: &str, host: &str) -> Option<&'w Value> {
    cv.all("networking.istio.io", "ServiceEntry")
        .iter()
        .find(|se| {
            let exported = match se["spec"]["exportTo"].as_array() {
                Some(e) => e
                    .iter()
                    .any(|x| x == "*" || (x == "." && namespace(se) == ns) || x == ns),
                None => true,
            };
            exported
                && se["spec"]["hosts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|h| host_pattern_matches(h, host))
        })
}

fn attached_to_gateway(route: &Value, gw: &Value, listener: &str, port: u16) -> bool {
    route["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| {
            let kind = p["kind"].as_str().unwrap_or("Gateway");
            let group = p["group"].as_str().unwrap_or("gateway.networking.k8s.io");
            let ns = p["namespace"].as_str().unwrap_or(namespace(route));
            kind == "Gateway"
                && group == "gateway.networking.k8s.io"
                && p["name"] == name(gw)
                && ns == namespace(gw)
                && (listener.is_empty() || p["sectionName"].as_str().is_none_or(|s| s == listener))
                && (port == 0 || p["port"].as_u64().is_none_or(|pp| pp == u64::from(port)))
        })
}

fn attached_to_service(route: &Value, svc: &Value, port: u16) -> bool {
    route["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| {
            let kind = p["kind"].as_str().unwrap_or("Gateway");
            let group = p["group"].as_str().unwrap_or("gateway.networking.k8s.io");
            let ns = p["namespace"].as_str().unwrap_or(namespace(route));
            kind == "Service"
                && (group.is_empty() || group == "core")
                && p["name"] == name(svc)
                && ns == namespace(svc)
                && p["port"].as_u64().is_none_or(|pp| pp == u64::from(port))
        })
}

/// A listener's `allowedRoutes.namespaces`: `Same` (default), `All`, or `Selector`.
fn route_allowed(cv: &ClusterView, gw: &Value, listener: &Value, route: &Value) -> bool {
    let ns = &listener["allowedRoutes"]["namespaces"];
    match ns["from"].as_str().unwrap_or("Same") {
        "All" => true,
        "Selector" => cv
            .namespace_labels(namespace(route))
            .is_some_and(|l| super::world::matches_selector(&ns["selector"], l)),
        _ => namespace(route) == namespace(gw),
    }
}

fn has_sidecar(pod: &Value) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["name"] == "istio-proxy")
        && pod["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"].is_null()
}

/// Whether Istio runs in the cluster (a ztunnel, or istiod for sidecars).
fn mesh_installed(cv: &ClusterView) -> bool {
    cv.has_ambient()
        || cv
            .all("", "Pod")
            .iter()
            .any(|p| matches!(label(p, "app"), Some("istiod" | "istiod-gloo")) && pod_ready(p))
}

/// A pod is in the ambient mesh when its namespace (or itself) is labelled
/// `istio.io/dataplane-mode=ambient` and ztunnel runs
/// (https://istio.io/latest/docs/ambient/usage/add-workloads/).
fn in_ambient(cv: &ClusterView, pod: &Value) -> bool {
    if label(pod, "istio.io/dataplane-mode") == Some("none") {
        return false;
    }
    let ns_mode = cv
        .namespace_labels(namespace(pod))
        .and_then(|l| l["istio.io/dataplane-mode"].as_str());
    (label(pod, "istio.io/dataplane-mode") == Some("ambient") || ns_mode == Some("ambient"))
        && cv.has_ambient()
}

/// The east-west gateway of a cluster with an address: a Gateway of class `istio-eastwest`
/// (Solo) or `istio-east-west` whose Service has a load-balancer address.
fn eastwest_gateway(cv: &ClusterView) -> Option<&Value> {
    cv.all("gateway.networking.k8s.io", "Gateway")
        .iter()
        .find(|g| {
            matches!(
                g["spec"]["gatewayClassName"].as_str(),
                Some("istio-eastwest" | "istio-east-west")
            ) && (g["status"]["addresses"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
                || cv.service(namespace(g), name(g)).is_some_and(|s| {
                    s["status"]["loadBalancer"]["ingress"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                }))
        })
}

/// Why a request cannot reach where it is going (the text a trace and a reset show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unreachable {
    #[error("no simulated cluster {0}")]
    NoCluster(String),
    #[error("no pod {pod} in {cluster}")]
    NoPod { pod: String, cluster: String },
    #[error("waypoint {waypoint} (istio.io/use-waypoint) does not exist in {cluster}")]
    NoWaypoint { waypoint: String, cluster: String },
    #[error("waypoint {waypoint} in {cluster} has no ready pod")]
    WaypointNotReady { waypoint: String, cluster: String },
}

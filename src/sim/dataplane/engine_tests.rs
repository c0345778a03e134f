//! The data plane's rules, each with the behaviour its upstream document describes, on
//! small hand-built worlds.

use std::time::Duration;

use serde_json::{json, Value};

use super::{answer, Answer, Balancer, FailureKind, Models, Origin, Outcome, Request, World};
use crate::sim::dataplane::world::ClusterView;

const T0: &str = "2024-01-01T00:00:00Z";

fn meta(kind: &str, api: &str, ns: &str, name: &str) -> Value {
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns, "creationTimestamp": T0, "labels": {}}})
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn service(ns: &str, name: &str, app: &str, port: u16) -> Value {
    let mut s = meta("Service", "v1", ns, name);
    s["metadata"]["labels"] = json!({"app": app});
    s["spec"] = json!({"selector": {"app": app}, "ports": [{"port": port, "targetPort": port}]});
    s
}

fn pod(ns: &str, name: &str, labels: Value, image: &str, env: Value) -> Value {
    let mut p = meta("Pod", "v1", ns, name);
    p["metadata"]["labels"] = labels;
    p["spec"] = json!({"serviceAccountName": format!("sa-{}", name.split('-').next().unwrap_or(name)),
        "containers": [{"name": "app", "image": image, "env": env}]});
    p["status"] =
        json!({"podIP": "10.244.0.9", "conditions": [{"type": "Ready", "status": "True"}]});
    p
}

fn with_lb(mut svc: Value, ip: &str) -> Value {
    svc["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
    svc
}

fn ztunnel() -> Value {
    let mut d = meta("DaemonSet", "apps/v1", "istio-system", "ztunnel");
    d["status"] = json!({"numberReady": 1});
    d
}

fn gateway(ns: &str, name: &str, class: &str, port: u16) -> Value {
    let mut g = meta("Gateway", "gateway.networking.k8s.io/v1", ns, name);
    g["spec"] = json!({"gatewayClassName": class, "listeners": [{"name": "http", "port": port, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]});
    g
}

/// A Gateway with its generated Service (load balancer `ip`) and a ready pod.
fn gateway_with_service(ns: &str, name: &str, class: &str, port: u16, ip: &str) -> Vec<Value> {
    let mut svc = service(ns, name, name, port);
    svc["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"] = json!(name);
    svc["spec"]["selector"] = json!({"gateway.networking.k8s.io/gateway-name": name});
    let p = pod(
        ns,
        &format!("{name}-abc"),
        json!({"gateway.networking.k8s.io/gateway-name": name}),
        "docker.io/istio/proxyv2:1.26.2",
        json!([]),
    );
    let mut objs = vec![gateway(ns, name, class, port), p];
    if ip.is_empty() {
        objs.push(svc);
    } else {
        objs.push(with_lb(svc, ip));
    }
    objs
}

fn route(ns: &str, name: &str, parent: Value, rules: Value) -> Value {
    let mut r = meta("HTTPRoute", "gateway.networking.k8s.io/v1", ns, name);
    r["spec"] = json!({"parentRefs": [parent], "rules": rules});
    r
}

const HELLO: &str = "docker.io/istio/examples-helloworld-v1:1.0";
const REVIEWS: &str = "docker.io/istio/examples-bookinfo-reviews-v";

fn ask(world: &World, origin: &Origin, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(url);
    req.headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    answer(world, Models::bundled(), &Balancer::default(), origin, &req)
}

fn reply(a: &Answer) -> (u16, &str) {
    match &a.outcome {
        Outcome::Reply(r) => (r.status, r.body.as_str()),
        other => panic!(
            "expected a reply, got {other:?}\ntrace:\n{}",
            a.trace.join("\n")
        ),
    }
}

fn from_pod(cluster: &str, ns: &str, pod: &str) -> Origin {
    Origin::Pod {
        cluster: cluster.into(),
        namespace: ns.into(),
        pod: pod.into(),
    }
}

#[test]
fn a_load_balancer_service_reaches_its_ready_pods() {
    let c1 = ClusterView::new(
        "c1",
        vec![
            namespace("demo", json!({})),
            with_lb(service("demo", "hello", "hello", 5000), "198.51.100.1"),
            pod(
                "demo",
                "hello-1",
                json!({"app": "hello"}),
                HELLO,
                json!([{"name": "SERVICE_VERSION", "value": "v7"}]),
            ),
        ],
    );
    let w = World::new(vec![c1]);
    let a = ask(&w, &Origin::Outside, "http://198.51.100.1:5000/hello", &[]);
    assert_eq!(reply(&a), (200, "Hello version: v7, instance: hello-1\n"));
    assert!(
        a.trace.iter().any(|l| l.contains("picked hello-1")),
        "{:?}",
        a.trace
    );
    let refused = ask(&w, &Origin::Outside, "http://198.51.100.1:80/hello", &[]);
    assert!(matches!(
        refused.outcome,
        Outcome::Failed {
            kind: FailureKind::Connect,
            ..
        }
    ));
}

#[test]
fn an_image_without_a_model_is_unmodelled_never_answered() {
    let c1 = ClusterView::new(
        "c1",
        vec![
            namespace("demo", json!({})),
            with_lb(service("demo", "web", "web", 80), "198.51.100.1"),
            pod(
                "demo",
                "web-1",
                json!({"app": "web"}),
                "nginx:1.27",
                json!([]),
            ),
        ],
    );
    let a = ask(
        &World::new(vec![c1]),
        &Origin::Outside,
        "http://198.51.100.1/",
        &[],
    );
    assert!(
        matches!(&a.outcome, Outcome::Unmodelled(w) if w.contains("nginx:1.27")),
        "{:?}",
        a.outcome
    );
}

#[test]
fn gateway_routes_pick_the_most_specific_match_and_404_otherwise() {
    let mut objs = vec![
        namespace("demo", json!({})),
        service("demo", "hello", "hello", 5000),
        pod("demo", "hello-1", json!({"app": "hello"}), HELLO, json!([])),
        route(
            "demo",
            "r",
            json!({"name": "gw", "namespace": "demo"}),
            json!([
                {"matches": [{"path": {"type": "PathPrefix", "value": "/hello"}}], "backendRefs": [{"name": "hello", "port": 5000}]},
                {"matches": [{"path": {"type": "Exact", "value": "/hello"}}], "backendRefs": [{"name": "missing", "port": 5000}]},
            ]),
        ),
    ];
    objs.extend(gateway_with_service(
        "demo",
        "gw",
        "istio",
        80,
        "198.51.100.1",
    ));
    let w = World::new(vec![ClusterView::new("c1", objs)]);
    // The Exact match wins, and its backend does not exist: 500 (Gateway API spec).
    assert_eq!(
        reply(&ask(&w, &Origin::Outside, "http://198.51.100.1/hello", &[])).0,
        500
    );
    assert_eq!(
        reply(&ask(
            &w,
            &Origin::Outside,
            "http://198.51.100.1/hello/x",
            &[]
        ))
        .0,
        404
    );
    assert_eq!(
        reply(&ask(&w, &Origin::Outside, "http://198.51.100.1/other", &[])).0,
        404
    );
}

fn global_world(c1_replicas: usize, link: bool, distribution: &str) -> World {
    let mut objs1 = vec![
        namespace("app", json!({"istio.io/dataplane-mode": "ambient"})),
        ztunnel(),
    ];
    let mut objs2 = objs1.clone();
    for (objs, cluster, n) in [(&mut objs1, "c1", c1_replicas), (&mut objs2, "c2", 1)] {
        let mut s = service("app", "hello", "hello", 5000);
        s["metadata"]["labels"]["solo.io/service-scope"] = json!("global");
        s["metadata"]["annotations"] =
            json!({"networking.istio.io/traffic-distribution": distribution});
        objs.push(s);
        for i in 0..n {
            objs.push(pod(
                "app",
                &format!("hello-{cluster}-{i}"),
                json!({"app": "hello"}),
                HELLO,
                json!([]),
            ));
        }
        objs.push(pod(
            "app",
            &format!("client-{cluster}"),
            json!({"app": "client"}),
            "curlimages/curl:8.1",
            json!([]),
        ));
    }
    objs1.extend(gateway_with_service(
        "istio-gateways",
        "istio-eastwest",
        "istio-eastwest",
        15008,
        "198.51.100.2",
    ));
    objs2.extend(gateway_with_service(
        "istio-gateways",
        "istio-eastwest",
        "istio-eastwest",
        15008,
        "198.51.100.34",
    ));
    if link {
        let mut remote = meta(
            "Gateway",
            "gateway.networking.k8s.io/v1",
            "istio-gateways",
            "istio-remote-peer-c2",
        );
        remote["spec"] = json!({"gatewayClassName": "istio-remote", "addresses": [{"type": "IPAddress", "value": "198.51.100.34"}]});
        objs1.push(remote);
    }
    World::new(vec![
        ClusterView::new("c1", objs1),
        ClusterView::new("c2", objs2),
    ])
}

#[test]
fn global_services_prefer_the_local_network_and_fail_over_when_it_has_no_endpoint() {
    let client = from_pod("c1", "app", "client-c1");
    let url = "http://hello.app.mesh.internal:5000/hello";
    let local = ask(&global_world(1, true, "PreferNetwork"), &client, url, &[]);
    assert!(
        reply(&local).1.contains("hello-c1-0"),
        "{}",
        local.trace.join("\n")
    );
    let failover = ask(&global_world(0, true, "PreferNetwork"), &client, url, &[]);
    assert!(reply(&failover).1.contains("hello-c2-0"));
    assert!(
        failover
            .trace
            .iter()
            .any(|l| l.contains("c1 has 0 ready endpoints: failing over")),
        "{:?}",
        failover.trace
    );
    assert!(failover
        .trace
        .iter()
        .any(|l| l.contains("east-west gateway")));
    // Without the link, cluster c2 is unreachable from c1.
    let unlinked = ask(&global_world(0, false, "PreferNetwork"), &client, url, &[]);
    assert!(
        matches!(unlinked.outcome, Outcome::Failed { .. }),
        "{:?}",
        unlinked.outcome
    );
    assert!(
        unlinked.trace.iter().any(|l| l.contains("not linked")),
        "{:?}",
        unlinked.trace
    );
}

#[test]
fn traffic_distribution_any_spreads_over_every_cluster() {
    let w = global_world(1, true, "Any");
    let b = Balancer::default();
    let req = Request::get("http://hello.app.mesh.internal:5000/hello");
    let served: Vec<String> = (0..4)
        .map(|_| {
            match answer(
                &w,
                Models::bundled(),
                &b,
                &from_pod("c1", "app", "client-c1"),
                &req,
            )
            .outcome
            {
                Outcome::Reply(r) => r.body,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert!(
        served.iter().any(|b| b.contains("hello-c1-0"))
            && served.iter().any(|b| b.contains("hello-c2-0")),
        "{served:?}"
    );
}

#[test]
fn a_pod_outside_the_mesh_cannot_resolve_global_names() {
    let mut w = global_world(1, true, "Any");
    let c1 = &mut w.clusters[0];
    *c1 = ClusterView::new(
        "c1",
        c1.all("", "Service")
            .iter()
            .cloned()
            .chain(c1.all("", "Pod").iter().cloned())
            .chain([namespace("app", json!({}))]),
    );
    let a = ask(
        &w,
        &from_pod("c1", "app", "client-c1"),
        "http://hello.app.mesh.internal:5000/hello",
        &[],
    );
    assert!(
        matches!(
            a.outcome,
            Outcome::Failed {
                kind: FailureKind::Resolve,
                ..
            }
        ),
        "{:?}",
        a.outcome
    );
}

fn waypoint_world(policy: Option<Value>) -> World {
    let mut objs = vec![
        namespace(
            "bookinfo",
            json!({"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}),
        ),
        ztunnel(),
        service("bookinfo", "reviews", "reviews", 9080),
        pod(
            "bookinfo",
            "client-1",
            json!({"app": "client"}),
            "curlimages/curl:8.1",
            json!([]),
        ),
    ];
    objs.extend(gateway_with_service(
        "bookinfo",
        "waypoint",
        "istio-waypoint",
        15008,
        "",
    ));
    for v in ["1", "2"] {
        let mut s = service("bookinfo", &format!("reviews-v{v}"), "reviews", 9080);
        s["spec"]["selector"] = json!({"app": "reviews", "version": format!("v{v}")});
        objs.push(s);
        objs.push(pod(
            "bookinfo",
            &format!("reviews-v{v}-x"),
            json!({"app": "reviews", "version": format!("v{v}")}),
            &format!("{REVIEWS}{v}:1.20.3"),
            json!([]),
        ));
    }
    objs.push(pod(
        "bookinfo",
        "ratings-1",
        json!({"app": "ratings"}),
        "docker.io/istio/examples-bookinfo-ratings-v1:1.20.3",
        json!([]),
    ));
    objs.push(service("bookinfo", "ratings", "ratings", 9080));
    objs.push(route("bookinfo", "reviews", json!({"group": "", "kind": "Service", "name": "reviews", "port": 9080}), json!([
        {"matches": [{"headers": [{"name": "end-user", "value": "jason"}]}], "backendRefs": [{"name": "reviews-v2", "port": 9080}]},
        {"backendRefs": [{"name": "reviews-v1", "port": 9080}]},
    ])));
    objs.extend(policy);
    World::new(vec![ClusterView::new("c1", objs)])
}

#[test]
fn a_waypoint_applies_mesh_routes_by_header() {
    let w = waypoint_world(None);
    let client = from_pod("c1", "bookinfo", "client-1");
    for _ in 0..3 {
        assert!(
            reply(&ask(&w, &client, "http://reviews:9080/reviews/0", &[]))
                .1
                .contains("reviews-v1-x")
        );
    }
    let jason = ask(
        &w,
        &client,
        "http://reviews:9080/reviews/0",
        &[("end-user", "jason")],
    );
    let body = reply(&jason).1;
    assert!(
        body.contains("reviews-v2-x") && body.contains("\"color\": \"black\""),
        "{body}"
    );
    assert!(jason
        .trace
        .iter()
        .any(|l| l.contains("uses waypoint bookinfo/waypoint")));
}

#[test]
fn an_allow_policy_on_the_waypoint_denies_other_namespaces_with_403() {
    let mut p = meta(
        "AuthorizationPolicy",
        "security.istio.io/v1",
        "bookinfo",
        "isolation",
    );
    p["spec"] = json!({"action": "ALLOW", "targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}],
        "rules": [{"from": [{"source": {"namespaces": ["elsewhere"]}}]}]});
    let w = waypoint_world(Some(p));
    let a = ask(
        &w,
        &from_pod("c1", "bookinfo", "client-1"),
        "http://reviews:9080/reviews/0",
        &[],
    );
    assert_eq!(reply(&a), (403, "RBAC: access denied"));
    assert!(
        a.trace.iter().any(|l| l
            .contains("no ALLOW rule matched (AuthorizationPolicy bookinfo/isolation applies)")),
        "{:?}",
        a.trace
    );
}

#[test]
fn a_ztunnel_deny_resets_the_connection() {
    let mut w = waypoint_world(None);
    let mut p = meta(
        "AuthorizationPolicy",
        "security.istio.io/v1",
        "bookinfo",
        "deny-all",
    );
    p["spec"] =
        json!({"action": "DENY", "selector": {"matchLabels": {"app": "ratings"}}, "rules": [{}]});
    let objs: Vec<Value> = w.clusters[0]
        .all("", "Pod")
        .iter()
        .chain(w.clusters[0].all("", "Service"))
        .chain(w.clusters[0].all("", "Namespace"))
        .chain(w.clusters[0].all("apps", "DaemonSet"))
        .cloned()
        .chain([p])
        .collect();
    w.clusters[0] = ClusterView::new("c1", objs);
    let a = ask(
        &w,
        &from_pod("c1", "bookinfo", "client-1"),
        "http://ratings:9080/ratings/0",
        &[],
    );
    assert!(
        matches!(
            a.outcome,
            Outcome::Failed {
                kind: FailureKind::Reset,
                ..
            }
        ),
        "{:?}",
        a.outcome
    );
}

#[test]
fn faults_delay_in_virtual_time_and_timeouts_cut_them_with_504() {
    let mut objs: Vec<Value> = waypoint_world(None)
        .clusters
        .remove(0)
        .all("", "Pod")
        .to_vec();
    let base = waypoint_world(None);
    let c = &base.clusters[0];
    objs.extend(c.all("", "Service").iter().cloned());
    objs.extend(c.all("", "Namespace").iter().cloned());
    objs.extend(c.all("apps", "DaemonSet").iter().cloned());
    objs.extend(
        c.all("gateway.networking.k8s.io", "Gateway")
            .iter()
            .cloned(),
    );
    let mut vs = meta(
        "VirtualService",
        "networking.istio.io/v1",
        "bookinfo",
        "ratings",
    );
    vs["spec"] = json!({"hosts": ["ratings"], "http": [{"fault": {"delay": {"fixedDelay": "2s", "percentage": {"value": 100.0}}}, "route": [{"destination": {"host": "ratings"}}]}]});
    objs.push(vs);
    let mut slow = objs.clone();
    slow.push(route(
        "bookinfo",
        "reviews",
        json!({"group": "", "kind": "Service", "name": "reviews", "port": 9080}),
        json!([{"backendRefs": [{"name": "reviews-v2", "port": 9080}]}]),
    ));
    let w = World::new(vec![ClusterView::new("c1", slow.clone())]);
    let a = ask(
        &w,
        &from_pod("c1", "bookinfo", "client-1"),
        "http://reviews:9080/reviews/0",
        &[],
    );
    assert!(reply(&a).1.contains("\"stars\": 5"));
    assert!(a.elapsed >= Duration::from_secs(2), "{:?}", a.elapsed);
    slow.retain(|o| o["kind"] != "HTTPRoute");
    slow.push(route("bookinfo", "reviews", json!({"group": "", "kind": "Service", "name": "reviews", "port": 9080}),
        json!([{"backendRefs": [{"name": "reviews-v2", "port": 9080}], "timeouts": {"request": "500ms"}}])));
    let w = World::new(vec![ClusterView::new("c1", slow)]);
    let a = ask(
        &w,
        &from_pod("c1", "bookinfo", "client-1"),
        "http://reviews:9080/reviews/0",
        &[],
    );
    assert_eq!(reply(&a), (504, "upstream request timeout"));
    // The timeout, plus the waypoint's own hop.
    assert!(
        a.elapsed >= Duration::from_millis(500) && a.elapsed < Duration::from_millis(510),
        "{:?}",
        a.elapsed
    );
}

#[test]
fn a_virtual_destination_spreads_over_every_cluster() {
    let mk = |cluster: &str| {
        ClusterView::new(
            cluster,
            vec![
                namespace("bookinfo", json!({"istio.io/dataplane-mode": "ambient"})),
                ztunnel(),
                service("bookinfo", "reviews", "reviews", 9080),
                pod(
                    "bookinfo",
                    &format!("reviews-v1-{cluster}"),
                    json!({"app": "reviews"}),
                    &format!("{REVIEWS}1:1.20.3"),
                    json!([]),
                ),
                pod(
                    "bookinfo",
                    &format!("client-{cluster}"),
                    json!({"app": "client"}),
                    "curlimages/curl:8.1",
                    json!([]),
                ),
            ],
        )
    };
    let mut vd = meta(
        "VirtualDestination",
        "networking.gloo.solo.io/v2",
        "bookinfo",
        "reviews-vd",
    );
    vd["spec"] = json!({"hosts": ["reviews.mesh.internal.com"], "ports": [{"number": 9080}], "services": [{"labels": {"app": "reviews"}}]});
    let mgmt = ClusterView::new("mgmt", vec![vd]);
    let w = World::new(vec![mgmt, mk("c1"), mk("c2")]);
    let b = Balancer::default();
    let req = Request::get("http://reviews.mesh.internal.com:9080/reviews/0");
    let bodies: Vec<String> = (0..2)
        .map(|_| {
            match answer(
                &w,
                Models::bundled(),
                &b,
                &from_pod("c1", "bookinfo", "client-c1"),
                &req,
            )
            .outcome
            {
                Outcome::Reply(r) => r.body,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert!(
        bodies[0].contains("reviews-v1-c1") && bodies[1].contains("reviews-v1-c2"),
        "{bodies:?}"
    );
}

#[test]
fn an_egress_waypoint_enforces_policies_on_a_service_entry() {
    let mut se = meta(
        "ServiceEntry",
        "networking.istio.io/v1",
        "bookinfo",
        "httpbin.org",
    );
    se["metadata"]["labels"] = json!({"istio.io/use-waypoint": "egress-gateway", "istio.io/use-waypoint-namespace": "istio-egress"});
    se["spec"] = json!({"hosts": ["httpbin.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]});
    let mut p = meta(
        "AuthorizationPolicy",
        "security.istio.io/v1",
        "bookinfo",
        "ratings-to-httpbin",
    );
    p["spec"] = json!({"action": "ALLOW", "targetRefs": [{"kind": "ServiceEntry", "group": "networking.istio.io", "name": "httpbin.org"}],
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/sa-ratings"]}}]}]});
    let mut objs = vec![
        namespace("bookinfo", json!({"istio.io/dataplane-mode": "ambient"})),
        namespace("istio-egress", json!({})),
        ztunnel(),
        se,
        p,
        pod(
            "bookinfo",
            "ratings-1",
            json!({"app": "ratings"}),
            "docker.io/istio/examples-bookinfo-ratings-v1:1.20.3",
            json!([]),
        ),
        pod(
            "bookinfo",
            "reviews-1",
            json!({"app": "reviews"}),
            &format!("{REVIEWS}1:1.20.3"),
            json!([]),
        ),
    ];
    objs.extend(gateway_with_service(
        "istio-egress",
        "egress-gateway",
        "istio-waypoint",
        15008,
        "",
    ));
    let w = World::new(vec![ClusterView::new("c1", objs)]);
    let ok = ask(
        &w,
        &from_pod("c1", "bookinfo", "ratings-1"),
        "http://httpbin.org/get",
        &[],
    );
    assert!(
        reply(&ok).1.contains("\"url\": \"http://httpbin.org/get\""),
        "{:?}",
        ok.outcome
    );
    let denied = ask(
        &w,
        &from_pod("c1", "bookinfo", "reviews-1"),
        "http://httpbin.org/get",
        &[],
    );
    assert_eq!(reply(&denied), (403, "RBAC: access denied"));
}

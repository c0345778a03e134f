//! Istio's traffic and security APIs as the data plane applies them.
//!
//! - VirtualService (https://istio.io/latest/docs/reference/config/networking/virtual-service/):
//!   `http` routes are evaluated in order and the first whose `match` holds wins (no match list:
//!   matches everything); a route's destinations are weighted; `fault.delay`/`fault.abort`
//!   apply to the share given by `percentage`; `timeout` bounds the upstream's answer.
//! - DestinationRule subsets (https://istio.io/latest/docs/reference/config/networking/destination-rule/):
//!   a subset is the endpoints whose labels include the subset's labels.
//! - AuthorizationPolicy (https://istio.io/latest/docs/reference/config/security/authorization-policy/):
//!   CUSTOM, then DENY, then ALLOW: any matching DENY denies; when any ALLOW policy applies to
//!   the workload and none matches, the request is denied; with no ALLOW policy it is allowed.
//!   A policy without `rules` matches nothing; a rule with no fields matches everything. In
//!   ambient mode ztunnel enforces only L4 attributes; a policy it enforces that names L7
//!   attributes fails closed (an ALLOW rule with them never matches, a DENY rule matches on
//!   its L4 part) (https://istio.io/latest/docs/ambient/usage/l4-policy/). Policies with
//!   `targetRefs` are enforced by the waypoint (or gateway) they point at.

use serde_json::Value;

use super::world::{name, namespace, ClusterView};
use super::Request;

/// Whether a VirtualService or DestinationRule `host` (short names are relative to the
/// object's namespace) names the FQDN `fqdn`.
pub fn host_refers_to(host: &str, object_ns: &str, fqdn: &str) -> bool {
    let h = host.to_ascii_lowercase();
    if h == fqdn {
        return true;
    }
    if let Some(suffix) = h.strip_prefix("*.") {
        return fqdn.ends_with(&format!(".{suffix}"));
    }
    if !h.contains('.') {
        return format!("{h}.{object_ns}.svc.cluster.local") == fqdn;
    }
    // `name.ns` and `name.ns.svc` short forms.
    format!("{h}.svc.cluster.local") == fqdn || format!("{h}.cluster.local") == fqdn
}

/// The first VirtualService (oldest first) whose hosts name `fqdn`.
pub fn virtual_service_for<'w>(c: &'w ClusterView, fqdn: &str) -> Option<&'w Value> {
    c.all("networking.istio.io", "VirtualService")
        .iter()
        .find(|vs| {
            vs["spec"]["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|h| host_refers_to(h, namespace(vs), fqdn))
        })
}

/// The first `http` route of a VirtualService that matches the request: `(index, route)`.
pub fn http_route<'w>(vs: &'w Value, req: &Request) -> Option<(usize, &'w Value)> {
    vs["spec"]["http"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .find(|(_, r)| match r["match"].as_array() {
            Some(ms) if !ms.is_empty() => ms.iter().any(|m| request_matches(m, req)),
            _ => true,
        })
}

fn string_match(m: &Value, got: Option<&str>) -> bool {
    let Some(got) = got else { return false };
    if let Some(v) = m["exact"].as_str() {
        return got == v;
    }
    if let Some(v) = m["prefix"].as_str() {
        return got.starts_with(v);
    }
    if let Some(v) = m["regex"].as_str() {
        return regex::Regex::new(&format!("^(?:{v})$"))
            .map(|r| r.is_match(got))
            .unwrap_or(false);
    }
    true
}

fn request_matches(m: &Value, req: &Request) -> bool {
    if !m["uri"].is_null() && !string_match(&m["uri"], Some(req.path_only())) {
        return false;
    }
    if !m["method"].is_null() && !string_match(&m["method"], Some(&req.method)) {
        return false;
    }
    if let Some(p) = m["port"].as_u64() {
        if u64::from(req.port) != p {
            return false;
        }
    }
    for (hname, hm) in m["headers"].as_object().into_iter().flatten() {
        if !string_match(hm, req.header(hname)) {
            return false;
        }
    }
    for (qname, qm) in m["queryParams"].as_object().into_iter().flatten() {
        if !string_match(qm, req.query_param(qname).as_deref()) {
            return false;
        }
    }
    true
}

/// The labels of subset `subset` of `fqdn` from the DestinationRules of a cluster.
pub fn subset_labels<'w>(c: &'w ClusterView, fqdn: &str, subset: &str) -> Option<&'w Value> {
    c.all("networking.istio.io", "DestinationRule")
        .iter()
        .filter(|dr| {
            dr["spec"]["host"]
                .as_str()
                .is_some_and(|h| host_refers_to(h, namespace(dr), fqdn))
        })
        .flat_map(|dr| dr["spec"]["subsets"].as_array().into_iter().flatten())
        .find(|s| s["name"] == subset)
        .map(|s| &s["labels"])
}

/// Who is calling, as policies see it.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// SPIFFE-style principal `cluster.local/ns/NS/sa/SA`, when the caller has a mesh identity.
    pub principal: Option<String>,
    /// The caller's namespace, when it has a mesh identity.
    pub namespace: Option<String>,
}

/// Where a policy is enforced.
pub enum Enforcer<'w> {
    /// The destination pod's ztunnel (or sidecar when `l7` is true).
    Workload { pod: &'w Value, l7: bool },
    /// A waypoint or gateway: policies whose `targetRefs` point at it or at `service`.
    Proxy {
        gateway: &'w Value,
        service: Option<(&'w str, &'w str, &'w str)>,
    },
}

/// The decision and the policy that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Option<String>),
    Deny(String),
}

fn targets(policy: &Value) -> Vec<&Value> {
    let mut out: Vec<&Value> = policy["spec"]["targetRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if policy["spec"]["targetRef"].is_object() {
        out.push(&policy["spec"]["targetRef"]);
    }
    out
}

fn applies(policy: &Value, enforcer: &Enforcer<'_>, root_ns: &str) -> bool {
    let refs = targets(policy);
    match enforcer {
        Enforcer::Workload { pod, .. } => {
            if !refs.is_empty() {
                return false;
            }
            let pns = namespace(policy);
            if pns != root_ns && pns != namespace(pod) {
                return false;
            }
            match policy["spec"]["selector"]["matchLabels"].as_object() {
                Some(sel) => super::world::selector_matches_labels(sel, &pod["metadata"]["labels"]),
                None => true,
            }
        }
        Enforcer::Proxy { gateway, service } => refs.iter().any(|r| {
            let kind = r["kind"].as_str().unwrap_or_default();
            let rname = r["name"].as_str().unwrap_or_default();
            let rns = namespace(policy);
            match kind {
                "Gateway" => rname == name(gateway) && rns == namespace(gateway),
                "Service" | "ServiceEntry" => {
                    service.is_some_and(|(k, ns, n)| k == kind && ns == rns && n == rname)
                }
                _ => false,
            }
        }),
    }
}

fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(s) = pattern.strip_prefix('*') {
        return value.ends_with(s);
    }
    if let Some(p) = pattern.strip_suffix('*') {
        return value.starts_with(p);
    }
    pattern == value
}

fn any_glob(list: &Value, value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|p| glob_match(p, v))
}

/// L4 attribute names; everything else in a rule is L7.
const L7_OPERATION: &[&str] = &[
    "hosts",
    "notHosts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];

fn has_l7(rule: &Value) -> bool {
    let op_l7 = rule["to"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| L7_OPERATION.iter().any(|k| !t["operation"][*k].is_null()));
    let src_l7 = rule["from"].as_array().into_iter().flatten().any(|f| {
        !f["source"]["requestPrincipals"].is_null()
            || !f["source"]["notRequestPrincipals"].is_null()
    });
    let when_l7 = rule["when"].as_array().into_iter().flatten().any(|w| {
        w["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("request.") || k.starts_with("request"))
    });
    op_l7 || src_l7 || when_l7
}

fn source_matches(s: &Value, peer: &Peer) -> bool {
    let p = peer.principal.as_deref();
    let n = peer.namespace.as_deref();
    if !s["principals"].is_null() && !any_glob(&s["principals"], p) {
        return false;
    }
    if !s["notPrincipals"].is_null() && any_glob(&s["notPrincipals"], p) {
        return false;
    }
    if !s["namespaces"].is_null() && !any_glob(&s["namespaces"], n) {
        return false;
    }
    if !s["notNamespaces"].is_null() && any_glob(&s["notNamespaces"], n) {
        return false;
    }
    if !s["requestPrincipals"].is_null() {
        // No JWTs in the simulated data plane.
        return false;
    }
    true
}

fn operation_matches(o: &Value, req: &Request, l4_only: bool) -> bool {
    let port = req.port.to_string();
    if !o["ports"].is_null() && !any_glob(&o["ports"], Some(&port)) {
        return false;
    }
    if !o["notPorts"].is_null() && any_glob(&o["notPorts"], Some(&port)) {
        return false;
    }
    if l4_only {
        return true;
    }
    let host = req.authority_host();
    let checks: [(&str, Option<&str>, bool); 6] = [
        ("hosts", Some(host.as_str()), true),
        ("notHosts", Some(host.as_str()), false),
        ("methods", Some(req.method.as_str()), true),
        ("notMethods", Some(req.method.as_str()), false),
        ("paths", Some(req.path_only()), true),
        ("notPaths", Some(req.path_only()), false),
    ];
    for (field, value, positive) in checks {
        if o[field].is_null() {
            continue;
        }
        if any_glob(&o[field], value) != positive {
            return false;
        }
    }
    true
}

fn condition_value<'a>(key: &str, req: &'a Request, peer: &'a Peer) -> Option<String> {
    if let Some(h) = key
        .strip_prefix("request.headers[")
        .and_then(|k| k.strip_suffix(']'))
    {
        return req.header(h).map(String::from);
    }
    match key {
        "source.namespace" => peer.namespace.clone(),
        "source.principal" => peer.principal.clone(),
        "destination.port" => Some(req.port.to_string()),
        _ => None,
    }
}

fn rule_matches(rule: &Value, req: &Request, peer: &Peer, l4_only: bool) -> bool {
    let from_ok = match rule["from"].as_array() {
        Some(f) if !f.is_empty() => f.iter().any(|f| source_matches(&f["source"], peer)),
        _ => true,
    };
    let to_ok = match rule["to"].as_array() {
        Some(t) if !t.is_empty() => t
            .iter()
            .any(|t| operation_matches(&t["operation"], req, l4_only)),
        _ => true,
    };
    let when_ok = l4_only
        || rule["when"].as_array().into_iter().flatten().all(|w| {
            let key = w["key"].as_str().unwrap_or_default();
            let got = condition_value(key, req, peer);
            let v = got.as_deref();
            (w["values"].is_null() || any_glob(&w["values"], v))
                && (w["notValues"].is_null() || !any_glob(&w["notValues"], v))
        });
    from_ok && to_ok && when_ok
}

/// Evaluates the policies of cluster `c` that `enforcer` enforces.
pub fn authorize(c: &ClusterView, enforcer: &Enforcer<'_>, peer: &Peer, req: &Request) -> Decision {
    const ROOT_NAMESPACE: &str = "istio-system";
    let l7_capable = match enforcer {
        Enforcer::Workload { l7, .. } => *l7,
        Enforcer::Proxy { .. } => true,
    };
    let policies: Vec<&Value> = c
        .all("security.istio.io", "AuthorizationPolicy")
        .iter()
        .filter(|p| applies(p, enforcer, ROOT_NAMESPACE))
        .collect();
    let label = |p: &Value| format!("AuthorizationPolicy {}/{}", namespace(p), name(p));
    let action = |p: &Value| p["spec"]["action"].as_str().unwrap_or("ALLOW").to_string();
    let matches = |p: &Value, deny: bool| {
        p["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                let l7 = has_l7(r);
                if l7 && !l7_capable {
                    // Fail closed: an ALLOW rule with L7 attributes never matches at ztunnel; a
                    // DENY rule matches on its L4 attributes alone.
                    return deny && rule_matches(r, req, peer, true);
                }
                rule_matches(r, req, peer, false)
            })
    };
    for p in policies.iter().filter(|p| action(p) == "DENY") {
        if matches(p, true) {
            return Decision::Deny(format!("{} (DENY) matched", label(p)));
        }
    }
    let allows: Vec<&&Value> = policies.iter().filter(|p| action(p) == "ALLOW").collect();
    if allows.is_empty() {
        return Decision::Allow(None);
    }
    match allows.iter().find(|p| matches(p, false)) {
        Some(p) => Decision::Allow(Some(format!("{} (ALLOW) matched", label(p)))),
        None => Decision::Deny(format!(
            "no ALLOW rule matched ({} applies)",
            allows
                .iter()
                .map(|p| label(p))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(objects: Vec<Value>) -> ClusterView {
        ClusterView::new("c1", objects)
    }

    fn policy(ns: &str, spec: Value) -> Value {
        json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
               "metadata": {"name": "p", "namespace": ns, "creationTimestamp": "2024-01-01T00:00:00Z"},
               "spec": spec})
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "reviews-v1-x", "namespace": "bookinfo", "labels": {"app": "reviews"}}})
    }

    fn peer(ns: &str, sa: &str) -> Peer {
        Peer {
            principal: Some(format!("cluster.local/ns/{ns}/sa/{sa}")),
            namespace: Some(ns.into()),
        }
    }

    #[test]
    fn no_policy_allows_and_an_unmatched_allow_denies() {
        let req = Request::get("http://reviews:9080/reviews/0");
        let p = pod();
        let e = Enforcer::Workload { pod: &p, l7: false };
        assert_eq!(
            authorize(&view(vec![]), &e, &peer("x", "y"), &req),
            Decision::Allow(None)
        );
        let c = view(vec![policy(
            "bookinfo",
            json!({"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["bookinfo"]}}]}]}),
        )]);
        assert!(matches!(
            authorize(&c, &e, &peer("other", "sa"), &req),
            Decision::Deny(_)
        ));
        assert!(matches!(
            authorize(&c, &e, &peer("bookinfo", "sa"), &req),
            Decision::Allow(Some(_))
        ));
    }

    #[test]
    fn deny_wins_and_a_policy_without_rules_matches_nothing() {
        let req = Request::get("http://reviews:9080/reviews/0");
        let p = pod();
        let e = Enforcer::Workload { pod: &p, l7: false };
        let c = view(vec![policy(
            "bookinfo",
            json!({"action": "DENY", "rules": [{}]}),
        )]);
        assert!(matches!(
            authorize(&c, &e, &peer("bookinfo", "sa"), &req),
            Decision::Deny(_)
        ));
        let allow_nothing = view(vec![policy("bookinfo", json!({"action": "ALLOW"}))]);
        assert!(matches!(
            authorize(&allow_nothing, &e, &peer("bookinfo", "sa"), &req),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn ztunnel_fails_closed_on_l7_rules_and_waypoints_enforce_target_refs() {
        let req = Request::get("http://reviews:9080/reviews/0");
        let p = pod();
        let l7_allow = view(vec![policy(
            "bookinfo",
            json!({"action": "ALLOW", "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}),
        )]);
        let ztunnel = Enforcer::Workload { pod: &p, l7: false };
        assert!(matches!(
            authorize(&l7_allow, &ztunnel, &peer("bookinfo", "sa"), &req),
            Decision::Deny(_)
        ));
        let sidecar = Enforcer::Workload { pod: &p, l7: true };
        assert!(matches!(
            authorize(&l7_allow, &sidecar, &peer("bookinfo", "sa"), &req),
            Decision::Allow(_)
        ));

        let waypoint = json!({"metadata": {"name": "waypoint", "namespace": "bookinfo"}});
        let targeted = view(vec![policy(
            "bookinfo",
            json!({"action": "ALLOW", "targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}],
                   "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/bookinfo-ratings"]}}]}]}),
        )]);
        let e = Enforcer::Proxy {
            gateway: &waypoint,
            service: None,
        };
        assert!(matches!(
            authorize(&targeted, &e, &peer("bookinfo", "bookinfo-reviews"), &req),
            Decision::Deny(_)
        ));
        assert!(matches!(
            authorize(&targeted, &e, &peer("bookinfo", "bookinfo-ratings"), &req),
            Decision::Allow(_)
        ));
        // A policy with targetRefs is not enforced by ztunnel.
        assert_eq!(
            authorize(&targeted, &ztunnel, &peer("x", "y"), &req),
            Decision::Allow(None)
        );
    }

    #[test]
    fn virtual_service_routes_match_in_order_and_subsets_resolve() {
        let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"hosts": ["reviews"], "http": [
                {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
                {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]}]}});
        let dr = json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}});
        let c = view(vec![vs, dr]);
        let fqdn = "reviews.bookinfo.svc.cluster.local";
        let vs = virtual_service_for(&c, fqdn).unwrap();
        let mut jason = Request::get("http://reviews:9080/reviews/0");
        jason.headers.push(("end-user".into(), "jason".into()));
        assert_eq!(http_route(vs, &jason).unwrap().0, 0);
        assert_eq!(
            http_route(vs, &Request::get("http://reviews:9080/"))
                .unwrap()
                .0,
            1
        );
        assert_eq!(subset_labels(&c, fqdn, "v2").unwrap()["version"], "v2");
        assert!(virtual_service_for(&c, "ratings.bookinfo.svc.cluster.local").is_none());
    }
}

//! Gateway API HTTPRoute matching, as the specification defines it
//! (https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec, `HTTPRouteRule.matches`):
//! across every route attached to a parent, the most specific match wins — an exact path
//! beats any prefix, a longer prefix beats a shorter one, then a method match, then the most
//! header matches, then the most query matches; ties go to the oldest route, then
//! namespace/name, then the first rule in the route. A request no rule matches gets 404.

use serde_json::Value;

use super::world::{name, namespace};
use super::Request;

/// One rule of one route that matched, with what made it specific.
#[derive(Debug, Clone)]
pub struct RouteMatch<'w> {
    pub route: &'w Value,
    pub rule_index: usize,
    pub rule: &'w Value,
    /// Human description of the match (`PathPrefix /`).
    pub matched: String,
    rank: Rank,
}

/// How specific a match is: path kind (exact 3, prefix 2, regex 1), prefix length, method,
/// header matches, query matches; compared in that order.
type Rank = (u8, usize, u8, usize, usize);

/// Whether a route's `hostnames` admit the request's host (no hostnames: any). A leading
/// `*.` matches one or more labels.
pub fn hostname_matches(hostnames: &Value, host: &str) -> bool {
    let Some(list) = hostnames.as_array().filter(|l| !l.is_empty()) else {
        return true;
    };
    list.iter()
        .filter_map(Value::as_str)
        .any(|h| host_pattern_matches(h, host))
}

pub fn host_pattern_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == host || pattern == "*",
    }
}

/// Picks the best-matching rule among `routes` for `req` (host already checked by caller).
pub fn best_match<'w>(routes: &[&'w Value], req: &Request) -> Option<RouteMatch<'w>> {
    let mut best: Option<RouteMatch<'w>> = None;
    for route in routes {
        for (i, rule) in route["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let matches: Vec<Value> = match rule["matches"].as_array() {
                Some(m) if !m.is_empty() => m.clone(),
                // A rule without matches matches every request as `PathPrefix /`.
                _ => vec![serde_json::json!({"path": {"type": "PathPrefix", "value": "/"}})],
            };
            for m in &matches {
                let Some((rank, matched)) = match_one(m, req) else {
                    continue;
                };
                let better = match &best {
                    None => true,
                    // Higher rank wins; equal ranks keep the earlier (older) candidate.
                    Some(b) => rank > b.rank,
                };
                if better {
                    best = Some(RouteMatch {
                        route,
                        rule_index: i,
                        rule,
                        matched,
                        rank,
                    });
                }
            }
        }
    }
    best
}

/// Orders routes as the tie-breakers want: oldest first, then namespace/name.
pub fn sort_routes(routes: &mut [&Value]) {
    routes.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                namespace(o).to_string(),
                name(o).to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
}

fn match_one(m: &Value, req: &Request) -> Option<(Rank, String)> {
    let path = req.path_only();
    let mut desc = Vec::new();
    let (kind, len) = match m.get("path") {
        Some(p) if !p.is_null() => {
            let t = p["type"].as_str().unwrap_or("PathPrefix");
            let v = p["value"].as_str().unwrap_or("/");
            let ok = match t {
                "Exact" => path == v,
                "RegularExpression" => regex::Regex::new(&format!("^(?:{v})$"))
                    .map(|r| r.is_match(path))
                    .unwrap_or(false),
                _ => prefix_matches(v, path),
            };
            if !ok {
                return None;
            }
            desc.push(format!("{t} {v}"));
            let kind = match t {
                "Exact" => 3,
                "RegularExpression" => 1,
                _ => 2,
            };
            (kind, v.len())
        }
        _ => {
            desc.push("PathPrefix /".to_string());
            (2, 1)
        }
    };
    let method = match m["method"].as_str() {
        Some(want) if !want.eq_ignore_ascii_case(&req.method) => return None,
        Some(want) => {
            desc.push(format!("method {want}"));
            1
        }
        None => 0,
    };
    let headers = m["headers"].as_array().map(Vec::len).unwrap_or(0);
    for h in m["headers"].as_array().into_iter().flatten() {
        let hname = h["name"].as_str().unwrap_or_default();
        let want = h["value"].as_str().unwrap_or_default();
        let got = req.header(hname);
        let ok = match (h["type"].as_str().unwrap_or("Exact"), got) {
            ("RegularExpression", Some(g)) => regex::Regex::new(want)
                .map(|r| r.is_match(g))
                .unwrap_or(false),
            (_, Some(g)) => g == want,
            (_, None) => false,
        };
        if !ok {
            return None;
        }
        desc.push(format!("header {hname}: {want}"));
    }
    let query = m["queryParams"].as_array().map(Vec::len).unwrap_or(0);
    for q in m["queryParams"].as_array().into_iter().flatten() {
        let qname = q["name"].as_str().unwrap_or_default();
        let want = q["value"].as_str().unwrap_or_default();
        if req.query_param(qname).as_deref() != Some(want) {
            return None;
        }
        desc.push(format!("query {qname}={want}"));
    }
    Some(((kind, len, method, headers, query), desc.join(", ")))
}

/// `PathPrefix` matches whole path elements: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        return true;
    }
    path == p || path.starts_with(&format!("{p}/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(path: &str) -> Request {
        Request::get(&format!("http://example.com{path}"))
    }

    fn route(name: &str, created: &str, rules: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
               "spec": {"rules": rules}})
    }

    #[test]
    fn exact_beats_prefix_and_longer_prefix_beats_shorter() {
        let r = route(
            "r",
            "2024-01-01T00:00:00Z",
            json!([
                {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "root"}]},
                {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": [{"name": "api"}]},
                {"matches": [{"path": {"type": "Exact", "value": "/api/v1"}}], "backendRefs": [{"name": "exact"}]},
            ]),
        );
        let routes = vec![&r];
        assert_eq!(best_match(&routes, &req("/api/v1")).unwrap().rule_index, 2);
        assert_eq!(best_match(&routes, &req("/api/v2")).unwrap().rule_index, 1);
        assert_eq!(best_match(&routes, &req("/apix")).unwrap().rule_index, 0);
    }

    #[test]
    fn headers_and_method_break_ties_then_the_oldest_route_wins() {
        let old = route(
            "old",
            "2024-01-01T00:00:00Z",
            json!([{"backendRefs": [{"name": "a"}]}]),
        );
        let new = route(
            "new",
            "2025-01-01T00:00:00Z",
            json!([{"matches": [{"headers": [{"name": "end-user", "value": "jason"}]}], "backendRefs": [{"name": "b"}]}]),
        );
        let newer = route(
            "newer",
            "2026-01-01T00:00:00Z",
            json!([{"backendRefs": [{"name": "c"}]}]),
        );
        let mut routes = vec![&newer, &new, &old];
        sort_routes(&mut routes);
        let mut jason = req("/");
        jason.headers.push(("end-user".into(), "jason".into()));
        assert_eq!(
            best_match(&routes, &jason).unwrap().route["metadata"]["name"],
            "new"
        );
        assert_eq!(
            best_match(&routes, &req("/")).unwrap().route["metadata"]["name"],
            "old"
        );
    }

    #[test]
    fn no_match_is_none_and_wildcard_hostnames_match_subdomains() {
        let r = route(
            "r",
            "2024-01-01T00:00:00Z",
            json!([{"matches": [{"path": {"type": "Exact", "value": "/productpage"}}]}]),
        );
        assert!(best_match(&[&r], &req("/other")).is_none());
        assert!(hostname_matches(
            &json!(["*.example.com"]),
            "a.b.example.com"
        ));
        assert!(!hostname_matches(&json!(["*.example.com"]), "example.com"));
        assert!(hostname_matches(&json!([]), "anything"));
    }
}

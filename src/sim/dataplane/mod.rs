//! The simulated data plane: given a request, which workload instance in which simulated
//! cluster serves it, what that workload answers, how long it takes, and why.
//!
//! Everything here is a pure function of a [`World`] (a snapshot of the linked clusters'
//! objects), the workload behaviours ([`Models`], data under `stdlib/sim/workloads/`) and the
//! [`Balancer`]'s round-robin counters. Time is virtual: an injected 2 s delay makes a 2 s
//! `elapsed`, without sleeping. Every answer carries a trace of the routes, policies and
//! endpoints that decided it.
//!
//! | file | holds |
//! | --- | --- |
//! | `world.rs` | [`World`], [`ClusterView`]: the snapshot and its look-ups; cluster links |
//! | `gateway_api.rs` | HTTPRoute match precedence, hostnames |
//! | `istio.rs` | VirtualService, DestinationRule subsets, AuthorizationPolicy |
//! | `engine.rs` | the request's journey: entry points, mesh routing, endpoints, workloads |
//! | `workloads.rs` | workload behaviours by image |
//! | `curl.rs` | curl's command line inside a pod (exec), and what it prints |
//! | `frontdoor.rs` | `sim serve`: every load-balancer address served on a local port |

pub mod curl;
mod engine;
#[cfg(test)]
mod engine_tests;
pub mod frontdoor;
pub mod gateway_api;
pub mod istio;
pub mod workloads;
pub mod world;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub use engine::answer;
pub use workloads::Models;
pub use world::{ClusterView, World, KINDS};

/// One HTTP request entering the simulated data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// The URL's host (a name or an address), lower-case.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Header names in lower case; a `host` header overrides the URL's authority.
    pub headers: Vec<(String, String)>,
    /// The address actually connected to when it differs from `host` (curl's `--resolve`).
    pub connect_to: Option<String>,
    pub body: Option<String>,
}

/// A URL a simulated request cannot be made to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("`{url}` is not a URL: {message}")]
    NotAUrl { url: String, message: String },
    #[error("`{0}` has no host")]
    NoHost(String),
}

impl Request {
    /// Parses `url` (`http://host:port/path?query`).
    pub fn new(method: &str, url: &str) -> Result<Request, UrlError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| UrlError::NotAUrl {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri
            .host()
            .ok_or_else(|| UrlError::NoHost(url.to_string()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Request {
            method: method.to_ascii_uppercase(),
            scheme,
            host,
            port,
            path,
            headers: Vec::new(),
            connect_to: None,
            body: None,
        })
    }

    /// A GET of `url`; panics on a malformed URL (tests and literals only).
    #[cfg(test)]
    pub fn get(url: &str) -> Request {
        Request::new("GET", url).expect("a valid URL")
    }

    /// The path without its query.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("/")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.path.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.to_string())
        })
    }

    /// The host the request names (its Host header without port, else the URL's host).
    pub fn authority_host(&self) -> String {
        match self.header("host") {
            Some(h) => {
                let h = h.trim();
                let h = if h.starts_with('[') {
                    h.split(']').next().unwrap_or(h).trim_start_matches('[')
                } else {
                    h.rsplit_once(':')
                        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
                        .map(|(h, _)| h)
                        .unwrap_or(h)
                };
                h.to_ascii_lowercase()
            }
            None => self.host.clone(),
        }
    }

    /// The URL as the application sees it.
    pub fn url(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            format!("{}://{}{}", self.scheme, self.authority_host(), self.path)
        } else {
            format!(
                "{}://{}:{}{}",
                self.scheme,
                self.authority_host(),
                self.port,
                self.path
            )
        }
    }

    /// Where the connection goes: the `--resolve` address, else the host.
    pub fn target(&self) -> &str {
        self.connect_to.as_deref().unwrap_or(&self.host)
    }
}

/// Where a request starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Outside every cluster (a laptop, a browser): only load-balancer addresses answer.
    Outside,
    /// Inside a pod (`kubectl exec ... curl`).
    Pod {
        cluster: String,
        namespace: String,
        pod: String,
    },
    /// Straight to a pod's port (a port-forward): no Service, no mesh routing.
    PodPort {
        cluster: String,
        namespace: String,
        pod: String,
        port: u16,
    },
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// How a request failed below HTTP, with curl's exit code for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The name does not resolve (curl 6).
    Resolve,
    /// Nothing accepts the connection (curl 7).
    Connect,
    /// The connection was reset, as ztunnel does to a denied L4 connection (curl 56).
    Reset,
    /// No answer within the client's timeout (curl 28).
    Timeout,
    /// The TLS handshake failed (curl 35).
    Tls,
}

impl FailureKind {
    pub fn curl_exit(self) -> i32 {
        match self {
            FailureKind::Resolve => 6,
            FailureKind::Connect => 7,
            FailureKind::Reset => 56,
            FailureKind::Timeout => 28,
            FailureKind::Tls => 35,
        }
    }
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reply(Reply),
    Failed {
        kind: FailureKind,
        message: String,
    },
    /// The model cannot say what would happen (no behaviour for an image): the check that
    /// asked must be skipped, never passed.
    Unmodelled(String),
}

/// The answer to one request: outcome, virtual time, and the trace of why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub elapsed: Duration,
    pub trace: Vec<String>,
}

/// Round-robin counters: which endpoint or backend comes next, per decision point. Kept by
/// the caller across requests so that a sample of requests spreads as a real proxy's would.
#[derive(Debug, Default)]
pub struct Balancer {
    counters: Mutex<HashMap<String, u64>>,
}

impl Balancer {
    /// The next turn at decision point `key` (0, 1, 2, ...).
    pub fn next(&self, key: &str) -> u64 {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.entry(key.to_string()).or_insert(0);
        let turn = *n;
        *n += 1;
        turn
    }
}

/// Smooth weighted round robin (as nginx and Envoy's WRR spread picks): the index chosen at
/// turn `n` for `weights`; `None` when every weight is 0.
pub fn pick_weighted(turn: u64, weights: &[u64]) -> Option<usize> {
    let g = weights.iter().copied().filter(|w| *w > 0).fold(0, gcd);
    if g == 0 {
        return None;
    }
    let w: Vec<i64> = weights
        .iter()
        .map(|x| i64::try_from((x / g).min(10_000)).unwrap_or(10_000))
        .collect();
    let total: i64 = w.iter().sum();
    let steps = (turn % u64::try_from(total).unwrap_or(1)) + 1;
    let mut current = vec![0i64; w.len()];
    let mut chosen = 0;
    for _ in 0..steps {
        for (c, wi) in current.iter_mut().zip(&w) {
            *c += wi;
        }
        chosen = (0..w.len()).max_by_key(|i| (current[*i], -(*i as i64)))?;
        current[chosen] -= total;
    }
    Some(chosen)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_picks_spread_by_weight() {
        let picks: Vec<usize> = (0..4).map(|t| pick_weighted(t, &[1, 1]).unwrap()).collect();
        assert_eq!(picks, [0, 1, 0, 1]);
        let mut counts = [0; 2];
        for t in 0..100 {
            counts[pick_weighted(t, &[90, 10]).unwrap()] += 1;
        }
        assert_eq!(counts, [90, 10]);
        assert_eq!(pick_weighted(0, &[0, 0]), None);
        assert_eq!(pick_weighted(5, &[0, 3]), Some(1));
    }

    #[test]
    fn requests_parse_urls_and_host_headers() {
        let mut r = Request::get("http://198.51.100.1/productpage?u=normal");
        assert_eq!(
            (r.host.as_str(), r.port, r.path_only()),
            ("198.51.100.1", 80, "/productpage")
        );
        assert_eq!(r.query_param("u").as_deref(), Some("normal"));
        r.headers
            .push(("Host".into(), "bookinfo.example.com:8080".into()));
        assert_eq!(r.authority_host(), "bookinfo.example.com");
        let s = Request::get("https://[::1]:8443/");
        assert_eq!((s.host.as_str(), s.port), ("::1", 8443));
    }
}

//! `curl`: one request over reqwest with rustls, TLS verified unless `insecure`.

use std::error::Error as _;
use std::time::{Duration, Instant};

use super::options::host_and_port;
use super::response::{format_duration, millis};
use super::{HttpError, RequestOptions, Response};

/// Tells which hosts or addresses belong to a simulated cluster (a LoadBalancer address from
/// its pool, a port-forward into one of its pods), and answers requests to them from the
/// simulated data plane: they never go over a real network.
///
/// Each target is asked about twice: as a bare host (`172.18.255.1`, `bookinfo.example.com`)
/// and as an authority with its port (`127.0.0.1:40123`, `[::1]:8080`), so a simulated
/// port-forward on a local port can be told apart from a real server on the same host.
pub trait SimulatedTargets: Send + Sync {
    /// True when `target` (a host or `host:port`, as in a URL) is served by a simulated cluster.
    fn is_simulated(&self, target: &str) -> bool;

    /// Answers a request to a simulated target. The default cannot: the response says why,
    /// and a check that gets it is skipped.
    fn answer<'a>(
        &'a self,
        url: &'a str,
        _opts: &'a RequestOptions,
    ) -> futures::future::BoxFuture<'a, Response> {
        Box::pin(async move {
            let target = host_and_port(url)
                .map(|(h, _)| h)
                .unwrap_or_else(|_| url.to_string());
            Response::unanswered(simulated_reason(&target))
        })
    }
}

/// No simulated clusters: every request is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSimulatedTargets;

impl SimulatedTargets for NoSimulatedTargets {
    fn is_simulated(&self, _host: &str) -> bool {
        false
    }
}

impl<F: Fn(&str) -> bool + Send + Sync> SimulatedTargets for F {
    fn is_simulated(&self, host: &str) -> bool {
        self(host)
    }
}

/// The simulated host or address a request to `url` would reach, if any: the URL's host, or an
/// address `resolve` sends it to.
#[must_use]
pub fn simulated_target(
    url: &str,
    opts: &RequestOptions,
    sim: &dyn SimulatedTargets,
) -> Option<String> {
    let (host, port) = host_and_port(url).ok()?;
    let mut candidates = vec![(host.clone(), port)];
    candidates.extend(
        active_resolves(opts, &host, port)
            .flat_map(|r| r.addrs.iter().map(|a| (a.to_string(), r.port))),
    );
    candidates.into_iter().find_map(|(host, port)| {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        if sim.is_simulated(&host) {
            Some(host)
        } else if sim.is_simulated(&authority) {
            Some(authority)
        } else {
            None
        }
    })
}

/// Why a request to a simulated target was not answered, for a SKIPPED check.
#[must_use]
pub fn simulated_reason(target: &str) -> String {
    format!("`{target}` belongs to a simulated cluster and no simulated data plane answers it")
}

fn active_resolves<'a>(
    opts: &'a RequestOptions,
    host: &'a str,
    port: u16,
) -> impl Iterator<Item = &'a super::Resolve> + 'a {
    opts.resolve
        .iter()
        .filter(move |r| r.host.eq_ignore_ascii_case(host) && r.port == port)
}

/// Sends one request. Never fails: a connection failure, a timeout or a refused certificate is a
/// [`Response`] with status 0 and `error`; a simulated target is answered by the simulated
/// data plane (`simulated: true`).
pub async fn curl(url: &str, opts: &RequestOptions, sim: &dyn SimulatedTargets) -> Response {
    if simulated_target(url, opts, sim).is_some() {
        return sim.answer(url, opts).await;
    }
    match build_client(url, opts) {
        Ok(client) => send(&client, url, opts).await,
        Err(error) => Response::failed(error.to_string(), Duration::ZERO),
    }
}

/// A client for requests to `url` with `opts` (reusable for many requests to the same URL).
///
/// System proxies are not used: meshbook talks to gateway addresses a proxy would not reach.
pub(crate) fn build_client(url: &str, opts: &RequestOptions) -> Result<reqwest::Client, HttpError> {
    let (host, port) = host_and_port(url)?;
    let redirects = if opts.follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(redirects)
        .danger_accept_invalid_certs(opts.insecure)
        .timeout(opts.timeout);
    for r in active_resolves(opts, &host, port) {
        builder = builder.resolve_to_addrs(&r.host, &r.socket_addrs());
    }
    builder
        .build()
        .map_err(|e| HttpError::Client(describe(&e, opts.timeout)))
}

/// Sends one request with a prepared client.
pub(crate) async fn send(client: &reqwest::Client, url: &str, opts: &RequestOptions) -> Response {
    let start = Instant::now();
    let mut request = client
        .request(opts.method.clone(), url)
        .timeout(opts.timeout);
    for (name, value) in &opts.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &opts.body {
        request = request.body(body.clone());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Response::failed(describe(&e, opts.timeout), start.elapsed()),
    };
    let status = response.status().as_u16();
    let remote = response.remote_addr().map(|a| a.to_string());
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    match response.bytes().await {
        Ok(bytes) => Response {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            headers,
            elapsed_ms: millis(start.elapsed()),
            remote,
            error: None,
            simulated: false,
            trace: Vec::new(),
            skipped: None,
        },
        Err(e) => Response {
            headers,
            remote,
            ..Response::failed(
                format!(
                    "status {status} arrived but reading the body failed: {}",
                    describe(&e, opts.timeout)
                ),
                start.elapsed(),
            )
        },
    }
}

/// A one-line description of a reqwest error: what happened and the innermost cause, without
/// reqwest's "error sending request for url" preamble.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // hyper-util's wrapper ("client error (Connect)") says nothing the causes do not.
        if !text.starts_with("client error (") && !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = s.source();
    }
    let detail = causes
        .iter()
        .rev()
        .take(2)
        .rev()
        .cloned()
        .collect::<Vec<_>>()
        .join(": ");
    if e.is_timeout() {
        format!("timed out after {}", format_duration(timeout))
    } else if e.is_connect() && detail.contains("certificate") {
        format!("TLS certificate not trusted: {detail} (set `insecure` only if that is intended)")
    } else if e.is_connect() {
        format!("could not connect: {detail}")
    } else if e.is_builder() {
        format!(
            "invalid request: {}",
            if detail.is_empty() {
                e.to_string()
            } else {
                detail
            }
        )
    } else if e.is_redirect() {
        format!("too many redirects: {detail}")
    } else if detail.is_empty() {
        e.to_string()
    } else {
        detail
    }
}

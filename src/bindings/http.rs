//! Traffic checks: `curl`, `expect_http`, `sample`, and from inside a pod `c.curl_from`,
//! `c.expect_http_from`. Targets of simulated clusters are answered by the simulated data
//! plane: their checks are recorded as "passed (simulated)" with the trace of why, or as
//! skipped where the data plane has no model, never as passed.

use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::convert::{fail, from_json, Opts, RhaiResult};
use super::traffic::Seen;
use super::{optional_last, Def};
use crate::fleet::Member;
use crate::http::{
    self, CheckOutcome, Expectations, KeyFn, Matcher, RequestOptions, Resolve, Response,
};
use crate::report::{CheckStatus, Event};
use crate::session::Session;

const REQUEST_KEYS: &[&str] = &[
    "method",
    "headers",
    "body",
    "timeout",
    "insecure",
    "resolve",
    "follow_redirects",
];
const EXPECT_KEYS: &[&str] = &[
    "status",
    "contains",
    "not_contains",
    "header",
    "json",
    "faster_than",
    "slower_than",
    "consecutive",
    "within",
];

fn strings(v: &Dynamic) -> Vec<String> {
    match v.read_lock::<Array>() {
        Some(a) => a.iter().map(|x| x.to_string()).collect(),
        None => vec![v.to_string()],
    }
}

/// Request options from a script map.
pub fn request_options(map: Option<&Map>, what: &str) -> RhaiResult<RequestOptions> {
    let o = Opts::new(map, what);
    let mut r = RequestOptions::default();
    if let Some(m) = o.string("method")? {
        r.method = m
            .to_uppercase()
            .parse()
            .map_err(|_| fail(format!("{what}: `{m}` is not an HTTP method")))?;
    }
    if let Some(h) = o.map("headers")? {
        r.headers = h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    r.body = o.string("body")?;
    if let Some(t) = o.duration("timeout")? {
        r.timeout = t;
    }
    r.insecure = o.bool("insecure")?.unwrap_or(false);
    if let Some(v) = o.raw("resolve") {
        for entry in strings(v) {
            r.resolve
                .push(Resolve::parse(&entry).map_err(|e| fail(format!("{what}: {e}")))?);
        }
    }
    r.follow_redirects = o.bool("follow_redirects")?.unwrap_or(false);
    Ok(r)
}

/// Expectations from a script map.
pub fn expectations(map: &Map, what: &str) -> RhaiResult<Expectations> {
    let o = Opts::new(Some(map), what);
    let mut e = Expectations::default();
    if let Some(v) = o.raw("status") {
        let list: Vec<Dynamic> = match v.read_lock::<Array>() {
            Some(a) => a.clone(),
            None => vec![v.clone()],
        };
        for s in list {
            let n = s.as_int().map_err(|_| {
                fail(format!(
                    "{what}: `status` takes numbers, e.g. 200 or [200, 302]"
                ))
            })?;
            e.status.push(
                u16::try_from(n).map_err(|_| fail(format!("{what}: {n} is not an HTTP status")))?,
            );
        }
    }
    let matchers = |key: &str| -> RhaiResult<Vec<Matcher>> {
        o.raw(key)
            .map(strings)
            .unwrap_or_default()
            .iter()
            .map(|t| Matcher::parse(key, t).map_err(|err| fail(format!("{what}: {err}"))))
            .collect()
    };
    e.contains = matchers("contains")?;
    e.not_contains = matchers("not_contains")?;
    // `headers` is the request's (a request option); expected response headers are `header`.
    for key in ["header"] {
        if let Some(h) = o.map(key)? {
            for (name, v) in h {
                let m = Matcher::parse("header", &v.to_string())
                    .map_err(|err| fail(format!("{what}: {err}")))?;
                e.headers.push((name.to_string(), m));
            }
        }
    }
    if let Some(j) = o.map("json")? {
        for (path, v) in j {
            e.json
                .push((path.to_string(), super::convert::to_json(&v)?));
        }
    }
    e.faster_than = o.duration("faster_than")?;
    e.slower_than = o.duration("slower_than")?;
    if let Some(c) = o.int("consecutive")? {
        e.consecutive = u32::try_from(c.max(1)).unwrap_or(1);
    }
    if let Some(w) = o.duration("within")? {
        e.within = w;
    }
    Ok(e)
}

fn split_opts(map: &Map, what: &str, extra: &[&str]) -> RhaiResult<()> {
    let known: Vec<&str> = REQUEST_KEYS
        .iter()
        .chain(EXPECT_KEYS)
        .chain(extra)
        .copied()
        .collect();
    Opts::new(Some(map), what).only(&known)
}

/// A response as a script map.
pub fn response_map(r: &Response) -> Map {
    let mut m = Map::new();
    m.insert("status".into(), Dynamic::from(i64::from(r.status)));
    m.insert("body".into(), r.body.clone().into());
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.as_str().into(), v.clone().into());
    }
    m.insert("headers".into(), Dynamic::from_map(headers));
    m.insert("elapsed_ms".into(), Dynamic::from(r.elapsed_ms as i64));
    m.insert(
        "remote".into(),
        r.remote.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    if let Some(e) = &r.error {
        m.insert("error".into(), e.clone().into());
    }
    if r.simulated {
        m.insert("simulated".into(), true.into());
        m.insert(
            "trace".into(),
            Dynamic::from_array(r.trace.iter().map(|l| l.clone().into()).collect()),
        );
    }
    if let Some(why) = &r.skipped {
        m.insert("skipped".into(), why.clone().into());
    }
    m
}

/// Records a check outcome (and what answered it, for the traffic charts); a failure becomes
/// the step's error with the evidence.
fn record(s: &Session, name: String, outcome: &CheckOutcome, mut seen: Seen) -> RhaiResult<Map> {
    let (status, evidence, trace) = match outcome {
        CheckOutcome::Passed {
            simulated: Some(trace),
            ..
        } => (
            CheckStatus::Simulated,
            http::summary(outcome),
            trace.clone(),
        ),
        CheckOutcome::Passed { .. } => (CheckStatus::Passed, http::summary(outcome), Vec::new()),
        CheckOutcome::Failed { last, .. } => (
            CheckStatus::Failed,
            http::summary(outcome),
            last.trace.clone(),
        ),
        CheckOutcome::Skipped { reason } => (CheckStatus::Skipped, reason.clone(), Vec::new()),
    };
    s.emit(Event::Check {
        name: name.clone(),
        status,
        evidence,
        trace,
    });
    s.emit(seen.event(name.clone(), status, None));
    let mut m = Map::new();
    match outcome {
        CheckOutcome::Failed { .. } => Err(fail(format!(
            "check failed: {name}\n{}",
            http::render_outcome(outcome)
        ))),
        CheckOutcome::Passed {
            attempts,
            elapsed,
            simulated,
        } => {
            m.insert("passed".into(), true.into());
            m.insert("simulated".into(), simulated.is_some().into());
            m.insert("attempts".into(), Dynamic::from(i64::from(*attempts)));
            m.insert(
                "elapsed_ms".into(),
                Dynamic::from(elapsed.as_millis() as i64),
            );
            Ok(m)
        }
        CheckOutcome::Skipped { reason } => {
            m.insert("passed".into(), false.into());
            m.insert("skipped".into(), true.into());
            m.insert("reason".into(), reason.clone().into());
            Ok(m)
        }
    }
}

fn check_name(
    method: &http::RequestOptions,
    url: &str,
    e: &Expectations,
    from: Option<(&Member, &str)>,
) -> String {
    let base = format!("{} {url}: {}", method.method, e.describe());
    match from {
        Some((m, target)) => format!("{base} (from {target} on {})", m.name()),
        None => base,
    }
}

fn expect_http(s: &Session, url: &str, map: &Map) -> RhaiResult<Map> {
    split_opts(map, "expect_http", &[])?;
    let req = request_options(Some(map), "expect_http")?;
    let e = expectations(map, "expect_http")?;
    http::host_and_port(url).map_err(|err| fail(format!("expect_http: {err}")))?;
    let mut seen = Seen::new(s, url, None);
    let outcome = super::convert::interruptible(
        s,
        http::expect_http(url, &req, &e, s.fleet.as_ref(), |a| seen.attempt(a)),
    )?;
    record(s, check_name(&req, url, &e, None), &outcome, seen)
}

fn curl_in_pod(
    s: &Session,
    m: &Member,
    ns: &str,
    target: &str,
    url: &str,
    req: &RequestOptions,
) -> Response {
    let argv = http::curl_argv(url, req);
    match s.block_on(m.cluster.exec(ns, target, &argv)) {
        Ok(out) => http::parse_curl_output(&out.stdout, &out.stderr, out.code),
        Err(e) => Response::failed(
            format!("exec in {target} failed: {e}"),
            std::time::Duration::ZERO,
        ),
    }
}

/// The trace of a simulated answer, with its outcome as the last line.
fn trace_lines(r: &Response) -> Array {
    if !r.simulated {
        return Array::new();
    }
    let mut lines: Array = r.trace.iter().map(|l| l.clone().into()).collect();
    let outcome = match (&r.skipped, &r.error) {
        (Some(why), _) => format!("=> not answered: {why}"),
        (None, Some(e)) => format!("=> no response: {e}"),
        (None, None) => format!("=> {} in {}ms", r.status, r.elapsed_ms),
    };
    lines.push(outcome.into());
    lines
}

fn trace(s: &Session, url: &str, req: &RequestOptions) -> RhaiResult<Array> {
    http::host_and_port(url).map_err(|err| fail(format!("trace: {err}")))?;
    if http::simulated_target(url, req, s.fleet.as_ref()).is_none() {
        return Ok(Array::new());
    }
    Ok(trace_lines(&s.block_on(http::curl(
        url,
        req,
        s.fleet.as_ref(),
    ))))
}

fn sample(
    s: &Session,
    ctx: &NativeCallContext,
    url: &str,
    n: i64,
    map: Option<&Map>,
) -> RhaiResult<Map> {
    if let Some(map) = map {
        Opts::new(Some(map), "sample").only(&[REQUEST_KEYS, &["key", "concurrency"]].concat())?;
    }
    let req = request_options(map, "sample")?;
    let o = Opts::new(map, "sample");
    let n =
        u32::try_from(n).map_err(|_| fail(format!("sample: {n} is not a number of requests")))?;
    let concurrency = http::sample_concurrency(o.int("concurrency")?);
    let kept: Arc<Mutex<Vec<Response>>> = Arc::default();
    let closure = o.raw("key").and_then(|k| k.clone().try_cast::<FnPtr>());
    let key = match (o.raw("key"), &closure) {
        (_, Some(_)) => {
            let kept = kept.clone();
            KeyFn::Closure(Box::new(move |r: &Response| {
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(r.clone());
                String::new()
            }))
        }
        (Some(k), None) => KeyFn::regex(&k.to_string())
            .map_err(|e| fail(format!("sample: bad key regex `{k}`: {e}")))?,
        (None, None) => KeyFn::Status,
    };
    // Each answer's key and serving cluster, for the traffic charts.
    let seen = Arc::new(Mutex::new(Seen::new(s, url, None)));
    let key = match (key, &closure) {
        (key, None) => {
            let seen = seen.clone();
            KeyFn::Closure(Box::new(move |r: &Response| {
                let k = key.key(r);
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                let by = seen.names().served_by(r);
                seen.answer(k.clone(), by);
                k
            }))
        }
        (key, Some(_)) => key,
    };
    let result = super::convert::interruptible(
        s,
        http::sample(url, n, concurrency, &req, &key, s.fleet.as_ref()),
    )?;
    drop(key);
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(reason) = result.skipped {
        s.emit(Event::Check {
            name: format!("sample {n} × {url}"),
            status: CheckStatus::Skipped,
            evidence: reason,
            trace: Vec::new(),
        });
        s.emit(seen.event(format!("sample {n} × {url}"), CheckStatus::Skipped, None));
        return Ok(Map::new());
    }
    let mut counts: std::collections::BTreeMap<String, u64> = result.counts.clone();
    if let Some(f) = closure {
        counts.retain(|k, _| k == http::ERROR_KEY);
        for r in kept.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let key =
                f.call_within_context::<Dynamic>(ctx, (Dynamic::from_map(response_map(r)),))?;
            *counts.entry(key.to_string()).or_default() += 1;
            let by = seen.names().served_by(r);
            seen.answer(key.to_string(), by);
        }
    }
    let was_simulated = result.simulated.is_some();
    let simulated = if was_simulated { " (simulated)" } else { "" };
    let spread = crate::http::SampleResult {
        counts: counts.clone(),
        ..result
    }
    .spread();
    s.emit(Event::Say {
        text: format!("sample {n} × {url}{simulated}: {spread}"),
    });
    // Answered by a real target, or by the simulated data plane (drawn hatched).
    s.emit(seen.event(
        format!("sample {n} × {url}"),
        if was_simulated {
            CheckStatus::Simulated
        } else {
            CheckStatus::Passed
        },
        Some(&counts),
    ));
    Ok(counts
        .into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v as i64)))
        .collect())
}

/// The request options of a call that takes no other options.
fn only_request_options(opts: Option<&Map>, what: &str) -> RhaiResult<RequestOptions> {
    Opts::new(opts, what).only(REQUEST_KEYS)?;
    request_options(opts, what)
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    Def::new("http", "curl", &["url: string", "map"])
        .doc("GETs a URL and returns `#{status, body, headers, elapsed_ms, remote}`; a connection failure gives status 0 and `error`; a simulated target gives `#{simulated: true}`.")
        .example(r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); let r = curl("http://" + ip + "/productpage"); say(r.status);"#)
        .optional("opts: map",
            "A request with options `method`, `headers` (map, Host allowed), `body`, `timeout`, `insecure` (TLS is verified unless set), `resolve` (\"host:port:addr\"), `follow_redirects`.",
            r#"let r = curl("https://bookinfo.example.com/productpage", #{resolve: "bookinfo.example.com:443:" + ip, insecure: true});"#)
        .register(engine, optional_last!(move |url: &str; opts: Map| -> RhaiResult<Map> {
            let req = only_request_options(opts.as_ref(), "curl")?;
            Ok(response_map(&s.block_on(http::curl(url, &req, s.fleet.as_ref()))))
        }));
    let s = session.clone();
    Def::new("http", "expect_http", &["url: string", "expectations: map", "map"])
        .doc("Retries with backoff until every expectation holds or `within` (60s) elapses: `status` (number or array), `contains`/`not_contains` (text or \"/regex/\"), `header` map, `json` (jsonpath -> value), `faster_than`, `slower_than`, `consecutive`, plus the options of `curl`. Fails the step with the last response.")
        .example(r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); expect_http("http://" + ip + "/productpage", #{status: 200, contains: "Book Details"});"#)
        .register(engine, move |url: &str, map: Map| expect_http(&s, url, &map));
    let s = session.clone();
    Def::new("http", "sample", &["url: string", "n: int", "map"])
        .doc("Sends `n` requests and counts them by status.")
        .example(r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); let counts = sample("http://" + ip + "/productpage", 20); expect(counts["200"] == 20, "all answered");"#)
        .optional("opts: map",
            "Sends `n` requests (`concurrency`) and counts them by `key`: a regex (\"/reviews-v(\\\\d)/\": first match or capture group) or a closure `|resp| ...`; failures count under \"error\".",
            r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); let versions = sample("http://" + ip + "/productpage", 50, #{key: "/reviews-v(\\d)/", concurrency: 5});"#)
        .register(engine, optional_last!(move |ctx: NativeCallContext, url: &str, n: i64; opts: Map| -> RhaiResult<Map> {
            sample(&s, &ctx, url, n, opts.as_ref())
        }));
    let s = session.clone();
    Def::new("http", "curl_from", &["cluster: Cluster", "ns: string", "target: string", "url: string", "map"])
        .doc("Runs curl inside a pod (pod, `deploy/NAME` or selector) and returns its response like `curl` does.")
        .example(r#"let c = cluster("cluster1"); let r = c.curl_from("bookinfo", "deploy/ratings-v1", "http://reviews:9080/reviews/0");"#)
        .optional("opts: map", "Runs curl inside a pod with the options of `curl`.",
            r#"let c = cluster("cluster1"); let r = c.curl_from("bookinfo", "app=ratings", "http://reviews:9080/reviews/0", #{headers: #{"end-user": "jason"}});"#)
        .register(engine, optional_last!(move |m: &mut Member, ns: &str, target: &str, url: &str; opts: Map| -> RhaiResult<Map> {
            let req = only_request_options(opts.as_ref(), "curl_from")?;
            Ok(response_map(&curl_in_pod(&s, m, ns, target, url, &req)))
        }));
    let s = session.clone();
    Def::new("http", "expect_http_from", &[
            "cluster: Cluster",
            "ns: string",
            "target: string",
            "url: string",
            "expectations: map",
            "map",
        ])
        .doc("`expect_http` from inside a pod (e.g. command-runner): same expectations and retries.")
        .example(r#"let c = cluster("cluster1"); c.expect_http_from("bookinfo", "deploy/ratings-v1", "http://productpage:9080/productpage", #{status: 200});"#)
        .register(engine, move |m: &mut Member, ns: &str, target: &str, url: &str, map: Map| -> RhaiResult<Map> {
            split_opts(&map, "expect_http_from", &[])?;
            let req = request_options(Some(&map), "expect_http_from")?;
            let e = expectations(&map, "expect_http_from")?;
            let name = check_name(&req, url, &e, Some((m, target)));
            let mut seen = Seen::new(&s, url, Some(m.name().to_string()));
            let req = http::attempt_options(&req, &e);
            let argv = http::curl_argv(url, &req);
            let cluster = m.cluster.clone();
            let outcome = super::convert::interruptible(
                &s,
                http::expect_http_with(
                    || {
                        let cluster = cluster.clone();
                        let argv = argv.clone();
                        async move {
                            match cluster.exec(ns, target, &argv).await {
                                Ok(out) => {
                                    http::parse_curl_output(&out.stdout, &out.stderr, out.code)
                                }
                                Err(e) => Response::failed(
                                    format!("exec in {target} failed: {e}"),
                                    std::time::Duration::ZERO,
                                ),
                            }
                        }
                    },
                    &e,
                    |a| seen.attempt(a),
                ),
            )?;
            record(&s, name, &outcome, seen)
        });
    let s = session.clone();
    Def::new("http", "trace", &["url: string", "array"])
        .doc("Why the simulated data plane answers a request to `url` as it does: one line per hop (load balancer, gateway, route, policy, endpoint, application). An empty array for a target no simulated cluster serves (nothing is sent).")
        .example(r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); for hop in trace("http://" + ip + "/productpage") { say(hop); }"#)
        .optional("opts: map", "`trace` with the options of `curl` (`headers`, `method`, `resolve`, ...).",
            r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); let hops = trace("http://" + ip + "/productpage", #{headers: #{"end-user": "jason"}});"#)
        .register(engine, optional_last!(move |url: &str; opts: Map| -> RhaiResult<Array> {
            trace(&s, url, &only_request_options(opts.as_ref(), "trace")?)
        }));
    let s = session.clone();
    Def::new("http", "trace", &["cluster: Cluster", "url: string", "array"])
        .doc("`trace(url)` from this cluster's point of view: a request from outside (to a load-balancer address of it or of a linked cluster).")
        .example(r#"let ip = cluster("cluster1").lb_address("istio-gateways", "istio-ingressgateway"); let c = cluster("cluster2"); let hops = c.trace("http://" + ip + "/productpage");"#)
        .optional("opts: map",
            "`c.trace(url, opts)`: the options of `curl`, and `from: \"NS/TARGET\"` to trace the request from inside a pod of this cluster (pod, `deploy/NAME` or selector).",
            r#"let c = cluster("cluster1"); let hops = c.trace("http://productpage.bookinfo.mesh.internal:9080/productpage", #{from: "bookinfo/deploy/ratings-v1"});"#)
        .register(engine, optional_last!(move |m: &mut Member, url: &str; opts: Map| -> RhaiResult<Array> {
            let o = Opts::new(opts.as_ref(), "trace");
            o.only(&[REQUEST_KEYS, &["from"]].concat())?;
            let req = request_options(opts.as_ref(), "trace")?;
            match o.string("from")? {
                Some(from) => {
                    let (ns, target) = from.split_once('/').ok_or_else(|| {
                        fail(format!("trace: `from` is NAMESPACE/TARGET (e.g. bookinfo/deploy/ratings-v1), not `{from}`"))
                    })?;
                    Ok(trace_lines(&curl_in_pod(&s, m, ns, target, url, &req)))
                }
                None => trace(&s, url, &req),
            }
        }));
    let s = session.clone();
    Def::new("http", "trace", &["cluster: Cluster", "ns: string", "target: string", "url: string", "array"])
        .doc("Why the simulated data plane answers a request made from inside a pod of this cluster (pod, `deploy/NAME` or selector) as it does, like `curl_from`.")
        .example(r#"let c = cluster("cluster1"); let hops = c.trace("bookinfo", "deploy/productpage-v1", "http://reviews:9080/reviews/0");"#)
        .register(engine, move |m: &mut Member, ns: &str, target: &str, url: &str| -> RhaiResult<Array> {
            let r = curl_in_pod(&s, m, ns, target, url, &RequestOptions::default());
            Ok(trace_lines(&r))
        });
    Def::new("data", "jsonpath", &["value: ?", "expr: string", "?"])
        .doc("Evaluates a kubectl-style JSONPath (`{.status.loadBalancer.ingress[0]['hostname','ip']}`) on a value: one result as itself, several as an array, none as `()`.")
        .example(r#"let svc = cluster("cluster1").get("svc", "istio-ingressgateway", "istio-system"); let ip = jsonpath(svc, "{.status.loadBalancer.ingress[0].ip}");"#)
        .register(engine, |value: Dynamic, expr: &str| -> RhaiResult<Dynamic> {
            let v = super::convert::to_json(&value)?;
            let found = http::jsonpath(&v, expr).map_err(|e| fail(format!("jsonpath: {e}")))?;
            Ok(match found.len() {
                0 => Dynamic::UNIT,
                1 => from_json(&found[0]),
                _ => from_json(&serde_json::Value::Array(found)),
            })
        });
}

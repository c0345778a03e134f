//! Traffic checks against in-process servers on 127.0.0.1 (issue 5): curl, expect_http,
//! sample, TLS, resolve, redirects, simulated targets, and curl's own command line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use meshbook::http::{
    curl, curl_argv, expect_http, expect_http_with, parse_curl_output, render_outcome, sample,
    Attempt, CheckOutcome, Expectations, KeyFn, Matcher, NoSimulatedTargets, RequestOptions,
    Resolve, Response,
};

/// A deadline for anything a test awaits: a hung request fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(20);

async fn within_deadline<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .expect("the test's deadline passed")
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// `/` says hello, `/missing` is a 404, `/host` echoes the Host header, `/slow` takes 300 ms,
/// `/hang` never answers, `/old` redirects to `/new`, `/json` is a JSON document.
fn bookinfo() -> Router {
    Router::new()
        .route("/", get(|| async { ([("server", "istio-envoy"), ("x-envoy-upstream-service-time", "3")], "hello from productpage\n") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "not here") }))
        .route("/host", get(|headers: HeaderMap| async move { headers["host"].to_str().unwrap().to_string() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/hang", get(std::future::pending::<String>))
        .route("/old", get(|| async { Redirect::to("/new") }))
        .route("/new", get(|| async { "arrived" }))
        .route(
            "/json",
            get(|| async {
                axum::Json(serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
            }),
        )
}

fn quick(within_ms: u64) -> Expectations {
    Expectations {
        within: Duration::from_millis(within_ms),
        ..Expectations::default()
    }
}

fn contains(text: &str) -> Matcher {
    Matcher::parse("contains", text).unwrap()
}

#[tokio::test]
async fn curl_returns_status_body_headers_and_peer() {
    let addr = serve(bookinfo()).await;
    let r = within_deadline(curl(
        &format!("http://{addr}/"),
        &RequestOptions::default(),
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "hello from productpage\n")
    );
    assert_eq!(r.header("Server"), Some("istio-envoy"));
    assert_eq!(r.remote, Some(addr.to_string()));
    assert_eq!((r.error, r.simulated), (None, false));

    let r = within_deadline(curl(
        &format!("http://{addr}/missing"),
        &RequestOptions::default(),
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!((r.status, r.body.as_str()), (404, "not here"));
}

#[tokio::test]
async fn a_connection_failure_is_status_zero_not_an_error() {
    let port = free_port();
    let r = within_deadline(curl(
        &format!("http://127.0.0.1:{port}/"),
        &RequestOptions::default(),
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(r.status, 0);
    let error = r.error.unwrap();
    assert!(
        error.starts_with("could not connect: tcp connect error: "),
        "{error}"
    );
    let r = within_deadline(curl(
        "not a url",
        &RequestOptions::default(),
        &NoSimulatedTargets,
    ))
    .await;
    assert!(r.error.unwrap().contains("invalid url `not a url`"));
}

#[tokio::test]
async fn a_client_timeout_shorter_than_the_server_gives_status_zero() {
    let addr = serve(bookinfo()).await;
    let opts = RequestOptions {
        timeout: Duration::from_millis(200),
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(
        &format!("http://{addr}/hang"),
        &opts,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(
        (r.status, r.error.as_deref()),
        (0, Some("timed out after 200ms"))
    );
}

#[tokio::test]
async fn host_header_and_resolve_reach_an_address_by_name() {
    let addr = serve(bookinfo()).await;
    let port = addr.port();
    let with_host = RequestOptions {
        headers: vec![("Host".into(), "bookinfo.example.com".into())],
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(
        &format!("http://{addr}/host"),
        &with_host,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(r.body, "bookinfo.example.com");

    let resolve = RequestOptions {
        resolve: vec![Resolve::parse(&format!("example.test:{port}:127.0.0.1")).unwrap()],
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(
        &format!("http://example.test:{port}/host"),
        &resolve,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, format!("example.test:{port}").as_str())
    );

    // As with curl, an entry for another port does not apply.
    let other_port = RequestOptions {
        resolve: vec![Resolve::parse("example.test:1:127.0.0.1").unwrap()],
        timeout: Duration::from_secs(3),
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(
        &format!("http://example.test:{port}/host"),
        &other_port,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(r.status, 0, "{r:?}");
}

#[tokio::test]
async fn redirects_are_followed_only_when_asked() {
    let addr = serve(bookinfo()).await;
    let url = format!("http://{addr}/old");
    let r = within_deadline(curl(&url, &RequestOptions::default(), &NoSimulatedTargets)).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/new")));
    let follow = RequestOptions {
        follow_redirects: true,
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(&url, &follow, &NoSimulatedTargets)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "arrived"));
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_unless_insecure() {
    let port = serve_tls("secure").await;
    let url = format!("https://localhost:{port}/");
    let r = within_deadline(curl(&url, &RequestOptions::default(), &NoSimulatedTargets)).await;
    assert_eq!(r.status, 0);
    let error = r.error.unwrap();
    assert_eq!(
        error,
        "TLS certificate not trusted: invalid peer certificate: UnknownIssuer (set `insecure` only if that is intended)"
    );
    let insecure = RequestOptions {
        insecure: true,
        ..RequestOptions::default()
    };
    let r = within_deadline(curl(&url, &insecure, &NoSimulatedTargets)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "secure"));
}

#[tokio::test]
async fn expect_http_passes_with_contains_status_header_and_json() {
    let addr = serve(bookinfo()).await;
    let expected = Expectations {
        status: vec![200],
        contains: vec![contains("productpage"), contains("/hello from \\w+/")],
        not_contains: vec![contains("error")],
        headers: vec![("server".into(), contains("/envoy$/"))],
        ..quick(5000)
    };
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/"),
        &RequestOptions::default(),
        &expected,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    assert!(
        matches!(outcome, CheckOutcome::Passed { attempts: 1, .. }),
        "{outcome:?}"
    );

    let not_found = Expectations {
        status: vec![404],
        contains: vec![contains("not here")],
        ..quick(5000)
    };
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/missing"),
        &RequestOptions::default(),
        &not_found,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    assert!(outcome.passed(), "{outcome:?}");

    let ready = Expectations {
        json: vec![(
            r#"{.status.conditions[?(@.type=="Ready")].status}"#.into(),
            serde_json::json!("True"),
        )],
        ..quick(5000)
    };
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/json"),
        &RequestOptions::default(),
        &ready,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    assert!(outcome.passed(), "{outcome:?}");
}

#[tokio::test]
async fn expect_http_retries_until_a_server_starts_answering() {
    let port = free_port();
    let (first_failure, mut failed) = tokio::sync::mpsc::unbounded_channel::<()>();
    let check = tokio::spawn(async move {
        let expected = Expectations {
            contains: vec![contains("hello")],
            ..quick(15_000)
        };
        let on_attempt = move |a: &Attempt| {
            if a.response.status == 0 {
                let _ = first_failure.send(());
            }
        };
        expect_http(
            &format!("http://127.0.0.1:{port}/"),
            &RequestOptions::default(),
            &expected,
            &NoSimulatedTargets,
            on_attempt,
        )
        .await
    });
    within_deadline(failed.recv()).await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, bookinfo()).await });
    let outcome = within_deadline(check).await.unwrap();
    let CheckOutcome::Passed { attempts, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(attempts >= 2, "{attempts}");
}

#[tokio::test]
async fn a_failing_expectation_fails_only_after_within_and_shows_the_last_body() {
    let router = Router::new().route(
        "/productpage",
        get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("server", "envoy")],
                "no healthy upstream\nsecond line\n",
            )
        }),
    );
    let addr = serve(router).await;
    let expected = Expectations {
        status: vec![200],
        contains: vec![contains("reviews")],
        ..quick(1000)
    };
    let start = Instant::now();
    let mut seen = 0;
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/productpage"),
        &RequestOptions::default(),
        &expected,
        &NoSimulatedTargets,
        |_| seen += 1,
    ))
    .await;
    assert!(start.elapsed() >= Duration::from_secs(1));
    let text = render_outcome(&outcome);
    let CheckOutcome::Failed {
        attempts,
        elapsed,
        last,
        unmet,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(
        elapsed >= Duration::from_secs(1) && attempts >= 2 && attempts == seen,
        "{attempts} {seen}"
    );
    assert_eq!(last.status, 503);
    assert_eq!(
        unmet,
        [
            "status: expected 200, got 503",
            "body does not contain `reviews`"
        ]
    );
    assert!(
        text.starts_with(&format!("failed after {attempts} attempts in ")),
        "{text}"
    );
    for part in [
        "  - status: expected 200, got 503\n",
        "last response: 503 in ",
        "  server: envoy\n",
        "body:\n  | no healthy upstream\n  | second line\n",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
}

#[tokio::test]
async fn consecutive_passes_only_after_an_unbroken_streak() {
    let script = [200u16, 503, 200, 200, 503, 200, 200, 200];
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/",
            get(move |State(calls): State<Arc<AtomicUsize>>| async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                StatusCode::from_u16(*script.get(n).unwrap_or(&200)).unwrap()
            }),
        )
        .with_state(calls.clone());
    let addr = serve(router).await;
    let expected = Expectations {
        consecutive: 3,
        ..quick(15_000)
    };
    let mut streaks = Vec::new();
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/"),
        &RequestOptions::default(),
        &expected,
        &NoSimulatedTargets,
        |a| streaks.push(a.streak),
    ))
    .await;
    assert!(
        matches!(outcome, CheckOutcome::Passed { attempts: 8, .. }),
        "{outcome:?}"
    );
    assert_eq!(streaks, [1, 0, 1, 2, 0, 1, 2, 3]);
}

#[tokio::test]
async fn faster_than_and_slower_than_measure_the_response() {
    let addr = serve(bookinfo()).await;
    let slow = format!("http://{addr}/slow");
    let delayed = Expectations {
        slower_than: Some(Duration::from_millis(250)),
        ..quick(5000)
    };
    let outcome = within_deadline(expect_http(
        &slow,
        &RequestOptions::default(),
        &delayed,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    assert!(outcome.passed(), "{outcome:?}");
    let fast = Expectations {
        faster_than: Some(Duration::from_millis(250)),
        ..quick(400)
    };
    let outcome = within_deadline(expect_http(
        &slow,
        &RequestOptions::default(),
        &fast,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    let CheckOutcome::Failed { unmet, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        unmet[0].ends_with("expected faster than 250ms"),
        "{unmet:?}"
    );
    let generous = Expectations {
        faster_than: Some(Duration::from_secs(10)),
        ..quick(5000)
    };
    let outcome = within_deadline(expect_http(
        &format!("http://{addr}/"),
        &RequestOptions::default(),
        &generous,
        &NoSimulatedTargets,
        |_| {},
    ))
    .await;
    assert!(outcome.passed(), "{outcome:?}");
}

#[tokio::test]
async fn sample_counts_by_regex_and_by_status() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/productpage",
            get(|State(calls): State<Arc<AtomicUsize>>| async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                format!("<div>served by reviews-v{}</div>", n % 3 + 1)
            }),
        )
        .with_state(calls);
    let addr = serve(router).await;
    let url = format!("http://{addr}/productpage");
    let key = KeyFn::Regex(regex::Regex::new(r"reviews-(v\d)").unwrap());
    let result = within_deadline(sample(
        &url,
        30,
        1,
        &RequestOptions::default(),
        &key,
        &NoSimulatedTargets,
    ))
    .await;
    let expected: Vec<(String, u64)> =
        vec![("v1".into(), 10), ("v2".into(), 10), ("v3".into(), 10)];
    assert_eq!(result.counts.into_iter().collect::<Vec<_>>(), expected);
    assert_eq!((result.total, result.skipped), (30, None));

    let dead = format!("http://127.0.0.1:{}/", free_port());
    let result = within_deadline(sample(
        &dead,
        3,
        3,
        &RequestOptions::default(),
        &KeyFn::Status,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(result.counts.get("error"), Some(&3));
    assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
}

#[tokio::test]
async fn sample_runs_requests_concurrently_up_to_the_limit() {
    // Each handler waits until 4 requests are in flight at once: with less concurrency the
    // sample would never finish.
    #[derive(Clone)]
    struct Gate {
        barrier: Arc<tokio::sync::Barrier>,
        in_flight: Arc<AtomicU32>,
        most: Arc<AtomicU32>,
    }
    let gate = Gate {
        barrier: Arc::new(tokio::sync::Barrier::new(4)),
        in_flight: Arc::default(),
        most: Arc::default(),
    };
    let router = Router::new()
        .route(
            "/",
            get(|State(g): State<Gate>| async move {
                let now = g.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                g.most.fetch_max(now, Ordering::SeqCst);
                g.barrier.wait().await;
                g.in_flight.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }),
        )
        .with_state(gate.clone());
    let addr = serve(router).await;
    let result = within_deadline(sample(
        &format!("http://{addr}/"),
        8,
        4,
        &RequestOptions::default(),
        &KeyFn::Status,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(result.counts.get("200"), Some(&8), "{result:?}");
    assert_eq!(gate.most.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn sample_with_a_closure_key() {
    let addr = serve(bookinfo()).await;
    let key = KeyFn::Closure(Box::new(|r: &Response| {
        r.header("server").unwrap_or("none").to_string()
    }));
    let result = within_deadline(sample(
        &format!("http://{addr}/"),
        4,
        2,
        &RequestOptions::default(),
        &key,
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(result.counts.get("istio-envoy"), Some(&4));
    assert_eq!(result.spread(), "istio-envoy: 4 (100%)");
}

#[tokio::test]
async fn simulated_targets_are_never_sent_and_unanswered_checks_are_skipped() {
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/",
            get(|State(hits): State<Arc<AtomicUsize>>| async move {
                hits.fetch_add(1, Ordering::SeqCst).to_string()
            }),
        )
        .with_state(hits.clone());
    let addr = serve(router).await;
    let url = format!("http://{addr}/");
    let sim = |host: &str| host == "127.0.0.1" || host == "172.18.255.1";

    // Without a simulated data plane to answer (this seam's default), nothing is sent and
    // the response says why.
    let r = within_deadline(curl(&url, &RequestOptions::default(), &sim)).await;
    assert!(r.simulated && r.status == 0 && r.skipped.is_some(), "{r:?}");
    let outcome = within_deadline(expect_http(
        &url,
        &RequestOptions::default(),
        &quick(5000),
        &sim,
        |_| {},
    ))
    .await;
    let CheckOutcome::Skipped { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("`127.0.0.1` belongs to a simulated cluster"),
        "{reason}"
    );
    let result = within_deadline(sample(
        &url,
        5,
        1,
        &RequestOptions::default(),
        &KeyFn::Status,
        &sim,
    ))
    .await;
    assert!(
        result.skipped.is_some() && result.counts.is_empty(),
        "{result:?}"
    );

    // A name resolved to a simulated LoadBalancer address is simulated too.
    let lb = RequestOptions {
        resolve: vec![Resolve::parse("bookinfo.example.com:80:172.18.255.1").unwrap()],
        ..RequestOptions::default()
    };
    let r = within_deadline(curl("http://bookinfo.example.com/productpage", &lb, &sim)).await;
    assert!(r.simulated, "{r:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // A simulated port-forward is told apart from a real server on the same host by its port.
    let forwarded = addr.to_string();
    let by_port = move |target: &str| target == forwarded;
    let r = within_deadline(curl(&url, &RequestOptions::default(), &by_port)).await;
    assert!(r.simulated, "{r:?}");
    let real = serve(bookinfo()).await;
    let r = within_deadline(curl(
        &format!("http://{real}/"),
        &RequestOptions::default(),
        &by_port,
    ))
    .await;
    assert_eq!((r.status, r.simulated), (200, false));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn expect_http_with_parses_canned_curl_outputs_from_a_pod() {
    let marker = |code: u16| {
        format!("\n__MESHBOOK_CURL__ code={code} time=0.004 redirects=0 remote=10.244.1.5:9080\n")
    };
    let outputs = [
        (
            marker(0)[1..].to_string(),
            "curl: (7) Failed to connect to reviews port 9080: Connection refused".to_string(),
            7,
        ),
        (
            format!(
                "HTTP/1.1 503 Service Unavailable\r\n\r\nno healthy upstream{}",
                marker(503)
            ),
            String::new(),
            0,
        ),
        (
            format!(
                "HTTP/1.1 200 OK\r\nserver: envoy\r\n\r\n{{\"reviews\":[]}}{}",
                marker(200)
            ),
            String::new(),
            0,
        ),
    ];
    let calls = AtomicUsize::new(0);
    let fetch = || {
        let (stdout, stderr, code) = &outputs[calls.fetch_add(1, Ordering::SeqCst).min(2)];
        std::future::ready(parse_curl_output(stdout, stderr, *code))
    };
    let mut statuses = Vec::new();
    let expected = Expectations {
        contains: vec![contains("reviews")],
        ..quick(10_000)
    };
    let outcome = within_deadline(expect_http_with(fetch, &expected, |a| {
        statuses.push(a.response.status)
    }))
    .await;
    assert!(
        matches!(outcome, CheckOutcome::Passed { attempts: 3, .. }),
        "{outcome:?}"
    );
    assert_eq!(statuses, [0, 503, 200]);
}

/// The argv runs with the machine's real curl (when it has one) and parses back to what reqwest sees.
#[tokio::test]
async fn curl_argv_roundtrips_through_a_real_curl() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        return; // no curl on this machine: the canned outputs in the unit tests still cover the parser
    }
    let addr = serve(bookinfo()).await;
    let port = addr.port();
    let run = |url: String, opts: RequestOptions| async move {
        let argv = curl_argv(&url, &opts);
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .await
            .unwrap();
        parse_curl_output(
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            out.status.code().unwrap_or(-1),
        )
    };
    let r = within_deadline(run(format!("http://{addr}/"), RequestOptions::default())).await;
    let direct = within_deadline(curl(
        &format!("http://{addr}/"),
        &RequestOptions::default(),
        &NoSimulatedTargets,
    ))
    .await;
    assert_eq!(
        (r.status, &r.body, r.header("server")),
        (direct.status, &direct.body, direct.header("server"))
    );
    assert_eq!(r.remote, Some(addr.to_string()));

    let resolve = RequestOptions {
        resolve: vec![Resolve::parse(&format!("example.test:{port}:127.0.0.1")).unwrap()],
        ..RequestOptions::default()
    };
    let r = within_deadline(run(format!("http://example.test:{port}/host"), resolve)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, format!("example.test:{port}").as_str())
    );

    let follow = RequestOptions {
        follow_redirects: true,
        ..RequestOptions::default()
    };
    let r = within_deadline(run(format!("http://{addr}/old"), follow)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "arrived"));
    let r = within_deadline(run(format!("http://{addr}/old"), RequestOptions::default())).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/new")));

    let r = within_deadline(run(
        format!("http://{addr}/missing"),
        RequestOptions::default(),
    ))
    .await;
    assert_eq!((r.status, r.body.as_str()), (404, "not here"));

    let short = RequestOptions {
        timeout: Duration::from_millis(300),
        ..RequestOptions::default()
    };
    let r = within_deadline(run(format!("http://{addr}/hang"), short)).await;
    assert_eq!(r.status, 0);
    assert!(
        r.error.as_deref().unwrap().starts_with("timed out: "),
        "{r:?}"
    );

    let r = within_deadline(run(
        format!("http://127.0.0.1:{}/", free_port()),
        RequestOptions::default(),
    ))
    .await;
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with("could not connect: "),
        "{r:?}"
    );

    let tls = serve_tls("secure").await;
    let r = within_deadline(run(
        format!("https://localhost:{tls}/"),
        RequestOptions::default(),
    ))
    .await;
    assert!(
        r.status == 0
            && r.error
                .as_deref()
                .unwrap()
                .starts_with("TLS certificate not trusted"),
        "{r:?}"
    );
    let insecure = RequestOptions {
        insecure: true,
        ..RequestOptions::default()
    };
    let r = within_deadline(run(format!("https://localhost:{tls}/"), insecure)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "secure"));
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TLS server with a fresh self-signed certificate for `localhost`, answering every request
/// with `body`. Returns its port.
async fn serve_tls(body: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[test]
fn failure_rendering_names_what_was_expected() {
    let outcome = CheckOutcome::Failed {
        attempts: 3,
        elapsed: Duration::from_millis(1500),
        last: Response::failed(
            "could not connect: connection refused",
            Duration::from_millis(1),
        ),
        unmet: vec!["no response: could not connect: connection refused".into()],
    };
    assert_eq!(
        render_outcome(&outcome),
        "failed after 3 attempts in 1.5s:\n  - no response: could not connect: connection refused\n\
         last response: none after 1ms: could not connect: connection refused\n"
    );
}

#[test]
fn expectations_reject_a_bad_regex_before_sending() {
    let e = Matcher::parse("contains", "/reviews-v[/").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid regular expression `reviews-v[` in `contains`"),
        "{e}"
    );
}

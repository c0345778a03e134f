use super::*;

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

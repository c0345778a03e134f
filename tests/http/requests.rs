use super::*;

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

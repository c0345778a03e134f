use super::*;

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

use super::*;

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

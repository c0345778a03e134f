use super::*;

#[tokio::test]
async fn exec_and_logs_go_through_the_pod_endpoints() {
    let (_s, c, _url) = served("cluster1").await;
    c.apply(WEB, &opts("default")).await.unwrap();
    c.scale("default", "web", 2).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let out = c
        .exec("default", "deploy/web", &["echo".into(), "hi".into()])
        .await
        .unwrap();
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("cannot run `echo hi`"), "{out:?}");

    let logs = c
        .logs(
            "default",
            "app=web",
            &LogOptions {
                tail: Some(1),
                ..LogOptions::default()
            },
        )
        .await
        .unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[pod/web-") && l.contains("/app] ")),
        "{logs}"
    );
    let pod = c.ready_pod("default", "app=web").await.unwrap();
    let one = c
        .logs(
            "default",
            str_at(&pod, "/metadata/name"),
            &LogOptions::default(),
        )
        .await
        .unwrap();
    assert!(one.contains("container app"), "{one}");
    let e = c
        .exec("default", "app=nothing", &["true".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, K8sError::NoPod { .. }), "{e}");
}

#[tokio::test]
async fn in_process_clusters_exec_through_a_stream_client() {
    let (s, c) = sim("cluster1", 0);
    c.apply(WEB, &opts("default")).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let e = c
        .exec("default", "deploy/web", &["true".into()])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("need a WebSocket upgrade") && !e.contains("Status {"),
        "{e}"
    );
    let url = format!("http://{}", s.serve_local().await.unwrap());
    let socket = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let c = c.with_stream_client(socket);
    let out = c
        .exec("default", "deploy/web", &["true".into()])
        .await
        .unwrap();
    assert_eq!(out.code, 126);
}

#[tokio::test]
async fn a_secret_is_copied_between_two_clusters() {
    let (_s1, c1) = sim("cluster1", 0);
    let (_s2, c2) = sim("cluster2", 1);
    let set = ClusterSet::new(vec![c1.clone(), c2.clone()]);
    for c in set.iter() {
        c.create_namespace(
            "istio-system",
            &BTreeMap::from([("team".to_string(), "mesh".to_string())]),
        )
        .await
        .unwrap();
    }
    let data = BTreeMap::from([("token".to_string(), "s3cr3t".to_string())]);
    assert_eq!(
        c1.create_secret("istio-system", "remote", &data)
            .await
            .unwrap(),
        ApplyOutcome::Created
    );
    let token = c1
        .secret_data("istio-system", "remote", "token")
        .await
        .unwrap();
    let copied = BTreeMap::from([("token".to_string(), token)]);
    c2.create_secret("istio-system", "remote", &copied)
        .await
        .unwrap();
    assert_eq!(
        c2.secret_data("istio-system", "remote", "token")
            .await
            .unwrap(),
        "s3cr3t"
    );
    let e = c2
        .secret_data("istio-system", "remote", "nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no key `nope`; keys: `token`") && !e.contains("s3cr3t"),
        "{e}"
    );
    // Idempotent, and never removes labels it was not given.
    assert_eq!(
        c1.create_namespace("istio-system", &BTreeMap::new())
            .await
            .unwrap(),
        ApplyOutcome::Unchanged
    );
    let more = BTreeMap::from([("istio.io/dataplane-mode".to_string(), "ambient".to_string())]);
    assert_eq!(
        c1.create_namespace("istio-system", &more).await.unwrap(),
        ApplyOutcome::Configured
    );
    let ns = c1.get("ns", "istio-system", None).await.unwrap().unwrap();
    assert_eq!(ns["metadata"]["labels"]["team"], "mesh");
    assert_eq!(
        ns["metadata"]["labels"]["istio.io/dataplane-mode"],
        "ambient"
    );
}

#[tokio::test]
async fn port_forward_listens_locally_and_tunnels_to_the_pod() {
    use tokio::io::AsyncReadExt;
    let (_s, c, _url) = served("cluster1").await;
    c.apply(WEB, &opts("default")).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let pf = c.port_forward("default", "deploy/web", 8080).await.unwrap();
    assert!(pf.addr().ip().is_loopback());
    assert!(pf.pod().starts_with("web-"));
    // The simulated pod has no data plane: the tunnel opens, then closes without data.
    let mut conn = tokio::net::TcpStream::connect(pf.addr()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the tunnel should end");
    drop(pf);
}

#[tokio::test]
async fn secrets_from_files_and_followed_logs() {
    let (_s, c) = sim("cluster1", 0);
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("ca.crt");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nabc\n").unwrap();
    let files = BTreeMap::from([
        ("ca.crt".to_string(), cert.display().to_string()),
        ("".to_string(), cert.display().to_string()),
    ]);
    c.secret_from_files("default", "cacerts", &files)
        .await
        .unwrap();
    let got = c.secret_data("default", "cacerts", "ca.crt").await.unwrap();
    assert_eq!(got, "-----BEGIN CERTIFICATE-----\nabc\n");
    let missing = BTreeMap::from([("k".to_string(), "/nonexistent/file".to_string())]);
    let e = c
        .secret_from_files("default", "x", &missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read `/nonexistent/file`"), "{e}");

    c.apply(WEB, &opts("default")).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let started = Instant::now();
    let follow = LogOptions {
        follow_for: Some(Duration::from_millis(300)),
        container: Some("sidecar".into()),
        ..LogOptions::default()
    };
    let logs = c.logs("default", "deploy/web", &follow).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(logs.lines().all(|l| l.contains("/sidecar] ")), "{logs}");
    assert!(logs.contains("container sidecar"), "{logs}");
}

use super::*;

#[tokio::test]
async fn connect_through_a_kubeconfig_and_an_unknown_context() {
    let (_s, _c, url) = served("cluster1").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {{server: \"{url}\"}}\n- name: dead\n  cluster: {{server: \"https://127.0.0.1:1\"}}\nusers:\n- name: u\n  user: {{token: x}}\ncontexts:\n- name: kind-sim\n  context: {{cluster: sim, user: u}}\n- name: kind-dead\n  context: {{cluster: dead, user: u}}\ncurrent-context: kind-sim\n"
        ),
    )
    .unwrap();
    let kubeconfig = || meshbook::k8s::load_kubeconfig(Some(path.as_os_str()));
    let wanted = |ctx: &str| {
        vec![Wanted {
            name: "cluster1".into(),
            context: Some(ctx.into()),
            env_var: Some("CLUSTER1".into()),
        }]
    };

    let e = resolve_contexts(&wanted("kind-nope"), kubeconfig)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "context `kind-nope` (for `cluster1`) is not in the kubeconfig; available contexts: `kind-sim`, `kind-dead`");

    let k = kubeconfig().unwrap();
    let c = connect("cluster1", "kind-sim", &k).await.unwrap();
    assert_eq!(c.context(), Some("kind-sim"));
    assert_eq!(c.version(), Some("v1.32"));
    assert_eq!(
        meshbook::k8s::describe(&c),
        format!(
            "cluster1 -> kind-sim ({}, v1.32)",
            url.trim_end_matches('/')
        )
    );
    assert!(c
        .get("namespace", "kube-system", None)
        .await
        .unwrap()
        .is_some());

    let started = Instant::now();
    let e = connect("cluster1", "kind-dead", &k).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let e = e.to_string();
    assert!(
        e.starts_with(
            "cluster `cluster1` (context `kind-dead`, https://127.0.0.1:1) is unreachable: "
        ),
        "{e}"
    );
    assert!(
        e.to_lowercase().contains("connect") || e.contains("refused"),
        "{e}"
    );
    assert!(!e.contains("Status {") && !e.contains("HyperError"), "{e}");
}

#[tokio::test]
async fn failure_bundle_gathers_from_every_cluster() {
    let (_s1, c1) = sim("cluster1", 0);
    let (_s2, c2) = sim("cluster2", 1);
    c1.apply(WEB, &opts("default")).await.unwrap();
    let set = ClusterSet::new(vec![c1, c2]);
    let bundle = meshbook::k8s::gather_bundle(&set, &["default".to_string()]).await;
    assert_eq!(bundle.clusters.len(), 2);
    assert!(
        bundle.clusters.iter().all(|c| c.errors.is_empty()),
        "{}",
        bundle.render_text()
    );
    assert!(bundle
        .render_text()
        .starts_with("== cluster1 ==\n-- namespace default --\n"));
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_reported_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let s = SimCluster::start("cluster1", 0, SimOptions::default());
    let hits = Arc::new(AtomicUsize::new(0));
    let c = Cluster::new(
        "cluster1",
        None,
        "simulated://cluster1",
        faulty_client(&s, hits.clone()),
    );
    c.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flaky}\n",
        &opts("default"),
    )
    .await
    .unwrap();
    hits.store(0, Ordering::SeqCst);
    let started = Instant::now();
    assert!(c
        .get("cm", "flaky", Some("default"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );

    hits.store(0, Ordering::SeqCst);
    let e = c
        .apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {\"x y\": z}\n",
            &opts("default"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a permanent failure is not retried"
    );
    assert!(
        e.starts_with("apply ConfigMap default/bad on `cluster1` failed: ConfigMap \"bad\" is invalid: data[x y]"),
        "{e}"
    );
}

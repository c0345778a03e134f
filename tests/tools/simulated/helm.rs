use super::*;

#[tokio::test]
async fn sim_helm_uninstall_deletes_what_the_release_applied() {
    let world = World::new(&["cluster1"]);
    let mut book = ReleaseBook::default();
    let install = sim(
        &world,
        Some("cluster1"),
        "helm",
        &argv_of("upgrade --install --kube-context ctx-cluster1 gloo-operator oci://us-docker.pkg.dev/solo-public/gloo-operator-helm/gloo-operator --version 0.2.5 -n gloo-system --create-namespace --set manager.env.X=1"),
    )
    .await
    .unwrap();
    assert_eq!(install.rule, "gloo-operator");
    world.apply(&install);
    book.record(&install);
    assert!(world.has(
        "cluster1",
        "Deployment",
        Some("gloo-system"),
        "gloo-operator"
    ));
    assert!(world.has(
        "cluster1",
        "CustomResourceDefinition",
        None,
        "servicemeshcontrollers.operator.gloo.solo.io"
    ));
    let crd = world.get_obj(
        "cluster1",
        "CustomResourceDefinition",
        None,
        "servicemeshcontrollers.operator.gloo.solo.io",
    );
    assert_eq!(crd["spec"]["scope"], "Cluster");

    let un = sim(
        &world,
        Some("cluster1"),
        "helm",
        &argv_of("uninstall gloo-operator -n gloo-system"),
    )
    .await
    .unwrap();
    assert_eq!(un.stdout, "release \"gloo-operator\" uninstalled\n");
    let gone = book.take_for(&un);
    assert!(
        gone.iter()
            .any(|k| k.kind == "Deployment" && k.name == "gloo-operator"),
        "{gone:?}"
    );
    assert!(
        gone.iter().all(|k| k.kind != "Namespace"),
        "namespace kept, as helm does"
    );
}

#[tokio::test]
async fn sim_helm_repo_commands_gateway_and_istio_charts() {
    let world = World::new(&["cluster1"]);
    let add = sim(
        &world,
        None,
        "helm",
        &argv_of("repo add gloo-platform https://storage.googleapis.com/gloo-platform/helm-charts"),
    )
    .await
    .unwrap();
    assert!(add.applies.is_empty());
    assert_eq!(
        add.stdout,
        "\"gloo-platform\" has been added to your repositories\n"
    );
    let update = sim(&world, None, "helm", &argv_of("repo update"))
        .await
        .unwrap();
    assert!(update.stdout.contains("Update Complete"));

    for (chart, kind, ns, name) in [
        (
            "oci://us-docker.pkg.dev/solo-public/gloo-gateway/charts/gloo-gateway-crds",
            "CustomResourceDefinition",
            None,
            "gatewayparameters.gateway.kgateway.dev",
        ),
        (
            "oci://us-docker.pkg.dev/solo-public/gloo-gateway/charts/gloo-gateway",
            "Deployment",
            Some("gloo-system"),
            "gloo-gateway",
        ),
        (
            "oci://us-docker.pkg.dev/solo-public/gloo-gateway/charts/gloo-gateway",
            "GatewayClass",
            None,
            "gloo-gateway-v2",
        ),
        (
            "istio/base",
            "CustomResourceDefinition",
            None,
            "virtualservices.networking.istio.io",
        ),
        ("istio/istiod", "Deployment", Some("istio-system"), "istiod"),
        (
            "istio/cni",
            "DaemonSet",
            Some("istio-system"),
            "istio-cni-node",
        ),
        (
            "istio/ztunnel",
            "DaemonSet",
            Some("istio-system"),
            "ztunnel",
        ),
    ] {
        let ns_flag = ns.unwrap_or("gloo-system");
        let e = sim(
            &world,
            Some("cluster1"),
            "helm",
            &["upgrade", "-i", "rel", chart, "-n", ns_flag],
        )
        .await
        .unwrap();
        world.apply(&e);
        assert!(
            world.has("cluster1", kind, ns, name),
            "{chart}: {kind} {name}"
        );
    }
}

#[tokio::test]
async fn sim_without_a_rule_fails_naming_the_chart_or_subcommand() {
    let world = World::new(&["cluster1"]);
    let err = sim(
        &world,
        Some("cluster1"),
        "helm",
        &argv_of("upgrade --install x acme/unknown-chart -n y"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no simulated behaviour for `helm` chart `acme/unknown-chart`; add a rule under `stdlib/sim/tools` describing what the real tool leaves in the cluster"
    );
    let err = sim(
        &world,
        Some("cluster1"),
        "istioctl",
        &argv_of("proxy-config clusters x"),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`istioctl` subcommand `proxy-config clusters`"),
        "{err}"
    );
    let err = sim(&world, Some("cluster1"), "kubectl-foo", &["bar"])
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::NoSimRule { .. }), "{err}");
}

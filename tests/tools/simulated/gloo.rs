use super::*;

#[tokio::test]
async fn sim_gloo_platform_management_plane_and_agent() {
    let world = World::new(&["cluster1", "cluster2"]);
    let crds = sim(
        &world,
        Some("cluster1"),
        "helm",
        &argv_of("upgrade --install gloo-platform-crds gloo-platform/gloo-platform-crds -n gloo-mesh --kube-context ctx-cluster1 --create-namespace --version=2.8.0"),
    )
    .await
    .unwrap();
    world.apply(&crds);
    assert!(world.has("cluster1", "Namespace", None, "gloo-mesh"));
    for crd in [
        "kubernetesclusters.admin.gloo.solo.io",
        "roottrustpolicies.admin.gloo.solo.io",
        "workspaces.admin.gloo.solo.io",
        "workspacesettings.admin.gloo.solo.io",
        "virtualdestinations.networking.gloo.solo.io",
        "routetables.networking.gloo.solo.io",
    ] {
        assert!(
            world.has("cluster1", "CustomResourceDefinition", None, crd),
            "{crd}"
        );
    }
    let crd = world.get_obj(
        "cluster1",
        "CustomResourceDefinition",
        None,
        "kubernetesclusters.admin.gloo.solo.io",
    );
    assert_eq!(crd["spec"]["names"]["kind"], "KubernetesCluster");
    assert_eq!(
        crd["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "gloo-platform-crds"
    );
    assert!(crds.stdout.contains("STATUS: deployed"), "{}", crds.stdout);

    let install = HelmInstall {
        release: "gloo-platform".into(),
        chart: "gloo-platform/gloo-platform".into(),
        namespace: "gloo-mesh".into(),
        version: Some("2.8.0".into()),
        values: Some(HelmValues::Yaml(format!(
            "{MGMT_VALUES}licensing:\n  glooMeshLicenseKey: {LICENSE}\n"
        ))),
        ..Default::default()
    };
    let base = Invocation::new("helm", Vec::<String>::new())
        .cluster(world.cluster("cluster1"))
        .secrets([LICENSE]);
    let mgmt = helm_install_simulated(&install, &base, &rules(), &world)
        .await
        .unwrap();
    world.apply(&mgmt);
    for deploy in [
        "gloo-mesh-mgmt-server",
        "gloo-mesh-ui",
        "gloo-mesh-redis",
        "prometheus-server",
        "gloo-telemetry-gateway",
        "gloo-telemetry-collector",
    ] {
        assert!(
            world.has("cluster1", "Deployment", Some("gloo-mesh"), deploy),
            "{deploy}"
        );
    }
    assert!(
        !world.has(
            "cluster1",
            "Deployment",
            Some("gloo-mesh"),
            "gloo-mesh-agent"
        ),
        "agent runs as a sidecar"
    );
    for secret in [
        "relay-root-tls-secret",
        "relay-identity-token-secret",
        "relay-client-tls-secret",
    ] {
        assert!(
            world.has("cluster1", "Secret", Some("gloo-mesh"), secret),
            "{secret}"
        );
    }
    let svc = world.get_obj(
        "cluster1",
        "Service",
        Some("gloo-mesh"),
        "gloo-mesh-mgmt-server",
    );
    assert_eq!(svc["spec"]["type"], "LoadBalancer");
    assert_eq!(
        svc["spec"]["ports"][0],
        json!({"name": "grpc", "port": 9900, "targetPort": 9900, "protocol": "TCP"})
    );
    assert_eq!(
        svc["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-type"],
        "external"
    );
    let tg = world.get_obj(
        "cluster1",
        "Service",
        Some("gloo-mesh"),
        "gloo-telemetry-gateway",
    );
    assert_eq!(tg["spec"]["ports"][0]["port"], 4317);
    assert!(world.has(
        "cluster1",
        "KubernetesCluster",
        Some("gloo-mesh"),
        "cluster1"
    ));
    let deploy = world.get_obj(
        "cluster1",
        "Deployment",
        Some("gloo-mesh"),
        "gloo-mesh-mgmt-server",
    );
    assert_eq!(
        deploy["spec"]["selector"]["matchLabels"]["app"],
        "gloo-mesh-mgmt-server"
    );
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["labels"]["app"],
        "gloo-mesh-mgmt-server"
    );
    assert!(mgmt.applies.iter().all(|a| !a.yaml.contains(LICENSE)));
    assert_eq!(deploy["metadata"]["labels"]["app"], "gloo-mesh-mgmt-server");

    // Uninstall deletes what helm made, not the secrets the management server made.
    let mut book = ReleaseBook::default();
    book.record(&mgmt);
    let un = sim(
        &world,
        Some("cluster1"),
        "helm",
        &argv_of("uninstall gloo-platform -n gloo-mesh"),
    )
    .await
    .unwrap();
    let gone = book.take_for(&un);
    assert!(
        gone.iter()
            .any(|k| k.name == "gloo-mesh-mgmt-server" && k.kind == "Service"),
        "{gone:?}"
    );
    assert!(gone.iter().all(|k| k.kind != "Secret"), "{gone:?}");

    // The workload cluster's agent (walkthrough 000, cluster 2), values from a file.
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("agent.yaml");
    std::fs::write(&values, "common:\n  cluster: cluster2\nglooAgent:\n  enabled: true\ntelemetryCollector:\n  enabled: true\n").unwrap();
    let agent = sim(
        &world,
        Some("cluster2"),
        "helm",
        &[
            "upgrade",
            "--install",
            "gloo-platform",
            "gloo-platform/gloo-platform",
            "-n",
            "gloo-mesh",
            "--version",
            "2.8.0",
            "-f",
            values.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    world.apply(&agent);
    assert!(world.has(
        "cluster2",
        "Deployment",
        Some("gloo-mesh"),
        "gloo-mesh-agent"
    ));
    assert!(world.has(
        "cluster2",
        "DaemonSet",
        Some("gloo-mesh"),
        "gloo-telemetry-collector-agent"
    ));
    assert!(!world.has(
        "cluster2",
        "Deployment",
        Some("gloo-mesh"),
        "gloo-mesh-mgmt-server"
    ));
    assert!(
        !world.has("cluster2", "Namespace", None, "gloo-mesh"),
        "no --create-namespace"
    );
}

#[tokio::test]
async fn sim_meshctl_register_check_and_dashboard() {
    let world = World::new(&["cluster1", "cluster2"]);
    // Check before anything is installed: fails naming what is missing.
    let check = sim(&world, Some("cluster1"), "meshctl", &["check"])
        .await
        .unwrap();
    let err = run_checks(&check, "cluster1 meshctl", &world)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("missing Deployment `gloo-mesh/gloo-mesh-mgmt-server` on `cluster1`"),
        "{err}"
    );

    let install = sim(
        &world,
        Some("cluster1"),
        "meshctl",
        &["install", "--license", LICENSE, "--set", "insecure=true"],
    )
    .await
    .unwrap();
    world.apply(&install);
    assert!(!install.stdout.contains(LICENSE));
    run_checks(&check, "cluster1 meshctl", &world)
        .await
        .unwrap();
    assert!(check.stdout.contains("Gloo deployment status"));

    let reg = sim(
        &world,
        Some("cluster1"),
        "meshctl",
        &argv_of("cluster register cluster2 --kubecontext ctx-cluster1 --profiles gloo-mesh-agent --remote-context ctx-cluster2 --telemetry-server-address 1.2.3.4:4317"),
    )
    .await
    .unwrap();
    run_checks(&reg, "cluster1 meshctl", &world).await.unwrap();
    world.apply(&reg);
    assert!(world.has(
        "cluster1",
        "KubernetesCluster",
        Some("gloo-mesh"),
        "cluster2"
    ));
    assert!(world.has(
        "cluster2",
        "Deployment",
        Some("gloo-mesh"),
        "gloo-mesh-agent"
    ));
    assert!(world.has(
        "cluster2",
        "Secret",
        Some("gloo-mesh"),
        "relay-identity-token-secret"
    ));
    assert!(world.has(
        "cluster2",
        "DaemonSet",
        Some("gloo-mesh"),
        "gloo-telemetry-collector-agent"
    ));

    let dash = sim(&world, Some("cluster1"), "meshctl", &["dashboard"])
        .await
        .unwrap();
    run_checks(&dash, "cluster1 meshctl", &world).await.unwrap();
    assert!(
        dash.stdout.contains("http://localhost:8090"),
        "{}",
        dash.stdout
    );
}

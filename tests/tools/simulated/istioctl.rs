use super::*;

#[tokio::test]
async fn sim_istioctl_expose_and_link() {
    let world = World::new(&["cluster1", "cluster2"]);
    for c in ["cluster1", "cluster2"] {
        let e = sim(
            &world,
            Some(c),
            "./solo-istioctl",
            &argv_of("multicluster expose --namespace istio-gateways"),
        )
        .await
        .unwrap();
        world.apply(&e);
        let gw = world.get_obj(c, "Gateway", Some("istio-gateways"), "istio-eastwest");
        assert_eq!(gw["spec"]["gatewayClassName"], "istio-eastwest");
        assert_eq!(gw["metadata"]["labels"]["topology.istio.io/network"], c);
        assert_eq!(gw["spec"]["listeners"][0]["port"], 15008);
    }
    // Link before the east-west Services have addresses: a clear error.
    let err = sim(
        &world,
        None,
        "istioctl",
        &argv_of("multicluster link --contexts=ctx-cluster1,ctx-cluster2 -n istio-gateways"),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("Service `istio-gateways/istio-eastwest`")
            && msg.contains("`cluster2`")
            && msg.contains("multicluster expose"),
        "{msg}"
    );

    // The simulator's gateway controller would make these Services; here we put them.
    for (c, ip) in [("cluster1", "172.18.1.1"), ("cluster2", "172.18.2.1")] {
        world.put(
            c,
            "v1",
            "Service",
            Some("istio-gateways"),
            "istio-eastwest",
            json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
        );
    }
    world.put(
        "cluster2",
        "operator.gloo.solo.io/v1",
        "ServiceMeshController",
        None,
        "istio",
        json!({"spec": {"network": "net2"}}),
    );
    let link = sim(
        &world,
        Some("cluster1"),
        "istioctl",
        &argv_of("multicluster link --contexts=ctx-cluster1,ctx-cluster2 -n istio-gateways"),
    )
    .await
    .unwrap();
    assert_eq!(link.applies.len(), 2);
    world.apply(&link);
    let on1 = world.get_obj(
        "cluster1",
        "Gateway",
        Some("istio-gateways"),
        "istio-remote-peer-cluster2",
    );
    assert_eq!(on1["spec"]["addresses"][0]["value"], "172.18.2.1");
    assert_eq!(on1["spec"]["gatewayClassName"], "istio-remote");
    assert_eq!(
        on1["metadata"]["labels"]["topology.istio.io/network"],
        "net2"
    );
    let on2 = world.get_obj(
        "cluster2",
        "Gateway",
        Some("istio-gateways"),
        "istio-remote-peer-cluster1",
    );
    assert_eq!(on2["spec"]["addresses"][0]["value"], "172.18.1.1");
    assert_eq!(
        on2["metadata"]["annotations"]["gateway.istio.io/trust-domain"],
        "cluster1"
    );

    let err = sim(
        &world,
        None,
        "istioctl",
        &argv_of("multicluster link --contexts=ctx-cluster1,nope"),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("context `nope`"), "{err}");
}

#[tokio::test]
async fn sim_istioctl_install_from_an_istio_operator_on_stdin() {
    let world = World::new(&["cluster1"]);
    let operator = r#"
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: gloo-mesh-istio, namespace: istio-system}
spec:
  profile: minimal
  hub: us-docker.pkg.dev/gloo-mesh/istio
  tag: 1.11.7-solo
  components:
    ingressGateways:
    - name: istio-ingressgateway
      enabled: true
      k8s:
        service:
          type: LoadBalancer
          ports:
          - {name: status-port, port: 15021, targetPort: 15021}
          - {name: http2, port: 80, targetPort: 8080}
    - name: istio-eastwestgateway
      enabled: true
      label: {istio: eastwestgateway}
      k8s:
        service:
          ports:
          - {name: tls, port: 15443, targetPort: 15443}
    - name: disabled-gateway
      enabled: false
"#;
    let inv = Invocation::new("istioctl", argv_of("install -y -f -"))
        .cluster(world.cluster("cluster1"))
        .stdin(operator);
    let e = match_simulated(&inv, &rules(), &world).await.unwrap();
    world.apply(&e);
    let istiod = world.get_obj("cluster1", "Deployment", Some("istio-system"), "istiod");
    assert_eq!(
        istiod["spec"]["template"]["spec"]["containers"][0]["image"],
        "us-docker.pkg.dev/gloo-mesh/istio/pilot:1.11.7-solo"
    );
    let ingress = world.get_obj(
        "cluster1",
        "Service",
        Some("istio-system"),
        "istio-ingressgateway",
    );
    assert_eq!(
        ingress["spec"]["ports"][1],
        json!({"name": "http2", "port": 80, "targetPort": 8080, "protocol": "TCP"})
    );
    let ew = world.get_obj(
        "cluster1",
        "Deployment",
        Some("istio-system"),
        "istio-eastwestgateway",
    );
    assert_eq!(ew["metadata"]["labels"]["istio"], "eastwestgateway");
    assert!(!world.has(
        "cluster1",
        "Deployment",
        Some("istio-system"),
        "disabled-gateway"
    ));
}

//! Every simulated rule of `stdlib/sim/tools`, over a map of objects.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use meshbook::tools::{
    helm_install_simulated, match_simulated, objects_in, run_checks, HelmInstall, HelmValues,
    Invocation, ObjectKey, ReleaseBook, SimToolRules, SimWorld, SimulatedEffect, ToolCluster,
    ToolError,
};
use serde_json::{json, Value};

use super::LICENSE;

/// Simulated clusters as a map of objects.
struct World {
    clusters: Vec<ToolCluster>,
    objects: Mutex<BTreeMap<ObjectKey, Value>>,
}

impl World {
    fn new(names: &[&str]) -> Self {
        World {
            clusters: names
                .iter()
                .map(|n| ToolCluster::new(*n, format!("ctx-{n}")))
                .collect(),
            objects: Mutex::new(BTreeMap::new()),
        }
    }

    fn cluster(&self, name: &str) -> ToolCluster {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .clone()
    }

    /// Applies an effect's manifests and deletes, as the bindings would.
    fn apply(&self, effect: &SimulatedEffect) {
        let mut objects = self.objects.lock().unwrap();
        for a in &effect.applies {
            for doc in serde_yaml::Deserializer::from_str(&a.yaml) {
                let v: Value = serde::Deserialize::deserialize(doc).unwrap();
                if v.is_null() {
                    continue;
                }
                let key = objects_in(&a.cluster, &serde_yaml::to_string(&v).unwrap()).remove(0);
                objects.insert(key, v);
            }
        }
        for d in &effect.deletes {
            objects.remove(d);
        }
    }

    fn put(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        obj: Value,
    ) {
        self.objects
            .lock()
            .unwrap()
            .insert(key(cluster, api_version, kind, ns, name), obj);
    }

    fn has(&self, cluster: &str, kind: &str, ns: Option<&str>, name: &str) -> bool {
        self.objects.lock().unwrap().keys().any(|k| {
            k.cluster == cluster && k.kind == kind && k.namespace.as_deref() == ns && k.name == name
        })
    }

    fn get_obj(&self, cluster: &str, kind: &str, ns: Option<&str>, name: &str) -> Value {
        let objects = self.objects.lock().unwrap();
        objects
            .iter()
            .find(|(k, _)| {
                k.cluster == cluster
                    && k.kind == kind
                    && k.namespace.as_deref() == ns
                    && k.name == name
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {kind} {ns:?}/{name} on {cluster}: {:?}", objects.keys()))
    }
}

fn key(cluster: &str, api_version: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        cluster: cluster.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(String::from),
        name: name.into(),
    }
}

impl SimWorld for World {
    fn clusters(&self) -> Vec<ToolCluster> {
        self.clusters.clone()
    }
    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<Value>> {
        let found = self.objects.lock().unwrap().get(key).cloned();
        Box::pin(async move { found })
    }
}

fn rules() -> SimToolRules {
    SimToolRules::load().expect("bundled rules parse")
}

async fn sim(
    world: &World,
    cluster: Option<&str>,
    program: &str,
    argv: &[&str],
) -> Result<SimulatedEffect, ToolError> {
    let mut inv = Invocation::new(program, argv.iter().copied());
    if let Some(c) = cluster {
        inv = inv.cluster(world.cluster(c));
    }
    match_simulated(&inv, &rules(), world).await
}

fn argv_of(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

pub const MGMT_VALUES: &str = r#"
common:
  cluster: cluster1
glooAgent:
  enabled: true
  runAsSidecar: true
  relay:
    serverAddress: gloo-mesh-mgmt-server.gloo-mesh:9900
glooMgmtServer:
  enabled: true
  registerCluster: true
  serviceOverrides:
    metadata:
      annotations:
        service.beta.kubernetes.io/aws-load-balancer-type: external
glooUi:
  enabled: true
prometheus:
  enabled: true
redis:
  deployment:
    enabled: true
telemetryCollector:
  enabled: true
  mode: deployment
telemetryGateway:
  enabled: true
"#;

#[test]
fn bundled_rules_parse_with_unique_names() {
    let rules = rules();
    let mut names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate rule names");
    assert!(count >= 20, "{names:?}");
}

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

#[tokio::test]
async fn sim_vcluster_create_connect_delete() {
    let world = World::new(&["host"]);
    let create = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("create mgmt -n mgmt --expose -f /tmp/does-not-exist.yaml --isolate"),
    )
    .await
    .unwrap();
    assert_eq!(
        create.new_clusters,
        [ToolCluster::new("mgmt", "vcluster_mgmt_mgmt")]
    );
    world.apply(&create);
    let svc = world.get_obj("host", "Service", Some("mgmt"), "mgmt");
    assert_eq!(svc["spec"]["type"], "LoadBalancer");

    let connect = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("connect mgmt --namespace mgmt --update-current"),
    )
    .await
    .unwrap();
    run_checks(&connect, "vcluster", &world).await.unwrap();
    assert!(connect.stdout.contains("vcluster_mgmt_mgmt"));
    let missing = sim(&world, Some("host"), "vcluster", &argv_of("connect other"))
        .await
        .unwrap();
    let err = run_checks(&missing, "vcluster", &world).await.unwrap_err();
    assert!(
        err.to_string().contains("Service `vcluster-other/other`"),
        "{err}"
    );

    let delete = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("delete mgmt -n mgmt"),
    )
    .await
    .unwrap();
    assert_eq!(delete.removed_clusters, ["mgmt"]);
    assert_eq!(delete.deletes[0].name, "mgmt");
    assert_eq!(delete.deletes[0].kind, "Namespace");
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

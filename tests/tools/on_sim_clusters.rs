//! Simulated tool effects applied to real simulated clusters (the in-process simulator, through
//! `meshbook::k8s`), as the bindings will: later waits must see what the rules made.

use std::time::Duration;

use futures::future::BoxFuture;
use meshbook::k8s::{ApplyOptions, Cluster};
use meshbook::sim::{SimCluster, SimOptions};
use meshbook::tools::{
    helm_install_simulated, match_simulated, run_checks, HelmInstall, HelmValues, Invocation,
    ObjectKey, SimToolRules, SimWorld, SimulatedEffect, ToolCluster,
};
use serde_json::Value;

use super::simulated::MGMT_VALUES;
use super::LICENSE;

/// The Gateway API's Gateway CRD, reduced (the walkthroughs apply the upstream bundle).
const GATEWAY_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gateways.gateway.networking.k8s.io}
spec:
  group: gateway.networking.k8s.io
  scope: Namespaced
  names: {kind: Gateway, listKind: GatewayList, plural: gateways, singular: gateway}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const WAIT: Option<Duration> = Some(Duration::from_secs(20));

/// Simulated clusters seen through `meshbook::k8s`, as a `SimWorld`.
struct Fleet {
    _sims: Vec<SimCluster>,
    clusters: Vec<Cluster>,
}

impl Fleet {
    fn start(names: &[&str]) -> Fleet {
        let mut sims = Vec::new();
        let mut clusters = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let sim = SimCluster::start(name, i, SimOptions::default());
            clusters.push(Cluster::new(
                *name,
                Some(format!("ctx-{name}")),
                format!("simulated://{name}"),
                sim.client(),
            ));
            sims.push(sim);
        }
        Fleet {
            _sims: sims,
            clusters,
        }
    }

    fn get(&self, name: &str) -> &Cluster {
        self.clusters.iter().find(|c| c.name() == name).unwrap()
    }

    fn tool_cluster(&self, name: &str) -> ToolCluster {
        ToolCluster::new(name, format!("ctx-{name}"))
    }

    /// What a binding does with an effect: apply in order, delete, then check.
    async fn realize(&self, effect: &SimulatedEffect) {
        for a in &effect.applies {
            self.get(&a.cluster)
                .apply(&a.yaml, &ApplyOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", effect.rule, a.yaml));
        }
        run_checks(effect, &effect.rule, self).await.unwrap();
    }
}

impl SimWorld for Fleet {
    fn clusters(&self) -> Vec<ToolCluster> {
        self.clusters
            .iter()
            .map(|c| self.tool_cluster(c.name()))
            .collect()
    }

    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<Value>> {
        Box::pin(async move {
            let cluster = self.clusters.iter().find(|c| c.name() == key.cluster)?;
            let group = key.api_version.rsplit_once('/').map(|(g, _)| g);
            let kind = match group {
                Some(g) => format!("{}.{g}", key.kind),
                None => key.kind.clone(),
            };
            cluster
                .get(&kind, &key.name, key.namespace.as_deref())
                .await
                .ok()
                .flatten()
        })
    }
}

async fn sim(fleet: &Fleet, cluster: Option<&str>, program: &str, argv: &str) -> SimulatedEffect {
    let rules = SimToolRules::load().unwrap();
    let mut inv = Invocation::new(program, argv.split_whitespace());
    if let Some(c) = cluster {
        inv = inv.cluster(fleet.tool_cluster(c));
    }
    match_simulated(&inv, &rules, fleet).await.unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Walkthrough 000's management plane, operator and peering on two simulated clusters.
#[test]
fn gloo_mesh_walkthrough_tools_on_simulated_clusters() {
    rt().block_on(async {
        let fleet = Fleet::start(&["cluster1", "cluster2"]);
        let c1 = fleet.get("cluster1");

        let crds = sim(&fleet, Some("cluster1"), "helm", "upgrade --install gloo-platform-crds gloo-platform/gloo-platform-crds -n gloo-mesh --create-namespace --version 2.8.0").await;
        fleet.realize(&crds).await;

        let install = HelmInstall {
            release: "gloo-platform".into(),
            chart: "gloo-platform/gloo-platform".into(),
            namespace: "gloo-mesh".into(),
            version: Some("2.8.0".into()),
            values: Some(HelmValues::Yaml(format!("{MGMT_VALUES}licensing:\n  glooMeshLicenseKey: {LICENSE}\n"))),
            ..Default::default()
        };
        let base = Invocation::new("helm", Vec::<String>::new()).cluster(fleet.tool_cluster("cluster1"));
        let rules = SimToolRules::load().unwrap();
        let mgmt = helm_install_simulated(&install, &base, &rules, &fleet).await.unwrap();
        fleet.realize(&mgmt).await;
        c1.wait_rollout("gloo-mesh", "gloo-mesh-mgmt-server", WAIT).await.unwrap();
        c1.wait_rollout("gloo-mesh", "gloo-telemetry-collector", WAIT).await.unwrap();
        let mgmt_addr = c1.lb_address("gloo-mesh", "gloo-mesh-mgmt-server", WAIT).await.unwrap();
        assert!(!mgmt_addr.is_empty());
        c1.lb_address("gloo-mesh", "gloo-telemetry-gateway", WAIT).await.unwrap();
        // The CRDs chart made KubernetesCluster servable, and the chart registered cluster1.
        assert!(c1.get("kubernetescluster", "cluster1", Some("gloo-mesh")).await.unwrap().is_some());

        // The agent on cluster2 (values from the walkthrough, a file on disk).
        let dir = tempfile::tempdir().unwrap();
        let values = dir.path().join("agent.yaml");
        std::fs::write(&values, format!("common:\n  cluster: cluster2\nglooAgent:\n  enabled: true\n  relay:\n    serverAddress: {mgmt_addr}:9900\ntelemetryCollector:\n  enabled: true\n")).unwrap();
        let crds2 = sim(&fleet, Some("cluster2"), "helm", "upgrade --install gloo-platform-crds gloo-platform/gloo-platform-crds --namespace=gloo-mesh --create-namespace --set installEnterpriseCrds=false").await;
        fleet.realize(&crds2).await;
        let agent = sim(&fleet, Some("cluster2"), "helm", &format!("upgrade --install gloo-platform gloo-platform/gloo-platform -n gloo-mesh -f {}", values.display())).await;
        fleet.realize(&agent).await;
        let c2 = fleet.get("cluster2");
        c2.wait_rollout("gloo-mesh", "gloo-mesh-agent", WAIT).await.unwrap();

        let check = sim(&fleet, Some("cluster1"), "meshctl", "check --kubecontext ctx-cluster1").await;
        fleet.realize(&check).await;

        // The operator on both clusters; its CRD serves ServiceMeshControllers at once.
        for c in ["cluster1", "cluster2"] {
            let op = sim(&fleet, Some(c), "helm", "upgrade --install gloo-operator oci://us-docker.pkg.dev/solo-public/gloo-operator-helm/gloo-operator --version 0.2.5 -n gloo-system --create-namespace").await;
            fleet.realize(&op).await;
            let cluster = fleet.get(c);
            cluster.wait_rollout("gloo-system", "gloo-operator", WAIT).await.unwrap();
            cluster
                .apply(&format!("apiVersion: operator.gloo.solo.io/v1\nkind: ServiceMeshController\nmetadata: {{name: istio}}\nspec: {{version: 1.26.2, cluster: {c}, network: net-{c}}}\n"), &ApplyOptions::default())
                .await
                .unwrap();
        }

        // Peering: expose makes the east-west Gateways (their Services come from the
        // simulator's gateway controller; made here by hand when it is not there yet).
        for c in ["cluster1", "cluster2"] {
            fleet.get(c).apply(GATEWAY_CRD, &ApplyOptions::default()).await.unwrap();
            fleet.get(c).create_namespace("istio-gateways", &Default::default()).await.unwrap();
            let expose = sim(&fleet, Some(c), "istioctl", "multicluster expose -n istio-gateways").await;
            fleet.realize(&expose).await;
            let gw = fleet.get(c).get("gateway.gateway.networking.k8s.io", "istio-eastwest", Some("istio-gateways")).await;
            let gw = gw.unwrap_or_else(|e| panic!("{e}")).expect("east-west Gateway");
            assert_eq!(gw["metadata"]["labels"]["topology.istio.io/network"], format!("net-{c}"));
            if fleet.get(c).get("service", "istio-eastwest", Some("istio-gateways")).await.unwrap().is_none() {
                fleet.get(c).apply("apiVersion: v1\nkind: Service\nmetadata: {name: istio-eastwest, namespace: istio-gateways}\nspec:\n  type: LoadBalancer\n  ports: [{name: tls-hbone, port: 15008}]\n", &ApplyOptions::default()).await.unwrap();
            }
            fleet.get(c).lb_address("istio-gateways", "istio-eastwest", WAIT).await.unwrap();
        }
        let link = sim(&fleet, None, "istioctl", "multicluster link --contexts=ctx-cluster1,ctx-cluster2 -n istio-gateways").await;
        fleet.realize(&link).await;
        let addr2 = fleet.get("cluster2").lb_address("istio-gateways", "istio-eastwest", WAIT).await.unwrap();
        let peer = c1.get("gateway.gateway.networking.k8s.io", "istio-remote-peer-cluster2", Some("istio-gateways")).await.unwrap().unwrap();
        assert_eq!(peer["spec"]["addresses"][0]["value"], addr2.as_str());
        assert_eq!(peer["metadata"]["labels"]["topology.istio.io/network"], "net-cluster2");
    });
}

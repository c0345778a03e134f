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

mod gloo;
mod helm;
mod istioctl;
mod vcluster;

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

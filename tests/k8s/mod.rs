//! The Kubernetes core (`meshbook::k8s`) against in-process simulated clusters, with kubectl
//! as an independent observer where it helps.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Command;

use meshbook::k8s::{
    connect, resolve_contexts, ApplyOptions, ApplyOutcome, Cluster, ClusterSet, K8sError,
    LogOptions, Wanted,
};
use meshbook::sim::{SimCluster, SimOptions};
use serde_json::Value;

mod apply;
mod connect;
mod pods;
mod waits;

/// A simulated cluster and a `Cluster` over its in-process client.
fn sim(name: &str, index: usize) -> (SimCluster, Cluster) {
    let s = SimCluster::start(name, index, SimOptions::default());
    let c = Cluster::new(name, None, format!("simulated://{name}"), s.client());
    (s, c)
}

/// A simulated cluster served on a socket, a `Cluster` over a socket client, and the URL.
async fn served(name: &str) -> (SimCluster, Cluster, String) {
    let s = SimCluster::start(name, 0, SimOptions::default());
    let url = format!("http://{}", s.serve_local().await.unwrap());
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let c = Cluster::new(name, None, url.clone(), client);
    (s, c, url)
}

fn opts(ns: &str) -> ApplyOptions {
    ApplyOptions {
        namespace: Some(ns.into()),
        ..ApplyOptions::default()
    }
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn map(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(String::from)))
        .collect()
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: example.com/web:1}
      - {name: sidecar, image: example.com/sidecar:1}
"#;

/// kubectl against a served simulator, with a kubeconfig and cache of its own.
async fn kubectl(dir: &Path, url: &str, args: &[&str]) -> (bool, String) {
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster: {{server: \"{url}\"}}\nusers:\n- name: sim\n  user: {{token: x}}\ncontexts:\n- name: sim\n  context: {{cluster: sim, user: sim}}\ncurrent-context: sim\n"
        ),
    )
    .unwrap();
    // Async: the served simulator runs on this same runtime.
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", &kc)
        .env("KUBECACHEDIR", dir.join("cache"))
        .output()
        .await
        .expect("kubectl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A client over the simulator that answers some requests itself first: `flaky` GETs fail
/// three times (503, 429 with retryAfterSeconds, connection reset), `bad` PATCHes are refused
/// as invalid.
fn faulty_client(
    s: &SimCluster,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> kube::Client {
    use std::sync::atomic::Ordering;
    use tower::ServiceExt;
    let router = s.router();
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let (router, hits) = (router.clone(), hits.clone());
        async move {
            let path = req.uri().path().to_string();
            let answer = |code: u16, reason: &str, message: &str, retry: u32| {
                let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": message, "reason": reason, "code": code,
                    "details": {"retryAfterSeconds": retry}});
                http::Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap()
            };
            if path.ends_with("/configmaps/flaky") && req.method() == http::Method::GET {
                match hits.fetch_add(1, Ordering::SeqCst) {
                    0 => return Ok(answer(503, "ServiceUnavailable", "etcd is sad", 0)),
                    1 => return Ok(answer(429, "TooManyRequests", "slow down", 1)),
                    2 => {
                        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
                        return Err(Box::new(reset) as tower::BoxError);
                    }
                    _ => {}
                }
            }
            if path.ends_with("/configmaps/bad") && req.method() == http::Method::PATCH {
                hits.fetch_add(1, Ordering::SeqCst);
                return Ok(answer(422, "Invalid", "ConfigMap \"bad\" is invalid: data[x y]: Invalid value: \"x y\": a valid config key must consist of alphanumeric characters", 0));
            }
            router.oneshot(req).await.map_err(tower::BoxError::from)
        }
    });
    kube::Client::new(svc, "default")
}

fn crd(group: &str, kind: &str, plural: &str, short: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: {plural}, singular: {}, kind: {kind}, shortNames: [{short}]}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n---\n",
        kind.to_lowercase()
    )
}

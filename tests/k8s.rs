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

const CRD_AND_CR: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.example.com
spec:
  group: demo.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: demo.example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
"#;

#[tokio::test]
async fn crd_then_custom_resource_in_one_apply() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("demo", &BTreeMap::new()).await.unwrap();
    let applied = c.apply(CRD_AND_CR, &opts("demo")).await.unwrap();
    let got: Vec<_> = applied
        .iter()
        .map(|a| (a.kind.as_str(), a.namespace.as_deref(), a.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("CustomResourceDefinition", None, ApplyOutcome::Created),
            ("Widget", Some("demo"), ApplyOutcome::Created)
        ]
    );
    for kind in [
        "Widget",
        "widget",
        "widgets",
        "wd",
        "widgets.demo.example.com",
        "widget.v1.demo.example.com",
    ] {
        let w = c
            .get(kind, "w1", Some("demo"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(w["spec"]["size"], 3, "{kind}");
    }
    let again = c.apply(CRD_AND_CR, &opts("demo")).await.unwrap();
    assert!(
        again.iter().all(|a| a.outcome == ApplyOutcome::Unchanged),
        "{again:?}"
    );
}

#[tokio::test]
async fn unknown_kind_says_which_crd_is_missing() {
    let (_s, c) = sim("cluster1", 0);
    let cr = CRD_AND_CR.split("---").nth(1).unwrap();
    let e = c.apply(cr, &opts("default")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no resource type Widget (demo.example.com/v1) is served by cluster1: is its CRD installed?"
    );
    let e = c.get("widgets", "w1", None).await.unwrap_err();
    assert!(matches!(e, K8sError::UnknownKind { .. }), "{e}");
}

const THREE_CONFIGMAPS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {app: x, tier: web}}
data: {k: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {app: y}}
data: {k: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {app: x, tier: db}}
data: {k: c}
"#;

#[tokio::test]
async fn selector_keeps_only_matching_documents() {
    let (_s, c) = sim("cluster1", 0);
    let o = ApplyOptions {
        selector: Some("app=x,tier!=db".into()),
        ..opts("default")
    };
    let applied = c.apply(THREE_CONFIGMAPS, &o).await.unwrap();
    assert_eq!(
        applied.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    let names: Vec<String> = c
        .list("configmaps", Some("default"), Some("app"))
        .await
        .unwrap()
        .iter()
        .map(|o| str_at(o, "/metadata/name").to_string())
        .collect();
    assert_eq!(names, ["a"]);
}

#[tokio::test]
async fn namespaces_default_and_a_different_one_is_refused_before_any_write() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("shop", &BTreeMap::new()).await.unwrap();
    let applied = c.apply(THREE_CONFIGMAPS, &opts("shop")).await.unwrap();
    assert!(applied
        .iter()
        .all(|a| a.namespace.as_deref() == Some("shop")));
    assert!(c.get("cm", "a", Some("shop")).await.unwrap().is_some());
    // No namespace at all: the context's default namespace.
    let applied = c
        .apply(THREE_CONFIGMAPS, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(applied[0].namespace.as_deref(), Some("default"));

    let conflicting = format!("{THREE_CONFIGMAPS}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d, namespace: other}}\n");
    c.create_namespace("fresh", &BTreeMap::new()).await.unwrap();
    let e = c.apply(&conflicting, &opts("fresh")).await.unwrap_err();
    assert!(matches!(e, K8sError::NamespaceMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "ConfigMap `d` is in namespace `other` but the apply targets namespace `fresh`"
        ),
        "{e}"
    );
    assert!(c
        .list("configmaps", Some("fresh"), Some("app"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn outcomes_created_unchanged_configured_and_dry_run() {
    let (_s, c) = sim("cluster1", 0);
    let first = c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(first.iter().all(|a| a.outcome == ApplyOutcome::Created));
    let a = c.get("cm", "a", Some("default")).await.unwrap().unwrap();
    let managers: Vec<(&str, &str)> = a["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (str_at(m, "/manager"), str_at(m, "/operation")))
        .collect();
    assert!(managers.contains(&("meshbook", "Apply")), "{managers:?}");
    let again = c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(
        again.iter().all(|a| a.outcome == ApplyOutcome::Unchanged),
        "{again:?}"
    );
    let changed = THREE_CONFIGMAPS.replace("data: {k: b}", "data: {k: b2}");
    let dry = ApplyOptions {
        dry_run: true,
        ..opts("default")
    };
    let preview = c.apply(&changed, &dry).await.unwrap();
    assert_eq!(
        preview.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [
            ApplyOutcome::Unchanged,
            ApplyOutcome::Configured,
            ApplyOutcome::Unchanged
        ]
    );
    assert_eq!(
        c.get("cm", "b", Some("default")).await.unwrap().unwrap()["data"]["k"],
        "b"
    );
    let third = c.apply(&changed, &opts("default")).await.unwrap();
    assert_eq!(
        third.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [
            ApplyOutcome::Unchanged,
            ApplyOutcome::Configured,
            ApplyOutcome::Unchanged
        ]
    );
}

#[tokio::test]
async fn labels_and_annotations_are_set_and_removed() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    c.label(
        "configmap",
        "a",
        Some("default"),
        &map(&[("tier", None), ("team", Some("blue"))]),
    )
    .await
    .unwrap();
    c.annotate(
        "configmap",
        "a",
        Some("default"),
        &map(&[("note", Some("hi"))]),
    )
    .await
    .unwrap();
    let a = c
        .get("configmap", "a", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a["metadata"]["labels"],
        serde_json::json!({"app": "x", "team": "blue"})
    );
    assert_eq!(a["metadata"]["annotations"]["note"], "hi");
    c.annotate("configmap", "a", Some("default"), &map(&[("note", None)]))
        .await
        .unwrap();
    let a = c
        .get("configmap", "a", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert!(a.pointer("/metadata/annotations/note").is_none(), "{a}");
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

#[tokio::test]
async fn rollouts_are_awaited_after_set_env_and_scale() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(WEB, &opts("default")).await.unwrap();
    let msg = c
        .wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(msg, "deployment \"web\" successfully rolled out");

    c.set_env("default", "web", &map(&[("MODE", Some("fast"))]))
        .await
        .unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let d = c
        .get("deploy", "web", Some("default"))
        .await
        .unwrap()
        .unwrap();
    for container in d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            container["env"],
            serde_json::json!([{"name": "MODE", "value": "fast"}]),
            "{container}"
        );
    }
    assert!(d["metadata"]["generation"].as_i64().unwrap() >= 2);

    c.scale("default", "web", 3).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let d = c
        .get("deployments.apps", "web", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d["status"]["availableReplicas"], 3);
    let pods = c
        .list("pods", Some("default"), Some("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.len(), 3);
    assert_eq!(
        c.wait_rollouts("default", Some(Duration::from_secs(30)))
            .await
            .unwrap(),
        ["web"]
    );
}

#[tokio::test]
async fn a_timeout_says_what_was_last_seen() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(WEB, &opts("default")).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let event = r#"
apiVersion: v1
kind: Event
metadata: {name: web.1}
involvedObject: {kind: Deployment, name: web, namespace: default}
type: Warning
reason: Stuck
message: the sky is falling
count: 2
---
apiVersion: v1
kind: Event
metadata: {name: web-1.1}
involvedObject: {kind: Pod, name: web-5d8f-abcde, namespace: default}
type: Warning
reason: BackOff
message: Back-off pulling image
---
apiVersion: v1
kind: Event
metadata: {name: webhook.1}
involvedObject: {kind: Pod, name: webhook-1, namespace: default}
type: Warning
reason: Unrelated
message: not about web
"#;
    c.apply(event, &opts("default")).await.unwrap();
    let started = Instant::now();
    let e = c
        .wait_condition(
            "deploy",
            "web",
            Some("default"),
            "Launched",
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        e.starts_with(
            "timed out after 1s waiting for Deployment default/web to be Launched on `cluster1`"
        ),
        "{e}"
    );
    assert!(
        e.contains("replicas: wanted 1, replicas 1, updated 1"),
        "{e}"
    );
    assert!(e.contains("Available=True"), "{e}");
    assert!(
        e.contains("Warning  Stuck  Deployment/web: the sky is falling (x2)"),
        "{e}"
    );
    assert!(
        e.contains("Warning  BackOff  Pod/web-5d8f-abcde: Back-off pulling image"),
        "{e}"
    );
    assert!(!e.contains("Unrelated"), "{e}");

    let e = c
        .wait_for(
            "configmap",
            "nothing",
            Some("default"),
            |_| true,
            Some(Duration::from_millis(300)),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("last seen: ConfigMap default/nothing does not exist"),
        "{e}"
    );
}

#[tokio::test]
async fn lb_address_waits_for_the_ingress() {
    let (_s, c) = sim("cluster1", 0);
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: gw}\nspec:\n  type: LoadBalancer\n  selector: {app: gw}\n  ports: [{port: 80}]\n";
    c.apply(svc, &opts("default")).await.unwrap();
    let addr = c
        .lb_address("default", "gw", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(addr.parse::<std::net::IpAddr>().is_ok(), "{addr}");
}

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
async fn delete_and_delete_yaml_tolerate_absent_objects() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(c.delete("cm", "a", Some("default"), true).await.unwrap());
    assert!(!c.delete("cm", "a", Some("default"), false).await.unwrap());
    let deleted = c
        .delete_yaml(THREE_CONFIGMAPS, Some("default"))
        .await
        .unwrap();
    let got: Vec<_> = deleted
        .iter()
        .map(|d| (d.name.as_str(), d.existed))
        .collect();
    assert_eq!(got, [("c", true), ("b", true), ("a", false)]);
}

#[tokio::test]
async fn kubectl_sees_what_meshbook_applied() {
    let (_s, c, url) = served("cluster1").await;
    let dir = tempfile::tempdir().unwrap();
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    c.label("cm", "a", Some("default"), &map(&[("tier", None)]))
        .await
        .unwrap();
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["get", "configmap", "a", "-n", "default", "-o", "json"],
    )
    .await;
    assert!(ok, "{out}");
    let a: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["metadata"]["labels"], serde_json::json!({"app": "x"}));
    // A label set by kubectl survives a re-apply that never mentioned it.
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["label", "configmap", "b", "-n", "default", "owner=ops"],
    )
    .await;
    assert!(ok, "{out}");
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    let b = c.get("cm", "b", Some("default")).await.unwrap().unwrap();
    assert_eq!(b["metadata"]["labels"]["owner"], "ops");

    // kubectl agrees on rollouts and load-balancer addresses.
    c.apply(WEB, &opts("default")).await.unwrap();
    c.set_env("default", "web", &map(&[("MODE", Some("x"))]))
        .await
        .unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &[
            "rollout",
            "status",
            "deploy/web",
            "-n",
            "default",
            "--timeout=5s",
        ],
    )
    .await;
    assert!(ok && out.contains("successfully rolled out"), "{out}");
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: gw}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n";
    c.apply(svc, &opts("default")).await.unwrap();
    let addr = c
        .lb_address("default", "gw", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let jsonpath = "-o=jsonpath={.status.loadBalancer.ingress[0].ip}";
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["get", "svc", "gw", "-n", "default", jsonpath],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), addr);
}

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

fn crd(group: &str, kind: &str, plural: &str, short: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: {plural}, singular: {}, kind: {kind}, shortNames: [{short}]}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n---\n",
        kind.to_lowercase()
    )
}

#[tokio::test]
async fn ambiguous_kinds_resolve_as_kubectl_does() {
    let (_s, c) = sim("cluster1", 0);
    // Known before the CRDs exist: the cached discovery must be refreshed on a miss.
    assert_eq!(c.resolve("deploy").await.unwrap().group, "apps");
    let crds = format!(
        "{}{}{}",
        crd("networking.istio.io", "Gateway", "gateways", "gw"),
        crd("gateway.networking.k8s.io", "Gateway", "gateways", "gtw"),
        crd("demo.example.com", "Event", "events", "dev"),
    );
    c.apply(&crds, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        c.resolve("gateway").await.unwrap().group,
        "gateway.networking.k8s.io"
    );
    assert_eq!(c.resolve("gw").await.unwrap().group, "networking.istio.io");
    assert_eq!(
        c.resolve("gateways.networking.istio.io")
            .await
            .unwrap()
            .group,
        "networking.istio.io"
    );
    // A built-in group wins over a CRD group.
    assert_eq!(c.resolve("events").await.unwrap().group, "");
    assert_eq!(
        c.resolve("events.demo.example.com").await.unwrap().group,
        "demo.example.com"
    );
}

#[tokio::test]
async fn deleting_a_namespace_waits_until_it_is_gone() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("shop", &BTreeMap::new()).await.unwrap();
    c.apply(THREE_CONFIGMAPS, &opts("shop")).await.unwrap();
    c.apply(WEB, &opts("shop")).await.unwrap();
    let started = Instant::now();
    assert!(c.delete("namespace", "shop", None, true).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(c.get("ns", "shop", None).await.unwrap().is_none());
    assert!(c.list("cm", Some("shop"), None).await.unwrap().is_empty());
}

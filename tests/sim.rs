//! Simulated clusters: kube-rs in-process, and kubectl 1.32 against socket-served clusters.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::ResourceExt;
use meshbook::sim::{start_fleet, write_kubeconfig, SimCluster, SimOptions};
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn kube_rs_in_process_crud_watch_apply() {
    rt().block_on(async {
        let sim = SimCluster::start("k1", 0, SimOptions::default());
        let client = sim.client();
        let v = client.apiserver_version().await.unwrap();
        assert_eq!(v.minor, "32");

        let nss: Api<Namespace> = Api::all(client.clone());
        let names: Vec<String> = nss.list(&ListParams::default()).await.unwrap().items.iter().map(|n| n.name_any()).collect();
        for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }

        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "1"}})).unwrap();
        let created = cms.create(&PostParams::default(), &cm).await.unwrap();
        let rv = created.resource_version().unwrap();
        let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 409), "{err:?}");
        let err = cms.get("nope").await.unwrap_err();
        assert!(err.to_string().contains("configmaps \"nope\" not found"), "{err}");

        // watch from the create's resourceVersion sees the apply
        let mut stream = cms.watch(&WatchParams::default().labels("app=x"), &rv).await.unwrap().boxed();
        let pp = PatchParams::apply("test").force();
        let applied = cms
            .patch("one", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "2"}})))
            .await
            .unwrap();
        assert_eq!(applied.data.as_ref().unwrap()["a"], "2");
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.unwrap().unwrap().unwrap();
        assert!(matches!(ev, WatchEvent::Modified(ref o) if o.data.as_ref().unwrap()["a"] == "2"), "{ev:?}");

        // an unchanged re-apply keeps the resourceVersion
        let again = cms
            .patch("one", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "2"}})))
            .await
            .unwrap();
        assert_eq!(again.resource_version(), applied.resource_version());

        // missing namespace
        let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
        let err = elsewhere.create(&PostParams::default(), &cm).await.unwrap_err();
        assert!(err.to_string().contains("namespaces \"missing\" not found"), "{err}");

        // deployment rollout through ReplicaSet and Pods
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let d: Deployment = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
        .unwrap();
        deps.patch("web", &pp, &Patch::Apply(&d)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), await_condition(deps.clone(), "web", conditions::is_deployment_completed()))
            .await
            .unwrap()
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let ps = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
        assert_eq!(ps.items.len(), 2);
        assert!(ps.items.iter().all(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Running")));

        // status subresource
        let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
        let svc = svcs.get("kubernetes").await.unwrap();
        assert_eq!(svc.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.1"));

        let dr = deps.delete("web", &DeleteParams::default()).await.unwrap();
        let _ = dr;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if pods.list(&ListParams::default().labels("app=web")).await.unwrap().items.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "pods of a deleted deployment are garbage collected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // discovery works
        let disc = kube::discovery::Discovery::new(client.clone()).run().await.unwrap();
        assert!(disc.groups().any(|g| g.name() == "apps"));
    });
}

struct Kubectl<'a> {
    kubeconfig: &'a Path,
    cache: &'a Path,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("kubectl")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.cache)
            .env("KUBECONFIG", self.kubeconfig)
            .env("KUBECACHEDIR", self.cache)
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }
}

fn have_kubectl() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 3, color: blue}
"#;

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox}]
"#;

#[test]
fn kubectl_conformance() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let started = Instant::now();
    let names: Vec<String> = ["c1", "c2", "c3"].iter().map(|s| s.to_string()).collect();
    let (_fleet, urls) = rt
        .block_on(start_fleet(&names, SimOptions::default()))
        .unwrap();
    eprintln!(
        "three simulated clusters started in {:?}",
        started.elapsed()
    );
    write_kubeconfig(&kubeconfig, &urls).unwrap();
    let k = Kubectl {
        kubeconfig: &kubeconfig,
        cache: &cache,
    };
    let _guard = rt.enter();

    let contexts = k.ok(&["config", "get-contexts", "-o", "name"]);
    for c in ["c1", "c2", "c3"] {
        assert!(contexts.lines().any(|l| l == c), "{contexts}");
    }
    let crd = dir.path().join("crd.yaml");
    std::fs::write(&crd, CRD).unwrap();
    let widget = dir.path().join("widget.yaml");
    std::fs::write(&widget, WIDGET).unwrap();
    let c1 = ["--context", "c1"];
    let with = |args: &[&str]| -> Vec<String> {
        c1.iter()
            .chain(args.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[&str]| -> String {
        let v = with(args);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        k.ok(&refs)
    };
    run(&["apply", "--server-side", "-f", crd.to_str().unwrap()]);
    run(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=20s",
    ]);
    run(&["apply", "--server-side", "-f", widget.to_str().unwrap()]);
    assert_eq!(
        run(&["get", "widget", "w1", "-o", "jsonpath={.spec.color}"]),
        "blue"
    );
    let table = run(&["get", "wd"]);
    assert!(table.contains("SIZE") && table.contains('3'), "{table}");

    run(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
        "--port=8080",
    ]);
    run(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    run(&["label", "deployment", "web", "tier=front"]);
    let got = run(&["get", "deploy", "-l", "tier=front", "-o", "name"]);
    assert_eq!(got.trim(), "deployment.apps/web");
    run(&["scale", "deployment", "web", "--replicas=3"]);
    run(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let img = run(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}"]);
    assert_eq!(img, "nginx:1.27 8080");
    let pods = run(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(pods.lines().count(), 3, "{pods}");

    run(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=8080",
        "--type=LoadBalancer",
    ]);
    let ports = run(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app}",
    ]);
    assert_eq!(ports, "80 8080 web");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ip = run(&[
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        if !ip.is_empty() {
            assert!(
                meshbook::sim::is_simulated_address(&ip.parse().unwrap()),
                "{ip}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no LoadBalancer address");
        std::thread::sleep(Duration::from_millis(50));
    }
    let svc = run(&["get", "svc", "web", "--no-headers"]);
    let external = svc
        .split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .to_string();
    assert!(external.starts_with("198.51.100."), "{svc}");

    // typed kubectl commands send protobuf
    run(&["create", "namespace", "team-a"]);
    run(&[
        "-n",
        "team-a",
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=k=v",
    ]);
    run(&[
        "-n",
        "team-a",
        "create",
        "configmap",
        "cm1",
        "--from-literal=k=v",
    ]);
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "secret",
            "s1",
            "-o",
            "jsonpath={.data.k}"
        ]),
        "dg=="
    );
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "cm",
            "cm1",
            "-o",
            "jsonpath={.data.k}"
        ]),
        "v"
    );
    run(&["delete", "namespace", "team-a", "--timeout=20s"]);
    let (ok, _, _) = k.run(&["--context", "c1", "get", "ns", "team-a"]);
    assert!(!ok, "the namespace is gone after delete");

    // client-side apply (create, then a changed re-apply), set env, rollout restart
    let cm = dir.path().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {a: '1', b: '2'}\n",
    )
    .unwrap();
    run(&["apply", "-f", cm.to_str().unwrap()]);
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {a: '3'}\n",
    )
    .unwrap();
    run(&["apply", "-f", cm.to_str().unwrap()]);
    assert_eq!(
        run(&["get", "cm", "app-config", "-o", "jsonpath={.data}"]),
        r#"{"a":"3"}"#
    );
    run(&["set", "env", "deployment/web", "MODE=sim"]);
    run(&["rollout", "restart", "deployment/web"]);
    run(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let env = run(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(env, "sim");
    let pods = run(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(
        pods.lines().count(),
        3,
        "old pods are gone after the rollout: {pods}"
    );
    run(&[
        "create",
        "configmap",
        "dry",
        "--from-literal=a=b",
        "--dry-run=server",
    ]);
    let (ok, _, _) = k.run(&["--context", "c1", "get", "cm", "dry"]);
    assert!(!ok, "dry-run=server persists nothing");

    // logs and exec on a simulated pod
    let pod = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    let logs = run(&["logs", &pod]);
    assert!(logs.contains(&pod) && logs.contains("simulated"), "{logs}");
    let v = with(&["exec", &pod, "--", "ls", "/"]);
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    let (ok, out, err) = k.run(&refs);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("cannot run `ls /`") && err.contains("126"),
        "{err}"
    );

    // other workloads converge too
    let workloads = dir.path().join("workloads.yaml");
    std::fs::write(&workloads, WORKLOADS).unwrap();
    run(&["apply", "-f", workloads.to_str().unwrap()]);
    run(&["rollout", "status", "statefulset/db", "--timeout=30s"]);
    run(&["rollout", "status", "daemonset/agent", "--timeout=30s"]);
    run(&[
        "wait",
        "--for=condition=complete",
        "job/once",
        "--timeout=30s",
    ]);
    let ns_table = run(&["get", "ns", "default"]);
    assert!(
        ns_table.contains("STATUS") && ns_table.contains("Active"),
        "{ns_table}"
    );

    // kubectl get -w prints table rows for watch events
    let mut watcher = Command::new("kubectl")
        .args([
            "--context",
            "c1",
            "get",
            "deploy",
            "web",
            "-w",
            "--no-headers",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &cache)
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", &cache)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("kubectl get -w lists first");
    assert!(first.starts_with("web"), "{first}");
    run(&["annotate", "deployment", "web", "touched=yes"]);
    let second = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("kubectl get -w prints the change");
    assert!(
        second.starts_with("web ") && second.contains("3/3"),
        "{second}"
    );
    let _ = watcher.kill();
    let _ = watcher.wait();

    let table = run(&["get", "deploy"]);
    assert!(
        table.contains("READY") && table.contains("UP-TO-DATE") && table.contains("3/3"),
        "{table}"
    );

    run(&["delete", "widget", "w1"]);
    let v = with(&["get", "widget", "w1"]);
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    let (ok, _, err) = k.run(&refs);
    assert!(
        !ok && err.contains("NotFound") && err.contains("widgets.example.com \"w1\" not found"),
        "{err}"
    );

    let (ok, _, err) = k.run(&["--context", "c2", "get", "deployment", "web"]);
    assert!(
        !ok && err.contains("not found"),
        "objects of c1 are not on c2: {err}"
    );
    let out = k.ok(&[
        "--context",
        "c3",
        "get",
        "ns",
        "kube-system",
        "-o",
        "jsonpath={.metadata.labels.kubernetes\\.io/metadata\\.name}",
    ]);
    assert_eq!(out, "kube-system");
}

fn crd(group: &str, kind: &str, plural: &str, scope: &str, versions: &[&str]) -> serde_json::Value {
    let versions: Vec<serde_json::Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"name": v, "served": true, "storage": i == 0, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}))
        .collect();
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase()},
            "versions": versions}})
}

fn dynamic(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
) -> Api<kube::api::DynamicObject> {
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    }
}

/// Polls `check` until it returns Some, failing after a deadline.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn vendor_rules_gateways_operator_and_global_services() {
    rt().block_on(async {
        let sim = SimCluster::start("r1", 1, SimOptions::default());
        let client = sim.client();
        let pp = PatchParams::apply("test").force();
        let crds: Api<kube::api::DynamicObject> = dynamic(&client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", None);
        for c in [
            crd("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", "Cluster", &["v1"]),
            crd("gateway.networking.k8s.io", "Gateway", "gateways", "Namespaced", &["v1", "v1beta1"]),
            crd("gateway.networking.k8s.io", "HTTPRoute", "httproutes", "Namespaced", &["v1", "v1beta1"]),
            crd("operator.gloo.solo.io", "ServiceMeshController", "servicemeshcontrollers", "Cluster", &["v1"]),
        ] {
            let name = c["metadata"]["name"].as_str().unwrap().to_string();
            crds.patch(&name, &pp, &Patch::Apply(&c)).await.unwrap();
        }
        let nss: Api<Namespace> = Api::all(client.clone());
        nss.patch("istio-system", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}))).await.unwrap();

        // gloo-operator
        let smcs = dynamic(&client, "operator.gloo.solo.io", "v1", "ServiceMeshController", "servicemeshcontrollers", None);
        smcs.patch("istio", &pp, &Patch::Apply(json!({"apiVersion": "operator.gloo.solo.io/v1", "kind": "ServiceMeshController",
            "metadata": {"name": "istio"}, "spec": {"version": "1.26.2", "cluster": "cluster1", "network": "cluster1"}}))).await.unwrap();
        let istio_deps: Api<Deployment> = Api::namespaced(client.clone(), "istio-system");
        tokio::time::timeout(Duration::from_secs(10), await_condition(istio_deps.clone(), "istiod-gloo", conditions::is_deployment_completed()))
            .await
            .unwrap()
            .unwrap();
        eventually("ServiceMeshController phase", || {
            let smcs = smcs.clone();
            async move { (smcs.get("istio").await.ok()?.data["status"]["phase"] == "SUCCEEDED").then_some(()) }
        })
        .await;
        let classes = dynamic(&client, "gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", None);
        eventually("GatewayClass istio accepted", || {
            let classes = classes.clone();
            async move { (classes.get("istio").await.ok()?.data["status"]["conditions"][0]["status"] == "True").then_some(()) }
        })
        .await;

        // Gateway class istio -> <gw>-istio LoadBalancer Service, Programmed once addressed
        let gws = dynamic(&client, "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("default"));
        gws.patch("ingress", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "ingress", "namespace": "default"},
            "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}))).await.unwrap();
        let gw = eventually("Gateway Programmed", || {
            let gws = gws.clone();
            async move {
                let gw = gws.get("ingress").await.ok()?;
                let conds = gw.data["status"]["conditions"].as_array()?.clone();
                conds.iter().any(|c| c["type"] == "Programmed" && c["status"] == "True").then_some(gw)
            }
        })
        .await;
        let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
        let svc = svcs.get("ingress-istio").await.unwrap();
        let ip = svc.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0].ip.clone().unwrap();
        assert_eq!(gw.data["status"]["addresses"][0]["value"], ip.as_str());
        let ports: Vec<i32> = svc.spec.unwrap().ports.unwrap().iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![15021, 80]);
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        assert!(deps.get("ingress-istio").await.is_ok());

        // HTTPRoute status parents
        let routes = dynamic(&client, "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", Some("default"));
        routes.patch("r", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "default"}, "spec": {"parentRefs": [{"name": "ingress"}]}}))).await.unwrap();
        eventually("HTTPRoute parents", || {
            let routes = routes.clone();
            async move {
                let r = routes.get("r").await.ok()?;
                (r.data["status"]["parents"][0]["controllerName"] == "istio.io/gateway-controller").then_some(())
            }
        })
        .await;

        // global service -> ServiceEntry in istio-system, removed with the label
        svcs.patch("web", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"solo.io/service-scope": "global"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 9080}]}}))).await.unwrap();
        let ses = dynamic(&client, "networking.istio.io", "v1", "ServiceEntry", "serviceentries", Some("istio-system"));
        let se = eventually("autogen ServiceEntry", || {
            let ses = ses.clone();
            async move { ses.get("autogen.default.web").await.ok() }
        })
        .await;
        assert_eq!(se.data["spec"]["hosts"][0], "web.default.mesh.internal");
        svcs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"solo.io/service-scope": null}}}))).await.unwrap();
        eventually("autogen ServiceEntry removed", || {
            let ses = ses.clone();
            async move { ses.get("autogen.default.web").await.is_err().then_some(()) }
        })
        .await;

        // deleting the Gateway collects what the rule made for it
        gws.delete("ingress", &DeleteParams::default()).await.unwrap();
        eventually("gateway Service garbage collected", || {
            let svcs = svcs.clone();
            async move { svcs.get("ingress-istio").await.is_err().then_some(()) }
        })
        .await;
    });
}

/// Prints start-up time and apply-patch throughput (test profile; release is faster).
#[test]
fn startup_and_apply_patch_throughput() {
    rt().block_on(async {
        let started = Instant::now();
        let fleet = meshbook::sim::SimFleet::new(SimOptions::default());
        for name in ["t1", "t2", "t3"] {
            fleet.add(name);
        }
        let startup = started.elapsed();
        assert_eq!(fleet.names(), vec!["t1", "t2", "t3"]);
        let client = fleet.get("t1").unwrap().client();
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        let pp = PatchParams::apply("bench");
        let n = 300;
        let t = Instant::now();
        for i in 0..n {
            let name = format!("cm-{i}");
            cms.patch(&name, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"i": i.to_string()}})))
                .await
                .unwrap();
        }
        let rate = f64::from(n) / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for i in 0..n {
            let name = format!("cm-{i}");
            cms.patch(&name, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"i": i.to_string()}})))
                .await
                .unwrap();
        }
        let unchanged_rate = f64::from(n) / t.elapsed().as_secs_f64();
        eprintln!("three clusters started in {startup:?}; apply-patch: {rate:.0} objects/s (create), {unchanged_rate:.0} objects/s (unchanged re-apply)");
        assert_eq!(cms.list(&ListParams::default().labels("app=bench")).await.unwrap().items.len(), n as usize);
    });
}

#[test]
fn kube_rs_exec_and_logs_over_a_socket() {
    rt().block_on(async {
        let sim = SimCluster::start("x1", 2, SimOptions::default());
        let addr = sim.serve_local().await.unwrap();
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}})).unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), await_condition(pods.clone(), "p", conditions::is_pod_running()))
            .await
            .unwrap()
            .unwrap();
        let logs = pods.logs("p", &Default::default()).await.unwrap();
        assert!(logs.contains("default/p") && logs.contains("container main"), "{logs}");

        let mut attached = pods
            .exec("p", ["echo", "hi"], &kube::api::AttachParams::default().stderr(true).stdout(true))
            .await
            .unwrap();
        let mut stderr = attached.stderr().unwrap();
        let status = attached.take_status().unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await.unwrap();
        assert!(text.contains("cannot run `echo hi`"), "{text}");
        let status = status.await.unwrap();
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let causes = status.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].reason.as_deref(), Some("ExitCode"));
        assert_eq!(causes[0].message.as_deref(), Some("126"));
        attached.join().await.unwrap();
    });
}

#[test]
fn failing_pods_and_events_can_be_rehearsed() {
    use k8s_openapi::api::core::v1::Event;
    rt().block_on(async {
        let sim = SimCluster::start("f1", 0, SimOptions::default());
        let client = sim.client();
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let pp = PatchParams::apply("test");
        deps.patch("bad", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bad"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bad"}},
                "template": {"metadata": {"labels": {"app": "bad"}, "annotations": {meshbook::sim::FAIL_ANNOTATION: "ImagePullBackOff"}},
                    "spec": {"containers": [{"name": "c", "image": "nope:1"}]}}}})))
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let events: Api<Event> = Api::namespaced(client.clone(), "default");
        let warning = eventually("a Warning event for the failing pod", || {
            let events = events.clone();
            async move {
                let list = events.list(&ListParams::default()).await.ok()?;
                list.items.into_iter().find(|e| e.type_.as_deref() == Some("Warning"))
            }
        })
        .await;
        assert_eq!(warning.reason.as_deref(), Some("Failed"));
        let pod = pods.list(&ListParams::default().labels("app=bad")).await.unwrap().items.remove(0);
        let waiting = pod.status.unwrap().container_statuses.unwrap()[0].state.clone().unwrap().waiting.unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
        let d = deps.get("bad").await.unwrap();
        assert_eq!(d.status.unwrap().ready_replicas.unwrap_or(0), 0);
        let normal = events.list(&ListParams::default()).await.unwrap();
        assert!(normal.items.iter().any(|e| e.reason.as_deref() == Some("ScalingReplicaSet")));
    });
}

#[test]
fn global_services_reach_linked_clusters() {
    rt().block_on(async {
        let fleet = meshbook::sim::SimFleet::new(SimOptions::default());
        let (a, b) = (fleet.add("east"), fleet.add("west"));
        let pp = PatchParams::apply("test").force();
        for c in [&a, &b] {
            let client = c.client();
            let crds = dynamic(&client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", None);
            for d in [
                crd("gateway.networking.k8s.io", "Gateway", "gateways", "Namespaced", &["v1"]),
                crd("networking.istio.io", "ServiceEntry", "serviceentries", "Namespaced", &["v1"]),
            ] {
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                crds.patch(&name, &pp, &Patch::Apply(&d)).await.unwrap();
            }
            let nss: Api<Namespace> = Api::all(client.clone());
            for ns in ["istio-system", "istio-gateways"] {
                nss.patch(ns, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))).await.unwrap();
            }
        }
        // west's east-west gateway gets an address; east links to it with an istio-remote Gateway
        let west_gws = dynamic(&b.client(), "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("istio-gateways"));
        west_gws.patch("istio-eastwest", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "istio-eastwest", "namespace": "istio-gateways"},
            "spec": {"gatewayClassName": "istio-eastwest", "listeners": [{"name": "cross-network", "port": 15008, "protocol": "HBONE"}]}}))).await.unwrap();
        let west_svcs: Api<Service> = Api::namespaced(b.client(), "istio-gateways");
        let ew_ip = eventually("west east-west address", || {
            let svcs = west_svcs.clone();
            async move { svcs.get("istio-eastwest").await.ok()?.status?.load_balancer?.ingress?.first()?.ip.clone() }
        })
        .await;
        let east_gws = dynamic(&a.client(), "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("istio-gateways"));
        east_gws.patch("istio-remote-peer-west", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "istio-remote-peer-west", "namespace": "istio-gateways"},
            "spec": {"gatewayClassName": "istio-remote", "addresses": [{"type": "IPAddress", "value": ew_ip}],
                "listeners": [{"name": "cross-network", "port": 15008, "protocol": "HBONE"}]}}))).await.unwrap();

        let west_default: Api<Service> = Api::namespaced(b.client(), "default");
        west_default.patch("reviews", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "default", "labels": {"solo.io/service-scope": "global"}},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}))).await.unwrap();
        let east_ses = dynamic(&a.client(), "networking.istio.io", "v1", "ServiceEntry", "serviceentries", Some("istio-system"));
        let se = eventually("ServiceEntry copied to the linked cluster", || {
            let ses = east_ses.clone();
            async move { ses.get("autogen.default.reviews").await.ok() }
        })
        .await;
        assert_eq!(se.data["spec"]["hosts"][0], "reviews.default.mesh.internal");

        west_default.patch("reviews", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"solo.io/service-scope": null}}}))).await.unwrap();
        eventually("copy removed with the label", || {
            let ses = east_ses.clone();
            async move { ses.get("autogen.default.reviews").await.is_err().then_some(()) }
        })
        .await;
    });
}

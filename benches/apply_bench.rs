//! Applies a generated 500-object manifest to a simulated cluster served on a socket, with
//! meshbook's `Cluster::apply` and with `kubectl apply --server-side -f` of the same file on the
//! same server (into a second namespace, so both create the same objects), then re-applies
//! both (every object unchanged).
//!
//! The server answers every request after `--sim-latency` (20 ms by default: a remote cluster's
//! round trip), so the numbers show what concurrency buys.
//!
//! Run: `cargo bench --bench apply_bench`
//! (`MESHBOOK_BENCH_OBJECTS=N` changes the object count, `MESHBOOK_BENCH_LATENCY=5ms` the
//! round trip; kubectl is skipped when absent.)

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use meshbook::k8s::{ApplyOptions, ApplyOutcome, Cluster};
use meshbook::sim::{SimCluster, SimOptions};

/// A manifest of `n` objects: ConfigMaps, Services and Deployments, without namespaces.
fn manifest(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let doc = match i % 5 {
            0..=2 => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  labels: {{app: bench, index: \"{i}\"}}\ndata:\n  key: value-{i}\n  other: \"{i}\"\n"
            ),
            3 => format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  labels: {{app: bench}}\nspec:\n  selector: {{app: app-{i}}}\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
            ),
            _ => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels: {{app: bench}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: app-{i}}}\n  template:\n    metadata:\n      labels: {{app: app-{i}}}\n    spec:\n      containers:\n      - name: app\n        image: example.com/app:{i}\n        ports:\n        - containerPort: 8080\n"
            ),
        };
        s.push_str("---\n");
        s.push_str(&doc);
    }
    s
}

fn count(applied: &[meshbook::k8s::Applied], outcome: ApplyOutcome) -> usize {
    applied.iter().filter(|a| a.outcome == outcome).count()
}

fn kubectl(dir: &std::path::Path, args: &[&str]) -> Option<(Duration, bool, String)> {
    let started = Instant::now();
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("KUBECACHEDIR", dir.join("cache"))
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((started.elapsed(), out.status.success(), text))
}

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: then a small smoke run only.
    let benching = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("MESHBOOK_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 500 } else { 20 });
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let latency = std::env::var("MESHBOOK_BENCH_LATENCY")
            .ok()
            .and_then(|v| meshbook::sim::faults::parse_duration(&v).ok())
            .unwrap_or(if benching { Duration::from_millis(20) } else { Duration::ZERO });
        let opts = SimOptions {
            faults: meshbook::sim::faults::FaultOptions { rate: 0.0, latency, seed: 1 },
            ..SimOptions::default()
        };
        println!("simulated round trip: {latency:?}");
        let sim = SimCluster::start("bench", 0, opts);
        let url = format!("http://{}", sim.serve_local().await.expect("serve"));
        let config = kube::Config::new(url.parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let cluster = Cluster::new("bench", None, url.clone(), client);
        for ns in ["bench-meshbook", "bench-kubectl"] {
            cluster.create_namespace(ns, &Default::default()).await.expect("namespace");
        }
        let text = manifest(n);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("manifest.yaml");
        std::fs::write(&file, &text).expect("write manifest");
        let mut kc = std::fs::File::create(dir.path().join("kubeconfig")).expect("kubeconfig");
        write!(
            kc,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: bench\n  cluster: {{server: \"{url}\"}}\nusers:\n- name: bench\n  user: {{token: bench}}\ncontexts:\n- name: bench\n  context: {{cluster: bench, user: bench}}\ncurrent-context: bench\n"
        )
        .expect("kubeconfig");

        let opts = ApplyOptions {
            namespace: Some("bench-meshbook".into()),
            ..ApplyOptions::default()
        };
        let started = Instant::now();
        let first = cluster.apply(&text, &opts).await.expect("apply");
        let t_first = started.elapsed();
        let started = Instant::now();
        let again = cluster.apply(&text, &opts).await.expect("re-apply");
        let t_again = started.elapsed();
        println!("server: {url}");
        println!(
            "meshbook apply, {n} objects: first {:.0} ms ({} created), again {:.0} ms ({} unchanged)",
            t_first.as_secs_f64() * 1000.0,
            count(&first, ApplyOutcome::Created),
            t_again.as_secs_f64() * 1000.0,
            count(&again, ApplyOutcome::Unchanged),
        );

        let file = file.to_string_lossy().to_string();
        let args = ["apply", "--server-side", "--field-manager=kubectl-bench", "-n", "bench-kubectl", "-f", file.as_str()];
        match kubectl(dir.path(), &args) {
            None => println!("kubectl apply --server-side: skipped (kubectl not found)"),
            Some((t1, ok1, out1)) => {
                let (t2, ok2, out2) = kubectl(dir.path(), &args).unwrap_or_default();
                let created = out1.lines().filter(|l| l.ends_with("serverside-applied")).count();
                println!(
                    "kubectl apply --server-side, {n} objects: first {:.0} ms ({created} applied{}), again {:.0} ms{}",
                    t1.as_secs_f64() * 1000.0,
                    if ok1 { "" } else { ", FAILED" },
                    t2.as_secs_f64() * 1000.0,
                    if ok2 { "" } else { ", FAILED" },
                );
                if !ok1 || !ok2 {
                    let tail: Vec<&str> = out1.lines().chain(out2.lines()).filter(|l| !l.ends_with("serverside-applied")).take(10).collect();
                    println!("kubectl said:\n{}", tail.join("\n"));
                }
            }
        }
    });
}

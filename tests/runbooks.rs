//! Every bundled runbook rehearses end to end on simulated clusters: the real binary, no
//! kubeconfig, dummy secrets. Section titles must match the walkthroughs' headings, and every
//! traffic check is answered by the simulated data plane ("passed (simulated)"): none is
//! skipped, none passes as if a real data plane had answered.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Environment variables the runbooks read their kube contexts from: all cleared, so every
/// logical cluster is simulated.
const CONTEXT_VARS: &[&str] = &[
    "CLUSTER1",
    "CLUSTER2",
    "MGMT_CONTEXT",
    "REMOTE_CONTEXT1",
    "REMOTE_CONTEXT2",
    "HOST_CLUSTER",
];

/// Secret environment variables the runbooks declare, with dummy values that must never show up
/// in a report.
const SECRETS: &[(&str, &str)] = &[
    (
        "GLOO_MESH_LICENSE_KEY",
        "dummy-gloo-mesh-license-0123456789",
    ),
    (
        "GLOO_GATEWAY_LICENSE_KEY",
        "dummy-gloo-gateway-license-0123456789",
    ),
];

/// Walkthrough 000: every heading below the title, then its own "Clean up".
const GLOO_MESH_MULTICLUSTER: &[&str] = &[
    "Introduction",
    "Prerequisites",
    "Set Up Environment",
    "Deploy Sample Applications",
    "Bookinfo",
    "Command Runner",
    "Install Gloo Management Plane",
    "Install Istio",
    "Kubernetes Gateway API",
    "Installation",
    "Multi-cluster Services",
    "Gateway Configuration",
    "HTTP Route Configuration",
    "Waypoint Configuration",
    "Ambient Features",
    "Route to Specific Version",
    "Namespace Isolation",
    "Request Timeouts",
    "Observability",
    "Clean up",
];

/// Walkthrough 001: every heading below the title, then "Clean up".
const AMBIENT_MULTICLUSTER_WORKSHOP: &[&str] = &[
    "Env",
    "Deploy Bookinfo sample to both clusters",
    "Configure Trust - Issue Intermediate Certs",
    "Install Istio on both clusters using Gloo Operator",
    "Peer the clusters together",
    "Enable Istio for bookinfo Namespace",
    "Enable productpage to be multi-cluster on both clusters.",
    "solo.io/service-scope=global",
    "solo.io/service-scope=global-only",
    "Expose Productpage using Istio Gateway",
    "Automatic and Manual Failover",
    "productpage failover",
    "details failover",
    "Istio Waypoints for L7 Functionality",
    "Egress Gateway",
    "Bring VMs into the Mesh",
    "Step 1: Generate the Bootstrap Configuration",
    "Step 2:SSH into the VM",
    "Step 3: Set the Bootstrap Token",
    "Step 4: Run ztunnel on the VM",
    "Step 5: Test Connectivity from the VM to the Mesh",
    "Gloo Management Plane",
    "Clean up",
];

/// Walkthrough 002: its Steps, then its "Cleanup" (titled "Clean up" like every runbook's).
const VIRTUAL_DESTINATIONS_GLOO_GATEWAY: &[&str] = &[
    "Step 1: Install Gloo Mesh (Gloo Platform APIs)",
    "Step 2: Install Gloo Gateway",
    "Step 3: Create a gateway proxy",
    "Step 4: Expose the productpage app",
    "Step 5: Route to a VirtualDestination",
    "Clean up",
];

/// Walkthrough 003: every heading below the title, then "Clean up".
const VCLUSTER_GLOO_MESH: &[&str] = &[
    "VCluster",
    "Hands on!",
    "Pre-requisites",
    "Getting Started",
    "Install Gloo Mesh Enterprise in the management cluster",
    "Register workload clusters",
    "Install Istio in the workload clusters",
    "Create workspaces for your workloads",
    "Clean up",
];

/// Walkthrough 004: every heading below the title, then "Clean up".
const GLOBAL_MESH: &[&str] = &[
    "Objectives",
    "Set cluster contexts",
    "Link Clusters",
    "Configure a global service",
    "Configure Ingress Gateway in cluster1 to route to the global service",
    "Failover productpage on cluster1",
    "Restore productpage on cluster1",
    "Next Steps",
    "Clean up",
];

const ALL: &[(&str, &[&str])] = &[
    ("gloo-mesh-multicluster", GLOO_MESH_MULTICLUSTER),
    (
        "ambient-multicluster-workshop",
        AMBIENT_MULTICLUSTER_WORKSHOP,
    ),
    (
        "virtual-destinations-gloo-gateway",
        VIRTUAL_DESTINATIONS_GLOO_GATEWAY,
    ),
    ("vcluster-gloo-mesh", VCLUSTER_GLOO_MESH),
    ("global-mesh", GLOBAL_MESH),
];

/// A fresh temporary directory for one test (std only).
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "meshbook-runbooks-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The real binary with the user's cluster state cleared: no KUBECONFIG, HOME in `dir` (no
/// ~/.kube/config), no context variables, no stdlib/runbook overrides, dummy secrets.
pub(crate) fn meshbook(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshbook"));
    cmd.current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("MESHBOOK_STDLIB")
        .env_remove("MESHBOOK_RUNBOOKS")
        .env("HOME", dir)
        .env("KUBECACHEDIR", dir.join("kubecache"))
        .env("NO_COLOR", "1");
    for var in CONTEXT_VARS {
        cmd.env_remove(var);
    }
    for (name, value) in SECRETS {
        cmd.env(name, value);
    }
    cmd
}

pub(crate) fn describe(out: &Output) -> String {
    format!(
        "exit status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Rehearse `name` on simulated clusters and check its report.
fn rehearse(name: &str, expected_sections: &[&str]) {
    let dir = temp_dir(name);
    let report_path = dir.join("r.json");
    let started = Instant::now();
    let out = meshbook(&dir)
        .args(["run", name, "--sim", "--report"])
        .arg(&report_path)
        .output()
        .expect("run meshbook");
    let elapsed = started.elapsed();
    eprintln!("rehearsal of {name}: {elapsed:?}");
    assert!(
        out.status.success(),
        "`meshbook run {name} --sim` failed: {}",
        describe(&out)
    );

    let text = std::fs::read_to_string(&report_path).unwrap_or_else(|e| {
        panic!(
            "no report at {}: {e}\n{}",
            report_path.display(),
            describe(&out)
        )
    });
    for (secret, value) in SECRETS {
        assert!(
            !text.contains(value),
            "the report of {name} contains the value of {secret}"
        );
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !printed.contains(value),
            "meshbook printed the value of {secret} while running {name}"
        );
    }

    let report: serde_json::Value = serde_json::from_str(&text).expect("report is JSON");
    let titles: Vec<&str> = report["sections"]
        .as_array()
        .expect("report.sections is an array")
        .iter()
        .map(|s| s["title"].as_str().expect("section title is a string"))
        .collect();
    assert_eq!(
        titles, expected_sections,
        "section titles of {name} differ from the walkthrough's headings"
    );

    let summary = &report["summary"];
    assert_eq!(
        summary["checks_skipped"].as_u64(),
        Some(0),
        "every workload of {name} has a behaviour model: no traffic check may be skipped: {summary}"
    );
    assert!(
        summary["checks_simulated"].as_u64().unwrap_or(0) > 0,
        "{name}'s traffic checks should be answered by the simulated data plane: {summary}"
    );
    // A traffic check (named by its HTTP method) is never a plain pass on simulated clusters,
    // and a simulated pass carries the trace of why.
    for section in report["sections"].as_array().into_iter().flatten() {
        for e in section["events"].as_array().into_iter().flatten() {
            let check_name = e["name"].as_str().unwrap_or_default();
            if e["type"] != "check" || !check_name.starts_with("GET ") {
                continue;
            }
            assert_eq!(e["status"], "simulated", "{name}: {e}");
            assert!(
                e["trace"].as_array().is_some_and(|t| !t.is_empty()),
                "{name}: a simulated check without a trace: {e}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gloo_mesh_multicluster_rehearses_offline() {
    rehearse("gloo-mesh-multicluster", GLOO_MESH_MULTICLUSTER);
}

#[test]
fn ambient_multicluster_workshop_rehearses_offline() {
    rehearse(
        "ambient-multicluster-workshop",
        AMBIENT_MULTICLUSTER_WORKSHOP,
    );
}

#[test]
fn virtual_destinations_gloo_gateway_rehearses_offline() {
    rehearse(
        "virtual-destinations-gloo-gateway",
        VIRTUAL_DESTINATIONS_GLOO_GATEWAY,
    );
}

#[test]
fn vcluster_gloo_mesh_rehearses_offline() {
    rehearse("vcluster-gloo-mesh", VCLUSTER_GLOO_MESH);
}

#[test]
fn global_mesh_rehearses_offline() {
    rehearse("global-mesh", GLOBAL_MESH);
}

/// Every simulated controller rule renders in every state a rehearsal passes through (a
/// Gateway whose Service has no address yet included): a rule that fails leaves an object
/// without the status a real controller would give it.
#[test]
fn no_controller_rule_fails_during_a_rehearsal() {
    let dir = temp_dir("rules-hold");
    for name in ["global-mesh", "virtual-destinations-gloo-gateway"] {
        let out = meshbook(&dir)
            .args(["run", name, "-vv"])
            .output()
            .expect("run meshbook");
        assert!(out.status.success(), "{name}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failed: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("simulator rule") && l.contains("failed"))
            .collect();
        assert!(failed.is_empty(), "{name}: {}", failed.join("\n"));
    }
}

#[test]
fn list_shows_every_bundled_runbook() {
    let dir = temp_dir("list");
    let out = meshbook(&dir)
        .arg("list")
        .output()
        .expect("run meshbook list");
    assert!(
        out.status.success(),
        "`meshbook list` failed: {}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (name, _) in ALL {
        assert!(
            stdout.contains(name),
            "`meshbook list` does not show {name}:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bundled_runbooks_are_exactly_the_five_walkthroughs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("runbooks/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rhai"))
        .map(|n| n.trim_end_matches(".rhai").to_string())
        .collect();
    found.sort();
    let mut expected: Vec<String> = ALL.iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn runbook_sections_are_declared_with_literal_titles_in_walkthrough_order() {
    // A static check that needs no engine: the `section("...")` calls at the start of a line,
    // in file order, are the expected titles.
    for (name, expected) in ALL {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .join(format!("{name}.rhai"));
        let text = std::fs::read_to_string(&path).expect("runbook readable");
        let titles: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("section(\""))
            .map(|rest| rest.split('"').next().unwrap_or(rest).to_string())
            .collect();
        assert_eq!(titles, *expected, "sections of {name}");
        // Its clean-up runs even after a failure (issue #18).
        assert!(
            text.contains("section(\"Clean up\", #{always: true}, ||"),
            "{name}: the Clean up section is not `always: true`"
        );
    }
}

/// The logical clusters of a bundled runbook, from `meshbook list`.
fn runbook_clusters(dir: &Path) -> Vec<(String, Vec<String>)> {
    let out = meshbook(dir)
        .arg("list")
        .output()
        .expect("meshbook list runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut books = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && line.contains(" — ") {
            current = line.split_whitespace().next().map(String::from);
        } else if let (Some(name), Some(list)) = (&current, line.trim().strip_prefix("clusters: "))
        {
            let clusters = list
                .split(", ")
                .filter_map(|c| c.split_whitespace().next().map(String::from))
                .collect();
            books.push((name.clone(), clusters));
        }
    }
    books
}

fn objects_created(stdout: &str) -> Option<u64> {
    let summary = stdout.lines().rev().find(|l| l.contains("objects: "))?;
    let after = summary.split("objects: ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

// See: issue #15. Every bundled runbook, twice, against `sim serve --sim-faults 0.1` (a seeded,
// deterministic fault sequence): both runs pass. A fault is decided before a request is
// handled, so a retried create never meets its own first attempt: a duplicate would fail the
// run with 409 AlreadyExists. (Created counts may differ by the objects a simulated controller
// and the runbook race to create, which the faults' delays reorder.)
#[test]
fn every_runbook_passes_twice_against_a_faulty_sim_serve() {
    use meshbook::sim::faults::FaultOptions;
    use meshbook::sim::{start_fleet, write_kubeconfig, SimOptions};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = temp_dir("faults");
    let books = runbook_clusters(&dir);
    assert!(books.len() >= 5, "{books:?}");
    let mut fleets = Vec::new();
    let mut jobs = Vec::new();
    for (i, (book, clusters)) in books.into_iter().enumerate() {
        let opts = SimOptions {
            faults: FaultOptions {
                rate: 0.1,
                latency: std::time::Duration::ZERO,
                seed: 15 + i as u64,
            },
            ..SimOptions::default()
        };
        let (fleet, urls) = rt.block_on(start_fleet(&clusters, opts)).unwrap();
        fleets.push(fleet);
        let home = dir.join(&book);
        std::fs::create_dir_all(&home).unwrap();
        let kubeconfig = home.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &urls).unwrap();
        jobs.push(std::thread::spawn(move || {
            let mut created = Vec::new();
            for attempt in 1..=2 {
                let mut cmd = meshbook(&home);
                cmd.env("KUBECONFIG", &kubeconfig)
                    .args(["run", &book, "-q"]);
                for c in &clusters {
                    cmd.args(["--context", &format!("{c}={c}")]);
                }
                let out = cmd.output().expect("meshbook runs");
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "{book}, run {attempt}: {}",
                    describe(&out)
                );
                created.push(objects_created(&stdout));
            }
            (book, created)
        }));
    }
    for j in jobs {
        let (book, created) = j.join().expect("runbook thread");
        assert!(
            created.iter().all(|c| c.is_some_and(|n| n > 0)),
            "{book}: {created:?}"
        );
        eprintln!("{book}: objects created by each run: {created:?}");
    }
    drop(fleets);
}

//! The simulated data plane through the binary: negative rehearsals (break what a check
//! depends on, and the run fails at that check with a trace pointing at the cause), `sim
//! serve`'s local load-balancer ports for a plain HTTP client, and honest skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::runbooks::{describe, meshbook, temp_dir};

/// Copies `from` (a directory) to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A copy of the bundled runbooks (or stdlib) with `edit` applied to one file: the
/// configuration a check depends on, broken.
fn broken_tree(dir: &Path, tree: &str, file: &str, from: &str, to: &str) -> PathBuf {
    let root = dir.join(tree);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(tree), &root);
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).expect("read file to break");
    assert!(text.contains(from), "{file} no longer contains `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write broken file");
    root
}

/// What breaks a rehearsal: one edit of a bundled file, or a section skipped.
enum Break<'a> {
    Edit {
        tree: &'a str,
        file: &'a str,
        from: &'a str,
        to: &'a str,
    },
    Skip(&'a str),
}

/// Rehearses `runbook` broken by `how` and expects it to fail at `step` with `why` in the
/// message (the trace of the simulated data plane).
fn fails_at(runbook: &str, how: Break<'_>, step: &str, why: &[&str]) {
    let dir = temp_dir(&format!("broken-{runbook}"));
    let mut cmd = meshbook(&dir);
    cmd.args(["run", runbook, "--sim", "--report"])
        .arg(dir.join("r.json"));
    match how {
        Break::Edit {
            tree,
            file,
            from,
            to,
        } => {
            let root = broken_tree(&dir, tree, file, from, to);
            let var = if tree == "runbooks" {
                "MESHBOOK_RUNBOOKS"
            } else {
                "MESHBOOK_STDLIB"
            };
            cmd.env(var, &root);
        }
        Break::Skip(section) => {
            cmd.args(["--skip", section]);
        }
    }
    let out = cmd.output().expect("run meshbook");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr.contains(&format!("step `{step}`")),
        "the run should fail at `{step}`: {}",
        describe(&out)
    );
    for w in why {
        assert!(
            stderr.contains(w),
            "the failure should say `{w}`: {}",
            describe(&out)
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).expect("report"))
            .expect("json");
    assert!(
        report["summary"]["checks_failed"].as_u64().unwrap_or(0) >= 1,
        "{}",
        report["summary"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn global_mesh_without_the_global_label_fails_at_the_route_check() {
    fails_at(
        "global-mesh",
        Break::Skip("Configure a global service"),
        "Verify the application is still routable",
        &["last response: 500", "no reachable cluster has Service bookinfo-frontends/productpage labelled solo.io/service-scope=global"],
    );
}

#[test]
fn global_mesh_without_peering_cannot_fail_over() {
    fails_at(
        "global-mesh",
        Break::Skip("Link Clusters"),
        "Traffic has failed over to cluster2",
        &["503", "cluster2 not linked to cluster1: unreachable"],
    );
}

#[test]
fn ambient_details_failover_needs_the_global_only_label() {
    fails_at(
        "ambient-multicluster-workshop",
        Break::Edit {
            tree: "runbooks",
            file: "ambient-multicluster-workshop.rhai",
            from: r#"istio::global_service(c, "bookinfo", "details", "global-only", "");"#,
            to: "",
        },
        "Traffic is not impacted",
        &[
            "Sorry, product details are currently unavailable",
            "Service bookinfo/details in cluster1 has 0 ready endpoints",
        ],
    );
}

#[test]
fn gloo_mesh_isolation_check_fails_without_the_authorization_policy() {
    fails_at(
        "gloo-mesh-multicluster",
        Break::Edit {
            tree: "runbooks",
            file: "gloo-mesh-multicluster.rhai",
            from: r#"c2.apply_file("assets/gloo-mesh-multicluster/namespace-isolation.yaml");"#,
            to: "",
        },
        "The command runner cannot reach the reviews API",
        &[
            "expected 403",
            "served by cluster2/bookinfo-backend/reviews-v",
        ],
    );
}

#[test]
fn gloo_mesh_timeout_check_fails_without_the_timeout() {
    fails_at(
        "gloo-mesh-multicluster",
        Break::Edit {
            tree: "runbooks",
            file: "gloo-mesh-multicluster.rhai",
            from: r#"vars: #{ subset: "v2", timeout: "500ms", with_virtual_service: false },"#,
            to: r#"vars: #{ subset: "v2", timeout: "", with_virtual_service: false },"#,
        },
        "Reviews are unavailable: the timeout is shorter than the delay",
        &[
            "Sorry, product reviews are currently unavailable",
            "fault: delay 2.0s",
        ],
    );
}

#[test]
fn virtual_destination_checks_fail_when_it_selects_no_service() {
    fails_at(
        "virtual-destinations-gloo-gateway",
        Break::Edit {
            tree: "runbooks",
            file: "assets/virtual-destinations-gloo-gateway/reviews-virtual-destination.yaml",
            from: "        app: reviews",
            to: "        app: reviewz",
        },
        "productpage reaches every version of reviews",
        &[
            "RouteTable bookinfo/reviews-rt forwards",
            "VirtualDestination bookinfo/reviews-vd: ready endpoints none",
        ],
    );
}

#[test]
fn vcluster_ui_check_fails_on_the_wrong_port() {
    fails_at(
        "vcluster-gloo-mesh",
        Break::Edit {
            tree: "stdlib",
            file: "gloo.rhai",
            from: r#"mgmt.port_forward("gloo-mesh", "svc/gloo-mesh-ui", 8090)"#,
            to: r#"mgmt.port_forward("gloo-mesh", "svc/gloo-mesh-ui", 8091)"#,
        },
        "Verify the management components",
        &["Connection refused", "listens on no port 8091"],
    );
}

#[test]
fn an_image_without_a_model_is_skipped_and_fail_on_skip_is_not_needed_to_see_it() {
    let dir = temp_dir("unmodelled");
    std::fs::write(
        dir.join("nginx.rhai"),
        r#"//! title: unmodelled
//! clusters:
//!   c1: C1
let c = cluster("c1");
section("Deploy", || {
    c.create_namespace("web");
    c.apply(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
`);
    c.wait_rollout("web", "web");
    let ip = c.lb_address("web", "web");
    let r = expect_http(`http://${ip}/`, #{ status: 200 });
    expect(r.skipped == true, "the check is skipped");
});
"#,
    )
    .expect("write runbook");
    let out = meshbook(&dir)
        .env_remove("C1")
        .args(["run", "nginx.rhai", "--report"])
        .arg(dir.join("r.json"))
        .output()
        .expect("run meshbook");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).expect("report"))
            .expect("json");
    assert_eq!(
        report["summary"]["checks_skipped"], 1,
        "{}",
        report["summary"]
    );
    assert_eq!(
        report["summary"]["checks_simulated"], 0,
        "{}",
        report["summary"]
    );
    let text = report.to_string();
    assert!(
        text.contains("no behaviour model for image nginx:1.27"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `meshbook sim serve` in the background, its stdout lines on a channel.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(dir: &Path, clusters: &str) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshbook"))
            .args(["sim", "serve", "--clusters", clusters, "--kubeconfig"])
            .arg(dir.join("kubeconfig"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sim serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            lines,
            seen: Vec::new(),
        };
        served.wait_for(|l| l.contains("serving"));
        served
    }

    /// The first line (seen or to come) for which `want` holds.
    fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.seen.iter().find(|l| want(l)) {
            return l.clone();
        }
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("sim serve said: {:?}", self.seen));
            self.seen.push(line.clone());
            if want(&line) {
                return line;
            }
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET, as any client would send it: `(status line, body)`.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s =
        std::net::TcpStream::connect(addr).expect("connect to the local load balancer port");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

#[test]
fn sim_serve_serves_the_ingress_on_a_local_port_and_reflects_a_failover() {
    let dir = temp_dir("frontdoor");
    let mut served = Served::start(&dir, "cluster1,cluster2");
    let kubeconfig = dir.join("kubeconfig");
    let out = meshbook(&dir)
        .env("KUBECONFIG", &kubeconfig)
        .args([
            "run",
            "global-mesh",
            "--context",
            "cluster1=cluster1",
            "--context",
            "cluster2=cluster2",
            "--skip",
            "Clean up",
        ])
        .output()
        .expect("run global-mesh against sim serve");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let line = served.wait_for(|l| l.contains("ingress-istio") && l.contains(":80 -> "));
    let local = line
        .split("-> http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a local address")
        .to_string();
    let (status, body) = http_get(&local, "/productpage");
    assert!(status.contains("200"), "{status}\n{body}");

    // kubectl exec ... curl in a simulated pod is answered by the data plane too, and says so.
    let exec = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.join("kubecache"))
        .args([
            "--context",
            "cluster2",
            "-n",
            "bookinfo-backends",
            "exec",
            "deploy/ratings-v1",
            "--",
            "curl",
            "-s",
            "http://productpage.bookinfo-frontends:9080/productpage",
        ])
        .output()
        .expect("kubectl exec");
    let (out, err) = (
        String::from_utf8_lossy(&exec.stdout),
        String::from_utf8_lossy(&exec.stderr),
    );
    assert!(exec.status.success(), "{err}");
    assert!(out.contains("<div>cluster2</div>"), "{out}");
    assert!(
        err.contains("* simulated: served by cluster2/bookinfo-frontends/productpage-v1"),
        "{err}"
    );
    assert!(
        body.contains("<title>Simple Bookstore App</title>")
            && body.contains("<div>cluster1</div>"),
        "{body}"
    );

    let scaled = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.join("kubecache"))
        .args([
            "--context",
            "cluster1",
            "-n",
            "bookinfo-frontends",
            "scale",
            "deployment/productpage-v1",
            "--replicas=0",
        ])
        .output()
        .expect("kubectl");
    assert!(
        scaled.status.success(),
        "{}",
        String::from_utf8_lossy(&scaled.stderr)
    );
    // Once the pod is gone (kubectl waits on a watch), the ingress fails over.
    let gone = Command::new("kubectl")
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.join("kubecache"))
        .args([
            "--context",
            "cluster1",
            "-n",
            "bookinfo-frontends",
            "wait",
            "--for=delete",
            "pod",
            "-l",
            "app=productpage",
            "--timeout=60s",
        ])
        .output()
        .expect("kubectl wait");
    assert!(
        gone.status.success(),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
    let body = http_get(&local, "/productpage").1;
    assert!(
        body.contains("<div>cluster2</div>"),
        "after scaling productpage to 0 on cluster1: {body}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_and_curl_from_answer_from_inside_a_simulated_pod() {
    let dir = temp_dir("trace");
    std::fs::write(
        dir.join("trace.rhai"),
        r#"//! clusters:
//!   c1: C1
let c = cluster("c1");
section("Hello", || {
    c.create_namespace("demo");
    c.apply(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec: {containers: [{name: hello, image: "docker.io/istio/examples-helloworld-v1:1.0"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: curl, image: "curlimages/curl:8.1.2"}]}
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: demo}
spec: {selector: {app: hello}, ports: [{port: 5000}]}
`);
    c.wait_rollouts("demo");
    let t = c.trace("http://hello.demo:5000/hello", #{ from: "demo/deploy/client" });
    for l in t { say(l); }
    expect(t[t.len() - 1] == "=> 200 in 2ms", "the trace ends with the outcome");
    let r = c.curl_from("demo", "deploy/client", "http://hello:5000/hello");
    expect(r.status == 200 && r.simulated && r.body.contains("Hello version: v1"), "simulated answer from inside the pod");
    c.expect_http_from("demo", "deploy/client", "http://nowhere:5000/", #{ status: 200, within: "1s" });
});
"#,
    )
    .expect("write runbook");
    let out = meshbook(&dir)
        .env_remove("C1")
        .args(["run", "trace.rhai", "--report"])
        .arg(dir.join("r.json"))
        .output()
        .expect("run meshbook");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout.contains("request from pod demo/client-") && stdout.contains("(model helloworld"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Could not resolve host: nowhere"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nowhere does not resolve from pod demo/client-"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

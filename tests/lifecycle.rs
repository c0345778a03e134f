//! Runs that survive the real world (issue #18): clean-up that always runs (failures, Ctrl-C,
//! `--keep` then `meshbook cleanup`), checked with kubectl against `meshbook sim serve`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::BIN;

/// `meshbook sim serve` in the background, and a working directory with its own state
/// directory; the server is killed on drop.
struct Bed {
    server: Child,
    dir: tempfile::TempDir,
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn dump(&self) -> String {
        format!(
            "--- exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
    fn status(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.dump());
        self
    }
    fn has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "output lacks {text:?}\n{}",
            self.dump()
        );
        self
    }
    fn lacks(self, text: &str) -> Self {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "output has {text:?}\n{}",
            self.dump()
        );
        self
    }
}

impl Bed {
    fn start(clusters: &str) -> Bed {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("sim.kubeconfig");
        let mut server = Command::new(BIN)
            .args(["sim", "serve", "--clusters", clusters, "--kubeconfig"])
            .arg(&kubeconfig)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sim serve");
        let out = server.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let ready = lines
            .by_ref()
            .any(|l| l.unwrap_or_default().starts_with("serving"));
        assert!(ready, "sim serve did not become ready");
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Bed { server, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kubeconfig(&self) -> PathBuf {
        self.path().join("sim.kubeconfig")
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("CLUSTER") || k.starts_with("MESHBOOK_") || k == "KUBECONFIG" {
                cmd.env_remove(k);
            }
        }
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.path())
            .env("XDG_STATE_HOME", self.path().join(".state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Ran {
        let out = self.command(args).output().expect("run meshbook");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs meshbook and sends it SIGINT each time a line containing one of `marks` appears
    /// on its stdout (in order).
    fn run_interrupted(&self, args: &[&str], marks: &[&str]) -> Ran {
        let mut child = self.command(args).spawn().expect("run meshbook");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            s
        });
        let mut seen = String::new();
        let mut marks = marks.iter();
        let mut next = marks.next();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            seen.push_str(&line);
            seen.push('\n');
            if next.is_some_and(|m| line.contains(m)) {
                let ok = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status()
                    .expect("kill")
                    .success();
                assert!(ok, "kill -INT failed");
                next = marks.next();
            }
        }
        let status = child.wait().expect("wait");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: seen,
            stderr: err.join().unwrap_or_default(),
        }
    }

    /// `kubectl get` of all namespaces and config maps on a context, as names.
    fn objects(&self, context: &str) -> String {
        let cache = self.path().join(".kube-cache");
        let out = Command::new("kubectl")
            .args([
                "--context",
                context,
                "get",
                "namespaces,configmaps",
                "-A",
                "-o",
                "custom-columns=KIND:.kind,NS:.metadata.namespace,NAME:.metadata.name",
                "--no-headers",
            ])
            .env("KUBECONFIG", self.kubeconfig())
            .env("KUBECACHEDIR", cache)
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Creates a namespace (section 1) and two config maps (section 2), registering undos for the
/// namespace and one map; section 3 fails (after waiting forever when HANG is set).
const FAILS_THIRD: &str = r#"//! clusters:
//!   cluster1: CLUSTER1
let c1 = cluster("cluster1");
section("Namespace", || {
    c1.create_namespace("demo");
    cleanup(|| c1.delete("namespace", "demo", "", #{wait: true}));
});
section("Config", || {
    c1.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {a: "1"}`);
    cleanup(|| {
        if env("HANG_UNDO", "") != "" {
            say("undo waiting");
            c1.wait_condition("configmap", "never", "default", "Ready", "10m");
        }
        c1.delete("configmap", "settings", "default");
    });
    c1.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: inside, namespace: demo}
data: {a: "1"}`);
});
section("Break", || {
    if env("HANG", "") != "" {
        say("waiting now");
        c1.wait_condition("configmap", "never", "demo", "Ready", "10m");
    }
    expect(false, "this section fails");
});
section("Never", || { c1.create_namespace("never"); });
section("Clean up", #{always: true}, || { say("the always section ran"); });
"#;

fn have_kubectl() -> bool {
    Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn created_ones(objects: &str) -> Vec<&str> {
    objects
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .last()
                .is_some_and(|n| ["demo", "settings", "inside", "never"].contains(&n))
        })
        .collect()
}

#[test]
fn a_failure_in_the_third_section_leaves_nothing_the_run_created() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("cluster1");
    bed.write("fails.rhai", FAILS_THIRD);
    bed.run(&["run", "fails.rhai", "--context", "cluster1=cluster1"])
        .status(1)
        .has("expectation failed: this section fails")
        .has("the always section ran")
        .has("cleaning up: 2 undos")
        .has("1 not run");
    let objects = bed.objects("cluster1");
    assert!(objects.contains("default"), "{objects}");
    assert!(created_ones(&objects).is_empty(), "{objects}");
}

#[test]
fn sigint_during_a_wait_still_cleans_up_and_exits_130() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("cluster1");
    bed.write(
        "fails.rhai",
        FAILS_THIRD
            .replace("env(\"HANG\", \"\") != \"\"", "true")
            .as_str(),
    );
    bed.run_interrupted(
        &["run", "fails.rhai", "--context", "cluster1=cluster1"],
        &["waiting now"],
    )
    .status(130)
    .has("interrupted")
    .has("cleaning up: 2 undos");
    let objects = bed.objects("cluster1");
    assert!(created_ones(&objects).is_empty(), "{objects}");
}

#[test]
fn a_second_sigint_stops_the_clean_up_and_says_what_was_left() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("cluster1");
    let src = FAILS_THIRD
        .replace("env(\"HANG\", \"\") != \"\"", "true")
        .replace("env(\"HANG_UNDO\", \"\") != \"\"", "true");
    bed.write("fails.rhai", &src);
    bed.run_interrupted(
        &["run", "fails.rhai", "--context", "cluster1=cluster1"],
        &["waiting now", "undo waiting"],
    )
    .status(130)
    .has("the clean-up was stopped; not run: the undo registered in section `Config`, the undo registered in section `Namespace`")
    .has("meshbook cleanup fails.rhai");
    let objects = bed.objects("cluster1");
    assert_eq!(created_ones(&objects).len(), 3, "{objects}");
    bed.run(&["cleanup", "fails.rhai"])
        .status(0)
        .has("3 deleted");
    let objects = bed.objects("cluster1");
    assert!(created_ones(&objects).is_empty(), "{objects}");
}

#[test]
fn keep_leaves_everything_and_meshbook_cleanup_removes_it() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("cluster1");
    bed.write("fails.rhai", FAILS_THIRD);
    bed.run(&["cleanup", "fails.rhai"])
        .status(2)
        .has("no run of fails.rhai is recorded");
    bed.run(&[
        "run",
        "fails.rhai",
        "--context",
        "cluster1=cluster1",
        "--keep",
    ])
    .status(1)
    .lacks("the always section ran")
    .lacks("cleaning up")
    .has("kept for inspection (--keep)")
    .has("clean up later with: meshbook cleanup fails.rhai");
    let objects = bed.objects("cluster1");
    assert_eq!(created_ones(&objects).len(), 3, "{objects}");
    bed.run(&["cleanup", "fails.rhai"])
        .status(0)
        .has("deleted cluster1: ConfigMap demo/inside")
        .has("deleted cluster1: Namespace demo")
        .has("3 deleted")
        .has("not replayed");
    let objects = bed.objects("cluster1");
    assert!(created_ones(&objects).is_empty(), "{objects}");
    bed.run(&["cleanup", "fails.rhai"])
        .status(0)
        .has("nothing left to delete");
}

#[test]
fn section_options_are_checked_and_passing_runs_undo_too() {
    let bed = Bed::start("cluster1");
    bed.write("bad.rhai", "section(\"A\", #{alway: true}, || {});\n");
    bed.run(&["run", "bad.rhai"])
        .status(1)
        .has("unknown option `alway`");
    bed.write(
        "ok.rhai",
        "let log = [];\nsection(\"A\", || { cleanup(|| say(\"undo one\")); cleanup(|| say(\"undo two\")); });\nsection(\"B\", || { say(\"b ran\"); });\n",
    );
    let out = bed.run(&["run", "ok.rhai"]).status(0);
    let two = out.stdout.find("undo two").expect("undo two ran");
    let one = out.stdout.find("undo one").expect("undo one ran");
    let b = out.stdout.find("b ran").unwrap();
    assert!(
        b < two && two < one,
        "undos run last, newest first:\n{}",
        out.stdout
    );
}

/// Six sections: section 2 captures a load-balancer address and a secret, section 4 fails
/// while FAIL4 is set, section 5 needs what sections 1-2 left (values and objects).
const SIX: &str = r#"//! clusters:
//!   cluster1: CLUSTER1
let c1 = cluster("cluster1");
let addr = "";
let count = 0;
let notes = #{};
section("One", || { c1.create_namespace("six"); count += 1; say("one ran"); });
section("Two", || {
    c1.apply(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: six}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}`);
    addr = c1.lb_address("six", "web");
    notes.token = secret_env("TOKEN");
    count += 1;
    say(`captured ${addr}`);
});
section("Three", || { count += 1; say("three ran"); });
section("Four", || {
    say("four ran");
    expect(env("FAIL4", "") == "", "four can pass");
});
section("Five", || {
    say(`five uses ${addr} after ${count}`);
    expect(addr.starts_with("198.51.100."), "the address from section two is known");
    expect(count == 3, "the count from sections one to three is known");
    expect(notes.token == secret_env("TOKEN"), "the secret is back");
    expect(type_of(c1.get("namespace", "six")) != "()", "the namespace from section one is there");
});
section("Six", || { say("six ran"); });
"#;

const TOKEN: &str = "tok-3f9a-very-secret";

/// Every file under the state directory, as text.
fn state_files(bed: &Bed) -> String {
    fn walk(dir: &Path, out: &mut String) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    walk(&bed.path().join(".state"), &mut out);
    out
}

fn resume_runs_only_what_is_left(bed: &Bed, contexts: &[&str]) {
    bed.write("six.rhai", SIX);
    let mut first = vec!["run", "six.rhai"];
    first.extend_from_slice(contexts);
    let out = {
        let mut cmd = bed.command(&first);
        cmd.env("FAIL4", "1").env("TOKEN", TOKEN);
        cmd.output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let state = state_files(bed);
    assert!(state.contains("\"resume_at\": \"Four\""), "{state}");
    assert!(
        !state.contains(TOKEN),
        "the secret reached the state directory"
    );
    let out = {
        let mut cmd = bed.command(&["run", "six.rhai", "--resume"]);
        cmd.env("TOKEN", TOKEN);
        cmd.output().unwrap()
    };
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    ran.status(0)
        .has("resuming at section `Four`: 3 sections that passed before skipped")
        .lacks("one ran")
        .lacks("captured")
        .lacks("three ran")
        .has("four ran")
        .has("five uses 198.51.100.")
        .has("after 3")
        .has("six ran")
        .has("3 of 6 sections passed, 3 skipped")
        .lacks(TOKEN);
    assert!(!state_files(bed).contains(TOKEN));
    // Nothing is left to resume once it passed.
    bed.run(&["run", "six.rhai", "--resume"])
        .status(2)
        .has("nothing to resume");
}

#[test]
fn resume_on_simulated_clusters_restores_values_and_objects() {
    let bed = Bed::start("cluster1");
    resume_runs_only_what_is_left(&bed, &[]);
}

#[test]
fn resume_on_sim_serve_contexts_reuses_the_contexts_and_values() {
    let bed = Bed::start("cluster1");
    resume_runs_only_what_is_left(&bed, &["--context", "cluster1=cluster1"]);
}

#[test]
fn resume_refuses_a_changed_runbook_unless_forced_and_needs_a_recorded_run() {
    let bed = Bed::start("cluster1");
    bed.write("six.rhai", SIX);
    bed.run(&["run", "six.rhai", "--resume"])
        .status(2)
        .has("no run of it is recorded");
    let out = {
        let mut cmd = bed.command(&["run", "six.rhai"]);
        cmd.env("FAIL4", "1").env("TOKEN", TOKEN);
        cmd.output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    bed.write("six.rhai", &SIX.replace("six ran", "six ran, changed"));
    bed.run(&["run", "six.rhai", "--resume"])
        .status(2)
        .has("the runbook changed since the run being resumed")
        .has("--force");
    let out = {
        let mut cmd = bed.command(&["run", "six.rhai", "--resume", "--force"]);
        cmd.env("TOKEN", TOKEN);
        cmd.output().unwrap()
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("six ran, changed") && !text.contains("three ran"),
        "{text}"
    );
}

#[test]
fn from_the_fifth_section_of_a_bundled_runbook_passes_on_simulated_clusters() {
    let bed = Bed::start("cluster1");
    let fifth = "Configure Ingress Gateway in cluster1 to route to the global service";
    bed.run(&["run", "global-mesh", "-q"]).status(0);
    bed.run(&["run", "global-mesh", "--from", fifth])
        .status(0)
        .has("the simulated clusters and top-level values are as an earlier run left them before")
        .has("4 skipped");
}

#[test]
fn the_vcluster_runbook_runs_in_one_pass_with_only_the_host_mapped() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("host");
    bed.run(&["run", "vcluster-gloo-mesh", "--context", "host=host"])
        .status(0)
        .has("contexts: host=host")
        .has("9 of 9 sections passed")
        .lacks("MGMT_CONTEXT");
    // The vclusters' namespaces on the host came and went.
    let objects = bed.objects("host");
    assert!(objects.contains("default"), "{objects}");
    for ns in ["mgmt", "cluster1", "cluster2"] {
        assert!(
            !objects
                .lines()
                .any(|l| l.split_whitespace().last() == Some(ns)),
            "{ns} left on the host: {objects}"
        );
    }
}

#[test]
fn created_clusters_join_the_run_when_added() {
    let bed = Bed::start("cluster1");
    let src = r#"//! clusters:
//!   main: MAIN
//!   extra: { created: true }
let main = cluster("main");
section("Before", || {
    let e = cluster("extra");
});
"#;
    bed.write("early.rhai", src);
    bed.run(&["run", "early.rhai"])
        .status(1)
        .has("cluster `extra` is created by the runbook (`created: true`) and does not exist yet");
    let src = r#"//! clusters:
//!   main: MAIN
//!   extra: { created: true }
let main = cluster("main");
let extra = ();
section("Create", || {
    extra = add_cluster("extra", #{context: "kind-extra"});
    extra.create_namespace("joined");
    expect(extra.simulated, "on simulated clusters a new simulated cluster");
    expect(cluster("extra").name == "extra", "cluster() finds it from now on");
});
section("Use", || {
    expect(type_of(extra.get("namespace", "joined")) != "()", "the handle is the same cluster");
});
"#;
    bed.write("added.rhai", src);
    bed.run(&["run", "added.rhai", "--context", "main=cluster1"])
        .status(0)
        .has("extra -> ")
        .has("2 of 2 sections passed");
    bed.write(
        "bad.rhai",
        "//! clusters:\n//!   extra: { created: false }\nsection(\"A\", || {});\n",
    );
    bed.run(&["run", "bad.rhai"])
        .status(2)
        .has("the only option is `created: true`");
}

impl Bed {
    /// A kubeconfig for the served clusters WITHOUT the simulated marker: to meshbook they are
    /// real clusters (contexts `real-<name>`).
    fn unmarked(&self, names: &[&str]) -> PathBuf {
        let text = std::fs::read_to_string(self.kubeconfig()).unwrap();
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let mut out = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for c in v["clusters"].as_sequence().unwrap() {
            out.push_str(&format!(
                "- name: {}\n  cluster: {{server: \"{}\"}}\n",
                c["name"].as_str().unwrap(),
                c["cluster"]["server"].as_str().unwrap()
            ));
        }
        out.push_str("users:\n- name: u\n  user: {token: t}\ncontexts:\n");
        for n in names {
            out.push_str(&format!(
                "- name: real-{n}\n  context: {{cluster: {n}, user: u}}\n"
            ));
        }
        let path = self.path().join("real.kubeconfig");
        std::fs::write(&path, out).unwrap();
        path
    }
}

#[test]
fn gloo_mesh_on_real_clusters_requires_the_acm_certificate() {
    let bed = Bed::start("cluster1,cluster2");
    let kc = bed.unmarked(&["cluster1", "cluster2"]);
    let out = bed
        .command(&[
            "run",
            "gloo-mesh-multicluster",
            "--context",
            "cluster1=real-cluster1",
            "--context",
            "cluster2=real-cluster2",
            "--only",
            "Set Up Environment",
        ])
        .env("KUBECONFIG", &kc)
        .env("GLOO_MESH_LICENSE_KEY", "lic-123")
        .output()
        .unwrap();
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    ran.status(1)
        .has("ACM_CERTIFICATE_ARN is not set: on real clusters the ALB Ingress needs it")
        .has("export ACM_CERTIFICATE_ARN=")
        .lacks("lic-123");
}

#[test]
fn global_mesh_finds_the_existing_istio_and_restores_the_replica_count_it_found() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let bed = Bed::start("cluster1,cluster2");
    let contexts = [
        "--context",
        "cluster1=cluster1",
        "--context",
        "cluster2=cluster2",
    ];
    // The earlier labs, left installed: the next run finds them.
    let mut args = vec!["run", "global-mesh", "--only", "Set cluster contexts"];
    args.extend_from_slice(&contexts);
    bed.run(&args).status(0);
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", bed.kubeconfig())
            .env("KUBECACHEDIR", bed.path().join(".kube-cache"))
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    kubectl(&[
        "--context",
        "cluster1",
        "-n",
        "bookinfo-frontends",
        "scale",
        "deployment/productpage-v1",
        "--replicas=2",
    ]);
    let mut args = vec!["run", "global-mesh", "-v"];
    args.extend_from_slice(&contexts);
    bed.run(&args).status(0).lacks("istiod-gloo created");
    let replicas = kubectl(&[
        "--context",
        "cluster1",
        "-n",
        "bookinfo-frontends",
        "get",
        "deployment/productpage-v1",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(replicas.trim(), "2", "the clean-up forced another count");
}

#[test]
fn from_a_section_after_the_vclusters_were_created_restores_them_and_their_handles() {
    let bed = Bed::start("cluster1");
    bed.run(&["run", "vcluster-gloo-mesh", "-q"]).status(0);
    // mgmt, cluster1 and cluster2 are created in "Getting Started": the snapshot before
    // "Register workload clusters" brings them back, and the top-level handles with them.
    bed.run(&[
        "run",
        "vcluster-gloo-mesh",
        "--from",
        "Register workload clusters",
    ])
    .status(0)
    .has("the simulated clusters and top-level values are as an earlier run left them")
    .has("4 of 9 sections passed, 5 skipped");
}

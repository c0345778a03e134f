//! Failures on demand (issue #15): pods fail as the kubelet fails them, a rollout never
//! completes, kubectl and `meshbook run` say so as on a real cluster.

use super::kubectl::ServedCluster;
use super::*;
use crate::support::Test;

/// A socket-served cluster whose `fail_images` globs fail their pulls.
fn start(fail_images: &[&str]) -> Option<ServedCluster> {
    ServedCluster::start_with(SimOptions {
        fail_images: fail_images.iter().map(|s| s.to_string()).collect(),
        ..SimOptions::default()
    })
}

fn deployment(name: &str, image: &str, annotation: Option<&str>) -> String {
    let ann = annotation
        .map(|a| format!("\n      annotations: {{sim.meshbook.dev/fail: {a}}}"))
        .unwrap_or_default();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}{ann}\n    spec:\n      containers:\n      - name: {name}\n        image: \"{image}\"\n        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}\n"
    )
}

/// The row of the pod of `app` in `kubectl get pods -o wide`.
fn pod_row(out: &str, app: &str) -> Option<Vec<String>> {
    out.lines()
        .find(|l| l.starts_with(&format!("{app}-")))
        .map(|l| l.split_whitespace().map(String::from).collect())
}

#[test]
fn pods_fail_as_the_kubelet_fails_them_and_rollouts_never_complete() {
    let Some(bed) = start(&["*:nope"]) else {
        return;
    };
    let k = bed.kubectl();
    let dir = tempfile::tempdir().unwrap();
    let mut all = String::new();
    for (name, image, ann) in [
        ("pull", "nginx:nope", None),
        ("badref", "Nginx:1.27", None),
        ("crash", "nginx:1.27", Some("CrashLoopBackOff")),
        ("notready", "nginx:1.27", Some("NotReady")),
        ("fine", "nginx:1.27", None),
    ] {
        all.push_str("---\n");
        all.push_str(&deployment(name, image, ann));
    }
    let file = dir.path().join("apps.yaml");
    std::fs::write(&file, all).unwrap();
    k.ok(&["apply", "-f", file.to_str().unwrap()]);

    let pods = bed.until(
        &["get", "pods", "-o", "wide"],
        "every failure shown",
        |out| {
            let status = |app: &str| pod_row(out, app).map(|r| r[2].clone());
            status("pull").as_deref() == Some("ImagePullBackOff")
                && status("badref").as_deref() == Some("InvalidImageName")
                && status("crash").as_deref() == Some("CrashLoopBackOff")
                && pod_row(out, "crash").is_some_and(|r| r[3] != "0" && r[5] == "ago)")
                && status("notready").as_deref() == Some("Running")
                && pod_row(out, "notready").is_some_and(|r| r[1] == "0/1")
                && pod_row(out, "fine").is_some_and(|r| r[1] == "1/1")
        },
    );
    assert!(pods.starts_with("NAME"), "{pods}");
    assert!(
        pods.lines().next().unwrap().contains("IP")
            && pods.contains("NOMINATED NODE")
            && pods.contains("READINESS GATES"),
        "{pods}"
    );

    // the container statuses say what the kubelet says
    let pod = |app: &str| -> serde_json::Value {
        let out = k.ok(&["get", "pods", "-l", &format!("app={app}"), "-o", "json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["items"][0].clone()
    };
    let bad = pod("badref");
    assert_eq!(
        bad["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "Failed to apply default image tag \"Nginx:1.27\": couldn't parse image reference \"Nginx:1.27\": invalid reference format: repository name (library/Nginx) must be lowercase"
    );
    let pull = pod("pull");
    assert_eq!(
        pull["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "Back-off pulling image \"nginx:nope\""
    );
    assert_eq!(pull["status"]["phase"], "Pending");
    let crash = pod("crash");
    let cs = &crash["status"]["containerStatuses"][0];
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert!(cs["state"]["waiting"]["message"]
        .as_str()
        .unwrap()
        .starts_with("back-off "));
    let first = cs["restartCount"].as_i64().unwrap();
    bed.until(
        &[
            "get",
            "pods",
            "-l",
            "app=crash",
            "-o",
            "jsonpath={.items[0].status.containerStatuses[0].restartCount}",
        ],
        "the restart count grows",
        |out| out.trim().parse::<i64>().is_ok_and(|n| n > first),
    );
    let notready = pod("notready");
    let ready = notready["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ContainersNotReady");

    // the kubelet's events
    let events = k.ok(&["get", "events", "-o", "wide"]);
    for want in [
        "Error: ErrImagePull",
        "Error: ImagePullBackOff",
        "Back-off pulling image \"nginx:nope\"",
        "Error: InvalidImageName",
        "InspectFailed",
        "Back-off restarting failed container crash in pod crash-",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ] {
        assert!(events.contains(want), "no {want:?} in\n{events}");
    }
    assert!(
        events.lines().next().unwrap().starts_with("LAST SEEN"),
        "{events}"
    );

    // a container that never started has no log, as the kubelet says
    let pull_pod = pull["metadata"]["name"].as_str().unwrap().to_string();
    let (ok, _, err) = k.run(&["logs", &pull_pod]);
    assert!(!ok);
    assert!(
        err.contains(&format!("container \"pull\" in pod \"{pull_pod}\" is waiting to start: trying and failing to pull image")),
        "{err}"
    );

    // a rollout never completes: kubectl gives up as on a real cluster
    for app in ["pull", "badref", "crash", "notready"] {
        let (ok, out, err) = k.run(&[
            "rollout",
            "status",
            &format!("deployment/{app}"),
            "--timeout=2s",
        ]);
        assert!(!ok, "{app}: {out}");
        assert!(
            out.contains(&format!(
                "Waiting for deployment \"{app}\" rollout to finish"
            )),
            "{app}: {out}"
        );
        assert!(
            err.contains("timed out waiting for the condition"),
            "{app}: {err}"
        );
    }
    k.ok(&["rollout", "status", "deployment/fine", "--timeout=30s"]);
}

#[test]
fn a_runbook_rehearses_a_failing_rollout_and_is_told_why() {
    let src = "let c = cluster(\"cluster1\");\nsection(\"deploy\", || {\n  c.apply(\"apiVersion: apps/v1\\nkind: Deployment\\nmetadata: {name: web, namespace: default}\\nspec:\\n  replicas: 1\\n  selector: {matchLabels: {app: web}}\\n  template:\\n    metadata: {labels: {app: web}}\\n    spec: {containers: [{name: web, image: registry.example.com/shop/web:broken}]}\\n\");\n  c.wait_rollout(\"default\", \"web\", \"2s\");\n});\n";
    let out = Test::runbook(src)
        .args(&["--fail-image", "*:broken"])
        .run()
        .status(1)
        .no_backtrace();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("timed out after 2s"), "{text}");
    assert!(
        text.contains("pod default/web-") && text.contains("container web is ImagePullBackOff"),
        "{text}"
    );
    assert!(
        text.contains("check its name and tag"),
        "no advice in {text}"
    );
    // the same through the environment
    let out = Test::runbook(src)
        .env("MESHBOOK_SIM_FAIL_IMAGE", "registry.example.com/*")
        .run()
        .status(1);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("ImagePullBackOff"),
        "{}",
        out.stderr
    );
}

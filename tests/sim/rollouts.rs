//! `kubectl rollout undo` and `rollout history` against the simulated deployment controller
//! (issue #15): the old ReplicaSet's template comes back, renumbered as the newest revision,
//! scaled up while the current one is scaled down.

use super::kubectl::ServedCluster;

fn wait_for(served: &ServedCluster, args: &[&str], want: &str) -> String {
    served.until(args, &format!("{args:?} to say {want:?}"), |out| {
        out.contains(want)
    })
}

#[test]
fn rollout_undo_and_history_as_upstream() {
    let Some(served) = ServedCluster::start() else {
        return;
    };
    let k = served.kubectl();
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=2",
    ]);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    for image in ["nginx:1.26", "nginx:1.27"] {
        k.ok(&["set", "image", "deployment/web", &format!("nginx={image}")]);
        k.ok(&[
            "annotate",
            "deployment/web",
            &format!("kubernetes.io/change-cause=to {image}"),
            "--overwrite",
        ]);
        k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    }
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains("REVISION  CHANGE-CAUSE"), "{history}");
    let revisions = |h: &str| -> Vec<String> {
        h.lines()
            .skip_while(|l| !l.starts_with("REVISION"))
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    };
    assert_eq!(revisions(&history), ["1", "2", "3"], "{history}");
    assert!(history.contains("3         to nginx:1.27"), "{history}");
    let rev = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
    ]);
    assert_eq!(rev, "3");

    // undo: back to revision 2 (nginx:1.26), renumbered 4
    let out = k.ok(&["rollout", "undo", "deployment/web"]);
    assert!(out.contains("deployment.apps/web rolled back"), "{out}");
    k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let image = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.26");
    wait_for(
        &served,
        &[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        ],
        "4",
    );
    let history = k.ok(&["rollout", "history", "deployment/web"]);
    assert_eq!(
        revisions(&history),
        ["1", "3", "4"],
        "{history}\n{}",
        k.ok(&["get", "rs", "-o", "yaml"])
    );
    // the old ReplicaSet came back (no new one), the newer one went to zero
    let sets = k.ok(&["get", "rs", "-o", "jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas}@{.metadata.annotations.deployment\\.kubernetes\\.io/revision}{\"\\n\"}{end}"]);
    let mut lines: Vec<&str> = sets.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["nginx:1.25=0@1", "nginx:1.26=2@4", "nginx:1.27=0@3"],
        "{sets}"
    );
    let detail = k.ok(&["rollout", "history", "deployment/web", "--revision=4"]);
    assert!(
        detail.contains("Image:\tnginx:1.26") || detail.contains("nginx:1.26"),
        "{detail}"
    );

    // to a given revision
    let out = k.ok(&["rollout", "undo", "deployment/web", "--to-revision=1"]);
    assert!(out.contains("rolled back"), "{out}");
    k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let image = k.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.25");
    let history = wait_for(&served, &["rollout", "history", "deployment/web"], "\n5 ");
    assert_eq!(revisions(&history), ["3", "4", "5"], "{history}");
    // a revision that does not exist is refused as upstream does
    let (ok, _, err) = k.run(&["rollout", "undo", "deployment/web", "--to-revision=42"]);
    assert!(
        !ok && err.contains("unable to find specified revision 42 in history"),
        "{err}"
    );
    // pods run the undone template
    let pods = wait_for(
        &served,
        &[
            "get",
            "pods",
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}",
        ],
        "nginx:1.25",
    );
    assert!(pods.lines().all(|l| l == "nginx:1.25"), "{pods}");
}

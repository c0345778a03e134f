//! Server-side apply as a real 1.32 API server does it (issue #15): lists merged and owned by
//! their list types (a Service's ports by port and protocol), conflicts with their real
//! messages and `--force-conflicts`, kubectl's client-side to server-side apply migration and
//! writable managedFields. Through kubectl 1.32 and raw HTTP.

use super::kubectl::{have_kubectl, Kubectl};
use super::*;

/// One socket-served cluster, its kubeconfig and a scratch directory for manifests.
struct One {
    _fleet: meshbook::sim::SimFleet,
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    base: String,
}

impl One {
    fn start() -> One {
        let rt = rt();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        let (fleet, urls) = rt
            .block_on(start_fleet(&["s1".to_string()], SimOptions::default()))
            .unwrap();
        write_kubeconfig(&dir.path().join("kubeconfig"), &urls).unwrap();
        let base = urls[0].1.clone();
        One {
            _fleet: fleet,
            rt,
            dir,
            base,
        }
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn cache(&self) -> std::path::PathBuf {
        self.dir.path().join("cache")
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

const SVC_A: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
"#;

const SVC_B: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports:
  - {name: https, port: 443, targetPort: 8443}
"#;

const SVC_B_STEALS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports:
  - {name: https, port: 443, targetPort: 8443}
  - {name: http, port: 80, targetPort: 9090}
"#;

const CM_FULL: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {keep: "1", drop: "2"}
"#;

const CM_SMALLER: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {keep: "1"}
"#;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "nginx:1.27"}]
"#;

#[test]
fn kubectl_server_side_apply_merges_lists_and_reports_conflicts() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let one = One::start();
    let _guard = one.rt.enter();
    let (kc, cache) = (one.kubeconfig(), one.cache());
    let k = Kubectl {
        kubeconfig: &kc,
        cache: &cache,
    };

    // two managers, one port each: both ports stay
    let a = one.file("a.yaml", SVC_A);
    let b = one.file("b.yaml", SVC_B);
    k.ok(&["apply", "--server-side", "--field-manager=team-a", "-f", &a]);
    k.ok(&["apply", "--server-side", "--field-manager=team-b", "-f", &b]);
    let ports = k.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.ports[*].port}"]);
    assert_eq!(ports, "80 443", "{ports}");
    let yaml = k.ok(&["get", "svc", "web", "-o", "yaml", "--show-managed-fields"]);
    assert!(
        yaml.contains(r#"k:{"port":443,"protocol":"TCP"}"#),
        "{yaml}"
    );
    assert!(yaml.contains(r#"k:{"port":80,"protocol":"TCP"}"#), "{yaml}");

    // team-b wanting port 80 with another targetPort conflicts with team-a
    let steal = one.file("steal.yaml", SVC_B_STEALS);
    let (ok, _, err) = k.run(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "-f",
        &steal,
    ]);
    assert!(!ok);
    assert!(
        err.contains(r#"conflict with "team-a": .spec.ports[port=80,protocol="TCP"].targetPort"#),
        "{err}"
    );
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "--force-conflicts",
        "-f",
        &steal,
    ]);
    let target = k.ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.ports[?(@.port==80)].targetPort}",
    ]);
    assert_eq!(target, "9090");

    // team-b stops mentioning 443: it goes; 80 stays (team-a still owns it)
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "-f",
        &one.file(
            "b2.yaml",
            r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports:
  - {name: http, port: 80, targetPort: 9090}
"#,
        ),
    ]);
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "-f",
        &one.file(
            "b3.yaml",
            r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: ClusterIP
"#,
        ),
    ]);
    let ports = k.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.ports[*].port}"]);
    assert_eq!(ports, "80", "{ports}");

    // a client-side apply's fields conflict with another applier, named as an Update manager
    let d = one.file("d.yaml", DEPLOY);
    k.ok(&["apply", "-f", &d]);
    let scaled = one.file("d3.yaml", &DEPLOY.replace("replicas: 1", "replicas: 3"));
    let (ok, _, err) = k.run(&[
        "apply",
        "--server-side",
        "--field-manager=ops",
        "-f",
        &scaled,
    ]);
    assert!(!ok);
    assert!(
        err.contains(r#"conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#),
        "{err}"
    );

    // the scale subresource's manager owns replicas: a server-side apply conflicts with it
    let s = one.file("s.yaml", &DEPLOY.replace("name: api,", "name: scaled,"));
    k.ok(&["apply", "--server-side", "-f", &s]);
    k.ok(&["scale", "deployment/scaled", "--replicas=3"]);
    let (ok, _, err) = k.run(&["apply", "--server-side", "-f", &s]);
    assert!(!ok);
    assert!(
        err.contains(
            r#"conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#
        ),
        "{err}"
    );
}

#[test]
fn kubectl_client_side_to_server_side_apply_migration() {
    if !have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let one = One::start();
    let _guard = one.rt.enter();
    let (kc, cache) = (one.kubeconfig(), one.cache());
    let k = Kubectl {
        kubeconfig: &kc,
        cache: &cache,
    };
    k.ok(&["apply", "-f", &one.file("full.yaml", CM_FULL)]);
    let yaml = k.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        yaml.contains("manager: kubectl-client-side-apply"),
        "{yaml}"
    );
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        &one.file("smaller.yaml", CM_SMALLER),
    ]);
    let yaml = k.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(
        !yaml.contains("drop:"),
        "the field left out of the file is removed:\n{yaml}"
    );
    assert!(yaml.contains("keep: \"1\""), "{yaml}");
    assert!(!yaml.contains("kubectl-client-side-apply"), "{yaml}");
    assert!(
        yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"),
        "{yaml}"
    );
}

#[test]
fn managed_fields_are_writable_and_apply_conflicts_over_http() {
    let one = One::start();
    one.rt.block_on(async {
        let http = reqwest::Client::new();
        let cms = format!("{}/api/v1/namespaces/default/configmaps", one.base);
        let created: serde_json::Value = http
            .post(format!("{cms}?fieldManager=creator"))
            .json(&json!({"metadata": {"name": "mf"}, "data": {"a": "1"}}))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(created["metadata"]["managedFields"][0]["manager"], "creator");

        // a merge patch setting managedFields replaces them
        let entry = json!({"manager": "someone-else", "operation": "Apply", "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}});
        let patched: serde_json::Value = http
            .patch(format!("{cms}/mf"))
            .header("content-type", "application/merge-patch+json")
            .json(&json!({"metadata": {"managedFields": [entry]}}))
            .send().await.unwrap().json().await.unwrap();
        let mf = patched["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1, "{patched}");
        assert_eq!(mf[0]["manager"], "someone-else");

        // an empty list leaves them
        let same: serde_json::Value = http
            .patch(format!("{cms}/mf"))
            .header("content-type", "application/merge-patch+json")
            .json(&json!({"metadata": {"managedFields": []}}))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(same["metadata"]["managedFields"][0]["manager"], "someone-else", "{same}");

        // the owner's field conflicts for another applier: 409 with the real message and cause
        let r = http
            .patch(format!("{cms}/mf?fieldManager=other"))
            .header("content-type", "application/apply-patch+yaml")
            .body(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mf"}, "data": {"a": "2"}}"#)
            .send().await.unwrap();
        assert_eq!(r.status(), 409);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["reason"], "Conflict");
        assert_eq!(s["message"], "Apply failed with 1 conflict: conflict with \"someone-else\": .data.a", "{s}");
        assert_eq!(s["details"]["causes"][0], json!({"type": "FieldManagerConflict",
            "message": "conflict with \"someone-else\"", "field": ".data.a"}));

        // managedFields in an apply body are refused
        let r = http
            .patch(format!("{cms}/mf?fieldManager=other"))
            .header("content-type", "application/apply-patch+yaml")
            .body(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mf", "managedFields": [{"manager": "x"}]}}"#)
            .send().await.unwrap();
        assert_eq!(r.status(), 400);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "metadata.managedFields must be nil");

        // `[{}]` resets them
        let reset: serde_json::Value = http
            .patch(format!("{cms}/mf"))
            .header("content-type", "application/merge-patch+json")
            .json(&json!({"metadata": {"managedFields": [{}]}}))
            .send().await.unwrap().json().await.unwrap();
        assert!(reset["metadata"].get("managedFields").is_none(), "{reset}");

        // a PUT with managedFields of its own sets them too
        let mut put = reset.clone();
        put["metadata"]["managedFields"] = json!([{"manager": "put-owner", "operation": "Update",
            "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:a": {}}}}]);
        let replaced: serde_json::Value = http.put(format!("{cms}/mf")).json(&put).send().await.unwrap().json().await.unwrap();
        assert_eq!(replaced["metadata"]["managedFields"][0]["manager"], "put-owner", "{replaced}");
    });
}

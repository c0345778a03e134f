use super::*;

const CRD_AND_CR: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.example.com
spec:
  group: demo.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: demo.example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
"#;

#[tokio::test]
async fn crd_then_custom_resource_in_one_apply() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("demo", &BTreeMap::new()).await.unwrap();
    let applied = c.apply(CRD_AND_CR, &opts("demo")).await.unwrap();
    let got: Vec<_> = applied
        .iter()
        .map(|a| (a.kind.as_str(), a.namespace.as_deref(), a.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("CustomResourceDefinition", None, ApplyOutcome::Created),
            ("Widget", Some("demo"), ApplyOutcome::Created)
        ]
    );
    for kind in [
        "Widget",
        "widget",
        "widgets",
        "wd",
        "widgets.demo.example.com",
        "widget.v1.demo.example.com",
    ] {
        let w = c
            .get(kind, "w1", Some("demo"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{kind}"));
        assert_eq!(w["spec"]["size"], 3, "{kind}");
    }
    let again = c.apply(CRD_AND_CR, &opts("demo")).await.unwrap();
    assert!(
        again.iter().all(|a| a.outcome == ApplyOutcome::Unchanged),
        "{again:?}"
    );
}

#[tokio::test]
async fn unknown_kind_says_which_crd_is_missing() {
    let (_s, c) = sim("cluster1", 0);
    let cr = CRD_AND_CR.split("---").nth(1).unwrap();
    let e = c.apply(cr, &opts("default")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no resource type Widget (demo.example.com/v1) is served by cluster1: is its CRD installed?"
    );
    let e = c.get("widgets", "w1", None).await.unwrap_err();
    assert!(matches!(e, K8sError::UnknownKind { .. }), "{e}");
}

const THREE_CONFIGMAPS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: a, labels: {app: x, tier: web}}
data: {k: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {app: y}}
data: {k: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {app: x, tier: db}}
data: {k: c}
"#;

#[tokio::test]
async fn selector_keeps_only_matching_documents() {
    let (_s, c) = sim("cluster1", 0);
    let o = ApplyOptions {
        selector: Some("app=x,tier!=db".into()),
        ..opts("default")
    };
    let applied = c.apply(THREE_CONFIGMAPS, &o).await.unwrap();
    assert_eq!(
        applied.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    let names: Vec<String> = c
        .list("configmaps", Some("default"), Some("app"))
        .await
        .unwrap()
        .iter()
        .map(|o| str_at(o, "/metadata/name").to_string())
        .collect();
    assert_eq!(names, ["a"]);
}

#[tokio::test]
async fn namespaces_default_and_a_different_one_is_refused_before_any_write() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("shop", &BTreeMap::new()).await.unwrap();
    let applied = c.apply(THREE_CONFIGMAPS, &opts("shop")).await.unwrap();
    assert!(applied
        .iter()
        .all(|a| a.namespace.as_deref() == Some("shop")));
    assert!(c.get("cm", "a", Some("shop")).await.unwrap().is_some());
    // No namespace at all: the context's default namespace.
    let applied = c
        .apply(THREE_CONFIGMAPS, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(applied[0].namespace.as_deref(), Some("default"));

    let conflicting = format!("{THREE_CONFIGMAPS}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: d, namespace: other}}\n");
    c.create_namespace("fresh", &BTreeMap::new()).await.unwrap();
    let e = c.apply(&conflicting, &opts("fresh")).await.unwrap_err();
    assert!(matches!(e, K8sError::NamespaceMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains(
            "ConfigMap `d` is in namespace `other` but the apply targets namespace `fresh`"
        ),
        "{e}"
    );
    assert!(c
        .list("configmaps", Some("fresh"), Some("app"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn outcomes_created_unchanged_configured_and_dry_run() {
    let (_s, c) = sim("cluster1", 0);
    let first = c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(first.iter().all(|a| a.outcome == ApplyOutcome::Created));
    let a = c.get("cm", "a", Some("default")).await.unwrap().unwrap();
    let managers: Vec<(&str, &str)> = a["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (str_at(m, "/manager"), str_at(m, "/operation")))
        .collect();
    assert!(managers.contains(&("meshbook", "Apply")), "{managers:?}");
    let again = c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(
        again.iter().all(|a| a.outcome == ApplyOutcome::Unchanged),
        "{again:?}"
    );
    let changed = THREE_CONFIGMAPS.replace("data: {k: b}", "data: {k: b2}");
    let dry = ApplyOptions {
        dry_run: true,
        ..opts("default")
    };
    let preview = c.apply(&changed, &dry).await.unwrap();
    assert_eq!(
        preview.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [
            ApplyOutcome::Unchanged,
            ApplyOutcome::Configured,
            ApplyOutcome::Unchanged
        ]
    );
    assert_eq!(
        c.get("cm", "b", Some("default")).await.unwrap().unwrap()["data"]["k"],
        "b"
    );
    let third = c.apply(&changed, &opts("default")).await.unwrap();
    assert_eq!(
        third.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [
            ApplyOutcome::Unchanged,
            ApplyOutcome::Configured,
            ApplyOutcome::Unchanged
        ]
    );
}

#[tokio::test]
async fn labels_and_annotations_are_set_and_removed() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    c.label(
        "configmap",
        "a",
        Some("default"),
        &map(&[("tier", None), ("team", Some("blue"))]),
    )
    .await
    .unwrap();
    c.annotate(
        "configmap",
        "a",
        Some("default"),
        &map(&[("note", Some("hi"))]),
    )
    .await
    .unwrap();
    let a = c
        .get("configmap", "a", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        a["metadata"]["labels"],
        serde_json::json!({"app": "x", "team": "blue"})
    );
    assert_eq!(a["metadata"]["annotations"]["note"], "hi");
    c.annotate("configmap", "a", Some("default"), &map(&[("note", None)]))
        .await
        .unwrap();
    let a = c
        .get("configmap", "a", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert!(a.pointer("/metadata/annotations/note").is_none(), "{a}");
}

#[tokio::test]
async fn delete_and_delete_yaml_tolerate_absent_objects() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    assert!(c.delete("cm", "a", Some("default"), true).await.unwrap());
    assert!(!c.delete("cm", "a", Some("default"), false).await.unwrap());
    let deleted = c
        .delete_yaml(THREE_CONFIGMAPS, Some("default"))
        .await
        .unwrap();
    let got: Vec<_> = deleted
        .iter()
        .map(|d| (d.name.as_str(), d.existed))
        .collect();
    assert_eq!(got, [("c", true), ("b", true), ("a", false)]);
}

#[tokio::test]
async fn kubectl_sees_what_meshbook_applied() {
    let (_s, c, url) = served("cluster1").await;
    let dir = tempfile::tempdir().unwrap();
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    c.label("cm", "a", Some("default"), &map(&[("tier", None)]))
        .await
        .unwrap();
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["get", "configmap", "a", "-n", "default", "-o", "json"],
    )
    .await;
    assert!(ok, "{out}");
    let a: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["metadata"]["labels"], serde_json::json!({"app": "x"}));
    // A label set by kubectl survives a re-apply that never mentioned it.
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["label", "configmap", "b", "-n", "default", "owner=ops"],
    )
    .await;
    assert!(ok, "{out}");
    c.apply(THREE_CONFIGMAPS, &opts("default")).await.unwrap();
    let b = c.get("cm", "b", Some("default")).await.unwrap().unwrap();
    assert_eq!(b["metadata"]["labels"]["owner"], "ops");

    // kubectl agrees on rollouts and load-balancer addresses.
    c.apply(WEB, &opts("default")).await.unwrap();
    c.set_env("default", "web", &map(&[("MODE", Some("x"))]))
        .await
        .unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &[
            "rollout",
            "status",
            "deploy/web",
            "-n",
            "default",
            "--timeout=5s",
        ],
    )
    .await;
    assert!(ok && out.contains("successfully rolled out"), "{out}");
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: gw}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n";
    c.apply(svc, &opts("default")).await.unwrap();
    let addr = c
        .lb_address("default", "gw", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let jsonpath = "-o=jsonpath={.status.loadBalancer.ingress[0].ip}";
    let (ok, out) = kubectl(
        dir.path(),
        &url,
        &["get", "svc", "gw", "-n", "default", jsonpath],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), addr);
}

#[tokio::test]
async fn ambiguous_kinds_resolve_as_kubectl_does() {
    let (_s, c) = sim("cluster1", 0);
    // Known before the CRDs exist: the cached discovery must be refreshed on a miss.
    assert_eq!(c.resolve("deploy").await.unwrap().group, "apps");
    let crds = format!(
        "{}{}{}",
        crd("networking.istio.io", "Gateway", "gateways", "gw"),
        crd("gateway.networking.k8s.io", "Gateway", "gateways", "gtw"),
        crd("demo.example.com", "Event", "events", "dev"),
    );
    c.apply(&crds, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        c.resolve("gateway").await.unwrap().group,
        "gateway.networking.k8s.io"
    );
    assert_eq!(c.resolve("gw").await.unwrap().group, "networking.istio.io");
    assert_eq!(
        c.resolve("gateways.networking.istio.io")
            .await
            .unwrap()
            .group,
        "networking.istio.io"
    );
    // A built-in group wins over a CRD group.
    assert_eq!(c.resolve("events").await.unwrap().group, "");
    assert_eq!(
        c.resolve("events.demo.example.com").await.unwrap().group,
        "demo.example.com"
    );
}

#[tokio::test]
async fn deleting_a_namespace_waits_until_it_is_gone() {
    let (_s, c) = sim("cluster1", 0);
    c.create_namespace("shop", &BTreeMap::new()).await.unwrap();
    c.apply(THREE_CONFIGMAPS, &opts("shop")).await.unwrap();
    c.apply(WEB, &opts("shop")).await.unwrap();
    let started = Instant::now();
    assert!(c.delete("namespace", "shop", None, true).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(c.get("ns", "shop", None).await.unwrap().is_none());
    assert!(c.list("cm", Some("shop"), None).await.unwrap().is_empty());
}

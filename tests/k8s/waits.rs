use super::*;

#[tokio::test]
async fn rollouts_are_awaited_after_set_env_and_scale() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(WEB, &opts("default")).await.unwrap();
    let msg = c
        .wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(msg, "deployment \"web\" successfully rolled out");

    c.set_env("default", "web", &map(&[("MODE", Some("fast"))]))
        .await
        .unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let d = c
        .get("deploy", "web", Some("default"))
        .await
        .unwrap()
        .unwrap();
    for container in d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            container["env"],
            serde_json::json!([{"name": "MODE", "value": "fast"}]),
            "{container}"
        );
    }
    assert!(d["metadata"]["generation"].as_i64().unwrap() >= 2);

    c.scale("default", "web", 3).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let d = c
        .get("deployments.apps", "web", Some("default"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d["status"]["availableReplicas"], 3);
    let pods = c
        .list("pods", Some("default"), Some("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.len(), 3);
    assert_eq!(
        c.wait_rollouts("default", Some(Duration::from_secs(30)))
            .await
            .unwrap(),
        ["web"]
    );
}

#[tokio::test]
async fn a_timeout_says_what_was_last_seen() {
    let (_s, c) = sim("cluster1", 0);
    c.apply(WEB, &opts("default")).await.unwrap();
    c.wait_rollout("default", "web", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    let event = r#"
apiVersion: v1
kind: Event
metadata: {name: web.1}
involvedObject: {kind: Deployment, name: web, namespace: default}
type: Warning
reason: Stuck
message: the sky is falling
count: 2
---
apiVersion: v1
kind: Event
metadata: {name: web-1.1}
involvedObject: {kind: Pod, name: web-5d8f-abcde, namespace: default}
type: Warning
reason: BackOff
message: Back-off pulling image
---
apiVersion: v1
kind: Event
metadata: {name: webhook.1}
involvedObject: {kind: Pod, name: webhook-1, namespace: default}
type: Warning
reason: Unrelated
message: not about web
"#;
    c.apply(event, &opts("default")).await.unwrap();
    let started = Instant::now();
    let e = c
        .wait_condition(
            "deploy",
            "web",
            Some("default"),
            "Launched",
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        e.starts_with(
            "timed out after 1s waiting for Deployment default/web to be Launched on `cluster1`"
        ),
        "{e}"
    );
    assert!(
        e.contains("replicas: wanted 1, replicas 1, updated 1"),
        "{e}"
    );
    assert!(e.contains("Available=True"), "{e}");
    assert!(
        e.contains("Warning  Stuck  Deployment/web: the sky is falling (x2)"),
        "{e}"
    );
    assert!(
        e.contains("Warning  BackOff  Pod/web-5d8f-abcde: Back-off pulling image"),
        "{e}"
    );
    assert!(!e.contains("Unrelated"), "{e}");

    let e = c
        .wait_for(
            "configmap",
            "nothing",
            Some("default"),
            |_| true,
            Some(Duration::from_millis(300)),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("last seen: ConfigMap default/nothing does not exist"),
        "{e}"
    );
}

#[tokio::test]
async fn lb_address_waits_for_the_ingress() {
    let (_s, c) = sim("cluster1", 0);
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: gw}\nspec:\n  type: LoadBalancer\n  selector: {app: gw}\n  ports: [{port: 80}]\n";
    c.apply(svc, &opts("default")).await.unwrap();
    let addr = c
        .lb_address("default", "gw", Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(addr.parse::<std::net::IpAddr>().is_ok(), "{addr}");
}

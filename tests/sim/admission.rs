//! Admission webhooks of a simulated cluster (issue #15): a `url` webhook gets a real POST of
//! an AdmissionReview (an in-process server here) that can deny or mutate; a `service` webhook
//! with no endpoints fails the request under `failurePolicy: Fail` with the API server's words
//! and is skipped under `Ignore`; one whose pods are simulated and ready answers "allowed" as
//! simulated; dry runs. Through raw HTTP and kubectl 1.32.

use std::sync::{Arc, Mutex};

use super::kubectl::{have_kubectl, Kubectl};
use super::*;

/// An in-process webhook: `/deny` refuses, `/mutate` adds a label; every review is kept.
async fn webhook_server() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use axum::routing::post;
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/deny",
            post(move |axum::Json(review): axum::Json<serde_json::Value>| async move {
                let uid = review["request"]["uid"].clone();
                s1.lock().unwrap().push(review);
                axum::Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": uid, "allowed": false,
                        "status": {"code": 403, "message": "configmaps labelled deny=yes are not welcome here"}}}))
            }),
        )
        .route(
            "/mutate",
            post(move |axum::Json(review): axum::Json<serde_json::Value>| async move {
                use base64::Engine as _;
                let uid = review["request"]["uid"].clone();
                let has_labels = review["request"]["object"]["metadata"]["labels"].is_object();
                s2.lock().unwrap().push(review);
                let patch = if has_labels {
                    json!([{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}])
                } else {
                    json!([{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}])
                };
                let patch = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
                axum::Json(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": uid, "allowed": true, "patchType": "JSONPatch", "patch": patch,
                        "warnings": ["mutated by the test webhook"]}}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn webhook(
    kind: &str,
    name: &str,
    client: serde_json::Value,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut w = json!({"name": name, "clientConfig": client, "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]});
    for (k, v) in extra.as_object().unwrap() {
        w[k] = v.clone();
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
        "metadata": {"name": name}, "webhooks": [w]})
}

#[test]
fn url_webhooks_deny_and_mutate() {
    rt().block_on(async {
        let sim = SimCluster::start("adm1", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let (hook, seen) = webhook_server().await;
        let adm = format!("{base}/apis/admissionregistration.k8s.io/v1");
        let r = http.post(format!("{adm}/validatingwebhookconfigurations"))
            .json(&webhook("ValidatingWebhookConfiguration", "deny.example.com", json!({"url": format!("{hook}/deny")}),
                json!({"objectSelector": {"matchLabels": {"deny": "yes"}}})))
            .send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = http.post(format!("{adm}/mutatingwebhookconfigurations"))
            .json(&webhook("MutatingWebhookConfiguration", "label.example.com", json!({"url": format!("{hook}/mutate")}),
                json!({"namespaceSelector": {"matchLabels": {"team": "a"}}})))
            .send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        http.post(format!("{base}/api/v1/namespaces"))
            .json(&json!({"metadata": {"name": "team-a", "labels": {"team": "a"}}})).send().await.unwrap();

        // denied, with the API server's words and the webhook's code
        let r = http.post(format!("{base}/api/v1/namespaces/team-a/configmaps"))
            .json(&json!({"metadata": {"name": "no", "labels": {"deny": "yes"}}})).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "admission webhook \"deny.example.com\" denied the request: configmaps labelled deny=yes are not welcome here", "{s}");
        {
            let seen = seen.lock().unwrap();
            let review = seen.iter().find(|r| r["request"]["object"]["metadata"]["name"] == "no").unwrap();
            assert_eq!(review["kind"], "AdmissionReview");
            assert_eq!(review["request"]["operation"], "CREATE");
            assert_eq!(review["request"]["resource"], json!({"group": "", "version": "v1", "resource": "configmaps"}));
            assert_eq!(review["request"]["namespace"], "team-a");
            assert_eq!(review["request"]["dryRun"], false);
        }

        // mutated in the selected namespace, with the webhook's warning
        let r = http.post(format!("{base}/api/v1/namespaces/team-a/configmaps"))
            .json(&json!({"metadata": {"name": "yes"}, "data": {"k": "v"}})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert!(r.headers().get_all("warning").iter().any(|w| w.to_str().unwrap().contains("mutated by the test webhook")));
        let cm: serde_json::Value = r.json().await.unwrap();
        assert_eq!(cm["metadata"]["labels"]["mutated"], "yes", "{cm}");
        // not in another namespace
        let cm: serde_json::Value = http.post(format!("{base}/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": "plain"}})).send().await.unwrap().json().await.unwrap();
        assert!(cm["metadata"]["labels"]["mutated"].is_null(), "{cm}");

        // matchConditions: a false condition skips the webhook
        let adm_m = format!("{adm}/mutatingwebhookconfigurations/label.example.com");
        let mut cfg: serde_json::Value = http.get(&adm_m).send().await.unwrap().json().await.unwrap();
        cfg["webhooks"][0]["matchConditions"] = json!([{"name": "not-skipped",
            "expression": "!has(object.metadata.annotations) || !('skip' in object.metadata.annotations)"}]);
        let r = http.put(&adm_m).json(&cfg).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = http.post(format!("{base}/api/v1/namespaces/team-a/configmaps"))
            .json(&json!({"metadata": {"name": "skipped", "annotations": {"skip": "1"}}})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let cm: serde_json::Value = r.json().await.unwrap();
        assert!(cm["metadata"]["labels"]["mutated"].is_null(), "{cm}");
        let cm: serde_json::Value = http.post(format!("{base}/api/v1/namespaces/team-a/configmaps"))
            .json(&json!({"metadata": {"name": "matched", "annotations": {"other": "1"}}})).send().await.unwrap().json().await.unwrap();
        assert_eq!(cm["metadata"]["labels"]["mutated"], "yes", "{cm}");

        // a dry run calls webhooks with sideEffects None, says so, and stores nothing
        let r = http.post(format!("{base}/api/v1/namespaces/team-a/configmaps?dryRun=All"))
            .json(&json!({"metadata": {"name": "dry"}})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let cm: serde_json::Value = r.json().await.unwrap();
        assert_eq!(cm["metadata"]["labels"]["mutated"], "yes", "{cm}");
        assert!(seen.lock().unwrap().iter().any(|r| r["request"]["dryRun"] == true));
        let r = http.get(format!("{base}/api/v1/namespaces/team-a/configmaps/dry")).send().await.unwrap();
        assert_eq!(r.status(), 404);
    });
}

#[test]
fn service_webhooks_honour_failure_policy_and_simulated_pods_answer() {
    rt().block_on(async {
        let sim = SimCluster::start("adm2", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let adm = format!("{base}/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations");
        let client = json!({"service": {"namespace": "default", "name": "hook", "path": "/validate"}});
        let cfg = webhook("ValidatingWebhookConfiguration", "svc.example.com", client, json!({"failurePolicy": "Fail"}));
        assert_eq!(http.post(&adm).json(&cfg).send().await.unwrap().status(), 201);
        let cms = format!("{base}/api/v1/namespaces/default/configmaps");

        // no Service at all
        let r = http.post(&cms).json(&json!({"metadata": {"name": "a"}})).send().await.unwrap();
        assert_eq!(r.status(), 500);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["reason"], "InternalError");
        assert_eq!(s["message"], "Internal error occurred: failed calling webhook \"svc.example.com\": failed to call webhook: Post \"https://hook.default.svc:443/validate?timeout=10s\": service \"hook\" not found", "{s}");

        // a Service without endpoints
        http.post(format!("{base}/api/v1/namespaces/default/services"))
            .json(&json!({"metadata": {"name": "hook"}, "spec": {"selector": {"app": "hook"}, "ports": [{"port": 443, "targetPort": 8443}]}}))
            .send().await.unwrap();
        let r = http.post(&cms).json(&json!({"metadata": {"name": "b"}})).send().await.unwrap();
        assert_eq!(r.status(), 500);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "Internal error occurred: failed calling webhook \"svc.example.com\": failed to call webhook: Post \"https://hook.default.svc:443/validate?timeout=10s\": no endpoints available for service \"hook\"", "{s}");

        // through kubectl, as on a real cluster
        if have_kubectl() {
            let dir = tempfile::tempdir().unwrap();
            let kc = dir.path().join("kubeconfig");
            let cache = dir.path().join("cache");
            std::fs::create_dir_all(&cache).unwrap();
            write_kubeconfig(&kc, &[("adm2".to_string(), base.clone())]).unwrap();
            let (kc2, cache2) = (kc.clone(), cache.clone());
            let (ok, _, err) = tokio::task::spawn_blocking(move || {
                Kubectl { kubeconfig: &kc2, cache: &cache2 }.run(&["create", "configmap", "via-kubectl", "--from-literal=a=b"])
            })
            .await
            .unwrap();
            assert!(!ok);
            assert!(err.contains("Internal error occurred: failed calling webhook \"svc.example.com\": failed to call webhook: Post \"https://hook.default.svc:443/validate?timeout=10s\": no endpoints available for service \"hook\""), "{err}");
        }

        // failurePolicy Ignore: allowed
        let mut ignore = cfg.clone();
        ignore["webhooks"][0]["failurePolicy"] = json!("Ignore");
        let current: serde_json::Value = http.get(format!("{adm}/svc.example.com")).send().await.unwrap().json().await.unwrap();
        ignore["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        assert_eq!(http.put(format!("{adm}/svc.example.com")).json(&ignore).send().await.unwrap().status(), 200);
        let r = http.post(&cms).json(&json!({"metadata": {"name": "c"}})).send().await.unwrap();
        assert_eq!(r.status(), 201);

        // back to Fail, with a ready simulated pod behind the Service: answered as simulated
        let current: serde_json::Value = http.get(format!("{adm}/svc.example.com")).send().await.unwrap().json().await.unwrap();
        let mut fail = cfg.clone();
        fail["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        assert_eq!(http.put(format!("{adm}/svc.example.com")).json(&fail).send().await.unwrap().status(), 200);
        http.post(format!("{base}/api/v1/namespaces/default/pods"))
            .json(&json!({"metadata": {"name": "hook", "labels": {"app": "hook"}},
                "spec": {"containers": [{"name": "hook", "image": "example/hook:1"}]}}))
            .send().await.unwrap();
        let r = eventually("the simulated webhook pod answers", || {
            let (http, cms) = (http.clone(), cms.clone());
            async move {
                let r = http.post(&cms).json(&json!({"metadata": {"name": "d"}})).send().await.ok()?;
                (r.status() == 201).then_some(r)
            }
        })
        .await;
        let warning: Vec<String> = r.headers().get_all("warning").iter().map(|w| w.to_str().unwrap().to_string()).collect();
        assert!(warning.iter().any(|w| w.contains("svc.example.com") && w.contains("simulated")), "{warning:?}");
        let cm: serde_json::Value = r.json().await.unwrap();
        assert!(cm["metadata"]["labels"].is_null(), "never mutated: {cm}");

        // a dry run of a webhook whose sideEffects are not None fails as upstream
        let dry = webhook("MutatingWebhookConfiguration", "effects.example.com",
            json!({"url": "http://127.0.0.1:9/never"}), json!({"sideEffects": "NoneOnDryRun"}));
        assert_eq!(http.post(format!("{base}/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")).json(&dry).send().await.unwrap().status(), 201);
        let r = http.post(format!("{cms}?dryRun=All")).json(&json!({"metadata": {"name": "e"}})).send().await.unwrap();
        assert_eq!(r.status(), 500, "NoneOnDryRun webhooks are called on dry runs (and this one cannot be reached)");
    });
}

#[test]
fn controllers_writes_pass_unreachable_webhooks_client_writes_do_not() {
    rt().block_on(async {
        let sim = SimCluster::start("adm3", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let mut cfg = webhook(
            "MutatingWebhookConfiguration",
            "sidecar-injector.example.com",
            json!({"service": {"namespace": "default", "name": "injector", "path": "/inject"}}),
            json!({"failurePolicy": "Fail"}),
        );
        cfg["webhooks"][0]["rules"][0]["resources"] = json!(["pods"]);
        let r = http.post(format!("{base}/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"))
            .json(&cfg).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let r = http.post(format!("{base}/api/v1/namespaces/default/pods"))
            .json(&json!({"metadata": {"name": "direct"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
            .send().await.unwrap();
        assert_eq!(r.status(), 500, "a client's pod is refused while the injector cannot be reached");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        http.post(format!("{base}/apis/apps/v1/namespaces/default/deployments")).json(&d).send().await.unwrap();
        eventually("the ReplicaSet's pod", || {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let l: serde_json::Value = http.get(format!("{base}/api/v1/namespaces/default/pods?labelSelector=app%3Dweb"))
                    .send().await.ok()?.json().await.ok()?;
                l["items"].as_array().filter(|a| !a.is_empty()).map(|_| ())
            }
        })
        .await;
    });
}

/// An HTTPS webhook with a fresh self-signed certificate for `localhost` that denies every
/// review. Returns its port and the certificate (PEM).
async fn deny_over_tls() -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listener, port, acceptor, pem) = crate::support::tls_localhost().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let body_start = loop {
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while request.len() < body_start + length {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let review: serde_json::Value =
                    serde_json::from_slice(&request[body_start..body_start + length])
                        .unwrap_or_default();
                let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": review["request"]["uid"], "allowed": false,
                        "status": {"message": "refused over TLS"}}})
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem)
}

#[test]
fn https_webhooks_trust_their_ca_bundle_only() {
    use base64::Engine as _;
    rt().block_on(async {
        let sim = SimCluster::start("adm4", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let (port, pem) = deny_over_tls().await;
        let url = format!("https://localhost:{port}/validate");
        let adm = format!("{base}/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations");
        let ca = base64::engine::general_purpose::STANDARD.encode(&pem);
        let trusted = webhook("ValidatingWebhookConfiguration", "tls.example.com",
            json!({"url": url, "caBundle": ca}), json!({}));
        assert_eq!(http.post(&adm).json(&trusted).send().await.unwrap().status(), 201);
        let cms = format!("{base}/api/v1/namespaces/default/configmaps");
        let r = http.post(&cms).json(&json!({"metadata": {"name": "a"}})).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "admission webhook \"tls.example.com\" denied the request: refused over TLS", "{s}");

        // without the CA bundle the certificate is not trusted: the call fails (Fail by default)
        http.delete(format!("{adm}/tls.example.com")).send().await.unwrap();
        let untrusted = webhook("ValidatingWebhookConfiguration", "tls.example.com", json!({"url": url}), json!({}));
        assert_eq!(http.post(&adm).json(&untrusted).send().await.unwrap().status(), 201);
        let r = http.post(&cms).json(&json!({"metadata": {"name": "b"}})).send().await.unwrap();
        assert_eq!(r.status(), 500);
        let s: serde_json::Value = r.json().await.unwrap();
        let msg = s["message"].as_str().unwrap();
        assert!(msg.starts_with(&format!("Internal error occurred: failed calling webhook \"tls.example.com\": failed to call webhook: Post \"{url}?timeout=10s\": ")), "{msg}");
    });
}

//! The raw HTTP surface: version, discovery, OpenAPI probes, Status bodies, dryRun, watch.

use super::*;

#[test]
fn http_surface_discovery_and_error_bodies() {
    rt().block_on(async {
        let sim = SimCluster::start("h1", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(format!("{base}{path}"));

        let v: serde_json::Value = get("/version").send().await.unwrap().json().await.unwrap();
        assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.32."));
        for field in ["major", "minor", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"] {
            assert!(v[field].is_string(), "{field}");
        }
        // aggregated discovery is not served: plain legacy JSON, so clients fall back
        let r = get("/apis")
            .header("accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/json");
        let groups: serde_json::Value = r.json().await.unwrap();
        assert_eq!(groups["kind"], "APIGroupList");
        assert_eq!(get("/openapi/v3").send().await.unwrap().status(), 200);
        assert_eq!(get("/openapi/v2").send().await.unwrap().status(), 200);
        let apps: serde_json::Value = get("/apis/apps/v1").send().await.unwrap().json().await.unwrap();
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));

        // error bodies are Status objects
        let r = get("/apis/apps/v1/namespaces/default/deployments/nope").send().await.unwrap();
        assert_eq!(r.status(), 404);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!((s["kind"].as_str(), s["reason"].as_str()), (Some("Status"), Some("NotFound")));
        assert_eq!(s["message"], "deployments.apps \"nope\" not found");
        assert_eq!(s["details"]["kind"], "deployments");
        let r = http
            .post(format!("{base}/api/v1/namespaces/missing/configmaps"))
            .json(&json!({"metadata": {"name": "x"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["message"], "namespaces \"missing\" not found");
        let r = http
            .post(format!("{base}/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": "Bad_Name"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
        let r = http.put(format!("{base}/api/v1/namespaces/default/configmaps")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        let r = http
            .patch(format!("{base}/api/v1/namespaces/default/services/kubernetes"))
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        // dryRun=All persists nothing
        let r = http
            .post(format!("{base}/api/v1/namespaces/default/configmaps?dryRun=All"))
            .json(&json!({"metadata": {"name": "dry"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(get("/api/v1/namespaces/default/configmaps/dry").send().await.unwrap().status(), 404);
        // a stale resourceVersion conflicts
        let r = http
            .put(format!("{base}/api/v1/namespaces/default/services/kubernetes"))
            .json(&json!({"metadata": {"name": "kubernetes", "resourceVersion": "1"}, "spec": {"ports": [{"port": 443}]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["reason"], "Conflict");
        // watch ends after timeoutSeconds
        let started = Instant::now();
        let body = get("/api/v1/namespaces/default/services?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dkubernetes")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        let first: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert_eq!(first["type"], "ADDED");
        assert_eq!(body.lines().count(), 1);
    });
}

#[test]
fn quiet_watches_get_bookmarks() {
    rt().block_on(async {
        let opts = SimOptions {
            bookmark_every: std::time::Duration::from_millis(200),
            ..SimOptions::default()
        };
        let sim = SimCluster::start("b1", 0, opts);
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let body = reqwest::get(format!("{base}/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let last: serde_json::Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "BOOKMARK");
        assert!(last["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() > 1);
    });
}

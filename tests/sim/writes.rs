//! Writes and reads as a real server does them (issue #15): `status: {}` from the first
//! answer, `limit`/`continue` pagination, delete options (Orphan, preconditions), what every
//! cluster starts with (kube-root-ca.crt, ClusterRoles, PriorityClasses, EndpointSlices), and
//! faults on demand. Through raw HTTP, kubectl 1.32 and the official Python client.

use super::*;

#[test]
fn status_pages_delete_options_and_builtin_objects() {
    rt().block_on(async {
        let sim = SimCluster::start("w1", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let apps = format!("{base}/apis/apps/v1/namespaces/default");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
        let created: serde_json::Value = http.post(format!("{apps}/deployments")).json(&d).send().await.unwrap().json().await.unwrap();
        assert_eq!(created["status"], json!({}), "{created}");
        assert_eq!(created["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");

        // pagination: every page, then nothing left
        let cms = format!("{base}/api/v1/namespaces/default/configmaps");
        eventually("kube-root-ca.crt in default", || {
            let (http, cms) = (http.clone(), cms.clone());
            async move { (http.get(format!("{cms}/kube-root-ca.crt")).send().await.ok()?.status() == 200).then_some(()) }
        })
        .await;
        for i in 0..5 {
            http.post(&cms).json(&json!({"metadata": {"name": format!("page-{i}")}})).send().await.unwrap();
        }
        let mut names = Vec::new();
        let mut token = String::new();
        loop {
            let url = if token.is_empty() { format!("{cms}?limit=2") } else { format!("{cms}?limit=2&continue={token}") };
            let page: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
            names.extend(page["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()));
            match page["metadata"]["continue"].as_str() {
                Some(t) => {
                    assert!(page["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
                    token = t.to_string();
                }
                None => break,
            }
        }
        assert!(names.contains(&"kube-root-ca.crt".to_string()), "{names:?}");
        assert_eq!(names.iter().filter(|n| n.starts_with("page-")).count(), 5, "{names:?}");
        let r = http.get(format!("{cms}?limit=2&continue=garbage!")).send().await.unwrap();
        assert_eq!(r.status(), 400);

        // delete preconditions
        let r = http.delete(format!("{cms}/page-0")).json(&json!({"preconditions": {"uid": "not-the-uid"}})).send().await.unwrap();
        assert_eq!(r.status(), 409);
        let s: serde_json::Value = r.json().await.unwrap();
        assert!(s["message"].as_str().unwrap().contains("Precondition failed: UID in precondition: not-the-uid"), "{s}");

        // propagationPolicy=Orphan keeps the ReplicaSet (without its ownerReference)
        let rss = format!("{apps}/replicasets");
        let rs = eventually("the Deployment's ReplicaSet", || {
            let (http, rss) = (http.clone(), rss.clone());
            async move {
                let l: serde_json::Value = http.get(&rss).send().await.ok()?.json().await.ok()?;
                l["items"].as_array()?.first().cloned()
            }
        })
        .await;
        let rs_name = rs["metadata"]["name"].as_str().unwrap().to_string();
        let r = http.delete(format!("{apps}/deployments/web")).json(&json!({"propagationPolicy": "Orphan"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let kept: serde_json::Value = http.get(format!("{rss}/{rs_name}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(kept["metadata"]["name"], rs_name.as_str(), "{kept}");
        assert!(kept["metadata"].get("ownerReferences").is_none(), "{kept}");

        // what a new cluster has
        for path in [
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin",
            "/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical",
            "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt",
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "/apis/events.k8s.io/v1/events",
        ] {
            assert_eq!(http.get(format!("{base}{path}")).send().await.unwrap().status(), 200, "{path}");
        }
        // EndpointSlices beside Endpoints
        http.post(format!("{base}/api/v1/namespaces/default/pods")).json(&json!({"metadata": {"name": "p", "labels": {"app": "db"}},
            "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}})).send().await.unwrap();
        http.post(format!("{base}/api/v1/namespaces/default/services")).json(&json!({"metadata": {"name": "db"},
            "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}})).send().await.unwrap();
        let slice = eventually("an EndpointSlice with the pod", || {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let l: serde_json::Value = http
                    .get(format!("{base}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Ddb"))
                    .send().await.ok()?.json().await.ok()?;
                let s = l["items"].as_array()?.first()?.clone();
                s["endpoints"].as_array().is_some_and(|e| !e.is_empty()).then_some(s)
            }
        })
        .await;
        assert_eq!(slice["addressType"], "IPv4");
        assert_eq!(slice["ports"][0]["port"], 5432);
    });
}

#[test]
fn faults_and_latency_on_demand() {
    rt().block_on(async {
        let opts = SimOptions {
            faults: meshbook::sim::faults::FaultOptions {
                rate: 0.5,
                latency: Duration::from_millis(20),
                seed: 3,
            },
            ..SimOptions::default()
        };
        let sim = SimCluster::start("f1", 0, opts);
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let mut codes = std::collections::BTreeMap::new();
        for _ in 0..60 {
            let code = match http.get(format!("{base}/api/v1/namespaces")).send().await {
                Ok(r) => {
                    let code = r.status().as_u16();
                    if code == 429 || code >= 500 {
                        assert_eq!(r.headers()["retry-after"], "1");
                    }
                    match r.bytes().await {
                        Ok(_) => code,
                        Err(_) => 0,
                    }
                }
                Err(_) => 0,
            };
            *codes.entry(code).or_insert(0) += 1;
        }
        assert!(codes.get(&200).is_some_and(|n| *n > 10), "{codes:?}");
        for code in [0, 429, 500, 503] {
            assert!(
                codes.contains_key(&code),
                "{code} never injected: {codes:?}"
            );
        }
        // a kube client retries its way through: the probe meshbook runs at start
        let sim_ok = meshbook::k8s::Cluster::new(
            "f1",
            None,
            base.clone(),
            kube::Client::try_from(kube::Config::new(base.parse().unwrap())).unwrap(),
        );
        assert_eq!(sim_ok.probe().await.unwrap(), "v1.32");
    });
}

#[test]
fn the_python_client_sees_status_pages_and_422s() {
    let have = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!(
            "skipping: the Python kubernetes client is not installed (pip install kubernetes)"
        );
        return;
    }
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_fleet, urls) = rt
        .block_on(start_fleet(&["py".to_string()], SimOptions::default()))
        .unwrap();
    write_kubeconfig(&kubeconfig, &urls).unwrap();
    let script = r#"
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
apps = client.AppsV1Api()
core = client.CoreV1Api()
body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "py"},
  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "py"}},
    "template": {"metadata": {"labels": {"app": "py"}}, "spec": {"containers": [{"name": "py", "image": "nginx:1.27"}]}}}}
d = apps.create_namespaced_deployment("default", body)
print("ready", d.status.ready_replicas)
for i in range(3):
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm-%d" % i}})
seen, token = [], None
while True:
    page = core.list_namespaced_config_map("default", limit=1, _continue=token)
    seen += [c.metadata.name for c in page.items]
    token = page.metadata._continue
    if not token:
        break
print("pages", len(seen))
try:
    core.create_namespaced_service("default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 70000}]}})
except client.ApiException as e:
    import json
    cause = json.loads(e.body)["details"]["causes"][0]
    print(e.status, cause["field"], cause["message"])
"#;
    let out = Command::new("python3")
        .args(["-c", script, kubeconfig.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ready None"), "{stdout}");
    assert!(stdout.contains("pages 4"), "{stdout}");
    assert!(
        stdout.contains(
            "422 spec.ports[0].port Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{stdout}"
    );
}

// See: issue #15. A rolling update keeps within maxSurge and maxUnavailable at every step.
#[test]
fn rolling_updates_respect_surge_and_unavailability_at_every_step() {
    use kube::runtime::watcher::{watcher, Config, Event};
    rt().block_on(async {
        let sim = SimCluster::start("roll", 0, SimOptions::default());
        let client = sim.client();
        let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let d = |image: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "roll"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"app": "roll"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}});
        let pp = PatchParams::apply("test").force();
        deploys.patch("roll", &pp, &Patch::Apply(d("nginx:1.26"))).await.unwrap();
        await_condition(deploys.clone(), "roll", conditions::is_deployment_completed()).await.unwrap();
        eventually("four ready pods", || {
            let pods = pods.clone();
            async move {
                let l = pods.list(&ListParams::default().labels("app=roll")).await.ok()?;
                (l.items.iter().filter(|p| ready(p)).count() == 4).then_some(())
            }
        })
        .await;

        let mut stream = std::pin::pin!(watcher(pods.clone(), Config::default().labels("app=roll")));
        let mut seen: std::collections::BTreeMap<String, Pod> = Default::default();
        let mut steps = 0;
        let mut max_pods = 0;
        let mut min_ready = usize::MAX;
        deploys.patch("roll", &pp, &Patch::Apply(d("nginx:1.27"))).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "the rollout did not finish: {max_pods} {min_ready}");
            let ev = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap();
            match ev {
                Event::Apply(p) | Event::InitApply(p) => {
                    seen.insert(p.name_any(), p);
                }
                Event::Delete(p) => {
                    seen.remove(&p.name_any());
                }
                Event::Init | Event::InitDone => continue,
            }
            let live: Vec<&Pod> = seen.values().filter(|p| p.metadata.deletion_timestamp.is_none()).collect();
            let ready_now = live.iter().filter(|p| ready(p)).count();
            steps += 1;
            max_pods = max_pods.max(live.len());
            if steps > 4 {
                // after the watch's initial listing: every step is within the bounds
                min_ready = min_ready.min(ready_now);
                assert!(live.len() <= 5, "more than replicas + maxSurge pods: {}", live.len());
                assert!(ready_now >= 3, "fewer than replicas - maxUnavailable ready pods: {ready_now}");
            }
            let new_ready = live.iter().filter(|p| ready(p) && image_of(p) == "nginx:1.27").count();
            if new_ready == 4 && live.len() == 4 {
                break;
            }
        }
        assert_eq!(max_pods, 5, "the rollout surged by one");
        // the new ReplicaSet is revision 2 with every replica, the old one revision 1 with none
        let sets = dynamic(&client, "apps", "v1", "ReplicaSet", "replicasets", Some("default"));
        let mut revisions: Vec<(String, i64)> = sets
            .list(&ListParams::default().labels("app=roll"))
            .await
            .unwrap()
            .items
            .iter()
            .map(|s| {
                (
                    s.metadata.annotations.clone().unwrap_or_default()["deployment.kubernetes.io/revision"].clone(),
                    s.data["spec"]["replicas"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        revisions.sort();
        assert_eq!(revisions, vec![("1".to_string(), 0), ("2".to_string(), 4)]);
    });
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image_of(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

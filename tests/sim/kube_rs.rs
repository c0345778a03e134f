//! kube-rs against simulated clusters: CRUD, watch, apply, rollouts, exec, logs,
//! port-forward, failures, throughput and shutdown.

use super::*;

#[test]
fn kube_rs_in_process_crud_watch_apply() {
    rt().block_on(async {
        let sim = SimCluster::start("k1", 0, SimOptions::default());
        let client = sim.client();
        let v = client.apiserver_version().await.unwrap();
        assert_eq!(v.minor, "32");

        let nss: Api<Namespace> = Api::all(client.clone());
        let names: Vec<String> = nss.list(&ListParams::default()).await.unwrap().items.iter().map(|n| n.name_any()).collect();
        for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }

        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "1"}})).unwrap();
        let created = cms.create(&PostParams::default(), &cm).await.unwrap();
        let rv = created.resource_version().unwrap();
        let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
        assert!(matches!(err, kube::Error::Api(ref s) if s.code == 409), "{err:?}");
        let err = cms.get("nope").await.unwrap_err();
        assert!(err.to_string().contains("configmaps \"nope\" not found"), "{err}");

        // watch from the create's resourceVersion sees the apply
        let mut stream = cms.watch(&WatchParams::default().labels("app=x"), &rv).await.unwrap().boxed();
        let pp = PatchParams::apply("test").force();
        let applied = cms
            .patch("one", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "2"}})))
            .await
            .unwrap();
        assert_eq!(applied.data.as_ref().unwrap()["a"], "2");
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.unwrap().unwrap().unwrap();
        assert!(matches!(ev, WatchEvent::Modified(ref o) if o.data.as_ref().unwrap()["a"] == "2"), "{ev:?}");

        // an unchanged re-apply keeps the resourceVersion
        let again = cms
            .patch("one", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "labels": {"app": "x"}}, "data": {"a": "2"}})))
            .await
            .unwrap();
        assert_eq!(again.resource_version(), applied.resource_version());

        // missing namespace
        let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
        let err = elsewhere.create(&PostParams::default(), &cm).await.unwrap_err();
        assert!(err.to_string().contains("namespaces \"missing\" not found"), "{err}");

        // deployment rollout through ReplicaSet and Pods
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let d: Deployment = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
        .unwrap();
        deps.patch("web", &pp, &Patch::Apply(&d)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), await_condition(deps.clone(), "web", conditions::is_deployment_completed()))
            .await
            .unwrap()
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let ps = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
        assert_eq!(ps.items.len(), 2);
        assert!(ps.items.iter().all(|p| p.status.as_ref().unwrap().phase.as_deref() == Some("Running")));

        // status subresource
        let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
        let svc = svcs.get("kubernetes").await.unwrap();
        assert_eq!(svc.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.1"));

        let dr = deps.delete("web", &DeleteParams::default()).await.unwrap();
        let _ = dr;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if pods.list(&ListParams::default().labels("app=web")).await.unwrap().items.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "pods of a deleted deployment are garbage collected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // discovery works
        let disc = kube::discovery::Discovery::new(client.clone()).run().await.unwrap();
        assert!(disc.groups().any(|g| g.name() == "apps"));
    });
}

#[test]
fn startup_and_apply_patch_throughput() {
    rt().block_on(async {
        let started = Instant::now();
        let fleet = meshbook::sim::SimFleet::new(SimOptions::default());
        for name in ["t1", "t2", "t3"] {
            fleet.add(name);
        }
        let startup = started.elapsed();
        assert_eq!(fleet.names(), vec!["t1", "t2", "t3"]);
        let client = fleet.get("t1").unwrap().client();
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");
        let pp = PatchParams::apply("bench");
        let n = 300;
        let t = Instant::now();
        for i in 0..n {
            let name = format!("cm-{i}");
            cms.patch(&name, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"i": i.to_string()}})))
                .await
                .unwrap();
        }
        let rate = f64::from(n) / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for i in 0..n {
            let name = format!("cm-{i}");
            cms.patch(&name, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"i": i.to_string()}})))
                .await
                .unwrap();
        }
        let unchanged_rate = f64::from(n) / t.elapsed().as_secs_f64();
        eprintln!("three clusters started in {startup:?}; apply-patch: {rate:.0} objects/s (create), {unchanged_rate:.0} objects/s (unchanged re-apply)");
        assert_eq!(cms.list(&ListParams::default().labels("app=bench")).await.unwrap().items.len(), n as usize);
    });
}

#[test]
fn kube_rs_exec_and_logs_over_a_socket() {
    rt().block_on(async {
        let sim = SimCluster::start("x1", 2, SimOptions::default());
        let addr = sim.serve_local().await.unwrap();
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}})).unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), await_condition(pods.clone(), "p", conditions::is_pod_running()))
            .await
            .unwrap()
            .unwrap();
        let logs = pods.logs("p", &Default::default()).await.unwrap();
        assert!(logs.contains("default/p") && logs.contains("container main"), "{logs}");

        let mut attached = pods
            .exec("p", ["echo", "hi"], &kube::api::AttachParams::default().stderr(true).stdout(true))
            .await
            .unwrap();
        let mut stderr = attached.stderr().unwrap();
        let status = attached.take_status().unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await.unwrap();
        assert!(text.contains("cannot run `echo hi`"), "{text}");
        let status = status.await.unwrap();
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let causes = status.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].reason.as_deref(), Some("ExitCode"));
        assert_eq!(causes[0].message.as_deref(), Some("126"));
        attached.join().await.unwrap();

        // port-forward speaks the protocol and reports that nothing listens
        let t = Duration::from_secs(5);
        let mut pf = tokio::time::timeout(t, pods.portforward("p", &[8080])).await.expect("portforward connects").unwrap();
        let err = tokio::time::timeout(t, pf.take_error(8080).unwrap()).await.expect("error arrives");
        assert!(err.is_some_and(|e| e.contains("accepts no connections")));
        let mut stream = pf.take_stream(8080).unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(t, tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf)).await;
        assert!(buf.is_empty());
        drop(stream);
        let _ = tokio::time::timeout(t, pf.join()).await;
    });
}

#[test]
fn failing_pods_and_events_can_be_rehearsed() {
    use k8s_openapi::api::core::v1::Event;
    rt().block_on(async {
        let sim = SimCluster::start("f1", 0, SimOptions::default());
        let client = sim.client();
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let pp = PatchParams::apply("test");
        deps.patch("bad", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bad"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bad"}},
                "template": {"metadata": {"labels": {"app": "bad"}, "annotations": {meshbook::sim::FAIL_ANNOTATION: "ImagePullBackOff"}},
                    "spec": {"containers": [{"name": "c", "image": "nope:1"}]}}}})))
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let events: Api<Event> = Api::namespaced(client.clone(), "default");
        let warning = eventually("a Warning event for the failing pod", || {
            let events = events.clone();
            async move {
                let list = events.list(&ListParams::default()).await.ok()?;
                list.items.into_iter().find(|e| e.type_.as_deref() == Some("Warning"))
            }
        })
        .await;
        assert_eq!(warning.reason.as_deref(), Some("Failed"));
        // ErrImagePull first, then ImagePullBackOff, as the kubelet reports them
        let waiting = eventually("the pod in ImagePullBackOff", || {
            let pods = pods.clone();
            async move {
                let pod = pods.list(&ListParams::default().labels("app=bad")).await.ok()?.items.pop()?;
                let waiting = pod.status?.container_statuses?[0].state.clone()?.waiting?;
                (waiting.reason.as_deref() == Some("ImagePullBackOff")).then_some(waiting)
            }
        })
        .await;
        assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
        let d = deps.get("bad").await.unwrap();
        assert_eq!(d.status.unwrap().ready_replicas.unwrap_or(0), 0);
        let normal = events.list(&ListParams::default()).await.unwrap();
        assert!(normal.items.iter().any(|e| e.reason.as_deref() == Some("ScalingReplicaSet")));
    });
}

#[test]
fn dropping_a_cluster_stops_its_server() {
    rt().block_on(async {
        let sim = SimCluster::start("d1", 0, SimOptions::default());
        let addr = sim.serve_local().await.unwrap();
        let url = format!("http://{addr}/version");
        assert!(reqwest::get(&url).await.unwrap().status().is_success());
        drop(sim);
        eventually("the listener closes", || {
            let url = url.clone();
            async move { reqwest::get(&url).await.is_err().then_some(()) }
        })
        .await;
    });
}

#[test]
fn claims_bind_and_chart_kinds_are_served() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    rt().block_on(async {
        let sim = SimCluster::start("v1", 0, SimOptions::default());
        let client = sim.client();
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}))
        .unwrap();
        pvcs.create(&PostParams::default(), &pvc).await.unwrap();
        eventually("the claim binds", || {
            let pvcs = pvcs.clone();
            async move { (pvcs.get("data").await.ok()?.status?.phase.as_deref() == Some("Bound")).then_some(()) }
        })
        .await;
        let apis = dynamic(&client, "apiregistration.k8s.io", "v1", "APIService", "apiservices", None);
        let pp = PatchParams::apply("test");
        apis.patch("v1beta1.metrics.k8s.io", &pp, &Patch::Apply(json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100}})))
            .await
            .unwrap();
    });
}

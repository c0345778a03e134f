//! Vendor behaviours from `stdlib/sim/controllers`: Istio and Gloo gateways, the Gloo
//! operator and management server, global services across linked clusters.

use super::*;

#[test]
fn vendor_rules_gateways_operator_and_global_services() {
    rt().block_on(async {
        let sim = SimCluster::start("r1", 1, SimOptions::default());
        let client = sim.client();
        let pp = PatchParams::apply("test").force();
        let crds: Api<kube::api::DynamicObject> = dynamic(&client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", None);
        for c in [
            crd("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", "Cluster", &["v1"]),
            crd("gateway.networking.k8s.io", "Gateway", "gateways", "Namespaced", &["v1", "v1beta1"]),
            crd("gateway.networking.k8s.io", "HTTPRoute", "httproutes", "Namespaced", &["v1", "v1beta1"]),
            crd("operator.gloo.solo.io", "ServiceMeshController", "servicemeshcontrollers", "Cluster", &["v1"]),
        ] {
            let name = c["metadata"]["name"].as_str().unwrap().to_string();
            crds.patch(&name, &pp, &Patch::Apply(&c)).await.unwrap();
        }
        let nss: Api<Namespace> = Api::all(client.clone());
        nss.patch("istio-system", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}))).await.unwrap();

        // gloo-operator
        let smcs = dynamic(&client, "operator.gloo.solo.io", "v1", "ServiceMeshController", "servicemeshcontrollers", None);
        smcs.patch("istio", &pp, &Patch::Apply(json!({"apiVersion": "operator.gloo.solo.io/v1", "kind": "ServiceMeshController",
            "metadata": {"name": "istio"}, "spec": {"version": "1.26.2", "cluster": "cluster1", "network": "cluster1"}}))).await.unwrap();
        let istio_deps: Api<Deployment> = Api::namespaced(client.clone(), "istio-system");
        tokio::time::timeout(Duration::from_secs(10), await_condition(istio_deps.clone(), "istiod-gloo", conditions::is_deployment_completed()))
            .await
            .unwrap()
            .unwrap();
        eventually("ServiceMeshController phase", || {
            let smcs = smcs.clone();
            async move { (smcs.get("istio").await.ok()?.data["status"]["phase"] == "SUCCEEDED").then_some(()) }
        })
        .await;
        let classes = dynamic(&client, "gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", None);
        eventually("GatewayClass istio accepted", || {
            let classes = classes.clone();
            async move { (classes.get("istio").await.ok()?.data["status"]["conditions"][0]["status"] == "True").then_some(()) }
        })
        .await;

        // Gateway class istio -> <gw>-istio LoadBalancer Service, Programmed once addressed
        let gws = dynamic(&client, "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("default"));
        gws.patch("ingress", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "ingress", "namespace": "default"},
            "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}))).await.unwrap();
        let gw = eventually("Gateway Programmed", || {
            let gws = gws.clone();
            async move {
                let gw = gws.get("ingress").await.ok()?;
                let conds = gw.data["status"]["conditions"].as_array()?.clone();
                conds.iter().any(|c| c["type"] == "Programmed" && c["status"] == "True").then_some(gw)
            }
        })
        .await;
        let svcs: Api<Service> = Api::namespaced(client.clone(), "default");
        let svc = svcs.get("ingress-istio").await.unwrap();
        let ip = svc.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0].ip.clone().unwrap();
        assert_eq!(gw.data["status"]["addresses"][0]["value"], ip.as_str());
        let ports: Vec<i32> = svc.spec.unwrap().ports.unwrap().iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![15021, 80]);
        let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
        assert!(deps.get("ingress-istio").await.is_ok());

        // HTTPRoute status parents
        let routes = dynamic(&client, "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", Some("default"));
        routes.patch("r", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "default"}, "spec": {"parentRefs": [{"name": "ingress"}]}}))).await.unwrap();
        eventually("HTTPRoute parents", || {
            let routes = routes.clone();
            async move {
                let r = routes.get("r").await.ok()?;
                (r.data["status"]["parents"][0]["controllerName"] == "istio.io/gateway-controller").then_some(())
            }
        })
        .await;

        // kgateway (Gloo Gateway) class: Deployment and Service named after the Gateway
        gws.patch("http", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "http", "namespace": "default"},
            "spec": {"gatewayClassName": "gloo-gateway-v2", "infrastructure": {"parametersRef": {"name": "p", "group": "gateway.kgateway.dev", "kind": "GatewayParameters"}},
                "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}}))).await.unwrap();
        routes.patch("r2", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r2", "namespace": "default"}, "spec": {"parentRefs": [{"name": "http"}]}}))).await.unwrap();
        eventually("kgateway route status", || {
            let routes = routes.clone();
            async move {
                let r = routes.get("r2").await.ok()?;
                (r.data["status"]["parents"][0]["controllerName"] == "kgateway.dev/kgateway").then_some(())
            }
        })
        .await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod = eventually("kgateway proxy pod", || {
            let pods = pods.clone();
            async move { pods.list(&ListParams::default().labels("gateway.networking.k8s.io/gateway-name=http")).await.ok()?.items.pop() }
        })
        .await;
        let names: Vec<String> = pod.spec.unwrap().containers.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, vec!["kgateway-proxy", "sds", "istio-proxy"]);
        assert!(pod.metadata.name.unwrap().starts_with("http-"));

        // global service -> ServiceEntry in istio-system, removed with the label
        svcs.patch("web", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"solo.io/service-scope": "global"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 9080}]}}))).await.unwrap();
        let ses = dynamic(&client, "networking.istio.io", "v1", "ServiceEntry", "serviceentries", Some("istio-system"));
        let se = eventually("autogen ServiceEntry", || {
            let ses = ses.clone();
            async move { ses.get("autogen.default.web").await.ok() }
        })
        .await;
        assert_eq!(se.data["spec"]["hosts"][0], "web.default.mesh.internal");
        svcs.patch("web", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"solo.io/service-scope": null}}}))).await.unwrap();
        eventually("autogen ServiceEntry removed", || {
            let ses = ses.clone();
            async move { ses.get("autogen.default.web").await.is_err().then_some(()) }
        })
        .await;

        // the Gloo management server's relay secrets
        nss.patch("gloo-mesh", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-mesh"}}))).await.unwrap();
        let gm_deps: Api<Deployment> = Api::namespaced(client.clone(), "gloo-mesh");
        gm_deps.patch("gloo-mesh-mgmt-server", &pp, &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "gloo-mesh-mgmt-server", "namespace": "gloo-mesh"},
            "spec": {"selector": {"matchLabels": {"app": "mgmt"}}, "template": {"metadata": {"labels": {"app": "mgmt"}},
                "spec": {"containers": [{"name": "mgmt", "image": "gloo-mesh-mgmt-server"}]}}}}))).await.unwrap();
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), "gloo-mesh");
        let ca = eventually("relay root secret", || {
            let secrets = secrets.clone();
            async move { secrets.get("relay-root-tls-secret").await.ok() }
        })
        .await;
        let pem = String::from_utf8(ca.data.unwrap()["ca.crt"].0.clone()).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem:?}");

        // deleting the Gateway collects what the rule made for it
        gws.delete("ingress", &DeleteParams::default()).await.unwrap();
        eventually("gateway Service garbage collected", || {
            let svcs = svcs.clone();
            async move { svcs.get("ingress-istio").await.is_err().then_some(()) }
        })
        .await;
    });
}

/// Prints start-up time and apply-patch throughput (test profile; release is faster).

#[test]
fn global_services_reach_linked_clusters() {
    rt().block_on(async {
        let fleet = meshbook::sim::SimFleet::new(SimOptions::default());
        let (a, b) = (fleet.add("east"), fleet.add("west"));
        let pp = PatchParams::apply("test").force();
        for c in [&a, &b] {
            let client = c.client();
            let crds = dynamic(&client, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", None);
            for d in [
                crd("gateway.networking.k8s.io", "Gateway", "gateways", "Namespaced", &["v1"]),
                crd("networking.istio.io", "ServiceEntry", "serviceentries", "Namespaced", &["v1"]),
            ] {
                let name = d["metadata"]["name"].as_str().unwrap().to_string();
                crds.patch(&name, &pp, &Patch::Apply(&d)).await.unwrap();
            }
            let nss: Api<Namespace> = Api::all(client.clone());
            for ns in ["istio-system", "istio-gateways"] {
                nss.patch(ns, &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))).await.unwrap();
            }
        }
        // west's east-west gateway gets an address; east links to it with an istio-remote Gateway
        let west_gws = dynamic(&b.client(), "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("istio-gateways"));
        west_gws.patch("istio-eastwest", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "istio-eastwest", "namespace": "istio-gateways"},
            "spec": {"gatewayClassName": "istio-eastwest", "listeners": [{"name": "cross-network", "port": 15008, "protocol": "HBONE"}]}}))).await.unwrap();
        let west_svcs: Api<Service> = Api::namespaced(b.client(), "istio-gateways");
        let ew_ip = eventually("west east-west address", || {
            let svcs = west_svcs.clone();
            async move { svcs.get("istio-eastwest").await.ok()?.status?.load_balancer?.ingress?.first()?.ip.clone() }
        })
        .await;
        let (owner, svc) = fleet.service_for_address(&ew_ip.parse().unwrap()).unwrap();
        assert_eq!((owner.as_str(), svc["metadata"]["name"].as_str()), ("west", Some("istio-eastwest")));
        let east_gws = dynamic(&a.client(), "gateway.networking.k8s.io", "v1", "Gateway", "gateways", Some("istio-gateways"));
        east_gws.patch("istio-remote-peer-west", &pp, &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "istio-remote-peer-west", "namespace": "istio-gateways"},
            "spec": {"gatewayClassName": "istio-remote", "addresses": [{"type": "IPAddress", "value": ew_ip}],
                "listeners": [{"name": "cross-network", "port": 15008, "protocol": "HBONE"}]}}))).await.unwrap();

        let west_default: Api<Service> = Api::namespaced(b.client(), "default");
        west_default.patch("reviews", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "default", "labels": {"solo.io/service-scope": "global"}},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}))).await.unwrap();
        let east_ses = dynamic(&a.client(), "networking.istio.io", "v1", "ServiceEntry", "serviceentries", Some("istio-system"));
        let se = eventually("ServiceEntry copied to the linked cluster", || {
            let ses = east_ses.clone();
            async move { ses.get("autogen.default.reviews").await.ok() }
        })
        .await;
        assert_eq!(se.data["spec"]["hosts"][0], "reviews.default.mesh.internal");

        west_default.patch("reviews", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"solo.io/service-scope": null}}}))).await.unwrap();
        eventually("copy removed with the label", || {
            let ses = east_ses.clone();
            async move { ses.get("autogen.default.reviews").await.is_err().then_some(()) }
        })
        .await;
    });
}

//! Validation as a 1.32 API server does it (issue #15): a table of invalid objects and the
//! 422 Status with its cause, decoding errors (400, fieldValidation), server-side apply
//! schema errors, and the Gateway API CRDs' own schemas and CEL rules.

use super::*;

/// POSTs `body` to `path` and returns (status code, Status or object, Warning headers).
async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, Vec<String>) {
    let r = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let warnings = r
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .collect();
    (code, r.json().await.unwrap(), warnings)
}

fn deployment(spec_patch: serde_json::Value) -> serde_json::Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}}});
    meshbook::sim::patch::merge_patch(&mut d, &spec_patch);
    d
}

#[test]
fn invalid_objects_get_the_servers_422_with_its_cause() {
    rt().block_on(async {
        let sim = SimCluster::start("v1", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let ns = "/api/v1/namespaces/default";
        let apps = "/apis/apps/v1/namespaces/default";
        // (path, body, cause reason, cause field, cause message)
        let cases: Vec<(&str, serde_json::Value, &str, &str, &str)> = vec![
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}}})),
                "FieldValueInvalid",
                "spec.template.spec.containers[0].ports[0].containerPort",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"spec": {"replicas": -1}})),
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}})),
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`",
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}})),
                "FieldValueRequired",
                "spec.template.spec.containers[0].image",
                "Required value",
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"spec": {"strategy": {"type": "Rolling"}}})),
                "FieldValueNotSupported",
                "spec.strategy.type",
                "Unsupported value: \"Rolling\": supported values: \"Recreate\", \"RollingUpdate\"",
            ),
            (
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(json!({"metadata": {"name": "Web"}})),
                "FieldValueInvalid",
                "metadata.name",
                "Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (
                "/api/v1/namespaces/default/services",
                json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 70000}]}}),
                "FieldValueInvalid",
                "spec.ports[0].port",
                "Invalid value: 70000: must be between 1 and 65535, inclusive",
            ),
            (
                "/api/v1/namespaces/default/services",
                json!({"metadata": {"name": "s"}, "spec": {"type": "Loadbalancer", "ports": [{"port": 80}]}}),
                "FieldValueNotSupported",
                "spec.type",
                "Unsupported value: \"Loadbalancer\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ),
            (
                "/api/v1/namespaces/default/services",
                json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}}),
                "FieldValueRequired",
                "spec.ports[0].name",
                "Required value",
            ),
            (
                "/api/v1/namespaces/default/services",
                json!({"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}),
                "FieldValueInvalid",
                "metadata.name",
                "Invalid value: \"1svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            ),
            (
                "/api/v1/namespaces/default/configmaps",
                json!({"metadata": {"name": "c"}, "data": {"a/b": "x"}}),
                "FieldValueInvalid",
                "data[a/b]",
                "Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ),
            (
                "/api/v1/namespaces/default/configmaps",
                json!({"metadata": {"name": "big"}, "data": {"k": "x".repeat(1024 * 1024 + 1)}}),
                "FieldValueTooLong",
                "[]",
                "Too long: must have at most 1048576 bytes",
            ),
            (
                "/api/v1/namespaces/default/secrets",
                json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": "x"}}),
                "FieldValueRequired",
                "data[tls.key]",
                "Required value",
            ),
            (
                "/api/v1/namespaces",
                json!({"metadata": {"name": "my.ns"}}),
                "FieldValueInvalid",
                "metadata.name",
                "Invalid value: \"my.ns\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                json!({"metadata": {"name": "system:metrics-server"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}, "subjects": []}),
                "FieldValueNotSupported",
                "roleRef.kind",
                "Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            ),
            (
                "/apis/batch/v1/namespaces/default/jobs",
                json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "j", "image": "busybox"}]}}}}),
                "FieldValueRequired",
                "spec.template.spec.restartPolicy",
                "Required value: valid values: \"OnFailure\", \"Never\"",
            ),
            (
                "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
                json!({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}),
                "FieldValueRequired",
                "spec.rules[0].http.paths[0].pathType",
                "Required value: pathType must be specified",
            ),
            (
                "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                json!({"metadata": {"name": "w"}, "webhooks": [{"name": "check", "admissionReviewVersions": ["v1"], "sideEffects": "None", "clientConfig": {"url": "https://x"}}]}),
                "FieldValueInvalid",
                "webhooks[0].name",
                "Invalid value: \"check\": should be a domain with at least three segments separated by dots",
            ),
        ];
        for (path, body, reason, field, message) in cases {
            let (code, status, _) = post(&http, &base, path, body).await;
            assert_eq!(code, 422, "{path}: {status}");
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["reason"], "Invalid", "{status}");
            let causes = status["details"]["causes"].as_array().unwrap();
            assert!(
                causes.iter().any(|c| c["reason"] == reason && c["field"] == field && c["message"] == message),
                "{path}: no cause ({reason}, {field}, {message}) in {status:#}"
            );
        }
        // RBAC names may hold ':' (cert-manager's and metrics-server's charts need it)
        let (code, s, _) = post(&http, &base, "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "system:metrics-server"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})).await;
        assert_eq!(code, 201, "{s}");
        // immutable fields
        let (code, svc, _) = post(&http, &base, &format!("{ns}/services"), json!({"metadata": {"name": "fixed"}, "spec": {"ports": [{"port": 80}]}})).await;
        assert_eq!(code, 201);
        let mut changed = svc.clone();
        changed["spec"]["clusterIP"] = json!("10.96.200.200");
        changed["spec"]["clusterIPs"] = json!(["10.96.200.200"]);
        let r = http.put(format!("{base}{ns}/services/fixed")).json(&changed).send().await.unwrap();
        assert_eq!(r.status(), 422);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["details"]["causes"][0]["field"], "spec.clusterIPs[0]", "{s}");
        let (code, _, _) = post(&http, &base, &format!("{apps}/deployments"), deployment(json!({}))).await;
        assert_eq!(code, 201);
        let r = http
            .patch(format!("{base}{apps}/deployments/web"))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}}}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let s: serde_json::Value = r.json().await.unwrap();
        assert!(s["message"].as_str().unwrap().contains("spec.selector: Invalid value: &v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}"), "{s}");
        assert!(s["message"].as_str().unwrap().ends_with("field is immutable"), "{s}");
        // stringData is stored as data
        let (code, secret, _) = post(&http, &base, &format!("{ns}/secrets"), json!({"metadata": {"name": "pw"}, "stringData": {"password": "hunter2"}})).await;
        assert_eq!(code, 201);
        assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
        assert!(secret.get("stringData").is_none());
    });
}

#[test]
fn decoding_errors_and_field_validation() {
    rt().block_on(async {
        let sim = SimCluster::start("v2", 0, SimOptions::default());
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let path = "/apis/apps/v1/namespaces/default/deployments";
        // replicas must be an integer: the decoder's 400
        let (code, s, _) = post(&http, &base, path, deployment(json!({"spec": {"replicas": "two"}}))).await;
        assert_eq!(code, 400);
        assert_eq!(s["reason"], "BadRequest");
        assert_eq!(s["message"], "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
        // unknown fields: Strict fails, Warn warns, Ignore drops silently; the field is never stored
        let typo = deployment(json!({"spec": {"replica": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "imagePullPolcy": "Always"}]}}}}));
        let (code, s, _) = post(&http, &base, &format!("{path}?fieldValidation=Strict"), typo.clone()).await;
        assert_eq!(code, 400);
        assert_eq!(s["message"], "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagePullPolcy\"");
        let (code, d, warnings) = post(&http, &base, &format!("{path}?fieldValidation=Warn"), typo.clone()).await;
        assert_eq!(code, 201, "{d}");
        assert_eq!(warnings, vec!["299 - \"unknown field \\\"spec.replica\\\"\"", "299 - \"unknown field \\\"spec.template.spec.containers[0].imagePullPolcy\\\"\""]);
        assert!(d["spec"].get("replica").is_none());
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
        let mut other = typo.clone();
        other["metadata"]["name"] = json!("web2");
        let (code, _, warnings) = post(&http, &base, &format!("{path}?fieldValidation=Ignore"), other).await;
        assert_eq!((code, warnings.len()), (201, 0));
        let (code, _, _) = post(&http, &base, &format!("{path}?fieldValidation=Sometimes"), typo).await;
        assert_eq!(code, 400);
        // server-side apply: the typed patch object must fit the schema (a 1.32 server answers 500)
        let r = http
            .patch(format!("{base}{path}/web3?fieldManager=test"))
            .header("content-type", "application/apply-patch+yaml")
            .body(deployment(json!({"metadata": {"name": "web3"}, "spec": {"replicas": "two"}})).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "failed to create typed patch object (default/web3; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string");
        let r = http
            .patch(format!("{base}{path}/web3?fieldManager=test"))
            .header("content-type", "application/apply-patch+yaml")
            .body(deployment(json!({"metadata": {"name": "web3"}, "spec": {"bogus": 1}})).to_string())
            .send()
            .await
            .unwrap();
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["message"], "failed to create typed patch object (default/web3; apps/v1, Kind=Deployment): .spec.bogus: field not declared in schema");
        // Secret data must be base64
        let (code, s, _) = post(&http, &base, "/api/v1/namespaces/default/secrets", json!({"metadata": {"name": "s"}, "data": {"k": "not base64!"}})).await;
        assert_eq!(code, 400);
        assert_eq!(s["message"], "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3");
    });
}

/// The Gateway API stand-in CRDs (`stdlib/sim/manifests/gateway-api`), applied to a cluster.
async fn with_gateway_api(sim: &SimCluster) {
    let text = meshbook::assets::Tree::Stdlib
        .read("sim/manifests/gateway-api/standard-install.yaml")
        .unwrap()
        .into_owned();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        if v.is_null() {
            continue;
        }
        sim.state().apply_object(&v, "test").unwrap();
    }
    let crds = sim
        .state()
        .registry()
        .by_kind("gateway.networking.k8s.io/v1", "HTTPRoute");
    assert!(crds.is_some(), "HTTPRoute served");
}

#[test]
fn gateway_api_schemas_and_cel_rules_are_enforced() {
    rt().block_on(async {
        let sim = SimCluster::start("v3", 0, SimOptions::default());
        with_gateway_api(&sim).await;
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let routes = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";
        let gws = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways";
        let route = |spec: serde_json::Value| json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": spec});
        let gateway = |listeners: serde_json::Value| json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"},
            "spec": {"gatewayClassName": "istio", "listeners": listeners}});
        // (path, body, cause reason, cause field, cause message)
        let cases = vec![
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"matches": [{"path": {"type": "PathPrefx", "value": "/"}}]}]})),
                "FieldValueNotSupported", "spec.rules[0].matches[0].path.type",
                "Unsupported value: \"PathPrefx\": supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\""),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/a//b"}}]}]})),
                "FieldValueInvalid", "spec.rules[0].matches[0].path",
                "Invalid value: \"object\": must not contain '//' when type one of ['Exact', 'PathPrefix']"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"matches": [{"path": {"type": "Exact", "value": "products"}}]}]})),
                "FieldValueInvalid", "spec.rules[0].matches[0].path",
                "Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"backendRefs": [{"name": "svc"}]}]})),
                "FieldValueInvalid", "spec.rules[0].backendRefs[0]",
                "Invalid value: \"object\": Must have port for Service reference"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"backendRefs": [{"name": "svc", "port": 70000}]}]})),
                "FieldValueInvalid", "spec.rules[0].backendRefs[0].port",
                "Invalid value: 70000: spec.rules[0].backendRefs[0].port in body should be less than or equal to 65535"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "hostnames": ["Bookinfo.example.com"]})),
                "FieldValueInvalid", "spec.hostnames[0]",
                "Invalid value: \"Bookinfo.example.com\": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}], "backendRefs": [{"name": "svc", "port": 80}]}]})),
                "FieldValueInvalid", "spec.rules[0]",
                "Invalid value: \"object\": RequestRedirect filter must not be used together with backendRefs"),
            (routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"filters": [{"type": "RequestHeaderModifier"}]}]})),
                "FieldValueInvalid", "spec.rules[0].filters[0]",
                "Invalid value: \"object\": filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"),
            (routes, route(json!({"parentRefs": [{"name": "g"}, {"name": "g"}]})),
                "FieldValueInvalid", "spec.parentRefs",
                "Invalid value: \"array\": sectionName must be unique when parentRefs includes 2 or more references to the same parent"),
            (routes, route(json!({"parentRefs": [{}]})),
                "FieldValueRequired", "spec.parentRefs[0].name", "Required value"),
            (gws, gateway(json!([{"name": "http", "port": 80, "protocol": "HTTP"}, {"name": "http", "port": 8080, "protocol": "HTTP"}])),
                "FieldValueInvalid", "spec.listeners",
                "Invalid value: \"array\": Listener name must be unique within the Gateway"),
            (gws, gateway(json!([{"name": "http", "port": 80, "protocol": "HTTP", "tls": {"mode": "Terminate", "certificateRefs": [{"name": "c"}]}}])),
                "FieldValueInvalid", "spec.listeners",
                "Invalid value: \"array\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"),
            (gws, gateway(json!([])),
                "FieldValueInvalid", "spec.listeners",
                "Invalid value: 0: spec.listeners in body should have at least 1 items"),
        ];
        for (path, body, reason, field, message) in cases {
            let (code, status, _) = post(&http, &base, path, body.clone()).await;
            assert_eq!(code, 422, "{body}: {status}");
            let causes = status["details"]["causes"].as_array().unwrap();
            assert!(
                causes.iter().any(|c| c["reason"] == reason && c["field"] == field && c["message"] == message),
                "{body}: no cause ({reason}, {field}, {message}) in {status:#}"
            );
        }
        // a typo'd field: pruned with a warning, refused under Strict, refused by server-side apply
        let typo = route(json!({"parentRefs": [{"name": "g"}], "rules": [{"matchs": [{"path": {"value": "/"}}]}]}));
        let (code, s, _) = post(&http, &base, &format!("{routes}?fieldValidation=Strict"), typo.clone()).await;
        assert_eq!(code, 400);
        assert_eq!(s["message"], "HTTPRoute in version \"v1\" cannot be handled as a HTTPRoute: strict decoding error: unknown field \"spec.rules[0].matchs\"");
        let r = http
            .patch(format!("{base}{routes}/r?fieldManager=test"))
            .header("content-type", "application/apply-patch+yaml")
            .body(typo.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        assert!(r.text().await.unwrap().contains(".spec.rules[0].matchs: field not declared in schema"));
        // a valid route is defaulted as the CRD says
        let (code, stored, _) = post(&http, &base, routes, route(json!({"parentRefs": [{"name": "g"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}))).await;
        assert_eq!(code, 201, "{stored}");
        assert_eq!(stored["spec"]["parentRefs"][0]["kind"], "Gateway");
        assert_eq!(stored["spec"]["parentRefs"][0]["group"], "gateway.networking.k8s.io");
        assert_eq!(stored["spec"]["rules"][0]["backendRefs"][0]["weight"], 1);
        assert_eq!(stored["spec"]["rules"][0]["matches"][0]["path"], json!({"type": "PathPrefix", "value": "/"}));
        // GatewayClass controllerName is immutable (a transition rule)
        let classes = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";
        let (code, gc, _) = post(&http, &base, classes, json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": "c"}, "spec": {"controllerName": "example.com/one"}})).await;
        assert_eq!(code, 201, "{gc}");
        let r = http
            .patch(format!("{base}{classes}/c"))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"spec": {"controllerName": "example.com/two"}}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["details"]["causes"][0]["message"], "Invalid value: \"string\": Value is immutable", "{s}");
    });
}

#[test]
fn kubectl_shows_validation_errors_and_explains_kinds() {
    if !kubectl::have_kubectl() {
        eprintln!("skipping: kubectl not found");
        return;
    }
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let names = vec!["c1".to_string()];
    let (fleet, urls) = rt
        .block_on(start_fleet(&names, SimOptions::default()))
        .unwrap();
    rt.block_on(with_gateway_api(&fleet.get("c1").unwrap()));
    write_kubeconfig(&kubeconfig, &urls).unwrap();
    let k = kubectl::Kubectl {
        kubeconfig: &kubeconfig,
        cache: &cache,
    };
    let _guard = rt.enter();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let bad_port = file("port.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 70000}]}]}\n");
    let (ok, _, err) = k.run(&["apply", "-f", &bad_port]);
    assert!(!ok);
    assert!(err.contains("The Deployment \"web\" is invalid: spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"), "{err}");
    let (ok, _, err) = k.run(&["apply", "--server-side", "-f", &bad_port]);
    assert!(
        !ok && err.contains("must be between 1 and 65535, inclusive"),
        "{err}"
    );
    let two = file("two.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: two\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n");
    let (ok, _, err) = k.run(&["apply", "-f", &two]);
    assert!(!ok && err.contains("cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"), "{err}");
    let typo = file("route.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: g}]\n  rules:\n  - matches: [{path: {type: PathPrefx, value: /}}]\n");
    let (ok, _, err) = k.run(&["apply", "-f", &typo]);
    assert!(
        !ok && err.contains("spec.rules[0].matches[0].path.type: Unsupported value: \"PathPrefx\""),
        "{err}"
    );
    let unknown = file("unknown.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: g}]\n  rulez: []\n");
    let (ok, _, err) = k.run(&["apply", "-f", &unknown]);
    assert!(
        !ok && err.contains("strict decoding error: unknown field \"spec.rulez\""),
        "{err}"
    );
    let (ok, _, err) = k.run(&["apply", "--validate=warn", "-f", &unknown]);
    assert!(
        ok && err.contains("Warning: unknown field \"spec.rulez\""),
        "{err}"
    );
    // kubectl explain reads the OpenAPI v3 documents of built-in kinds and CRDs
    let out = k.ok(&["explain", "deployment.spec.replicas"]);
    assert!(
        out.contains("FIELD: replicas <integer>") && out.contains("Number of desired pods"),
        "{out}"
    );
    let out = k.ok(&["explain", "httproute.spec"]);
    assert!(
        out.contains("parentRefs") && out.contains("hostnames") && out.contains("rules"),
        "{out}"
    );
    let out = k.ok(&["explain", "httproute.spec.rules.matches.path.type"]);
    assert!(
        out.contains("PathPrefix") || out.contains("Type specifies how to match"),
        "{out}"
    );
}

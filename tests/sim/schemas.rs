//! Schemas of the CRDs the simulated tools install (issue #15): Istio's CRDs from a simulated
//! `helm install base` or `istioctl install` are structural, and the Gateway API HTTPRoute's
//! CEL rule on the total number of matches holds.

use super::*;
use crate::support::Test;

#[test]
fn an_httproute_with_more_than_128_matches_is_refused() {
    rt().block_on(async {
        let sim = SimCluster::start("m1", 0, SimOptions::default());
        let text = meshbook::assets::Tree::Stdlib
            .read("sim/manifests/gateway-api/standard-install.yaml")
            .unwrap()
            .into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            if !v.is_null() {
                sim.state().apply_object(&v, "test").unwrap();
            }
        }
        let base = format!("http://{}", sim.serve_local().await.unwrap());
        let http = reqwest::Client::new();
        let url = format!("{base}/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes");
        // `rules` of `per_rule` matches each, `n` rules
        let route = |name: &str, n: usize, per_rule: usize| {
            let matches: Vec<serde_json::Value> = (0..per_rule)
                .map(|i| json!({"path": {"type": "PathPrefix", "value": format!("/p{i}")}}))
                .collect();
            let rules: Vec<serde_json::Value> = (0..n).map(|_| json!({"matches": matches})).collect();
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": name}, "spec": {"parentRefs": [{"name": "g"}], "rules": rules}})
        };
        let post = |body: serde_json::Value| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http.post(&url).json(&body).send().await.unwrap();
                (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
            }
        };
        // 2 x 64 = 128: at the limit, accepted (and rules without matches still default)
        let (code, body) = post(route("at-limit", 2, 64)).await;
        assert_eq!(code, 201, "{body}");
        let (code, body) = post(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "no-matches"}, "spec": {"parentRefs": [{"name": "g"}], "rules": [{}, {}]}})).await;
        assert_eq!(code, 201, "{body}");
        // 3 x 43 = 129
        let (code, status) = post(route("over", 3, 43)).await;
        assert_eq!(code, 422, "{status}");
        let causes = status["details"]["causes"].as_array().unwrap();
        assert!(
            causes.iter().any(|c| c["reason"] == "FieldValueInvalid"
                && c["field"] == "spec.rules"
                && c["message"] == "Invalid value: \"array\": While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128"),
            "{status:#}"
        );
    });
}

const BAD_VS: &str = "apiVersion: networking.istio.io/v1\\nkind: VirtualService\\nmetadata: {name: reviews, namespace: default}\\nspec:\\n  hosts: reviews\\n";
const BAD_AP: &str = "apiVersion: security.istio.io/v1\\nkind: AuthorizationPolicy\\nmetadata: {name: deny-all, namespace: default}\\nspec:\\n  action: DENIED\\n";

#[test]
fn istio_crds_from_helm_base_and_istioctl_install_have_schemas() {
    let runbook = |install: &str, manifest: &str| {
        format!(
            "let c = cluster(\"cluster1\");\nsection(\"install\", || {{\n  {install}\n}});\nsection(\"apply\", || {{\n  c.apply(\"{manifest}\");\n}});\n"
        )
    };
    let helm = "c.helm([\"install\", \"istio-base\", \"istio/base\", \"-n\", \"istio-system\", \"--create-namespace\"]);";
    let out = Test::runbook(&runbook(helm, BAD_VS))
        .run()
        .status(1)
        .no_backtrace();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("✓ install") || text.contains("install"),
        "{text}"
    );
    assert!(
        // server-side apply (meshbook's apply) reports the type error as the real server does
        text.contains(".spec.hosts: expected list, got string"),
        "{text}"
    );
    let istioctl = "c.istioctl([\"install\", \"-y\"]);";
    let out = Test::runbook(&runbook(istioctl, BAD_AP))
        .run()
        .status(1)
        .no_backtrace();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains(
            "spec.action: Unsupported value: \"DENIED\": supported values: \"ALLOW\", \"DENY\""
        ),
        "{text}"
    );
}

//! `helm_install` against a fake helm: argv, the private values file, repos, failures.

use std::path::Path;
use std::time::Duration;

use meshbook::tools::{
    helm_install, HelmInstall, HelmRepo, HelmValues, Stream, ToolCluster, ToolError,
};
use serde_json::json;

use super::{FakeBin, Lines, LICENSE};

/// A fake helm that records its argv (one per line, appended), and copies the file after
/// `-f` to `values-seen` and its path to `values-path`.
const FAKE_HELM: &str = r#"
printf '%s\n' "$@" >> "$REC"; echo "--" >> "$REC"
prev=""
for a in "$@"; do
  if [ "$prev" = "-f" ]; then cp "$a" "$(dirname "$REC")/values-seen"; echo "$a" > "$(dirname "$REC")/values-path"; stat -c %a "$a" > "$(dirname "$REC")/values-mode"; fi
  prev="$a"
done
echo "Release has been upgraded. Happy Helming!"
[ -n "$FAIL" ] && { echo "Error: boom" >&2; exit 1; }
exit 0
"#;

fn gloo_install() -> HelmInstall {
    HelmInstall {
        release: "gloo-platform".into(),
        chart: "gloo-platform/gloo-platform".into(),
        namespace: "gloo-mesh".into(),
        create_namespace: true,
        version: Some("2.8.0".into()),
        values: Some(HelmValues::Json(json!({
            "licensing": {"glooMeshLicenseKey": LICENSE},
            "glooMgmtServer": {"enabled": true},
        }))),
        ..Default::default()
    }
}

#[tokio::test]
async fn helm_install_keeps_the_license_in_a_private_values_file() {
    let bin = FakeBin::new().tool("helm", FAKE_HELM);
    let base = bin
        .invocation("helm", &[])
        .cluster(ToolCluster::new("cluster1", "ctx1"))
        .secrets([LICENSE]);
    let lines = Lines::default();
    let on_line = |s: Stream, l: &str| lines.push(s, l);
    helm_install(&gloo_install(), &base, &on_line)
        .await
        .unwrap();

    let values_path = bin.read("values-path").trim().to_string();
    let argv: Vec<String> = bin.read("rec").lines().map(String::from).collect();
    let expected = format!(
        "upgrade --install gloo-platform gloo-platform/gloo-platform --kube-context ctx1 \
         --namespace gloo-mesh --version 2.8.0 --create-namespace -f {values_path} --"
    );
    assert_eq!(argv.join(" "), expected);
    assert!(!bin.read("rec").contains(LICENSE));
    let seen = bin.read("values-seen");
    assert!(
        seen.contains(&format!("glooMeshLicenseKey: {LICENSE}")),
        "{seen}"
    );
    assert_eq!(bin.read("values-mode").trim(), "600");
    assert!(!Path::new(&values_path).exists(), "values file removed");
    assert!(!lines.all().contains(LICENSE));
}

#[tokio::test]
async fn helm_install_removes_the_values_file_on_failure_and_adds_repos() {
    let bin = FakeBin::new().tool("helm", FAKE_HELM);
    let base = bin
        .invocation("helm", &[])
        .cluster(ToolCluster::new("cluster1", "ctx1"))
        .env("FAIL", "1")
        .secrets([LICENSE]);
    let mut install = gloo_install();
    install.repo =
        HelmRepo::parse("gloo-platform=https://storage.googleapis.com/gloo-platform/helm-charts");
    install.set = vec![("glooUi.enabled".into(), "true".into())];
    install.wait = true;
    install.timeout = Some(Duration::from_secs(300));
    // FAIL makes every call fail, so the repo add fails first: run again without FAIL to see
    // the sequence, then with FAIL only on the install.
    let err = helm_install(&install, &base, &|_, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("Error: boom"), "{err}");

    let bin = FakeBin::new().tool(
        "helm",
        &FAKE_HELM.replace("[ -n \"$FAIL\" ]", "[ \"$1\" = upgrade ]"),
    );
    let base = bin
        .invocation("helm", &[])
        .cluster(ToolCluster::new("cluster1", "ctx1"))
        .secrets([LICENSE]);
    let err = helm_install(&install, &base, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, ToolError::Failed { .. }), "{err}");
    let calls: Vec<String> = bin
        .read("rec")
        .split("--\n")
        .map(|c| c.trim().replace('\n', " "))
        .filter(|c| !c.is_empty())
        .collect();
    let values_path = bin.read("values-path").trim().to_string();
    assert_eq!(
        calls,
        [
            "repo add gloo-platform https://storage.googleapis.com/gloo-platform/helm-charts --force-update".to_string(),
            "repo update gloo-platform".to_string(),
            format!("upgrade --install gloo-platform gloo-platform/gloo-platform --kube-context ctx1 --namespace gloo-mesh --version 2.8.0 --create-namespace -f {values_path} --set glooUi.enabled=true --wait --timeout 5m0s"),
        ]
    );
    assert!(
        !Path::new(&values_path).exists(),
        "values file removed after a failure"
    );

    // A secret in `set` never reaches helm.
    install.set = vec![("licensing.glooMeshLicenseKey".into(), LICENSE.into())];
    let err = helm_install(&install, &base, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, ToolError::SecretInSet { .. }), "{err}");
    assert!(!err.to_string().contains(LICENSE));
}

#[tokio::test]
async fn oci_charts_need_no_repo() {
    let bin = FakeBin::new().tool("helm", FAKE_HELM);
    let base = bin
        .invocation("helm", &[])
        .cluster(ToolCluster::new("cluster2", "ctx2"));
    let install = HelmInstall {
        release: "gloo-operator".into(),
        chart: "oci://us-docker.pkg.dev/solo-public/gloo-operator-helm/gloo-operator".into(),
        namespace: "gloo-system".into(),
        version: Some("0.2.5".into()),
        repo: HelmRepo::parse("x=https://example.invalid"),
        ..Default::default()
    };
    helm_install(&install, &base, &|_, _| {}).await.unwrap();
    assert_eq!(
        bin.read("rec").replace('\n', " "),
        "upgrade --install gloo-operator oci://us-docker.pkg.dev/solo-public/gloo-operator-helm/gloo-operator \
         --kube-context ctx2 --namespace gloo-system --version 0.2.5 -- "
    );
}

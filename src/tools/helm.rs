//! `helm upgrade --install` and friends, with values in a private temporary file.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::error::ToolError;
use super::invocation::{Invocation, Stream, ToolOutput};
use super::process::run;

/// A chart's values: a structured value or YAML text.
#[derive(Clone, Debug, PartialEq)]
pub enum HelmValues {
    Json(serde_json::Value),
    Yaml(String),
}

impl HelmValues {
    /// The values as YAML text (what goes in the values file).
    pub fn to_yaml(&self) -> Result<String, ToolError> {
        match self {
            HelmValues::Yaml(text) => {
                serde_yaml::from_str::<serde_yaml::Value>(text).map_err(|e| {
                    ToolError::BadValues {
                        message: e.to_string(),
                    }
                })?;
                Ok(text.clone())
            }
            HelmValues::Json(value) => {
                serde_yaml::to_string(value).map_err(|e| ToolError::BadValues {
                    message: e.to_string(),
                })
            }
        }
    }

    /// The values as a JSON value (for simulated rules).
    pub fn to_json(&self) -> Result<serde_json::Value, ToolError> {
        match self {
            HelmValues::Json(value) => Ok(value.clone()),
            HelmValues::Yaml(text) => {
                let v: Option<serde_json::Value> =
                    serde_yaml::from_str(text).map_err(|e| ToolError::BadValues {
                        message: e.to_string(),
                    })?;
                Ok(v.unwrap_or(serde_json::Value::Null))
            }
        }
    }
}

/// A chart repository to add before installing (`helm repo add <name> <url>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmRepo {
    pub name: String,
    pub url: String,
}

impl HelmRepo {
    /// Parses `name=url`.
    pub fn parse(spec: &str) -> Option<HelmRepo> {
        let (name, url) = spec.split_once('=')?;
        (!name.trim().is_empty() && !url.trim().is_empty()).then(|| HelmRepo {
            name: name.trim().into(),
            url: url.trim().into(),
        })
    }
}

/// One `helm upgrade --install`.
#[derive(Clone, Debug, Default)]
pub struct HelmInstall {
    pub release: String,
    /// `repo/chart`, a local path, or `oci://...` (OCI charts need no repo).
    pub chart: String,
    pub namespace: String,
    pub create_namespace: bool,
    pub version: Option<String>,
    /// Written to a private temporary file passed with `-f`: secrets go here.
    pub values: Option<HelmValues>,
    /// Non-secret scalars only, passed as `--set k=v`.
    pub set: Vec<(String, String)>,
    pub repo: Option<HelmRepo>,
    pub wait: bool,
    pub timeout: Option<Duration>,
}

/// The argv of `helm upgrade --install`, in this order:
/// `upgrade --install <release> <chart> [--kube-context <ctx>] --namespace <ns>
/// [--version <v>] [--create-namespace] [-f <file>] [--set k=v]... [--wait] [--timeout 5m0s]`.
pub fn helm_install_argv(
    install: &HelmInstall,
    values_file: Option<&Path>,
    context: Option<&str>,
) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "upgrade".into(),
        "--install".into(),
        install.release.clone(),
        install.chart.clone(),
    ];
    if let Some(ctx) = context {
        argv.extend(["--kube-context".into(), ctx.into()]);
    }
    argv.extend(["--namespace".into(), install.namespace.clone()]);
    if let Some(v) = &install.version {
        argv.extend(["--version".into(), v.clone()]);
    }
    if install.create_namespace {
        argv.push("--create-namespace".into());
    }
    if let Some(file) = values_file {
        argv.extend(["-f".into(), file.display().to_string()]);
    }
    for (k, v) in &install.set {
        argv.extend(["--set".into(), format!("{k}={v}")]);
    }
    if install.wait {
        argv.push("--wait".into());
    }
    if let Some(t) = install.timeout {
        argv.extend(["--timeout".into(), go_duration(t)]);
    }
    argv
}

/// Formats a duration the way Go prints one (`5m0s`, `1m30s`, `45s`, `1h0m0s`).
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Rejects a `--set` value that contains one of the invocation's secrets (in any form).
pub fn check_set_values(
    install: &HelmInstall,
    secrets: &crate::report::Redactor,
) -> Result<(), ToolError> {
    for (key, value) in &install.set {
        if secrets.contains_secret(value) {
            return Err(ToolError::SecretInSet { key: key.clone() });
        }
    }
    Ok(())
}

/// Runs `helm upgrade --install` with `base`'s program, cluster, env, timeout and secrets.
///
/// Values go to a temporary file readable only by the user (mode 0600), removed afterwards
/// whatever happens. With a repo (and a chart that is not `oci://`), `helm repo add <name>
/// <url> --force-update` and `helm repo update <name>` run first (idempotent).
pub async fn helm_install(
    install: &HelmInstall,
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    check_set_values(install, &base.secrets)?;
    if let Some(repo) = &install.repo {
        if !install.chart.starts_with("oci://") {
            let mut add = base.with_argv(
                &base.program,
                ["repo", "add", &repo.name, &repo.url, "--force-update"],
            );
            add.cluster = None;
            run(&add, on_line).await?;
            let mut update = base.with_argv(&base.program, ["repo", "update", &repo.name]);
            update.cluster = None;
            run(&update, on_line).await?;
        }
    }
    let values_file = match &install.values {
        Some(values) => Some(write_values_file(&values.to_yaml()?)?),
        None => None,
    };
    let context = base.cluster.as_ref().map(|c| c.context.as_str());
    let argv = helm_install_argv(install, values_file.as_ref().map(|f| f.path()), context);
    let inv = base.with_argv(&base.program, argv);
    let result = run(&inv, on_line).await;
    // Dropping the handle removes the file (also on the error paths above via `?`).
    drop(values_file);
    result
}

fn write_values_file(yaml: &str) -> Result<tempfile::NamedTempFile, ToolError> {
    let err = |source: std::io::Error| ToolError::ValuesFile {
        message: source.to_string(),
        source,
    };
    let mut file = tempfile::Builder::new()
        .prefix("meshbook-values-")
        .suffix(".yaml")
        .tempfile()
        .map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    file.write_all(yaml.as_bytes()).map_err(err)?;
    file.flush().map_err(err)?;
    Ok(file)
}

/// Runs `helm uninstall <release> --kube-context <ctx> --namespace <ns>`.
pub async fn helm_uninstall(
    release: &str,
    namespace: &str,
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    let inv = base.with_argv(&base.program, helm_uninstall_argv(release, namespace, None));
    run(&inv, on_line).await
}

/// The argv of `helm uninstall` (the context is appended by the runner when not given).
pub fn helm_uninstall_argv(release: &str, namespace: &str, context: Option<&str>) -> Vec<String> {
    let mut argv = vec!["uninstall".to_string(), release.to_string()];
    if let Some(ctx) = context {
        argv.extend(["--kube-context".into(), ctx.into()]);
    }
    argv.extend(["--namespace".into(), namespace.into()]);
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install() -> HelmInstall {
        HelmInstall {
            release: "gloo-platform".into(),
            chart: "gloo-platform/gloo-platform".into(),
            namespace: "gloo-mesh".into(),
            create_namespace: true,
            version: Some("2.8.0".into()),
            ..Default::default()
        }
    }

    #[test]
    fn argv_in_documented_order() {
        let mut i = install();
        i.set = vec![("a.b".into(), "1".into())];
        i.wait = true;
        i.timeout = Some(Duration::from_secs(300));
        let argv = helm_install_argv(&i, Some(Path::new("/tmp/v.yaml")), Some("ctx1"));
        assert_eq!(
            argv.join(" "),
            "upgrade --install gloo-platform gloo-platform/gloo-platform --kube-context ctx1 \
             --namespace gloo-mesh --version 2.8.0 --create-namespace -f /tmp/v.yaml \
             --set a.b=1 --wait --timeout 5m0s"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn set_with_a_secret_is_rejected() {
        let mut i = install();
        i.set = vec![("licensing.key".into(), "xx-SECRET-yy".into())];
        let secrets = crate::report::Redactor::new();
        secrets.add("SECRET").unwrap();
        let err = check_set_values(&i, &secrets).unwrap_err();
        assert!(
            err.to_string().contains("`--set licensing.key=...`"),
            "{err}"
        );
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn repo_spec_and_values() {
        let r = HelmRepo::parse("gloo-platform=https://x/charts").unwrap();
        assert_eq!(
            (r.name.as_str(), r.url.as_str()),
            ("gloo-platform", "https://x/charts")
        );
        assert!(HelmRepo::parse("nope").is_none());
        let v = HelmValues::Yaml("a: [".into());
        assert!(v.to_yaml().is_err());
        let v = HelmValues::Json(serde_json::json!({"a": {"b": 1}}));
        assert!(v.to_yaml().unwrap().contains("b: 1"));
    }
}

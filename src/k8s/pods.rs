//! Pods: exec, logs, and the targets that name them (`pod`, `deploy/NAME`, `app=x`).

use std::time::Duration;

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams, LogParams};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::clusters::Cluster;
use super::error::{K8sError, Result};
use super::retry::retrying;
use super::rollout::pod_ready;
use crate::base::selector::from_match_labels;

/// What a command run in a pod printed and returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecOutput {
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

/// Options of `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Last lines only.
    pub tail: Option<i64>,
    /// Only lines newer than this.
    pub since: Option<Duration>,
    /// Container (default: the pod's default container).
    pub container: Option<String>,
    /// Follow the log for this long, then return what came.
    pub follow_for: Option<Duration>,
}

/// How a target names pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One pod by name.
    Pod(String),
    /// The pods of a Deployment (`deploy/NAME`, `deployment/NAME`).
    Deployment(String),
    /// Pods matching a label selector.
    Selector(String),
    /// The pods behind a Service (`svc/NAME`), by its selector.
    Service(String),
}

impl Target {
    /// Parses `pod-name`, `pod/NAME`, `deploy/NAME` or a label selector (anything with `=`,
    /// `!` or a space).
    pub fn parse(text: &str) -> Result<Target> {
        let text = text.trim();
        if let Some((kind, name)) = text.split_once('/') {
            return match kind {
                "pod" | "pods" | "po" => Ok(Target::Pod(name.into())),
                "deploy" | "deployment" | "deployments" => Ok(Target::Deployment(name.into())),
                "svc" | "service" | "services" => Ok(Target::Service(name.into())),
                _ if text.contains('=') => Ok(Target::Selector(text.into())),
                _ => Err(K8sError::Invalid(format!(
                    "target `{text}` is not a pod name, `deploy/NAME`, `svc/NAME` or a label selector"
                ))),
            };
        }
        if text.is_empty() {
            return Err(K8sError::Invalid("an empty target names no pod".into()));
        }
        if text.contains(['=', '!', ' ', ',']) {
            return Ok(Target::Selector(text.into()));
        }
        Ok(Target::Pod(text.into()))
    }
}

/// The container logs and exec go to by default: the `kubectl.kubernetes.io/default-container`
/// annotation, else the first container.
pub fn default_container(pod: &Value) -> Option<String> {
    pod.pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str)
        .or_else(|| {
            pod.pointer("/spec/containers/0/name")
                .and_then(Value::as_str)
        })
        .map(String::from)
}

/// Exit code from an exec's final Status (`NonZeroExitCode` carries it in `causes`).
pub fn exit_code(status: &Status) -> Option<i32> {
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    status
        .details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok())
}

impl Cluster {
    /// Pods of a target: one pod, or the pods of a Deployment or selector sorted by name.
    pub async fn target_pods(&self, ns: &str, target: &str) -> Result<Vec<Value>> {
        let selector = match Target::parse(target)? {
            Target::Pod(name) => {
                return Ok(self
                    .get("pods", &name, Some(ns))
                    .await?
                    .into_iter()
                    .collect())
            }
            Target::Selector(s) => s,
            Target::Service(name) => {
                let svc = self
                    .get("services", &name, Some(ns))
                    .await?
                    .ok_or_else(|| K8sError::NotFound {
                        cluster: self.name().to_string(),
                        object: format!("Service {ns}/{name}"),
                    })?;
                match svc.pointer("/spec/selector").and_then(Value::as_object) {
                    Some(l) if !l.is_empty() => from_match_labels(l),
                    _ => {
                        return Err(K8sError::Invalid(format!(
                            "Service {ns}/{name} has no selector, so no pods are behind it"
                        )))
                    }
                }
            }
            Target::Deployment(d) => {
                let deploy = self
                    .get("deployments.apps", &d, Some(ns))
                    .await?
                    .ok_or_else(|| K8sError::NotFound {
                        cluster: self.name().to_string(),
                        object: format!("Deployment {ns}/{d}"),
                    })?;
                let labels = deploy
                    .pointer("/spec/selector/matchLabels")
                    .and_then(Value::as_object);
                match labels {
                    Some(l) if !l.is_empty() => from_match_labels(l),
                    _ => {
                        return Err(K8sError::Invalid(format!(
                            "Deployment {ns}/{d} has no matchLabels selector"
                        )))
                    }
                }
            }
        };
        let mut pods = self.list("pods", Some(ns), Some(&selector)).await?;
        pods.sort_by(|a, b| {
            a["metadata"]["name"]
                .as_str()
                .cmp(&b["metadata"]["name"].as_str())
        });
        Ok(pods)
    }

    /// The first ready pod of a target.
    pub async fn ready_pod(&self, ns: &str, target: &str) -> Result<Value> {
        self.target_pods(ns, target)
            .await?
            .into_iter()
            .find(pod_ready)
            .ok_or_else(|| K8sError::NoPod {
                cluster: self.name().to_string(),
                namespace: ns.to_string(),
                target: target.to_string(),
            })
    }

    /// Runs a command in the first ready pod of a target (no shell, no stdin, no tty).
    pub async fn exec(&self, ns: &str, target: &str, argv: &[String]) -> Result<ExecOutput> {
        if argv.is_empty() {
            return Err(K8sError::Invalid("exec needs a command".into()));
        }
        let pod = self.ready_pod(ns, target).await?;
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let fail = |cause: String| K8sError::Stream {
            cluster: self.name().to_string(),
            action: "exec".into(),
            namespace: ns.to_string(),
            pod: pod_name.clone(),
            cause,
        };
        let api: Api<Pod> = Api::namespaced(self.stream_client().clone(), ns);
        let mut params = AttachParams::default()
            .stdin(false)
            .stdout(true)
            .stderr(true);
        params.container = default_container(&pod);
        let mut proc = api
            .exec(&pod_name, argv.to_vec(), &params)
            .await
            .map_err(|e| fail(super::error::api_message(&e)))?;
        let status = proc.take_status();
        let mut out = proc.stdout();
        let mut err = proc.stderr();
        let read_out = async {
            let mut buf = Vec::new();
            if let Some(r) = out.as_mut() {
                r.read_to_end(&mut buf).await.ok();
            }
            buf
        };
        let read_err = async {
            let mut buf = Vec::new();
            if let Some(r) = err.as_mut() {
                r.read_to_end(&mut buf).await.ok();
            }
            buf
        };
        let (stdout, stderr) = tokio::join!(read_out, read_err);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join().await.map_err(|e| fail(e.to_string()))?;
        let code = match &status {
            None => 0,
            Some(s) => exit_code(s)
                .ok_or_else(|| fail(s.message.clone().unwrap_or_else(|| "exec failed".into())))?,
        };
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            code,
        })
    }

    /// Logs of a target. A selector or Deployment gives every pod's log, each line prefixed
    /// with `[pod/NAME/CONTAINER] `; a pod name gives its log as is.
    pub async fn logs(&self, ns: &str, target: &str, opts: &LogOptions) -> Result<String> {
        let single = matches!(Target::parse(target)?, Target::Pod(_));
        let pods = self.target_pods(ns, target).await?;
        if pods.is_empty() {
            return Err(K8sError::NoPod {
                cluster: self.name().to_string(),
                namespace: ns.to_string(),
                target: target.to_string(),
            });
        }
        let logs =
            futures::future::try_join_all(pods.iter().map(|pod| self.pod_log(ns, pod, opts)))
                .await?;
        let mut out = String::new();
        for (pod, text) in pods.iter().zip(logs) {
            if single {
                out.push_str(&text);
                continue;
            }
            let prefix = format!(
                "[pod/{}/{}] ",
                pod["metadata"]["name"].as_str().unwrap_or_default(),
                opts.container
                    .clone()
                    .or_else(|| default_container(pod))
                    .unwrap_or_default()
            );
            for line in text.lines() {
                out.push_str(&prefix);
                out.push_str(line);
                out.push('\n');
            }
        }
        Ok(out)
    }

    async fn pod_log(&self, ns: &str, pod: &Value, opts: &LogOptions) -> Result<String> {
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let api: Api<Pod> = Api::namespaced(self.client().clone(), ns);
        let params = LogParams {
            container: opts.container.clone().or_else(|| default_container(pod)),
            tail_lines: opts.tail,
            since_seconds: opts.since.map(|d| d.as_secs().max(1) as i64),
            follow: opts.follow_for.is_some(),
            ..LogParams::default()
        };
        let fail = |e: kube::Error| self.api_error("logs of", format!("Pod {ns}/{name}"), e);
        let Some(duration) = opts.follow_for else {
            return retrying(|| api.logs(&name, &params)).await.map_err(fail);
        };
        let stream = api.log_stream(&name, &params).await.map_err(fail)?;
        let mut lines = std::pin::pin!(stream.lines());
        let mut out = String::new();
        let deadline = tokio::time::sleep(duration);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                line = lines.try_next() => match line {
                    Ok(Some(l)) => { out.push_str(&l); out.push('\n'); }
                    Ok(None) => break,
                    Err(e) => return Err(K8sError::Stream {
                        cluster: self.name().to_string(),
                        action: "logs".into(),
                        namespace: ns.to_string(),
                        pod: name.clone(),
                        cause: e.to_string(),
                    }),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_parse_like_kubectl() {
        assert_eq!(
            Target::parse("web-7c9").unwrap(),
            Target::Pod("web-7c9".into())
        );
        assert_eq!(Target::parse("pod/web").unwrap(), Target::Pod("web".into()));
        assert_eq!(
            Target::parse("deploy/web").unwrap(),
            Target::Deployment("web".into())
        );
        assert_eq!(
            Target::parse("app=web").unwrap(),
            Target::Selector("app=web".into())
        );
        assert_eq!(
            Target::parse("app.kubernetes.io/name=web").unwrap(),
            Target::Selector("app.kubernetes.io/name=web".into())
        );
        assert_eq!(
            Target::parse("svc/web").unwrap(),
            Target::Service("web".into())
        );
        assert!(Target::parse("cm/web").is_err());
        assert!(Target::parse("").is_err());
    }

    #[test]
    fn default_container_follows_the_annotation() {
        let p = json!({"metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "app"}},
                       "spec": {"containers": [{"name": "istio-proxy"}, {"name": "app"}]}});
        assert_eq!(default_container(&p).as_deref(), Some("app"));
        let p = json!({"spec": {"containers": [{"name": "first"}]}});
        assert_eq!(default_container(&p).as_deref(), Some("first"));
    }

    #[test]
    fn exit_codes_come_from_the_status() {
        let s: Status = serde_json::from_value(json!({"status": "Success"})).unwrap();
        assert_eq!(exit_code(&s), Some(0));
        let s: Status =
            serde_json::from_value(json!({"status": "Failure", "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}))
            .unwrap();
        assert_eq!(exit_code(&s), Some(3));
        let s: Status =
            serde_json::from_value(json!({"status": "Failure", "message": "boom"})).unwrap();
        assert_eq!(exit_code(&s), None);
    }
}

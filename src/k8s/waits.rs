//! Waits: watch an object until a condition holds, with a deadline, and on timeout say what
//! was last seen (conditions, replica counts, recent Events).

use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher::watch_object;
use kube::runtime::WatchStreamExt;
use serde_json::Value;

use super::clusters::{object_ref, Cluster};
use super::discovery::ResourceType;
use super::error::{K8sError, Result};
use super::events::render_events;
use super::rollout::{
    condition_true, conditions_lines, deployment_status, replica_counts, RolloutStatus,
};

/// Default timeout of every wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Simulated controllers react in milliseconds: a wait that takes longer than this on a
/// simulated cluster will never end (a missing rule), so a rehearsal fails fast instead of
/// sitting out a real cluster's timeout.
pub const SIMULATED_WAIT_CAP: Duration = Duration::from_secs(20);

/// The timeout of a wait: as given (or the 5-minute default), capped on simulated clusters.
pub fn wait_timeout(simulated: bool, given: Option<Duration>) -> Option<Duration> {
    if simulated {
        Some(given.unwrap_or(DEFAULT_TIMEOUT).min(SIMULATED_WAIT_CAP))
    } else {
        given
    }
}

/// What a check says about the object seen (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The wait is over.
    Done,
    /// Keep waiting.
    Pending,
    /// It will never happen (e.g. progress deadline exceeded).
    Fail(String),
}

impl From<bool> for Check {
    fn from(done: bool) -> Check {
        if done {
            Check::Done
        } else {
            Check::Pending
        }
    }
}

/// How a wait ended (a timeout is an error).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The check passed; the object as last seen (`None` when the wait was for absence).
    Done(Option<Value>),
    /// The check failed for good.
    Failed(String, Option<Value>),
}

impl Cluster {
    /// Watches one object until `check` is done or fails, or `timeout` passes. On timeout the
    /// error carries the last object's conditions and replica counts and its recent Events.
    pub(crate) async fn watch_until(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(Option<&Value>) -> Check,
    ) -> Result<Outcome> {
        let ns = ns.filter(|_| t.namespaced);
        let api = self.api(t, ns);
        let mut last: Option<Value> = None;
        let mut last_error: Option<String> = None;
        let mut stream = pin!(watch_object(api, name).default_backoff());
        let deadline = tokio::time::sleep(timeout);
        let mut deadline = pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                item = stream.next() => match item {
                    Some(Ok(obj)) => {
                        last = obj.map(|o| serde_json::to_value(o).unwrap_or_default());
                        match check(last.as_ref()) {
                            Check::Done => return Ok(Outcome::Done(last)),
                            Check::Fail(reason) => return Ok(Outcome::Failed(reason, last)),
                            Check::Pending => {}
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!("watch of {name} on {}: {e}", self.name());
                        last_error = Some(e.to_string());
                    }
                    None => break,
                },
            }
        }
        let mut seen = self.last_seen(t, ns, name, last.as_ref()).await;
        if let Some(e) = last_error {
            seen.push_str(&format!("\n  last watch error: {e}"));
        }
        Err(K8sError::Timeout {
            cluster: self.name().to_string(),
            what: what.to_string(),
            waited: timeout,
            last_seen: seen,
        })
    }

    /// `last seen: ...` lines: state of the object and its recent Events.
    async fn last_seen(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        obj: Option<&Value>,
    ) -> String {
        let mut out = String::new();
        match obj {
            None => out.push_str(&format!(
                "  last seen: {} does not exist",
                object_ref(&t.kind, ns, name)
            )),
            Some(o) => {
                out.push_str(&format!("  last seen: {}", object_ref(&t.kind, ns, name)));
                if let Some(c) = replica_counts(o) {
                    out.push_str(&format!("\n  replicas: {c}"));
                }
                let conds = conditions_lines(o);
                if conds.is_empty() {
                    out.push_str("\n  conditions: none");
                } else {
                    out.push_str("\n  conditions:");
                    for c in conds {
                        out.push_str(&format!("\n    {c}"));
                    }
                }
                if let Some(RolloutStatus::Pending(m)) =
                    (t.kind == "Deployment").then(|| deployment_status(o))
                {
                    out.push_str(&format!("\n  rollout: {m}"));
                }
            }
        }
        let workload = matches!(
            t.kind.as_str(),
            "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet" | "Job"
        );
        let events = match ns {
            Some(ns) if workload => self.workload_events(ns, name, 10).await.unwrap_or_default(),
            Some(ns) => self
                .recent_events(ns, Some(name), 10)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if events.is_empty() {
            out.push_str("\n  events: none");
        } else {
            out.push_str("\n  events:");
            out.push_str(&render_events(&events, "    "));
        }
        out
    }

    /// Waits until a Deployment is rolled out by kubectl's rules; returns kubectl's message.
    pub async fn wait_rollout(
        &self,
        ns: &str,
        deploy: &str,
        timeout: Option<Duration>,
    ) -> Result<String> {
        let t = self.resolve("deployments.apps").await?;
        let what = format!("rollout of Deployment {ns}/{deploy}");
        let outcome = self
            .watch_until(
                &t,
                Some(ns),
                deploy,
                timeout.unwrap_or(DEFAULT_TIMEOUT),
                &what,
                |o| match o {
                    None => Check::Pending,
                    Some(o) => match deployment_status(o) {
                        RolloutStatus::Done(_) => Check::Done,
                        RolloutStatus::Pending(_) => Check::Pending,
                        RolloutStatus::Failed(m) => Check::Fail(m),
                    },
                },
            )
            .await;
        let outcome = match outcome {
            Err(K8sError::Timeout {
                cluster,
                what,
                waited,
                last_seen,
            }) => {
                // name the failing pod and its reason first, as `kubectl describe` would show it
                let deployment = self.get("deployments.apps", deploy, Some(ns)).await;
                let failing = match deployment {
                    Ok(Some(d)) => self.failing_pod(ns, &d).await,
                    _ => None,
                };
                let last_seen = match failing {
                    Some(f) => format!("  {f}\n{last_seen}"),
                    None => last_seen,
                };
                return Err(K8sError::Timeout {
                    cluster,
                    what,
                    waited,
                    last_seen,
                });
            }
            other => other?,
        };
        match outcome {
            Outcome::Done(o) => Ok(o
                .map(|o| match deployment_status(&o) {
                    RolloutStatus::Done(m)
                    | RolloutStatus::Pending(m)
                    | RolloutStatus::Failed(m) => m,
                })
                .unwrap_or_default()),
            Outcome::Failed(reason, _) => Err(K8sError::RolloutFailed {
                cluster: self.name().to_string(),
                namespace: ns.to_string(),
                name: deploy.to_string(),
                reason,
            }),
        }
    }

    /// Waits for every Deployment of a namespace concurrently (one deadline for all); returns
    /// their names.
    pub async fn wait_rollouts(&self, ns: &str, timeout: Option<Duration>) -> Result<Vec<String>> {
        let names: Vec<String> = self
            .list("deployments.apps", Some(ns), None)
            .await?
            .iter()
            .filter_map(|d| {
                d.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        let waits = names.iter().map(|n| self.wait_rollout(ns, n, timeout));
        futures::future::try_join_all(waits).await?;
        Ok(names)
    }

    /// Waits until `status.conditions[type]` is `True` on any kind; returns the object.
    pub async fn wait_condition(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        condition: &str,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let t = self.resolve(kind).await?;
        let what = format!(
            "{} to be {condition}",
            object_ref(&t.kind, ns.filter(|_| t.namespaced), name)
        );
        self.wait_done(&t, ns, name, timeout, &what, |o| {
            o.is_some_and(|o| condition_true(o, condition)).into()
        })
        .await
    }

    /// Waits until `predicate` holds on the object (absent objects never match); returns it.
    pub async fn wait_for(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        predicate: impl Fn(&Value) -> bool,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let t = self.resolve(kind).await?;
        let what = format!(
            "{} to match the condition",
            object_ref(&t.kind, ns.filter(|_| t.namespaced), name)
        );
        self.wait_done(&t, ns, name, timeout, &what, |o| {
            o.is_some_and(&predicate).into()
        })
        .await
    }

    /// Waits until an object is gone.
    pub async fn wait_deleted(
        &self,
        kind: &str,
        name: &str,
        ns: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let t = self.resolve(kind).await?;
        let what = format!(
            "{} to be deleted",
            object_ref(&t.kind, ns.filter(|_| t.namespaced), name)
        );
        self.watch_until(
            &t,
            ns,
            name,
            timeout.unwrap_or(DEFAULT_TIMEOUT),
            &what,
            |o| o.is_none().into(),
        )
        .await?;
        Ok(())
    }

    /// Waits for `status.loadBalancer.ingress[0]` of a Service; returns its hostname or IP.
    pub async fn lb_address(
        &self,
        ns: &str,
        svc: &str,
        timeout: Option<Duration>,
    ) -> Result<String> {
        let t = self.resolve("services").await?;
        let what = format!("a load-balancer address for Service {ns}/{svc}");
        let obj = self
            .wait_done(&t, Some(ns), svc, timeout, &what, |o| {
                o.and_then(lb_ingress).is_some().into()
            })
            .await?;
        Ok(lb_ingress(&obj).unwrap_or_default())
    }

    async fn wait_done(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        timeout: Option<Duration>,
        what: &str,
        check: impl Fn(Option<&Value>) -> Check,
    ) -> Result<Value> {
        match self
            .watch_until(t, ns, name, timeout.unwrap_or(DEFAULT_TIMEOUT), what, check)
            .await?
        {
            Outcome::Done(o) => Ok(o.unwrap_or_default()),
            Outcome::Failed(reason, _) => Err(K8sError::Invalid(reason)),
        }
    }
}

/// `status.loadBalancer.ingress[0]` hostname, else ip.
pub fn lb_ingress(svc: &Value) -> Option<String> {
    let first = svc.pointer("/status/loadBalancer/ingress/0")?;
    first["hostname"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| first["ip"].as_str().filter(|s| !s.is_empty()))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_on_simulated_clusters_are_capped_and_real_ones_are_not() {
        use super::{wait_timeout, DEFAULT_TIMEOUT, SIMULATED_WAIT_CAP};
        use std::time::Duration;
        assert_eq!(wait_timeout(true, None), Some(SIMULATED_WAIT_CAP));
        assert_eq!(
            wait_timeout(true, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            wait_timeout(true, Some(Duration::from_secs(600))),
            Some(SIMULATED_WAIT_CAP)
        );
        assert_eq!(wait_timeout(false, None), None);
        assert_eq!(
            wait_timeout(false, Some(DEFAULT_TIMEOUT * 2)),
            Some(DEFAULT_TIMEOUT * 2)
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn lb_address_prefers_hostname_then_ip() {
        let s = json!({"status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.10"}]}}});
        assert_eq!(lb_ingress(&s).as_deref(), Some("172.18.0.10"));
        let s = json!({"status": {"loadBalancer": {"ingress": [{"hostname": "a.elb", "ip": "1.2.3.4"}]}}});
        assert_eq!(lb_ingress(&s).as_deref(), Some("a.elb"));
        assert_eq!(lb_ingress(&json!({"status": {"loadBalancer": {}}})), None);
    }
}

//! The tool executor: where a tool call goes (a real process, kubectl against the simulator's
//! own server, or a simulated effect), and what a simulated effect does to the run's clusters.
//! Real or simulated target in, effects and events out: the bindings only convert arguments
//! and emit what comes back.

use crate::fleet::{Fleet, Member};
use crate::k8s::{ApplyOptions, K8sError};
use crate::problem::Problem;
use crate::report::{self, Event};
use crate::tools::{self, Invocation, ObjectKey, SimulatedEffect, ToolError};

/// Where a tool call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A real process (any program that is not a cluster CLI, or any call on a real cluster).
    Process,
    /// kubectl on a simulated cluster served by this process: a real kubectl, pointed at the
    /// simulator's server (a `sim serve` context needs nothing: kubectl reads its kubeconfig).
    KubectlOnSimulator { server: String },
    /// A cluster CLI on a simulated cluster: matched against `stdlib/sim/tools`.
    Simulated,
}

/// Decides where a call of `program` goes, on the cluster `member` (or none) of a run that is
/// simulated or not. Only the cluster CLIs (helm, istioctl, meshctl, vcluster, kubectl) are
/// ever simulated: any other program (`run("echo", ...)`, jq, openssl) runs for real.
pub fn route(
    program: &str,
    member: Option<&Member>,
    run_simulated: bool,
) -> Result<Route, Problem> {
    let tool = tools::tool_name(program);
    let on_simulated = member.map_or(run_simulated, |m| m.simulated);
    if tool == "kubectl" {
        return match member {
            None if run_simulated => Err(Problem::new(
                "`run(\"kubectl\", ...)` names no cluster, so kubectl would use your kubeconfig's current context, which is not part of this simulated run",
            )
            .with_help("call it on a cluster handle: `cluster(\"cluster1\").kubectl([...])`")),
            // kubectl speaks the same protocol as meshbook: on a simulated cluster it runs for
            // real against the simulator's server.
            Some(m) if m.simulated && m.cluster.context().is_none() => {
                Ok(Route::KubectlOnSimulator {
                    server: m.cluster.server().to_string(),
                })
            }
            _ => Ok(Route::Process),
        };
    }
    if tools::is_cluster_cli(tool) && on_simulated {
        Ok(Route::Simulated)
    } else {
        Ok(Route::Process)
    }
}

/// The invocation of kubectl against a simulated cluster of this process: `--server` first,
/// no kubeconfig, and one discovery cache for every run (kubectl keys it by host:port).
pub fn kubectl_on_simulator(inv: &Invocation, server: &str, label: String) -> Invocation {
    let mut argv = vec![format!("--server={server}")];
    argv.extend(inv.argv.iter().cloned());
    let cache = std::env::temp_dir().join("meshbook-kubectl-cache");
    let mut out = Invocation::new(&inv.program, Vec::<String>::new())
        .redactor(inv.secrets.clone())
        .with_argv(&inv.program, argv)
        .timeout(inv.timeout)
        .label(label);
    for (k, v) in &inv.env {
        out = out.env(k.clone(), v.clone());
    }
    out = out
        .env("KUBECONFIG", "/dev/null")
        .env("KUBECACHEDIR", cache.to_string_lossy());
    if let Some(stdin) = &inv.stdin {
        out = out.stdin(stdin.clone());
    }
    out
}

/// Why a simulated effect could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RealizeError {
    #[error("{label}: the simulated effect targets unknown cluster `{cluster}`")]
    UnknownCluster { label: String, cluster: String },
    #[error(transparent)]
    K8s(#[from] K8sError),
    #[error(transparent)]
    Tool(#[from] ToolError),
}

impl From<crate::k8s::ApplyOutcome> for report::ApplyOutcome {
    fn from(o: crate::k8s::ApplyOutcome) -> Self {
        match o {
            crate::k8s::ApplyOutcome::Created => report::ApplyOutcome::Created,
            crate::k8s::ApplyOutcome::Configured => report::ApplyOutcome::Configured,
            crate::k8s::ApplyOutcome::Unchanged => report::ApplyOutcome::Unchanged,
        }
    }
}

/// The event of one applied object.
pub fn applied_event(cluster: &str, a: &crate::k8s::Applied, dry_run: bool) -> Event {
    Event::Applied {
        cluster: cluster.to_string(),
        kind: a.kind.clone(),
        namespace: a.namespace.clone(),
        name: a.name.clone(),
        outcome: a.outcome.into(),
        dry_run,
    }
}

/// Carries out a simulated effect on the run's clusters: new clusters, applies, deletes (with
/// what the release being uninstalled or upgraded had applied), the checks the rule asks for,
/// and the tool's output (unless `show_stdout` is false: secret output). Returns the events in
/// the order they happened; on an error, the events so far are lost with it only if nothing
/// was changed yet, so callers emit as they get them.
pub async fn realize(
    fleet: &Fleet,
    effect: &SimulatedEffect,
    label: &str,
    show_stdout: bool,
    emit: &(dyn Fn(Event) + Send + Sync),
) -> Result<(), RealizeError> {
    for c in &effect.new_clusters {
        fleet.add_simulated(&c.name).await?;
    }
    for a in &effect.applies {
        let m = fleet
            .get(&a.cluster)
            .ok_or_else(|| RealizeError::UnknownCluster {
                label: label.to_string(),
                cluster: a.cluster.clone(),
            })?;
        for applied in m.cluster.apply(&a.yaml, &ApplyOptions::default()).await? {
            emit(applied_event(m.name(), &applied, false));
        }
    }
    let mut deletes: Vec<ObjectKey> = effect.deletes.clone();
    {
        let mut book = fleet.releases.lock().unwrap_or_else(|e| e.into_inner());
        deletes.extend(book.take_for(effect));
        book.record(effect);
    }
    for d in deletes {
        let Some(m) = fleet.get(&d.cluster) else {
            continue;
        };
        let kind = match d.api_version.rsplit_once('/') {
            Some((group, _)) => format!("{}.{group}", d.kind),
            None => d.kind.clone(),
        };
        // Objects whose kind is gone (a CRD deleted first) are gone too.
        let existed = match m
            .cluster
            .delete(&kind, &d.name, d.namespace.as_deref(), false)
            .await
        {
            Ok(existed) => existed,
            Err(K8sError::UnknownKind { .. } | K8sError::MisspeltKind { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        emit(Event::Deleted {
            cluster: m.name().to_string(),
            kind: d.kind.clone(),
            namespace: d.namespace.clone(),
            name: d.name.clone(),
            existed,
        });
    }
    for name in &effect.removed_clusters {
        emit(Event::Notice {
            text: format!("simulated cluster `{name}` was deleted by {label}; its handle stays usable until the run ends"),
        });
    }
    tools::run_checks(effect, label, fleet).await?;
    if show_stdout {
        for line in effect.stdout.lines() {
            emit(Event::ToolLine {
                label: format!("{label} (simulated)"),
                line: line.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn only_cluster_clis_on_simulated_clusters_are_simulated() {
        let rt = runtime();
        let fleet = rt
            .block_on(Fleet::simulated(&["cluster1".to_string()]))
            .unwrap();
        let m = fleet.get("cluster1").unwrap();
        assert_eq!(route("helm", Some(&m), true).unwrap(), Route::Simulated);
        assert_eq!(
            route("/usr/bin/istioctl", Some(&m), true).unwrap(),
            Route::Simulated
        );
        assert_eq!(route("meshctl", None, true).unwrap(), Route::Simulated);
        assert_eq!(route("echo", Some(&m), true).unwrap(), Route::Process);
        assert_eq!(route("helm", None, false).unwrap(), Route::Process);
        assert_eq!(
            route("kubectl", Some(&m), true).unwrap(),
            Route::KubectlOnSimulator {
                server: m.cluster.server().to_string()
            }
        );
        let refused = route("kubectl", None, true).unwrap_err();
        assert!(refused.message.contains("names no cluster"), "{refused}");
        assert!(refused.help().unwrap().contains(".kubectl(["));
        assert_eq!(route("kubectl", None, false).unwrap(), Route::Process);
    }

    #[test]
    fn kubectl_on_the_simulator_gets_its_server_and_no_kubeconfig() {
        let inv = Invocation::new("kubectl", ["get", "pods"])
            .stdin("x")
            .timeout(std::time::Duration::from_secs(5));
        let out = kubectl_on_simulator(&inv, "http://127.0.0.1:1", "c1 kubectl".into());
        assert_eq!(out.argv, ["--server=http://127.0.0.1:1", "get", "pods"]);
        assert!(out
            .env
            .iter()
            .any(|(k, v)| k == "KUBECONFIG" && v == "/dev/null"));
        assert_eq!(out.stdin.as_deref(), Some("x"));
        assert_eq!(out.label, "c1 kubectl");
    }

    #[test]
    fn an_effect_applies_records_the_release_and_deletes_what_an_uninstall_removes() {
        let rt = runtime();
        let fleet = rt
            .block_on(Fleet::simulated(&["cluster1".to_string()]))
            .unwrap();
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\ndata:\n  a: b\n";
        let install = SimulatedEffect {
            rule: "test".into(),
            applies: vec![tools::SimApply {
                cluster: "cluster1".into(),
                yaml: yaml.into(),
                keep_on_uninstall: false,
            }],
            stdout: "installed\n".into(),
            install: Some(tools::ReleaseKey {
                cluster: "cluster1".into(),
                namespace: "default".into(),
                release: "r".into(),
            }),
            ..Default::default()
        };
        let events = std::sync::Mutex::new(Vec::new());
        let emit = |e: Event| events.lock().unwrap().push(e);
        rt.block_on(realize(&fleet, &install, "helm", true, &emit))
            .unwrap();
        let got = std::mem::take(&mut *events.lock().unwrap());
        assert!(
            matches!(&got[0], Event::Applied { kind, outcome: report::ApplyOutcome::Created, .. } if kind == "ConfigMap"),
            "{got:?}"
        );
        assert!(
            matches!(&got[1], Event::ToolLine { line, .. } if line == "installed"),
            "{got:?}"
        );
        let uninstall = SimulatedEffect {
            rule: "test".into(),
            uninstall: install.install.clone(),
            ..Default::default()
        };
        rt.block_on(realize(&fleet, &uninstall, "helm", false, &emit))
            .unwrap();
        let got = std::mem::take(&mut *events.lock().unwrap());
        assert!(
            matches!(&got[..], [Event::Deleted { name, existed: true, .. }] if name == "cm"),
            "{got:?}"
        );
        let unknown = SimulatedEffect {
            rule: "test".into(),
            applies: vec![tools::SimApply {
                cluster: "nowhere".into(),
                yaml: yaml.into(),
                keep_on_uninstall: false,
            }],
            ..Default::default()
        };
        let err = rt
            .block_on(realize(&fleet, &unknown, "helm", true, &emit))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown cluster `nowhere`"),
            "{err}"
        );
    }
}

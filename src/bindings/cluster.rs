//! Cluster handles: `cluster(name)`, `clusters()`, `c.name`, `c.context`, `c.simulated`, and
//! the shared plumbing of every cluster binding.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine};

use super::convert::{fail_with_help, RhaiResult};
use super::Def;
use crate::fleet::Member;
use crate::k8s::K8sError;
use crate::session::Session;

/// Turns a core error into a script error (the message already says what to do).
pub fn k8s_err(e: K8sError) -> Box<rhai::EvalAltResult> {
    super::convert::ScriptError {
        message: crate::base::error::Help::message(&e),
        help: crate::base::error::Help::help(&e),
        cause: Some(std::sync::Arc::new(e)),
    }
    .into()
}

/// Runs a core future for a binding, mapping its error.
pub fn block<T>(
    s: &Session,
    fut: impl std::future::Future<Output = Result<T, K8sError>>,
) -> RhaiResult<T> {
    super::convert::interruptible(s, fut)?.map_err(k8s_err)
}

/// The namespace argument: `""` means none (cluster-scoped kinds).
pub fn ns_arg(ns: &str) -> Option<&str> {
    (!ns.is_empty()).then_some(ns)
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    engine.register_type_with_name::<Member>("Cluster");
    engine.register_fn("to_string", |m: &mut Member| {
        format!("cluster({})", m.name())
    });
    engine.register_fn("to_debug", |m: &mut Member| {
        format!("cluster({})", m.name())
    });
    engine.register_fn("==", |a: Member, b: Member| a.name() == b.name());
    engine.register_fn("!=", |a: Member, b: Member| a.name() != b.name());
    let s = session.clone();
    Def::new("clusters", "cluster", &["name: string", "Cluster"])
        .doc("The handle of a logical cluster declared in the runbook header (`cluster(\"cluster1\")`).")
        .example(r#"let c = cluster("cluster1"); c.create_namespace("bookinfo");"#)
        .register(engine, move |name: &str| -> RhaiResult<Member> {
            s.fleet.get(name).ok_or_else(|| {
                if s.runbook.header.created_clusters.iter().any(|c| c == name) {
                    return fail_with_help(
                        format!("cluster `{name}` is created by the runbook (`created: true`) and does not exist yet"),
                        "use the handle that `vcluster_connect(host, name)` or `add_cluster(name, ...)` returns, or call `cluster(name)` after it",
                    );
                }
                let names = s.fleet.names();
                fail_with_help(
                    format!("no cluster `{name}` in this run"),
                    if names.is_empty() {
                        "name the cluster literally, `cluster(\"cluster1\")` (a runbook without a header runs on the clusters it names so), or declare the clusters in a header: `//! clusters:` then `//!   cluster1: CLUSTER1`".to_string()
                    } else {
                        let near = crate::suggest::closest(name, names.iter().map(String::as_str));
                        format!(
                            "{}the run's clusters are {}; a cluster is part of a run when the header declares it (or, without a header, when the script names it literally: `cluster(\"{name}\")`)",
                            near.first().map(|n| format!("did you mean `{n}`? ")).unwrap_or_default(),
                            names.join(", ")
                        )
                    },
                )
            })
        });
    let s = session.clone();
    Def::new("clusters", "clusters", &["array"])
        .doc("Every cluster of the run, in header order.")
        .example(r#"for c in clusters() { c.wait_rollouts("istio-system"); }"#)
        .register(engine, move || -> Array {
            s.fleet.members().into_iter().map(Dynamic::from).collect()
        });
    Def::new("clusters", "get$name", &["cluster: Cluster", "string"])
        .doc("The logical name of a cluster (`cluster1`).")
        .example(r#"for c in clusters() { say(c.name); }"#)
        .register(engine, |m: &mut Member| m.name().to_string());
    Def::new("clusters", "get$context", &["cluster: Cluster", "?"])
        .doc("The kube context of a cluster, or `()` for an in-process simulated cluster.")
        .example(r#"let c = cluster("cluster1"); say(if c.simulated { "simulated" } else { c.context });"#)
        .register(engine, |m: &mut Member| -> Dynamic {
            m.cluster
                .context()
                .map(|c| Dynamic::from(c.to_string()))
                .unwrap_or(Dynamic::UNIT)
        });
    Def::new("clusters", "get$simulated", &["cluster: Cluster", "bool"])
        .doc("Whether the cluster is simulated (no data plane; tools are simulated, traffic checks skipped).")
        .example(r#"let c = cluster("cluster1"); if !c.simulated { c.wait_rollouts("bookinfo"); }"#)
        .register(engine, |m: &mut Member| m.simulated);
    Def::new("clusters", "get$server", &["cluster: Cluster", "string"])
        .doc("The API server URL of a cluster.")
        .example(r#"let c = cluster("cluster1"); say(c.server);"#)
        .register(engine, |m: &mut Member| m.cluster.server().to_string());
}

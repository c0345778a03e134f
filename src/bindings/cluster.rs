//! Cluster handles: `cluster(name)`, `clusters()`, `c.name`, `c.context`, `c.simulated`, and
//! the shared plumbing of every cluster binding.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine};

use super::convert::{fail_with_help, RhaiResult};
use super::define;
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
    define(
        engine,
        "clusters",
        "cluster",
        &["name: string", "Cluster"],
        "The handle of a logical cluster declared in the runbook header (`cluster(\"cluster1\")`).",
        move |name: &str| -> RhaiResult<Member> {
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
        },
    );
    let s = session.clone();
    define(
        engine,
        "clusters",
        "clusters",
        &["array"],
        "Every cluster of the run, in header order.",
        move || -> Array { s.fleet.members().into_iter().map(Dynamic::from).collect() },
    );
    define(
        engine,
        "clusters",
        "get$name",
        &["cluster: Cluster", "string"],
        "The logical name of a cluster (`cluster1`).",
        |m: &mut Member| m.name().to_string(),
    );
    define(
        engine,
        "clusters",
        "get$context",
        &["cluster: Cluster", "?"],
        "The kube context of a cluster, or `()` for an in-process simulated cluster.",
        |m: &mut Member| -> Dynamic {
            m.cluster
                .context()
                .map(|c| Dynamic::from(c.to_string()))
                .unwrap_or(Dynamic::UNIT)
        },
    );
    define(
        engine,
        "clusters",
        "get$simulated",
        &["cluster: Cluster", "bool"],
        "Whether the cluster is simulated (no data plane; tools are simulated, traffic checks skipped).",
        |m: &mut Member| m.simulated,
    );
    define(
        engine,
        "clusters",
        "get$server",
        &["cluster: Cluster", "string"],
        "The API server URL of a cluster.",
        |m: &mut Member| m.cluster.server().to_string(),
    );
}

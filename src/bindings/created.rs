//! Clusters as results: `add_cluster(name, kubeconfig_text | #{context})` and
//! `vcluster_connect(host, name[, opts])` add a cluster the runbook created to the run. On
//! simulated clusters they start a new simulated cluster. Only clusters the run was given or
//! created are ever contacted: a context is used only when the runbook names it here.

use std::sync::Arc;

use rhai::{Dynamic, Engine, Map};

use super::cluster::k8s_err;
use super::convert::{fail, fail_with_help, RhaiResult};
use super::{optional_last, Def};
use crate::fleet::Member;
use crate::report::Event;
use crate::session::Session;

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    Def::new("clusters", "add_cluster", &["name: string", "source: string|map", "Cluster"])
        .doc("Adds a cluster the runbook created (kind, k3d, a cloud CLI) and returns its handle: `source` is kubeconfig text (kept in memory, never written) or `#{context: \"...\"}` (a context of KUBECONFIG). On simulated clusters it starts a new simulated cluster.")
        .example(r#"let kind = add_cluster("kind-demo", #{context: "kind-demo"});"#)
        .register(engine, move |name: &str, source: Dynamic| -> RhaiResult<Member> { add_cluster(&s, name, source) });
    let s = session.clone();
    Def::new("clusters", "vcluster_connect", &["host: Cluster", "name: string", "Cluster"])
        .doc("Connects to the vCluster `name` created in `host` (namespace `name`) and returns its handle: the kubeconfig comes from `vcluster connect --print` and stays in memory. On a simulated host, a simulated cluster.")
        .example(r#"let vc = vcluster_connect(cluster("cluster1"), "team-a"); vc.create_namespace("bookinfo");"#)
        .optional("options: map",
            "Same as `vcluster_connect(host, name)`; `namespace` names the host namespace (default: `name`).",
            r#"let vc = vcluster_connect(cluster("cluster1"), "team-a", #{namespace: "vcluster-team-a"});"#)
        .register(engine, optional_last!(move |host: Member, name: &str; opts: Map| -> RhaiResult<Member> {
            vcluster_connect(&s, &host, name, &opts.unwrap_or_default())
        }));
}

fn check_name(name: &str) -> RhaiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(fail(format!(
            "`{name}` is not a valid cluster name: lowercase letters, digits and '-'"
        )))
    }
}

fn announce(s: &Session, m: &Member) {
    s.emit(Event::ClusterReady {
        cluster: m.name().to_string(),
        context: m.cluster.context().map(String::from),
        server: m.cluster.server().to_string(),
        version: m.cluster.version().unwrap_or("v1.32 simulated").to_string(),
    });
}

fn simulated(s: &Session, name: &str) -> RhaiResult<Member> {
    let m = s.block_on(s.fleet.add_simulated(name)).map_err(k8s_err)?;
    announce(s, &m);
    Ok(m)
}

fn add_cluster(s: &Session, name: &str, source: Dynamic) -> RhaiResult<Member> {
    check_name(name)?;
    if let Some(m) = s.fleet.get(name) {
        return Ok(m);
    }
    if s.simulated {
        return simulated(s, name);
    }
    let (kubeconfig, context) = if let Some(map) = source.read_lock::<Map>() {
        let Some(ctx) = map.get("context").map(|c| c.to_string()) else {
            return Err(fail_with_help(
                format!("add_cluster(\"{name}\", #{{...}}): the map names no `context`"),
                "pass #{context: \"kind-demo\"} or the kubeconfig text",
            ));
        };
        let var = std::env::var_os("KUBECONFIG");
        let kc = crate::k8s::load_kubeconfig(var.as_deref()).map_err(k8s_err)?;
        (kc, ctx)
    } else if source.is_string() {
        let text = source.to_string();
        // Its credentials are secrets from here on, in every output.
        if let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
            for u in v["users"].as_sequence().into_iter().flatten() {
                for key in ["token", "client-key-data", "password"] {
                    if let Some(secret) = u["user"][key].as_str() {
                        let _ = s.add_secret(secret);
                    }
                }
            }
        }
        let kc = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| {
            fail_with_help(
                format!("add_cluster(\"{name}\", ...): the kubeconfig text cannot be read: {e}"),
                "pass the output of the tool's `--print`/`get kubeconfig` command",
            )
        })?;
        let Some(ctx) = kc
            .current_context
            .clone()
            .or_else(|| (kc.contexts.len() == 1).then(|| kc.contexts[0].name.clone()))
        else {
            return Err(fail(format!(
                "add_cluster(\"{name}\", ...): the kubeconfig has no current-context and several contexts"
            )));
        };
        (kc, ctx)
    } else {
        return Err(fail(format!(
            "add_cluster(\"{name}\", ...): the source must be kubeconfig text or #{{context: \"...\"}}"
        )));
    };
    let simulated = crate::sim::kubeconfig_context_is_simulated(&kubeconfig, &context).is_some();
    let cluster = s
        .block_on(crate::k8s::connect(name, &context, &kubeconfig))
        .map_err(k8s_err)?;
    let m = s.fleet.add_member(Member { cluster, simulated });
    announce(s, &m);
    Ok(m)
}

fn vcluster_connect(s: &Session, host: &Member, name: &str, opts: &Map) -> RhaiResult<Member> {
    check_name(name)?;
    if let Some(m) = s.fleet.get(name) {
        return Ok(m);
    }
    if host.simulated {
        return simulated(s, name);
    }
    let namespace = opts
        .get("namespace")
        .map(|v| v.to_string())
        .unwrap_or_else(|| name.to_string());
    let Some(host_ctx) = host.cluster.context() else {
        return Err(fail(format!(
            "vcluster_connect: the host `{}` has no kube context",
            host.name()
        )));
    };
    let out = std::process::Command::new("vcluster")
        .args([
            "connect",
            name,
            "--namespace",
            &namespace,
            "--print",
            "--context",
            host_ctx,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            fail_with_help(
                format!("vcluster_connect: cannot run `vcluster`: {e}"),
                "install the vcluster CLI (https://www.vcluster.com/docs/get-started)",
            )
        })?;
    if !out.status.success() {
        return Err(fail(format!(
            "vcluster connect {name} --namespace {namespace} --print failed: {}",
            s.redact(String::from_utf8_lossy(&out.stderr).trim())
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    add_cluster(s, name, Dynamic::from(text))
}

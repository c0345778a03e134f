//! Pods: exec, logs and port-forward, by pod name, `deploy/NAME` or label selector.

use std::sync::Arc;
use std::time::Instant;

use rhai::{Array, Dynamic, Engine, Map};

use super::cluster::block;
use super::convert::{fail, Opts, RhaiResult};
use super::{optional_last, Def};
use crate::fleet::Member;
use crate::k8s::LogOptions;
use crate::report::Event;
use crate::session::Session;

/// Runs a command in a pod and returns `#{stdout, stderr, code}`.
pub fn exec_map(
    s: &Session,
    m: &Member,
    ns: &str,
    target: &str,
    argv: &[String],
) -> RhaiResult<Map> {
    let start = Instant::now();
    let out = block(s, m.cluster.exec(ns, target, argv))?;
    s.touch_namespace(m.name(), ns);
    s.emit(Event::Operation {
        cluster: m.name().to_string(),
        verb: "exec".into(),
        target: format!("{target} -n {ns}: {} -> exit {}", argv.join(" "), out.code),
        duration_ms: start.elapsed().as_millis() as u64,
    });
    let mut map = Map::new();
    map.insert("stdout".into(), out.stdout.into());
    map.insert("stderr".into(), out.stderr.into());
    map.insert("code".into(), Dynamic::from(i64::from(out.code)));
    Ok(map)
}

pub fn argv_of(argv: &Array, what: &str) -> RhaiResult<Vec<String>> {
    if argv.is_empty() {
        return Err(fail(format!("{what}: the command is empty")));
    }
    Ok(argv.iter().map(|a| a.to_string()).collect())
}

fn logs(s: &Session, m: &Member, ns: &str, target: &str, opts: Option<&Map>) -> RhaiResult<String> {
    let o = Opts::new(opts, "logs");
    o.only(&["tail", "since", "container", "follow_for"])?;
    let lo = LogOptions {
        tail: o.int("tail")?,
        since: o.duration("since")?,
        container: o.string("container")?,
        follow_for: o.duration("follow_for")?,
    };
    let text = block(s, m.cluster.logs(ns, target, &lo))?;
    s.touch_namespace(m.name(), ns);
    Ok(text)
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    Def::new("pods", "exec", &["cluster: Cluster", "ns: string", "target: string", "argv: array", "map"])
        .doc("Runs a command (argv, no shell) in the first ready pod of a target (pod name, `deploy/NAME` or label selector); returns `#{stdout, stderr, code}`.")
        .example(r#"let out = cluster("cluster1").exec("bookinfo", "deploy/ratings-v1", ["ls", "/"]); say(out.stdout);"#)
        .register(engine, move |m: &mut Member, ns: &str, target: &str, argv: Array| {
            let argv = argv_of(&argv, "exec")?;
            exec_map(&s, m, ns, target, &argv)
        });
    let s = session.clone();
    Def::new("pods", "logs", &["cluster: Cluster", "ns: string", "target: string", "string"])
        .doc("The logs of a pod, or of every pod of a selector with a `[pod/container]` prefix per line.")
        .example(r#"let c = cluster("cluster1"); say(c.logs("istio-system", "app=istiod"));"#)
        .optional("opts: map",
            "Logs with options `tail` (lines), `since` (duration), `container`, `follow_for` (follow for a bounded duration).",
            r#"let c = cluster("cluster1"); let log = c.logs("bookinfo", "deploy/productpage-v1", #{tail: 20, container: "istio-proxy"});"#)
        .register(engine, optional_last!(move |m: &mut Member, ns: &str, target: &str; opts: Map| -> RhaiResult<String> {
            logs(&s, m, ns, target, opts.as_ref())
        }));
    let s = session.clone();
    Def::new("pods", "port_forward", &[
            "cluster: Cluster",
            "ns: string",
            "target: string",
            "port: int",
            "string",
        ])
        .doc("Forwards a local port to a pod's port until the run ends; returns `127.0.0.1:PORT`.")
        .example(r#"let addr = cluster("cluster1").port_forward("istio-system", "deploy/kiali", 20001); open("http://" + addr);"#)
        .register(engine, move |m: &mut Member, ns: &str, target: &str, port: i64| -> RhaiResult<String> {
            let port = u16::try_from(port)
                .map_err(|_| fail(format!("port_forward: {port} is not a port")))?;
            let pf = block(&s, m.cluster.port_forward(ns, target, port))?;
            let addr = s.fleet.keep_port_forward(pf, m.simulated.then(|| m.name()));
            s.emit(Event::Operation {
                cluster: m.name().to_string(),
                verb: "port-forward".into(),
                target: format!("{target} -n {ns} :{port} -> {addr}"),
                duration_ms: 0,
            });
            Ok(addr.to_string())
        });
}

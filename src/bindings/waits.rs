//! Waits, all watch-based with a timeout (default 5 minutes): rollouts, conditions, any
//! predicate, load-balancer addresses. A timeout says what was last seen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, FnPtr, NativeCallContext};

use super::cluster::{block, ns_arg};
use super::convert::{duration, from_json, RhaiResult};
use super::{optional_last, Def};
use crate::fleet::Member;
use crate::report::Event;
use crate::session::Session;

/// The timeout of a wait on `m` (`k8s::wait_timeout`: capped on simulated clusters).
fn effective(m: &Member, t: Option<Duration>) -> Option<Duration> {
    crate::k8s::wait_timeout(m.simulated, t)
}

/// How often a wait says what it waits for and what it last saw: every 10 s
/// (`MESHBOOK_PROGRESS_MS` changes it).
fn progress_every() -> Duration {
    std::env::var("MESHBOOK_PROGRESS_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(10))
}

/// On a dry run nothing was written, so a wait is not waited: it says so (true) and the
/// caller returns what the object is now.
fn dry(s: &Session, m: &Member, what: &str) -> bool {
    s.would(m.name(), &format!("wait for {what} (not waited)"))
}

/// The object as it is now, for a wait not waited on a dry run.
fn current(s: &Session, m: &Member, kind: &str, name: &str, ns: &str) -> RhaiResult<Dynamic> {
    Ok(
        super::resources::read(s, m.cluster.get(kind, name, ns_arg(ns)))?
            .map(|v| from_json(&v))
            .unwrap_or(Dynamic::UNIT),
    )
}

/// The object a wait watches, to say what it last saw.
struct Probe<'a> {
    kind: &'a str,
    name: &'a str,
    ns: &'a str,
}

/// One line on an object's state: replica counts and conditions, or that it is not there.
fn state_of(obj: Option<&serde_json::Value>) -> String {
    let Some(o) = obj else {
        return "it does not exist yet".into();
    };
    let mut parts = Vec::new();
    if let Some(c) = crate::k8s::rollout::replica_counts(o) {
        parts.push(c);
    }
    let conds = crate::k8s::rollout::conditions_lines(o);
    if !conds.is_empty() {
        parts.push(conds.join("; "));
    }
    if let Some(ip) = crate::k8s::lb_ingress(o) {
        parts.push(format!("address {ip}"));
    }
    if parts.is_empty() {
        "it exists, with no status yet".into()
    } else {
        parts.join("; ")
    }
}

/// Runs a wait; every [`progress_every`] it emits a line saying what it waits for, for how
/// long, and what it last saw (so a long wait is never silent, in a pipe as on a terminal).
fn waiting<T>(
    s: &Session,
    m: &Member,
    what: &str,
    probe: Option<Probe<'_>>,
    fut: impl std::future::Future<Output = Result<T, crate::k8s::K8sError>>,
) -> RhaiResult<T> {
    let every = progress_every();
    let reporter = s.reporter.clone();
    let cluster = m.cluster.clone();
    let start = tokio::time::Instant::now();
    let ticker = async {
        // Every second a live line (a terminal shows it on the spinner's line); every
        // `every` a line of its own (a pipe and the reports show it).
        let live = Duration::from_secs(1).min(every);
        let mut tick = tokio::time::interval_at(start + live, live);
        let mut next_line = start + every;
        loop {
            tick.tick().await;
            let seen = match &probe {
                Some(p) => match cluster.get(p.kind, p.name, ns_arg(p.ns)).await {
                    Ok(obj) => format!("; last seen: {}", state_of(obj.as_ref())),
                    Err(_) => String::new(),
                },
                None => String::new(),
            };
            let text = format!(
                "still waiting for {what} on {} ({}){seen}",
                cluster.name(),
                crate::report::terminal::human_ms(start.elapsed().as_millis() as u64)
            );
            if tokio::time::Instant::now() >= next_line {
                next_line += every;
                reporter.emit(Event::Notice { text });
            } else {
                reporter.emit(Event::WaitProgress {
                    cluster: cluster.name().to_string(),
                    text,
                });
            }
        }
    };
    let wait = async {
        tokio::select! {
            r = fut => r,
            _ = ticker => unreachable!("the progress ticker never ends"),
        }
    };
    block(s, wait)
}

fn satisfied(s: &Session, m: &Member, what: String, start: Instant) {
    s.emit(Event::WaitSatisfied {
        cluster: m.name().to_string(),
        what,
        elapsed_ms: start.elapsed().as_millis() as u64,
    });
}

fn rollout(s: &Session, m: &Member, ns: &str, deploy: &str, t: Option<Duration>) -> RhaiResult<()> {
    if dry(s, m, &format!("the rollout of deployment/{deploy} -n {ns}")) {
        return Ok(());
    }
    let start = Instant::now();
    waiting(
        s,
        m,
        &format!("the rollout of deployment/{deploy} -n {ns}"),
        Some(Probe {
            kind: "deployment",
            name: deploy,
            ns,
        }),
        m.cluster.wait_rollout(ns, deploy, effective(m, t)),
    )?;
    s.touch_namespace(m.name(), ns);
    satisfied(
        s,
        m,
        format!("deployment/{deploy} -n {ns} rolled out"),
        start,
    );
    Ok(())
}

fn rollouts(s: &Session, m: &Member, ns: &str, t: Option<Duration>) -> RhaiResult<()> {
    if dry(s, m, &format!("the rollouts of the deployments in {ns}")) {
        return Ok(());
    }
    let start = Instant::now();
    let names = waiting(
        s,
        m,
        &format!("the rollouts of the deployments in {ns}"),
        None,
        m.cluster.wait_rollouts(ns, effective(m, t)),
    )?;
    s.touch_namespace(m.name(), ns);
    satisfied(
        s,
        m,
        format!(
            "{} deployment(s) rolled out in {ns}: {}",
            names.len(),
            names.join(", ")
        ),
        start,
    );
    Ok(())
}

fn condition(
    s: &Session,
    m: &Member,
    kind: &str,
    name: &str,
    ns: &str,
    cond: &str,
    t: Option<Duration>,
) -> RhaiResult<Dynamic> {
    if dry(
        s,
        m,
        &format!("{kind}/{name}{} to be {cond}", ns_suffix(ns)),
    ) {
        return current(s, m, kind, name, ns);
    }
    let start = Instant::now();
    let obj = waiting(
        s,
        m,
        &format!("{kind}/{name}{} to be {cond}", ns_suffix(ns)),
        Some(Probe { kind, name, ns }),
        m.cluster
            .wait_condition(kind, name, ns_arg(ns), cond, effective(m, t)),
    )?;
    s.touch_namespace(m.name(), ns);
    satisfied(
        s,
        m,
        format!("{kind}/{name}{} is {cond}", ns_suffix(ns)),
        start,
    );
    Ok(from_json(&obj))
}

fn ns_suffix(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" -n {ns}")
    }
}

#[allow(clippy::too_many_arguments)]
fn wait_for(
    s: &Session,
    ctx: &NativeCallContext,
    m: &Member,
    kind: &str,
    name: &str,
    ns: &str,
    pred: &FnPtr,
    t: Option<Duration>,
) -> RhaiResult<Dynamic> {
    if dry(
        s,
        m,
        &format!("{kind}/{name}{} to match the condition", ns_suffix(ns)),
    ) {
        let _ = (ctx, pred);
        return current(s, m, kind, name, ns);
    }
    let start = Instant::now();
    let script_error = std::cell::RefCell::new(None);
    let predicate = |obj: &serde_json::Value| -> bool {
        match pred.call_within_context::<Dynamic>(ctx, (from_json(obj),)) {
            Ok(v) => v.as_bool().unwrap_or(false),
            Err(e) => {
                script_error.borrow_mut().get_or_insert(e);
                true
            }
        }
    };
    let result = waiting(
        s,
        m,
        &format!("{kind}/{name}{} to match the condition", ns_suffix(ns)),
        Some(Probe { kind, name, ns }),
        m.cluster
            .wait_for(kind, name, ns_arg(ns), predicate, effective(m, t)),
    );
    if let Some(e) = script_error.into_inner() {
        return Err(e);
    }
    let obj = result?;
    satisfied(
        s,
        m,
        format!("{kind}/{name}{} matched the condition", ns_suffix(ns)),
        start,
    );
    Ok(from_json(&obj))
}

fn lb(s: &Session, m: &Member, ns: &str, svc: &str, t: Option<Duration>) -> RhaiResult<String> {
    if dry(s, m, &format!("an address of service/{svc} -n {ns}")) {
        let now = super::resources::read(s, m.cluster.get("service", svc, Some(ns)))?;
        return Ok(now
            .as_ref()
            .and_then(crate::k8s::lb_ingress)
            .unwrap_or_else(|| "0.0.0.0".into()));
    }
    let start = Instant::now();
    let addr = waiting(
        s,
        m,
        &format!("an address of service/{svc} -n {ns}"),
        Some(Probe {
            kind: "service",
            name: svc,
            ns,
        }),
        m.cluster.lb_address(ns, svc, effective(m, t)),
    )?;
    s.touch_namespace(m.name(), ns);
    satisfied(
        s,
        m,
        format!("service/{svc} -n {ns} has address {addr}"),
        start,
    );
    Ok(addr)
}

fn deleted(
    s: &Session,
    m: &Member,
    kind: &str,
    name: &str,
    ns: &str,
    t: Option<Duration>,
) -> RhaiResult<()> {
    if dry(s, m, &format!("{kind}/{name}{} to be gone", ns_suffix(ns))) {
        return Ok(());
    }
    let start = Instant::now();
    waiting(
        s,
        m,
        &format!("{kind}/{name}{} to be gone", ns_suffix(ns)),
        Some(Probe { kind, name, ns }),
        m.cluster
            .wait_deleted(kind, name, ns_arg(ns), effective(m, t)),
    )?;
    satisfied(
        s,
        m,
        format!("{kind}/{name}{} is gone", ns_suffix(ns)),
        start,
    );
    Ok(())
}

/// The optional `timeout` argument of a wait.
fn timeout(t: Option<Dynamic>) -> RhaiResult<Option<Duration>> {
    t.as_ref().map(duration).transpose()
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    const TIMEOUT: &str = "timeout: string|int";
    let s = session.clone();
    Def::new("waits", "wait_deleted", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "()"])
        .doc("Waits (5 min) until an object is gone (a namespace finishing Terminating, finalizers done).")
        .example(r#"let c = cluster("cluster1"); c.delete("namespace", "bookinfo"); c.wait_deleted("namespace", "bookinfo", "");"#)
        .optional(TIMEOUT, "Waits until an object is gone, up to `timeout`.",
            r#"let c = cluster("cluster1"); c.wait_deleted("deployment", "reviews-v1", "bookinfo", "2m");"#)
        .register(engine, optional_last!(move |m: &mut Member, kind: &str, name: &str, ns: &str; t: Dynamic| -> RhaiResult<()> {
            deleted(&s, m, kind, name, ns, timeout(t)?)
        }));
    let s = session.clone();
    Def::new(
        "waits",
        "wait_rollout",
        &["cluster: Cluster", "ns: string", "deploy: string", "()"],
    )
    .doc("Waits (5 min) until a Deployment is rolled out, by kubectl's rollout-status rules.")
    .example(r#"let c = cluster("cluster1"); c.wait_rollout("bookinfo", "productpage-v1");"#)
    .optional(
        TIMEOUT,
        "Waits until a Deployment is rolled out, up to `timeout` (\"90s\").",
        r#"let c = cluster("cluster1"); c.wait_rollout("istio-system", "istiod", "90s");"#,
    )
    .register(
        engine,
        optional_last!(move |m: &mut Member, ns: &str, deploy: &str; t: Dynamic| -> RhaiResult<()> {
            rollout(&s, m, ns, deploy, timeout(t)?)
        }),
    );
    let s = session.clone();
    Def::new(
        "waits",
        "wait_rollouts",
        &["cluster: Cluster", "ns: string", "()"],
    )
    .doc("Waits (5 min) until every Deployment of a namespace is rolled out.")
    .example(r#"let c = cluster("cluster1"); c.wait_rollouts("bookinfo");"#)
    .optional(
        TIMEOUT,
        "Waits until every Deployment of a namespace is rolled out, up to `timeout`.",
        r#"let c = cluster("cluster1"); c.wait_rollouts("gloo-mesh", "5m");"#,
    )
    .register(
        engine,
        optional_last!(move |m: &mut Member, ns: &str; t: Dynamic| -> RhaiResult<()> {
            rollouts(&s, m, ns, timeout(t)?)
        }),
    );
    let s = session.clone();
    Def::new("waits", "wait_condition", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "condition: string", "map|()"])
        .doc("Waits (5 min) until an object's status condition is True (Gateway `Programmed`, CRD `Established`); returns the object.")
        .example(r#"let c = cluster("cluster1"); c.wait_condition("gateway", "ingress", "istio-gateways", "Programmed");"#)
        .optional(TIMEOUT, "Waits until an object's status condition is True, up to `timeout`.",
            r#"let c = cluster("cluster1"); c.wait_condition("crd", "gateways.gateway.networking.k8s.io", "", "Established", "30s");"#)
        .register(engine, optional_last!(move |m: &mut Member, kind: &str, name: &str, ns: &str, c: &str; t: Dynamic| -> RhaiResult<Dynamic> {
            condition(&s, m, kind, name, ns, c, timeout(t)?)
        }));
    let s = session.clone();
    Def::new("waits", "wait_for", &["cluster: Cluster", "kind: string", "name: string", "ns: string", "predicate: closure", "map|()"])
        .doc("Waits (5 min) until `predicate(obj)` returns true for an object; returns the object.")
        .example(r#"let c = cluster("cluster1"); c.wait_for("deploy", "reviews-v2", "bookinfo", |d| d.status.readyReplicas == 2);"#)
        .optional(TIMEOUT, "Waits until `predicate(obj)` returns true, up to `timeout`.",
            r#"let c = cluster("cluster1"); c.wait_for("svc", "productpage", "bookinfo", |s| s.metadata.labels?.global == "true", "1m");"#)
        .register(engine, optional_last!(move |ctx: NativeCallContext, m: &mut Member, kind: &str, name: &str, ns: &str, p: FnPtr; t: Dynamic| -> RhaiResult<Dynamic> {
            let t = timeout(t)?;
            wait_for(&s, &ctx, m, kind, name, ns, &p, t)
        }));
    let s = session.clone();
    Def::new("waits", "lb_address", &["cluster: Cluster", "ns: string", "service: string", "string"])
        .doc("Waits (5 min) for a Service's load-balancer address (`status.loadBalancer.ingress[0]` hostname or ip).")
        .example(r#"let c = cluster("cluster1"); let ip = c.lb_address("istio-gateways", "istio-ingressgateway"); say("http://" + ip + "/productpage");"#)
        .optional(TIMEOUT, "Waits for a Service's load-balancer address, up to `timeout`.",
            r#"let c = cluster("cluster1"); let ip = c.lb_address("istio-eastwest", "istio-eastwestgateway", "3m");"#)
        .register(engine, optional_last!(move |m: &mut Member, ns: &str, svc: &str; t: Dynamic| -> RhaiResult<String> {
            lb(&s, m, ns, svc, timeout(t)?)
        }));
}

//! External tools as steps: helm, istioctl, meshctl, vcluster and any program, as argv
//! processes wired to the cluster's context. On simulated clusters a call is matched against
//! `stdlib/sim/tools` and its effect applied through the Kubernetes API, so later waits see it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Engine, Map};

use super::convert::{fail, fail_with_help, string_map, Opts, RhaiResult};
use super::secret_output::SecretOutput;
use super::{optional_last, Def};
use crate::fleet::{Fleet, Member};
use crate::report::Event;
use crate::session::Session;
use crate::toolrun::{self, RealizeError, Route};
use crate::tools::{
    self, HelmInstall, HelmRepo, HelmValues, Invocation, SimulatedEffect, Stream, ToolError,
    ToolOutput,
};

fn base(s: &Session, program: &str, m: Option<&Member>, timeout: Option<Duration>) -> Invocation {
    let mut inv =
        Invocation::new(program, Vec::<String>::new()).redactor(s.reporter.redactor().clone());
    if let Some(m) = m {
        inv = inv.cluster(Fleet::tool_cluster(m)).label(format!(
            "{} {}",
            m.name(),
            tools::tool_name(program)
        ));
    }
    if let Some(t) = timeout {
        inv = inv.timeout(t);
    }
    inv
}

fn on_line(s: &Arc<Session>, label: String) -> impl Fn(Stream, &str) + Send + Sync {
    let s = s.clone();
    move |_stream: Stream, line: &str| {
        s.emit(Event::ToolLine {
            label: label.clone(),
            line: line.to_string(),
        })
    }
}

fn output_map(out: &ToolOutput) -> Map {
    let mut m = Map::new();
    m.insert("stdout".into(), out.stdout.clone().into());
    m.insert("stderr".into(), out.stderr.clone().into());
    m.insert("code".into(), Dynamic::from(i64::from(out.code)));
    m
}

fn tool_err(e: ToolError) -> Box<rhai::EvalAltResult> {
    super::convert::ScriptError {
        message: crate::base::error::Help::message(&e),
        help: crate::base::error::Help::help(&e),
        cause: Some(std::sync::Arc::new(e)),
    }
    .into()
}

/// A call no simulated rule describes: which runbook call needs one, and how to add it.
fn sim_err(e: ToolError, call: &str) -> Box<rhai::EvalAltResult> {
    match &e {
        ToolError::NoSimRule { tool, what, .. } => fail_with_help(
            format!(
                "no simulated behaviour for `{tool}` {what}, which {call} needs: simulated clusters never run `{tool}`, they apply what a rule says the real tool would leave in the cluster"
            ),
            format!(
                "add a rule: write DIR/sim/tools/NAME.yaml (the format is in meshbook's stdlib/sim/tools/README.md: `rules:` with `match: {{tool: {tool}, args: [...]}}` and what to `apply`) and run with MESHBOOK_STDLIB=DIR, whose files add to the bundled stdlib"
            ),
        ),
        _ => tool_err(e),
    }
}

/// How a runbook call reads in messages: `c.helm(["install", ...])` on `cluster1`.
fn call_text(m: Option<&Member>, program: &str, argv: &[String]) -> String {
    let shown: Vec<String> = argv.iter().take(4).map(|a| format!("{a:?}")).collect();
    let more = if argv.len() > 4 { ", ..." } else { "" };
    match m {
        Some(m) => format!(
            "the call `{}([{}{more}])` on `{}`",
            tools::tool_name(program),
            shown.join(", "),
            m.name()
        ),
        None => format!("`run({program:?}, [{}{more}])`", shown.join(", ")),
    }
}

fn tool_run_event(
    s: &Session,
    m: Option<&Member>,
    inv: &Invocation,
    code: i32,
    start: Instant,
    simulated: bool,
) {
    s.emit(Event::ToolRun {
        cluster: m.map(|m| m.name().to_string()),
        program: inv.program.clone(),
        argv: inv.argv.clone(),
        code,
        duration_ms: start.elapsed().as_millis() as u64,
        simulated,
    });
}

/// Carries out a simulated effect (`toolrun::realize`), emitting its events as they happen.
fn realize(
    s: &Arc<Session>,
    effect: &SimulatedEffect,
    label: &str,
    show_stdout: bool,
) -> RhaiResult<()> {
    let emit = |e: Event| {
        if let Event::Applied {
            cluster,
            kind,
            namespace,
            name,
            ..
        } = &e
        {
            match namespace {
                Some(ns) => s.touch_namespace(cluster, ns),
                None if kind == "Namespace" => s.touch_namespace(cluster, name),
                None => {}
            }
        }
        s.emit(e);
    };
    s.block_on(toolrun::realize(
        &s.fleet,
        effect,
        label,
        show_stdout,
        &emit,
    ))
    .map_err(|e| match e {
        RealizeError::K8s(e) => super::cluster::k8s_err(e),
        RealizeError::Tool(e) => tool_err(e),
        other => fail(other.to_string()),
    })
}

/// Runs a tool call: simulated on simulated clusters, a real process otherwise.
fn call(
    s: &Arc<Session>,
    m: Option<&Member>,
    program: &str,
    argv: Vec<String>,
    opts: Option<&Map>,
) -> RhaiResult<Map> {
    let o = Opts::new(opts, program);
    o.only(&["timeout", "env", "stdin", "allow_failure", "secret_output"])?;
    let secret_output = SecretOutput::from_opts(&o, program)?;
    let mut inv = base(s, program, m, o.duration("timeout")?).with_argv(program, argv);
    if let Some(env) = o.map("env")? {
        for (k, v) in string_map(&env, "env")? {
            inv = inv.env(k, v.unwrap_or_default());
        }
    }
    if let Some(stdin) = o.string("stdin")? {
        inv = inv.stdin(stdin);
    }
    let allow_failure = o.bool("allow_failure")?.unwrap_or(false);
    let start = Instant::now();
    let tool = tools::tool_name(program);
    if s.would(
        m.map(|m| m.name()).unwrap_or("this machine"),
        &format!(
            "run `{} {}` (tools do not run on a dry run)",
            tool,
            inv.argv.join(" ")
        ),
    ) {
        return Ok(not_run());
    }
    let route = toolrun::route(program, m, s.simulated).map_err(super::convert::fail_problem)?;
    if let (Route::KubectlOnSimulator { server }, Some(m)) = (&route, m) {
        inv = toolrun::kubectl_on_simulator(&inv, server, format!("{} kubectl", m.name()));
    }
    if route == Route::Simulated {
        let rules = s.fleet.sim_rules().map_err(super::convert::fail_problem)?;
        let effect = s
            .block_on(tools::match_simulated(&inv, rules, s.fleet.as_ref()))
            .map_err(|e| sim_err(e, &call_text(m, program, &inv.argv)))?;
        if let Some(how) = &secret_output {
            how.register(s, &effect.stdout, &inv.label)?;
        }
        realize(s, &effect, &inv.label, secret_output.is_none())?;
        tool_run_event(s, m, &inv, 0, start, true);
        let mut out = Map::new();
        out.insert("stdout".into(), effect.stdout.clone().into());
        out.insert("stderr".into(), "".into());
        out.insert("code".into(), Dynamic::from(0_i64));
        out.insert("simulated".into(), true.into());
        return Ok(out);
    }
    let label = inv.label.clone();
    let result = match &secret_output {
        None => super::convert::interruptible(s, tools::run(&inv, &on_line(s, label)))?,
        // Nothing streamed: stdout is kept for the script, stderr shown once the secrets
        // found in stdout are registered.
        Some(_) => {
            let held = std::sync::Mutex::new(Vec::new());
            let hold = |stream: Stream, line: &str| {
                if stream == Stream::Stderr {
                    held.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line.to_string());
                }
            };
            let result = super::convert::interruptible(s, tools::run(&inv, &hold))?;
            if let (Ok(out), Some(how)) = (&result, &secret_output) {
                how.register(s, &out.stdout, &label)?;
                for line in held.into_inner().unwrap_or_else(|e| e.into_inner()) {
                    s.emit(Event::ToolLine {
                        label: label.clone(),
                        line,
                    });
                }
            }
            result
        }
    };
    match result {
        Ok(out) => {
            tool_run_event(s, m, &inv, out.code, start, false);
            Ok(output_map(&out))
        }
        Err(ToolError::Failed { code, .. }) if allow_failure => {
            tool_run_event(s, m, &inv, code, start, false);
            let mut out = Map::new();
            out.insert("code".into(), Dynamic::from(i64::from(code)));
            out.insert("stdout".into(), "".into());
            out.insert("stderr".into(), "".into());
            Ok(out)
        }
        Err(e) => {
            tool_run_event(s, m, &inv, -1, start, false);
            Err(tool_err(e))
        }
    }
}

/// What a tool call returns on a dry run, where it does not run.
fn not_run() -> Map {
    let mut out = Map::new();
    out.insert("stdout".into(), "".into());
    out.insert("stderr".into(), "".into());
    out.insert("code".into(), Dynamic::from(0_i64));
    out.insert("dry_run".into(), true.into());
    out
}

fn argv(a: &Array) -> Vec<String> {
    a.iter().map(|v| v.to_string()).collect()
}

fn helm_install(
    s: &Arc<Session>,
    m: &Member,
    release: &str,
    chart: &str,
    opts: &Map,
) -> RhaiResult<Map> {
    let o = Opts::new(Some(opts), "helm_install");
    o.only(&[
        "namespace",
        "create_namespace",
        "version",
        "values",
        "set",
        "repo",
        "wait",
        "timeout",
    ])?;
    let values = match o.raw("values") {
        None => None,
        Some(v) if v.is_string() => Some(HelmValues::Yaml(v.to_string())),
        Some(v) => Some(HelmValues::Json(super::convert::to_json(v)?)),
    };
    let repo = match o.string("repo")? {
        Some(spec) => Some(
            HelmRepo::parse(&spec)
                .ok_or_else(|| fail(format!("helm_install: repo `{spec}` is not NAME=URL")))?,
        ),
        None => None,
    };
    let install = HelmInstall {
        release: release.to_string(),
        chart: chart.to_string(),
        namespace: o.string("namespace")?.unwrap_or_else(|| "default".into()),
        create_namespace: o.bool("create_namespace")?.unwrap_or(false),
        version: o.string("version")?,
        values,
        set: match o.map("set")? {
            Some(map) => string_map(&map, "helm_install set")?
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            None => Vec::new(),
        },
        repo,
        wait: o.bool("wait")?.unwrap_or(false),
        timeout: o.duration("timeout")?,
    };
    s.touch_namespace(m.name(), &install.namespace);
    let base = base(
        s,
        "helm",
        Some(m),
        install.timeout.map(|t| t + Duration::from_secs(30)),
    );
    let start = Instant::now();
    let argv_shown = tools::helm_install_argv(
        &install,
        None,
        base.cluster.as_ref().map(|c| c.context.as_str()),
    );
    let shown = base.with_argv("helm", argv_shown);
    if s.would(
        m.name(),
        &format!(
            "install chart `{chart}` as release `{release}` in {} (tools do not run on a dry run)",
            install.namespace
        ),
    ) {
        return Ok(not_run());
    }
    if m.simulated {
        let rules = s.fleet.sim_rules().map_err(super::convert::fail_problem)?;
        let effect = s
            .block_on(tools::helm_install_simulated(
                &install,
                &base,
                rules,
                s.fleet.as_ref(),
            ))
            .map_err(|e| {
                sim_err(
                    e,
                    &format!(
                        "`helm_install({release:?}, {chart:?}, ...)` on `{}`",
                        m.name()
                    ),
                )
            })?;
        realize(s, &effect, &base.label, true)?;
        tool_run_event(s, Some(m), &shown, 0, start, true);
        let mut out = Map::new();
        out.insert("stdout".into(), effect.stdout.clone().into());
        out.insert("code".into(), Dynamic::from(0_i64));
        out.insert("simulated".into(), true.into());
        return Ok(out);
    }
    let result = super::convert::interruptible(
        s,
        tools::helm_install(&install, &base, &on_line(s, base.label.clone())),
    )?;
    match result {
        Ok(out) => {
            tool_run_event(s, Some(m), &shown, out.code, start, false);
            Ok(output_map(&out))
        }
        Err(e) => {
            tool_run_event(s, Some(m), &shown, -1, start, false);
            Err(tool_err(e))
        }
    }
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    Def::new("tools", "helm_install", &["cluster: Cluster", "release: string", "chart: string", "opts: map", "map"])
        .doc("`helm upgrade --install` on the cluster: opts `namespace`, `create_namespace`, `version`, `values` (map or YAML text; written to a private temporary file, never on the command line), `set` (non-secret scalars), `repo` (\"name=url\", added idempotently), `wait`, `timeout`. OCI charts work.")
        .example(r#"let c = cluster("cluster1"); c.helm_install("gloo-operator", "oci://us-docker.pkg.dev/solo-public/gloo-operator-helm/gloo-operator", #{namespace: "gloo-system", create_namespace: true, version: "0.2.5"});"#)
        .register(engine, move |m: &mut Member, release: &str, chart: &str, opts: Map| helm_install(&s, m, release, chart, &opts));
    let s = session.clone();
    Def::new(
        "tools",
        "helm_uninstall",
        &["cluster: Cluster", "release: string", "ns: string", "map"],
    )
    .doc("`helm uninstall RELEASE -n NS` on the cluster.")
    .example(r#"let c = cluster("cluster1"); c.helm_uninstall("gloo-operator", "gloo-system");"#)
    .register(engine, move |m: &mut Member, release: &str, ns: &str| {
        let argv = vec![
            "uninstall".into(),
            release.into(),
            "--namespace".into(),
            ns.into(),
        ];
        call(&s, Some(m), "helm", argv, None)
    });
    const OPTIONS: &str = "opts: map";
    for (tool, doc, example, with_options) in [
        ("helm", "Runs helm with the cluster's context (`--kube-context`); returns `#{stdout, stderr, code}`; a non-zero exit fails the step.",
            r#"let c = cluster("cluster1"); let releases = c.helm(["list", "-A", "-o", "json"]);"#,
            r#"let c = cluster("cluster1"); c.helm(["repo", "update"], #{timeout: "2m"});"#),
        ("istioctl", "Runs Solo's istioctl with the cluster's context (`--context`).",
            r#"let c = cluster("cluster1"); say(c.istioctl(["proxy-status"]).stdout);"#,
            r#"let c = cluster("cluster1"); let check = c.istioctl(["analyze", "-n", "bookinfo"], #{allow_failure: true});"#),
        ("meshctl", "Runs meshctl with the cluster's context (`--kubecontext`).",
            r#"let c = cluster("cluster1"); c.meshctl(["check"]);"#,
            r#"let c = cluster("cluster1"); c.meshctl(["check"], #{timeout: "3m", allow_failure: true});"#),
        ("vcluster", "Runs vcluster with the host cluster's context.",
            r#"let c = cluster("cluster1"); c.vcluster(["create", "team-a", "--connect=false"]);"#,
            r#"let c = cluster("cluster1"); c.vcluster(["delete", "team-a"], #{allow_failure: true});"#),
        ("kubectl", "Runs kubectl with the cluster's context (`--context`), for what no function covers; on a simulated cluster it runs against the simulator's server.",
            r#"let c = cluster("cluster1"); c.kubectl(["rollout", "restart", "deploy/reviews-v1", "-n", "bookinfo"]);"#,
            r#"let c = cluster("cluster1"); c.kubectl(["apply", "-f", "-"], #{stdin: read_file("gateway.yaml")});"#),
    ] {
        let s = session.clone();
        Def::new("tools", tool, &["cluster: Cluster", "argv: array", "map"])
            .doc(doc)
            .example(example)
            .optional(OPTIONS,
                "The same with options `timeout`, `env` (map), `stdin` (text), `allow_failure` (return the exit code instead of failing), `secret_output` (`true`: stdout carries a secret, it is not shown and each line is masked from then on; or a regex whose captures are the secret).",
                with_options)
            .register(engine, optional_last!(move |m: &mut Member, a: Array; opts: Map| -> RhaiResult<Map> {
                call(&s, Some(m), tool, argv(&a), opts.as_ref())
            }));
    }
    for (tool, doc, example, with_options) in [
        (
            "meshctl",
            "Runs meshctl without a cluster context.",
            r#"say(meshctl(["version"]).stdout);"#,
            r#"let token = meshctl(["dashboard", "token"], #{secret_output: true});"#,
        ),
        (
            "vcluster",
            "Runs vcluster without a cluster context (`vcluster create NAME`, `vcluster connect`).",
            r#"let list = vcluster(["list", "--output", "json"]);"#,
            r#"vcluster(["create", "team-a", "--connect=false"], #{timeout: "5m"});"#,
        ),
        (
            "istioctl",
            "Runs Solo's istioctl without a cluster context (`multicluster link --contexts=a,b`).",
            r#"istioctl(["multicluster", "link", "--contexts=" + env("CLUSTER1") + "," + env("CLUSTER2"), "-n", "istio-eastwest"]);"#,
            r#"istioctl(["version", "--remote=false"], #{timeout: "30s"});"#,
        ),
    ] {
        let s = session.clone();
        Def::new("tools", tool, &["argv: array", "map"])
            .doc(doc)
            .example(example)
            .optional(OPTIONS, "The same with options `timeout`, `env`, `stdin`, `allow_failure`, `secret_output`.", with_options)
            .register(engine, optional_last!(move |a: Array; opts: Map| -> RhaiResult<Map> {
                call(&s, None, tool, argv(&a), opts.as_ref())
            }));
    }
    let s = session.clone();
    Def::new("tools", "run", &["program: string", "argv: array", "map"])
        .doc("Runs any program (argv, never a shell); returns `#{stdout, stderr, code}`; a non-zero exit fails the step. It runs for real on simulated clusters too, except the cluster CLIs (helm, istioctl, meshctl, vcluster), which are simulated.")
        .example(r#"let out = run("git", ["rev-parse", "--short", "HEAD"]); say(out.stdout);"#)
        .optional(OPTIONS,
            "Runs a program with options `timeout`, `env`, `stdin`, `allow_failure`, `secret_output` (`true`: stdout carries a secret: not shown, each line masked from then on, returned as usual; or a regex whose captures are the secret).",
            r#"let r = run("openssl", ["x509", "-noout", "-subject"], #{stdin: read_file("certs/ca-cert.pem"), allow_failure: true});"#)
        .register(engine, optional_last!(move |program: &str, a: Array; opts: Map| -> RhaiResult<Map> {
            call(&s, None, program, argv(&a), opts.as_ref())
        }));
}

//! What `run` and `repl` share before a script runs: the target (contexts or simulated
//! clusters), parameters, the environment (secrets masked from the first line on, placeholders
//! on simulated clusters), the clusters themselves, and the first lines of output.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::targets::{self, Target};
use crate::fleet::Fleet;
use crate::problem::Problem;
use crate::report::{Event, Redactor, Reporter, TerminalOptions};
use crate::runbook::{EnvDecl, Runbook};
use crate::session::{RunState, SectionFilter, Session};

/// How strictly to treat what is missing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// `run`: an unknown `--set` or a missing required variable stops before anything starts.
    Run,
    /// `repl`: a person is there to fix things; missing variables are noted, unknown keys kept.
    Repl,
}

/// The decisions made before any cluster is contacted.
pub struct Plan {
    pub target: Target,
    pub simulated: bool,
    pub params: BTreeMap<String, String>,
    pub env_overrides: BTreeMap<String, String>,
    pub notices: Vec<String>,
}

/// Resolves the target, parameters and environment of a runbook. Errors are the paragraph to
/// print (exit 2).
pub fn plan(
    runbook: &Runbook,
    contexts: &[(String, String)],
    sets: Vec<(String, String)>,
    force_sim: bool,
    redactor: &Redactor,
    env_reads: &[(String, bool)],
    strictness: Strictness,
) -> Result<Plan, Problem> {
    let header = &runbook.header;
    let target = targets::resolve(&header.clusters, contexts, force_sim, |k| {
        std::env::var(k).ok()
    })
    .map_err(|e| format!("{}: {e}", runbook.display_path))?;
    let simulated = match &target {
        Target::Simulated(_) => true,
        Target::Real(map) => contexts_are_simulated(map),
        Target::None => false,
    };

    // Parameters: header defaults, then --set; for a run an unknown key is a typo. The script's
    // own `param("NAME", default)` reads declare parameters too (a runbook without a header).
    let mut params: BTreeMap<String, String> = header.params.iter().cloned().collect();
    let kind_of = |k: &str| {
        header
            .param_kinds
            .iter()
            .chain(runbook.uses.params.iter())
            .find(|(n, _)| n == k)
            .map(|(_, kind)| *kind)
    };
    for (k, v) in sets {
        let declared = params.contains_key(&k) || runbook.uses.params.iter().any(|p| p.0 == k);
        if strictness == Strictness::Run && !declared {
            let mut known: Vec<&str> = header.params.iter().map(|p| p.0.as_str()).collect();
            known.extend(runbook.uses.params.iter().map(|p| p.0.as_str()));
            known.dedup();
            let near = crate::suggest::closest(&k, known.iter().copied());
            return Err(Problem::new(format!("{}: --set {k}=...: the runbook declares no parameter `{k}`", runbook.display_path)).with_help(format!("{}declared parameters: {} (declare one under `params:` in the header, or read it with a default: `param(\"{k}\", \"value\")`)", near.first().map(|n| format!("did you mean `{n}`? ")).unwrap_or_default(), if known.is_empty() { "none".to_string() } else { known.join(", ") })));
        }
        if let Some(want) = kind_of(&k).and_then(|kind| kind.refuse(&v)) {
            let default = header
                .params
                .iter()
                .find(|p| p.0 == k)
                .map(|p| format!("its default is {}", p.1))
                .unwrap_or_else(|| "the script gives it such a default".into());
            return Err(Problem::new(format!(
                "{}: --set {k}={v}: parameter `{k}` takes {want} ({default}), and `{v}` is not one",
                runbook.display_path
            ))
            .with_help(format!(
                "pass {want}, e.g. --set {k}={}",
                if want == "true or false" { "true" } else { "5" }
            )));
        }
        params.insert(k, v);
    }

    let mut env_overrides = BTreeMap::new();
    let mut notices = Vec::new();
    let mut missing = Vec::new();
    let mut too_short = Vec::new();
    for decl in environment(runbook, env_reads) {
        match std::env::var(&decl.name).ok().filter(|v| !v.is_empty()) {
            Some(v) if decl.secret => match redactor.add(&v) {
                Ok(()) => {}
                // A rehearsal never sends a secret anywhere: one too short to be masked
                // (`GLOO_MESH_LICENSE_KEY=x`) is not used at all. A real run refuses it.
                Err(e) if simulated => placeholder(
                    &mut env_overrides,
                    &mut notices,
                    &decl.name,
                    &format!("is {e}, so it is not used (its value was not printed)"),
                ),
                Err(e) => too_short.push((decl.name.clone(), e)),
            },
            Some(_) => {}
            None if !decl.required => {}
            // Placeholders stand in for what the header declares (a license key) and for
            // secrets; a plain `env("X")` fails as documented, simulated or not.
            None if simulated && (decl.secret || declared_in_header(runbook, &decl.name)) => {
                placeholder(&mut env_overrides, &mut notices, &decl.name, "is not set")
            }
            None if strictness == Strictness::Repl => {
                notices.push(format!("{} is not set", decl.name))
            }
            None => missing.push(decl),
        }
    }
    if let Some((name, e)) = too_short.first() {
        // Never printed: a value this short cannot be told apart from ordinary text.
        return Err(Problem::new(format!("{}: the secret environment variable `{name}` is {e}; its value was not printed{}", runbook.display_path, if too_short.len() > 1 {
                format!(
                    " (also too short: {})",
                    too_short[1..]
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            })).with_help(format!("set `{name}` to the real secret (a value this short cannot be masked without masking ordinary text)")));
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|d| {
                let what = d
                    .description
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                format!(
                    "`{}`{}{}",
                    d.name,
                    if d.secret { " [secret]" } else { "" },
                    what
                )
            })
            .collect();
        return Err(Problem::new(format!(
            "{}: required environment variable{} not set: {}",
            runbook.display_path,
            if missing.len() == 1 { " is" } else { "s are" },
            list.join(", ")
        ))
        .with_help(format!("export {}=... and run again", missing[0].name)));
    }
    Ok(Plan {
        target,
        simulated,
        params,
        env_overrides,
        notices,
    })
}

/// A placeholder stands in for `name` on simulated clusters, and a notice says why.
fn placeholder(
    overrides: &mut BTreeMap<String, String>,
    notices: &mut Vec<String>,
    name: &str,
    why: &str,
) {
    overrides.insert(
        name.to_string(),
        format!("simulated-{}", name.to_lowercase()),
    );
    notices.push(format!(
        "{name} {why}: a placeholder stands in on simulated clusters"
    ));
}

fn declared_in_header(runbook: &Runbook, name: &str) -> bool {
    runbook.header.env.iter().any(|d| d.name == name)
}

/// The header's declarations, plus variables the script reads by literal name
/// (`secret_env("X")`, `env("X")` without a default; found by the static checks).
fn environment(runbook: &Runbook, env_reads: &[(String, bool)]) -> Vec<EnvDecl> {
    let mut decls = runbook.header.env.clone();
    for (name, secret) in env_reads {
        match decls.iter_mut().find(|d| &d.name == name) {
            Some(d) => d.secret |= secret,
            None => decls.push(EnvDecl {
                name: name.clone(),
                secret: *secret,
                required: true,
                description: Some(
                    if *secret {
                        "read with secret_env"
                    } else {
                        "read with env"
                    }
                    .into(),
                ),
            }),
        }
    }
    decls
}

/// Whether every mapped context was written by `meshbook sim serve` (read from the kubeconfig
/// alone, without contacting anything).
fn contexts_are_simulated(map: &[(String, String)]) -> bool {
    let var = std::env::var_os("KUBECONFIG");
    let Ok(kubeconfig) = crate::k8s::load_kubeconfig(var.as_deref()) else {
        return false;
    };
    map.iter()
        .all(|(_, ctx)| crate::sim::kubeconfig_context_is_simulated(&kubeconfig, ctx).is_some())
}

/// The clusters: simulated ones start in milliseconds; real ones must answer /version.
pub fn connect(
    runbook: &Runbook,
    target: &Target,
    handle: &tokio::runtime::Handle,
) -> Result<Arc<Fleet>, Problem> {
    let fleet = match target {
        Target::None => Ok(Fleet::empty()),
        Target::Simulated(names) => handle.block_on(Fleet::simulated(names)),
        Target::Real(map) => handle.block_on(Fleet::real(map)),
    };
    fleet
        .map(Arc::new)
        .map_err(|e| Problem::new(format!("{}: {e}", runbook.display_path)))
}

/// The first lines: what runs where, each cluster, and the notes.
pub fn announce(reporter: &Reporter, runbook: &Runbook, plan: &Plan, fleet: &Fleet) {
    reporter.emit(Event::RunStarted {
        runbook: runbook.name.clone(),
        title: runbook.header.title.clone(),
        target: plan.target.describe(),
    });
    for m in fleet.members() {
        reporter.emit(Event::ClusterReady {
            cluster: m.name().to_string(),
            context: m.cluster.context().map(String::from),
            server: m.cluster.server().to_string(),
            version: m.cluster.version().unwrap_or("v1.32 simulated").to_string(),
        });
    }
    for n in &plan.notices {
        reporter.emit(Event::Notice { text: n.clone() });
    }
    if !plan.params.is_empty() {
        reporter.emit(Event::Parameters {
            values: plan.params.clone(),
        });
    }
}

/// The session a plan runs in: no section filter, not interactive, no hooks. Callers that
/// need those set them with struct update syntax (`Session { filter, ..session(...) }`).
pub fn session(
    plan: &Plan,
    runbook: &Runbook,
    fleet: &Arc<Fleet>,
    redactor: &Redactor,
    verbosity: i8,
    handle: &tokio::runtime::Handle,
) -> Session {
    Session {
        rt: handle.clone(),
        reporter: Arc::new(Reporter::new(
            redactor.clone(),
            TerminalOptions::detect(verbosity),
            Vec::new(),
        )),
        runbook: runbook.clone(),
        params: plan.params.clone(),
        env_overrides: plan.env_overrides.clone(),
        filter: SectionFilter::default(),
        interactive: false,
        simulated: plan.simulated,
        state: std::sync::Mutex::new(RunState::default()),
        cancelled: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        top_level: Default::default(),
        fleet: fleet.clone(),
        dry_run: false,
    }
}

//! Tool calls on simulated clusters: matched against [`SimToolRules`] and turned into a
//! [`SimulatedEffect`] (manifests to apply, text to print, checks, clusters to create), never
//! executed.

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::error::ToolError;
use super::helm::{helm_install_argv, HelmInstall};
use super::invocation::{Invocation, ToolCluster};
use super::sim_call::{deep_merge, SimCall};
use super::sim_render::{documents, resolve, Renderer};
use super::sim_rules::{ReleaseAction, SimRule, SimToolRules};
use crate::base::path::get as get_path;

/// What the lead's bindings can see of the simulated clusters.
pub trait SimWorld: Send + Sync {
    /// Every simulated cluster (logical name and context).
    fn clusters(&self) -> Vec<ToolCluster>;
    /// One object as JSON, or `None` when it does not exist.
    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<Value>>;
    /// Every object of `key`'s kind (in its namespace, when it names one); `key.name` is
    /// ignored. The default knows none.
    fn list<'a>(&'a self, _key: &'a ObjectKey) -> BoxFuture<'a, Vec<Value>> {
        Box::pin(async { Vec::new() })
    }
}

/// An object in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The cluster's logical name.
    pub cluster: String,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{} `{ns}/{}` on `{}`",
                self.kind, self.name, self.cluster
            ),
            None => write!(f, "{} `{}` on `{}`", self.kind, self.name, self.cluster),
        }
    }
}

/// A manifest for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimApply {
    /// The cluster's logical name.
    pub cluster: String,
    /// One or more YAML documents.
    pub yaml: String,
    /// Not deleted by a simulated `helm uninstall` of the release.
    pub keep_on_uninstall: bool,
}

/// A helm release, as simulated installs and uninstalls name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseKey {
    pub cluster: String,
    pub namespace: String,
    pub release: String,
}

/// What a simulated tool call does. The caller applies `applies` through the Kubernetes
/// functions (in order), deletes `deletes`, creates `new_clusters`, forgets `removed_clusters`,
/// then evaluates
/// `checks` with [`run_checks`] and prints `stdout`. For `uninstall`, it deletes what
/// [`super::ReleaseBook`] recorded for the release; after an `install`, it records `applies`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimulatedEffect {
    /// The rule that matched (for messages and events).
    pub rule: String,
    pub applies: Vec<SimApply>,
    pub checks: Vec<ObjectKey>,
    /// Objects to delete (missing ones are fine), after the applies.
    pub deletes: Vec<ObjectKey>,
    pub stdout: String,
    pub new_clusters: Vec<ToolCluster>,
    pub removed_clusters: Vec<String>,
    pub install: Option<ReleaseKey>,
    pub uninstall: Option<ReleaseKey>,
}

/// Matches a tool call against the rules and renders its effect. Reads `-f` values files
/// (or `inv.stdin` for `-f -`) and `--set` values. No rule: [`ToolError::NoSimRule`].
pub async fn match_simulated(
    inv: &Invocation,
    rules: &SimToolRules,
    world: &dyn SimWorld,
) -> Result<SimulatedEffect, ToolError> {
    simulate(inv, None, rules, world).await
}

/// The simulated `helm upgrade --install`: same argv as the real one, the values given
/// directly (no temporary file).
pub async fn helm_install_simulated(
    install: &HelmInstall,
    base: &Invocation,
    rules: &SimToolRules,
    world: &dyn SimWorld,
) -> Result<SimulatedEffect, ToolError> {
    super::helm::check_set_values(install, &base.secrets)?;
    let context = base.cluster.as_ref().map(|c| c.context.as_str());
    let inv = base.with_argv("helm", helm_install_argv(install, None, context));
    let values = match &install.values {
        Some(v) => Some(v.to_json()?),
        None => None,
    };
    simulate(&inv, values, rules, world).await
}

async fn simulate(
    inv: &Invocation,
    extra_values: Option<Value>,
    rules: &SimToolRules,
    world: &dyn SimWorld,
) -> Result<SimulatedEffect, ToolError> {
    let call = SimCall::parse(inv.tool(), &inv.full_argv(), &rules.boolean_flags);
    let rule = rules.find(&call).ok_or_else(|| rules.no_rule(&call))?;
    let fail = |message: String| ToolError::SimRule {
        rule: rule.name.clone(),
        file: rule.file.clone(),
        message,
    };
    let mut hb = crate::base::template::registry();
    for (name, text) in &rules.partials {
        hb.register_partial(name, text)
            .map_err(|e| fail(format!("partial `{name}`: {e}")))?;
    }

    let clusters = world.clusters();
    let mut values = rule.defaults.clone();
    if !values.is_object() {
        values = Value::Object(Map::new());
    }
    deep_merge(
        &mut values,
        call.values(inv.stdin.as_deref())
            .map_err(|e| fail(e.to_string()))?,
    );
    if let Some(extra) = extra_values {
        deep_merge(&mut values, extra);
    }
    let (release, chart) = match call.helm_release_chart() {
        Some((r, c)) => (Some(r.to_string()), Some(c.to_string())),
        None => (call.helm_uninstall_release().map(str::to_string), None),
    };
    let namespace = call.flag("namespace").unwrap_or("default").to_string();
    let base = json!({
        "tool": call.tool,
        "args": call.positionals,
        "flags": call.flags_for_template(),
        "values": values,
        "data": rule.data,
        "release": release,
        "chart": chart,
        "chart_name": chart.as_deref().map(|c| c.rsplit('/').next().unwrap_or(c)),
        "version": call.flag("version"),
        "namespace": namespace,
        "cluster": inv.cluster.as_ref().map(cluster_json),
        "clusters": clusters.iter().map(cluster_json).collect::<Vec<_>>(),
    });

    let mut effect = SimulatedEffect {
        rule: rule.name.clone(),
        ..Default::default()
    };
    let self_cluster = inv.cluster.as_ref().map(|c| c.name.clone());
    if let Some(cluster) = &self_cluster {
        let key = ReleaseKey {
            cluster: cluster.clone(),
            namespace: namespace.clone(),
            release: release.clone().unwrap_or_default(),
        };
        match rule.release {
            ReleaseAction::Install => effect.install = Some(key),
            ReleaseAction::Uninstall => effect.uninstall = Some(key),
            ReleaseAction::None => {}
        }
    }

    for (local, peer) in iterations(rule, &call, inv, &clusters)? {
        let mut ctx = base.clone();
        ctx["local"] = local.as_ref().map(cluster_json).unwrap_or(Value::Null);
        ctx["peer"] = peer.as_ref().map(cluster_json).unwrap_or(Value::Null);
        let default_cluster = local
            .as_ref()
            .map(|c| c.name.clone())
            .or(self_cluster.clone());
        let r = Renderer {
            hb: &hb,
            rule,
            clusters: &clusters,
            default_cluster,
        };
        for lookup in &rule.lookups {
            let key = ObjectKey {
                cluster: r.cluster(lookup.cluster.as_deref(), &ctx)?,
                api_version: r.text(&lookup.api_version, &ctx)?,
                kind: r.text(&lookup.kind, &ctx)?,
                namespace: r.opt(lookup.namespace.as_deref(), &ctx)?,
                name: r.text(&lookup.name, &ctx)?,
            };
            // `name: "*"` lists every object of the kind: the value is the array of their
            // `path` values (e.g. the names of the registered clusters).
            let found = if key.name == "*" {
                let items: Vec<Value> = world
                    .list(&key)
                    .await
                    .iter()
                    .filter_map(|obj| get_path(obj, &lookup.path).cloned())
                    .collect();
                Some(Value::Array(items))
            } else {
                world
                    .get(&key)
                    .await
                    .and_then(|obj| get_path(&obj, &lookup.path).cloned())
            };
            let found = match (found.filter(|v| !v.is_null()), &lookup.default) {
                (Some(v), _) => Some(v),
                (None, Some(default)) => Some(Value::String(r.text(default, &ctx)?)),
                (None, None) => None,
            };
            let Some(value) = found else {
                return Err(ToolError::SimLookup {
                    tool: call.tool.clone(),
                    what: format!("`{}` of {}", lookup.path, key_without_cluster(&key)),
                    cluster: key.cluster,
                    hint: lookup.hint.clone(),
                });
            };
            ctx[lookup.var.as_str()] = value;
        }
        for (name, template) in &rule.vars {
            let v = r.text(template, &ctx)?;
            ctx[name.as_str()] = Value::String(v);
        }
        for apply in &rule.apply {
            if !r.when(apply.when.as_deref(), &ctx)? {
                continue;
            }
            let cluster = r.cluster(apply.cluster.as_deref(), &ctx)?;
            let yaml = r.text(&apply.manifest, &ctx)?;
            let docs = documents(&yaml).map_err(|e| fail(e.to_string()))?;
            if !docs.is_empty() {
                effect.applies.push(SimApply {
                    cluster,
                    yaml: docs.join("---\n"),
                    keep_on_uninstall: apply.keep_on_uninstall,
                });
            }
        }
        for check in &rule.checks {
            if let Some(key) = r.object(check, &ctx)? {
                effect.checks.push(key);
            }
        }
        for delete in &rule.delete {
            if let Some(key) = r.object(delete, &ctx)? {
                effect.deletes.push(key);
            }
        }
        for nc in &rule.new_clusters {
            effect.new_clusters.push(ToolCluster::new(
                r.text(&nc.name, &ctx)?,
                r.text(&nc.context, &ctx)?,
            ));
        }
        for rc in &rule.remove_clusters {
            effect.removed_clusters.push(r.text(rc, &ctx)?);
        }
        effect.stdout.push_str(&r.text(&rule.stdout, &ctx)?);
    }
    Ok(effect)
}

/// Checks that every object of `effect.checks` exists; the error names the missing ones.
pub async fn run_checks(
    effect: &SimulatedEffect,
    label: &str,
    world: &dyn SimWorld,
) -> Result<(), ToolError> {
    let mut missing = Vec::new();
    for key in &effect.checks {
        if world.get(key).await.is_none() {
            missing.push(key.to_string());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ToolError::SimCheckFailed {
            label: label.to_string(),
            missing,
        })
    }
}

fn cluster_json(c: &ToolCluster) -> Value {
    json!({"name": c.name, "context": c.context})
}

fn key_without_cluster(key: &ObjectKey) -> String {
    match &key.namespace {
        Some(ns) => format!("{} `{ns}/{}`", key.kind, key.name),
        None => format!("{} `{}`", key.kind, key.name),
    }
}

/// The (local, peer) pairs a rule runs for: one run with the call's cluster, or every
/// ordered pair of the clusters named in the `each.pairs_of` flag.
type Iteration = (Option<ToolCluster>, Option<ToolCluster>);

fn iterations(
    rule: &SimRule,
    call: &SimCall,
    inv: &Invocation,
    clusters: &[ToolCluster],
) -> Result<Vec<Iteration>, ToolError> {
    let Some(each) = &rule.each else {
        return Ok(vec![(inv.cluster.clone(), None)]);
    };
    let named: Vec<ToolCluster> = call
        .flag(&each.pairs_of)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| resolve(s, clusters, &call.tool))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for a in &named {
        for b in &named {
            if a != b {
                out.push((Some(a.clone()), Some(b.clone())));
            }
        }
    }
    Ok(out)
}

//! Vendor behaviours as data: rules loaded from `stdlib/sim/controllers/*.yaml`, modelled on
//! kwok's Stages. A rule matches objects of one kind (optionally by field values and labels),
//! looks up related objects, then creates objects from Handlebars templates (owned by the
//! matched object) and merges a templated `status` into it. Objects a rule created are
//! deleted again when the object stops matching.
//!
//! ```yaml
//! rules:
//! - name: istio-gateway
//!   match: {group: gateway.networking.k8s.io, kind: Gateway, fields: {spec.gatewayClassName: [istio]}}
//!   lookup:
//!     service: {apiVersion: v1, kind: Service, namespace: "{{object.metadata.namespace}}", name: "{{object.metadata.name}}-istio"}
//!   create: ["apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: \"{{object.metadata.name}}-istio\"}"]
//!   status: "conditions: [{type: Programmed, status: \"{{#if lookup.service}}True{{else}}False{{/if}}\"}]"
//! ```
//!
//! Templates see `object` (the matched object), `lookup.<name>` (an object or null) and
//! `cluster` (`name`, `index`); the helpers are [`crate::base::template`]'s, shared with every
//! other template.
//!
//! Two rule engines read `stdlib/sim/`, and share what is the same concept (the Handlebars
//! setup, dotted paths, loading the YAML files): these rules react to *objects* in one
//! simulated cluster, as a controller does; the `SimToolRules` of `tools` describe what a *tool
//! call* (helm, istioctl, ...) leaves in the clusters. Their matching differs in kind (kind,
//! field values and labels here; tool, arguments, chart and flags there) and stays apart.

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::{json, Value};

use super::cluster::Cluster;
use super::controllers::{Key, Outcome};
use super::patch::merge_patch;
use super::resources::ResKey;
use super::selector::LabelSelector;
use super::store::meta_str;

mod links;

use crate::base::path::field;
use crate::base::template::registry;
use links::remove_copies;

/// Annotation naming the rule that created an object.
pub const RULE_ANNOTATION: &str = "sim.meshbook.dev/rule";
/// Annotation with the uid of the object a rule created this one for.
pub const OWNER_ANNOTATION: &str = "sim.meshbook.dev/owner-uid";

/// Errors loading rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot parse simulator rules `{file}`: {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error(
        "bad template in simulator rule `{rule}` ({file}): {source}; check the Handlebars syntax"
    )]
    Template {
        file: String,
        rule: String,
        #[source]
        source: Box<handlebars::TemplateError>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn contains(&self, v: &str) -> bool {
        match self {
            OneOrMany::One(s) => s == v,
            OneOrMany::Many(m) => m.iter().any(|s| s == v),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Match {
    #[serde(default)]
    group: String,
    kind: String,
    #[serde(default)]
    fields: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    labels: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Lookup {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Rule {
    name: String,
    #[serde(rename = "match")]
    matcher: Match,
    #[serde(default)]
    lookup: BTreeMap<String, Lookup>,
    #[serde(default)]
    create: Vec<String>,
    #[serde(default)]
    status: Option<String>,
    /// Whether created objects belong to the matched object (garbage collected with it and
    /// removed when it stops matching). `false` for things like CRDs that outlive it.
    #[serde(default = "yes")]
    owned: bool,
    /// `linked`: created objects also go to every cluster of the fleet linked with this one
    /// (see `links`), as multi-cluster controllers do.
    #[serde(default)]
    replicate: Option<String>,
}

/// How clusters of a fleet are linked: an object matching `match` in one cluster whose
/// `addresses` field holds a simulated LoadBalancer address of another cluster links the two.
#[derive(Debug, Clone, Deserialize)]
struct Link {
    name: String,
    #[serde(rename = "match")]
    matcher: Match,
    addresses: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    links: Vec<Link>,
}

/// The loaded rules of a simulator.
#[derive(Default)]
pub struct Rules {
    rules: Vec<Rule>,
    links: Vec<Link>,
    hb: Handlebars<'static>,
}

impl Rules {
    /// The rules bundled in `stdlib/sim/controllers/`.
    pub fn bundled() -> Result<Rules, RulesError> {
        Rules::from_sources(&crate::assets::Tree::Stdlib.yaml_files("sim/controllers"))
    }

    /// Rules from `(file name, YAML text)` pairs.
    pub fn from_sources(files: &[(String, String)]) -> Result<Rules, RulesError> {
        let mut rules = Rules {
            rules: vec![],
            links: vec![],
            hb: registry(),
        };
        for (file, text) in files {
            let parsed: RuleFile =
                serde_yaml::from_str(text).map_err(|source| RulesError::Parse {
                    file: file.clone(),
                    source,
                })?;
            for rule in parsed.rules {
                let mut templates: Vec<(String, &str)> = Vec::new();
                for (i, t) in rule.create.iter().enumerate() {
                    templates.push((format!("{}/create/{i}", rule.name), t));
                }
                if let Some(s) = &rule.status {
                    templates.push((format!("{}/status", rule.name), s));
                }
                for (k, l) in &rule.lookup {
                    templates.push((format!("{}/lookup/{k}/name", rule.name), &l.name));
                    if let Some(ns) = &l.namespace {
                        templates.push((format!("{}/lookup/{k}/namespace", rule.name), ns));
                    }
                }
                for (name, t) in templates {
                    rules.hb.register_template_string(&name, t).map_err(|e| {
                        RulesError::Template {
                            file: file.clone(),
                            rule: rule.name.clone(),
                            source: Box::new(e),
                        }
                    })?;
                }
                rules.rules.push(rule);
            }
            rules.links.extend(parsed.links);
        }
        Ok(rules)
    }

    /// Names of the loaded rules.
    pub fn names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }

    fn applies_to_kind(rule: &Rule, obj: &Value) -> bool {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        obj["kind"] == rule.matcher.kind.as_str() && group == rule.matcher.group
    }

    fn matches(rule: &Rule, obj: &Value) -> bool {
        let fields_ok = rule
            .matcher
            .fields
            .iter()
            .all(|(path, want)| match field(obj, path) {
                Value::String(s) => want.contains(s),
                Value::Null => want.contains(""),
                other => want.contains(&other.to_string()),
            });
        let labels_ok = match &rule.matcher.labels {
            Some(sel) => LabelSelector::parse(sel).is_ok_and(|s| s.matches(obj)),
            None => true,
        };
        fields_ok && labels_ok
    }

    /// Objects to re-reconcile because `obj` changed: objects of kinds whose rules look up
    /// `obj`'s kind, and, when a CRD changed, everything rules match (their kinds may now exist).
    pub(crate) fn watchers(&self, c: &Cluster, res: &ResKey, obj: &Value) -> Vec<Key> {
        let crd_changed = res.group == "apiextensions.k8s.io";
        let mut out = Vec::new();
        for rule in &self.rules {
            let looked_up = rule.lookup.values().any(|l| {
                obj["kind"] == l.kind.as_str() && obj["apiVersion"] == l.api_version.as_str()
            });
            if !crd_changed && !looked_up {
                continue;
            }
            let reg = c.registry();
            let Some(def) = reg
                .all()
                .iter()
                .find(|d| d.group == rule.matcher.group && d.kind == rule.matcher.kind)
                .cloned()
            else {
                continue;
            };
            drop(reg);
            let ns = meta_str(obj, "namespace");
            let scope = if crd_changed || !def.namespaced || ns.is_empty() {
                None
            } else {
                Some(ns)
            };
            for (ns, name) in c.store.keys(&def.key(), scope) {
                out.push(Key {
                    res: def.key(),
                    ns,
                    name,
                });
            }
        }
        out
    }

    /// Runs every rule for `obj`.
    pub(crate) fn reconcile(&self, c: &Cluster, res: &ResKey, obj: &Value) -> Outcome {
        let mut outcome = Outcome::Done;
        let _ = res;
        for rule in self.rules.iter().filter(|r| Self::applies_to_kind(r, obj)) {
            if !obj["metadata"]["deletionTimestamp"].is_null() {
                continue;
            }
            if !Self::matches(rule, obj) {
                remove_created(c, rule, obj);
                if rule.replicate.is_some() {
                    remove_copies(c, rule, obj);
                }
                continue;
            }
            if let Err(e) = self.run(c, rule, obj) {
                match e {
                    RunError::KindMissing(why) => {
                        tracing::debug!("rule `{}` waits: {why}", rule.name);
                        outcome = Outcome::Retry;
                    }
                    RunError::Failed(why) => {
                        tracing::warn!("simulator rule `{}` failed: {why}", rule.name)
                    }
                }
            }
        }
        outcome
    }

    fn run(&self, c: &Cluster, rule: &Rule, obj: &Value) -> Result<(), RunError> {
        let mut ctx =
            json!({"object": obj, "cluster": {"name": c.name, "index": c.index}, "lookup": {}});
        for (k, l) in &rule.lookup {
            let name = self.render(&format!("{}/lookup/{k}/name", rule.name), &ctx)?;
            let ns = match &l.namespace {
                Some(_) => self.render(&format!("{}/lookup/{k}/namespace", rule.name), &ctx)?,
                None => meta_str(obj, "namespace").to_string(),
            };
            let def = c.registry().by_kind(&l.api_version, &l.kind);
            let found = def.and_then(|d| {
                c.store
                    .get(&d.key(), if d.namespaced { &ns } else { "" }, name.trim())
            });
            ctx["lookup"][k] = found.unwrap_or(Value::Null);
        }
        let mut missing = None;
        for i in 0..rule.create.len() {
            let text = self.render(&format!("{}/create/{i}", rule.name), &ctx)?;
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let mut v = Value::deserialize(doc)
                    .map_err(|e| RunError::Failed(format!("rendered object is not YAML: {e}")))?;
                if !v.is_object() {
                    continue;
                }
                if rule.owned {
                    own(&mut v, rule, obj);
                } else {
                    v["metadata"]["annotations"][RULE_ANNOTATION] = json!(rule.name);
                }
                if rule.replicate.is_some() {
                    let mut copy = v.clone();
                    if let Some(m) = copy["metadata"].as_object_mut() {
                        m.remove("ownerReferences");
                    }
                    copy["metadata"]["annotations"][OWNER_ANNOTATION] = json!(meta_str(obj, "uid"));
                    copy["metadata"]["annotations"]["sim.meshbook.dev/source-cluster"] =
                        json!(c.name);
                    for peer in self.linked_peers(c) {
                        if let Err(e) = apply_once(&peer, &copy, &format!("sim-rule/{}", rule.name))
                        {
                            tracing::debug!(
                                "rule `{}` cannot copy into `{}` yet: {}",
                                rule.name,
                                peer.name,
                                e.message
                            );
                        }
                    }
                }
                if let Err(e) = apply_once(c, &v, &format!("sim-rule/{}", rule.name)) {
                    if e.code == 404 && e.details["kind"] == "namespaces" {
                        missing = Some(e.message);
                    } else if e.code == 404 {
                        tracing::debug!("rule `{}` waits for a kind: {}", rule.name, e.message);
                    } else {
                        return Err(RunError::Failed(e.message));
                    }
                }
            }
        }
        if rule.status.is_some() {
            let text = self.render(&format!("{}/status", rule.name), &ctx)?;
            let patch: Value = serde_yaml::from_str(&text)
                .map_err(|e| RunError::Failed(format!("rendered status is not YAML: {e}")))?;
            if let Some(def) = c.registry().by_kind(
                obj["apiVersion"].as_str().unwrap_or_default(),
                obj["kind"].as_str().unwrap_or_default(),
            ) {
                let ns = meta_str(obj, "namespace").to_string();
                let _ = c
                    .store
                    .modify(&def.key(), &ns, meta_str(obj, "name"), false, |cur| {
                        let mut n = cur
                            .cloned()
                            .ok_or_else(|| super::status::ApiError::not_found(&def.key(), ""))?;
                        let mut st = n["status"].clone();
                        merge_patch(&mut st, &patch);
                        n["status"] = st;
                        Ok(n)
                    });
            }
        }
        match missing {
            Some(m) => Err(RunError::KindMissing(m)),
            None => Ok(()),
        }
    }

    fn render(&self, name: &str, ctx: &Value) -> Result<String, RunError> {
        self.hb
            .render(name, ctx)
            .map_err(|e| RunError::Failed(format!("template `{name}`: {e}")))
    }
}

enum RunError {
    KindMissing(String),
    Failed(String),
}

/// Marks a created object with its rule and owner; a real ownerReference where Kubernetes
/// allows one (owner cluster-scoped or in the same namespace).
fn own(v: &mut Value, rule: &Rule, owner: &Value) {
    let uid = meta_str(owner, "uid").to_string();
    v["metadata"]["annotations"][RULE_ANNOTATION] = json!(rule.name);
    v["metadata"]["annotations"][OWNER_ANNOTATION] = json!(uid);
    let owner_ns = meta_str(owner, "namespace");
    let ns = v["metadata"]["namespace"].as_str().unwrap_or(owner_ns);
    if owner_ns.is_empty() || owner_ns == ns {
        if v["metadata"]["namespace"].is_null() && !owner_ns.is_empty() {
            v["metadata"]["namespace"] = json!(owner_ns);
        }
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    }
}

/// Applies what a rule rendered, unless the rule applied exactly that to the object and
/// nothing wrote it since (the apply would change nothing: rules re-render on every change of
/// the objects they match or look up).
fn apply_once(c: &Cluster, obj: &Value, manager: &str) -> Result<(), super::status::ApiError> {
    let place = c
        .registry()
        .by_kind(
            obj["apiVersion"].as_str().unwrap_or_default(),
            obj["kind"].as_str().unwrap_or_default(),
        )
        .map(|def| {
            let ns = match meta_str(obj, "namespace") {
                _ if !def.namespaced => "",
                "" => "default",
                n => n,
            };
            (def.key(), ns.to_string(), meta_str(obj, "name").to_string())
        });
    if let Some(place) = &place {
        if c.store.applied_unchanged(place, manager, obj) {
            return Ok(());
        }
    }
    let after = c.apply_object(obj, manager)?;
    if let Some(place) = place {
        let rv = meta_str(&after, "resourceVersion").to_string();
        c.store.remember_applied(place, manager, obj.clone(), rv);
    }
    Ok(())
}

/// Deletes what a rule created for an object that no longer matches it.
fn remove_created(c: &Cluster, rule: &Rule, owner: &Value) {
    let uid = meta_str(owner, "uid");
    if rule.create.is_empty() || uid.is_empty() || !rule.owned {
        return;
    }
    for (res, o) in c.store.owned_by(uid) {
        if o["metadata"]["annotations"][RULE_ANNOTATION] == rule.name.as_str() {
            let _ = c
                .store
                .delete(&res, meta_str(&o, "namespace"), meta_str(&o, "name"), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"
rules:
- name: test
  match: {group: example.com, kind: Widget, fields: {spec.class: [a, b]}, labels: "env=prod"}
  lookup:
    svc: {apiVersion: v1, kind: Service, name: "{{object.metadata.name}}-svc"}
  create:
  - |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: "{{object.metadata.name}}-cm"}
    data: {ports: '{{json (uniq_by object.spec.ports "port")}}'}
  status: |
    ready: {{#if lookup.svc}}true{{else}}false{{/if}}
"#;

    #[test]
    fn parses_matches_and_renders() {
        let rules = Rules::from_sources(&[("t.yaml".into(), RULE.into())]).unwrap();
        assert_eq!(rules.names(), vec!["test"]);
        let r = &rules.rules[0];
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "d", "labels": {"env": "prod"}},
            "spec": {"class": "b", "ports": [{"port": 1}, {"port": 1}, {"port": 2}]}});
        assert!(Rules::applies_to_kind(r, &obj) && Rules::matches(r, &obj));
        let mut other = obj.clone();
        other["spec"]["class"] = json!("c");
        assert!(!Rules::matches(r, &other));
        let ctx =
            json!({"object": obj, "lookup": {"svc": null}, "cluster": {"name": "c", "index": 0}});
        let out = rules.render("test/create/0", &ctx).ok().unwrap();
        assert!(out.contains(r#"[{"port":1},{"port":2}]"#), "{out}");
        let st = rules.render("test/status", &ctx).ok().unwrap();
        assert_eq!(st.trim(), "ready: false");
    }

    #[test]
    fn bad_templates_are_reported() {
        let bad = "rules:\n- name: x\n  match: {kind: Pod}\n  status: '{{#if}}'\n";
        let err = Rules::from_sources(&[("bad.yaml".into(), bad.into())])
            .err()
            .unwrap();
        assert!(err.to_string().contains("rule `x`"), "{err}");
    }

    #[test]
    fn bundled_rules_load() {
        let rules = Rules::bundled().unwrap();
        assert!(
            rules.names().iter().any(|n| n.starts_with("istio-gateway")),
            "{:?}",
            rules.names()
        );
    }
}

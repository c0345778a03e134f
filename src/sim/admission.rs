//! Dynamic admission: the MutatingWebhookConfigurations and ValidatingWebhookConfigurations
//! (admissionregistration.k8s.io/v1) of a simulated cluster, called on the writes they match
//! as the API server calls them
//! (<https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/>):
//! mutating webhooks first (configurations in name order, webhooks in order), their
//! base64 JSONPatch applied, then validating ones; `rules` (operations, apiGroups,
//! apiVersions, resources with `*` and subresources, scope), `matchPolicy`,
//! `namespaceSelector`, `objectSelector` and `matchConditions` (CEL over `object`,
//! `oldObject` and `request`) decide which are called.
//!
//! A `clientConfig.url` webhook gets a real HTTP(S) POST of an AdmissionReview v1 (its
//! `caBundle` trusted). A `clientConfig.service` one names a Service of the simulated
//! cluster: with no ready endpoints (or no Service) the call fails as a real one would, and
//! `failurePolicy` decides (Fail: the API server's 500 `failed calling webhook`, Ignore:
//! allowed); with ready endpoints its pods are simulated ones (istiod's sidecar injector and
//! validation, Gloo's), which cannot answer: the request is allowed as simulated, said in a
//! `Warning` header, and never mutated. Dry-run requests call only webhooks whose
//! `sideEffects` is None or NoneOnDryRun; others fail the request, as upstream.
//!
//! Writes of the simulated controllers (a ReplicaSet's pods, ...) pass webhooks that cannot
//! be reached: unlike kube-controller-manager they do not retry a failed write.
//!
//! What a write needs from the store (configurations, namespace labels, Services and their
//! endpoints) is gathered by [`Plan::prepare`] before the write takes the store's lock.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::cluster::{Cluster, WriteOpts};
use super::patch::json_patch;
use super::resources::{ResKey, ResourceDef};
use super::selector::LabelSelector;
use super::status::ApiError;
use super::validation;
use crate::problem::Problem;

/// The operation of a write, as AdmissionReview names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }

    fn options_kind(self) -> &'static str {
        match self {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
            Operation::Delete => "DeleteOptions",
        }
    }
}

/// How a matching webhook is reached.
#[derive(Clone, Debug)]
enum Target {
    /// A real endpoint: `(url, caBundle PEM)`.
    Url(String, Option<Vec<u8>>),
    /// A Service whose pods are simulated and ready.
    Simulated,
    /// The call cannot be made: why (after `Post "URL": `).
    Unreachable(String, String),
}

#[derive(Clone, Debug)]
struct Hook {
    name: String,
    mutating: bool,
    fail_closed: bool,
    timeout: u64,
    side_effects_ok_for_dry_run: bool,
    namespace_selector: Option<LabelSelector>,
    object_selector: LabelSelector,
    /// `matchConditions`: (name, CEL expression).
    match_conditions: Vec<(String, String)>,
    target: Target,
}

/// The webhooks a write may call, gathered before the write.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    hooks: Vec<Hook>,
    /// Labels of the request's namespace (namespaced kinds).
    ns_labels: Value,
    namespaced: bool,
    is_namespace: bool,
    group: String,
    version: String,
    kind: String,
    resource: String,
    sub: Option<String>,
    op: Option<Operation>,
}

const CONFIGS: [(&str, bool); 2] = [
    ("mutatingwebhookconfigurations", true),
    ("validatingwebhookconfigurations", false),
];

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn any(list: &[&str], want: &str) -> bool {
    list.iter().any(|x| *x == "*" || *x == want)
}

/// Whether one rule of a webhook matches (apiserver's `rules.Matcher`).
fn rule_matches(
    rule: &Value,
    op: Operation,
    def: &ResourceDef,
    version: &str,
    sub: Option<&str>,
    exact: bool,
) -> bool {
    let ops = strs(&rule["operations"]);
    if !any(&ops, op.name()) {
        return false;
    }
    if !any(&strs(&rule["apiGroups"]), &def.group) {
        return false;
    }
    let versions = strs(&rule["apiVersions"]);
    let version_ok = if exact {
        any(&versions, version)
    } else {
        // Equivalent: the same resource at any version it is served in
        def.versions.iter().any(|v| any(&versions, v)) || any(&versions, version)
    };
    if !version_ok {
        return false;
    }
    let sub = sub.unwrap_or("");
    let resource_ok = strs(&rule["resources"]).iter().any(|r| {
        let (res, rsub) = r.split_once('/').unwrap_or((r, ""));
        (res == "*" || res == def.plural) && (rsub == "*" || rsub == sub)
    });
    if !resource_ok {
        return false;
    }
    match rule["scope"].as_str().unwrap_or("*") {
        "Cluster" => !def.namespaced,
        "Namespaced" => def.namespaced,
        _ => true,
    }
}

fn service_target(c: &Cluster, svc: &Value, timeout: u64) -> Target {
    let name = svc["name"].as_str().unwrap_or_default();
    let ns = svc["namespace"].as_str().unwrap_or_default();
    let port = svc["port"].as_i64().unwrap_or(443);
    let path = svc["path"].as_str().unwrap_or_default();
    let url = format!("https://{name}.{ns}.svc:{port}{path}?timeout={timeout}s");
    if c.store
        .get(&ResKey::new("", "services"), ns, name)
        .is_none()
    {
        return Target::Unreachable(url, format!("service {name:?} not found"));
    }
    let ready = c
        .store
        .get(&ResKey::new("", "endpoints"), ns, name)
        .and_then(|e| e["subsets"].as_array().cloned())
        .into_iter()
        .flatten()
        .any(|s| s["addresses"].as_array().is_some_and(|a| !a.is_empty()));
    if ready {
        Target::Simulated
    } else {
        Target::Unreachable(url, format!("no endpoints available for service {name:?}"))
    }
}

impl Plan {
    /// The webhooks that may be called for `op` on `def` (at `version`, subresource `sub`)
    /// in namespace `ns`. Writes of webhook configurations and admission policies themselves
    /// are never sent to webhooks (as upstream).
    pub fn prepare(
        c: &Cluster,
        def: &ResourceDef,
        version: &str,
        ns: &str,
        sub: Option<&str>,
        op: Operation,
    ) -> Plan {
        let mut plan = Plan {
            namespaced: def.namespaced,
            is_namespace: def.group.is_empty() && def.plural == "namespaces",
            group: def.group.clone(),
            version: version.to_string(),
            kind: def.kind.clone(),
            resource: def.plural.clone(),
            sub: sub.map(String::from),
            op: Some(op),
            ..Plan::default()
        };
        if def.group == "admissionregistration.k8s.io" {
            return plan;
        }
        for (plural, mutating) in CONFIGS {
            let mut configs = c
                .store
                .list(&ResKey::new("admissionregistration.k8s.io", plural), None)
                .0;
            if configs.is_empty() {
                continue;
            }
            configs.sort_by(|a, b| {
                a["metadata"]["name"]
                    .as_str()
                    .cmp(&b["metadata"]["name"].as_str())
            });
            for cfg in configs {
                for w in cfg["webhooks"].as_array().into_iter().flatten() {
                    let exact = w["matchPolicy"].as_str() == Some("Exact");
                    let rules = w["rules"].as_array().cloned().unwrap_or_default();
                    if !rules
                        .iter()
                        .any(|r| rule_matches(r, op, def, version, sub, exact))
                    {
                        continue;
                    }
                    let timeout = w["timeoutSeconds"].as_u64().unwrap_or(10);
                    let cc = &w["clientConfig"];
                    let target = match cc["url"].as_str() {
                        Some(url) => {
                            let ca = cc["caBundle"].as_str().and_then(|b| {
                                base64::engine::general_purpose::STANDARD.decode(b).ok()
                            });
                            Target::Url(url.to_string(), ca)
                        }
                        None => service_target(c, &cc["service"], timeout),
                    };
                    plan.hooks.push(Hook {
                        name: w["name"].as_str().unwrap_or_default().to_string(),
                        mutating,
                        fail_closed: w["failurePolicy"].as_str() != Some("Ignore"),
                        timeout,
                        side_effects_ok_for_dry_run: matches!(
                            w["sideEffects"].as_str(),
                            Some("None" | "NoneOnDryRun")
                        ),
                        namespace_selector: w
                            .get("namespaceSelector")
                            .filter(|s| s.is_object())
                            .map(LabelSelector::from_object),
                        object_selector: LabelSelector::from_object(&w["objectSelector"]),
                        match_conditions: w["matchConditions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|m| {
                                let field = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                                (field("name"), field("expression"))
                            })
                            .collect(),
                        target,
                    });
                }
            }
        }
        if !plan.hooks.is_empty() && def.namespaced && !ns.is_empty() {
            plan.ns_labels = c
                .store
                .get(&ResKey::new("", "namespaces"), "", ns)
                .map(|n| n["metadata"]["labels"].clone())
                .unwrap_or(Value::Null);
        }
        plan
    }

    /// Whether no webhook can be called.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    fn selected(&self, hook: &Hook, obj: Option<&Value>, old: Option<&Value>) -> bool {
        let labels_of =
            |o: Option<&Value>| o.map_or(Value::Null, |o| o["metadata"]["labels"].clone());
        if let Some(sel) = &hook.namespace_selector {
            // a namespace is selected by its own labels; other cluster-scoped objects always
            let labels = if self.is_namespace {
                let l = labels_of(obj);
                if l.is_null() {
                    labels_of(old)
                } else {
                    l
                }
            } else if self.namespaced {
                self.ns_labels.clone()
            } else {
                Value::Null
            };
            if (self.namespaced || self.is_namespace) && !sel.matches_labels(&labels) {
                return false;
            }
        }
        hook.object_selector.is_empty()
            || [obj, old]
                .into_iter()
                .flatten()
                .any(|o| hook.object_selector.matches(o))
    }

    /// Calls the matching webhooks of one kind (`mutating` or validating) for a write:
    /// `obj` is the object to be stored (None for a delete), `old` the live one. Mutations
    /// are applied to `obj`; a denial or a failed call under `failurePolicy: Fail` is the
    /// request's error.
    pub fn run(
        &self,
        mutating: bool,
        obj: Option<&mut Value>,
        old: Option<&Value>,
        opts: &WriteOpts,
    ) -> Result<(), ApiError> {
        let mut obj = obj;
        for hook in self.hooks.iter().filter(|h| h.mutating == mutating) {
            if !self.selected(hook, obj.as_deref(), old) {
                continue;
            }
            match self.conditions_hold(hook, obj.as_deref(), old, opts) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) if !hook.fail_closed => continue,
                Err(e) => return Err(e),
            }
            if opts.dry_run && !hook.side_effects_ok_for_dry_run {
                return Err(ApiError::bad_request(format!(
                    "admission webhook {:?} does not support dry run",
                    hook.name
                )));
            }
            let answer = match &hook.target {
                Target::Simulated => {
                    opts.warnings.push(format!(
                        "meshbook: admission webhook {:?} answered as simulated (allowed, not mutated): its service's pods are simulated",
                        hook.name
                    ));
                    continue;
                }
                // the simulated controllers do not retry a failed write as kube-controller-manager
                // does (a ReplicaSet's pods would never come once the webhook's pods are ready):
                // their writes pass webhooks that cannot be reached
                Target::Unreachable(..) if opts.controller => continue,
                Target::Unreachable(url, why) => Err(Problem::new(format!("Post {url:?}: {why}"))),
                Target::Url(url, ca) => {
                    let review = self.review(obj.as_deref(), old, opts);
                    call(url, ca.as_deref(), hook.timeout, &review)
                }
            };
            let response = match answer {
                Ok(r) => r,
                Err(why) => {
                    if !hook.fail_closed {
                        tracing::debug!("webhook {} failed, ignored: {why}", hook.name);
                        continue;
                    }
                    let msg = format!(
                        "failed calling webhook {:?}: failed to call webhook: {why}",
                        hook.name
                    );
                    let mut e = ApiError::new(
                        500,
                        "InternalError",
                        format!("Internal error occurred: {msg}"),
                    );
                    e.details = json!({"causes": [{"message": msg}]});
                    return Err(e);
                }
            };
            let r = &response["response"];
            for w in r["warnings"].as_array().into_iter().flatten() {
                if let Some(w) = w.as_str() {
                    opts.warnings.push(w.to_string());
                }
            }
            if r["allowed"] != json!(true) {
                return Err(denied(&hook.name, &r["status"]));
            }
            if let (true, Some(o), Some(p)) = (mutating, obj.as_deref_mut(), r["patch"].as_str()) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(p)
                    .map_err(|e| {
                        webhook_bad_answer(&hook.name, &format!("the patch is not base64: {e}"))
                    })?;
                let patch: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    webhook_bad_answer(&hook.name, &format!("the patch is not JSON: {e}"))
                })?;
                json_patch(o, &patch).map_err(|e| {
                    webhook_bad_answer(
                        &hook.name,
                        &format!("the patch could not be applied: {}", e.message),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// `matchConditions` (CEL over `object`, `oldObject` and `request`): the webhook is called
    /// only when all hold; one that is false skips it, an error is the webhook's failure.
    fn conditions_hold(
        &self,
        hook: &Hook,
        obj: Option<&Value>,
        old: Option<&Value>,
        opts: &WriteOpts,
    ) -> Result<bool, ApiError> {
        if hook.match_conditions.is_empty() {
            return Ok(true);
        }
        let review = self.review(obj, old, opts);
        let request = &review["request"];
        let mut error = None;
        for (name, expr) in &hook.match_conditions {
            let vars = [
                ("object", &request["object"]),
                ("oldObject", &request["oldObject"]),
                ("request", request),
            ];
            match validation::cel::eval_with(expr, &vars) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => {
                    error.get_or_insert(format!(
                        "failed to evaluate match condition {name:?} of webhook {:?}: {e}",
                        hook.name
                    ));
                }
            }
        }
        match error {
            None => Ok(true),
            Some(e) => Err(ApiError::new(
                500,
                "InternalError",
                format!("Internal error occurred: {e}"),
            )),
        }
    }

    fn review(&self, obj: Option<&Value>, old: Option<&Value>, opts: &WriteOpts) -> Value {
        let op = self.op.unwrap_or(Operation::Create);
        let meta = obj.or(old).map(|o| &o["metadata"]);
        let kind = json!({"group": self.group, "version": self.version, "kind": self.kind});
        let resource =
            json!({"group": self.group, "version": self.version, "resource": self.resource});
        let mut req = json!({
            "uid": uuid(),
            "kind": kind, "resource": resource,
            "requestKind": kind, "requestResource": resource,
            "name": meta.and_then(|m| m["name"].as_str()).unwrap_or_default(),
            "operation": op.name(),
            "userInfo": {"username": "meshbook-sim", "groups": ["system:masters", "system:authenticated"]},
            "object": obj.cloned().unwrap_or(Value::Null),
            "oldObject": old.cloned().unwrap_or(Value::Null),
            "dryRun": opts.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": op.options_kind()},
        });
        if let Some(ns) = meta.and_then(|m| m["namespace"].as_str()) {
            req["namespace"] = json!(ns);
        }
        if let Some(s) = &self.sub {
            req["subResource"] = json!(s);
        }
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
    }
}

fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0xfff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// A denial as the API server words it (apiserver's `webhookerrors.ToStatusErr`).
fn denied(name: &str, status: &Value) -> ApiError {
    let by = format!("admission webhook {name:?} denied the request");
    let message = status["message"].as_str().filter(|m| !m.is_empty());
    let reason = status["reason"].as_str().filter(|r| !r.is_empty());
    let text = match (message, reason) {
        (Some(m), _) => format!("{by}: {m}"),
        (None, Some(r)) => format!("{by}: {r}"),
        (None, None) => format!("{by} without explanation"),
    };
    let code = status["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400)
        .unwrap_or(400);
    let mut e = ApiError::new(code, reason.unwrap_or(""), text);
    if !status["details"].is_null() {
        e.details = status["details"].clone();
    }
    e
}

fn webhook_bad_answer(name: &str, why: &str) -> ApiError {
    let msg = format!("failed calling webhook {name:?}: {why}");
    ApiError::new(
        500,
        "InternalError",
        format!("Internal error occurred: {msg}"),
    )
}

/// POSTs an AdmissionReview and reads the answer (errors as Go's client words them, after
/// `Post "URL": `).
fn call(url: &str, ca: Option<&[u8]>, timeout: u64, review: &Value) -> Result<Value, Problem> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}timeout={timeout}s");
    let uid = review["request"]["uid"].clone();
    let (url, ca, review) = (full.clone(), ca.map(<[u8]>::to_vec), review.clone());
    let fut = async move {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(timeout));
        if let Some(pem) = ca {
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Problem::new(format!("Post {url:?}: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        let client = b
            .build()
            .map_err(|e| Problem::new(format!("Post {url:?}: {e}")))?;
        let resp = client
            .post(&url)
            .json(&review)
            .send()
            .await
            .map_err(|e| Problem::new(format!("Post {url:?}: {}", error_chain(&e))))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Problem::new(format!("Post {url:?}: {e}")))?;
        if !status.is_success() {
            return Err(Problem::new(format!(
                "Post {url:?}: the server responded with the status code {} but did not return more information",
                status.as_u16()
            )));
        }
        serde_json::from_slice::<Value>(&body).map_err(|e| {
            Problem::new(format!(
                "Post {url:?}: the answer is not an AdmissionReview: {e}"
            ))
        })
    };
    let answer = block_on(fut)?;
    if answer["response"]["uid"] != uid {
        return Err(Problem::new(format!(
            "expected response.uid={}, got {}",
            uid, answer["response"]["uid"]
        )));
    }
    Ok(answer)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// Runs a webhook call from the (synchronous) write path: on a multi-threaded runtime the
/// worker hands its other tasks over while it waits; elsewhere the call runs on a thread of
/// its own.
fn block_on<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, Problem>> + Send + 'static,
) -> Result<T, Problem> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if let Ok(h) = Handle::try_current() {
        if h.runtime_flavor() == RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(|| h.block_on(fut));
        }
    }
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(fut)
    })
    .join()
    .map_err(|_| "the webhook call failed".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> ResourceDef {
        super::super::resources::builtin_defs()
            .into_iter()
            .find(|d| d.plural == "pods" && d.group.is_empty())
            .unwrap()
    }

    #[test]
    fn rules_match_as_upstream() {
        let d = pods();
        let r = json!({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]});
        assert!(rule_matches(&r, Operation::Create, &d, "v1", None, false));
        assert!(!rule_matches(&r, Operation::Update, &d, "v1", None, false));
        assert!(!rule_matches(
            &r,
            Operation::Create,
            &d,
            "v1",
            Some("status"),
            false
        ));
        let all = json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "scope": "Namespaced"});
        assert!(rule_matches(
            &all,
            Operation::Update,
            &d,
            "v1",
            Some("status"),
            true
        ));
        let cluster = json!({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"});
        assert!(!rule_matches(
            &cluster,
            Operation::Create,
            &d,
            "v1",
            None,
            false
        ));
    }

    #[test]
    fn denials_are_worded_as_upstream() {
        let e = denied("deny.example.com", &json!({"message": "no", "code": 403}));
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "admission webhook \"deny.example.com\" denied the request: no"
        );
        let e = denied("d.example.com", &json!({}));
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "admission webhook \"d.example.com\" denied the request without explanation"
            )
        );
    }
}

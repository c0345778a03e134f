//! Server-side apply of manifests, with created/configured/unchanged outcomes.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::clusters::{object_ref, Cluster};
use super::discovery::ResourceType;
use super::error::{is_not_found, K8sError, Result};
use super::manifest::{self, Document};
use super::retry::{retrying, transient_delay};
use super::rollout::condition_true;
use super::waits::Outcome;
use crate::base::selector::Selector;

/// Field manager of every meshbook write.
pub const FIELD_MANAGER: &str = "meshbook";
/// Documents applied at once at first; the window grows by one with every success (doubling
/// each round trip while the server keeps up) up to [`MAX_CONCURRENCY`], and halves when the
/// server answers 429 or 503 (additive increase, multiplicative decrease).
const CONCURRENCY: usize = 16;
/// Largest window of concurrent applies.
const MAX_CONCURRENCY: usize = 256;
/// Longest wait for a CRD to become Established before applying its objects.
const CRD_ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of `apply`.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Namespace for namespaced kinds without one; a different one in a document is an error.
    pub namespace: Option<String>,
    /// Keep only documents whose labels match this selector (as `kubectl apply -l`).
    pub selector: Option<String>,
    /// Server-side dry run: nothing is persisted.
    pub dry_run: bool,
}

/// What an apply did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyOutcome {
    /// It did not exist.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed and did not change.
    Unchanged,
}

impl std::fmt::Display for ApplyOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        })
    }
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Kind.
    pub kind: String,
    /// apiVersion.
    pub api_version: String,
    /// Namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// What happened.
    pub outcome: ApplyOutcome,
    /// On a dry run, what the apply would change, as a unified diff (`None`: nothing, or not
    /// a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One object of a `delete_yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// Kind.
    pub kind: String,
    /// Namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Whether it existed.
    pub existed: bool,
}

/// The outcome from the object before and after the apply: absent before = created, the same
/// resourceVersion, or the same content but for status, = unchanged.
pub fn outcome(before: Option<&Value>, after: &Value, dry_run: bool) -> ApplyOutcome {
    let Some(before) = before else {
        return ApplyOutcome::Created;
    };
    // A controller may have written the object's status between the read and the apply (the
    // read can come from one list for many documents): only what the apply sets counts.
    let same = comparable(before) == comparable(after)
        || (!dry_run
            && before.pointer("/metadata/resourceVersion")
                == after.pointer("/metadata/resourceVersion"));
    if same {
        ApplyOutcome::Unchanged
    } else {
        ApplyOutcome::Configured
    }
}

fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "managedFields", "generation"] {
            meta.remove(k);
        }
    }
    o
}

impl Cluster {
    /// Applies multi-document YAML (server-side apply, field manager `meshbook`, force).
    /// CRDs and Namespaces go first; objects of a CRD wait for it to be Established; the rest
    /// are sent concurrently. Results are in document order.
    pub async fn apply(&self, yaml: &str, opts: &ApplyOptions) -> Result<Vec<Applied>> {
        let mut docs = manifest::parse(yaml)?;
        if let Some(sel) = opts.selector.as_deref().filter(|s| !s.trim().is_empty()) {
            docs = manifest::select(docs, &Selector::parse(sel)?);
        }
        for d in &docs {
            manifest::check_namespace(d, opts.namespace.as_deref())?;
        }
        let (first, rest): (Vec<_>, Vec<_>) = docs
            .into_iter()
            .enumerate()
            .partition(|(_, d)| d.is_crd() || d.is_namespace());

        let mut results = self.apply_all(first, opts).await;
        results.sort_by_key(|(i, _)| *i);
        if let Some((_, Err(_))) = results.iter().find(|(_, r)| r.is_err()) {
            // Namespaces and CRDs come first because the rest needs them: stop here.
            return results.into_iter().map(|(_, r)| r).collect();
        }
        let crds: Vec<String> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .filter(|a| {
                a.kind == "CustomResourceDefinition" && a.outcome != ApplyOutcome::Unchanged
            })
            .map(|a| a.name.clone())
            .collect();
        if !crds.is_empty() && !opts.dry_run {
            // waited for together: each wait is a watch, and the server establishes them
            // independently (the first failure, in document order, is the answer)
            let waits = crds.iter().map(|name| self.wait_crd_established(name));
            for r in futures::future::join_all(waits).await {
                r?;
            }
            self.forget_catalog().await;
        }
        // Every kind must be served before anything else is written.
        let mut kinds = std::collections::BTreeSet::new();
        for (_, d) in &rest {
            if kinds.insert((d.api_version(), d.kind())) {
                self.type_of(d.api_version(), d.kind()).await?;
            }
        }
        results.extend(self.apply_all(rest, opts).await);
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Applies the manifest in a file.
    pub async fn apply_file(
        &self,
        path: &std::path::Path,
        opts: &ApplyOptions,
    ) -> Result<Vec<Applied>> {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| K8sError::File {
                path: path.display().to_string(),
                source,
            })?;
        self.apply(&text, opts).await
    }

    async fn apply_all(
        &self,
        docs: Vec<(usize, Document)>,
        opts: &ApplyOptions,
    ) -> Vec<(usize, Result<Applied>)> {
        let window = Window::new(CONCURRENCY, MAX_CONCURRENCY);
        let window = &window;
        let known = self.prefetch(&docs, opts).await;
        let known = &known;
        stream::iter(docs)
            .map(|(i, d)| async move {
                let permit = window.acquire().await;
                let r = self.apply_document_in(&d, opts, Some(window), known).await;
                window.release(permit);
                (i, r)
            })
            .buffer_unordered(MAX_CONCURRENCY)
            .collect()
            .await
    }

    /// Applies one object (a JSON value with apiVersion, kind and metadata.name).
    pub async fn apply_object(&self, object: Value, opts: &ApplyOptions) -> Result<Applied> {
        let doc = Document { index: 1, object };
        if doc.kind().is_empty() || doc.name().is_empty() || doc.api_version().is_empty() {
            return Err(K8sError::Invalid(
                "an object to apply needs `apiVersion`, `kind` and `metadata.name`".into(),
            ));
        }
        manifest::check_namespace(&doc, opts.namespace.as_deref())?;
        self.apply_document(&doc, opts).await
    }

    async fn apply_document(&self, doc: &Document, opts: &ApplyOptions) -> Result<Applied> {
        self.apply_document_in(doc, opts, None, &Known::default())
            .await
    }

    /// Lists once each (kind, namespace) that several documents go to, so their "before"
    /// states cost one round trip instead of one each. Anything that fails is left to the
    /// per-document path.
    async fn prefetch(&self, docs: &[(usize, Document)], opts: &ApplyOptions) -> Known {
        let mut groups: std::collections::BTreeMap<GroupKey, usize> = Default::default();
        for (_, d) in docs {
            let Ok(t) = self.type_of(d.api_version(), d.kind()).await else {
                continue;
            };
            let Ok(ns) = manifest::place(
                d,
                opts.namespace.as_deref(),
                self.default_namespace(),
                t.namespaced,
            ) else {
                continue;
            };
            *groups
                .entry((d.api_version().to_string(), d.kind().to_string(), ns))
                .or_default() += 1;
        }
        let lists = groups.into_iter().filter(|(_, n)| *n >= PREFETCH_AT).map(
            |((api_version, kind, ns), _)| async move {
                let t = self.type_of(&api_version, &kind).await.ok()?;
                let api = self.api(&t, ns.as_deref());
                let lp = kube::api::ListParams::default();
                let list = retrying(|| api.list(&lp)).await.ok()?;
                let objects = list
                    .items
                    .into_iter()
                    .filter_map(|o| {
                        let name = o.metadata.name.clone()?;
                        Some((name, serde_json::to_value(o).unwrap_or_default()))
                    })
                    .collect();
                Some(((api_version, kind, ns), objects))
            },
        );
        Known(
            futures::future::join_all(lists)
                .await
                .into_iter()
                .flatten()
                .collect(),
        )
    }

    async fn apply_document_in(
        &self,
        doc: &Document,
        opts: &ApplyOptions,
        window: Option<&Window>,
        known: &Known,
    ) -> Result<Applied> {
        let t = self.type_of(doc.api_version(), doc.kind()).await?;
        let ns = manifest::place(
            doc,
            opts.namespace.as_deref(),
            self.default_namespace(),
            t.namespaced,
        )?;
        let object = manifest::with_namespace(doc.object.clone(), ns.as_deref());
        let api = self.api(&t, ns.as_deref());
        let name = doc.name();
        let what = object_ref(&t.kind, ns.as_deref(), name);
        let group: GroupKey = (
            doc.api_version().to_string(),
            doc.kind().to_string(),
            ns.clone(),
        );
        let before = match known.0.get(&group) {
            Some(objects) => objects.get(name).cloned(),
            None => retrying_in(window, || api.get_opt(name))
                .await
                .map_err(|e| self.api_error("apply", &what, e))?
                .map(|b| serde_json::to_value(b).unwrap_or_default()),
        };
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = opts.dry_run;
        let patch = Patch::Apply(&object);
        let after = retrying_in(window, || api.patch(name, &params, &patch))
            .await
            .map_err(|e| self.api_error("apply", &what, e))?;
        if let Some(w) = window {
            w.succeeded();
        }
        let after = serde_json::to_value(after).unwrap_or_default();
        tracing::debug!("applied {what} on {}", self.name());
        let diff = if opts.dry_run {
            super::diff::unified(&format!("{} {what}", self.name()), before.as_ref(), &after)
        } else {
            None
        };
        Ok(Applied {
            kind: t.kind.clone(),
            api_version: t.api_version(),
            namespace: ns,
            name: name.to_string(),
            outcome: outcome(before.as_ref(), &after, opts.dry_run),
            diff,
        })
    }

    /// The type of an apiVersion + kind: from discovery, refreshed on a miss; a CRD that
    /// defines it but is not Established yet is waited for.
    async fn type_of(&self, api_version: &str, kind: &str) -> Result<ResourceType> {
        let catalog = self.catalog().await?;
        if let Some(t) = catalog.by_gvk(api_version, kind) {
            return Ok(t.clone());
        }
        let catalog = self.refresh_catalog(&catalog).await?;
        if let Some(t) = catalog.by_gvk(api_version, kind) {
            return Ok(t.clone());
        }
        if let Some(crd) = self.crd_defining(api_version, kind).await? {
            self.wait_crd_established(&crd).await?;
            let catalog = self.refresh_catalog(&catalog).await?;
            if let Some(t) = catalog.by_gvk(api_version, kind) {
                return Ok(t.clone());
            }
        }
        let catalog = self.catalog().await?;
        let near: Vec<String> = if catalog.kinds_like(kind).is_empty() {
            crate::suggest::typos(kind, catalog.types().iter().map(|t| t.kind.as_str()))
                .into_iter()
                .map(String::from)
                .collect()
        } else {
            Vec::new()
        };
        if !near.is_empty() {
            return Err(K8sError::MisspeltKind {
                cluster: self.name().to_string(),
                kind: format!("{kind} ({api_version})"),
                near,
            });
        }
        Err(K8sError::UnknownKind {
            cluster: self.name().to_string(),
            kind: kind.to_string(),
            version: format!(" ({api_version})"),
        })
    }

    /// The name of a CRD that serves `kind` in `api_version`, if one exists.
    async fn crd_defining(&self, api_version: &str, kind: &str) -> Result<Option<String>> {
        let Some((group, version)) = api_version.split_once('/') else {
            return Ok(None);
        };
        let crd_type = self
            .resolve("customresourcedefinitions.apiextensions.k8s.io")
            .await?;
        let api = self.api(&crd_type, None);
        let lp = kube::api::ListParams::default();
        let list = retrying(|| api.list(&lp))
            .await
            .map_err(|e| self.api_error("list", "CustomResourceDefinitions", e))?;
        Ok(list.items.into_iter().find_map(|crd| {
            let spec = &crd.data["spec"];
            let serves = spec["versions"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| v["name"] == version));
            (spec["group"] == group && spec["names"]["kind"] == kind && serves)
                .then(|| crd.metadata.name.clone().unwrap_or_default())
        }))
    }

    async fn wait_crd_established(&self, name: &str) -> Result<()> {
        let crd_type = self
            .resolve("customresourcedefinitions.apiextensions.k8s.io")
            .await?;
        let what = format!("CustomResourceDefinition {name} to be Established");
        match self
            .watch_until(&crd_type, None, name, CRD_ESTABLISH_TIMEOUT, &what, |o| {
                o.is_some_and(|o| condition_true(o, "Established")).into()
            })
            .await?
        {
            Outcome::Done(_) => Ok(()),
            Outcome::Failed(reason, _) => Err(K8sError::Invalid(reason)),
        }
    }

    /// Deletes the objects of a manifest in reverse document order; absent ones are fine.
    pub async fn delete_yaml(&self, yaml: &str, namespace: Option<&str>) -> Result<Vec<Deleted>> {
        let docs = manifest::parse(yaml)?;
        let mut out = Vec::new();
        for doc in docs.iter().rev() {
            manifest::check_namespace(doc, namespace)?;
            let catalog = self.catalog().await?;
            let Some(t) = catalog.by_gvk(doc.api_version(), doc.kind()).cloned() else {
                // Its type is not served (its CRD is gone): so is the object.
                out.push(Deleted {
                    kind: doc.kind().to_string(),
                    namespace: doc.namespace().map(String::from),
                    name: doc.name().to_string(),
                    existed: false,
                });
                continue;
            };
            let ns = manifest::place(doc, namespace, self.default_namespace(), t.namespaced)?;
            let existed = self.delete_typed(&t, doc.name(), ns.as_deref()).await?;
            out.push(Deleted {
                kind: t.kind.clone(),
                namespace: ns,
                name: doc.name().to_string(),
                existed,
            });
        }
        Ok(out)
    }

    /// Deletes one object (background propagation); `false` when it was absent.
    pub(crate) async fn delete_typed(
        &self,
        t: &ResourceType,
        name: &str,
        ns: Option<&str>,
    ) -> Result<bool> {
        let api = self.api(t, ns);
        let ns = ns.filter(|_| t.namespaced);
        let dp = DeleteParams::background();
        match retrying(|| api.delete(name, &dp)).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(self.api_error("delete", object_ref(&t.kind, ns, name), e)),
        }
    }
}

/// Documents of one (kind, namespace) from which one list replaces their GETs.
const PREFETCH_AT: usize = 4;

/// (apiVersion, kind, namespace) of documents applied together.
type GroupKey = (String, String, Option<String>);

/// Objects listed before an apply, by group and name.
#[derive(Default)]
struct Known(std::collections::HashMap<GroupKey, std::collections::HashMap<String, Value>>);

/// The window of concurrent applies: grows by one per success, halves on overload.
struct Window {
    permits: tokio::sync::Semaphore,
    /// (current size, permits still to withdraw after a halving)
    state: std::sync::Mutex<(usize, usize)>,
    max: usize,
}

impl Window {
    fn new(start: usize, max: usize) -> Self {
        Window {
            permits: tokio::sync::Semaphore::new(start),
            state: std::sync::Mutex::new((start, 0)),
            max,
        }
    }

    async fn acquire(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.permits.acquire().await.ok()
    }

    fn release(&self, permit: Option<tokio::sync::SemaphorePermit<'_>>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = permit {
            if st.1 > 0 {
                st.1 -= 1;
                p.forget();
            }
        }
    }

    fn succeeded(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 < self.max && st.1 == 0 {
            st.0 += 1;
            self.permits.add_permits(1);
        }
    }

    fn overloaded(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let half = (st.0 / 2).max(1);
        if st.0 > half {
            st.1 += st.0 - half;
            st.0 = half;
        }
    }

    #[cfg(test)]
    fn size(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// [`retrying`], telling the window when the server says it is overloaded (429, 503).
async fn retrying_in<T, F, Fut>(
    window: Option<&Window>,
    mut op: F,
) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let Some(window) = window else {
        return retrying(op).await;
    };
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                if let kube::Error::Api(s) = &e {
                    if s.code == 429 || s.code == 503 {
                        window.overloaded();
                    }
                }
                attempt += 1;
                match transient_delay(&e, attempt - 1) {
                    Some(delay) if attempt < 6 => tokio::time::sleep(delay).await,
                    _ => return Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn the_window_grows_while_the_server_keeps_up_and_halves_on_overload() {
        let w = Window::new(4, 10);
        for _ in 0..20 {
            let p = w.acquire().await;
            w.succeeded();
            w.release(p);
        }
        assert_eq!(w.size(), 10);
        w.overloaded();
        assert_eq!(w.size(), 5);
        // the withdrawn permits are taken back as work finishes
        for _ in 0..5 {
            let p = w.acquire().await;
            w.release(p);
        }
        assert_eq!(w.permits.available_permits(), 5);
    }

    #[test]
    fn outcomes_from_resource_versions() {
        let a = json!({"metadata": {"resourceVersion": "5"}, "data": {"k": "v"}});
        let b = json!({"metadata": {"resourceVersion": "6"}, "data": {"k": "w"}});
        assert_eq!(outcome(None, &a, false), ApplyOutcome::Created);
        assert_eq!(outcome(Some(&a), &a, false), ApplyOutcome::Unchanged);
        assert_eq!(outcome(Some(&a), &b, false), ApplyOutcome::Configured);
    }

    #[test]
    fn dry_run_outcomes_compare_content() {
        let a =
            json!({"metadata": {"resourceVersion": "5", "managedFields": [1]}, "data": {"k": "v"}});
        let same =
            json!({"metadata": {"resourceVersion": "5", "managedFields": [2]}, "data": {"k": "v"}});
        let changed = json!({"metadata": {"resourceVersion": "5"}, "data": {"k": "w"}});
        assert_eq!(outcome(Some(&a), &same, true), ApplyOutcome::Unchanged);
        assert_eq!(outcome(Some(&a), &changed, true), ApplyOutcome::Configured);
        assert_eq!(ApplyOutcome::Configured.to_string(), "configured");
    }
}

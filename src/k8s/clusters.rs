//! `Cluster` (one logical cluster and its client) and `ClusterSet` (all of a run).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use kube::api::{Api, DynamicObject};
use kube::Client;
use tokio::sync::Mutex;

use super::discovery::{self, Catalog, ResourceType};
use super::error::{api_message, K8sError, Result};
use super::retry::retrying;

/// One logical cluster: its name in runbooks, its kubeconfig context (`None` when simulated),
/// its server URL, a client, and a discovery cache. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    context: Option<String>,
    server: String,
    client: Client,
    stream_client: Option<Client>,
    version: OnceLock<String>,
    catalog: Mutex<Option<Arc<Catalog>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.inner.name)
            .field("context", &self.inner.context)
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster handle over an existing client (`context: None` for a simulated cluster).
    pub fn new(
        name: impl Into<String>,
        context: Option<String>,
        server: impl Into<String>,
        client: Client,
    ) -> Cluster {
        Cluster {
            inner: Arc::new(Inner {
                name: name.into(),
                context,
                server: server.into(),
                client,
                stream_client: None,
                version: OnceLock::new(),
                catalog: Mutex::new(None),
            }),
        }
    }

    /// The same cluster, with a second client for WebSocket calls (exec, port-forward): an
    /// in-process simulator client cannot upgrade connections, a client over its socket can.
    pub fn with_stream_client(self, stream_client: Client) -> Cluster {
        Cluster {
            inner: Arc::new(Inner {
                name: self.inner.name.clone(),
                context: self.inner.context.clone(),
                server: self.inner.server.clone(),
                client: self.inner.client.clone(),
                stream_client: Some(stream_client),
                version: OnceLock::new(),
                catalog: Mutex::new(None),
            }),
        }
    }

    /// The client for WebSocket calls (exec, port-forward).
    pub fn stream_client(&self) -> &Client {
        self.inner
            .stream_client
            .as_ref()
            .unwrap_or(&self.inner.client)
    }

    /// Logical name (`cluster1`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Kubeconfig context, `None` for a simulated cluster.
    pub fn context(&self) -> Option<&str> {
        self.inner.context.as_deref()
    }

    /// Server URL.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// Server version as `vX.Y`, once probed.
    pub fn version(&self) -> Option<&str> {
        self.inner.version.get().map(String::as_str)
    }

    /// The kube client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Asks `/version` and remembers `vX.Y`.
    pub async fn probe(&self) -> std::result::Result<String, kube::Error> {
        // a 429 or 5xx at start is as transient as anywhere else
        let info = retrying(|| self.inner.client.apiserver_version()).await?;
        let minor = info.minor.trim_end_matches('+');
        let v = format!("v{}.{}", info.major, minor);
        let _ = self.inner.version.set(v.clone());
        Ok(v)
    }

    /// The discovery catalog, fetched on first use.
    pub async fn catalog(&self) -> Result<Arc<Catalog>> {
        let mut guard = self.inner.catalog.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = Arc::new(self.fetch_catalog().await?);
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Fetches discovery again unless someone else refreshed it since `seen` was read.
    pub async fn refresh_catalog(&self, seen: &Arc<Catalog>) -> Result<Arc<Catalog>> {
        let mut guard = self.inner.catalog.lock().await;
        if let Some(c) = guard.as_ref() {
            if !Arc::ptr_eq(c, seen) {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(self.fetch_catalog().await?);
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Forgets the discovery cache (after a CRD was applied).
    pub async fn forget_catalog(&self) {
        *self.inner.catalog.lock().await = None;
    }

    async fn fetch_catalog(&self) -> Result<Catalog> {
        retrying(|| discovery::fetch(&self.inner.client))
            .await
            .map_err(|e| self.api_error("discover", "resource types", e))
    }

    /// Resolves a kind as kubectl does, refreshing discovery once on a miss.
    pub async fn resolve(&self, kind: &str) -> Result<ResourceType> {
        let catalog = self.catalog().await?;
        if let Some(t) = catalog.resolve(kind) {
            return Ok(t.clone());
        }
        let catalog = self.refresh_catalog(&catalog).await?;
        catalog.resolve(kind).cloned().ok_or_else(|| {
            let near = catalog.closest(kind);
            if near.is_empty() {
                K8sError::UnknownKind {
                    cluster: self.name().to_string(),
                    kind: kind.to_string(),
                    version: String::new(),
                }
            } else {
                K8sError::MisspeltKind {
                    cluster: self.name().to_string(),
                    kind: kind.to_string(),
                    near,
                }
            }
        })
    }

    /// A dynamic API for a type in a namespace (ignored for cluster-scoped types).
    pub fn api(&self, t: &ResourceType, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = t.api_resource();
        match (t.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client().clone(), ns, &ar),
            (true, None) => Api::default_namespaced_with(self.client().clone(), &ar),
            (false, _) => Api::all_with(self.client().clone(), &ar),
        }
    }

    /// The namespace used when none is given: the client's default (the context's).
    pub fn default_namespace(&self) -> &str {
        self.client().default_namespace()
    }

    /// Wraps a kube error with the cluster, the action and the object.
    pub fn api_error(
        &self,
        action: &str,
        object: impl Into<String>,
        source: kube::Error,
    ) -> K8sError {
        K8sError::Api {
            cluster: self.name().to_string(),
            action: action.to_string(),
            object: object.into(),
            message: api_message(&source),
            source: Box::new(source),
        }
    }
}

/// `Kind ns/name` or `Kind name`.
pub fn object_ref(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The clusters of a run, by logical name, in the order given. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ClusterSet {
    clusters: Arc<Vec<Cluster>>,
    index: Arc<BTreeMap<String, usize>>,
}

impl ClusterSet {
    /// A set of clusters (later duplicates of a name are ignored).
    pub fn new(clusters: Vec<Cluster>) -> ClusterSet {
        let mut index = BTreeMap::new();
        let mut kept = Vec::new();
        for c in clusters {
            if !index.contains_key(c.name()) {
                index.insert(c.name().to_string(), kept.len());
                kept.push(c);
            }
        }
        ClusterSet {
            clusters: Arc::new(kept),
            index: Arc::new(index),
        }
    }

    /// The cluster of a logical name.
    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.index.get(name).map(|&i| &self.clusters[i])
    }

    /// All clusters in order.
    pub fn iter(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.iter()
    }

    /// Logical names in order.
    pub fn names(&self) -> Vec<String> {
        self.clusters.iter().map(|c| c.name().to_string()).collect()
    }

    /// Number of clusters.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }

    /// Runs `f` on every cluster concurrently; results in cluster order.
    pub async fn parallel<T, F, Fut>(&self, f: F) -> Vec<T>
    where
        F: Fn(Cluster) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        futures::future::join_all(self.clusters.iter().cloned().map(f)).await
    }
}

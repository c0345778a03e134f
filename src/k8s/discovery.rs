//! Discovery: which resource types a cluster serves, and kubectl's way of naming them.
//!
//! Legacy discovery only (`/api`, `/apis`, `/apis/{g}/{v}`): it keeps short names and
//! singular names, and a server that ignores the aggregated-discovery Accept header cannot
//! fool it into an empty catalog.

use futures::future::join_all;
use kube::core::ApiResource;
use kube::Client;

/// One resource type served by a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Singular name, e.g. `deployment` (may be empty in old servers).
    pub singular: String,
    /// Short names, e.g. `deploy`.
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether this version is the group's preferred one.
    pub preferred: bool,
}

impl ResourceType {
    /// `group/version` or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The kube-rs handle for dynamic APIs.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        self.plural == name
            || self.singular == name
            || self.kind.to_ascii_lowercase() == name
            || self.short_names.iter().any(|s| s == name)
    }
}

/// Groups compiled into kube-apiserver; they win over CRD groups when a name is ambiguous,
/// as kubectl's RESTMapper orders them.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "events.k8s.io",
    "networking.k8s.io",
    "discovery.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "apiregistration.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "node.k8s.io",
    "scheduling.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
    "internal.apiserver.k8s.io",
];

/// Every resource type of a cluster, ordered by priority (built-in groups first, then the
/// server's order), preferred versions first within a group.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    types: Vec<ResourceType>,
}

impl Catalog {
    /// Builds a catalog from resource types in the server's order.
    pub fn new(mut types: Vec<ResourceType>) -> Catalog {
        // Stable sort: built-in groups first (in server order), then the other groups by name
        // (kube-aggregator gives every CRD group the same priority and breaks ties by name),
        // preferred versions first within a group.
        types.sort_by(|a, b| {
            let builtin = |t: &ResourceType| BUILTIN_GROUPS.contains(&t.group.as_str());
            let rank = |t: &ResourceType| {
                if builtin(t) {
                    String::new()
                } else {
                    t.group.clone()
                }
            };
            (!builtin(a), rank(a), !a.preferred).cmp(&(!builtin(b), rank(b), !b.preferred))
        });
        Catalog { types }
    }

    /// All resource types.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type of an `apiVersion` + `kind` pair, as in a manifest.
    pub fn by_gvk(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.kind == kind && t.api_version() == api_version)
    }

    /// Resolves a kind as kubectl does: `Deployment`, `deployment`, `deploy`, `deployments`,
    /// `deployments.apps`, `deployments.v1.apps`, `gateway.gateway.networking.k8s.io`.
    pub fn resolve(&self, name: &str) -> Option<&ResourceType> {
        let lower = name.to_ascii_lowercase();
        if let Some((head, rest)) = lower.split_once('.') {
            let qualified = self.types.iter().find(|t| {
                t.answers_to(head)
                    && (t.group == rest || format!("{}.{}", t.version, t.group) == rest)
            });
            if qualified.is_some() {
                return qualified;
            }
        }
        self.types.iter().find(|t| t.answers_to(&lower))
    }

    /// Served kinds close to a mistyped one (`deplyoment` -> `deployment`), closest first, by
    /// the name kubectl users type (the singular, else the kind in lower case).
    pub fn closest(&self, name: &str) -> Vec<String> {
        let lower = name.to_ascii_lowercase();
        let head = lower.split('.').next().unwrap_or(&lower).to_string();
        let display = |t: &ResourceType| {
            if t.singular.is_empty() {
                t.kind.to_ascii_lowercase()
            } else {
                t.singular.clone()
            }
        };
        let mut names: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let shown = display(t);
            names.push((t.kind.to_ascii_lowercase(), shown.clone()));
            names.push((t.plural.clone(), shown.clone()));
            names.push((t.singular.clone(), shown.clone()));
            for s in &t.short_names {
                names.push((s.clone(), shown.clone()));
            }
        }
        let near = crate::suggest::typos(&head, names.iter().map(|(n, _)| n.as_str()));
        let mut out: Vec<String> = Vec::new();
        for n in near {
            if let Some((_, shown)) = names.iter().find(|(c, _)| c == n) {
                if !out.contains(shown) {
                    out.push(shown.clone());
                }
            }
        }
        out
    }

    /// Resource names a user could have meant (same kind in another version or group).
    pub fn kinds_like(&self, kind: &str) -> Vec<String> {
        self.types
            .iter()
            .filter(|t| t.kind.eq_ignore_ascii_case(kind))
            .map(|t| t.api_version())
            .collect()
    }
}

/// Fetches the catalog of a cluster. Groups that fail to answer (a broken aggregated API) are
/// skipped, as kubectl does; the core group must answer.
pub async fn fetch(client: &Client) -> Result<Catalog, kube::Error> {
    let core = client.list_core_api_resources("v1").await?;
    let mut types = to_types("", "v1", true, core.resources);
    let groups = client.list_api_groups().await?;
    let mut requests = Vec::new();
    for g in &groups.groups {
        let preferred = g
            .preferred_version
            .as_ref()
            .map(|p| p.version.clone())
            .or_else(|| g.versions.first().map(|v| v.version.clone()))
            .unwrap_or_default();
        for v in &g.versions {
            let is_preferred = v.version == preferred;
            let (group, version, gv) = (g.name.clone(), v.version.clone(), v.group_version.clone());
            requests.push(async move {
                // transient answers (429, 5xx) are retried; a group still failing is skipped
                let list = super::retry::retrying(|| client.list_api_group_resources(&gv)).await;
                (group, version, is_preferred, list)
            });
        }
    }
    for (group, version, preferred, list) in join_all(requests).await {
        match list {
            Ok(list) => types.extend(to_types(&group, &version, preferred, list.resources)),
            Err(e) => tracing::debug!("discovery of {group}/{version} failed: {e}"),
        }
    }
    Ok(Catalog::new(types))
}

fn to_types(
    group: &str,
    version: &str,
    preferred: bool,
    resources: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource>,
) -> Vec<ResourceType> {
    resources
        .into_iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| ResourceType {
            group: r
                .group
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| group.to_string()),
            version: r
                .version
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| version.to_string()),
            singular: if r.singular_name.is_empty() {
                r.kind.to_ascii_lowercase()
            } else {
                r.singular_name
            },
            kind: r.kind,
            plural: r.name,
            short_names: r.short_names.unwrap_or_default(),
            namespaced: r.namespaced,
            preferred,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        short: &[&str],
        preferred: bool,
    ) -> ResourceType {
        ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
            preferred,
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![
            // Server order puts a CRD group first on purpose: priority must still win.
            t(
                "networking.istio.io",
                "v1",
                "Gateway",
                "gateways",
                &["gw"],
                true,
            ),
            t(
                "gateway.networking.k8s.io",
                "v1beta1",
                "Gateway",
                "gateways",
                &[],
                false,
            ),
            t(
                "gateway.networking.k8s.io",
                "v1",
                "Gateway",
                "gateways",
                &[],
                true,
            ),
            t("", "v1", "Pod", "pods", &["po"], true),
            t("apps", "v1", "Deployment", "deployments", &["deploy"], true),
            t(
                "extensions.example.com",
                "v1",
                "Deployment",
                "deployments",
                &[],
                true,
            ),
        ])
    }

    #[test]
    fn kubectl_spellings_resolve() {
        let c = catalog();
        for name in [
            "Deployment",
            "deployment",
            "deploy",
            "deployments",
            "deployments.apps",
            "deployments.v1.apps",
        ] {
            let r = c.resolve(name).unwrap();
            assert_eq!(
                (r.group.as_str(), r.kind.as_str()),
                ("apps", "Deployment"),
                "{name}"
            );
        }
        let r = c.resolve("deployments.extensions.example.com").unwrap();
        assert_eq!(r.group, "extensions.example.com");
        assert_eq!(c.resolve("po").unwrap().kind, "Pod");
        assert!(c.resolve("widgets").is_none());
    }

    #[test]
    fn qualified_names_pick_the_group_and_preferred_version() {
        let c = catalog();
        let r = c.resolve("gateway.gateway.networking.k8s.io").unwrap();
        assert_eq!(
            (r.group.as_str(), r.version.as_str()),
            ("gateway.networking.k8s.io", "v1")
        );
        let r = c
            .resolve("gateways.v1beta1.gateway.networking.k8s.io")
            .unwrap();
        assert_eq!(r.version, "v1beta1");
        assert_eq!(c.resolve("gw").unwrap().group, "networking.istio.io");
        // Both are CRD groups: ties break by group name, as kube-aggregator orders them.
        assert_eq!(
            c.resolve("gateway").unwrap().group,
            "gateway.networking.k8s.io"
        );
        assert_eq!(
            c.resolve("gateways.networking.istio.io").unwrap().group,
            "networking.istio.io"
        );
    }

    #[test]
    fn manifests_resolve_by_exact_api_version() {
        let c = catalog();
        assert!(c
            .by_gvk("gateway.networking.k8s.io/v1beta1", "Gateway")
            .is_some());
        assert!(c
            .by_gvk("gateway.networking.k8s.io/v2", "Gateway")
            .is_none());
        assert_eq!(c.by_gvk("v1", "Pod").unwrap().plural, "pods");
        assert_eq!(c.kinds_like("gateway").len(), 3);
    }
}

//! The kinds a simulated cluster serves: built-in kinds plus CRDs registered at runtime.

use serde_json::{json, Value};

/// Identifies a stored collection: API group (`""` for core) and plural resource name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResKey {
    pub group: String,
    pub plural: String,
}

impl ResKey {
    pub fn new(group: &str, plural: &str) -> Self {
        ResKey {
            group: group.to_string(),
            plural: plural.to_string(),
        }
    }

    /// `deployments.apps`, or `pods` for the core group (as in error messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// One printer column of a CRD (`additionalPrinterColumns`).
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    /// `format` of the column (`int32`, `date`, ...), empty when not given.
    pub format: String,
    /// 0: always shown; more: only with `kubectl get -o wide`.
    pub priority: i64,
    pub description: String,
}

/// Everything the server needs to know about one kind.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub group: String,
    /// Served versions, preferred (storage) first.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: bool,
    pub printer_columns: Vec<PrinterColumn>,
    /// Defined by a CustomResourceDefinition.
    pub custom: bool,
    /// A CRD's `openAPIV3Schema` per served version.
    pub schemas: Vec<(String, std::sync::Arc<Value>)>,
}

impl ResourceDef {
    pub fn key(&self) -> ResKey {
        ResKey::new(&self.group, &self.plural)
    }

    /// Reviews (access, token) are answered, never stored.
    pub fn is_review(&self) -> bool {
        !self.custom
            && (self.group == "authorization.k8s.io" || self.group == "authentication.k8s.io")
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub fn preferred_api_version(&self) -> String {
        self.api_version(&self.versions[0])
    }

    /// The APIResource entries for discovery (the resource and its subresources).
    pub fn api_resources(&self) -> Vec<Value> {
        let mut verbs = vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        if self.is_review() {
            verbs = vec!["create"];
        }
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "storageVersionHash": "",
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut out = vec![main];
        if self.status {
            out.push(json!({"name": format!("{}/status", self.plural), "singularName": "",
                "namespaced": self.namespaced, "kind": self.kind, "verbs": ["get", "patch", "update"]}));
        }
        if self.scale {
            out.push(
                json!({"name": format!("{}/scale", self.plural), "singularName": "",
                "namespaced": self.namespaced, "group": "autoscaling", "version": "v1",
                "kind": "Scale", "verbs": ["get", "patch", "update"]}),
            );
        }
        if self.group.is_empty() && self.plural == "serviceaccounts" {
            out.push(json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true,
                "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]}));
        }
        if self.group.is_empty() && self.plural == "pods" {
            for (sub, verbs) in [
                ("pods/log", json!(["get"])),
                ("pods/exec", json!(["create", "get"])),
                ("pods/portforward", json!(["create", "get"])),
                ("pods/eviction", json!(["create"])),
            ] {
                let kind = if sub.ends_with("log") {
                    "Pod"
                } else {
                    "PodExecOptions"
                };
                out.push(json!({"name": sub, "singularName": "", "namespaced": true,
                    "kind": kind, "verbs": verbs}));
            }
        }
        out
    }
}

struct Builtin(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
);

// group/version, plural, singular, Kind, namespaced, short names (comma separated)
const BUILTINS: &[Builtin] = &[
    Builtin("v1", "namespaces", "namespace", "Namespace", false, "ns"),
    Builtin("v1", "services", "service", "Service", true, "svc"),
    Builtin("v1", "endpoints", "endpoints", "Endpoints", true, "ep"),
    Builtin("v1", "pods", "pod", "Pod", true, "po"),
    Builtin("v1", "secrets", "secret", "Secret", true, ""),
    Builtin("v1", "configmaps", "configmap", "ConfigMap", true, "cm"),
    Builtin(
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        "sa",
    ),
    Builtin("v1", "events", "event", "Event", true, "ev"),
    Builtin("v1", "nodes", "node", "Node", false, "no"),
    Builtin(
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        "pvc",
    ),
    Builtin(
        "v1",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        false,
        "pv",
    ),
    Builtin(
        "v1",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        true,
        "quota",
    ),
    Builtin(
        "v1",
        "limitranges",
        "limitrange",
        "LimitRange",
        true,
        "limits",
    ),
    Builtin(
        "apps/v1",
        "deployments",
        "deployment",
        "Deployment",
        true,
        "deploy",
    ),
    Builtin(
        "apps/v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        "rs",
    ),
    Builtin(
        "apps/v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        "ds",
    ),
    Builtin(
        "apps/v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        "sts",
    ),
    Builtin(
        "apps/v1",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        true,
        "",
    ),
    Builtin("batch/v1", "jobs", "job", "Job", true, ""),
    Builtin("batch/v1", "cronjobs", "cronjob", "CronJob", true, "cj"),
    Builtin(
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        true,
        "hpa",
    ),
    Builtin(
        "policy/v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        true,
        "pdb",
    ),
    Builtin(
        "networking.k8s.io/v1",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        "ing",
    ),
    Builtin(
        "networking.k8s.io/v1",
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        false,
        "",
    ),
    Builtin(
        "networking.k8s.io/v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        true,
        "netpol",
    ),
    Builtin(
        "discovery.k8s.io/v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        "",
    ),
    Builtin(
        "coordination.k8s.io/v1",
        "leases",
        "lease",
        "Lease",
        true,
        "",
    ),
    Builtin(
        "rbac.authorization.k8s.io/v1",
        "roles",
        "role",
        "Role",
        true,
        "",
    ),
    Builtin(
        "rbac.authorization.k8s.io/v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        "",
    ),
    Builtin(
        "rbac.authorization.k8s.io/v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        "",
    ),
    Builtin(
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        "",
    ),
    Builtin(
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        false,
        "",
    ),
    Builtin(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        false,
        "",
    ),
    Builtin(
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        "ValidatingAdmissionPolicy",
        false,
        "",
    ),
    Builtin(
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        "ValidatingAdmissionPolicyBinding",
        false,
        "",
    ),
    Builtin("events.k8s.io/v1", "events", "event", "Event", true, "ev"),
    Builtin(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        false,
        "crd,crds",
    ),
    Builtin(
        "apiregistration.k8s.io/v1",
        "apiservices",
        "apiservice",
        "APIService",
        false,
        "",
    ),
    Builtin(
        "node.k8s.io/v1",
        "runtimeclasses",
        "runtimeclass",
        "RuntimeClass",
        false,
        "",
    ),
    Builtin(
        "authorization.k8s.io/v1",
        "selfsubjectaccessreviews",
        "",
        "SelfSubjectAccessReview",
        false,
        "",
    ),
    Builtin(
        "authorization.k8s.io/v1",
        "selfsubjectrulesreviews",
        "",
        "SelfSubjectRulesReview",
        false,
        "",
    ),
    Builtin(
        "authorization.k8s.io/v1",
        "subjectaccessreviews",
        "",
        "SubjectAccessReview",
        false,
        "",
    ),
    Builtin(
        "authentication.k8s.io/v1",
        "tokenreviews",
        "",
        "TokenReview",
        false,
        "",
    ),
    Builtin(
        "authentication.k8s.io/v1",
        "selfsubjectreviews",
        "",
        "SelfSubjectReview",
        false,
        "",
    ),
    Builtin(
        "storage.k8s.io/v1",
        "storageclasses",
        "storageclass",
        "StorageClass",
        false,
        "sc",
    ),
    Builtin(
        "scheduling.k8s.io/v1",
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        false,
        "pc",
    ),
    Builtin(
        "certificates.k8s.io/v1",
        "certificatesigningrequests",
        "certificatesigningrequest",
        "CertificateSigningRequest",
        false,
        "csr",
    ),
];

const WITH_STATUS: &[&str] = &[
    "namespaces",
    "services",
    "pods",
    "nodes",
    "deployments",
    "replicasets",
    "daemonsets",
    "statefulsets",
    "jobs",
    "cronjobs",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "ingresses",
    "customresourcedefinitions",
    "persistentvolumeclaims",
    "persistentvolumes",
    "resourcequotas",
    "certificatesigningrequests",
    "apiservices",
    "validatingadmissionpolicies",
];
const WITH_SCALE: &[&str] = &["deployments", "replicasets", "statefulsets"];

/// The built-in kinds, in discovery order.
pub fn builtin_defs() -> Vec<ResourceDef> {
    BUILTINS
        .iter()
        .map(|b| {
            let (group, version) = match b.0.split_once('/') {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (String::new(), b.0.to_string()),
            };
            let mut versions = vec![version];
            if b.1 == "horizontalpodautoscalers" {
                versions.push("v1".into());
            }
            let categories = match b.1 {
                "pods" | "services" | "deployments" | "replicasets" | "daemonsets"
                | "statefulsets" | "jobs" | "cronjobs" => vec!["all".to_string()],
                _ => vec![],
            };
            ResourceDef {
                group,
                versions,
                plural: b.1.into(),
                singular: b.2.into(),
                kind: b.3.into(),
                namespaced: b.4,
                short_names: b
                    .5
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                categories,
                status: WITH_STATUS.contains(&b.1),
                scale: WITH_SCALE.contains(&b.1),
                printer_columns: vec![],
                custom: false,
                schemas: vec![],
            }
        })
        .collect()
}

/// Reads a CustomResourceDefinition object into a definition, if it is well formed.
pub fn crd_def(crd: &Value) -> Option<ResourceDef> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let plural = names.get("plural")?.as_str()?.to_string();
    let kind = names.get("kind")?.as_str()?.to_string();
    let group = spec.get("group")?.as_str()?.to_string();
    let mut versions = Vec::new();
    let mut status = false;
    let mut scale = false;
    let mut printer_columns = Vec::new();
    let mut storage_first = None;
    let mut schemas = Vec::new();
    for v in spec.get("versions")?.as_array()? {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let name = v.get("name")?.as_str()?.to_string();
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage_first = Some(name.clone());
        }
        if let Some(schema) = v
            .get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .filter(|s| s.is_object())
        {
            schemas.push((name.clone(), std::sync::Arc::new(schema.clone())));
        }
        let subs = v.get("subresources");
        status |= subs.and_then(|s| s.get("status")).is_some();
        scale |= subs.and_then(|s| s.get("scale")).is_some();
        if printer_columns.is_empty() {
            for c in v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                printer_columns.push(PrinterColumn {
                    name: c.get("name")?.as_str()?.to_string(),
                    type_: c
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        .to_string(),
                    json_path: c.get("jsonPath")?.as_str()?.to_string(),
                    format: c
                        .get("format")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    description: c
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
        versions.push(name);
    }
    if versions.is_empty() {
        return None;
    }
    if let Some(s) = storage_first {
        versions.retain(|v| *v != s);
        versions.insert(0, s);
    }
    let strs = |key: &str| -> Vec<String> {
        names
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(ResourceDef {
        group,
        versions,
        singular: names
            .get("singular")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase()),
        plural,
        kind,
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        short_names: strs("shortNames"),
        categories: strs("categories"),
        status,
        scale,
        printer_columns,
        custom: true,
        schemas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_crd() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": false},
                         {"name": "v1", "served": true, "storage": true,
                          "subresources": {"status": {}},
                          "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}});
        let def = crd_def(&crd).unwrap();
        assert_eq!(def.versions, vec!["v1", "v1alpha1"]);
        assert!(def.status && !def.scale && def.namespaced);
        assert_eq!(def.singular, "widget");
        assert_eq!(def.printer_columns[0].json_path, ".spec.size");
    }

    #[test]
    fn builtins_have_scale_for_deployments() {
        let d = builtin_defs()
            .into_iter()
            .find(|d| d.plural == "deployments")
            .unwrap();
        let names: Vec<_> = d
            .api_resources()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        assert!(names.contains(&"deployments/scale".to_string()));
    }
}

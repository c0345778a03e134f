//! OpenAPI for the simulated API server: the built-in kinds' schemas (k8s-openapi's, through
//! schemars, with the patch and list extensions kubectl reads) and every CRD's
//! `openAPIV3Schema`, served as `/openapi/v3` (an index and one document per group-version)
//! and `/openapi/v2` (JSON). The same schemas type-check writes of built-in kinds.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use super::cluster::Cluster;
use super::discovery::GIT_VERSION;
use super::resources::ResourceDef;

/// Schemas by definition name (`io.k8s.api.apps.v1.Deployment`).
pub type Definitions = Map<String, Value>;

struct Builtins {
    defs: Definitions,
    /// (group, version, kind) -> definition name.
    roots: BTreeMap<(String, String, String), String>,
}

macro_rules! builtin_schemas {
    ($gen:ident, $roots:ident; $($group:literal, $version:literal, $kind:literal => $ty:ty;)*) => {
        $(
            let _ = $gen.subschema_for::<$ty>();
            $roots.insert(
                ($group.to_string(), $version.to_string(), $kind.to_string()),
                <$ty as schemars::JsonSchema>::schema_name().into_owned(),
            );
        )*
    };
}

static BUILTINS: LazyLock<Builtins> = LazyLock::new(|| {
    use k8s_openapi::api::{
        admissionregistration::v1 as adm, apps::v1 as apps, autoscaling, batch::v1 as batch,
        certificates::v1 as certs, coordination::v1 as coord, core::v1 as core,
        discovery::v1 as disc, events::v1 as events, networking::v1 as net, node::v1 as node,
        policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as reg;
    let mut gen = schemars::generate::SchemaSettings::openapi3().into_generator();
    let mut roots = BTreeMap::new();
    builtin_schemas!(gen, roots;
        "", "v1", "Namespace" => core::Namespace;
        "", "v1", "Service" => core::Service;
        "", "v1", "Endpoints" => core::Endpoints;
        "", "v1", "Pod" => core::Pod;
        "", "v1", "Secret" => core::Secret;
        "", "v1", "ConfigMap" => core::ConfigMap;
        "", "v1", "ServiceAccount" => core::ServiceAccount;
        "", "v1", "Event" => core::Event;
        "", "v1", "Node" => core::Node;
        "", "v1", "PersistentVolumeClaim" => core::PersistentVolumeClaim;
        "", "v1", "PersistentVolume" => core::PersistentVolume;
        "", "v1", "ResourceQuota" => core::ResourceQuota;
        "", "v1", "LimitRange" => core::LimitRange;
        "apps", "v1", "Deployment" => apps::Deployment;
        "apps", "v1", "ReplicaSet" => apps::ReplicaSet;
        "apps", "v1", "DaemonSet" => apps::DaemonSet;
        "apps", "v1", "StatefulSet" => apps::StatefulSet;
        "apps", "v1", "ControllerRevision" => apps::ControllerRevision;
        "batch", "v1", "Job" => batch::Job;
        "batch", "v1", "CronJob" => batch::CronJob;
        "autoscaling", "v2", "HorizontalPodAutoscaler" => autoscaling::v2::HorizontalPodAutoscaler;
        "autoscaling", "v1", "HorizontalPodAutoscaler" => autoscaling::v1::HorizontalPodAutoscaler;
        "autoscaling", "v1", "Scale" => autoscaling::v1::Scale;
        "policy", "v1", "PodDisruptionBudget" => policy::PodDisruptionBudget;
        "networking.k8s.io", "v1", "Ingress" => net::Ingress;
        "networking.k8s.io", "v1", "IngressClass" => net::IngressClass;
        "networking.k8s.io", "v1", "NetworkPolicy" => net::NetworkPolicy;
        "discovery.k8s.io", "v1", "EndpointSlice" => disc::EndpointSlice;
        "coordination.k8s.io", "v1", "Lease" => coord::Lease;
        "rbac.authorization.k8s.io", "v1", "Role" => rbac::Role;
        "rbac.authorization.k8s.io", "v1", "RoleBinding" => rbac::RoleBinding;
        "rbac.authorization.k8s.io", "v1", "ClusterRole" => rbac::ClusterRole;
        "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding" => rbac::ClusterRoleBinding;
        "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration" => adm::MutatingWebhookConfiguration;
        "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration" => adm::ValidatingWebhookConfiguration;
        "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy" => adm::ValidatingAdmissionPolicy;
        "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding" => adm::ValidatingAdmissionPolicyBinding;
        "apiextensions.k8s.io", "v1", "CustomResourceDefinition" => ext::CustomResourceDefinition;
        "apiregistration.k8s.io", "v1", "APIService" => reg::APIService;
        "node.k8s.io", "v1", "RuntimeClass" => node::RuntimeClass;
        "storage.k8s.io", "v1", "StorageClass" => storage::StorageClass;
        "scheduling.k8s.io", "v1", "PriorityClass" => sched::PriorityClass;
        "certificates.k8s.io", "v1", "CertificateSigningRequest" => certs::CertificateSigningRequest;
        "events.k8s.io", "v1", "Event" => events::Event;
    );
    let _ = gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>();
    let mut defs = gen.take_definitions(true);
    for ((group, version, kind), name) in &roots {
        if let Some(d) = defs.get_mut(name).and_then(Value::as_object_mut) {
            d.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": group, "version": version, "kind": kind}]),
            );
        }
    }
    for (def, field, strategy, key) in PATCH_STRATEGIES {
        let Some(prop) = property(&mut defs, def, field) else {
            continue;
        };
        prop.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        if !key.is_empty() {
            prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
            prop.insert("x-kubernetes-list-type".into(), json!("map"));
            prop.insert("x-kubernetes-list-map-keys".into(), json!([key]));
        }
    }
    for (def, field, list_type, keys) in LIST_TYPES {
        let Some(prop) = property(&mut defs, def, field) else {
            continue;
        };
        prop.insert("x-kubernetes-list-type".into(), json!(list_type));
        if *list_type == "map" {
            prop.insert("x-kubernetes-list-map-keys".into(), json!(keys));
        } else {
            prop.remove("x-kubernetes-list-map-keys");
        }
    }
    for (def, field) in ATOMIC_MAPS {
        let target = match field {
            Some(f) => property(&mut defs, def, f),
            None => defs.get_mut(*def).and_then(Value::as_object_mut),
        };
        if let Some(m) = target {
            m.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
    }
    Builtins { defs, roots }
});

/// The schema of `def`'s property `field`, when both exist.
fn property<'a>(
    defs: &'a mut serde_json::Map<String, Value>,
    def: &str,
    field: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    defs.get_mut(def)?
        .get_mut("properties")?
        .get_mut(field)?
        .as_object_mut()
}

/// The list types of the built-in kinds' lists that are not `atomic` (the default), as the
/// Kubernetes 1.32 OpenAPI has them (`+listType`/`+listMapKey` in the Go types, which
/// k8s-openapi's `DeepMerge` strategies follow; k8s-openapi keeps only the first map key, the
/// second ones here are upstream's: Service and container ports by port and `protocol`,
/// topology spread constraints by topology key and `whenUnsatisfiable`). Server-side apply
/// merges and owns lists by these.
const LIST_TYPES: &[(&str, &str, &str, &[&str])] = &[
    (META, "finalizers", "set", &[]),
    (META, "ownerReferences", "map", &["uid"]),
    (POD_SPEC, "containers", "map", &["name"]),
    (POD_SPEC, "initContainers", "map", &["name"]),
    (POD_SPEC, "ephemeralContainers", "map", &["name"]),
    (POD_SPEC, "volumes", "map", &["name"]),
    (POD_SPEC, "imagePullSecrets", "map", &["name"]),
    (POD_SPEC, "resourceClaims", "map", &["name"]),
    (POD_SPEC, "schedulingGates", "map", &["name"]),
    (POD_SPEC, "hostAliases", "map", &["ip"]),
    (
        POD_SPEC,
        "topologySpreadConstraints",
        "map",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    (CONTAINER, "env", "map", &["name"]),
    (CONTAINER, "ports", "map", &["containerPort", "protocol"]),
    (CONTAINER, "volumeMounts", "map", &["mountPath"]),
    (CONTAINER, "volumeDevices", "map", &["devicePath"]),
    (EPHEMERAL, "env", "map", &["name"]),
    (EPHEMERAL, "ports", "map", &["containerPort", "protocol"]),
    (EPHEMERAL, "volumeMounts", "map", &["mountPath"]),
    (EPHEMERAL, "volumeDevices", "map", &["devicePath"]),
    (
        "io.k8s.api.core.v1.ResourceRequirements",
        "claims",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "map",
        &["port", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "map",
        &["type"],
    ),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", "map", &["ip"]),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", "map", &["ip"]),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "map",
        &["type"],
    ),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "set", &[]),
    (
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.apps.v1.DaemonSetStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.batch.v1.JobStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.api.certificates.v1.CertificateSigningRequestStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        "map",
        &["type"],
    ),
    (
        "io.k8s.kube_aggregator.pkg.apis.apiregistration.v1.APIServiceStatus",
        "conditions",
        "map",
        &["type"],
    ),
    ("io.k8s.api.discovery.v1.Endpoint", "addresses", "set", &[]),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "webhooks",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "webhooks",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "matchConditions",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "matchConditions",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "matchConditions",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "variables",
        "map",
        &["name"],
    ),
    (
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec",
        "validationActions",
        "set",
        &[],
    ),
];

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL: &str = "io.k8s.api.core.v1.EphemeralContainer";

/// Maps and structs owned and replaced whole (`+mapType=atomic`, `+structType=atomic`):
/// (definition, field), or the definition itself.
const ATOMIC_MAPS: &[(&str, Option<&str>)] = &[
    ("io.k8s.api.core.v1.ServiceSpec", Some("selector")),
    (
        "io.k8s.api.core.v1.ReplicationControllerSpec",
        Some("selector"),
    ),
    (POD_SPEC, Some("nodeSelector")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", None),
];

/// Lists merged item by item by kubectl's strategic merge patches: (definition, field,
/// strategy, merge key).
const PATCH_STRATEGIES: &[(&str, &str, &str, &str)] = &[
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", "name"),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "merge",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "merge,retainKeys",
        "name",
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "merge",
        "name",
    ),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", "ip"),
    ("io.k8s.api.core.v1.Container", "env", "merge", "name"),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        "merge",
        "containerPort",
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "merge",
        "mountPath",
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "merge",
        "devicePath",
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", "port"),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "merge",
        "name",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "merge",
        "uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        "merge",
        "",
    ),
    (
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        "merge",
        "type",
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "merge",
        "type",
    ),
    (
        "io.k8s.api.apps.v1.DeploymentSpec",
        "strategy",
        "retainKeys",
        "",
    ),
];

/// The built-in schemas.
pub fn builtin_definitions() -> &'static Definitions {
    &BUILTINS.defs
}

/// The definition name of a built-in kind.
pub fn builtin_root(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    BUILTINS
        .roots
        .get(&(group.to_string(), version.to_string(), kind.to_string()))
        .map(String::as_str)
}

/// `io.k8s.networking.gateway.v1.HTTPRoute` for a CRD kind (the group reversed).
fn crd_definition_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').collect();
    parts.reverse();
    format!("{}.{version}.{kind}", parts.join("."))
}

/// The `openAPIV3Schema` of one served version of a stored CRD.
pub fn crd_schema(crd: &Value, version: &str) -> Option<Value> {
    crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == version)
        .and_then(|v| v["schema"]["openAPIV3Schema"].as_object())
        .map(|s| Value::Object(s.clone()))
}

/// The definitions a document of group-version `gv` needs: its kinds, what they reference,
/// and CRD schemas with apiVersion/kind/metadata.
fn gv_definitions(
    c: &Cluster,
    group: &str,
    version: &str,
) -> Option<(Definitions, Vec<ResourceDef>)> {
    let defs_here = c.registry().in_group_version(group, version);
    if defs_here.is_empty() {
        return None;
    }
    let builtins = builtin_definitions();
    let mut out = Definitions::new();
    let mut wanted: Vec<String> = vec!["io.k8s.apimachinery.pkg.apis.meta.v1.Status".into()];
    for d in &defs_here {
        if d.custom {
            let crd_name = format!("{}.{}", d.plural, d.group);
            let crd = c.store.get(
                &super::resources::ResKey::new("apiextensions.k8s.io", "customresourcedefinitions"),
                "",
                &crd_name,
            );
            let mut schema = crd
                .as_ref()
                .and_then(|crd| crd_schema(crd, version))
                .unwrap_or_else(
                    || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                );
            if let Some(m) = schema.as_object_mut() {
                let props = m.entry("properties").or_insert_with(|| json!({}));
                props["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
                props["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
                props["metadata"] = json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
                    "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"});
                m.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": d.group, "version": version, "kind": d.kind}]),
                );
                m.entry("type").or_insert_with(|| json!("object"));
            }
            out.insert(crd_definition_name(&d.group, version, &d.kind), schema);
            wanted.push("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into());
        } else if let Some(root) = builtin_root(&d.group, version, &d.kind) {
            wanted.push(root.to_string());
        }
    }
    // everything the wanted definitions reference, transitively
    while let Some(name) = wanted.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(def) = builtins.get(&name) else {
            continue;
        };
        collect_refs(def, &mut wanted);
        out.insert(name, def.clone());
    }
    Some((out, defs_here))
}

fn collect_refs(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                into.push(r.rsplit('/').next().unwrap_or(r).to_string());
            }
            m.values().for_each(|c| collect_refs(c, into));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, into)),
        _ => {}
    }
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn operation(def: &ResourceDef, version: &str, action: &str, schema_ref: &str) -> Value {
    let mut params = vec![
        json!({"name": "dryRun", "in": "query", "description": "When present, indicates that modifications should not be persisted.", "schema": {"type": "string", "uniqueItems": true}}),
        json!({"name": "fieldManager", "in": "query", "description": "fieldManager is a name associated with the actor or entity that is making these changes.", "schema": {"type": "string", "uniqueItems": true}}),
        json!({"name": "fieldValidation", "in": "query", "description": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict", "schema": {"type": "string", "uniqueItems": true}}),
    ];
    if action == "patch" {
        params.push(json!({"name": "force", "in": "query", "description": "Force is going to \"force\" Apply requests.", "schema": {"type": "boolean", "uniqueItems": true}}));
    }
    if action == "get" {
        params.clear();
    }
    json!({
        "description": format!("{action} the specified {}", def.kind),
        "operationId": format!("{action}{}", def.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": schema_ref}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": def.group, "version": version, "kind": def.kind},
    })
}

/// The OpenAPI v3 document of one group-version (`None`: not served).
pub fn v3_document(c: &Cluster, group: &str, version: &str) -> Option<Value> {
    let (defs, kinds) = gv_definitions(c, group, version)?;
    let mut paths = Map::new();
    for d in &kinds {
        if d.is_review() {
            continue;
        }
        let name = if d.custom {
            crd_definition_name(&d.group, version, &d.kind)
        } else {
            match builtin_root(&d.group, version, &d.kind) {
                Some(r) => r.to_string(),
                None => continue,
            }
        };
        let schema_ref = format!("#/components/schemas/{name}");
        let base = if d.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}",
                gv_path(group, version),
                d.plural
            )
        } else {
            format!("/{}/{}", gv_path(group, version), d.plural)
        };
        paths.insert(
            base.clone(),
            json!({
                "get": operation(d, version, "list", &schema_ref),
                "post": operation(d, version, "post", &schema_ref),
            }),
        );
        paths.insert(
            format!("{base}/{{name}}"),
            json!({
                "get": operation(d, version, "get", &schema_ref),
                "put": operation(d, version, "put", &schema_ref),
                "patch": operation(d, version, "patch", &schema_ref),
                "delete": operation(d, version, "delete", &schema_ref),
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": defs},
    }))
}

/// `/openapi/v3`: one entry per served group-version.
pub fn v3_index(c: &Cluster) -> Value {
    let mut paths = Map::new();
    let reg = c.registry();
    let mut gvs: Vec<(String, String)> = Vec::new();
    for d in reg.all() {
        for v in &d.versions {
            let gv = (d.group.clone(), v.clone());
            if !gvs.contains(&gv) {
                gvs.push(gv);
            }
        }
    }
    let rv = c.store.current_rv();
    for (g, v) in gvs {
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={rv:016X}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v2` as JSON: every kind's definition (swagger 2.0).
pub fn v2_document(c: &Cluster) -> Value {
    let mut all = Definitions::new();
    let reg = c.registry();
    let mut gvs: Vec<(String, String)> = Vec::new();
    for d in reg.all() {
        for v in &d.versions {
            let gv = (d.group.clone(), v.clone());
            if !gvs.contains(&gv) {
                gvs.push(gv);
            }
        }
    }
    drop(reg);
    for (g, v) in gvs {
        if let Some((defs, _)) = gv_definitions(c, &g, &v) {
            all.extend(defs);
        }
    }
    let text = serde_json::to_string(&all)
        .unwrap_or_default()
        .replace("#/components/schemas/", "#/definitions/");
    let defs: Value = serde_json::from_str(&text).unwrap_or_default();
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": {}, "definitions": defs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schemas_have_kinds_and_patch_keys() {
        let root = builtin_root("apps", "v1", "Deployment").unwrap();
        assert_eq!(root, "io.k8s.api.apps.v1.Deployment");
        let d = &builtin_definitions()[root];
        assert_eq!(
            d["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let pod = &builtin_definitions()["io.k8s.api.core.v1.PodSpec"];
        assert_eq!(
            pod["properties"]["containers"]["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            crd_definition_name("gateway.networking.k8s.io", "v1", "HTTPRoute"),
            "io.k8s.networking.gateway.v1.HTTPRoute"
        );
    }
}

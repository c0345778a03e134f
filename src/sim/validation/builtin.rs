//! The API server's semantic rules for built-in kinds (pkg/apis/*/validation), the ones
//! manifests and charts trip on: required fields, enums, port ranges, name formats per kind,
//! selectors matching templates, immutable fields, ConfigMap/Secret keys, sizes and types.

use serde_json::{json, Value};

use super::field::{FieldError, FieldPath};
use super::names;

/// How a kind's `metadata.name` is checked.
pub fn name_rule(group: &str, plural: &str) -> fn(&str) -> Vec<String> {
    match (group, plural) {
        ("", "namespaces") => names::dns1123_label,
        ("", "services") => names::dns1035_label,
        ("rbac.authorization.k8s.io", _) => names::path_segment,
        ("", "events") | ("events.k8s.io", _) => names::path_segment,
        _ => names::dns1123_subdomain,
    }
}

type Errs = Vec<FieldError>;

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn present(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

fn enum_check(errs: &mut Errs, v: &Value, k: &str, path: &FieldPath, allowed: &[&str]) {
    if let Some(x) = s(v, k).filter(|x| !x.is_empty()) {
        if !allowed.contains(&x) {
            errs.push(FieldError::not_supported(&path.child(k), x, allowed));
        }
    }
}

fn names_check(errs: &mut Errs, path: &FieldPath, value: &str, rule: fn(&str) -> Vec<String>) {
    for m in rule(value) {
        errs.push(FieldError::invalid(path, value, &m));
    }
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn port_check(errs: &mut Errs, path: &FieldPath, v: &Value, required: bool) {
    match v.as_i64() {
        Some(p) if !(1..=65535).contains(&p) => {
            if p == 0 && required {
                errs.push(FieldError::required(path, ""));
            } else {
                errs.push(FieldError::invalid(path, p, PORT_RANGE));
            }
        }
        None if v.is_null() && required => errs.push(FieldError::required(path, "")),
        _ => {}
    }
}

/// An int-or-string port: a number in range, or an IANA service name.
fn int_or_name_port(errs: &mut Errs, path: &FieldPath, v: &Value) {
    match v {
        Value::Number(_) => port_check(errs, path, v, false),
        Value::String(name) => {
            if let Ok(n) = name.parse::<i64>() {
                if !(1..=65535).contains(&n) {
                    errs.push(FieldError::invalid(path, name.as_str(), PORT_RANGE));
                }
            } else {
                names_check(errs, path, name, names::port_name);
            }
        }
        _ => {}
    }
}

/// `metadata`: name (per kind), labels, annotations.
pub fn metadata(errs: &mut Errs, obj: &Value, rule: fn(&str) -> Vec<String>, creating: bool) {
    let meta = &obj["metadata"];
    let p = FieldPath::root("metadata");
    let name = s(meta, "name").unwrap_or("");
    if creating {
        if name.is_empty() {
            errs.push(FieldError::required(
                &p.child("name"),
                "name or generateName is required",
            ));
        } else {
            names_check(errs, &p.child("name"), name, rule);
        }
    }
    labels(errs, &meta["labels"], &p.child("labels"));
    if let Some(ann) = meta["annotations"].as_object() {
        let mut total = 0;
        for (k, v) in ann {
            for m in names::qualified_name(&k.to_lowercase()) {
                errs.push(FieldError::invalid(&p.child("annotations"), k.as_str(), &m));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long(&p.child("annotations"), 256 * 1024));
        }
    }
    for (i, f) in arr(meta, "finalizers").iter().enumerate() {
        if let Some(f) = f.as_str() {
            for m in names::qualified_name(f) {
                errs.push(FieldError::invalid(&p.child("finalizers").index(i), f, &m));
            }
        }
    }
}

fn labels(errs: &mut Errs, labels: &Value, p: &FieldPath) {
    if let Some(l) = labels.as_object() {
        for (k, v) in l {
            for m in names::qualified_name(k) {
                errs.push(FieldError::invalid(p, k.as_str(), &m));
            }
            if let Some(v) = v.as_str() {
                for m in names::label_value(v) {
                    errs.push(FieldError::invalid(p, v, &m));
                }
            }
        }
    }
}

/// A pod spec (a Pod's `spec` or a template's `spec.template.spec`); `restart` limits the
/// restart policies allowed (workload templates).
pub fn pod_spec(errs: &mut Errs, spec: &Value, p: &FieldPath, restart: Option<&[&str]>) {
    let volumes: Vec<&str> = arr(spec, "volumes")
        .iter()
        .filter_map(|v| s(v, "name"))
        .collect();
    let mut seen_vol = std::collections::HashSet::new();
    for (i, v) in arr(spec, "volumes").iter().enumerate() {
        let vp = p.child("volumes").index(i);
        match s(v, "name") {
            None | Some("") => errs.push(FieldError::required(&vp.child("name"), "")),
            Some(n) => {
                names_check(errs, &vp.child("name"), n, names::dns1123_label);
                if !seen_vol.insert(n) {
                    errs.push(FieldError::duplicate(&vp.child("name"), n));
                }
            }
        }
    }
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&p.child("containers"), ""));
    }
    let mut seen = std::collections::HashSet::new();
    for (field, list) in [
        ("initContainers", arr(spec, "initContainers")),
        ("containers", containers),
    ] {
        for (i, c) in list.iter().enumerate() {
            let cp = p.child(field).index(i);
            container(errs, c, &cp, &volumes);
            if let Some(n) = s(c, "name").filter(|n| !n.is_empty()) {
                if !seen.insert(n.to_string()) {
                    errs.push(FieldError::duplicate(&cp.child("name"), n));
                }
            }
        }
    }
    let policies = ["Always", "OnFailure", "Never"];
    match (s(spec, "restartPolicy"), restart) {
        (Some(r), Some(allowed)) if !allowed.contains(&r) => {
            if allowed.len() == 2 {
                errs.push(FieldError::required(
                    &p.child("restartPolicy"),
                    "valid values: \"OnFailure\", \"Never\"",
                ));
            } else {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    r,
                    allowed,
                ));
            }
        }
        (None, Some(allowed)) if allowed.len() == 2 => errs.push(FieldError::required(
            &p.child("restartPolicy"),
            "valid values: \"OnFailure\", \"Never\"",
        )),
        _ => enum_check(errs, spec, "restartPolicy", p, &policies),
    }
    enum_check(
        errs,
        spec,
        "dnsPolicy",
        p,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    );
    if let Some(sa) = s(spec, "serviceAccountName").filter(|x| !x.is_empty()) {
        names_check(
            errs,
            &p.child("serviceAccountName"),
            sa,
            names::dns1123_subdomain,
        );
    }
    if let Some(t) = spec["terminationGracePeriodSeconds"]
        .as_i64()
        .filter(|t| *t < 0)
    {
        errs.push(FieldError::invalid(
            &p.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than or equal to 0",
        ));
    }
}

fn container(errs: &mut Errs, c: &Value, p: &FieldPath, volumes: &[&str]) {
    match s(c, "name") {
        None | Some("") => errs.push(FieldError::required(&p.child("name"), "")),
        Some(n) => names_check(errs, &p.child("name"), n, names::dns1123_label),
    }
    if s(c, "image").is_none_or(|i| i.trim().is_empty()) {
        errs.push(FieldError::required(&p.child("image"), ""));
    }
    enum_check(
        errs,
        c,
        "imagePullPolicy",
        p,
        &["Always", "IfNotPresent", "Never"],
    );
    let mut port_names = std::collections::HashSet::new();
    for (i, port) in arr(c, "ports").iter().enumerate() {
        let pp = p.child("ports").index(i);
        port_check(
            errs,
            &pp.child("containerPort"),
            &port["containerPort"],
            true,
        );
        if let Some(h) = port["hostPort"].as_i64().filter(|h| *h != 0) {
            if !(1..=65535).contains(&h) {
                errs.push(FieldError::invalid(&pp.child("hostPort"), h, PORT_RANGE));
            }
        }
        enum_check(errs, port, "protocol", &pp, &["SCTP", "TCP", "UDP"]);
        if let Some(n) = s(port, "name").filter(|n| !n.is_empty()) {
            names_check(errs, &pp.child("name"), n, names::port_name);
            if !port_names.insert(n) {
                errs.push(FieldError::duplicate(&pp.child("name"), n));
            }
        }
    }
    for (i, e) in arr(c, "env").iter().enumerate() {
        let ep = p.child("env").index(i);
        match s(e, "name") {
            None | Some("") => errs.push(FieldError::required(&ep.child("name"), "")),
            Some(n) => names_check(errs, &ep.child("name"), n, names::env_var_name),
        }
    }
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let mp = p.child("volumeMounts").index(i);
        match s(m, "name") {
            None | Some("") => errs.push(FieldError::required(&mp.child("name"), "")),
            Some(n) if !volumes.contains(&n) => errs.push(FieldError::new(
                super::field::ErrorType::NotFound,
                &mp.child("name"),
                Some(json!(n)),
                "",
            )),
            _ => {}
        }
        if s(m, "mountPath").is_none_or(str::is_empty) {
            errs.push(FieldError::required(&mp.child("mountPath"), ""));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let pr = &c[probe];
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            if pr[handler].is_object() {
                let port = &pr[handler]["port"];
                let pp = p.child(probe).child(handler).child("port");
                if port.is_null() && handler != "grpc" {
                    errs.push(FieldError::required(&pp, ""));
                }
                int_or_name_port(errs, &pp, port);
            }
        }
    }
}

/// A label selector against a template's labels (workloads).
fn selector_and_template(errs: &mut Errs, spec: &Value, p: &FieldPath, kind: &str) {
    let sel = &spec["selector"];
    if sel.is_null() {
        errs.push(FieldError::required(&p.child("selector"), ""));
        return;
    }
    let empty = sel["matchLabels"].as_object().is_none_or(|m| m.is_empty())
        && sel["matchExpressions"].as_array().is_none_or(Vec::is_empty);
    if empty {
        errs.push(FieldError::invalid_go(
            &p.child("selector"),
            &go_selector(sel),
            &format!("empty selector is invalid for {kind}"),
        ));
        return;
    }
    let tlabels = &spec["template"]["metadata"]["labels"];
    if !crate::sim::selector::LabelSelector::from_object(sel).matches_labels(tlabels) {
        errs.push(FieldError::invalid_go(
            &p.child("template").child("metadata").child("labels"),
            &go_map(tlabels),
            "`selector` does not match template `labels`",
        ));
    }
    labels(
        errs,
        tlabels,
        &p.child("template").child("metadata").child("labels"),
    );
}

/// `&v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`.
fn go_selector(sel: &Value) -> String {
    let exprs = if sel["matchExpressions"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        "[]v1.LabelSelectorRequirement{...}"
    } else {
        "[]v1.LabelSelectorRequirement(nil)"
    };
    format!(
        "&v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_map(&sel["matchLabels"])
    )
}

/// `map[string]string{"app":"web"}`, as Go prints a map in field errors.
fn go_map(v: &Value) -> String {
    let items: Vec<String> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!("map[string]string{{{}}}", items.join(", "))
}

fn non_negative(errs: &mut Errs, v: &Value, k: &str, p: &FieldPath) {
    if let Some(n) = v[k].as_i64().filter(|n| *n < 0) {
        errs.push(FieldError::invalid(
            &p.child(k),
            n,
            "must be greater than or equal to 0",
        ));
    }
}

fn percent_or_int(v: &Value) -> Option<(i64, bool)> {
    match v {
        Value::Number(n) => n.as_i64().map(|n| (n, false)),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|n| n.parse().ok())
            .map(|n| (n, true)),
        _ => None,
    }
}

fn rolling(errs: &mut Errs, ru: &Value, p: &FieldPath) {
    let mut zero = 0;
    for k in ["maxSurge", "maxUnavailable"] {
        let v = &ru[k];
        if v.is_null() {
            continue;
        }
        match percent_or_int(v) {
            Some((n, pct)) => {
                if n < 0 {
                    errs.push(FieldError::invalid(&p.child(k), v.clone(), "must be greater than or equal to 0"));
                }
                if pct && n > 100 && k == "maxUnavailable" {
                    errs.push(FieldError::invalid(&p.child(k), v.clone(), "must not be greater than 100%"));
                }
                if n == 0 {
                    zero += 1;
                }
            }
            None => errs.push(FieldError::invalid(
                &p.child(k),
                v.clone(),
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )),
        }
    }
    if zero == 2 {
        errs.push(FieldError::invalid(
            &p.child("maxUnavailable"),
            ru["maxUnavailable"].clone(),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
}

/// Whole-kind rules. `old` is the stored object on updates.
pub fn validate(group: &str, plural: &str, obj: &Value, old: Option<&Value>) -> Errs {
    let mut errs = Vec::new();
    metadata(&mut errs, obj, name_rule(group, plural), old.is_none());
    let spec = &obj["spec"];
    let sp = FieldPath::root("spec");
    let tpl = sp.child("template").child("spec");
    let immutable = |errs: &mut Errs, field: &str, why: &str| {
        if let Some(old) = old {
            if !old["spec"][field].is_null() && old["spec"][field] != spec[field] {
                let shown = if field == "selector" {
                    go_selector(&spec[field])
                } else {
                    spec[field].to_string()
                };
                errs.push(FieldError::invalid_go(&sp.child(field), &shown, why));
            }
        }
    };
    match (group, plural) {
        ("", "pods") => {
            pod_spec(&mut errs, spec, &sp, None);
        }
        ("apps", "deployments") | ("apps", "replicasets") => {
            non_negative(&mut errs, spec, "replicas", &sp);
            non_negative(&mut errs, spec, "revisionHistoryLimit", &sp);
            non_negative(&mut errs, spec, "minReadySeconds", &sp);
            let kind = if plural == "deployments" {
                "deployment"
            } else {
                "replicaset"
            };
            selector_and_template(&mut errs, spec, &sp, kind);
            pod_spec(
                &mut errs,
                &spec["template"]["spec"],
                &tpl,
                Some(&["Always"]),
            );
            immutable(&mut errs, "selector", "field is immutable");
            let st = &spec["strategy"];
            let stp = sp.child("strategy");
            enum_check(&mut errs, st, "type", &stp, &["Recreate", "RollingUpdate"]);
            if s(st, "type") == Some("Recreate") && present(st, "rollingUpdate") {
                errs.push(FieldError::forbidden(
                    &stp.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            } else if st["rollingUpdate"].is_object() {
                rolling(&mut errs, &st["rollingUpdate"], &stp.child("rollingUpdate"));
            }
            if let (Some(pd), Some(mr)) = (
                spec["progressDeadlineSeconds"].as_i64(),
                spec["minReadySeconds"].as_i64(),
            ) {
                if pd <= mr {
                    errs.push(FieldError::invalid(
                        &sp.child("progressDeadlineSeconds"),
                        pd,
                        "must be greater than minReadySeconds",
                    ));
                }
            }
        }
        ("apps", "statefulsets") => {
            non_negative(&mut errs, spec, "replicas", &sp);
            selector_and_template(&mut errs, spec, &sp, "statefulset");
            pod_spec(
                &mut errs,
                &spec["template"]["spec"],
                &tpl,
                Some(&["Always"]),
            );
            enum_check(
                &mut errs,
                spec,
                "podManagementPolicy",
                &sp,
                &["OrderedReady", "Parallel"],
            );
            enum_check(
                &mut errs,
                &spec["updateStrategy"],
                "type",
                &sp.child("updateStrategy"),
                &["OnDelete", "RollingUpdate"],
            );
            if let Some(old) = old {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        for k in [
                            "replicas",
                            "ordinals",
                            "template",
                            "updateStrategy",
                            "persistentVolumeClaimRetentionPolicy",
                            "minReadySeconds",
                        ] {
                            m.remove(k);
                        }
                    }
                    v
                };
                if strip(&old["spec"]) != strip(spec) {
                    errs.push(FieldError::forbidden(&sp, "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
                }
            }
        }
        ("apps", "daemonsets") => {
            selector_and_template(&mut errs, spec, &sp, "daemonset");
            pod_spec(
                &mut errs,
                &spec["template"]["spec"],
                &tpl,
                Some(&["Always"]),
            );
            immutable(&mut errs, "selector", "field is immutable");
            let us = &spec["updateStrategy"];
            enum_check(
                &mut errs,
                us,
                "type",
                &sp.child("updateStrategy"),
                &["OnDelete", "RollingUpdate"],
            );
            if us["rollingUpdate"].is_object() {
                rolling(
                    &mut errs,
                    &us["rollingUpdate"],
                    &sp.child("updateStrategy").child("rollingUpdate"),
                );
            }
        }
        ("batch", "jobs") => job_spec(&mut errs, spec, &sp, old.map(|o| &o["spec"])),
        ("batch", "cronjobs") => {
            let name = obj["metadata"]["name"].as_str().unwrap_or("");
            if old.is_none() && name.len() > 52 {
                errs.push(FieldError::invalid(
                    &FieldPath::root("metadata").child("name"),
                    name,
                    "must be no more than 52 characters",
                ));
            }
            match s(spec, "schedule") {
                None | Some("") => errs.push(FieldError::required(&sp.child("schedule"), "")),
                Some(sched) => {
                    if !valid_cron(sched) {
                        errs.push(FieldError::invalid(
                            &sp.child("schedule"),
                            sched,
                            &format!("unparseable schedule: {sched:?}"),
                        ));
                    }
                }
            }
            enum_check(
                &mut errs,
                spec,
                "concurrencyPolicy",
                &sp,
                &["Allow", "Forbid", "Replace"],
            );
            let jt = &spec["jobTemplate"]["spec"];
            job_spec(&mut errs, jt, &sp.child("jobTemplate").child("spec"), None);
        }
        ("", "services") => service(&mut errs, spec, &sp, old),
        ("", "configmaps") => config_data(&mut errs, obj, old, false),
        ("", "secrets") => config_data(&mut errs, obj, old, true),
        ("rbac.authorization.k8s.io", "roles") | ("rbac.authorization.k8s.io", "clusterroles") => {
            let aggregated = obj["aggregationRule"].is_object();
            for (i, r) in arr(obj, "rules").iter().enumerate() {
                let rp = FieldPath::root("rules").index(i);
                if arr(r, "verbs").is_empty() {
                    errs.push(FieldError::required(
                        &rp.child("verbs"),
                        "verbs must contain at least one value",
                    ));
                }
                let urls = arr(r, "nonResourceURLs");
                if !urls.is_empty() {
                    if plural == "roles" {
                        errs.push(FieldError::invalid(
                            &rp.child("nonResourceURLs"),
                            Value::Array(urls.to_vec()).to_string(),
                            "namespaced rules cannot apply to non-resource URLs",
                        ));
                    }
                    if !arr(r, "resources").is_empty() || !arr(r, "apiGroups").is_empty() {
                        errs.push(FieldError::invalid(
                            &rp.child("nonResourceURLs"),
                            Value::Array(urls.to_vec()).to_string(),
                            "rules cannot apply to both regular resources and non-resource URLs",
                        ));
                    }
                } else if arr(r, "apiGroups").is_empty() {
                    errs.push(FieldError::required(
                        &rp.child("apiGroups"),
                        "resource rules must supply at least one api group",
                    ));
                } else if arr(r, "resources").is_empty() {
                    errs.push(FieldError::required(
                        &rp.child("resources"),
                        "resource rules must supply at least one resource",
                    ));
                }
            }
            let _ = aggregated;
        }
        ("rbac.authorization.k8s.io", "rolebindings")
        | ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            let rr = &obj["roleRef"];
            let rp = FieldPath::root("roleRef");
            let kinds: &[&str] = if plural == "rolebindings" {
                &["Role", "ClusterRole"]
            } else {
                &["ClusterRole"]
            };
            match s(rr, "kind") {
                None | Some("") => {
                    errs.push(FieldError::not_supported(&rp.child("kind"), "", kinds))
                }
                Some(k) if !kinds.contains(&k) => {
                    errs.push(FieldError::not_supported(&rp.child("kind"), k, kinds))
                }
                _ => {}
            }
            match s(rr, "name") {
                None | Some("") => errs.push(FieldError::required(&rp.child("name"), "")),
                Some(n) => {
                    for m in names::path_segment(n) {
                        errs.push(FieldError::invalid(&rp.child("name"), n, &m));
                    }
                }
            }
            if let Some(g) = s(rr, "apiGroup").filter(|g| *g != "rbac.authorization.k8s.io") {
                errs.push(FieldError::not_supported(
                    &rp.child("apiGroup"),
                    g,
                    &["rbac.authorization.k8s.io"],
                ));
            }
            if let Some(old) = old {
                if old["roleRef"] != *rr {
                    errs.push(FieldError::invalid_go(
                        &rp,
                        &format!(
                            "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}",
                            s(rr, "apiGroup").unwrap_or(""),
                            s(rr, "kind").unwrap_or(""),
                            s(rr, "name").unwrap_or("")
                        ),
                        "cannot change roleRef",
                    ));
                }
            }
            for (i, sub) in arr(obj, "subjects").iter().enumerate() {
                let sp = FieldPath::root("subjects").index(i);
                let kind = s(sub, "kind").unwrap_or("");
                if !["ServiceAccount", "User", "Group"].contains(&kind) {
                    errs.push(FieldError::not_supported(
                        &sp.child("kind"),
                        kind,
                        &["ServiceAccount", "User", "Group"],
                    ));
                }
                if s(sub, "name").is_none_or(str::is_empty) {
                    errs.push(FieldError::required(&sp.child("name"), ""));
                }
                if kind == "ServiceAccount"
                    && plural == "clusterrolebindings"
                    && s(sub, "namespace").is_none_or(str::is_empty)
                {
                    errs.push(FieldError::required(&sp.child("namespace"), ""));
                }
            }
        }
        ("networking.k8s.io", "ingresses") => ingress(&mut errs, spec, &sp),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
        | ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
            webhooks(&mut errs, obj)
        }
        ("scheduling.k8s.io", "priorityclasses") => {
            let name = obj["metadata"]["name"].as_str().unwrap_or("");
            let value = obj["value"].as_i64().unwrap_or(0);
            let builtin_class = matches!(name, "system-cluster-critical" | "system-node-critical");
            if old.is_none() && name.starts_with("system-") && !builtin_class {
                errs.push(FieldError::invalid(
                    &FieldPath::root("metadata").child("name"),
                    name,
                    "priority class names with 'system-' prefix are reserved",
                ));
            }
            if old.is_none() && value > 1_000_000_000 && !builtin_class {
                errs.push(FieldError::forbidden(
                    &FieldPath::root("value"),
                    "maximum allowed value of a user defined priority is 1000000000",
                ));
            }
            if let Some(old) = old {
                if old["value"] != obj["value"] {
                    errs.push(FieldError::forbidden(
                        &FieldPath::root("value"),
                        "may not be changed in an update.",
                    ));
                }
            }
            enum_check(
                &mut errs,
                obj,
                "preemptionPolicy",
                &FieldPath::empty(),
                &["Never", "PreemptLowerPriority"],
            );
        }
        _ => {}
    }
    errs
}

fn job_spec(errs: &mut Errs, spec: &Value, sp: &FieldPath, old: Option<&Value>) {
    for k in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ] {
        non_negative(errs, spec, k, sp);
    }
    enum_check(errs, spec, "completionMode", sp, &["NonIndexed", "Indexed"]);
    pod_spec(
        errs,
        &spec["template"]["spec"],
        &sp.child("template").child("spec"),
        Some(&["OnFailure", "Never"]),
    );
    if let Some(old) = old {
        if old["template"] != spec["template"] && !old["template"].is_null() {
            errs.push(FieldError::invalid_go(
                &sp.child("template"),
                "core.PodTemplateSpec{...}",
                "field is immutable",
            ));
        }
        if old["selector"] != spec["selector"] && !old["selector"].is_null() {
            errs.push(FieldError::invalid_go(
                &sp.child("selector"),
                &go_selector(&spec["selector"]),
                "field is immutable",
            ));
        }
    }
}

/// Five space-separated cron fields (or a `@every`/`@hourly`-style descriptor).
fn valid_cron(s: &str) -> bool {
    let s = s.trim();
    let s = s
        .strip_prefix("TZ=")
        .or_else(|| s.strip_prefix("CRON_TZ="))
        .and_then(|r| r.split_once(' ').map(|(_, rest)| rest))
        .unwrap_or(s);
    if let Some(d) = s.strip_prefix('@') {
        return matches!(
            d,
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly"
        ) || d.starts_with("every ");
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
        })
}

fn service(errs: &mut Errs, spec: &Value, sp: &FieldPath, old: Option<&Value>) {
    let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    let ty = s(spec, "type").unwrap_or("ClusterIP");
    if !types.contains(&ty) {
        errs.push(FieldError::not_supported(&sp.child("type"), ty, &types));
    }
    let ports = arr(spec, "ports");
    let headless = s(spec, "clusterIP") == Some("None");
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required(&sp.child("ports"), ""));
    }
    if ty == "ExternalName" && s(spec, "externalName").is_none_or(str::is_empty) {
        errs.push(FieldError::required(&sp.child("externalName"), ""));
    }
    let mut names_seen = std::collections::HashSet::new();
    let mut keys_seen = std::collections::HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let pp = sp.child("ports").index(i);
        match s(port, "name") {
            None | Some("") if ports.len() > 1 => {
                errs.push(FieldError::required(&pp.child("name"), ""))
            }
            Some(n) if !n.is_empty() => {
                names_check(errs, &pp.child("name"), n, names::dns1123_label);
                if !names_seen.insert(n) {
                    errs.push(FieldError::duplicate(&pp.child("name"), n));
                }
            }
            _ => {}
        }
        port_check(errs, &pp.child("port"), &port["port"], true);
        enum_check(errs, port, "protocol", &pp, &["SCTP", "TCP", "UDP"]);
        int_or_name_port(errs, &pp.child("targetPort"), &port["targetPort"]);
        if let Some(np) = port["nodePort"].as_i64().filter(|n| *n != 0) {
            if ty == "ClusterIP" || ty == "ExternalName" {
                errs.push(FieldError::forbidden(
                    &pp.child("nodePort"),
                    &format!("may not be used when `type` is '{ty}'"),
                ));
            } else if !(30000..=32767).contains(&np) {
                errs.push(FieldError::invalid(&pp.child("nodePort"), np, "provided port is not in the valid range. The range of valid ports is 30000-32767"));
            }
        }
        let key = (
            port["port"].as_i64(),
            s(port, "protocol").unwrap_or("TCP").to_string(),
        );
        if key.0.is_some() && !keys_seen.insert(key.clone()) {
            errs.push(FieldError::duplicate_go(
                &pp,
                &format!(
                    "core.ServicePort{{Name:{:?}, Protocol:{:?}, Port:{}}}",
                    s(port, "name").unwrap_or(""),
                    key.1,
                    key.0.unwrap_or(0)
                ),
            ));
        }
    }
    enum_check(errs, spec, "sessionAffinity", sp, &["ClientIP", "None"]);
    if let Some(p) = s(spec, "externalTrafficPolicy") {
        if ty == "ClusterIP" || ty == "ExternalName" {
            errs.push(FieldError::invalid(
                &sp.child("externalTrafficPolicy"),
                p,
                "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
            ));
        } else {
            enum_check(
                errs,
                spec,
                "externalTrafficPolicy",
                sp,
                &["Cluster", "Local"],
            );
        }
    }
    enum_check(
        errs,
        spec,
        "internalTrafficPolicy",
        sp,
        &["Cluster", "Local"],
    );
    if let Some(old) = old {
        let was = old["spec"]["clusterIP"].as_str().unwrap_or("");
        let now = s(spec, "clusterIP").unwrap_or("");
        let old_ty = old["spec"]["type"].as_str().unwrap_or("ClusterIP");
        if !was.is_empty()
            && !now.is_empty()
            && was != now
            && old_ty != "ExternalName"
            && ty != "ExternalName"
        {
            errs.push(FieldError::invalid_go(
                &sp.child("clusterIPs").index(0),
                &format!("[]string{{{now:?}}}"),
                "may not change once set",
            ));
        }
    }
}

/// ConfigMap and Secret: keys, total size, immutability, Secret types.
fn config_data(errs: &mut Errs, obj: &Value, old: Option<&Value>, secret: bool) {
    let mut total = 0usize;
    let mut keys = std::collections::HashSet::new();
    for field in ["data", "binaryData"] {
        if let Some(m) = obj[field].as_object() {
            for (k, v) in m {
                for msg in names::config_key(k) {
                    errs.push(FieldError::invalid(
                        &FieldPath::root(field).key(k),
                        k.as_str(),
                        &msg,
                    ));
                }
                if !keys.insert(k.clone()) {
                    errs.push(FieldError::duplicate(
                        &FieldPath::root(field).key(k),
                        k.as_str(),
                    ));
                }
                let s = v.as_str().unwrap_or("");
                total += if secret || field == "binaryData" {
                    s.len() / 4 * 3
                } else {
                    s.len()
                } + k.len();
            }
        }
    }
    if total > 1024 * 1024 {
        let p = if secret {
            FieldPath::root("data")
        } else {
            FieldPath::root("[]")
        };
        errs.push(FieldError::too_long(&p, 1024 * 1024));
    }
    if let Some(old) = old {
        if old["immutable"] == json!(true) {
            if old["data"] != obj["data"] || old["binaryData"] != obj["binaryData"] {
                errs.push(FieldError::forbidden(
                    &FieldPath::root("data"),
                    "field is immutable when `immutable` is set",
                ));
            }
            if obj["immutable"] != json!(true) {
                errs.push(FieldError::forbidden(
                    &FieldPath::root("immutable"),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        if secret {
            let was = old["type"].as_str().unwrap_or("Opaque");
            let now = obj["type"].as_str().unwrap_or("Opaque");
            if was != now {
                errs.push(FieldError::invalid(
                    &FieldPath::root("type"),
                    now,
                    "field is immutable",
                ));
            }
        }
    }
    if !secret {
        return;
    }
    let data = &obj["data"];
    let has = |k: &str| data.get(k).is_some();
    let dp = FieldPath::root("data");
    match obj["type"].as_str().unwrap_or("Opaque") {
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    errs.push(FieldError::required(&dp.key(k), ""));
                }
            }
        }
        "kubernetes.io/dockerconfigjson" => {
            if !has(".dockerconfigjson") {
                errs.push(FieldError::required(&dp.key(".dockerconfigjson"), ""));
            } else {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(data[".dockerconfigjson"].as_str().unwrap_or(""))
                    .unwrap_or_default();
                if serde_json::from_slice::<Value>(&raw).is_err() {
                    errs.push(FieldError::invalid(
                        &dp.key(".dockerconfigjson"),
                        "<secret contents redacted>",
                        "invalid character in JSON",
                    ));
                }
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.push(FieldError::required(&dp.key(".dockercfg"), ""));
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(&dp.key("username"), ""));
            errs.push(FieldError::required(&dp.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errs.push(FieldError::required(&dp.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/service-account-token"
            if obj["metadata"]["annotations"]["kubernetes.io/service-account.name"]
                .as_str()
                .is_none_or(str::is_empty) =>
        {
            errs.push(FieldError::required(
                &FieldPath::root("metadata")
                    .child("annotations")
                    .key("kubernetes.io/service-account.name"),
                "",
            ));
        }
        _ => {}
    }
}

fn ingress(errs: &mut Errs, spec: &Value, sp: &FieldPath) {
    if spec["defaultBackend"].is_null() && arr(spec, "rules").is_empty() {
        errs.push(FieldError::invalid(
            sp,
            spec.to_string(),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    for (i, r) in arr(spec, "rules").iter().enumerate() {
        let rp = sp.child("rules").index(i);
        if r["http"].is_null() {
            continue;
        }
        let paths = arr(&r["http"], "paths");
        if paths.is_empty() {
            errs.push(FieldError::required(&rp.child("http").child("paths"), ""));
        }
        for (j, p) in paths.iter().enumerate() {
            let pp = rp.child("http").child("paths").index(j);
            let types = ["Exact", "ImplementationSpecific", "Prefix"];
            match s(p, "pathType") {
                None | Some("") => errs.push(FieldError::required(
                    &pp.child("pathType"),
                    "pathType must be specified",
                )),
                Some(t) if !types.contains(&t) => {
                    errs.push(FieldError::not_supported(&pp.child("pathType"), t, &types))
                }
                Some(t) => {
                    let path = s(p, "path").unwrap_or("");
                    if t != "ImplementationSpecific" && !path.starts_with('/') {
                        errs.push(FieldError::invalid(
                            &pp.child("path"),
                            path,
                            "must be an absolute path",
                        ));
                    }
                }
            }
            let svc = &p["backend"]["service"];
            if svc.is_object() {
                let bp = pp.child("backend").child("service");
                if s(svc, "name").is_none_or(str::is_empty) {
                    errs.push(FieldError::required(&bp.child("name"), ""));
                }
                let port = &svc["port"];
                if present(port, "name") && present(port, "number") {
                    errs.push(FieldError::invalid(
                        &bp.child("port"),
                        port.to_string(),
                        "cannot set both port name & port number",
                    ));
                } else if present(port, "number") {
                    port_check(
                        errs,
                        &bp.child("port").child("number"),
                        &port["number"],
                        true,
                    );
                } else if !present(port, "name") {
                    errs.push(FieldError::invalid(
                        &bp.child("port"),
                        port.to_string(),
                        "port name or number is required",
                    ));
                }
            } else if p["backend"]["resource"].is_null() {
                errs.push(FieldError::invalid(
                    &pp.child("backend"),
                    p["backend"].to_string(),
                    "one backend must be specified",
                ));
            }
        }
    }
}

fn webhooks(errs: &mut Errs, obj: &Value) {
    let mut seen = std::collections::HashSet::new();
    for (i, w) in arr(obj, "webhooks").iter().enumerate() {
        let wp = FieldPath::root("webhooks").index(i);
        let name = s(w, "name").unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(&wp.child("name"), ""));
        } else if name.split('.').count() < 3 || !names::dns1123_subdomain(name).is_empty() {
            errs.push(FieldError::invalid(
                &wp.child("name"),
                name,
                "should be a domain with at least three segments separated by dots",
            ));
        } else if !seen.insert(name) {
            errs.push(FieldError::duplicate(&wp.child("name"), name));
        }
        match s(w, "sideEffects") {
            None | Some("") => errs.push(FieldError::required(
                &wp.child("sideEffects"),
                "must specify one of None, NoneOnDryRun",
            )),
            Some(x) if !["None", "NoneOnDryRun"].contains(&x) => errs.push(
                FieldError::not_supported(&wp.child("sideEffects"), x, &["None", "NoneOnDryRun"]),
            ),
            _ => {}
        }
        if arr(w, "admissionReviewVersions").is_empty() {
            errs.push(FieldError::required(
                &wp.child("admissionReviewVersions"),
                "must specify one of v1, v1beta1",
            ));
        }
        let cc = &w["clientConfig"];
        if present(cc, "url") == present(cc, "service") {
            errs.push(FieldError::required(
                &wp.child("clientConfig"),
                "exactly one of url or service is required",
            ));
        }
        if cc["service"].is_object() {
            if let Some(p) = cc["service"].get("port") {
                port_check(
                    errs,
                    &wp.child("clientConfig").child("service").child("port"),
                    p,
                    false,
                );
            }
        }
        enum_check(errs, w, "failurePolicy", &wp, &["Fail", "Ignore"]);
        enum_check(errs, w, "matchPolicy", &wp, &["Equivalent", "Exact"]);
        if let Some(t) = w["timeoutSeconds"]
            .as_i64()
            .filter(|t| !(1..=30).contains(t))
        {
            errs.push(FieldError::invalid(
                &wp.child("timeoutSeconds"),
                t,
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
        for (j, r) in arr(w, "rules").iter().enumerate() {
            let ops = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
            for (k, op) in arr(r, "operations").iter().enumerate() {
                if let Some(o) = op.as_str().filter(|o| !ops.contains(o)) {
                    errs.push(FieldError::not_supported(
                        &wp.child("rules").index(j).child("operations").index(k),
                        o,
                        &ops,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(errs: &Errs) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn deployment_template_port_out_of_range() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 70000}]}]}}}});
        assert_eq!(
            msgs(&validate("apps", "deployments", &d, None)),
            vec!["spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]
        );
    }

    #[test]
    fn rbac_names_may_hold_colons() {
        let r = json!({"metadata": {"name": "system:metrics-server"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        assert!(validate("rbac.authorization.k8s.io", "clusterroles", &r, None).is_empty());
        let cm = json!({"metadata": {"name": "system:x"}});
        assert_eq!(validate("", "configmaps", &cm, None).len(), 1);
    }

    #[test]
    fn service_cluster_ip_is_immutable() {
        let old = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}});
        let new = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.6", "ports": [{"port": 80}]}});
        assert_eq!(
            msgs(&validate("", "services", &new, Some(&old))),
            vec!["spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.6\"}: may not change once set"]
        );
    }

    #[test]
    fn tls_secrets_need_both_keys() {
        let s = json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(
            msgs(&validate("", "secrets", &s, None)),
            vec!["data[tls.key]: Required value"]
        );
    }
}

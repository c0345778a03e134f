//! Merge patch (RFC 7386), strategic merge patch (for the fields kubectl touches) and JSON
//! patch (RFC 6902).

use serde_json::{json, Value};

use super::status::ApiError;

/// The merge key of a list field, when its items are merged by key rather than replaced.
pub fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "volumeMounts" | "volumeDevices" => "mountPath",
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        "conditions" => "type",
        "hostAliases" => "ip",
        "ownerReferences" => "uid",
        _ => return None,
    };
    items
        .iter()
        .all(|i| i.get(key).is_some_and(|v| !v.is_null()))
        .then_some(key)
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Strategic merge patch: like a merge patch, but lists with a merge key (containers, env,
/// volumes by name, ports by port, volumeMounts by mountPath) merge item by item,
/// `$patch: delete|replace` is honoured and `$setElementOrder`/`$retainKeys` are ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = strip_directives(patch);
        return;
    }
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(del)) = (t.get_mut(field), v.as_array()) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        if v.get("$patch").and_then(Value::as_str) == Some("delete") {
            t.remove(k);
            continue;
        }
        match (t.get_mut(k), v) {
            (Some(Value::Array(live)), Value::Array(items)) => {
                if let Some(key) = merge_key(k, items).filter(|_| merge_key(k, live).is_some()) {
                    merge_list(live, items, key);
                } else if k == "finalizers" {
                    for i in items {
                        if !live.contains(i) {
                            live.push(i.clone());
                        }
                    }
                } else {
                    *live = items.iter().map(strip_directives).collect();
                }
            }
            (Some(live), Value::Object(_)) => strategic_merge(live, v),
            (_, _) => {
                t.insert(k.clone(), strip_directives(v));
            }
        }
    }
}

fn merge_list(live: &mut Vec<Value>, items: &[Value], key: &str) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *live = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return;
    }
    for item in items {
        let id = &item[key];
        let pos = live.iter().position(|l| &l[key] == id);
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            live.retain(|l| &l[key] != id);
            continue;
        }
        match pos {
            Some(i) => strategic_merge(&mut live[i], item),
            None => live.push(strip_directives(item)),
        }
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let p: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &p).map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_sets_and_removes() {
        let mut t = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}});
        merge_patch(
            &mut t,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"x": [3]}}),
        );
        assert_eq!(
            t,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"x": [3]}})
        );
    }

    #[test]
    fn strategic_merge_by_name_and_port() {
        let mut t = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}], "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"}]}});
        let p = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [
                {"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "$patch": "delete"}],
                 "ports": [{"containerPort": 80, "name": "http"}]},
                {"name": "c", "image": "c:1"}]}});
        strategic_merge(&mut t, &p);
        let cs = t["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0]["image"], "a:1");
        assert_eq!(cs[0]["env"], json!([{"name": "Y", "value": "2"}]));
        assert_eq!(
            cs[0]["ports"],
            json!([{"containerPort": 80, "name": "http"}])
        );
        assert_eq!(cs[2]["name"], "c");
        assert!(t["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn strategic_merge_rollout_restart_and_delete_map() {
        let mut t =
            json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}}, "paused": true}});
        strategic_merge(
            &mut t,
            &json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}, "paused": {"$patch": "delete"}}}),
        );
        assert_eq!(t["spec"]["template"]["metadata"]["labels"]["app"], "x");
        assert_eq!(
            t["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "now"
        );
        assert!(t["spec"].get("paused").is_none());
    }

    #[test]
    fn json_patch_ops_and_errors() {
        let mut t = json!({"spec": {"replicas": 1, "list": ["a"]}});
        json_patch(
            &mut t,
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/-", "value": "b"}]),
        )
        .unwrap();
        assert_eq!(t, json!({"spec": {"replicas": 3, "list": ["a", "b"]}}));
        let err = json_patch(&mut t, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(json_patch(&mut t, &json!({"op": 1})).unwrap_err().code, 400);
    }
}

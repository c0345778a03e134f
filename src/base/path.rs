//! Dotted paths into JSON (`status.loadBalancer.ingress.0.ip`), as rule files write them.

use serde_json::Value;

/// The value at a dotted path; a number indexes an array. `None` when any step is missing.
pub fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(value, |cur, part| match cur {
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            Value::Object(map) => map.get(part),
            _ => None,
        })
}

/// The value at a dotted path, `null` when any step is missing.
pub fn field<'a>(value: &'a Value, path: &str) -> &'a Value {
    get(value, path).unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_objects_and_arrays() {
        let v = json!({"status": {"ingress": [{"ip": "1.2.3.4"}]}});
        assert_eq!(get(&v, "status.ingress.0.ip"), Some(&json!("1.2.3.4")));
        assert_eq!(get(&v, "status.ingress.1.ip"), None);
        assert_eq!(get(&v, "status.ingress.x"), None);
        assert_eq!(field(&v, "spec.missing"), &Value::Null);
        assert_eq!(get(&v, ""), Some(&v));
    }
}

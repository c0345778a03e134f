//! How the REPL shows values: strings raw, maps and arrays as YAML, cluster handles by name,
//! everything else as Rhai prints it; `()` shows nothing.

use rhai::Dynamic;

/// The text shown for a result, or `None` for `()`; objects' `metadata.managedFields` are
/// folded to one line (`:full EXPR` shows them).
pub fn show(value: &Dynamic) -> Option<String> {
    show_as(value, false)
}

/// The text shown for a result, with `managedFields` folded unless `full`.
pub fn show_as(value: &Dynamic, full: bool) -> Option<String> {
    if value.is_unit() {
        return None;
    }
    if value.is_string() {
        return Some(value.to_string());
    }
    if value.is_map() || value.is_array() {
        let mut json = to_json(value);
        if !full {
            fold_managed_fields(&mut json);
        }
        return Some(match serde_yaml::to_string(&json) {
            Ok(text) => text.trim_end().to_string(),
            Err(_) => value.to_string(),
        });
    }
    Some(scalar(value))
}

/// A one-line preview (for `:vars`), cut to `max` characters.
pub fn preview(value: &Dynamic, max: usize) -> String {
    let text = if value.is_string() {
        format!("{:?}", value.to_string())
    } else if value.is_map() || value.is_array() {
        serde_json::to_string(&to_json(value)).unwrap_or_default()
    } else {
        scalar(value)
    };
    let text = text.replace('\n', " ");
    if text.chars().count() > max {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Replaces every object's `metadata.managedFields` (server-side apply bookkeeping, dozens of
/// lines nobody reads at a prompt) with a one-line note.
pub fn fold_managed_fields(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter_mut().for_each(fold_managed_fields),
        Value::Object(map) => {
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                if let Some(Value::Array(fields)) = meta.get("managedFields") {
                    let n = fields.len();
                    meta.insert(
                        "managedFields".into(),
                        Value::String(format!(
                            "({n} entr{} folded; `:full EXPR` shows them)",
                            if n == 1 { "y" } else { "ies" }
                        )),
                    );
                }
            }
            for (k, v) in map.iter_mut() {
                if k != "metadata" {
                    fold_managed_fields(v);
                }
            }
        }
        _ => {}
    }
}

fn scalar(value: &Dynamic) -> String {
    if let Some(name) = crate::bindings::cluster_name_of(value) {
        return format!("cluster(\"{name}\")");
    }
    if value.is::<rhai::FnPtr>() {
        return "closure".to_string();
    }
    value.to_string()
}

/// Converts any value to JSON, showing values JSON cannot hold (cluster handles, closures)
/// as text.
fn to_json(value: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
    if value.is_unit() {
        return Value::Null;
    }
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Value::Bool(b);
    }
    if let Ok(i) = value.as_int() {
        return Value::from(i);
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null);
    }
    if value.is_string() {
        return Value::String(value.to_string());
    }
    if let Some(arr) = value.read_lock::<rhai::Array>() {
        return Value::Array(arr.iter().map(to_json).collect());
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return Value::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        );
    }
    Value::String(scalar(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Dynamic {
        rhai::Engine::new().eval::<Dynamic>(src).unwrap()
    }

    #[test]
    fn strings_are_raw_and_unit_is_silent() {
        assert_eq!(show(&eval("\"a\\nb\"")).as_deref(), Some("a\nb"));
        assert_eq!(show(&eval("()")), None);
        assert_eq!(show(&eval("40 + 2")).as_deref(), Some("42"));
        assert_eq!(show(&eval("true")).as_deref(), Some("true"));
    }

    #[test]
    fn maps_and_arrays_are_yaml() {
        let text = show(&eval(
            "#{name: \"x\", labels: #{app: \"web\"}, ports: [80, 443]}",
        ))
        .unwrap();
        assert!(text.contains("name: x"), "{text}");
        assert!(text.contains("labels:\n  app: web"), "{text}");
        assert!(text.contains("ports:\n- 80\n- 443"), "{text}");
        assert_eq!(show(&eval("[1, \"a\", ()]")).unwrap(), "- 1\n- a\n- null");
    }

    #[test]
    fn managed_fields_are_folded_unless_full() {
        let obj = eval("#{kind: \"ConfigMap\", metadata: #{name: \"x\", managedFields: [#{manager: \"meshbook\"}, #{manager: \"kubectl\"}]}, items: [#{metadata: #{managedFields: [#{manager: \"a\"}]}}]}");
        let text = show(&obj).unwrap();
        assert!(text.contains("managedFields: (2 entries folded"), "{text}");
        assert!(text.contains("managedFields: (1 entry folded"), "{text}");
        assert!(!text.contains("manager: kubectl"), "{text}");
        let full = show_as(&obj, true).unwrap();
        assert!(full.contains("manager: kubectl"), "{full}");
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview(&eval("\"hi\""), 20), "\"hi\"");
        assert_eq!(preview(&eval("#{a: 1}"), 20), "{\"a\":1}");
        let long = preview(&eval("\"abcdefghijklmnopqrstuvwxyz\""), 10);
        assert_eq!(long.chars().count(), 10);
        assert!(long.ends_with('…'));
    }
}

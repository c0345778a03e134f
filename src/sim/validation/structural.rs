//! Custom resources against their CRD's structural schema, as the apiextensions server does:
//! unknown fields pruned (unless `x-kubernetes-preserve-unknown-fields`), defaults applied,
//! then types, enums, patterns, lengths, ranges, item counts, list types, `required` and the
//! `x-kubernetes-validations` CEL rules checked, each failure a field error in its words.

use serde_json::{Map, Value};

use super::cel;
use super::field::{ErrorType, FieldError, FieldPath};

/// What a schema walk found.
#[derive(Debug, Default)]
pub struct Report {
    /// Pruned unknown fields, with indices: `spec.rules[0].matchez`.
    pub unknown: Vec<String>,
    pub errors: Vec<FieldError>,
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

/// Prunes and defaults `obj` in place (the root: apiVersion, kind and metadata are kept).
pub fn prune_and_default(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some(m) = obj.as_object_mut() {
        let props = schema.get("properties").and_then(Value::as_object);
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.and_then(|p| p.get(&k)) {
                Some(ps) => {
                    if let Some(child) = m.get_mut(&k) {
                        walk_prune(ps, child, &k, &mut unknown);
                    }
                }
                None if flag(schema, "x-kubernetes-preserve-unknown-fields") => {}
                None => {
                    unknown.push(k.clone());
                    m.remove(&k);
                }
            }
        }
        apply_defaults(schema, m, "", &mut unknown);
    }
    unknown
}

fn apply_defaults(
    schema: &Value,
    m: &mut Map<String, Value>,
    path: &str,
    unknown: &mut Vec<String>,
) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (k, ps) in props {
        let missing = match m.get(k) {
            None => true,
            Some(Value::Null) => !flag(ps, "nullable"),
            _ => false,
        };
        if missing {
            if let Some(d) = ps.get("default") {
                let mut d = d.clone();
                let p = join(path, k);
                walk_prune(ps, &mut d, &p, unknown);
                m.insert(k.clone(), d);
            } else if m.get(k).is_some_and(Value::is_null)
                && !flag(ps, "nullable")
                && path.is_empty()
            {
                // a null top-level field without a default goes, as the server prunes it
                m.remove(k);
            }
        }
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn walk_prune(schema: &Value, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            if props.is_none() && additional.is_none() && (preserve || schema.get("type").is_none())
            {
                return;
            }
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let p = join(path, &k);
                let child_schema = props.and_then(|p| p.get(&k)).or(additional);
                match child_schema {
                    Some(cs) => {
                        if let Some(c) = m.get_mut(&k) {
                            walk_prune(cs, c, &p, unknown);
                        }
                    }
                    None if preserve => {}
                    None if embedded
                        && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") => {}
                    None => {
                        unknown.push(p);
                        m.remove(&k);
                    }
                }
            }
            apply_defaults(schema, m, path, unknown);
        }
        Value::Array(items) => {
            if let Some(is) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_prune(is, item, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

/// Validates a (pruned, defaulted) custom resource; `old` is the stored one on updates.
pub fn validate(schema: &Value, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut root = obj.clone();
    if let Some(m) = root.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
    }
    let mut old_root = old.cloned();
    if let Some(m) = old_root.as_mut().and_then(Value::as_object_mut) {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
    }
    check(
        schema,
        &root,
        old_root.as_ref(),
        &FieldPath::empty(),
        &mut errs,
        true,
    );
    errs
}

fn body_path(p: &FieldPath) -> String {
    if p.as_str().is_empty() {
        "body".into()
    } else {
        format!("{p} in body")
    }
}

fn check(
    schema: &Value,
    v: &Value,
    old: Option<&Value>,
    p: &FieldPath,
    errs: &mut Vec<FieldError>,
    root: bool,
) {
    let before = errs.len();
    if v.is_null() {
        if !flag(schema, "nullable") {
            if let Some(t) = schema.get("type").and_then(Value::as_str) {
                errs.push(type_error(p, "null", t));
            }
        }
        return;
    }
    let actual = type_of(v);
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    if int_or_string {
        if !matches!(actual, "integer" | "string") {
            errs.push(type_error(p, actual, "integer,string"));
            return;
        }
    } else if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = t == actual || (t == "number" && actual == "integer");
        if !ok {
            errs.push(type_error(p, actual, t));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            let shown: Vec<String> = allowed
                .iter()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), String::from))
                .collect();
            let refs: Vec<&str> = shown.iter().map(String::as_str).collect();
            errs.push(FieldError::not_supported(p, v.clone(), &refs));
        }
    }
    match v {
        Value::String(s) => string_checks(schema, s, p, errs),
        Value::Number(n) => number_checks(schema, n.as_f64().unwrap_or(0.0), v, p, errs),
        Value::Array(items) => {
            let n = items.len();
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if n as u64 > max {
                    errs.push(FieldError::too_many(p, n, max as usize));
                }
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (n as u64) < min {
                    errs.push(FieldError::invalid(
                        p,
                        n,
                        &format!("{} should have at least {min} items", body_path(p)),
                    ));
                }
            }
            list_type_checks(schema, items, p, errs);
            if let Some(is) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    let old_item = old.and_then(|o| correlate(schema, o, item));
                    check(is, item, old_item, &p.index(i), errs, false);
                }
            }
        }
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = req.as_str() {
                    if m.get(r).is_none_or(Value::is_null) && !(root && r == "metadata") {
                        errs.push(FieldError::required(&p.child(r), ""));
                    }
                }
            }
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
                if m.len() as u64 > max {
                    errs.push(FieldError::too_many(p, m.len(), max as usize));
                }
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
                if (m.len() as u64) < min {
                    errs.push(FieldError::invalid(
                        p,
                        m.len(),
                        &format!("{} should have at least {min} properties", body_path(p)),
                    ));
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, child) in m {
                let old_child = old.and_then(|o| o.get(k));
                if let Some(ps) = props.and_then(|pr| pr.get(k)) {
                    check(ps, child, old_child, &p.child(k), errs, false);
                } else if let Some(ap) = additional {
                    check(ap, child, old_child, &p.key(k), errs, false);
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
    combinators(schema, v, p, errs);
    // CEL rules run on values of the right type
    if !errs[before..]
        .iter()
        .any(|e| e.type_ == ErrorType::TypeInvalid)
    {
        rules(schema, v, old, p, errs);
    }
}

fn type_error(p: &FieldPath, actual: &str, want: &str) -> FieldError {
    let mut e = FieldError::new(
        ErrorType::TypeInvalid,
        p,
        None,
        &format!("{} must be of type {want}: {actual:?}", body_path(p)),
    );
    e.go_value = Some(format!("{actual:?}"));
    e
}

fn string_checks(schema: &Value, s: &str, p: &FieldPath, errs: &mut Vec<FieldError>) {
    let chars = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if chars > max {
            errs.push(FieldError::new(
                ErrorType::TooLong,
                p,
                None,
                &format!("may not be more than {max} bytes"),
            ));
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if chars < min {
            errs.push(FieldError::invalid(
                p,
                s,
                &format!("{} should be at least {min} chars long", body_path(p)),
            ));
        }
    }
    if let Some(pat) = schema.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(pat) {
            Ok(re) if !re.is_match(s) => errs.push(FieldError::invalid(
                p,
                s,
                &format!("{} should match '{pat}'", body_path(p)),
            )),
            _ => {}
        }
    }
    if let Some(fmt) = schema.get("format").and_then(Value::as_str) {
        let ok = match fmt {
            "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
            "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
            "int-or-string" | "byte" | "password" | "" => true,
            _ => true,
        };
        if !ok {
            errs.push(FieldError::invalid(
                p,
                s,
                &format!("{} must be of type {fmt}: {s:?}", body_path(p)),
            ));
        }
    }
}

fn number_checks(schema: &Value, n: f64, v: &Value, p: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let excl = flag(schema, "exclusiveMaximum");
        if (excl && n >= max) || (!excl && n > max) {
            let rel = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(FieldError::invalid(
                p,
                v.clone(),
                &format!("{} should be {rel} {}", body_path(p), show_num(max)),
            ));
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let excl = flag(schema, "exclusiveMinimum");
        if (excl && n <= min) || (!excl && n < min) {
            let rel = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(FieldError::invalid(
                p,
                v.clone(),
                &format!("{} should be {rel} {}", body_path(p), show_num(min)),
            ));
        }
    }
    if let Some(m) = schema
        .get("multipleOf")
        .and_then(Value::as_f64)
        .filter(|m| *m > 0.0)
    {
        if (n / m).fract() != 0.0 {
            errs.push(FieldError::invalid(
                p,
                v.clone(),
                &format!("{} should be a multiple of {}", body_path(p), show_num(m)),
            ));
        }
    }
}

fn show_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

fn map_keys(schema: &Value) -> Vec<String> {
    schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The old item a new list item corresponds to (map lists by their keys).
fn correlate<'a>(schema: &Value, old: &'a Value, item: &Value) -> Option<&'a Value> {
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
        return None;
    }
    let keys = map_keys(schema);
    old.as_array()?
        .iter()
        .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
}

fn list_type_checks(schema: &Value, items: &[Value], p: &FieldPath, errs: &mut Vec<FieldError>) {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errs.push(FieldError::duplicate(&p.index(i), item.clone()));
                }
            }
        }
        Some("map") => {
            let keys = map_keys(schema);
            let key_of = |it: &Value| -> Vec<Value> {
                keys.iter()
                    .map(|k| it.get(k).cloned().unwrap_or(Value::Null))
                    .collect()
            };
            for (i, item) in items.iter().enumerate() {
                let k = key_of(item);
                if items[..i].iter().any(|o| key_of(o) == k) {
                    let shown: Vec<String> = keys
                        .iter()
                        .zip(&k)
                        .map(|(name, v)| format!("{name:?}:{v}"))
                        .collect();
                    errs.push(FieldError::duplicate_go(
                        &p.index(i),
                        &format!("map[string]interface {{}}{{{}}}", shown.join(", ")),
                    ));
                }
            }
        }
        _ => {
            if flag(schema, "uniqueItems") {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errs.push(FieldError::duplicate(&p.index(i), item.clone()));
                    }
                }
            }
        }
    }
}

fn combinators(schema: &Value, v: &Value, p: &FieldPath, errs: &mut Vec<FieldError>) {
    let passes = |s: &Value| {
        let mut e = Vec::new();
        check(s, v, None, p, &mut e, false);
        e.is_empty()
    };
    for s in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(s, v, None, p, errs, false);
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(passes) {
            errs.push(FieldError::invalid_go(
                p,
                &format!("{:?}", type_of(v)),
                &format!("{} must validate at least one schema (anyOf)", body_path(p)),
            ));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if one.iter().filter(|s| passes(s)).count() != 1 {
            errs.push(FieldError::invalid_go(
                p,
                &format!("{:?}", type_of(v)),
                &format!(
                    "{} must validate one and only one schema (oneOf)",
                    body_path(p)
                ),
            ));
        }
    }
    if let Some(not) = schema.get("not") {
        if passes(not) {
            errs.push(FieldError::invalid_go(
                p,
                &format!("{:?}", type_of(v)),
                &format!("{} must not validate the schema (not)", body_path(p)),
            ));
        }
    }
}

fn rules(
    schema: &Value,
    v: &Value,
    old: Option<&Value>,
    p: &FieldPath,
    errs: &mut Vec<FieldError>,
) {
    for r in schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(rule) = r.get("rule").and_then(Value::as_str) else {
            continue;
        };
        if cel::is_transition(rule) && old.is_none() {
            continue;
        }
        let holds = match cel::eval(rule, v, old) {
            Ok(b) => b,
            // a rule the evaluator cannot run is not held against the object
            Err(e) => {
                tracing::debug!("CEL rule {rule:?} not evaluated: {e}");
                true
            }
        };
        if holds {
            continue;
        }
        let message = r
            .get("messageExpression")
            .and_then(Value::as_str)
            .and_then(|m| cel::eval_message(m, v))
            .or_else(|| r.get("message").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| format!("failed rule: {rule}"));
        let mut path = p.clone();
        if let Some(fp) = r.get("fieldPath").and_then(Value::as_str) {
            for part in fp
                .trim_start_matches('.')
                .split('.')
                .filter(|s| !s.is_empty())
            {
                path = path.child(part);
            }
        }
        let type_ = r
            .get("reason")
            .and_then(Value::as_str)
            .and_then(ErrorType::from_reason)
            .unwrap_or(ErrorType::Invalid);
        let mut e = FieldError::new(type_, &path, None, &message);
        if type_ == ErrorType::Invalid || type_ == ErrorType::Duplicate {
            e.go_value = Some(format!("{:?}", type_of(v)));
        }
        errs.push(e);
    }
}

/// Checks that a CRD version's schema is structural enough to serve: a type at the root and
/// on every property, and CEL rules that compile.
pub fn check_crd_schema(schema: &Value, p: &FieldPath, errs: &mut Vec<FieldError>, root: bool) {
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    if schema
        .get("type")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && !preserve
        && !int_or_string
    {
        let detail = if root {
            "must not be empty at the root"
        } else {
            "must not be empty for specified object fields"
        };
        errs.push(FieldError::required(&p.child("type"), detail));
    }
    for (i, r) in schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(rule) = r.get("rule").and_then(Value::as_str) {
            if let Err(e) = cel::compile(rule) {
                errs.push(FieldError::invalid_go(
                    &p.child("x-kubernetes-validations").index(i).child("rule"),
                    &format!("{rule:?}"),
                    &format!("compilation failed: {e}"),
                ));
            }
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, ps) in props {
            check_crd_schema(ps, &p.child("properties").key(k), errs, false);
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        check_crd_schema(items, &p.child("items"), errs, false);
    }
    if let Some(ap) = schema.get("additionalProperties").filter(|i| i.is_object()) {
        check_crd_schema(ap, &p.child("additionalProperties"), errs, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["port"],
            "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "items": {"type": "array", "maxItems": 2, "items": {"type": "string"}}
            },
            "x-kubernetes-validations": [{"rule": "self.port != 22", "message": "port 22 is reserved"}]}}})
    }

    fn msgs(obj: &Value) -> Vec<String> {
        validate(&schema(), obj, None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"port": 80, "typo": 1, "free": {"any": {"thing": 1}}}, "extra": true});
        let unknown = prune_and_default(&schema(), &mut obj);
        assert_eq!(unknown, vec!["extra".to_string(), "spec.typo".to_string()]);
        assert_eq!(obj["spec"]["mode"], "A");
        assert_eq!(obj["spec"]["free"]["any"]["thing"], 1);
        assert!(msgs(&obj).is_empty());
        assert_eq!(msgs(&json!({"spec": {"port": 70000}})), vec!["spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535"]);
        assert_eq!(msgs(&json!({"spec": {"port": "80"}})), vec!["spec.port: Invalid value: \"string\": spec.port in body must be of type integer: \"string\""]);
        assert_eq!(
            msgs(&json!({"spec": {"port": 80, "mode": "C"}})),
            vec!["spec.mode: Unsupported value: \"C\": supported values: \"A\", \"B\""]
        );
        assert_eq!(
            msgs(&json!({"spec": {}})),
            vec!["spec.port: Required value"]
        );
        assert_eq!(
            msgs(&json!({"spec": {"port": 22}})),
            vec!["spec: Invalid value: \"object\": port 22 is reserved"]
        );
        assert_eq!(
            msgs(&json!({"spec": {"port": 1, "name": "Abc"}})),
            vec!["spec.name: Invalid value: \"Abc\": spec.name in body should match '^[a-z]+$'"]
        );
        assert_eq!(
            msgs(&json!({"spec": {"port": 1, "items": ["a", "b", "c"]}})),
            vec!["spec.items: Too many: 3: must have at most 2 items"]
        );
    }
}

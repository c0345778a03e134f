//! Handlebars for simulator rules: strict mode, no HTML escaping, and the helpers rule
//! templates use (`json`, `lower`, `b64`, `default`, `get`, `label`, `uniq_by`, `range`, `sub`,
//! `lb_address`, and `stdlib` for the text of a bundled file such as
//! `sim/manifests/istio/crds.yaml`).

use handlebars::{handlebars_helper, Handlebars};
use serde_json::Value;

pub(super) fn field<'a>(obj: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(obj, |cur, p| {
        let next = match (cur, p.parse::<usize>()) {
            (Value::Array(a), Ok(i)) => a.get(i),
            _ => cur.get(p),
        };
        next.unwrap_or(&Value::Null)
    })
}

handlebars_helper!(json_helper: |v: Json| serde_json::to_string(v).unwrap_or_default());
handlebars_helper!(lower: |s: str| s.to_lowercase());
handlebars_helper!(b64: |s: str| {
    use base64::Engine as _;
    // `\n` in a template string literal stands for a newline
    base64::engine::general_purpose::STANDARD.encode(s.replace("\\n", "\n"))
});
handlebars_helper!(default_helper: |v: Json, d: Json| if v.is_null() || v == "" { d.clone() } else { v.clone() });
handlebars_helper!(get_helper: |v: Json, path: str| field(v, path).clone());
handlebars_helper!(label_helper: |v: Json, key: str| v["metadata"]["labels"].get(key).cloned().unwrap_or(Value::Null));
handlebars_helper!(uniq_by: |list: Json, key: str| {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for item in list.as_array().into_iter().flatten() {
        let k = item.get(key).cloned().unwrap_or(Value::Null);
        if !seen.contains(&k) {
            seen.push(k);
            out.push(item.clone());
        }
    }
    Value::Array(out)
});

handlebars_helper!(range_helper: |n: i64| Value::Array((0..n.clamp(0, 1000)).map(Value::from).collect()));
handlebars_helper!(sub_helper: |a: i64, b: i64| a - b);
handlebars_helper!(lb_address_helper: |index: u64, n: u64| crate::sim::lb_address(
    usize::try_from(index).unwrap_or(0),
    u32::try_from(n).unwrap_or(0)
));
handlebars_helper!(stdlib_file: |path: str| {
    crate::assets::Tree::Stdlib.read(path).map(|t| t.into_owned()).unwrap_or_default()
});

pub(super) fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("json", Box::new(json_helper));
    hb.register_helper("lower", Box::new(lower));
    hb.register_helper("b64", Box::new(b64));
    hb.register_helper("default", Box::new(default_helper));
    hb.register_helper("get", Box::new(get_helper));
    hb.register_helper("uniq_by", Box::new(uniq_by));
    hb.register_helper("label", Box::new(label_helper));
    hb.register_helper("range", Box::new(range_helper));
    hb.register_helper("sub", Box::new(sub_helper));
    hb.register_helper("lb_address", Box::new(lb_address_helper));
    hb.register_helper("stdlib", Box::new(stdlib_file));
    hb
}

/// Renders one template with the simulator's helpers (strict mode, no escaping).
pub(crate) fn render_template(template: &str, data: &Value) -> Result<String, String> {
    static HB: std::sync::OnceLock<Handlebars<'static>> = std::sync::OnceLock::new();
    HB.get_or_init(registry)
        .render_template(template, data)
        .map_err(|e| e.to_string())
}

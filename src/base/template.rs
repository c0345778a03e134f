//! Handlebars, one setup for every template meshbook renders (runbook manifests, simulator
//! controller rules, simulated tool rules, workload behaviours): strict mode (a variable the
//! template uses but the data lacks is an error that names it, never an empty string
//! silently applied to a cluster), no HTML escaping (manifests are YAML), and the same helpers
//! everywhere:
//!
//! | helper | gives |
//! |---|---|
//! | `json v` | `v` as JSON text |
//! | `lower s` | `s` in lower case |
//! | `b64 s` | `s` base64-encoded (`\n` in a string literal stands for a newline) |
//! | `default v d` | `d` when `v` is null or empty |
//! | `get v "a.0.b"` | the value at a dotted path |
//! | `label obj "app"` | a label's value |
//! | `uniq_by list "key"` | the items of `list` with the first of each `key` value |
//! | `range n` | `[0, 1, ..., n-1]` (at most 1000) |
//! | `sub a b` | `a - b` |
//! | `lb_address cluster n` | the `n`th simulated LoadBalancer address of a cluster |
//! | `stdlib "path"` | the text of a bundled stdlib file (`sim/manifests/istio/crds.yaml`) |
//!
//! In strict mode a missing value is still fine as the argument of `if` and `unless` (not `each`),
//! and as the first argument of `default`: test for it there, or give it a default.

use handlebars::{handlebars_helper, Handlebars, RenderError, RenderErrorReason};
use serde_json::Value;

use super::path::field;

/// A template that could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template variable `{name}` is not set{}: pass it in the template's vars", at(*line))]
    MissingVariable { name: String, line: Option<usize> },
    #[error("template syntax error{}: {message}", at(*line))]
    Syntax {
        message: String,
        line: Option<usize>,
    },
    #[error("template error{}: {message}", at(*line))]
    Render {
        message: String,
        line: Option<usize>,
    },
}

fn at(line: Option<usize>) -> String {
    line.map(|l| format!(" on template line {l}"))
        .unwrap_or_default()
}

impl From<RenderError> for TemplateError {
    fn from(err: RenderError) -> Self {
        let line = err.line_no;
        match err.reason() {
            RenderErrorReason::MissingVariable(Some(name)) => TemplateError::MissingVariable {
                name: name.clone(),
                line,
            },
            RenderErrorReason::TemplateError(t) => TemplateError::Syntax {
                message: t.reason().to_string(),
                line: t.pos().map(|p| p.0).or(line),
            },
            other => TemplateError::Render {
                message: other.to_string(),
                line,
            },
        }
    }
}

impl From<handlebars::TemplateError> for TemplateError {
    fn from(t: handlebars::TemplateError) -> Self {
        TemplateError::Syntax {
            message: t.reason().to_string(),
            line: t.pos().map(|p| p.0),
        }
    }
}

handlebars_helper!(json_helper: |v: Json| serde_json::to_string(v).unwrap_or_default());
handlebars_helper!(lower: |s: str| s.to_lowercase());
handlebars_helper!(b64: |s: str| {
    use base64::Engine as _;
    // `\n` in a template string literal stands for a newline
    base64::engine::general_purpose::STANDARD.encode(s.replace("\\n", "\n"))
});
/// `default v d`: `d` when `v` is null, empty or missing (the one helper whose first argument
/// may be missing in strict mode, so that a template can give an optional value a default).
struct DefaultHelper;

impl handlebars::HelperDef for DefaultHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &handlebars::Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc handlebars::Context,
        _: &mut handlebars::RenderContext<'reg, 'rc>,
    ) -> Result<handlebars::ScopedJson<'rc>, RenderError> {
        let v = h.param(0).map_or(&Value::Null, |p| p.value());
        let d = h
            .param(1)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("default", 1))?;
        if d.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(d.relative_path().cloned()).into());
        }
        Ok(if v.is_null() || v == "" {
            d.value().clone()
        } else {
            v.clone()
        }
        .into())
    }
}

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
handlebars_helper!(lb_address_helper: |index: u64, n: u64| super::lb::lb_address(
    usize::try_from(index).unwrap_or(0),
    u32::try_from(n).unwrap_or(0)
));
handlebars_helper!(stdlib_file: |path: str| {
    crate::assets::Tree::Stdlib.read(path).map(|t| t.into_owned()).unwrap_or_default()
});

/// A fresh registry with meshbook's settings and helpers, for callers that register named
/// templates or partials of their own.
pub fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("json", Box::new(json_helper));
    hb.register_helper("lower", Box::new(lower));
    hb.register_helper("b64", Box::new(b64));
    hb.register_helper("default", Box::new(DefaultHelper));
    hb.register_helper("get", Box::new(get_helper));
    hb.register_helper("uniq_by", Box::new(uniq_by));
    hb.register_helper("label", Box::new(label_helper));
    hb.register_helper("range", Box::new(range_helper));
    hb.register_helper("sub", Box::new(sub_helper));
    hb.register_helper("lb_address", Box::new(lb_address_helper));
    hb.register_helper("stdlib", Box::new(stdlib_file));
    hb
}

/// The setup for an HTML page (the HTML report): values HTML-escaped (Handlebars' default),
/// not strict, as a report leaves out what a run did not have (an absent value is simply not
/// shown), and without the manifest helpers above, whose names (`label`, `get`, `json`) would
/// shadow the page's own fields.
pub fn html_registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::html_escape);
    hb
}

/// Renders one template with `data` (the shared registry).
pub fn render(template: &str, data: &Value) -> Result<String, TemplateError> {
    static HB: std::sync::OnceLock<Handlebars<'static>> = std::sync::OnceLock::new();
    Ok(HB.get_or_init(registry).render_template(template, data)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_without_html_escaping() {
        let out = render("a: {{x}}\nb: {{y.z}}", &json!({"x": "<&>", "y": {"z": 1}})).unwrap();
        assert_eq!(out, "a: <&>\nb: 1");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = render(
            "name: {{cluster}}\nns: {{namespace}}",
            &json!({"cluster": "c1"}),
        )
        .unwrap_err();
        assert!(
            matches!(&err, TemplateError::MissingVariable { name, .. } if name == "namespace"),
            "{err:?}"
        );
        assert!(err.to_string().contains("`namespace`"));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = render("a\n{{#if x}}\nb", &json!({"x": true})).unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn loops_and_conditionals_work() {
        let out = render(
            "{{#each ns}}- {{this}}\n{{/each}}{{#if on}}on{{/if}}",
            &json!({"ns": ["a", "b"], "on": true}),
        )
        .unwrap();
        assert_eq!(out, "- a\n- b\non");
    }

    #[test]
    fn missing_values_are_fine_where_they_are_tested() {
        let out = render(
            "{{#if a.b}}x{{else}}y{{/if}}{{default z \"d\"}}{{default a.b.c \"e\"}}{{#unless none}}u{{/unless}}",
            &json!({"a": {}}),
        )
        .unwrap();
        assert_eq!(out, "ydeu");
        assert!(render("{{#each none}}n{{/each}}", &json!({})).is_err());
        assert!(render("{{default x y}}", &json!({})).is_err());
        assert_eq!(render("[{{default a.b null}}]", &json!({})).unwrap(), "[]");
    }

    #[test]
    fn every_helper_works() {
        let data = json!({"o": {"metadata": {"labels": {"app": "web"}}, "l": [{"k": 1}, {"k": 1}, {"k": 2}]},
            "s": "AbC", "n": 3});
        let out = render(
            "{{json (uniq_by o.l \"k\")}} {{lower s}} {{b64 \"hi\"}} {{get o \"l.2.k\"}} {{label o \"app\"}} {{#each (range n)}}{{this}}{{/each}} {{sub n 1}} {{lb_address 1 0}}",
            &data,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"[{"k":1},{"k":2}] abc aGk= 2 web 012 2 198.51.100.33"#
        );
        assert!(
            render("{{stdlib \"sim/urls.yaml\"}}", &json!({}))
                .unwrap()
                .len()
                > 10
        );
    }
}

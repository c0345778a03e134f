//! Handlebars rendering, strict: a variable the template uses but the data lacks is an error
//! that names it, never an empty string silently applied to a cluster.

use handlebars::{Handlebars, RenderErrorReason};

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

fn engine() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    // Manifests are YAML, not HTML: never escape `&`, `<` or quotes.
    hb.register_escape_fn(handlebars::no_escape);
    hb
}

/// Renders `template` with `vars`.
pub fn render(template: &str, vars: &serde_json::Value) -> Result<String, TemplateError> {
    let hb = engine();
    hb.render_template(template, vars).map_err(|err| {
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
    })
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
}

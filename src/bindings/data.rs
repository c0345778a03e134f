//! Data and environment: `render`, `yaml`, `to_yaml`, `json`, `to_json`, `env`, `secret_env`,
//! `param`, `read_file`, `simulated`.

use std::sync::Arc;

use rhai::{Dynamic, Engine, Map};

use super::convert::{fail, fail_with_help, from_json, to_json, RhaiResult};
use super::Def;
use crate::problem::Problem;
use crate::session::Session;

/// Parses YAML text: one document gives a value, several give an array. Empty documents are
/// skipped.
pub fn parse_yaml(text: &str) -> Result<serde_json::Value, Problem> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    let many = text.lines().any(|l| l.starts_with("---"));
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(doc).map_err(|e| {
            let problem = crate::k8s::manifest::yaml_problem(&e, text);
            if many {
                format!("document {} {problem}", i + 1)
            } else {
                format!("the text {problem}")
            }
        })?;
        if value.is_null() {
            continue;
        }
        let json =
            serde_json::to_value(&value).map_err(|e| format!("YAML that JSON cannot hold: {e}"))?;
        docs.push(json);
    }
    Ok(match docs.len() {
        0 => serde_json::Value::Null,
        1 => docs.remove(0),
        _ => serde_json::Value::Array(docs),
    })
}

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    Def::new("data", "render", &["template: string", "vars: map", "string"])
        .doc("Renders a Handlebars template with `vars`; a variable the template uses but `vars` lacks is an error naming it.")
        .example(r#"let yaml = render(read_file("gateway.yaml"), #{name: "ingress", port: 80});"#)
        .register(engine, |template: &str, vars: Map| -> RhaiResult<String> {
            let vars = to_json(&Dynamic::from_map(vars))?;
            crate::template::render(template, &vars).map_err(|e| fail(e.to_string()))
        });
    Def::new("data", "yaml", &["text: string", "?"])
        .doc("Parses YAML: a map for one document, an array for several.")
        .example(r#"let values = yaml(read_file("values.yaml")); say(values.global.meshID);"#)
        .register(engine, |text: &str| -> RhaiResult<Dynamic> {
            parse_yaml(text)
                .map(|v| from_json(&v))
                .map_err(super::convert::fail_problem)
        });
    Def::new("data", "to_yaml", &["value: ?", "string"])
        .doc("Formats a value as YAML.")
        .example(r#"say(to_yaml(#{meshConfig: #{accessLogFile: "/dev/stdout"}}));"#)
        .register(engine, |value: Dynamic| -> RhaiResult<String> {
            serde_yaml::to_string(&to_json(&value)?).map_err(|e| fail(e.to_string()))
        });
    Def::new("data", "json", &["text: string", "?"])
        .doc("Parses JSON text.")
        .example(r#"let status = json("{\"ready\": true}"); expect(status.ready, "ready");"#)
        .register(engine, |text: &str| -> RhaiResult<Dynamic> {
            serde_json::from_str::<serde_json::Value>(text)
                .map(|v| from_json(&v))
                .map_err(|e| fail(format!("invalid JSON: {e}")))
        });
    Def::new("data", "to_json", &["value: ?", "string"])
        .doc("Formats a value as compact JSON.")
        .example(r#"let body = to_json(#{name: "productpage", port: 9080});"#)
        .register(engine, |value: Dynamic| -> RhaiResult<String> {
            serde_json::to_string(&to_json(&value)?).map_err(|e| fail(e.to_string()))
        });
    let s = session.clone();
    Def::new("data", "env", &["name: string", "string"])
        .doc("Reads an environment variable; fails, naming it, when it is not set.")
        .example(r#"let ctx = env("CLUSTER1");"#)
        .register(engine, move |name: &str| -> RhaiResult<String> {
            s.env(name).ok_or_else(|| {
                fail_with_help(
                    format!("environment variable `{name}` is not set"),
                    format!("export {name}=... before running, or use env(\"{name}\", default)"),
                )
            })
        });
    let s = session.clone();
    Def::new(
        "data",
        "env",
        &["name: string", "default: string", "string"],
    )
    .doc("Reads an environment variable, or `default` when it is not set.")
    .example(r#"let revision = env("ISTIO_REVISION", "1-26");"#)
    .register(engine, move |name: &str, default: &str| -> String {
        s.env(name).unwrap_or_else(|| default.to_string())
    });
    let s = session.clone();
    Def::new("data", "secret_env", &["name: string", "string"])
        .doc("Reads a secret from the environment; its value is masked as *** in all output, logs, reports and the REPL history, in every encoding (base64, JSON, YAML, percent); a value shorter than 4 characters is refused.")
        .example(r#"let key = secret_env("GLOO_MESH_LICENSE_KEY");"#)
        .register(engine, move |name: &str| -> RhaiResult<String> {
            let value = s.env(name).ok_or_else(|| {
                fail_with_help(
                    format!("secret environment variable `{name}` is not set"),
                    format!("export {name}=... before running (declare it in the runbook header with `secret: true` so the run checks it before it starts)"),
                )
            })?;
            s.add_secret(&value).map_err(|e| {
                fail_with_help(
                    format!("the secret environment variable `{name}` is {e}; its value was not printed"),
                    format!("set `{name}` to the real secret"),
                )
            })?;
            Ok(value)
        });
    let s = session.clone();
    Def::new("data", "param", &["name: string", "string"])
        .doc("Reads a runbook parameter: `--set NAME=value`, else the header's default.")
        .example(r#"let version = param("ISTIO_VERSION");"#)
        .register(engine, move |name: &str| -> RhaiResult<String> {
            s.params.get(name).cloned().ok_or_else(|| {
                let known: Vec<&str> = s.params.keys().map(String::as_str).collect();
                fail_with_help(
                    format!(
                        "parameter `{name}` is not set and the runbook header gives no default"
                    ),
                    if known.is_empty() {
                        format!(
                            "pass --set {name}=VALUE, or declare it under `params:` in the header"
                        )
                    } else {
                        format!(
                            "pass --set {name}=VALUE; declared parameters: {}",
                            known.join(", ")
                        )
                    },
                )
            })
        });
    let s = session.clone();
    Def::new(
        "data",
        "param",
        &["name: string", "default: string", "string"],
    )
    .doc("Reads a runbook parameter, or `default` when neither `--set` nor the header sets it.")
    .example(r#"let hub = param("ISTIO_HUB", "docker.io/istio");"#)
    .register(engine, move |name: &str, default: &str| -> String {
        s.params
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    });
    let s = session.clone();
    Def::new("data", "param", &["name: string", "default: int", "int"])
        .doc("Reads a whole-number parameter, or `default`; `--set NAME=abc` is refused before the run starts.")
        .example(r#"let replicas = param("REPLICAS", 2);"#)
        .register(engine, move |name: &str, default: i64| -> RhaiResult<i64> {
            match s.params.get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse::<i64>().map_err(|_| {
                    fail_with_help(
                        format!("parameter `{name}` is `{v}`, not a whole number"),
                        format!("pass --set {name}=N with a number"),
                    )
                }),
            }
        });
    let s = session.clone();
    Def::new("data", "param", &["name: string", "default: bool", "bool"])
        .doc("Reads a true/false parameter, or `default`.")
        .example(r#"if param("INSTALL_ADDONS", false) { say("installing addons"); }"#)
        .register(
            engine,
            move |name: &str, default: bool| -> RhaiResult<bool> {
                match s.params.get(name).map(|v| v.trim()) {
                    None => Ok(default),
                    Some("true") => Ok(true),
                    Some("false") => Ok(false),
                    Some(v) => Err(fail_with_help(
                        format!("parameter `{name}` is `{v}`, not true or false"),
                        format!("pass --set {name}=true or --set {name}=false"),
                    )),
                }
            },
        );
    let s = session.clone();
    Def::new("data", "read_file", &["path: string", "string"])
        .doc("Reads a file: `stdlib/...` from the bundled stdlib, otherwise relative to the runbook.")
        .example(r#"let gateway = read_file("stdlib/assets/istio/eastwest-gateway.yaml");"#)
        .register(engine, move |path: &str| -> RhaiResult<String> { s.runbook.read_relative(path).map_err(fail) });
    let s = session.clone();
    Def::new("data", "simulated", &["bool"])
        .doc("True when the run is on simulated clusters (no data plane: traffic checks are skipped).")
        .example(r#"if !simulated() { say("real clusters: traffic checks run"); }"#)
        .register(engine, move || s.simulated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_skips_empty_documents_and_returns_arrays_for_many() {
        assert_eq!(parse_yaml("a: 1\n").unwrap(), serde_json::json!({"a": 1}));
        assert_eq!(
            parse_yaml("---\na: 1\n---\n---\nb: 2\n").unwrap(),
            serde_json::json!([{"a": 1}, {"b": 2}])
        );
        assert!(parse_yaml("a: [1\n")
            .unwrap_err()
            .to_string()
            .contains("not valid YAML"));
        let tab = parse_yaml("a: 1\n---\nb:\n\tc: 2\n")
            .unwrap_err()
            .to_string();
        assert!(tab.contains("document 2") && tab.contains("tab"), "{tab}");
        let twice = parse_yaml("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(twice.contains("key \"a\" appears twice"), "{twice}");
    }
}

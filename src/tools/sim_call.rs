//! `SimCall`: a tool's argv parsed into subcommand words, flags and values, the way simulated
//! rules see it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::error::SimYamlError;

/// Flags that never take a value, per tool (extended by rule files' `boolean_flags`).
pub type BooleanFlags = BTreeMap<String, BTreeSet<String>>;

/// A parsed tool call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimCall {
    /// The tool's short name (`istioctl` for `./solo-istioctl`).
    pub tool: String,
    /// Words that are not flags or flag values, in order (`upgrade`, release, chart).
    pub positionals: Vec<String>,
    /// Flag name (long form, without dashes) -> values in order; a boolean flag has `"true"`.
    pub flags: BTreeMap<String, Vec<String>>,
}

/// Short and alternative flag names, mapped to the one rules use.
fn canonical_flag(name: &str) -> &str {
    match name {
        "n" => "namespace",
        "f" | "filename" => "values",
        "i" => "install",
        "y" => "skip-confirmation",
        other => other,
    }
}

impl SimCall {
    /// Splits argv into positionals and flags. `--x=v` and `--x v` both give `x: v`; a flag in
    /// `boolean` (for this tool) never takes the next word. Everything after `--` is
    /// positional.
    pub fn parse(tool: &str, argv: &[String], boolean: &BooleanFlags) -> SimCall {
        let empty = BTreeSet::new();
        let bools = boolean.get(tool).unwrap_or(&empty);
        let mut call = SimCall {
            tool: tool.to_string(),
            ..Default::default()
        };
        let mut i = 0;
        while i < argv.len() {
            let arg = &argv[i];
            i += 1;
            if arg == "--" {
                call.positionals.extend(argv[i..].iter().cloned());
                break;
            }
            let Some(stripped) = arg
                .strip_prefix("--")
                .or_else(|| arg.strip_prefix('-').filter(|s| !s.is_empty()))
            else {
                call.positionals.push(arg.clone());
                continue;
            };
            let (name, value) = match stripped.split_once('=') {
                Some((n, v)) => (canonical_flag(n).to_string(), Some(v.to_string())),
                None => (canonical_flag(stripped).to_string(), None),
            };
            let value = match value {
                Some(v) => v,
                None if bools.contains(&name) => "true".to_string(),
                None => match argv.get(i) {
                    Some(next) if next == "-" || !next.starts_with('-') => {
                        i += 1;
                        next.clone()
                    }
                    _ => "true".to_string(),
                },
            };
            call.flags.entry(name).or_default().push(value);
        }
        call
    }

    /// The last value of a flag.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// For helm `upgrade`/`install`/`template`: (release, chart).
    pub fn helm_release_chart(&self) -> Option<(&str, &str)> {
        if self.tool != "helm" {
            return None;
        }
        match self.positionals.first().map(String::as_str) {
            Some("upgrade" | "install" | "template") => Some((
                self.positionals.get(1)?.as_str(),
                self.positionals.get(2)?.as_str(),
            )),
            _ => None,
        }
    }

    /// For helm `uninstall`: the release.
    pub fn helm_uninstall_release(&self) -> Option<&str> {
        (self.tool == "helm" && self.positionals.first().map(String::as_str) == Some("uninstall"))
            .then(|| self.positionals.get(1).map(String::as_str))
            .flatten()
    }

    /// Flags as a template map: names with `-` turned into `_`, last value of each.
    pub fn flags_for_template(&self) -> Value {
        let mut map = Map::new();
        for (name, values) in &self.flags {
            if let Some(v) = values.last() {
                map.insert(name.replace('-', "_"), Value::String(v.clone()));
            }
        }
        Value::Object(map)
    }

    /// The values a call carries: every `-f`/`--values`/`--filename` document (a file read
    /// from disk, or `stdin` for `-` and `/dev/stdin`), then `--set a.b=c` (comma-separated pairs).
    /// Unreadable files are skipped.
    pub fn values(&self, stdin: Option<&str>) -> Result<Value, SimYamlError> {
        let mut merged = Value::Object(Map::new());
        for source in self.flags.get("values").into_iter().flatten() {
            // `-f /dev/stdin` means the call's stdin too: a simulated call must never read
            // meshbook's own stdin (it would wait on a terminal).
            let text = if source == "-" || source == "/dev/stdin" {
                stdin.map(str::to_string)
            } else {
                std::fs::read_to_string(source).ok()
            };
            let Some(text) = text else { continue };
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let v: Option<Value> =
                    serde::Deserialize::deserialize(doc).map_err(|error| SimYamlError::Values {
                        file: source.clone(),
                        error,
                    })?;
                if let Some(v) = v {
                    deep_merge(&mut merged, v);
                }
            }
        }
        for set in self.flags.get("set").into_iter().flatten() {
            for pair in set.split(',') {
                if let Some((path, value)) = pair.split_once('=') {
                    set_path(&mut merged, path, scalar(value));
                }
            }
        }
        Ok(merged)
    }
}

/// Helm's reading of a `--set` value: booleans, integers and `null`, else a string.
fn scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// Sets `a.b.c` in an object, creating intermediate objects.
pub fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut cur = target;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else { return };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Merges `over` into `base`: objects key by key, anything else replaced.
pub fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn helm_bools() -> BooleanFlags {
        let mut b = BooleanFlags::new();
        b.insert(
            "helm".into(),
            ["install", "create-namespace", "wait"]
                .into_iter()
                .map(String::from)
                .collect(),
        );
        b
    }

    #[test]
    fn parses_helm_upgrade_install() {
        let c = SimCall::parse(
            "helm",
            &argv("upgrade --install gp gloo-platform/gloo-platform --kube-context c1 -n gloo-mesh --version=2.8.0 --create-namespace --set a.b=true,x=3"),
            &helm_bools(),
        );
        assert_eq!(
            c.helm_release_chart(),
            Some(("gp", "gloo-platform/gloo-platform"))
        );
        assert_eq!(c.flag("namespace"), Some("gloo-mesh"));
        assert_eq!(c.flag("version"), Some("2.8.0"));
        assert_eq!(c.flag("create-namespace"), Some("true"));
        assert_eq!(c.values(None).unwrap(), json!({"a": {"b": true}, "x": 3}));
        assert_eq!(c.flags_for_template()["kube_context"], "c1");
    }

    #[test]
    fn values_from_stdin_and_merge() {
        let c = SimCall::parse("istioctl", &argv("install -y -f -"), &BooleanFlags::new());
        assert_eq!(c.positionals, ["install"]);
        let v = c.values(Some("spec:\n  profile: minimal\n")).unwrap();
        assert_eq!(v, json!({"spec": {"profile": "minimal"}}));
        let mut base = json!({"a": {"b": 1, "c": 2}});
        deep_merge(&mut base, json!({"a": {"b": 5}}));
        assert_eq!(base, json!({"a": {"b": 5, "c": 2}}));
    }
}

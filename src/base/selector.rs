//! Label selectors, the one implementation shared by the client (`k8s`) and the simulated API
//! server (`sim`): kubectl's text form (`app=x,tier!=db,env in (a,b),!legacy`) and the
//! `LabelSelector` object (`matchLabels`, `matchExpressions`).

use std::collections::BTreeMap;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

/// A label selector that could not be parsed. Its message reads as the API server's
/// (`unable to parse requirement: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {problem}")]
pub struct SelectorError {
    /// The whole selector text.
    pub selector: String,
    /// What is wrong with it (names the offending part).
    pub problem: SelectorProblem,
}

/// What is wrong with a label selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorProblem {
    #[error("unbalanced `(`")]
    UnbalancedOpen,
    #[error("unbalanced `)`")]
    UnbalancedClose,
    #[error("unknown operator in `{0}`")]
    UnknownOperator(String),
    #[error("`{op}` needs a set in parentheses in `{part}`")]
    SetWithoutParentheses { op: &'static str, part: String },
    #[error("`{0}` is not a valid label key")]
    InvalidKey(String),
    #[error("`{0}` is not a valid label value")]
    InvalidValue(String),
}

/// A parsed label selector: every requirement must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses kubectl's selector syntax.
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let bad = |problem: SelectorProblem| SelectorError {
            selector: text.to_string(),
            problem,
        };
        let mut requirements = Vec::new();
        for part in split_top_level(text).map_err(bad)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part).map_err(bad)?);
        }
        Ok(Selector { requirements })
    }

    /// Builds a selector from a `LabelSelector` object (`matchLabels`, `matchExpressions`).
    /// An unknown operator reads as `DoesNotExist`, non-string values as empty.
    pub fn from_object(sel: &Value) -> Selector {
        let mut requirements = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                requirements.push(Requirement::Equals(
                    k.clone(),
                    v.as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        for e in sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> = e["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            requirements.push(match e["operator"].as_str().unwrap_or_default() {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                _ => Requirement::DoesNotExist(key),
            });
        }
        Selector { requirements }
    }

    /// Whether the labels a look-up gives satisfy every requirement.
    fn holds<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| !vs.iter().any(|v| v == l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }

    /// Whether a JSON label map (`{"app": "web"}`) satisfies the selector.
    pub fn matches_labels(&self, labels: &Value) -> bool {
        self.holds(|k| labels.get(k).and_then(Value::as_str))
    }

    /// Whether the labels of a JSON object (`metadata.labels`) satisfy the selector.
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_labels(&obj["metadata"]["labels"])
    }

    /// Whether a label map satisfies the selector.
    pub fn matches_map(&self, labels: &BTreeMap<String, String>) -> bool {
        self.holds(|k| labels.get(k).map(String::as_str))
    }

    /// Whether the selector has no requirement.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// Whether a Service-style selector (a plain label map, every pair required) selects `labels`.
pub fn map_selects(sel: &serde_json::Map<String, Value>, labels: &Value) -> bool {
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `metadata.labels` of an object as a map (non-string values ignored).
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The selector text matching exactly a `matchLabels` map (`a=b,c=d`).
pub fn from_match_labels(labels: &serde_json::Map<String, Value>) -> String {
    labels
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(",")
}

fn split_top_level(text: &str) -> Result<Vec<&str>, SelectorProblem> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(SelectorProblem::UnbalancedClose);
                }
            }
            ',' if depth == 0 => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SelectorProblem::UnbalancedOpen);
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorProblem> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            key_of(k.trim())?,
            value_of(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key_of(k.trim())?, value_of(v.trim())?));
    }
    if let Some((key, rest)) = part.split_once(char::is_whitespace) {
        let rest = rest.trim_start();
        let (op, set) = if let Some(s) = rest.strip_prefix("notin") {
            ("notin", s)
        } else if let Some(s) = rest.strip_prefix("in") {
            ("in", s)
        } else {
            return Err(SelectorProblem::UnknownOperator(part.to_string()));
        };
        let inner = set
            .trim()
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| SelectorProblem::SetWithoutParentheses {
                op,
                part: part.to_string(),
            })?;
        let values = inner
            .split(',')
            .map(|v| value_of(v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let key = key_of(key)?;
        return Ok(if op == "in" {
            Requirement::In(key, values)
        } else {
            Requirement::NotIn(key, values)
        });
    }
    Ok(Requirement::Exists(key_of(part)?))
}

fn key_of(k: &str) -> Result<String, SelectorProblem> {
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(k.to_string())
    } else {
        Err(SelectorProblem::InvalidKey(k.to_string()))
    }
}

fn value_of(v: &str) -> Result<String, SelectorProblem> {
    let ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(SelectorProblem::InvalidValue(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operator_as_kubectl_reads_it() {
        let l = json!({"app": "reviews", "version": "v2"});
        let yes = [
            "",
            "app=reviews",
            "app==reviews",
            "app!=ratings",
            "app,version",
            "version in (v1,v2)",
            "version in(v1,v2)",
            "version notin (v3)",
            "!legacy",
            "app=reviews, version in (v2, v3)",
            "missing!=x",
            "missing notin (x)",
        ];
        for s in yes {
            assert!(Selector::parse(s).unwrap().matches_labels(&l), "{s}");
        }
        let no = [
            "app=ratings",
            "legacy",
            "!app",
            "version in (v3)",
            "version notin (v1,v2)",
        ];
        for s in no {
            assert!(!Selector::parse(s).unwrap().matches_labels(&l), "{s}");
        }
    }

    #[test]
    fn objects_maps_and_label_maps_agree() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let s = Selector::parse("app=web,tier!=db,!legacy").unwrap();
        assert!(s.matches(&obj));
        assert!(s.matches_labels(&obj["metadata"]["labels"]));
        assert!(s.matches_map(&labels_of(&obj)));
        assert!(!Selector::parse("app")
            .unwrap()
            .matches(&json!({"metadata": {}})));
        assert!(Selector::default().is_empty() && Selector::default().matches(&json!({})));
    }

    #[test]
    fn bad_selectors_say_why_as_the_api_server_does() {
        let cases = [
            ("version in (v1", "unbalanced `(`"),
            ("a)", "unbalanced `)`"),
            ("app=a b", "`a b` is not a valid label value"),
            ("app between (a)", "unknown operator in `app between (a)`"),
            (
                "env in prod",
                "`in` needs a set in parentheses in `env in prod`",
            ),
            ("!", "`` is not a valid label key"),
            ("a:b=c", "`a:b` is not a valid label key"),
        ];
        for (text, reason) in cases {
            let e = Selector::parse(text).unwrap_err();
            assert_eq!(e.problem.to_string(), reason, "{text}");
            assert_eq!(e.selector, text);
            assert_eq!(
                e.to_string(),
                format!("unable to parse requirement: {reason}")
            );
        }
    }

    #[test]
    fn selector_objects() {
        let sel = Selector::from_object(&json!({"matchLabels": {"app": "a"},
            "matchExpressions": [{"key": "v", "operator": "In", "values": ["1"]},
                {"key": "x", "operator": "NotIn", "values": ["1"]},
                {"key": "app", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"}]}));
        assert!(sel.matches_labels(&json!({"app": "a", "v": "1"})));
        assert!(!sel.matches_labels(&json!({"app": "a"})));
        assert!(!sel.matches_labels(&json!({"app": "a", "v": "1", "x": "1"})));
        assert!(!sel.matches_labels(&json!({"app": "a", "v": "1", "legacy": "y"})));
        assert!(Selector::from_object(&json!({})).matches_labels(&json!({"any": "x"})));
    }

    #[test]
    fn service_selectors_and_match_labels_text() {
        let m = json!({"app": "a", "v": "1"});
        assert_eq!(from_match_labels(m.as_object().unwrap()), "app=a,v=1");
        let sel = m.as_object().unwrap();
        assert!(map_selects(sel, &json!({"app": "a", "v": "1", "x": "y"})));
        assert!(!map_selects(sel, &json!({"app": "a"})));
    }
}

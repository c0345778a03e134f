//! What a response must look like, and the pure check of one response against it.

use std::time::Duration;

use serde_json::Value;

use super::jsonpath::jsonpath;
use super::response::format_duration;
use super::{HttpError, Response};

/// Text to look for: plain text, or a regular expression written `/re/`.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Plain text, matched as a substring.
    Text(String),
    /// A regular expression, matched anywhere.
    Regex(regex::Regex),
}

impl Matcher {
    /// Parses `/re/` as a regex and anything else as text. `field` names the expectation in errors.
    ///
    /// # Errors
    /// [`HttpError::InvalidRegex`] when the regex does not compile.
    pub fn parse(field: &str, text: &str) -> Result<Matcher, HttpError> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(pattern) if text.len() >= 2 => regex::Regex::new(pattern)
                .map(Matcher::Regex)
                .map_err(|source| HttpError::InvalidRegex {
                    field: field.to_string(),
                    pattern: pattern.to_string(),
                    source,
                }),
            _ => Ok(Matcher::Text(text.to_string())),
        }
    }

    /// True when `haystack` contains the text or matches the regex.
    #[must_use]
    pub fn is_match(&self, haystack: &str) -> bool {
        match self {
            Matcher::Text(t) => haystack.contains(t.as_str()),
            Matcher::Regex(r) => r.is_match(haystack),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Text(t) => write!(f, "`{t}`"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Text(a), Matcher::Text(b)) => a == b,
            (Matcher::Regex(a), Matcher::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// Everything `expect_http` checks. Empty lists check nothing, except `status`: an empty list
/// means "any 2xx".
#[derive(Debug, Clone, PartialEq)]
pub struct Expectations {
    /// Accepted statuses; empty means 200 to 299.
    pub status: Vec<u16>,
    /// The body must contain each of these.
    pub contains: Vec<Matcher>,
    /// The body must contain none of these.
    pub not_contains: Vec<Matcher>,
    /// Some value of each named header must match.
    pub headers: Vec<(String, Matcher)>,
    /// The body is JSON and each jsonpath selects the value given (several results compare as an array).
    pub json: Vec<(String, Value)>,
    /// The response must arrive faster than this.
    pub faster_than: Option<Duration>,
    /// The response must take longer than this (a fault delay is in effect).
    pub slower_than: Option<Duration>,
    /// The check passes only after this many passing attempts in a row.
    pub consecutive: u32,
    /// Give up after this long.
    pub within: Duration,
}

/// The default `within`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(60);

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            status: Vec::new(),
            contains: Vec::new(),
            not_contains: Vec::new(),
            headers: Vec::new(),
            json: Vec::new(),
            faster_than: None,
            slower_than: None,
            consecutive: 1,
            within: DEFAULT_WITHIN,
        }
    }
}

impl Expectations {
    /// A one-line summary of what is expected, for the check's title.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("status {}", status_list(&self.status))];
        parts.extend(self.contains.iter().map(|m| format!("contains {m}")));
        parts.extend(
            self.not_contains
                .iter()
                .map(|m| format!("not contains {m}")),
        );
        parts.extend(
            self.headers
                .iter()
                .map(|(h, m)| format!("header `{h}` {m}")),
        );
        parts.extend(self.json.iter().map(|(p, v)| format!("json `{p}` = {v}")));
        parts.extend(
            self.faster_than
                .map(|d| format!("faster than {}", format_duration(d))),
        );
        parts.extend(
            self.slower_than
                .map(|d| format!("slower than {}", format_duration(d))),
        );
        if self.consecutive > 1 {
            parts.push(format!("{} times in a row", self.consecutive));
        }
        parts.join(", ")
    }
}

fn status_list(status: &[u16]) -> String {
    match status {
        [] => "2xx".to_string(),
        [one] => one.to_string(),
        many => many
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Checks one response; returns what does not hold (empty when all do).
#[must_use]
pub fn evaluate(response: &Response, expected: &Expectations) -> Vec<String> {
    if !response.answered() {
        let why = response.error.as_deref().unwrap_or("no response");
        return vec![format!("no response: {why}")];
    }
    let mut unmet = Vec::new();
    let status_ok = if expected.status.is_empty() {
        (200..300).contains(&response.status)
    } else {
        expected.status.contains(&response.status)
    };
    if !status_ok {
        unmet.push(format!(
            "status: expected {}, got {}",
            status_list(&expected.status),
            response.status
        ));
    }
    for m in &expected.contains {
        if !m.is_match(&response.body) {
            unmet.push(format!("body does not contain {m}"));
        }
    }
    for m in &expected.not_contains {
        if m.is_match(&response.body) {
            unmet.push(format!("body contains {m}, which it must not"));
        }
    }
    for (name, m) in &expected.headers {
        let values: Vec<&str> = response.header_values(name).collect();
        if values.is_empty() {
            unmet.push(format!("header `{name}`: expected {m}, but it is missing"));
        } else if !values.iter().any(|v| m.is_match(v)) {
            unmet.push(format!(
                "header `{name}`: expected {m}, got `{}`",
                values.join(", ")
            ));
        }
    }
    if !expected.json.is_empty() {
        check_json(&response.body, &expected.json, &mut unmet);
    }
    let elapsed = response.elapsed();
    if let Some(limit) = expected.faster_than.filter(|limit| elapsed >= *limit) {
        unmet.push(format!(
            "took {}, expected faster than {}",
            format_duration(elapsed),
            format_duration(limit)
        ));
    }
    if let Some(limit) = expected.slower_than.filter(|limit| elapsed <= *limit) {
        unmet.push(format!(
            "took {}, expected slower than {}",
            format_duration(elapsed),
            format_duration(limit)
        ));
    }
    unmet
}

fn check_json(body: &str, json: &[(String, Value)], unmet: &mut Vec<String>) {
    let doc: Value = match serde_json::from_str(body) {
        Ok(doc) => doc,
        Err(e) => {
            unmet.push(format!(
                "body is not JSON ({e}), so `{}` cannot be checked",
                json[0].0
            ));
            return;
        }
    };
    for (path, expected) in json {
        match jsonpath(&doc, path) {
            Err(e) => unmet.push(e.to_string()),
            Ok(found) => {
                let got = match found.as_slice() {
                    [] => {
                        unmet.push(format!(
                            "json `{path}`: expected {expected}, but it selects nothing"
                        ));
                        continue;
                    }
                    [one] => one.clone(),
                    _ => Value::Array(found),
                };
                if !json_equal(&got, expected) {
                    unmet.push(format!("json `{path}`: expected {expected}, got {got}"));
                }
            }
        }
    }
}

/// Equal values, or a string and a scalar with the same text (`"200"` and `200`), as kubectl
/// prints them alike.
fn json_equal(got: &Value, expected: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    got == expected
        || (matches!(
            (got, expected),
            (Value::String(_), _) | (_, Value::String(_))
        ) && text(got).is_some()
            && text(got) == text(expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(body: &str) -> Response {
        Response {
            status: 200,
            body: body.into(),
            headers: vec![("server".into(), "istio-envoy".into())],
            elapsed_ms: 40,
            ..Response::default()
        }
    }

    fn m(text: &str) -> Matcher {
        Matcher::parse("contains", text).unwrap()
    }

    #[test]
    fn matchers_parse_text_and_regex() {
        assert_eq!(m("reviews-v2"), Matcher::Text("reviews-v2".into()));
        assert!(matches!(m("/reviews-v[23]/"), Matcher::Regex(_)));
        assert_eq!(m("/"), Matcher::Text("/".into()));
        assert!(m("/v[23]/").is_match("reviews-v3"));
        let e = Matcher::parse("contains", "/(/").unwrap_err().to_string();
        assert!(e.contains("`(`") && e.contains("`contains`"), "{e}");
    }

    #[test]
    fn all_met_is_empty() {
        let e = Expectations {
            status: vec![200, 201],
            contains: vec![m("hello"), m("/w.rld/")],
            not_contains: vec![m("error")],
            headers: vec![("Server".into(), m("/envoy/"))],
            faster_than: Some(Duration::from_millis(500)),
            slower_than: Some(Duration::from_millis(10)),
            ..Expectations::default()
        };
        assert_eq!(evaluate(&ok("hello world"), &e), Vec::<String>::new());
    }

    #[test]
    fn each_unmet_expectation_is_named() {
        let e = Expectations {
            status: vec![403],
            contains: vec![m("ratings")],
            not_contains: vec![m("/hel+o/")],
            headers: vec![("server".into(), m("nginx")), ("x-missing".into(), m("a"))],
            faster_than: Some(Duration::from_millis(40)),
            slower_than: Some(Duration::from_secs(2)),
            ..Expectations::default()
        };
        assert_eq!(
            evaluate(&ok("hello"), &e),
            vec![
                "status: expected 403, got 200",
                "body does not contain `ratings`",
                "body contains /hel+o/, which it must not",
                "header `server`: expected `nginx`, got `istio-envoy`",
                "header `x-missing`: expected `a`, but it is missing",
                "took 40ms, expected faster than 40ms",
                "took 40ms, expected slower than 2s",
            ]
        );
    }

    #[test]
    fn default_status_is_any_2xx_and_no_response_is_unmet() {
        let e = Expectations::default();
        assert!(evaluate(&ok(""), &e).is_empty());
        assert_eq!(
            evaluate(
                &Response {
                    status: 503,
                    ..ok("")
                },
                &e
            ),
            vec!["status: expected 2xx, got 503"]
        );
        assert_eq!(
            evaluate(
                &Response::failed("could not connect: refused", Duration::ZERO),
                &e
            ),
            vec!["no response: could not connect: refused"]
        );
    }

    #[test]
    fn json_paths_compare_values() {
        let body = r#"{"status":{"ready":true,"port":80,"ips":["a","b"]},"code":"200"}"#;
        let e = Expectations {
            json: vec![
                ("{.status.ready}".into(), json!(true)),
                ("{.status.port}".into(), json!("80")),
                ("$.code".into(), json!(200)),
                ("{.status.ips[*]}".into(), json!(["a", "b"])),
            ],
            ..Expectations::default()
        };
        assert!(evaluate(&ok(body), &e).is_empty());
        let wrong = Expectations {
            json: vec![
                ("{.status.port}".into(), json!(81)),
                ("{.nope}".into(), json!(1)),
                ("{.a[}".into(), json!(1)),
            ],
            ..Expectations::default()
        };
        let unmet = evaluate(&ok(body), &wrong);
        assert_eq!(unmet[0], "json `{.status.port}`: expected 81, got 80");
        assert_eq!(
            unmet[1],
            "json `{.nope}`: expected 1, but it selects nothing"
        );
        assert!(
            unmet[2].starts_with("invalid jsonpath `{.a[}`"),
            "{}",
            unmet[2]
        );
        assert!(evaluate(&ok("<html>"), &wrong)[0].starts_with("body is not JSON"));
    }

    #[test]
    fn describe_lists_everything() {
        let e = Expectations {
            status: vec![200, 302],
            contains: vec![m("/v[23]/")],
            consecutive: 3,
            faster_than: Some(Duration::from_millis(500)),
            ..Expectations::default()
        };
        assert_eq!(
            e.describe(),
            "status 200 or 302, contains /v[23]/, faster than 500ms, 3 times in a row"
        );
    }
}

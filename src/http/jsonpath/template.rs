//! kubectl's `-o jsonpath` as text: literal text around `{...}` templates, `{"\n"}` string
//! literals, `{range ...}...{end}` loops; several results of one template joined by spaces.

use serde_json::Value;

use super::parse::{err, find_close, parse_path, Segment};
use super::{eval, JsonPathError};

#[derive(Debug)]
enum Node {
    Text(String),
    Path(Vec<Segment>),
    Range(Vec<Segment>, Vec<Node>),
}

/// Renders `template` against `value` as kubectl's `-o jsonpath=...` prints it, e.g.
/// `{range .items[*]}{.metadata.name}{"\n"}{end}`. A template without `{` is read as `{template}`.
///
/// # Errors
/// [`JsonPathError`] when the template is malformed (unbalanced `range`/`end`, bad path).
pub fn jsonpath_text(value: &Value, template: &str) -> Result<String, JsonPathError> {
    let nodes = if template.contains('{') {
        parse_nodes(template)?
    } else {
        vec![Node::Path(parse_path(template, template, 0)?)]
    };
    let mut out = String::new();
    render(&nodes, value, &mut out);
    Ok(out)
}

fn parse_nodes(expr: &str) -> Result<Vec<Node>, JsonPathError> {
    let mut ranges: Vec<(usize, Vec<Segment>, Vec<Node>)> = Vec::new();
    let mut current = Vec::new();
    let mut text = String::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let start = expr.len() - rest.len() + open;
        let inner = &rest[open + 1..];
        let close = find_close(inner).ok_or_else(|| err(expr, start, "missing closing `}`"))?;
        let body = &inner[..close];
        let trimmed = body.trim_start();
        let base = start + 1 + (body.len() - trimmed.len());
        let trimmed = trimmed.trim_end();
        if !text.is_empty() {
            current.push(Node::Text(std::mem::take(&mut text)));
        }
        if let Some(path) = trimmed
            .strip_prefix("range")
            .filter(|p| p.starts_with(char::is_whitespace))
        {
            ranges.push((
                start,
                parse_path(expr, path, base + 5)?,
                std::mem::take(&mut current),
            ));
        } else if trimmed == "end" {
            let Some((_, path, outer)) = ranges.pop() else {
                return Err(err(
                    expr,
                    start,
                    "`{end}` without a `{range ...}` before it",
                ));
            };
            let body = std::mem::replace(&mut current, outer);
            current.push(Node::Range(path, body));
        } else if trimmed.starts_with(['"', '\'']) {
            current.push(Node::Text(unquote(expr, trimmed, base)?));
        } else {
            current.push(Node::Path(parse_path(expr, trimmed, base)?));
        }
        rest = &inner[close + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        current.push(Node::Text(text));
    }
    if let Some((start, ..)) = ranges.last() {
        return Err(err(expr, *start, "`{range ...}` without its `{end}`"));
    }
    Ok(current)
}

/// A quoted literal: `"..."` with Go escapes (`\n`, `\t`, `\"`, `\\`), or `'...'` as is.
fn unquote(expr: &str, literal: &str, base: usize) -> Result<String, JsonPathError> {
    let quote = literal.chars().next().unwrap_or('"');
    let Some(inner) = literal[1..].strip_suffix(quote) else {
        return Err(err(
            expr,
            base,
            "a string literal must end with the quote it starts with",
        ));
    };
    if quote == '\'' {
        return Ok(inner.to_string());
    }
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Ok(out)
}

fn render(nodes: &[Node], current: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Path(path) => {
                let texts: Vec<String> =
                    eval(path, vec![current]).into_iter().map(text_of).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(path, body) => {
                for item in eval(path, vec![current]) {
                    render(body, item, out);
                }
            }
        }
    }
}

/// How kubectl prints one value: strings raw, other scalars as JSON, objects and arrays as compact JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> Value {
        json!({"items": [
            {"metadata": {"name": "productpage-v1-abc"}, "status": {"phase": "Running"},
             "spec": {"containers": [{"name": "productpage"}, {"name": "istio-proxy"}]}},
            {"metadata": {"name": "ratings-v1-def"}, "status": {"phase": "Pending"},
             "spec": {"containers": [{"name": "ratings"}]}}
        ], "data": {"ca.crt": "LS0t"}, "port": 15443, "labels": {"app": "x"}})
    }

    fn text(template: &str) -> String {
        jsonpath_text(&pods(), template).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_walkthroughs_range_template() {
        let template = r#"{range .items[*]}Pod: {.metadata.name} | Status: {.status.phase}{"\n"}Containers:{"\n"}{range .spec.containers[*]}- {.name}{"\n"}{end}{"\n"}{end}"#;
        assert_eq!(
            text(template),
            "Pod: productpage-v1-abc | Status: Running\nContainers:\n- productpage\n- istio-proxy\n\n\
             Pod: ratings-v1-def | Status: Pending\nContainers:\n- ratings\n\n"
        );
    }

    #[test]
    fn values_print_as_kubectl_prints_them() {
        assert_eq!(
            text("{.items[*].metadata.name}"),
            "productpage-v1-abc ratings-v1-def"
        );
        assert_eq!(text(r"{.data.ca\.crt}"), "LS0t");
        assert_eq!(text("{.port}"), "15443");
        assert_eq!(text("{.labels}"), r#"{"app":"x"}"#);
        assert_eq!(text(".items[0].metadata.name"), "productpage-v1-abc");
        assert_eq!(text("port={.port}, none={.nothing}."), "port=15443, none=.");
        assert_eq!(text("{'a\\n'}{\"b\\t\\\"\"}"), "a\\nb\t\"");
    }

    #[test]
    fn unbalanced_ranges_are_errors() {
        let e = jsonpath_text(&pods(), "x{range .items[*]}{.a}").unwrap_err();
        assert_eq!(e.position, 1);
        assert!(e.reason.contains("without its `{end}`"), "{e}");
        let e = jsonpath_text(&pods(), "{.a}{end}").unwrap_err();
        assert_eq!(e.position, 4);
        assert!(jsonpath_text(&pods(), "{\"open}").is_err());
        assert!(jsonpath_text(&pods(), "{range .items[}{end}").is_err());
    }
}

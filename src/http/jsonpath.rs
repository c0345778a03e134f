//! A small JSONPath evaluator for the forms kubectl's `-o jsonpath` accepts in the walkthroughs:
//! `{.status.loadBalancer.ingress[0].ip}`, `{.items[*].metadata.name}`,
//! `{.ingress[0]['hostname','ip']}`, `{.metadata.labels.app\.kubernetes\.io/name}`,
//! `{.status.conditions[?(@.type=="Ready")].status}`, `$.a.b[0]`, `.a.b`, `..name`, `[1:3]`.
//!
//! Missing keys and out-of-range indexes yield no value (kubectl's
//! `--allow-missing-template-keys=true`); only a malformed expression is an error.

use serde_json::Value;

mod parse;
mod template;

use parse::{parse_templates, CmpOp, Segment};
pub use template::jsonpath_text;

/// A JSONPath expression that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid jsonpath `{expr}` at character {position}: {reason}; write it as kubectl does, e.g. `{{.items[0].metadata.name}}`")]
pub struct JsonPathError {
    /// The expression as given.
    pub expr: String,
    /// Character offset (0-based) where parsing stopped.
    pub position: usize,
    /// What was expected there.
    pub reason: String,
}

/// Evaluates `expr` against `value` and returns every value it selects, in document order.
///
/// `{a}{b}` (several templates side by side) returns the results of each in turn.
///
/// # Errors
/// [`JsonPathError`] when the expression is malformed.
pub fn jsonpath(value: &Value, expr: &str) -> Result<Vec<Value>, JsonPathError> {
    let mut out = Vec::new();
    for path in parse_templates(expr)? {
        out.extend(eval(&path, vec![value]).into_iter().cloned());
    }
    Ok(out)
}

fn eval<'v>(path: &[Segment], mut current: Vec<&'v Value>) -> Vec<&'v Value> {
    let mut i = 0;
    while i < path.len() {
        current = match &path[i] {
            Segment::Descendants => {
                let mut all = Vec::new();
                for v in current {
                    descendants(v, &mut all);
                }
                all
            }
            segment => current.into_iter().flat_map(|v| step(segment, v)).collect(),
        };
        i += 1;
    }
    current
}

fn descendants<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    out.push(v);
    match v {
        Value::Array(items) => items.iter().for_each(|c| descendants(c, out)),
        Value::Object(map) => map.values().for_each(|c| descendants(c, out)),
        _ => {}
    }
}

fn step<'v>(segment: &Segment, v: &'v Value) -> Vec<&'v Value> {
    match (segment, v) {
        (Segment::Keys(keys), Value::Object(map)) => {
            keys.iter().filter_map(|k| map.get(k)).collect()
        }
        (Segment::Wildcard, Value::Object(map)) => map.values().collect(),
        (Segment::Wildcard, Value::Array(items)) => items.iter().collect(),
        (Segment::Indexes(idx), Value::Array(items)) => idx
            .iter()
            .filter_map(|i| resolve_index(*i, items.len()).map(|i| &items[i]))
            .collect(),
        (Segment::Slice(start, end, step), Value::Array(items)) => {
            slice(items.len(), *start, *end, step.unwrap_or(1))
                .into_iter()
                .map(|i| &items[i])
                .collect()
        }
        (Segment::Filter(path, cmp), Value::Array(items)) => items
            .iter()
            .filter(|item| matches_filter(path, cmp.as_ref(), item))
            .collect(),
        (Segment::Filter(path, cmp), Value::Object(map)) => map
            .values()
            .filter(|item| matches_filter(path, cmp.as_ref(), item))
            .collect(),
        _ => Vec::new(),
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len)
        .contains(&i)
        .then(|| usize::try_from(i).ok())
        .flatten()
}

fn slice(len: usize, start: Option<i64>, end: Option<i64>, step: i64) -> Vec<usize> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |i: i64, lo: i64, hi: i64| (if i < 0 { n + i } else { i }).clamp(lo, hi);
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, e) = (
            clamp(start.unwrap_or(0), 0, n),
            clamp(end.unwrap_or(n), 0, n),
        );
        while i < e {
            out.extend(usize::try_from(i).ok());
            i += step;
        }
    } else {
        let (mut i, e) = (
            clamp(start.unwrap_or(n - 1), -1, n - 1),
            end.map_or(-1, |e| clamp(e, -1, n - 1)),
        );
        while i > e {
            out.extend(usize::try_from(i).ok());
            i += step;
        }
    }
    out
}

fn matches_filter(path: &[Segment], cmp: Option<&(CmpOp, Value)>, item: &Value) -> bool {
    let found = eval(path, vec![item]);
    match cmp {
        None => found
            .iter()
            .any(|v| !matches!(v, Value::Null | Value::Bool(false))),
        Some((op, literal)) => found.iter().any(|v| compare(v, *op, literal)),
    }
}

fn compare(left: &Value, op: CmpOp, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        // kubectl compares text: `@.port=="80"` matches the number 80.
        (Value::Number(a), Value::String(b)) => Some(a.to_string().cmp(b)).filter(|_| op_is_eq(op)),
        (Value::String(a), Value::Number(b)) => {
            Some(a.cmp(&b.to_string())).filter(|_| op_is_eq(op))
        }
        _ => None,
    };
    match (op, ordering) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
    }
}

fn op_is_eq(op: CmpOp) -> bool {
    matches!(op, CmpOp::Eq | CmpOp::Ne)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc() -> Value {
        json!({
            "metadata": {"name": "istio-eastwestgateway", "labels": {"app.kubernetes.io/name": "eastwest", "app": "gw"}},
            "data": {"token": "dG9r"},
            "status": {
                "loadBalancer": {"ingress": [{"ip": "172.18.255.1", "hostname": "lb.example"}, {"ip": "172.18.255.2"}]},
                "conditions": [
                    {"type": "Progressing", "status": "True"},
                    {"type": "Ready", "status": "False", "count": 3}
                ]
            },
            "items": [
                {"metadata": {"name": "a"}, "spec": {"port": 80}},
                {"metadata": {"name": "b"}, "spec": {"port": 443}},
                {"metadata": {"name": "c"}}
            ]
        })
    }

    fn q(expr: &str) -> Vec<Value> {
        jsonpath(&svc(), expr).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn kubectl_forms_from_the_walkthroughs() {
        assert_eq!(
            q("{.status.loadBalancer.ingress[0].ip}"),
            vec![json!("172.18.255.1")]
        );
        assert_eq!(
            q("{.items[*].metadata.name}"),
            vec![json!("a"), json!("b"), json!("c")]
        );
        assert_eq!(
            q("{.status.loadBalancer.ingress[0]['hostname','ip']}"),
            vec![json!("lb.example"), json!("172.18.255.1")]
        );
        assert_eq!(
            q("{.status.loadBalancer.ingress[1]['hostname','ip']}"),
            vec![json!("172.18.255.2")]
        );
        assert_eq!(q("{.data.token}"), vec![json!("dG9r")]);
        assert_eq!(
            q(r"{.metadata.labels.app\.kubernetes\.io/name}"),
            vec![json!("eastwest")]
        );
        assert_eq!(
            q("{.metadata.labels['app.kubernetes.io/name']}"),
            vec![json!("eastwest")]
        );
        assert_eq!(
            q(r#"{.status.conditions[?(@.type=="Ready")].status}"#),
            vec![json!("False")]
        );
        assert_eq!(
            q("{.status.conditions[?(@.type=='Progressing')].status}"),
            vec![json!("True")]
        );
    }

    #[test]
    fn dollar_and_dot_and_bare_forms() {
        assert_eq!(
            q("$.status.loadBalancer.ingress[0].ip"),
            vec![json!("172.18.255.1")]
        );
        assert_eq!(q(".metadata.name"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("metadata.name"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("{$.metadata.name}"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("$"), vec![svc()]);
        assert_eq!(q("{.}"), vec![svc()]);
    }

    #[test]
    fn indexes_slices_and_unions() {
        assert_eq!(q("{.items[-1].metadata.name}"), vec![json!("c")]);
        assert_eq!(
            q("{.items[0,2].metadata.name}"),
            vec![json!("a"), json!("c")]
        );
        assert_eq!(
            q("{.items[1:].metadata.name}"),
            vec![json!("b"), json!("c")]
        );
        assert_eq!(
            q("{.items[:2].metadata.name}"),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(
            q("{.items[::-1].metadata.name}"),
            vec![json!("c"), json!("b"), json!("a")]
        );
        assert_eq!(
            q("{.items[0:3:2].metadata.name}"),
            vec![json!("a"), json!("c")]
        );
        assert_eq!(q("{.items.*.spec.port}"), vec![json!(80), json!(443)]);
    }

    #[test]
    fn filters_compare_numbers_strings_and_existence() {
        assert_eq!(
            q("{.items[?(@.spec.port > 100)].metadata.name}"),
            vec![json!("b")]
        );
        assert_eq!(
            q("{.items[?(@.spec.port<=80)].metadata.name}"),
            vec![json!("a")]
        );
        assert_eq!(
            q("{.items[?(@.spec.port == \"443\")].metadata.name}"),
            vec![json!("b")]
        );
        assert_eq!(
            q("{.items[?(@.spec)].metadata.name}"),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(
            q("{.items[?(@.metadata.name != 'a')].metadata.name}"),
            vec![json!("b"), json!("c")]
        );
        assert_eq!(
            q("{.status.conditions[?(@.count==3)].type}"),
            vec![json!("Ready")]
        );
    }

    #[test]
    fn recursive_descent_and_several_templates() {
        assert_eq!(
            q("{..ip}"),
            vec![json!("172.18.255.1"), json!("172.18.255.2")]
        );
        assert_eq!(
            q("{.metadata.name}{.data.token}"),
            vec![json!("istio-eastwestgateway"), json!("dG9r")]
        );
    }

    #[test]
    fn missing_keys_give_no_value() {
        assert!(q("{.status.nothing.here}").is_empty());
        assert!(q("{.items[7].metadata.name}").is_empty());
        assert!(q("{.metadata.name[0]}").is_empty());
        assert!(q("{.items[?(@.type==\"Nope\")].status}").is_empty());
    }

    #[test]
    fn malformed_expressions_say_where() {
        for (expr, position) in [
            ("{.items[0}", 9),
            ("{.items[0].name", 0),
            ("{.a.}", 4),
            ("{.items[?(@.a=)]}", 13),
            ("{.items[?(.a)]}", 10),
            ("{.a}junk{.b}", 4),
            ("{.a['b}", 0),
            (".a b", 3),
            ("{.items[1:2:0]}", 13),
        ] {
            let e = jsonpath(&svc(), expr).expect_err(expr);
            assert_eq!(e.position, position, "{expr}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid jsonpath `{expr}`")),
                "{e}"
            );
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let doc = svc();
        let tokens = [
            "{range ", "{end}", ".", "[", "]", "{", "}", "?", "(", ")", "@", "=", "'", "\"", "*",
            ":", "-", "1", "a", "\\", "$", ",", " ", "é",
        ];
        let mut seed = 7u64;
        for _ in 0..5000 {
            let len = (seed % 12) as usize;
            let expr: String = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    tokens[(seed >> 33) as usize % tokens.len()]
                })
                .collect();
            let _ = jsonpath(&doc, &expr);
            let _ = jsonpath_text(&doc, &expr);
        }
    }
}

//! A small JSONPath evaluator for the forms kubectl's `-o jsonpath` accepts in the walkthroughs:
//! `{.status.loadBalancer.ingress[0].ip}`, `{.items[*].metadata.name}`,
//! `{.ingress[0]['hostname','ip']}`, `{.metadata.labels.app\.kubernetes\.io/name}`,
//! `{.status.conditions[?(@.type=="Ready")].status}`, `$.a.b[0]`, `.a.b`, `..name`, `[1:3]`.
//!
//! Missing keys and out-of-range indexes yield no value (kubectl's
//! `--allow-missing-template-keys=true`); only a malformed expression is an error.

use serde_json::Value;

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

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    /// `.name`, `['a','b']`: the named members of objects.
    Keys(Vec<String>),
    /// `.*`, `[*]`: every member of an object or element of an array.
    Wildcard,
    /// `[0]`, `[-1]`, `[0,2]`.
    Indexes(Vec<i64>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `..`: the value and all its descendants; the next segment applies to each.
    Descendants,
    /// `[?(@.path op literal)]` or `[?(@.path)]`.
    Filter(Vec<Segment>, Option<(CmpOp, Value)>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

fn parse_templates(expr: &str) -> Result<Vec<Vec<Segment>>, JsonPathError> {
    let trimmed = expr.trim();
    if !trimmed.starts_with('{') {
        return Ok(vec![Parser::new(expr, trimmed, offset_of(expr, trimmed)).path()?]);
    }
    let mut paths = Vec::new();
    let mut rest = trimmed;
    while !rest.is_empty() {
        let start = offset_of(expr, rest);
        let Some(inner) = rest.strip_prefix('{') else {
            return Err(err(expr, start, "expected `{` (text between templates is not supported)"));
        };
        let close = find_close(inner).ok_or_else(|| err(expr, start, "missing closing `}`"))?;
        let body = &inner[..close];
        paths.push(Parser::new(expr, body, start + 1).path()?);
        rest = inner[close + 1..].trim_start();
    }
    Ok(paths)
}

fn offset_of(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Index of the `}` closing a template, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (_, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

fn err(expr: &str, position: usize, reason: &str) -> JsonPathError {
    JsonPathError { expr: expr.to_string(), position, reason: reason.to_string() }
}

struct Parser<'a> {
    expr: &'a str,
    chars: Vec<char>,
    pos: usize,
    base: usize,
}

impl<'a> Parser<'a> {
    fn new(expr: &'a str, body: &str, base: usize) -> Self {
        Parser { expr, chars: body.chars().collect(), pos: 0, base }
    }

    fn fail<T>(&self, reason: &str) -> Result<T, JsonPathError> {
        Err(err(self.expr, self.base + self.pos, reason))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// A whole path; stops at the end of input.
    fn path(&mut self) -> Result<Vec<Segment>, JsonPathError> {
        self.skip_ws();
        if !self.eat('$') {
            self.eat('@');
        }
        let mut segments = Vec::new();
        // A bare first name (`items[0]`) is accepted as if written `.items[0]`.
        if self.peek().is_some_and(is_name_char) {
            segments.push(Segment::Keys(vec![self.name()?]));
        }
        self.segments(&mut segments)?;
        self.skip_ws();
        if self.pos < self.chars.len() {
            return self.fail("expected `.`, `[` or the end of the expression");
        }
        Ok(segments)
    }

    /// Segments until the end, or (inside a filter) until an operator or `)`.
    fn segments(&mut self, out: &mut Vec<Segment>) -> Result<(), JsonPathError> {
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    if self.eat('.') {
                        out.push(Segment::Descendants);
                    }
                    if self.eat('*') {
                        out.push(Segment::Wildcard);
                    } else if self.peek().is_none() && out.is_empty() {
                        // `{.}` is the whole document.
                    } else if self.peek() == Some('[') {
                        // `.[0]` and `..[0]` mean the same as `[0]` and `..[0]`.
                    } else {
                        out.push(Segment::Keys(vec![self.name()?]));
                    }
                }
                Some('[') => {
                    self.pos += 1;
                    out.push(self.bracket()?);
                }
                _ => return Ok(()),
            }
        }
    }

    /// A member name after `.`: anything up to `.`, `[`, or (in filters) an operator; `\x` escapes.
    fn name(&mut self) -> Result<String, JsonPathError> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                let Some(&next) = self.chars.get(self.pos + 1) else {
                    return self.fail("`\\` at the end of the expression");
                };
                name.push(next);
                self.pos += 2;
            } else if is_name_char(c) {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        if name.is_empty() {
            return self.fail("expected a member name");
        }
        Ok(name)
    }

    /// The inside of `[...]`, after the `[`.
    fn bracket(&mut self) -> Result<Segment, JsonPathError> {
        self.skip_ws();
        let segment = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Segment::Wildcard
            }
            Some('\'' | '"') => {
                let mut keys = vec![self.quoted()?];
                self.skip_ws();
                while self.eat(',') {
                    self.skip_ws();
                    keys.push(self.quoted()?);
                    self.skip_ws();
                }
                Segment::Keys(keys)
            }
            Some('?') => {
                self.pos += 1;
                self.filter()?
            }
            _ => self.indexes()?,
        };
        self.skip_ws();
        if !self.eat(']') {
            return self.fail("expected `]`");
        }
        Ok(segment)
    }

    fn indexes(&mut self) -> Result<Segment, JsonPathError> {
        let first = self.int()?;
        self.skip_ws();
        if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            let end = self.int()?;
            self.skip_ws();
            let step = if self.eat(':') {
                self.skip_ws();
                self.int()?
            } else {
                None
            };
            if step == Some(0) {
                return self.fail("a slice step cannot be 0");
            }
            return Ok(Segment::Slice(first, end, step));
        }
        let Some(first) = first else {
            return self.fail("expected an index, `*`, a quoted name or a `?(...)` filter");
        };
        let mut all = vec![first];
        while self.eat(',') {
            self.skip_ws();
            match self.int()? {
                Some(i) => all.push(i),
                None => return self.fail("expected an index after `,`"),
            }
            self.skip_ws();
        }
        Ok(Segment::Indexes(all))
    }

    fn int(&mut self) -> Result<Option<i64>, JsonPathError> {
        let start = self.pos;
        self.eat('-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse() {
            Ok(i) => Ok(Some(i)),
            Err(_) => {
                self.pos = start;
                self.fail("expected a number")
            }
        }
    }

    fn quoted(&mut self) -> Result<String, JsonPathError> {
        let Some(q) = self.peek().filter(|c| *c == '\'' || *c == '"') else {
            return self.fail("expected a quoted string");
        };
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some('\\') => {
                    let Some(&next) = self.chars.get(self.pos + 1) else {
                        return self.fail("unterminated string");
                    };
                    s.push(next);
                    self.pos += 2;
                }
                Some(c) if c == q => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `(@.path op literal)` after `?`.
    fn filter(&mut self) -> Result<Segment, JsonPathError> {
        self.skip_ws();
        if !self.eat('(') {
            return self.fail("expected `(` after `?`");
        }
        self.skip_ws();
        if !self.eat('@') {
            return self.fail("a filter starts with `@`, e.g. `[?(@.type==\"Ready\")]`");
        }
        let mut path = Vec::new();
        self.segments(&mut path)?;
        self.skip_ws();
        let op = match (self.peek(), self.chars.get(self.pos + 1).copied()) {
            (Some('='), Some('=')) => Some((CmpOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CmpOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CmpOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CmpOp::Ge, 2)),
            (Some('<'), _) => Some((CmpOp::Lt, 1)),
            (Some('>'), _) => Some((CmpOp::Gt, 1)),
            (Some(')'), _) => None,
            _ => return self.fail("expected `==`, `!=`, `<`, `<=`, `>`, `>=` or `)`"),
        };
        let cmp = match op {
            Some((op, len)) => {
                self.pos += len;
                self.skip_ws();
                Some((op, self.literal()?))
            }
            None => None,
        };
        self.skip_ws();
        if !self.eat(')') {
            return self.fail("expected `)` to close the filter");
        }
        Ok(Segment::Filter(path, cmp))
    }

    fn literal(&mut self) -> Result<Value, JsonPathError> {
        if matches!(self.peek(), Some('\'' | '"')) {
            return Ok(Value::String(self.quoted()?));
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || "-+._".contains(c)) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match text.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            _ => match serde_json::from_str::<serde_json::Number>(&text) {
                Ok(n) => Ok(Value::Number(n)),
                Err(_) => {
                    self.pos = start;
                    self.fail("expected a quoted string, a number, `true`, `false` or `null`")
                }
            },
        }
    }
}

fn is_name_char(c: char) -> bool {
    !matches!(c, '.' | '[' | ']' | '(' | ')' | '=' | '!' | '<' | '>' | '\'' | '"' | '{' | '}' | '*' | '@' | '$')
        && !c.is_whitespace()
        || c == '\\'
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
        (Segment::Keys(keys), Value::Object(map)) => keys.iter().filter_map(|k| map.get(k)).collect(),
        (Segment::Wildcard, Value::Object(map)) => map.values().collect(),
        (Segment::Wildcard, Value::Array(items)) => items.iter().collect(),
        (Segment::Indexes(idx), Value::Array(items)) => {
            idx.iter().filter_map(|i| resolve_index(*i, items.len()).map(|i| &items[i])).collect()
        }
        (Segment::Slice(start, end, step), Value::Array(items)) => {
            slice(items.len(), *start, *end, step.unwrap_or(1)).into_iter().map(|i| &items[i]).collect()
        }
        (Segment::Filter(path, cmp), Value::Array(items)) => {
            items.iter().filter(|item| matches_filter(path, cmp.as_ref(), item)).collect()
        }
        (Segment::Filter(path, cmp), Value::Object(map)) => {
            map.values().filter(|item| matches_filter(path, cmp.as_ref(), item)).collect()
        }
        _ => Vec::new(),
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then(|| usize::try_from(i).ok()).flatten()
}

fn slice(len: usize, start: Option<i64>, end: Option<i64>, step: i64) -> Vec<usize> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |i: i64, lo: i64, hi: i64| (if i < 0 { n + i } else { i }).clamp(lo, hi);
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, e) = (clamp(start.unwrap_or(0), 0, n), clamp(end.unwrap_or(n), 0, n));
        while i < e {
            out.extend(usize::try_from(i).ok());
            i += step;
        }
    } else {
        let (mut i, e) = (clamp(start.unwrap_or(n - 1), -1, n - 1), end.map_or(-1, |e| clamp(e, -1, n - 1)));
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
        None => found.iter().any(|v| !matches!(v, Value::Null | Value::Bool(false))),
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
        (Value::String(a), Value::Number(b)) => Some(a.cmp(&b.to_string())).filter(|_| op_is_eq(op)),
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
        assert_eq!(q("{.status.loadBalancer.ingress[0].ip}"), vec![json!("172.18.255.1")]);
        assert_eq!(q("{.items[*].metadata.name}"), vec![json!("a"), json!("b"), json!("c")]);
        assert_eq!(
            q("{.status.loadBalancer.ingress[0]['hostname','ip']}"),
            vec![json!("lb.example"), json!("172.18.255.1")]
        );
        assert_eq!(q("{.status.loadBalancer.ingress[1]['hostname','ip']}"), vec![json!("172.18.255.2")]);
        assert_eq!(q("{.data.token}"), vec![json!("dG9r")]);
        assert_eq!(q(r"{.metadata.labels.app\.kubernetes\.io/name}"), vec![json!("eastwest")]);
        assert_eq!(q("{.metadata.labels['app.kubernetes.io/name']}"), vec![json!("eastwest")]);
        assert_eq!(q(r#"{.status.conditions[?(@.type=="Ready")].status}"#), vec![json!("False")]);
        assert_eq!(q("{.status.conditions[?(@.type=='Progressing')].status}"), vec![json!("True")]);
    }

    #[test]
    fn dollar_and_dot_and_bare_forms() {
        assert_eq!(q("$.status.loadBalancer.ingress[0].ip"), vec![json!("172.18.255.1")]);
        assert_eq!(q(".metadata.name"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("metadata.name"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("{$.metadata.name}"), vec![json!("istio-eastwestgateway")]);
        assert_eq!(q("$"), vec![svc()]);
        assert_eq!(q("{.}"), vec![svc()]);
    }

    #[test]
    fn indexes_slices_and_unions() {
        assert_eq!(q("{.items[-1].metadata.name}"), vec![json!("c")]);
        assert_eq!(q("{.items[0,2].metadata.name}"), vec![json!("a"), json!("c")]);
        assert_eq!(q("{.items[1:].metadata.name}"), vec![json!("b"), json!("c")]);
        assert_eq!(q("{.items[:2].metadata.name}"), vec![json!("a"), json!("b")]);
        assert_eq!(q("{.items[::-1].metadata.name}"), vec![json!("c"), json!("b"), json!("a")]);
        assert_eq!(q("{.items[0:3:2].metadata.name}"), vec![json!("a"), json!("c")]);
        assert_eq!(q("{.items.*.spec.port}"), vec![json!(80), json!(443)]);
    }

    #[test]
    fn filters_compare_numbers_strings_and_existence() {
        assert_eq!(q("{.items[?(@.spec.port > 100)].metadata.name}"), vec![json!("b")]);
        assert_eq!(q("{.items[?(@.spec.port<=80)].metadata.name}"), vec![json!("a")]);
        assert_eq!(q("{.items[?(@.spec.port == \"443\")].metadata.name}"), vec![json!("b")]);
        assert_eq!(q("{.items[?(@.spec)].metadata.name}"), vec![json!("a"), json!("b")]);
        assert_eq!(q("{.items[?(@.metadata.name != 'a')].metadata.name}"), vec![json!("b"), json!("c")]);
        assert_eq!(q("{.status.conditions[?(@.count==3)].type}"), vec![json!("Ready")]);
    }

    #[test]
    fn recursive_descent_and_several_templates() {
        assert_eq!(q("{..ip}"), vec![json!("172.18.255.1"), json!("172.18.255.2")]);
        assert_eq!(q("{.metadata.name}{.data.token}"), vec![json!("istio-eastwestgateway"), json!("dG9r")]);
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
            assert!(e.to_string().starts_with(&format!("invalid jsonpath `{expr}`")), "{e}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let doc = svc();
        let alphabet = ['.', '[', ']', '{', '}', '?', '(', ')', '@', '=', '\'', '"', '*', ':', '-', '1', 'a', '\\', '$', ','];
        let mut seed = 7u64;
        for _ in 0..5000 {
            let len = (seed % 12) as usize;
            let expr: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            let _ = jsonpath(&doc, &expr);
        }
    }
}

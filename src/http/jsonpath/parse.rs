//! The parser of kubectl-style JSONPath expressions: `{...}` templates into segments.

use serde_json::Value;

use super::JsonPathError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
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
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

pub(super) fn parse_templates(expr: &str) -> Result<Vec<Vec<Segment>>, JsonPathError> {
    let trimmed = expr.trim();
    if !trimmed.starts_with('{') {
        return Ok(vec![
            Parser::new(expr, trimmed, offset_of(expr, trimmed)).path()?
        ]);
    }
    let mut paths = Vec::new();
    let mut rest = trimmed;
    while !rest.is_empty() {
        let start = offset_of(expr, rest);
        let Some(inner) = rest.strip_prefix('{') else {
            return Err(err(
                expr,
                start,
                "expected `{` (for text around templates, or `range`, use `jsonpath_text`)",
            ));
        };
        let close = find_close(inner).ok_or_else(|| err(expr, start, "missing closing `}`"))?;
        let body = &inner[..close];
        paths.push(Parser::new(expr, body, start + 1).path()?);
        rest = inner[close + 1..].trim_start();
    }
    Ok(paths)
}

/// Parses one path (the inside of a template), `base` being its offset in `expr`.
pub(super) fn parse_path(
    expr: &str,
    body: &str,
    base: usize,
) -> Result<Vec<Segment>, JsonPathError> {
    Parser::new(expr, body, base).path()
}

pub(super) fn offset_of(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Index of the `}` closing a template, skipping quoted strings.
pub(super) fn find_close(s: &str) -> Option<usize> {
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

pub(super) fn err(expr: &str, position: usize, reason: &str) -> JsonPathError {
    JsonPathError {
        expr: expr.to_string(),
        position,
        reason: reason.to_string(),
    }
}

struct Parser<'a> {
    expr: &'a str,
    chars: Vec<char>,
    pos: usize,
    base: usize,
}

impl<'a> Parser<'a> {
    fn new(expr: &'a str, body: &str, base: usize) -> Self {
        Parser {
            expr,
            chars: body.chars().collect(),
            pos: 0,
            base,
        }
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
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "-+._".contains(c))
        {
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
    !matches!(
        c,
        '.' | '['
            | ']'
            | '('
            | ')'
            | '='
            | '!'
            | '<'
            | '>'
            | '\''
            | '"'
            | '{'
            | '}'
            | '*'
            | '@'
            | '$'
    ) && !c.is_whitespace()
        || c == '\\'
}

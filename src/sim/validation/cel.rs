//! `x-kubernetes-validations`: CEL rules evaluated with the `cel` crate, `self` (and
//! `oldSelf` for transition rules) bound to the value at the rule's place, plus the Kubernetes
//! CEL library functions CRDs such as the Gateway API's use (`isIP`, `isCIDR`, `isURL`,
//! `lowerAscii`, `upperAscii`, `split`, `join`, `trim`, `replace`, `indexOf`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use cel::objects::{Key, Map as CelMap};
use cel::{Context, ExecutionError, Program, Value as Cel};
use serde_json::Value;

/// A CEL rule that does not compile or does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CelError {
    /// Not CEL (the parser's message, as the API server's `compilation failed: ...` carries).
    #[error("{0}")]
    Compile(String),
    /// It ran but did not give a bool.
    #[error("rule did not evaluate to a bool: {0}")]
    NotBool(String),
    /// It failed while running (a missing field, a type mismatch).
    #[error("{0}")]
    Execution(String),
}

/// A compiled rule, or why it does not compile.
type Compiled = Result<Arc<Program>, CelError>;

static PROGRAMS: LazyLock<Mutex<HashMap<String, Compiled>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles a rule (cached): the parse error when it is not CEL.
pub fn compile(rule: &str) -> Compiled {
    let mut cache = PROGRAMS.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(rule.to_string())
        .or_insert_with(|| {
            Program::compile(rule)
                .map(Arc::new)
                .map_err(|e| CelError::Compile(e.to_string()))
        })
        .clone()
}

/// A JSON value as CEL sees it (integers are `int`).
pub fn to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let mut map: HashMap<Key, Cel> = HashMap::with_capacity(m.len());
            for (k, v) in m {
                let value = to_cel(v);
                if let Some(escaped) = escaped_name(k) {
                    map.insert(Key::String(Arc::new(escaped)), value.clone());
                }
                map.insert(Key::String(Arc::new(k.clone())), value);
            }
            Cel::Map(CelMap { map: Arc::new(map) })
        }
    }
}

/// Kubernetes CEL's name for a property that is a CEL keyword or holds `-`, `.` or `/`:
/// `namespace` is `__namespace__`, `x-y` is `x__dash__y`.
fn escaped_name(k: &str) -> Option<String> {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if RESERVED.contains(&k) {
        return Some(format!("__{k}__"));
    }
    if k.contains(['-', '.', '/']) || k.contains("__") {
        return Some(
            k.replace("__", "__underscores__")
                .replace('.', "__dot__")
                .replace('-', "__dash__")
                .replace('/', "__slash__"),
        );
    }
    None
}

fn s_arg(v: &Cel, f: &str) -> Result<String, ExecutionError> {
    match v {
        Cel::String(s) => Ok(s.to_string()),
        other => Err(ExecutionError::function_error(
            f,
            format!("expected a string, got {other:?}"),
        )),
    }
}

fn context<'a>() -> Context<'a> {
    let mut ctx = Context::default();
    ctx.add_function("isIP", |s: Arc<String>| {
        s.parse::<std::net::IpAddr>().is_ok()
    });
    ctx.add_function("isCIDR", |s: Arc<String>| {
        s.split_once('/').is_some_and(|(ip, bits)| {
            ip.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                bits.parse::<u8>()
                    .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
            })
        })
    });
    ctx.add_function("isURL", |s: Arc<String>| {
        s.split_once("://")
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
            || s.starts_with('/')
    });
    ctx.add_function(
        "lowerAscii",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>| s.to_ascii_lowercase(),
    );
    ctx.add_function(
        "upperAscii",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>| s.to_ascii_uppercase(),
    );
    ctx.add_function(
        "trim",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>| s.trim().to_string(),
    );
    ctx.add_function(
        "split",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>, sep: Arc<String>| {
            Ok::<_, ExecutionError>(Cel::List(Arc::new(
                s.split(sep.as_str())
                    .map(|p| Cel::String(Arc::new(p.to_string())))
                    .collect(),
            )))
        },
    );
    ctx.add_function(
        "indexOf",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>, sub: Arc<String>| {
            s.find(sub.as_str()).map_or(-1, |i| i as i64)
        },
    );
    ctx.add_function(
        "replace",
        |cel::extractors::This(s): cel::extractors::This<Arc<String>>,
         from: Arc<String>,
         to: Arc<String>| s.replace(from.as_str(), to.as_str()),
    );
    ctx.add_function(
        "join",
        |cel::extractors::This(list): cel::extractors::This<Arc<Vec<Cel>>>, sep: Arc<String>| {
            let parts: Result<Vec<String>, _> = list.iter().map(|v| s_arg(v, "join")).collect();
            parts.map(|p| Cel::String(Arc::new(p.join(sep.as_str()))))
        },
    );
    ctx
}

/// Evaluates a rule: `Ok(true)` when it holds.
pub fn eval(rule: &str, self_: &Value, old: Option<&Value>) -> Result<bool, CelError> {
    let program = compile(rule)?;
    let mut ctx = context();
    ctx.add_variable_from_value("self", to_cel(self_));
    if let Some(o) = old {
        ctx.add_variable_from_value("oldSelf", to_cel(o));
    }
    match program.execute(&ctx) {
        Ok(Cel::Bool(b)) => Ok(b),
        Ok(other) => Err(CelError::NotBool(format!("{other:?}"))),
        Err(e) => Err(CelError::Execution(e.to_string())),
    }
}

/// Evaluates an expression over named variables (a webhook's `matchConditions`: `object`,
/// `oldObject`, `request`): `Ok(true)` when it holds.
pub fn eval_with(expr: &str, vars: &[(&str, &Value)]) -> Result<bool, CelError> {
    let program = compile(expr)?;
    let mut ctx = context();
    for (name, v) in vars {
        ctx.add_variable_from_value(*name, to_cel(v));
    }
    match program.execute(&ctx) {
        Ok(Cel::Bool(b)) => Ok(b),
        Ok(other) => Err(CelError::NotBool(format!("{other:?}"))),
        Err(e) => Err(CelError::Execution(e.to_string())),
    }
}

/// Evaluates a `messageExpression`.
pub fn eval_message(expr: &str, self_: &Value) -> Option<String> {
    let program = compile(expr).ok()?;
    let mut ctx = context();
    ctx.add_variable_from_value("self", to_cel(self_));
    match program.execute(&ctx) {
        Ok(Cel::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

/// Whether a rule mentions `oldSelf` (a transition rule: only checked on updates).
pub fn is_transition(rule: &str) -> bool {
    rule.contains("oldSelf")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gateway_api_style_rules() {
        let listeners = json!([{"name": "http", "port": 80, "protocol": "HTTP"}, {"name": "http", "port": 81, "protocol": "HTTP"}]);
        assert_eq!(
            eval(
                "self.all(l1, self.exists_one(l2, l1.name == l2.name))",
                &listeners,
                None
            ),
            Ok(false)
        );
        let path = json!({"type": "PathPrefix", "value": "/a//b"});
        assert_eq!(
            eval(
                "(self.type in ['Exact','PathPrefix']) ? !self.value.contains('//') : true",
                &path,
                None
            ),
            Ok(false)
        );
        assert_eq!(
            eval(
                "!has(self.port) || self.port > 0",
                &json!({"port": 8080}),
                None
            ),
            Ok(true)
        );
        assert_eq!(eval("isIP(self)", &json!("10.0.0.1"), None), Ok(true));
        assert_eq!(
            eval(
                "self.__namespace__ == 'a'",
                &json!({"namespace": "a"}),
                None
            ),
            Ok(true)
        );
        assert_eq!(
            eval("self == oldSelf", &json!("a"), Some(&json!("b"))),
            Ok(false)
        );
        assert_eq!(
            eval("self.lowerAscii() == 'abc'", &json!("ABC"), None),
            Ok(true)
        );
        assert!(compile("self.(").is_err());
        assert_eq!(
            eval(
                "duration(self.b) <= duration(self.r)",
                &json!({"b": "5s", "r": "10s"}),
                None
            ),
            Ok(true)
        );
    }
}

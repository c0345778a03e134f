//! Conversions between Rhai values and core types, and the error shape bindings return.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::problem::Problem;
use rhai::{Dynamic, EvalAltResult, Map, Position};

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The error a binding raises, carried through Rhai as the value of a runtime error: what went
/// wrong, what to do, and the core error it came from (kept whole, so callers match its type and
/// never its text). In a script's `catch (e)`, `e` prints as the message; `e.message` and
/// `e.help` read the parts.
#[derive(Clone, Debug)]
pub struct ScriptError {
    pub message: String,
    pub help: Option<String>,
    pub cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl ScriptError {
    pub fn new(message: impl Into<String>) -> Self {
        ScriptError {
            message: message.into(),
            help: None,
            cause: None,
        }
    }

    /// The core error this one came from, when it is an `E`.
    pub fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.cause.as_deref().and_then(|c| c.downcast_ref::<E>())
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ScriptError> for Box<EvalAltResult> {
    fn from(e: ScriptError) -> Self {
        EvalAltResult::ErrorRuntime(Dynamic::from(e), Position::NONE).into()
    }
}

/// Registers [`ScriptError`] with the engine as the type `error`.
pub fn register_error_type(engine: &mut rhai::Engine) {
    engine
        .register_type_with_name::<ScriptError>("error")
        .register_fn("to_string", |e: &mut ScriptError| e.message.clone())
        .register_fn("to_debug", |e: &mut ScriptError| e.message.clone());
    super::Def::new("errors", "get$message", &["error: error", "string"])
        .doc("What went wrong, in a script's `catch (err)`: `err.message`.")
        .example(r#"try { cluster("cluster1").apply_file("manifests/gateway.yaml"); } catch (err) { say(err.message); }"#)
        .register(engine, |e: &mut ScriptError| e.message.clone());
    super::Def::new("errors", "get$help", &["error: error", "?"])
        .doc("What to do about it, or `()` when the error does not say.")
        .example(r#"try { env("CLUSTER1"); } catch (err) { if err.help != () { say(err.help); } }"#)
        .register(engine, |e: &mut ScriptError| {
            e.help.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT)
        });
    super::Def::new("errors", "contains", &["error: error", "text: string", "bool"])
        .doc("Whether the error's message contains `text`.")
        .example(r#"try { cluster("cluster1").create_namespace("bookinfo"); } catch (err) { if !err.contains("already exists") { throw err; } }"#)
        .register(engine, |e: &mut ScriptError, text: &str| e.message.contains(text));
}

/// A user-facing error from a binding.
pub fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    ScriptError::new(message).into()
}

/// Same as [`fail`] with what to do.
pub fn fail_with_help(
    message: impl std::fmt::Display,
    help: impl std::fmt::Display,
) -> Box<EvalAltResult> {
    ScriptError {
        help: Some(help.to_string()),
        ..ScriptError::new(message.to_string())
    }
    .into()
}

/// A core problem, with its help.
pub fn fail_problem(p: crate::problem::Problem) -> Box<EvalAltResult> {
    ScriptError {
        message: p.message,
        help: p.help,
        cause: None,
    }
    .into()
}

/// A core error, converted once: its message, its help, and itself as the cause.
pub fn fail_from<E>(e: E, help: Option<String>) -> Box<EvalAltResult>
where
    E: std::error::Error + Send + Sync + 'static,
{
    ScriptError {
        message: e.to_string(),
        help,
        cause: Some(Arc::new(e)),
    }
    .into()
}

/// The [`ScriptError`] inside an error raised by a binding (through calls and modules).
pub fn script_error(err: &EvalAltResult) -> Option<ScriptError> {
    raised(err)
}

/// The value of type `T` an error was raised with (`ErrorRuntime`), through calls into
/// functions and modules.
pub fn raised<T: rhai::Variant + Clone>(err: &EvalAltResult) -> Option<T> {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => v.read_lock::<T>().map(|e| e.clone()),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => raised(inner),
        _ => None,
    }
}

/// Runs a long operation for a binding; Ctrl-C ends it with an "interrupted" error.
pub fn interruptible<T>(
    s: &crate::session::Session,
    fut: impl std::future::Future<Output = T>,
) -> RhaiResult<T> {
    s.block_on_cancellable(fut)
        .ok_or_else(|| fail("interrupted (Ctrl-C)"))
}

/// Rhai value -> JSON (maps, arrays, strings, numbers, bools, unit as null).
pub fn to_json(value: &Dynamic) -> RhaiResult<serde_json::Value> {
    rhai::serde::from_dynamic(value)
}

/// JSON -> Rhai value (objects become maps, so `obj.status.loadBalancer` works).
pub fn from_json(value: &serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

/// Reads a duration: `"500ms"`, `"90s"`, `"5m"`, `"1h"`, `"1m30s"`, or a number of seconds.
pub fn duration(value: &Dynamic) -> RhaiResult<Duration> {
    if let Ok(i) = value.as_int() {
        if i < 0 {
            return Err(fail(format!("a duration cannot be negative: {i}")));
        }
        return Ok(Duration::from_secs(i as u64));
    }
    if let Ok(f) = value.as_float() {
        if f < 0.0 || !f.is_finite() {
            return Err(fail(format!("not a duration: {f}")));
        }
        return Ok(Duration::from_secs_f64(f));
    }
    if let Some(s) = value.clone().try_cast::<rhai::ImmutableString>() {
        return parse_duration(&s).map_err(fail_problem);
    }
    Err(fail(format!(
        "expected a duration such as \"90s\" or 5, got a {}",
        value.type_name()
    )))
}

/// Parses `"500ms"`, `"1.5s"`, `"5m"`, `"1h"`, `"1m30s"`, `"90"` (seconds).
pub fn parse_duration(text: &str) -> Result<Duration, Problem> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Ok(Duration::from_secs_f64(secs.max(0.0)));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m or h"))?;
        if num_end == 0 {
            return Err(Problem::new(format!(
                "`{text}` is not a duration such as \"90s\", \"5m\" or \"500ms\""
            )));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            u => {
                return Err(Problem::new(format!(
                    "unknown unit `{u}` in `{text}`: use ms, s, m or h"
                )))
            }
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// Typed access to an options map (`#{namespace: "x", wait: true}`) with clear errors.
pub struct Opts<'a> {
    map: Option<&'a Map>,
    what: &'a str,
}

impl<'a> Opts<'a> {
    pub fn new(map: Option<&'a Map>, what: &'a str) -> Self {
        Opts { map, what }
    }

    fn get(&self, key: &str) -> Option<&'a Dynamic> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_unit())
    }

    /// Fails on keys the function does not know: a typo must not be silently ignored.
    pub fn only(&self, known: &[&str]) -> RhaiResult<()> {
        if let Some(map) = self.map {
            for key in map.keys() {
                if !known.contains(&key.as_str()) {
                    return Err(fail_with_help(
                        format!("{}: unknown option `{key}`", self.what),
                        format!("known options: {}", known.join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn string(&self, key: &str) -> RhaiResult<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) if v.is_int() || v.is_float() || v.is_bool() => Ok(Some(v.to_string())),
            Some(v) => Err(fail(format!(
                "{}: option `{key}` must be text, got a {}",
                self.what,
                v.type_name()
            ))),
        }
    }

    pub fn bool(&self, key: &str) -> RhaiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).map_err(|t| {
                fail(format!(
                    "{}: option `{key}` must be true or false, got a {t}",
                    self.what
                ))
            }),
        }
    }

    pub fn int(&self, key: &str) -> RhaiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_int().map(Some).map_err(|t| {
                fail(format!(
                    "{}: option `{key}` must be a number, got a {t}",
                    self.what
                ))
            }),
        }
    }

    pub fn duration(&self, key: &str) -> RhaiResult<Option<Duration>> {
        self.get(key)
            .map(|v| {
                duration(v)
                    .map_err(|e| fail(format!("{}: option `{key}`: {}", self.what, message_of(&e))))
            })
            .transpose()
    }

    pub fn json(&self, key: &str) -> RhaiResult<Option<serde_json::Value>> {
        self.get(key).map(to_json).transpose()
    }

    pub fn map(&self, key: &str) -> RhaiResult<Option<Map>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .read_lock::<Map>()
                .map(|m| Some(m.clone()))
                .ok_or_else(|| {
                    fail(format!(
                        "{}: option `{key}` must be a map like #{{a: 1}}, got a {}",
                        self.what,
                        v.type_name()
                    ))
                }),
        }
    }

    pub fn raw(&self, key: &str) -> Option<&'a Dynamic> {
        self.get(key)
    }
}

/// The text of an error, without position (unwrapping calls into functions and modules).
/// The engine renders script errors with more explanation (`engine::diagnostic`).
pub fn message_of(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => message_of(inner),
        EvalAltResult::ErrorRuntime(v, _) => match v.read_lock::<ScriptError>() {
            Some(e) => e.message.clone(),
            None => v.to_string(),
        },
        other => {
            let text = other.to_string();
            // Rhai appends " (line N, position M)"; the location is shown separately.
            match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            }
        }
    }
}

/// A map of string keys to text values (`#{app: "x"}`), `()` values kept as `None`.
pub fn string_map(map: &Map, what: &str) -> RhaiResult<Vec<(String, Option<String>)>> {
    map.iter()
        .map(|(k, v)| {
            if v.is_unit() {
                Ok((k.to_string(), None))
            } else if v.is_string() || v.is_int() || v.is_float() || v.is_bool() {
                Ok((k.to_string(), Some(v.to_string())))
            } else {
                Err(fail(format!(
                    "{what}: value of `{k}` must be text, got a {}",
                    v.type_name()
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl_timeouts() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10x")
            .unwrap_err()
            .to_string()
            .contains("unknown unit"));
    }

    #[test]
    fn json_round_trips_through_rhai() {
        let v = serde_json::json!({"a": [1, "x", true, null], "b": {"c": 1.5}});
        assert_eq!(to_json(&from_json(&v)).unwrap(), v);
    }
}

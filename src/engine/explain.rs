//! Errors that teach: Rhai's messages about calls and values, said in the runbook's terms. A
//! call with the wrong arguments shows the signatures that exist (from the engine's own function
//! metadata, as `meshbook docs` prints them); a property read on `()` says where the `()` came
//! from.

use std::sync::OnceLock;

/// One signature of a host function, as `meshbook docs` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Signature {
    name: String,
    /// (parameter name, type) pairs; the type may be `?` (anything) or `a|b`.
    params: Vec<(String, String)>,
    text: String,
}

static SIGNATURES: OnceLock<Vec<Signature>> = OnceLock::new();

/// Remembers the host functions' signatures, once per process (every engine registers the same).
pub fn remember(engine: &rhai::Engine) {
    SIGNATURES.get_or_init(|| {
        crate::engine::docs::functions(engine)
            .into_iter()
            .filter(|f| !f.signature.starts_with("handle."))
            .map(|f| Signature {
                params: params_of(&f.signature),
                name: f.name,
                text: f.signature,
            })
            .collect()
    });
}

fn params_of(signature: &str) -> Vec<(String, String)> {
    let head = signature.split(" -> ").next().unwrap_or(signature);
    let Some(inner) = head
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
    else {
        return Vec::new();
    };
    inner
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(": ") {
            Some((n, t)) => (n.to_string(), t.to_string()),
            None => (String::new(), p.to_string()),
        })
        .collect()
}

/// Rhai's Rust type names, in the words `meshbook docs` uses.
fn script_type(rust: &str) -> String {
    let t = rust.trim();
    if t.contains("ImmutableString") || t == "String" || t == "&str" {
        return "string".into();
    }
    match t.rsplit("::").next().unwrap_or(t) {
        "i64" | "i32" | "INT" => "int".into(),
        "f64" | "f32" | "FLOAT" => "float".into(),
        "Map" | "BTreeMap<SmartString, Dynamic>" => "map".into(),
        "Array" | "Vec<Dynamic>" => "array".into(),
        "FnPtr" => "closure".into(),
        "Member" => "Cluster".into(),
        "char" => "char".into(),
        other => other.to_string(),
    }
}

/// Splits Rhai's `name (T1, T2)` into the name and the script types of the arguments.
fn parse_call(sig: &str) -> (String, Vec<String>) {
    let (name, rest) = match sig.split_once('(') {
        Some((n, r)) => (n.trim().to_string(), r.trim_end().trim_end_matches(')')),
        None => (sig.trim().to_string(), ""),
    };
    let args = rest
        .split(", ")
        .filter(|a| !a.trim().is_empty())
        .map(script_type)
        .collect();
    (name, args)
}

fn accepts(expected: &str, given: &str) -> bool {
    expected == "?"
        || expected
            .split('|')
            .any(|e| e.trim() == given || (e.trim() == "float" && given == "int"))
}

/// The message, and what to do, for Rhai's "function not found" with signature `sig`.
pub fn no_function(sig: &str) -> (String, Option<String>) {
    let (name, args) = parse_call(sig);
    let given = format!("({})", args.join(", "));
    let Some(all) = SIGNATURES.get() else {
        return (format!("no function `{name}` takes {given}"), None);
    };
    let known: Vec<&Signature> = all.iter().filter(|s| s.name == name).collect();
    if known.is_empty() {
        if name.contains("::") {
            return (
                format!("no function `{name}` takes {given}"),
                Some("check the module's functions and how many arguments each takes".into()),
            );
        }
        let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        names.dedup();
        let near = crate::suggest::closest(&name, names.iter().copied());
        return match near.first() {
            Some(n) => {
                let sigs: Vec<&str> = all
                    .iter()
                    .filter(|s| s.name == *n)
                    .map(|s| s.text.as_str())
                    .collect();
                (
                    format!("no function `{name}`"),
                    Some(format!("did you mean `{n}`? {}", sigs.join("; "))),
                )
            }
            None => (
                format!("no function `{name}` takes {given}"),
                Some("`meshbook docs` lists every function and its arguments".into()),
            ),
        };
    }
    // The same number of arguments: say which argument is of the wrong type.
    let mut why = String::new();
    if let Some(sig) = known.iter().find(|s| s.params.len() == args.len()) {
        if let Some((i, ((pname, want), got))) = sig
            .params
            .iter()
            .zip(&args)
            .enumerate()
            .find(|(_, ((_, want), got))| !accepts(want, got))
        {
            let hint = match (want.as_str(), got.as_str()) {
                ("int", "string") => " (a number is written without quotes: 2, not \"2\")",
                ("string", "int") => " (text is written in quotes)",
                ("Cluster", _) => {
                    " (call it on a cluster handle: `cluster(\"cluster1\").NAME(...)`)"
                }
                _ => "",
            };
            let hint = hint.replace("NAME", &name);
            why = format!(
                ": argument {} `{pname}` must be {}, not {}{hint}",
                i + 1,
                article(want),
                article(got)
            );
        }
    } else {
        let counts: Vec<String> = known.iter().map(|s| s.params.len().to_string()).collect();
        let mut counts = counts;
        counts.dedup();
        why = format!(
            ": it takes {} argument{} (a method counts its cluster), not {}",
            counts.join(" or "),
            if counts.len() == 1 && counts[0] == "1" {
                ""
            } else {
                "s"
            },
            args.len()
        );
    }
    let list: Vec<String> = known.iter().map(|s| format!("    {}", s.text)).collect();
    (
        format!("`{name}` cannot take {given}{why}"),
        Some(format!("the signatures that exist:\n{}", list.join("\n"))),
    )
}

fn article(t: &str) -> String {
    match t {
        "int" => "an int".into(),
        "array" => "an array".into(),
        "()" => "`()`".into(),
        "?" => "any value".into(),
        t if t.contains('|') => format!("one of {}", t.replace('|', ", ")),
        t => format!("a {t}"),
    }
}

/// What to do when a value is `()`.
pub const UNIT_HELP: &str = "a value is `()` when it is absent: `c.get(...)` returns `()` for an object that does not exist, and `m.key` is `()` for a key the map lacks; check with `if x != () { ... }`, or read with `x?.field`, which gives `()` instead of an error";

/// Explains a property read on `()` (`Unknown property 'spec' - a getter is not registered
/// for type '()'`), given the source line and column of the property and the whole source:
/// which expression was `()`, and, for a variable, the call that gave it its value.
pub fn unit_property(
    message: &str,
    line_text: &str,
    column: usize,
    source: &str,
    line: usize,
) -> Option<(String, String)> {
    let prop = message
        .strip_prefix("Unknown property '")?
        .split('\'')
        .next()?
        .to_string();
    if !message.contains("type '()'") {
        return None;
    }
    let chars: Vec<char> = line_text.chars().collect();
    // Back from the property over `.` or `?.`, then over the expression it was read on.
    let mut end = column.saturating_sub(1).min(chars.len());
    while end > 0 && matches!(chars[end - 1], '.' | '?' | ' ') {
        end -= 1;
    }
    let mut start = end;
    let mut depth = 0i32;
    while start > 0 {
        let c = chars[start - 1];
        match c {
            ')' | ']' => depth += 1,
            '(' | '[' if depth > 0 => depth -= 1,
            '"' | '`' if depth > 0 => {}
            _ if depth > 0 => {}
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == ':' => {}
            _ => break,
        }
        start -= 1;
    }
    let expr: String = chars[start..end].iter().collect();
    let expr = expr.trim().trim_start_matches('.').to_string();
    if expr.is_empty() {
        return Some((
            format!("property `{prop}` was read on `()` (an absent value)"),
            UNIT_HELP.into(),
        ));
    }
    let message = format!("`{expr}` is `()` (absent), so it has no property `{prop}`");
    let is_var = expr.chars().all(|c| c.is_alphanumeric() || c == '_');
    if let Some(call) = expr
        .rfind(')')
        .filter(|_| expr.ends_with(')'))
        .map(|_| expr.clone())
    {
        return Some((
            message,
            format!(
                "`{call}` returned `()`: {}",
                UNIT_HELP.trim_start_matches("a value is `()` when it is absent: ")
            ),
        ));
    }
    let root = expr
        .split(['.', '[', '?'])
        .next()
        .unwrap_or(&expr)
        .to_string();
    let origin = assignment_before(source, &root, line);
    let help = match (origin, is_var) {
        (Some((at, rhs)), _) => format!(
            "`{root}` was set at line {at} by `{rhs}`, which returned `()`{}: {}",
            if is_var {
                ""
            } else {
                " or a map without that key"
            },
            UNIT_HELP.trim_start_matches("a value is `()` when it is absent: ")
        ),
        (None, _) => UNIT_HELP.into(),
    };
    Some((message, help))
}

/// The nearest `let NAME = ...;` (or `NAME = ...;`) before `line`: its line and right-hand side.
fn assignment_before(source: &str, name: &str, line: usize) -> Option<(usize, String)> {
    let lines: Vec<&str> = source.lines().collect();
    for i in (0..line.min(lines.len())).rev() {
        let t = lines[i].trim_start();
        let rest = t
            .strip_prefix("let ")
            .or_else(|| t.strip_prefix("const "))
            .unwrap_or(t);
        let Some(after) = rest.strip_prefix(name) else {
            continue;
        };
        let after = after.trim_start();
        if let Some(rhs) = after.strip_prefix('=').filter(|r| !r.starts_with('=')) {
            let rhs = rhs.trim().trim_end_matches(';').trim();
            let shown: String = rhs.chars().take(80).collect();
            return Some((i + 1, shown));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhai_signatures_read_as_script_types() {
        let (name, args) = parse_call(
            "scale (Cluster, &str | ImmutableString | String, &str | ImmutableString | String, i64)",
        );
        assert_eq!(name, "scale");
        assert_eq!(args, vec!["Cluster", "string", "string", "int"]);
        assert_eq!(
            params_of("scale(cluster: Cluster, ns: string, replicas: int) -> map"),
            vec![
                ("cluster".to_string(), "Cluster".to_string()),
                ("ns".to_string(), "string".to_string()),
                ("replicas".to_string(), "int".to_string())
            ]
        );
    }

    #[test]
    fn a_property_of_a_variable_names_the_call_that_set_it() {
        let src = "let c = cluster(\"c1\");\nlet d = c.get(\"deployment\", \"web\", \"demo\");\nlet r = d.spec.replicas;\n";
        let (message, help) = unit_property(
            "Unknown property 'spec' - a getter is not registered for type '()'",
            "let r = d.spec.replicas;",
            11,
            src,
            3,
        )
        .unwrap();
        assert_eq!(
            message,
            "`d` is `()` (absent), so it has no property `spec`"
        );
        assert!(
            help.contains("line 2") && help.contains("c.get(\"deployment\", \"web\", \"demo\")"),
            "{help}"
        );
        let (message, help) = unit_property(
            "Unknown property 'status' - a getter is not registered for type '()'",
            "say(c.get(\"svc\", \"x\", \"ns\").status);",
            29,
            "",
            1,
        )
        .unwrap();
        assert!(
            message.starts_with("`c.get(\"svc\", \"x\", \"ns\")` is `()`"),
            "{message}"
        );
        assert!(help.contains("returned `()`"), "{help}");
    }
}

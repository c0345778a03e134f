//! Secret redaction: the one policy for every sink. Every value marked secret is replaced by
//! `***` wherever text leaves meshbook (terminal, logs, reports, error messages, the REPL and
//! its history, files meshbook writes), in the forms it travels in:
//!
//! - as is;
//! - escaped, character by character, the way JSON, YAML (double- and single-quoted), Rust's
//!   `{:?}`, percent-encoding (`%XX`, `+` for a space) and XML/HTML entities write it; a
//!   character may take any of its escaped forms, so every encoder's choices are covered
//!   (`\u00e9` or `é`, `%2F` or `%2f`, `\"` or `\\\"` inside an already escaped string);
//! - base64, standard and URL-safe, with and without padding: the whole value, and the part
//!   of it that survives inside a longer encoded blob at each of the three byte alignments
//!   (what secret scanners do: `base64("user:" + secret)` contains neither form of the whole).
//!
//! Values shorter than [`MIN_SECRET_CHARS`] are refused ([`TooShort`]): masking `ab` everywhere
//! would destroy the output while protecting nothing. Matching is exact (case-sensitive):
//! nothing in meshbook rewrites text after masking it.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use regex::Regex;

/// The replacement for every secret value.
pub const MASK: &str = "***";

/// The shortest secret that can be masked safely, in characters.
pub const MIN_SECRET_CHARS: usize = 4;

/// A secret value too short to be masked safely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{chars} character{} long, too short to be masked safely in output (at least {MIN_SECRET_CHARS} are needed)", if *chars == 1 { "" } else { "s" })]
pub struct TooShort {
    pub chars: usize,
}

/// Whether `value` can be registered as a secret (empty and blank values can: there is
/// nothing to mask).
pub fn check_length(value: &str) -> Result<(), TooShort> {
    let chars = value.trim().chars().count();
    if chars == 0 || chars >= MIN_SECRET_CHARS {
        Ok(())
    } else {
        Err(TooShort { chars })
    }
}

/// A shared, growing set of secret values. Clones share the set: a secret registered through
/// one handle is masked by all of them.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Trimmed values, longest first.
    secrets: Vec<String>,
    /// Built on first use after a change.
    matcher: Option<Arc<Matcher>>,
}

/// What finds the secrets in text: one regex for every form, or (for a set of secrets too
/// large for a regex: megabytes of them) their plain and base64 forms, replaced one by one.
enum Matcher {
    Regex(Regex),
    Plain(Vec<String>),
}

impl Matcher {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Matcher::Regex(re) => re.is_match(text),
            Matcher::Plain(forms) => forms.iter().any(|f| text.contains(f.as_str())),
        }
    }

    fn replace_all(&self, text: &str) -> String {
        match self {
            Matcher::Regex(re) => re.replace_all(text, MASK).into_owned(),
            Matcher::Plain(forms) => {
                let mut out = text.to_string();
                for f in forms {
                    if out.contains(f.as_str()) {
                        out = out.replace(f.as_str(), MASK);
                    }
                }
                out
            }
        }
    }
}

/// Never prints the values: a `{:?}` of a struct holding a redactor must not leak them.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.len())
            .finish()
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a value as secret from now on. Surrounding whitespace is ignored, and each line
    /// of a multi-line value is also masked on its own (a PEM key printed line by line; lines
    /// shorter than [`MIN_SECRET_CHARS`] are left to the whole). A value too short to be
    /// masked safely is refused; the caller says which one, without printing it.
    pub fn add(&self, value: &str) -> Result<(), TooShort> {
        check_length(value)?;
        let mut wanted: Vec<&str> = vec![value.trim()];
        if value.trim().contains('\n') {
            wanted.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.chars().count() >= MIN_SECRET_CHARS),
            );
        }
        let mut inner = self.write();
        let mut changed = false;
        for v in wanted {
            if !v.is_empty() && !inner.secrets.iter().any(|s| s == v) {
                inner.secrets.push(v.to_string());
                changed = true;
            }
        }
        if changed {
            // Longest first, so a secret containing another is masked whole.
            inner
                .secrets
                .sort_by_key(|s| std::cmp::Reverse(s.chars().count()));
            inner.matcher = None;
        }
        Ok(())
    }

    /// How many values are masked (lines of multi-line values included).
    pub fn len(&self) -> usize {
        self.read().secrets.len()
    }

    /// Whether any secret has been registered.
    pub fn is_empty(&self) -> bool {
        self.read().secrets.is_empty()
    }

    /// The matcher for the current secrets, built once per change; `None` without secrets.
    fn matcher(&self) -> Option<Arc<Matcher>> {
        {
            let inner = self.read();
            if inner.secrets.is_empty() {
                return None;
            }
            if let Some(m) = &inner.matcher {
                return Some(m.clone());
            }
        }
        let mut inner = self.write();
        if inner.matcher.is_none() {
            inner.matcher = Some(Arc::new(build_matcher(&inner.secrets)));
        }
        inner.matcher.clone()
    }

    /// Whether `text` holds a secret in any of its forms.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.matcher().is_some_and(|m| m.is_match(text))
    }

    /// Returns `text` with every secret, in every form, replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        match self.matcher() {
            Some(m) => m.replace_all(text),
            None => text.to_string(),
        }
    }

    /// Whether any string inside a JSON value, keys included, holds a secret.
    pub fn json_contains_secret(&self, value: &serde_json::Value) -> bool {
        match self.matcher() {
            Some(m) => json_matches(&m, value),
            None => false,
        }
    }

    /// [`Redactor::redact_json`] of a shared value: the same `Arc` when it holds no secret
    /// (nothing copied), a redacted copy otherwise.
    pub fn redact_shared(&self, value: &Arc<serde_json::Value>) -> Arc<serde_json::Value> {
        if self.json_contains_secret(value) {
            Arc::new(self.redact_json(value))
        } else {
            value.clone()
        }
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn json_matches(m: &Matcher, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => m.is_match(s),
        Value::Array(items) => items.iter().any(|v| json_matches(m, v)),
        Value::Object(map) => map.iter().any(|(k, v)| m.is_match(k) || json_matches(m, v)),
        _ => false,
    }
}

/// One regex for all secrets: per secret, its whole base64 forms and its escaped spelling;
/// then the base64 fragments at each alignment. Alternatives are tried in order at each
/// position (leftmost-first), so longer forms win.
fn build_matcher(secrets: &[String]) -> Matcher {
    let mut alternatives: Vec<String> = Vec::new();
    for s in secrets {
        for form in base64_whole(s.as_bytes()) {
            alternatives.push(regex::escape(&form));
        }
        alternatives.push(escaped_pattern(s));
    }
    let mut fragments: Vec<String> = secrets
        .iter()
        .flat_map(|s| base64_aligned(s.as_bytes()))
        .collect();
    fragments.sort_by_key(|f| std::cmp::Reverse(f.len()));
    fragments.dedup();
    alternatives.extend(fragments.iter().map(|f| regex::escape(f)));
    match regex::RegexBuilder::new(&alternatives.join("|"))
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()
    {
        Ok(re) => Matcher::Regex(re),
        Err(_) => {
            let mut forms: Vec<String> = secrets
                .iter()
                .flat_map(|s| {
                    let mut forms = base64_whole(s.as_bytes());
                    forms.push(s.clone());
                    forms
                })
                .chain(fragments)
                .collect();
            forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
            Matcher::Plain(forms)
        }
    }
}

/// The value base64-encoded whole: standard and URL-safe, padded and not (padded first).
fn base64_whole(bytes: &[u8]) -> Vec<String> {
    let mut forms = vec![
        STANDARD.encode(bytes),
        URL_SAFE.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ];
    dedup_keep_order(&mut forms);
    forms
}

/// The characters of `base64(prefix + value + suffix)` that depend on the value's bytes
/// alone, for a prefix of 0, 1 and 2 bytes (every alignment), in both alphabets. A blob that
/// encodes the value anywhere inside it contains one of these.
fn base64_aligned(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        // Characters mixing prefix bits: none, 2, or 3. The last one mixes suffix bits
        // unless the value ends on a 3-byte boundary.
        let skip_front = [0, 2, 3][offset];
        let skip_back = usize::from((offset + bytes.len()) % 3 != 0);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&padded);
            let end = encoded.len().saturating_sub(skip_back);
            if end > skip_front + MIN_SECRET_CHARS - 1 {
                out.push(encoded[skip_front..end].to_string());
            }
        }
    }
    dedup_keep_order(&mut out);
    out
}

fn dedup_keep_order(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|i| seen.insert(i.clone()));
}

/// Characters no encoder escapes: they only ever appear as themselves.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// A pattern matching `secret` with each character as itself or in any escaped form.
fn escaped_pattern(secret: &str) -> String {
    secret.chars().map(char_pattern).collect()
}

/// Every spelling of one character: itself; `\uXXXX` (a surrogate pair above the BMP),
/// `\xXX`, `\UXXXXXXXX` and `\u{X}` escapes, behind one or more backslashes (escaped again
/// inside an escaped string); the short escapes (`\"`, `\\`, `\/`, `\n`, YAML's `''`, ...);
/// percent-encoding of its UTF-8 bytes (`+` for a space); XML/HTML entities.
fn char_pattern(c: char) -> String {
    if is_plain(c) {
        return c.to_string();
    }
    let cp = u32::from(c);
    let hex = |width: usize, v: u32| format!("(?i:{v:0width$x})");
    let esc = r"\\+";
    let mut alts = vec![regex::escape(&c.to_string())];
    if cp <= 0xFFFF {
        alts.push(format!("{esc}u{}", hex(4, cp)));
    } else {
        let v = cp - 0x10000;
        alts.push(format!(
            "{esc}u{}{esc}u{}",
            hex(4, 0xD800 + (v >> 10)),
            hex(4, 0xDC00 + (v & 0x3FF))
        ));
    }
    if cp <= 0xFF {
        alts.push(format!("{esc}x{}", hex(2, cp)));
    }
    alts.push(format!("{esc}U{}", hex(8, cp)));
    alts.push(format!(r"{esc}u\{{0*{}\}}", hex(1, cp)));
    let short: &[&str] = match c {
        '"' => &[r#"""#],
        '\\' => &["\\"],
        '/' => &["/"],
        '\'' => &["'"],
        '\n' => &["n"],
        '\t' => &["t"],
        '\r' => &["r"],
        '\u{8}' => &["b"],
        '\u{c}' => &["f"],
        '\0' => &["0"],
        ' ' => &[" "],
        _ => &[],
    };
    for s in short {
        alts.push(format!("{esc}{}", regex::escape(s)));
    }
    if c == '\'' {
        alts.push("''".into());
    }
    if c == ' ' {
        alts.push(regex::escape("+"));
    }
    let mut utf8 = [0u8; 4];
    let percent: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|b| format!("%{}", hex(2, u32::from(b))))
        .collect();
    alts.push(percent);
    let entity: &[&str] = match c {
        '&' => &["&amp;"],
        '<' => &["&lt;"],
        '>' => &["&gt;"],
        '"' => &["&quot;"],
        '\'' => &["&apos;"],
        _ => &[],
    };
    alts.extend(entity.iter().map(|e| regex::escape(e)));
    alts.push(format!("&#0*{cp};"));
    alts.push(format!("&#[xX]0*{};", hex(1, cp)));
    format!("(?:{})", alts.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        let r = Redactor::new();
        for s in secrets {
            r.add(s).expect("long enough");
        }
        r
    }

    #[test]
    fn masks_every_occurrence_and_longest_first() {
        let r = redactor(&["s3cr3t-key", "s3cr3t-key-extended"]);
        assert_eq!(
            r.redact("a s3cr3t-key-extended b s3cr3t-key c"),
            "a *** b *** c"
        );
    }

    #[test]
    fn refuses_short_values_and_trims() {
        let r = Redactor::new();
        assert_eq!(r.add("abc"), Err(TooShort { chars: 3 }));
        assert_eq!(r.add(" é€ "), Err(TooShort { chars: 2 }));
        assert_eq!(r.add("   "), Ok(()));
        r.add("  token-value\n").unwrap();
        assert_eq!(r.redact("abc token-value"), "abc ***");
        assert_eq!(r.len(), 1);
        assert!(!format!("{r:?}").contains("token-value"));
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let r = redactor(&["-----BEGIN-----\nAAAAsecretline\nab\n-----END-----"]);
        assert_eq!(r.redact("x AAAAsecretline y"), "x *** y");
        assert_eq!(r.redact("ab"), "ab");
    }

    #[test]
    fn redacts_json_strings_and_keys() {
        let r = redactor(&["hunter22"]);
        let v = serde_json::json!({"k": ["hunter22", 1], "hunter22": true});
        let out = r.redact_json(&v);
        assert_eq!(out, serde_json::json!({"k": ["***", 1], "***": true}));
    }

    #[test]
    fn masks_base64_whole_and_inside_longer_blobs() {
        let secret = "Tok3n/with+Sym?";
        let r = redactor(&[secret]);
        for text in [
            STANDARD.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            STANDARD.encode(format!("user:{secret}")),
            STANDARD.encode(format!("u:{secret}:tail")),
            URL_SAFE.encode(format!("ab{secret}")),
        ] {
            let out = r.redact(&format!("data: {text}"));
            assert!(out.contains(MASK), "{text} -> {out}");
        }
        assert_eq!(r.redact("plain text"), "plain text");
    }

    #[test]
    fn masks_escaped_forms() {
        let secret = "a\"b\\c/d é😀 e&<f>'g";
        let r = redactor(&[secret]);
        let json = serde_json::to_string(secret).unwrap();
        let ascii: String = secret
            .encode_utf16()
            .map(|u| {
                if u < 0x80 && u != 0x22 && u != 0x5c {
                    char::from(u as u8).to_string()
                } else {
                    format!("\\u{u:04X}")
                }
            })
            .collect();
        let yaml = serde_yaml::to_string(secret).unwrap();
        let debug = format!("{secret:?}");
        let single = format!("'{}'", secret.replace('\'', "''"));
        let percent: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect();
        let xml = secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        let double_json = serde_json::to_string(&json).unwrap();
        for text in [json, ascii, yaml, debug, single, percent, xml, double_json] {
            let out = r.redact(&text);
            assert!(out.contains(MASK), "{text} -> {out}");
            assert!(
                !out.contains("b\\c") && !out.contains("f>"),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        let r = redactor(&["a.*b(c)|[d]^$"]);
        assert_eq!(r.redact("x a.*b(c)|[d]^$ y"), "x *** y");
        assert_eq!(r.redact("aXXXb(c)|[d]^$"), "aXXXb(c)|[d]^$");
        assert!(r.contains_secret("-a.*b(c)|[d]^$-"));
        assert!(!r.contains_secret("abc"));
    }

    #[test]
    fn the_plain_fallback_masks_whole_forms() {
        let m = Matcher::Plain(vec![STANDARD.encode("s3cret-value"), "s3cret-value".into()]);
        let text = format!("a s3cret-value b {}", STANDARD.encode("s3cret-value"));
        assert!(m.is_match(&text));
        assert_eq!(m.replace_all(&text), "a *** b ***");
    }
}

//! Name and key formats with the API server's own messages (k8s.io/apimachinery
//! `util/validation`): DNS subdomains and labels, label keys and values, port names, config keys.

use std::sync::LazyLock;

use regex::Regex;

fn re(s: &str) -> Regex {
    Regex::new(&format!("^(?:{s})$")).expect("valid regex")
}

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY: &str = "[-._a-zA-Z0-9]+";

static RE_LABEL: LazyLock<Regex> = LazyLock::new(|| re(DNS1123_LABEL));
static RE_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| re(DNS1123_SUBDOMAIN));
static RE_1035: LazyLock<Regex> = LazyLock::new(|| re(DNS1035_LABEL));
static RE_QUALIFIED: LazyLock<Regex> = LazyLock::new(|| re(QUALIFIED_NAME));
static RE_LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| re(LABEL_VALUE));
static RE_CONFIG_KEY: LazyLock<Regex> = LazyLock::new(|| re(CONFIG_KEY));

fn max_len(s: &str, n: usize) -> Option<String> {
    (s.len() > n).then(|| format!("must be no more than {n} characters"))
}

/// A lowercase RFC 1123 subdomain (most object names).
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut out: Vec<String> = max_len(s, 253).into_iter().collect();
    if !RE_SUBDOMAIN.is_match(s) {
        out.push(format!("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"));
    }
    out
}

/// A lowercase RFC 1123 label (namespaces, container names).
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut out: Vec<String> = max_len(s, 63).into_iter().collect();
    if !RE_LABEL.is_match(s) {
        out.push(format!("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"));
    }
    out
}

/// An RFC 1035 label (Service names).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut out: Vec<String> = max_len(s, 63).into_iter().collect();
    if !RE_1035.is_match(s) {
        out.push(format!("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')"));
    }
    out
}

/// A path segment (RBAC names, which may hold `:`).
pub fn path_segment(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s == "." || s == ".." {
        out.push(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            out.push(format!("may not contain '{bad}'"));
        }
    }
    out
}

/// A qualified name (label and annotation keys): `[prefix/]name`.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) if !n.contains('/') => (Some(p), n),
        Some(_) => {
            out.push(format!("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
            return out;
        }
        None => (None, s),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            out.push("prefix part must be non-empty".into());
        } else {
            out.extend(
                dns1123_subdomain(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        out.push("name part must be non-empty".into());
    } else {
        if name.len() > 63 {
            out.push("name part must be no more than 63 characters".into());
        }
        if !RE_QUALIFIED.is_match(name) {
            out.push(format!("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}')"));
        }
    }
    out
}

/// A label value.
pub fn label_value(s: &str) -> Vec<String> {
    let mut out: Vec<String> = max_len(s, 63).into_iter().collect();
    if !RE_LABEL_VALUE.is_match(s) {
        out.push(format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"));
    }
    out
}

/// A ConfigMap or Secret key.
pub fn config_key(s: &str) -> Vec<String> {
    let mut out: Vec<String> = max_len(s, 253).into_iter().collect();
    if !RE_CONFIG_KEY.is_match(s) {
        out.push(format!("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')"));
    }
    if s == "." || s == ".." {
        out.push(format!("must not be '{s}'"));
    } else if s.starts_with("..") {
        out.push("must not start with '..'".into());
    }
    out
}

/// An IANA service name (port names).
pub fn port_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 15 {
        out.push("must be no more than 15 characters".into());
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if s.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        out.push("must contain at least one letter (a-z)".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

/// An environment variable name (any printable ASCII but `=`, since 1.30).
pub fn env_var_name(s: &str) -> Vec<String> {
    if s.is_empty() || !s.chars().all(|c| (' '..='~').contains(&c) && c != '=') {
        return vec!["a valid environment variable name must consist only of printable ASCII characters other than '='".into()];
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(dns1123_subdomain("web.example").is_empty());
        assert!(!dns1123_subdomain("Web").is_empty());
        assert!(dns1123_label("a.b").len() == 1);
        assert!(!dns1035_label("1web").is_empty());
        assert!(path_segment("system:metrics-server").is_empty());
        assert_eq!(path_segment("a/b"), vec!["may not contain '/'"]);
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!qualified_name("-bad").is_empty());
        assert!(label_value("").is_empty() && !label_value("a b").is_empty());
        assert!(config_key("tls.crt").is_empty() && !config_key("a/b").is_empty());
        assert!(port_name("http-web").is_empty());
        assert_eq!(port_name("80").len(), 1);
        assert!(env_var_name("MY_VAR").is_empty() && !env_var_name("A=B").is_empty());
    }
}

//! Redaction of secret values in text meant for people.

/// Replaces every occurrence of every non-empty secret with `***`. Longer secrets are
/// replaced first, so a secret containing another is hidden whole.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for secret in sorted {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_all_secrets_longest_first() {
        let s = vec!["abc".to_string(), "abcdef".to_string(), String::new()];
        assert_eq!(redact("x abcdef y abc", &s), "x *** y ***");
        assert_eq!(redact("nothing", &s), "nothing");
    }
}

//! `secret_output` on tool calls (`run`, `c.istioctl`, `c.helm`, ...): the tool's stdout
//! carries a secret (a bootstrap token, a generated password). It is captured without being
//! streamed, what is secret in it is registered with the run's redactor, and it is returned to
//! the script as usual.

use super::convert::{fail, fail_with_help, Opts, RhaiResult};
use crate::session::Session;

/// `secret_output`: the tool's stdout carries a secret. It is not streamed; each non-empty
/// line (`true`), or each capture of a pattern (a regex; its groups, or the whole match
/// without groups), is registered as a secret before anything else is shown.
pub(super) enum SecretOutput {
    Lines,
    Pattern(regex::Regex),
}

impl SecretOutput {
    pub(super) fn from_opts(o: &Opts, program: &str) -> RhaiResult<Option<SecretOutput>> {
        let Some(v) = o.raw("secret_output") else {
            return Ok(None);
        };
        if let Some(b) = v.clone().try_cast::<bool>() {
            return Ok(b.then_some(SecretOutput::Lines));
        }
        if v.is_string() {
            let pattern = v.to_string();
            return regex::Regex::new(&pattern)
                .map(|re| Some(SecretOutput::Pattern(re)))
                .map_err(|e| {
                    fail(format!(
                        "{program}: `secret_output` pattern `{pattern}` is not a valid regex: {e}"
                    ))
                });
        }
        Err(fail(format!(
            "{program}: `secret_output` is `true` or a regex whose captures are the secret, not {}",
            v.type_name()
        )))
    }

    /// Registers the secrets found in `stdout`. Lines of punctuation only (`{`, `---`) are
    /// structure, not secrets; any other value too short to be masked safely is refused.
    pub(super) fn register(&self, s: &Session, stdout: &str, label: &str) -> RhaiResult<()> {
        let too_short = |what: String, e: crate::report::redact::TooShort| {
            fail_with_help(
                format!("{label}: {what} of the secret output is {e}; the output was not printed"),
                "give `secret_output` a regex that captures just the secret, e.g. `#{secret_output: \"token: (\\S+)\"}`",
            )
        };
        match self {
            SecretOutput::Lines => {
                for (i, line) in stdout.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || !line.chars().any(char::is_alphanumeric) {
                        continue;
                    }
                    s.add_secret(line)
                        .map_err(|e| too_short(format!("line {}", i + 1), e))?;
                }
                Ok(())
            }
            SecretOutput::Pattern(re) => {
                let mut found = 0;
                for caps in re.captures_iter(stdout) {
                    let groups: Vec<regex::Match> = if caps.len() > 1 {
                        (1..caps.len()).filter_map(|i| caps.get(i)).collect()
                    } else {
                        caps.get(0).into_iter().collect()
                    };
                    for m in groups.iter().filter(|m| !m.as_str().trim().is_empty()) {
                        s.add_secret(m.as_str())
                            .map_err(|e| too_short("a capture".into(), e))?;
                        found += 1;
                    }
                }
                if found == 0 {
                    return Err(fail_with_help(
                        format!("{label}: the `secret_output` pattern `{re}` matched nothing in the output (which was not printed)"),
                        "the pattern's captures are what is secret: compare it with what the tool prints (in the REPL, the same call without `secret_output`)",
                    ));
                }
                Ok(())
            }
        }
    }
}

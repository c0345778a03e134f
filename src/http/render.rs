//! Text for people: one line when a check passes, the evidence when it fails.

use super::response::format_duration;
use super::{CheckOutcome, Response};

/// Body lines shown in a failure.
pub const BODY_LINES: usize = 10;
const LINE_CHARS: usize = 200;

/// One line for any outcome: `passed after 3 attempts in 1.2s`, `failed after ...`, `skipped: ...`.
#[must_use]
pub fn summary(outcome: &CheckOutcome) -> String {
    match outcome {
        CheckOutcome::Passed {
            attempts,
            elapsed,
            simulated,
        } => {
            format!(
                "passed{} after {} in {}",
                if simulated.is_some() {
                    " (simulated)"
                } else {
                    ""
                },
                plural(*attempts, "attempt"),
                format_duration(*elapsed)
            )
        }
        CheckOutcome::Failed {
            attempts, elapsed, ..
        } => {
            format!(
                "failed after {} in {}",
                plural(*attempts, "attempt"),
                format_duration(*elapsed)
            )
        }
        CheckOutcome::Skipped { reason } => format!("skipped: {reason}"),
    }
}

/// The evidence of a failed check: what did not hold, the attempts, and the last response.
/// For other outcomes, the same as [`summary`].
#[must_use]
pub fn render_outcome(outcome: &CheckOutcome) -> String {
    let CheckOutcome::Failed { last, unmet, .. } = outcome else {
        return summary(outcome);
    };
    let mut out = format!("{}:\n", summary(outcome));
    for u in unmet {
        out.push_str(&format!("  - {u}\n"));
    }
    out.push_str(&render_response(last));
    if !last.trace.is_empty() {
        out.push_str("why (simulated data plane):\n");
        for line in &last.trace {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// The status, the headers that matter and the first lines of the body of a response.
#[must_use]
pub fn render_response(r: &Response) -> String {
    if let Some(why) = &r.skipped {
        return format!("last response: none (simulated target not answered: {why})\n");
    }
    if !r.answered() {
        let why = r.error.as_deref().unwrap_or("no response");
        return format!(
            "last response: none after {}: {why}\n",
            format_duration(r.elapsed())
        );
    }
    let from = r
        .remote
        .as_deref()
        .map(|a| format!(" from {a}"))
        .unwrap_or_default();
    let mut out = format!(
        "last response: {} in {}{from}{}\n",
        r.status,
        format_duration(r.elapsed()),
        if r.simulated { " (simulated)" } else { "" }
    );
    for (name, value) in r.headers.iter().filter(|(name, _)| header_matters(name)) {
        out.push_str(&format!("  {name}: {}\n", clip(value)));
    }
    let lines: Vec<&str> = r.body.lines().collect();
    if lines.is_empty() {
        out.push_str("body: empty\n");
        return out;
    }
    if lines.len() > BODY_LINES {
        out.push_str(&format!(
            "body (first {BODY_LINES} of {} lines):\n",
            lines.len()
        ));
    } else {
        out.push_str("body:\n");
    }
    for line in lines.iter().take(BODY_LINES) {
        out.push_str(&format!("  | {}\n", clip(line)));
    }
    out
}

fn header_matters(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "content-type" | "server" | "location" | "www-authenticate"
    ) || name.starts_with("x-envoy-")
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(LINE_CHARS) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn failure_shows_unmet_status_headers_and_first_lines() {
        let body: String = (1..=25).map(|i| format!("line {i}\n")).collect();
        let outcome = CheckOutcome::Failed {
            attempts: 12,
            elapsed: Duration::from_millis(60_400),
            last: Response {
                status: 503,
                body,
                headers: vec![
                    ("content-type".into(), "text/plain".into()),
                    ("set-cookie".into(), "session=secret".into()),
                    ("Server".into(), "envoy".into()),
                    ("x-envoy-upstream-service-time".into(), "3".into()),
                ],
                elapsed_ms: 4,
                remote: Some("127.0.0.1:8080".into()),
                ..Response::default()
            },
            unmet: vec!["status: expected 200, got 503".into()],
        };
        let text = render_outcome(&outcome);
        let expected = "failed after 12 attempts in 1m0s:\n  - status: expected 200, got 503\n\
                        last response: 503 in 4ms from 127.0.0.1:8080\n  content-type: text/plain\n  Server: envoy\n  \
                        x-envoy-upstream-service-time: 3\nbody (first 10 of 25 lines):\n";
        assert!(text.starts_with(expected), "{text}");
        assert!(
            text.contains("  | line 10\n") && !text.contains("line 11"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn no_response_and_other_outcomes() {
        let last = Response::failed(
            "could not connect: connection refused",
            Duration::from_millis(2),
        );
        assert_eq!(
            render_response(&last),
            "last response: none after 2ms: could not connect: connection refused\n"
        );
        assert_eq!(
            summary(&CheckOutcome::Passed {
                attempts: 1,
                elapsed: Duration::from_millis(30),
                simulated: None,
            }),
            "passed after 1 attempt in 30ms"
        );
        assert_eq!(
            summary(&CheckOutcome::Passed {
                attempts: 2,
                elapsed: Duration::from_millis(30),
                simulated: Some(vec!["served by c1/app".into()]),
            }),
            "passed (simulated) after 2 attempts in 30ms"
        );
        assert_eq!(
            summary(&CheckOutcome::Skipped {
                reason: "simulated".into()
            }),
            "skipped: simulated"
        );
        let long = Response {
            status: 200,
            body: "x".repeat(500),
            ..Response::default()
        };
        assert!(render_response(&long).contains(&format!("  | {}...\n", "x".repeat(200))));
        assert!(render_response(&Response {
            status: 204,
            ..Response::default()
        })
        .ends_with("body: empty\n"));
    }
}

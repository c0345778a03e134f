//! What came back from one request, or why nothing did.

use std::time::Duration;

/// The outcome of one request. A connection failure is a response with status 0 and an
/// `error`, never a Rust error, so scripts can check for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status; 0 when no response arrived (or the request was not sent: `simulated`).
    pub status: u16,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// Response headers in order received, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// Time from sending to the end of the body (or to the failure).
    pub elapsed_ms: u64,
    /// The address the response came from (`ip:port`), when known.
    pub remote: Option<String>,
    /// Why no response arrived: `could not connect: ...`, `timed out after 10s`, ...
    pub error: Option<String>,
    /// Answered by the simulated data plane, from the simulated clusters' objects: nothing
    /// went over a real network.
    pub simulated: bool,
    /// Why the simulated data plane answered as it did (route, policy, endpoint), one line
    /// per hop; empty for real responses.
    pub trace: Vec<String>,
    /// The simulated data plane could not say what would happen (no behaviour model for an
    /// image): a check that gets this is skipped, never passed.
    pub skipped: Option<String>,
}

impl Response {
    /// A request that produced no response.
    #[must_use]
    pub fn failed(error: impl Into<String>, elapsed: Duration) -> Response {
        Response {
            error: Some(error.into()),
            elapsed_ms: millis(elapsed),
            ..Response::default()
        }
    }

    /// A request to a simulated target that the simulated data plane could not answer.
    #[must_use]
    pub fn unanswered(reason: impl Into<String>) -> Response {
        Response {
            simulated: true,
            skipped: Some(reason.into()),
            ..Response::default()
        }
    }

    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The elapsed time as a duration.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms)
    }

    /// True when a response (of any status) arrived.
    #[must_use]
    pub fn answered(&self) -> bool {
        self.status != 0
    }
}

/// Milliseconds of a duration, saturating.
#[must_use]
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A short human form of a duration: `850ms`, `1.5s`, `2m5s`.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let ms = millis(d);
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = format!("{:.1}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches(".0"))
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m5s");
    }

    #[test]
    fn headers_are_case_insensitive() {
        let r = Response {
            headers: vec![
                ("set-cookie".into(), "a".into()),
                ("Set-Cookie".into(), "b".into()),
            ],
            ..Response::default()
        };
        assert_eq!(r.header("SET-COOKIE"), Some("a"));
        assert_eq!(
            r.header_values("set-cookie").collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(!r.answered());
    }
}

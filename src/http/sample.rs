//! `sample`: many requests, counted by a key, to see how traffic spreads (versions, clusters).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::client::{build_client, send, simulated_target, SimulatedTargets};
use super::{RequestOptions, Response};

/// The key of responses that failed (no response; or, for a regex key, a status outside 2xx/3xx).
pub const ERROR_KEY: &str = "error";
/// The key of answered responses whose body the regex does not match.
pub const UNMATCHED_KEY: &str = "unmatched";

/// How a response is turned into the key it is counted under.
pub enum KeyFn {
    /// The first capture group of the first match in the body, or the whole match when the
    /// regex has no group.
    Regex(regex::Regex),
    /// A function of the response (a script closure). Only answered responses reach it.
    Closure(Box<dyn Fn(&Response) -> String + Send + Sync>),
    /// The status code (`"200"`, `"503"`).
    Status,
}

impl std::fmt::Debug for KeyFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyFn::Regex(r) => write!(f, "Regex(/{}/)", r.as_str()),
            KeyFn::Closure(_) => f.write_str("Closure"),
            KeyFn::Status => f.write_str("Status"),
        }
    }
}

/// The most requests `sample` sends at once.
pub const MAX_CONCURRENCY: u32 = 64;

/// The number of requests in flight for a `concurrency` option: 1 unless given, at most
/// [`MAX_CONCURRENCY`].
pub fn concurrency(requested: Option<i64>) -> u32 {
    requested.unwrap_or(1).clamp(1, i64::from(MAX_CONCURRENCY)) as u32
}

impl KeyFn {
    /// A key regex as a script writes it: `"/v(\\d)/"` or the bare pattern.
    pub fn regex(text: &str) -> Result<KeyFn, regex::Error> {
        let pattern = text
            .strip_prefix('/')
            .and_then(|t| t.strip_suffix('/'))
            .unwrap_or(text);
        regex::Regex::new(pattern).map(KeyFn::Regex)
    }

    /// The key `response` is counted under.
    #[must_use]
    pub fn key(&self, response: &Response) -> String {
        if !response.answered() {
            return ERROR_KEY.to_string();
        }
        match self {
            KeyFn::Status => response.status.to_string(),
            KeyFn::Closure(f) => f(response),
            KeyFn::Regex(_) if !(200..400).contains(&response.status) => ERROR_KEY.to_string(),
            KeyFn::Regex(re) => match re.captures(&response.body) {
                Some(c) => c
                    .get(1)
                    .or_else(|| c.get(0))
                    .map_or(UNMATCHED_KEY, |m| m.as_str())
                    .to_string(),
                None => UNMATCHED_KEY.to_string(),
            },
        }
    }
}

/// What `sample` saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleResult {
    /// Responses per key.
    pub counts: BTreeMap<String, u64>,
    /// Requests sent.
    pub total: u64,
    /// Distinct reasons for failures (at most 5), to explain the `error` count.
    pub errors: Vec<String>,
    /// Wall time of the whole sample.
    pub elapsed: Duration,
    /// Set when the simulated data plane could not answer (nothing was counted).
    pub skipped: Option<String>,
    /// Answered by the simulated data plane: the trace of the last request.
    pub simulated: Option<Vec<String>>,
}

impl SampleResult {
    /// The spread as one line, most frequent first: `reviews-v1: 34 (34%), reviews-v3: 33 (33%)`.
    #[must_use]
    pub fn spread(&self) -> String {
        if let Some(reason) = &self.skipped {
            return format!("skipped: {reason}");
        }
        let mut entries: Vec<(&String, &u64)> = self.counts.iter().collect();
        entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total = self.total.max(1);
        entries
            .iter()
            .map(|(k, n)| format!("{k}: {n} ({}%)", *n * 100 / total))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const MAX_ERRORS: usize = 5;

/// Sends `n` requests to `url`, at most `concurrency` at a time (at least 1), and counts them by
/// `key`. A target of a simulated cluster sends nothing and returns `skipped`.
pub async fn sample(
    url: &str,
    n: u32,
    concurrency: u32,
    opts: &RequestOptions,
    key: &KeyFn,
    sim: &dyn SimulatedTargets,
) -> SampleResult {
    let start = Instant::now();
    let mut result = SampleResult {
        total: u64::from(n),
        ..SampleResult::default()
    };
    if simulated_target(url, opts, sim).is_some() {
        // One after another: the simulated data plane's round robin decides the spread.
        for _ in 0..n {
            let response = sim.answer(url, opts).await;
            if let Some(reason) = response.skipped {
                return SampleResult {
                    skipped: Some(reason),
                    ..SampleResult::default()
                };
            }
            *result.counts.entry(key.key(&response)).or_default() += 1;
            if let Some(error) = &response.error {
                if result.errors.len() < MAX_ERRORS && !result.errors.contains(error) {
                    result.errors.push(error.clone());
                }
            }
            result.simulated = Some(response.trace);
        }
        result.elapsed = start.elapsed();
        return result;
    }
    let client = match build_client(url, opts) {
        Ok(client) => client,
        Err(error) => {
            result.counts.insert(ERROR_KEY.to_string(), u64::from(n));
            result.errors.push(error.to_string());
            return result;
        }
    };
    let width = usize::try_from(concurrency.max(1)).unwrap_or(1);
    let mut responses = stream::iter(0..n)
        .map(|_| send(&client, url, opts))
        .buffer_unordered(width);
    while let Some(response) = responses.next().await {
        *result.counts.entry(key.key(&response)).or_default() += 1;
        if let Some(error) = response.error {
            if result.errors.len() < MAX_ERRORS && !result.errors.contains(&error) {
                result.errors.push(error);
            }
        }
    }
    result.elapsed = start.elapsed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_regexes_may_be_slashed_and_concurrency_is_bounded() {
        let KeyFn::Regex(r) = KeyFn::regex("/v(\\d)/").unwrap() else {
            panic!("not a regex")
        };
        assert_eq!(r.as_str(), "v(\\d)");
        let KeyFn::Regex(r) = KeyFn::regex("reviews-v[0-9]").unwrap() else {
            panic!("not a regex")
        };
        assert_eq!(r.as_str(), "reviews-v[0-9]");
        assert!(KeyFn::regex("/(/").is_err());
        assert_eq!(concurrency(None), 1);
        assert_eq!(concurrency(Some(0)), 1);
        assert_eq!(concurrency(Some(8)), 8);
        assert_eq!(concurrency(Some(10_000)), MAX_CONCURRENCY);
    }

    fn page(status: u16, body: &str) -> Response {
        Response {
            status,
            body: body.into(),
            ..Response::default()
        }
    }

    #[test]
    fn regex_keys_use_the_first_group_or_the_match() {
        let group = KeyFn::Regex(regex::Regex::new(r"reviews-(v\d)").unwrap());
        let whole = KeyFn::Regex(regex::Regex::new(r"reviews-v\d").unwrap());
        assert_eq!(
            group.key(&page(200, "<p>reviews-v2 and reviews-v3</p>")),
            "v2"
        );
        assert_eq!(whole.key(&page(200, "<p>reviews-v3</p>")), "reviews-v3");
        assert_eq!(whole.key(&page(200, "nothing")), UNMATCHED_KEY);
        assert_eq!(whole.key(&page(503, "reviews-v1 upstream")), ERROR_KEY);
        assert_eq!(
            whole.key(&Response::failed("refused", Duration::ZERO)),
            ERROR_KEY
        );
    }

    #[test]
    fn status_and_closure_keys() {
        assert_eq!(KeyFn::Status.key(&page(503, "")), "503");
        let cluster = KeyFn::Closure(Box::new(|r: &Response| {
            r.header("x-cluster").unwrap_or("?").to_string()
        }));
        let r = Response {
            headers: vec![("x-cluster".into(), "cluster2".into())],
            ..page(200, "")
        };
        assert_eq!(cluster.key(&r), "cluster2");
        assert_eq!(
            cluster.key(&Response::failed("timed out", Duration::ZERO)),
            ERROR_KEY
        );
        assert_eq!(format!("{cluster:?}"), "Closure");
    }

    #[test]
    fn spread_lists_most_frequent_first() {
        let result = SampleResult {
            counts: [
                ("v1".to_string(), 2),
                ("v3".to_string(), 5),
                ("v2".to_string(), 5),
            ]
            .into_iter()
            .collect(),
            total: 12,
            ..SampleResult::default()
        };
        assert_eq!(result.spread(), "v2: 5 (41%), v3: 5 (41%), v1: 2 (16%)");
    }
}

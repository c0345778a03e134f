//! Faults and latency on demand (`--sim-faults RATE`, `--sim-latency 20ms`): every request waits
//! the given round trip, and a seeded, deterministic share of them fails as a loaded or
//! flaky API server's do: 429 with Retry-After, 500, 503, a dropped connection, and for
//! watches a cut stream or a 410 Gone. A fault is decided before the request is handled, so a
//! failed write never happened and retrying it creates nothing twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use serde_json::json;

/// What to inject.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultOptions {
    /// Share of requests that fail (0.0 to 1.0).
    pub rate: f64,
    /// Added to every request (a remote cluster's round trip).
    pub latency: Duration,
    /// Seed of the fault sequence.
    pub seed: u64,
}

static FOR_RUNS: RwLock<Option<FaultOptions>> = RwLock::new(None);

impl FaultOptions {
    /// Sets the faults of the simulated clusters this process starts (`run --sim-faults`).
    pub fn set_for_runs(f: FaultOptions) {
        *FOR_RUNS.write().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// The faults set for runs, else `MESHBOOK_SIM_FAULTS` / `MESHBOOK_SIM_LATENCY`, else none.
    pub fn for_runs() -> FaultOptions {
        if let Some(f) = FOR_RUNS.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return f;
        }
        FaultOptions {
            rate: std::env::var("MESHBOOK_SIM_FAULTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0),
            latency: std::env::var("MESHBOOK_SIM_LATENCY")
                .ok()
                .and_then(|v| parse_duration(&v).ok())
                .unwrap_or_default(),
            seed: 1,
        }
    }
}

/// A `--fault-*` / `--latency` option value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultOptionError {
    #[error("`{0}` is not a duration (use e.g. 20ms or 1s)")]
    NotADuration(String),
    #[error("`{0}` has an unknown unit (use ms, s or us)")]
    UnknownUnit(String),
    #[error("`{0}` is not a fault rate between 0 and 1 (e.g. 0.1)")]
    NotARate(String),
}

/// `20ms`, `1s`, `0.5s`, `150us`.
pub fn parse_duration(s: &str) -> Result<Duration, FaultOptionError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| FaultOptionError::NotADuration(s.to_string()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "us" | "µs" => n / 1_000_000.0,
        "m" => n * 60.0,
        _ => return Err(FaultOptionError::UnknownUnit(s.to_string())),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// A rate between 0 and 1.
pub fn parse_rate(s: &str) -> Result<f64, FaultOptionError> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(FaultOptionError::NotARate(s.to_string())),
    }
}

/// One injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    Internal,
    Unavailable,
    Dropped,
    WatchCut,
    WatchGone,
}

/// The fault sequence of one cluster.
#[derive(Debug, Default)]
pub struct FaultPlan {
    opts: FaultOptions,
    drawn: AtomicU64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl FaultPlan {
    pub fn new(opts: FaultOptions, cluster_index: usize) -> Self {
        let mut opts = opts;
        opts.seed = splitmix(opts.seed ^ (cluster_index as u64 + 1));
        FaultPlan {
            opts,
            drawn: AtomicU64::new(0),
        }
    }

    pub fn latency(&self) -> Duration {
        self.opts.latency
    }

    /// The next draw: `None` (most requests) or the fault to inject.
    pub fn draw(&self, watch: bool) -> Option<Fault> {
        if self.opts.rate <= 0.0 {
            return None;
        }
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        let x = splitmix(self.opts.seed.wrapping_add(n));
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= self.opts.rate {
            return None;
        }
        let kind = splitmix(x) % 8;
        Some(if watch {
            if kind % 2 == 0 {
                Fault::WatchCut
            } else {
                Fault::WatchGone
            }
        } else {
            match kind {
                0 => Fault::TooManyRequests,
                1..=3 => Fault::Internal,
                4..=5 => Fault::Unavailable,
                _ => Fault::Dropped,
            }
        })
    }
}

fn status(code: u16, reason: &str, message: &str, retry_after: bool) -> Response {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    if retry_after {
        s["details"] = json!({"retryAfterSeconds": 1});
    }
    let mut b = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    if code == 429 || code >= 500 {
        // client-go retries 429 and 5xx answers that carry Retry-After
        b = b.header("retry-after", "1");
    }
    b.body(Body::from(s.to_string())).unwrap_or_default()
}

/// The response of a fault.
pub fn respond(f: Fault) -> Response {
    match f {
        Fault::TooManyRequests => status(
            429,
            "TooManyRequests",
            "Too many requests, please try again later. (simulated fault: --sim-faults)",
            true,
        ),
        Fault::Internal => status(
            500,
            "InternalError",
            "Internal error occurred: simulated fault (--sim-faults)",
            false,
        ),
        Fault::Unavailable => status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request (simulated fault: --sim-faults)",
            false,
        ),
        Fault::Dropped => {
            // the connection breaks before an answer: the body errors at once
            let stream = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated fault: connection dropped (--sim-faults)",
                ))
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
        Fault::WatchCut => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::empty())
            .unwrap_or_default(),
        Fault::WatchGone => {
            let ev = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": "too old resource version (simulated fault: --sim-faults)",
                "reason": "Expired", "code": 410}});
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from(format!("{ev}\n")))
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_near_the_rate() {
        let opts = FaultOptions {
            rate: 0.1,
            latency: Duration::ZERO,
            seed: 7,
        };
        let a = FaultPlan::new(opts.clone(), 0);
        let b = FaultPlan::new(opts, 0);
        let da: Vec<_> = (0..1000).map(|_| a.draw(false)).collect();
        let db: Vec<_> = (0..1000).map(|_| b.draw(false)).collect();
        assert_eq!(da, db);
        let n = da.iter().filter(|d| d.is_some()).count();
        assert!((60..140).contains(&n), "{n}");
        assert!(FaultPlan::default().draw(false).is_none());
    }

    #[test]
    fn parses_durations_and_rates() {
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_rate("0.1"), Ok(0.1));
        assert!(parse_rate("2").is_err());
    }
}

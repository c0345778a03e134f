//! Retrying transient API failures.
//!
//! Every write meshbook sends is idempotent (server-side apply, merge and strategic patches,
//! delete with "absent is fine"), so sending it again after a 429, a 5xx or a broken
//! connection never duplicates a side effect. Permanent failures (other 4xx) are returned at
//! once.

use std::future::Future;
use std::time::Duration;

/// How many times a request is sent at most.
const ATTEMPTS: u32 = 6;
/// First backoff; doubles each time up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest backoff between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Longest server-requested `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether an error is worth another try, and after how long (`None`: permanent).
pub fn transient_delay(err: &kube::Error, attempt: u32) -> Option<Duration> {
    let backoff = FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(attempt))
        .min(MAX_DELAY);
    match err {
        kube::Error::Api(status) => match status.code {
            429 => {
                let asked = status
                    .details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s)).min(MAX_RETRY_AFTER));
                Some(asked.unwrap_or(backoff))
            }
            // a server-side apply body that does not fit the schema: a 500, but permanent
            500 if status
                .message
                .starts_with("failed to create typed patch object") =>
            {
                None
            }
            500 | 502 | 503 | 504 => Some(backoff),
            _ => None,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Some(backoff)
        }
        _ => None,
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
pub async fn retrying<T, F, Fut>(mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                attempt += 1;
                match transient_delay(&e, attempt - 1) {
                    Some(delay) if attempt < ATTEMPTS => {
                        tracing::debug!(
                            "transient api failure (attempt {attempt}): {e}; retrying in {delay:?}"
                        );
                        tokio::time::sleep(delay).await;
                    }
                    _ => return Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::StatusDetails;
    use kube::core::Status;

    fn api(code: u16, retry_after: u32) -> kube::Error {
        let mut s = Status::failure("x", "y").with_code(code);
        if retry_after > 0 {
            let details: StatusDetails =
                serde_json::from_value(serde_json::json!({ "retryAfterSeconds": retry_after }))
                    .unwrap();
            s = s.with_details(details);
        }
        kube::Error::Api(s.boxed())
    }

    #[test]
    fn transient_and_permanent_failures() {
        assert_eq!(
            transient_delay(&api(429, 2), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(transient_delay(&api(429, 0), 0), Some(FIRST_DELAY));
        assert_eq!(
            transient_delay(&api(503, 0), 3),
            Some(Duration::from_millis(800))
        );
        assert_eq!(transient_delay(&api(500, 0), 20), Some(MAX_DELAY));
        for code in [400, 403, 404, 409, 422] {
            assert_eq!(transient_delay(&api(code, 0), 0), None, "{code}");
        }
    }

    #[tokio::test]
    async fn retries_until_success_without_resending_after_it() {
        let mut calls = 0;
        let out = retrying(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(api(503, 0))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((out, calls), (3, 3));
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let mut calls = 0;
        let out: Result<(), _> = retrying(|| {
            calls += 1;
            async { Err(api(422, 0)) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }
}

//! `expect_http`: retry a request with backoff until its expectations hold, or give up with
//! the last response as evidence.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::client::{build_client, send, simulated_target, SimulatedTargets};
use super::expectations::evaluate;
use super::{Expectations, RequestOptions, Response};

/// The first pause between attempts; it grows by half after each failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(150);
/// The longest pause between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a check answered by the simulated data plane keeps retrying, whatever its
/// `within`: simulated controllers converge in milliseconds, so an answer still wrong after
/// this is wrong for good (and a rehearsal of a broken route fails in seconds, not minutes).
pub const SIMULATED_PATIENCE: Duration = Duration::from_secs(3);
/// Attempts a simulated check gets beyond its `consecutive`, however long they take.
pub const SIMULATED_MIN_ATTEMPTS: u32 = 10;
/// The pause between attempts answered by the simulated data plane.
pub const SIMULATED_RETRY: Duration = Duration::from_millis(20);

/// One attempt, as reported to the caller's progress callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// What came back.
    pub response: Response,
    /// What did not hold (empty when the attempt passed).
    pub unmet: Vec<String>,
    /// Passing attempts in a row so far, this one included.
    pub streak: u32,
    /// Time since the check started.
    pub elapsed: Duration,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// All expectations held `consecutive` times in a row.
    Passed {
        /// Attempts made.
        attempts: u32,
        /// Time from the first attempt to the passing one.
        elapsed: Duration,
        /// The simulated data plane answered (the passing response's trace), not a real one.
        simulated: Option<Vec<String>>,
    },
    /// `within` elapsed first.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last response, as evidence.
        last: Response,
        /// What did not hold in the last attempt.
        unmet: Vec<String>,
    },
    /// Nothing was answered: the target belongs to a simulated cluster that cannot say.
    Skipped {
        /// Why, for the report.
        reason: String,
    },
}

impl CheckOutcome {
    /// True for [`CheckOutcome::Passed`].
    #[must_use]
    pub fn passed(&self) -> bool {
        matches!(self, CheckOutcome::Passed { .. })
    }
}

/// The retry core shared by `expect_http` and the in-pod `expect_http_from`: calls `fetch`
/// until the expectations hold `consecutive` times in a row, or `within` has elapsed since the
/// start (an attempt is always started at the deadline, so a check never fails early).
/// A simulated response that could not be answered (`skipped`) ends the check as skipped; a
/// simulated answer is evaluated like any other, retried for at most [`SIMULATED_PATIENCE`].
pub async fn expect_http_with<F, Fut>(
    mut fetch: F,
    expected: &Expectations,
    mut on_attempt: impl FnMut(&Attempt),
) -> CheckOutcome
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Response>,
{
    let start = Instant::now();
    let deadline = start + expected.within;
    let needed = expected.consecutive.max(1);
    let (mut attempts, mut streak, mut backoff) = (0u32, 0u32, FIRST_BACKOFF);
    // The latest attempt that did not hold: the evidence when a series breaks.
    let mut last_failed: Option<(Response, Vec<String>)> = None;
    loop {
        let response = fetch().await;
        attempts += 1;
        if let Some(reason) = &response.skipped {
            return CheckOutcome::Skipped {
                reason: reason.clone(),
            };
        }
        // A simulated answer is retried for SIMULATED_PATIENCE, and at least long enough for
        // `consecutive` more attempts (answers from a remote `sim serve` take round trips).
        let deadline = if response.simulated && attempts > needed + SIMULATED_MIN_ATTEMPTS {
            deadline.min(start + SIMULATED_PATIENCE)
        } else {
            deadline
        };
        let unmet = evaluate(&response, expected);
        streak = if unmet.is_empty() { streak + 1 } else { 0 };
        let elapsed = start.elapsed();
        let attempt = Attempt {
            number: attempts,
            response,
            unmet,
            streak,
            elapsed,
        };
        on_attempt(&attempt);
        if !attempt.unmet.is_empty() {
            last_failed = Some((attempt.response.clone(), attempt.unmet.clone()));
        }
        if streak >= needed {
            let simulated = attempt
                .response
                .simulated
                .then(|| attempt.response.trace.clone());
            return CheckOutcome::Passed {
                attempts,
                elapsed,
                simulated,
            };
        }
        let now = Instant::now();
        if now >= deadline {
            let Attempt {
                response,
                mut unmet,
                ..
            } = attempt;
            let mut last = response;
            if unmet.is_empty() {
                unmet.push(format!(
                    "passed {streak} time(s) in a row, {needed} required"
                ));
                // Show why the series broke: the latest attempt that did not hold.
                if let Some((failed, why)) = last_failed.take() {
                    unmet.extend(
                        why.into_iter()
                            .map(|w| format!("the last failing attempt: {w}")),
                    );
                    last = failed;
                }
            }
            return CheckOutcome::Failed {
                attempts,
                elapsed,
                last,
                unmet,
            };
        }
        let pause = if streak > 0 && attempt.response.simulated {
            // A simulated answer needs no time to change: the next of a series at once.
            Duration::ZERO
        } else if attempt.response.simulated {
            // Simulated controllers react within milliseconds, and the next turn of a round
            // robin may already answer differently: no need to back off.
            SIMULATED_RETRY
        } else if streak > 0 {
            backoff = FIRST_BACKOFF;
            FIRST_BACKOFF
        } else {
            let pause = backoff;
            backoff = (backoff * 3 / 2).min(MAX_BACKOFF);
            pause
        };
        tokio::time::sleep(pause.min(deadline - now)).await;
    }
}

/// The options of one attempt of a check: the request timeout is capped at `within`, so a
/// single hung attempt cannot hold a check far past its deadline. `expect_http_from` should
/// build its curl argv from these too.
#[must_use]
pub fn attempt_options(opts: &RequestOptions, expected: &Expectations) -> RequestOptions {
    let mut opts = opts.clone();
    if !expected.within.is_zero() {
        opts.timeout = opts.timeout.min(expected.within);
    }
    opts
}

/// Requests `url` until `expected` holds (see [`expect_http_with`]). A target of a simulated
/// cluster is skipped with the reason. One attempt never waits longer than `within`.
pub async fn expect_http(
    url: &str,
    opts: &RequestOptions,
    expected: &Expectations,
    sim: &dyn SimulatedTargets,
    on_attempt: impl FnMut(&Attempt),
) -> CheckOutcome {
    let opts = attempt_options(opts, expected);
    if simulated_target(url, &opts, sim).is_some() {
        return expect_http_with(|| sim.answer(url, &opts), expected, on_attempt).await;
    }
    let client = match build_client(url, &opts) {
        Ok(client) => client,
        Err(error) => {
            let error = error.to_string();
            return CheckOutcome::Failed {
                attempts: 0,
                elapsed: Duration::ZERO,
                unmet: vec![error.clone()],
                last: Response::failed(error, Duration::ZERO),
            };
        }
    };
    expect_http_with(|| send(&client, url, &opts), expected, on_attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn status(code: u16) -> Response {
        Response {
            status: code,
            body: format!("code {code}"),
            ..Response::default()
        }
    }

    fn within(secs: u64) -> Expectations {
        Expectations {
            status: vec![200],
            within: Duration::from_secs(secs),
            ..Expectations::default()
        }
    }

    #[tokio::test]
    async fn passes_once_the_target_answers() {
        let calls = AtomicU32::new(0);
        let fetch = || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                status(503)
            } else {
                status(200)
            }
        };
        let mut seen = Vec::new();
        let outcome = expect_http_with(fetch, &within(60), |a| {
            seen.push((a.number, a.response.status))
        })
        .await;
        assert!(
            matches!(outcome, CheckOutcome::Passed { attempts: 4, .. }),
            "{outcome:?}"
        );
        assert_eq!(seen, [(1, 503), (2, 503), (3, 503), (4, 200)]);
    }

    #[tokio::test]
    async fn fails_only_at_within_with_the_last_response() {
        let start = Instant::now();
        let outcome = expect_http_with(|| async { status(503) }, &within(1), |_| {}).await;
        let CheckOutcome::Failed {
            attempts,
            elapsed,
            last,
            unmet,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert!(elapsed >= Duration::from_secs(1) && start.elapsed() >= Duration::from_secs(1));
        // Pauses of 150ms, 225ms, 338ms, then the rest up to the deadline: at most 5 attempts.
        assert!((2..=5).contains(&attempts), "{attempts}");
        assert_eq!(last.body, "code 503");
        assert_eq!(unmet, ["status: expected 200, got 503"]);
    }

    #[tokio::test]
    async fn consecutive_needs_an_unbroken_streak() {
        let script = [200, 200, 503, 200, 200, 200, 503];
        let calls = AtomicU32::new(0);
        let fetch = || async {
            status(script[calls.fetch_add(1, Ordering::SeqCst) as usize % script.len()])
        };
        let expected = Expectations {
            consecutive: 3,
            ..within(60)
        };
        let outcome = expect_http_with(fetch, &expected, |_| {}).await;
        assert!(
            matches!(outcome, CheckOutcome::Passed { attempts: 6, .. }),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn an_unfinished_streak_fails_with_its_count() {
        let calls = AtomicU32::new(0);
        let fetch = || async {
            if calls.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                status(200)
            } else {
                status(503)
            }
        };
        let expected = Expectations {
            consecutive: 2,
            ..within(1)
        };
        let outcome = expect_http_with(fetch, &expected, |_| {}).await;
        let CheckOutcome::Failed { unmet, .. } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            unmet[0] == "status: expected 200, got 503"
                || unmet[0] == "passed 1 time(s) in a row, 2 required",
            "{unmet:?}"
        );
    }

    #[tokio::test]
    async fn a_simulated_response_skips() {
        let outcome = expect_http_with(
            || async { Response::unanswered("no model") },
            &within(60),
            |_| {},
        )
        .await;
        assert!(
            matches!(outcome, CheckOutcome::Skipped { .. }),
            "{outcome:?}"
        );
    }
}

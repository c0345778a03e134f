//! HTTP checks: curl, expectations, sampling (Rhai-free core).
//!
//! | file | holds |
//! | --- | --- |
//! | `options.rs` | [`RequestOptions`], [`Resolve`] |
//! | `response.rs` | [`Response`] |
//! | `client.rs` | [`curl`], [`SimulatedTargets`] |
//! | `expectations.rs` | [`Expectations`], [`Matcher`], [`evaluate`] (pure) |
//! | `expect.rs` | [`expect_http`], [`expect_http_with`] (the retry core), [`CheckOutcome`] |
//! | `sample.rs` | [`sample`], [`KeyFn`], [`SampleResult`] |
//! | `curl_command.rs` | [`curl_argv`], [`parse_curl_output`]: curl inside a pod through exec |
//! | `render.rs` | [`summary`], [`render_outcome`]: text for people |
//! | `jsonpath.rs`, `jsonpath/` | [`jsonpath`] (values), [`jsonpath_text`] (kubectl's text output) |

mod client;
mod curl_command;
mod error;
mod expect;
mod expectations;
pub mod jsonpath;
mod options;
mod render;
mod response;
mod sample;

pub use client::{curl, simulated_reason, simulated_target, NoSimulatedTargets, SimulatedTargets};
pub use curl_command::{curl_argv, parse_curl_output, STATUS_MARKER};
pub use error::HttpError;
pub use expect::{
    attempt_options, expect_http, expect_http_with, Attempt, CheckOutcome, FIRST_BACKOFF,
    MAX_BACKOFF,
};
pub use expectations::{evaluate, Expectations, Matcher, DEFAULT_WITHIN};
pub use jsonpath::{jsonpath, jsonpath_text, JsonPathError};
pub use options::{host_and_port, RequestOptions, Resolve, DEFAULT_TIMEOUT};
pub use render::{render_outcome, render_response, summary, BODY_LINES};
pub use response::{format_duration, Response};
pub use sample::{
    concurrency as sample_concurrency, sample, KeyFn, SampleResult, ERROR_KEY, UNMATCHED_KEY,
};

//! External tools as argv processes (Rhai-free core): `helm`, `istioctl`, `meshctl`,
//! `vcluster` and anything else, run with the cluster's context, streamed, captured,
//! time-limited and redacted (with the run's one [`Redactor`](crate::report::Redactor)); and their simulated behaviour on simulated clusters, from rules
//! in `stdlib/sim/tools/`.
//!
//! | file | holds |
//! |---|---|
//! | `invocation.rs` | [`Invocation`], [`ToolOutput`], context flags and install hints |
//! | `process.rs` | [`run`]: the process runner |
//! | `helm.rs` | [`HelmInstall`], [`helm_install`], [`helm_uninstall`] |
//! | `doctor.rs` | [`doctor`], [`tools_used_by`] |
//! | `sim_call.rs` | [`SimCall`]: argv parsed for rules |
//! | `sim_rules.rs` | [`SimToolRules`]: the rule format |
//! | `sim_render.rs` | rendering a rule's templates |
//! | `simulated.rs` | [`match_simulated`], [`SimulatedEffect`], [`run_checks`] |
//! | `release_book.rs` | [`ReleaseBook`]: objects per simulated helm release |

mod doctor;
mod error;
mod helm;
mod invocation;
mod process;
mod release_book;
mod sim_call;
mod sim_render;
mod sim_rules;
mod simulated;

pub use doctor::{
    doctor, doctor_with_path, find_on_path, tools_used_by, tools_used_by_runbook, version_argv,
    ToolStatus,
};
pub use error::{SimYamlError, ToolError};
pub use helm::{
    check_set_values, go_duration, helm_install, helm_install_argv, helm_uninstall,
    helm_uninstall_argv, HelmInstall, HelmRepo, HelmValues,
};
pub use invocation::{
    context_flag, install_hint, is_cluster_cli, tool_name, Invocation, Stream, ToolCluster,
    ToolOutput, DEFAULT_TIMEOUT,
};
pub use process::{run, tail, STDERR_TAIL_LINES};
pub use release_book::{objects_in, ReleaseBook};
pub use sim_call::{BooleanFlags, SimCall};
pub use sim_rules::{ReleaseAction, SimRule, SimToolRules, RULES_DIR};
pub use simulated::{
    helm_install_simulated, match_simulated, run_checks, ObjectKey, ReleaseKey, SimApply, SimWorld,
    SimulatedEffect,
};

/// Runs `helm <argv>` with `base`'s cluster, env, timeout and secrets.
pub async fn helm(
    argv: &[String],
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    run(&base.with_argv("helm", argv.iter().cloned()), on_line).await
}

/// Runs `istioctl <argv>` (the context goes with `--context`).
pub async fn istioctl(
    argv: &[String],
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    run(&base.with_argv("istioctl", argv.iter().cloned()), on_line).await
}

/// Runs `meshctl <argv>` (the context goes with `--kubecontext`).
pub async fn meshctl(
    argv: &[String],
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    run(&base.with_argv("meshctl", argv.iter().cloned()), on_line).await
}

/// Runs `vcluster <argv>` (a cluster, when set, is the host: `--context`).
pub async fn vcluster(
    argv: &[String],
    base: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    run(&base.with_argv("vcluster", argv.iter().cloned()), on_line).await
}

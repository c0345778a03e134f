//! Structured events: everything observable in a run. Bindings emit them; the terminal view
//! and the report files consume them.

use serde::Serialize;

/// How a section, step or run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    /// Never started because an earlier section failed or the run was aborted.
    NotRun,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
        }
    }
}

/// The outcome of a check (an HTTP expectation, `expect`, a tool check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Answered by a real data plane (or a check with no traffic, such as `expect`).
    Passed,
    Failed,
    /// Nothing was sent or evaluated; never counted as passed.
    Skipped,
    /// Answered by the simulated data plane and its expectations held: "passed (simulated)",
    /// counted apart from `Passed`.
    Simulated,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Skipped => "skipped",
            CheckStatus::Simulated => "passed (simulated)",
        }
    }
}

/// What server-side apply did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    Created,
    Configured,
    Unchanged,
}

impl ApplyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

/// One observable thing that happened during a run.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        runbook: String,
        title: String,
        /// `simulated`, `none`, or the mapped contexts.
        target: String,
    },
    ClusterReady {
        cluster: String,
        context: Option<String>,
        server: String,
        version: String,
    },
    SectionStarted {
        title: String,
    },
    SectionFinished {
        title: String,
        status: Status,
        duration_ms: u64,
        error: Option<String>,
    },
    StepStarted {
        title: String,
    },
    StepFinished {
        title: String,
        status: Status,
        duration_ms: u64,
        error: Option<String>,
    },
    Say {
        text: String,
    },
    Notice {
        text: String,
    },
    Applied {
        cluster: String,
        kind: String,
        namespace: Option<String>,
        name: String,
        outcome: ApplyOutcome,
        dry_run: bool,
    },
    Deleted {
        cluster: String,
        kind: String,
        namespace: Option<String>,
        name: String,
        existed: bool,
    },
    /// Any other cluster operation: label, scale, set_env, exec, secret, ...
    Operation {
        cluster: String,
        verb: String,
        target: String,
        duration_ms: u64,
    },
    WaitSatisfied {
        cluster: String,
        what: String,
        elapsed_ms: u64,
    },
    Check {
        name: String,
        status: CheckStatus,
        evidence: String,
        /// Why the simulated data plane answered as it did (route, policy, endpoint), one
        /// line per hop; empty for checks against a real data plane.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        trace: Vec<String>,
    },
    ToolRun {
        cluster: Option<String>,
        program: String,
        argv: Vec<String>,
        code: i32,
        duration_ms: u64,
        simulated: bool,
    },
    ToolLine {
        label: String,
        line: String,
    },
    /// A person took over: a pause, a REPL session, a step-through decision.
    Intervention {
        kind: String,
        detail: String,
    },
    RunFinished {
        status: Status,
        duration_ms: u64,
    },
}

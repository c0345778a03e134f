//! Structured events: everything observable in a run. Bindings emit them; the terminal view
//! and the report files consume them.

use std::collections::BTreeMap;

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
    /// Ran without an error, but every check in it was skipped: nothing was verified, so it
    /// is not passed (and not failed). A section or step with no checks at all passes.
    Unverified,
    /// The run was ended by a person at a prompt (`q` at a step prompt): the sections after
    /// it did not run. Only a run ends so.
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotRun => "not run",
            Status::Unverified => "unverified",
            Status::Stopped => "stopped",
        }
    }

    /// How people read it: the status and, where one word is not enough, why.
    pub fn describe(self) -> &'static str {
        match self {
            Status::Unverified => "unverified (no check answered)",
            other => other.as_str(),
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
        /// The rendered error of a failed section; for a skipped one, why it was skipped
        /// (`--skip`, `not in --only`, `before --from`, `skipped at the prompt`).
        error: Option<String>,
    },
    /// An attempt of a section failed and a person chose to run it again (`:retry`); the
    /// section's later `SectionFinished` is its final outcome.
    AttemptFailed {
        title: String,
        attempt: u32,
        duration_ms: u64,
        error: String,
    },
    /// A person ended the run at the prompt before this section (`q` at a step prompt).
    Stopped {
        section: String,
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
    /// A wait in progress, for a live line on a terminal (never recorded in reports: the
    /// `Notice` every 10 s and `WaitSatisfied` are).
    WaitProgress {
        cluster: String,
        text: String,
    },
    /// The runbook's parameters as the run uses them (header defaults and `--set`), for the
    /// reports' headers. Masked like every other text when rendered.
    Parameters {
        values: BTreeMap<String, String>,
    },
    /// What a traffic check (`expect_http`, `expect_http_from`, `sample`) sent and what
    /// answered, for the traffic charts. Emitted when the check ends, beside its `Check` or
    /// `Say`; `at_ms - elapsed_ms` is when it started.
    Traffic {
        /// The check's name, as its `Check` event says it (or `sample N × URL`).
        name: String,
        url: String,
        /// The cluster the requests entered by, when known (the pod's cluster for
        /// `expect_http_from`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cluster: Option<String>,
        /// How the check ended (`skipped` when nothing was sent).
        status: CheckStatus,
        /// The answers came from the simulated data plane, not a real one.
        #[serde(default)]
        simulated: bool,
        /// Answers per key (the status code for `expect_http`, the sample's key) and per
        /// serving cluster.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        counts: Vec<TrafficCount>,
        /// Every attempt of an `expect_http`, in order (empty for `sample`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attempts: Vec<TrafficAttempt>,
        elapsed_ms: u64,
    },
}

/// How many answers of a traffic check had one key and one serving cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficCount {
    pub key: String,
    /// The cluster the answers named as theirs (a header or the page naming exactly one of the
    /// run's clusters), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    pub count: u64,
}

/// One attempt of an `expect_http` with retries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficAttempt {
    /// Time since the check started.
    pub after_ms: u64,
    /// The HTTP status; 0 when nothing answered.
    pub status: u16,
    /// What the attempt is counted under: its status code, or `error` when nothing answered.
    pub key: String,
    /// Every expectation held on this attempt.
    pub held: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

impl Event {
    /// The same event with every piece of text passed through `f` (redaction before
    /// rendering: whatever a format escapes or rearranges afterwards was already masked).
    pub fn map_text(&self, f: &dyn Fn(&str) -> String) -> Event {
        let o = |v: &Option<String>| v.as_deref().map(f);
        match self {
            Event::RunStarted {
                runbook,
                title,
                target,
            } => Event::RunStarted {
                runbook: f(runbook),
                title: f(title),
                target: f(target),
            },
            Event::ClusterReady {
                cluster,
                context,
                server,
                version,
            } => Event::ClusterReady {
                cluster: f(cluster),
                context: o(context),
                server: f(server),
                version: f(version),
            },
            Event::SectionStarted { title } => Event::SectionStarted { title: f(title) },
            Event::SectionFinished {
                title,
                status,
                duration_ms,
                error,
            } => Event::SectionFinished {
                title: f(title),
                status: *status,
                duration_ms: *duration_ms,
                error: o(error),
            },
            Event::AttemptFailed {
                title,
                attempt,
                duration_ms,
                error,
            } => Event::AttemptFailed {
                title: f(title),
                attempt: *attempt,
                duration_ms: *duration_ms,
                error: f(error),
            },
            Event::Stopped { section } => Event::Stopped {
                section: f(section),
            },
            Event::StepStarted { title } => Event::StepStarted { title: f(title) },
            Event::StepFinished {
                title,
                status,
                duration_ms,
                error,
            } => Event::StepFinished {
                title: f(title),
                status: *status,
                duration_ms: *duration_ms,
                error: o(error),
            },
            Event::Say { text } => Event::Say { text: f(text) },
            Event::Notice { text } => Event::Notice { text: f(text) },
            Event::Applied {
                cluster,
                kind,
                namespace,
                name,
                outcome,
                dry_run,
            } => Event::Applied {
                cluster: f(cluster),
                kind: f(kind),
                namespace: o(namespace),
                name: f(name),
                outcome: *outcome,
                dry_run: *dry_run,
            },
            Event::Deleted {
                cluster,
                kind,
                namespace,
                name,
                existed,
            } => Event::Deleted {
                cluster: f(cluster),
                kind: f(kind),
                namespace: o(namespace),
                name: f(name),
                existed: *existed,
            },
            Event::Operation {
                cluster,
                verb,
                target,
                duration_ms,
            } => Event::Operation {
                cluster: f(cluster),
                verb: f(verb),
                target: f(target),
                duration_ms: *duration_ms,
            },
            Event::WaitSatisfied {
                cluster,
                what,
                elapsed_ms,
            } => Event::WaitSatisfied {
                cluster: f(cluster),
                what: f(what),
                elapsed_ms: *elapsed_ms,
            },
            Event::Check {
                name,
                status,
                evidence,
                trace,
            } => Event::Check {
                name: f(name),
                status: *status,
                evidence: f(evidence),
                trace: trace.iter().map(|t| f(t)).collect(),
            },
            Event::ToolRun {
                cluster,
                program,
                argv,
                code,
                duration_ms,
                simulated,
            } => Event::ToolRun {
                cluster: o(cluster),
                program: f(program),
                argv: argv.iter().map(|a| f(a)).collect(),
                code: *code,
                duration_ms: *duration_ms,
                simulated: *simulated,
            },
            Event::ToolLine { label, line } => Event::ToolLine {
                label: f(label),
                line: f(line),
            },
            Event::Intervention { kind, detail } => Event::Intervention {
                kind: f(kind),
                detail: f(detail),
            },
            Event::RunFinished {
                status,
                duration_ms,
            } => Event::RunFinished {
                status: *status,
                duration_ms: *duration_ms,
            },
            Event::WaitProgress { cluster, text } => Event::WaitProgress {
                cluster: f(cluster),
                text: f(text),
            },
            Event::Parameters { values } => Event::Parameters {
                values: values.iter().map(|(k, v)| (f(k), f(v))).collect(),
            },
            Event::Traffic {
                name,
                url,
                cluster,
                status,
                simulated,
                counts,
                attempts,
                elapsed_ms,
            } => Event::Traffic {
                name: f(name),
                url: f(url),
                cluster: o(cluster),
                status: *status,
                simulated: *simulated,
                counts: counts
                    .iter()
                    .map(|c| TrafficCount {
                        key: f(&c.key),
                        served_by: o(&c.served_by),
                        count: c.count,
                    })
                    .collect(),
                attempts: attempts
                    .iter()
                    .map(|a| TrafficAttempt {
                        key: f(&a.key),
                        served_by: o(&a.served_by),
                        ..a.clone()
                    })
                    .collect(),
                elapsed_ms: *elapsed_ms,
            },
        }
    }
}

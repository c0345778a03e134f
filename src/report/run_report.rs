//! The run record: what every report format renders. Built by the [`Recorder`]
//! (`record.rs`) from the events of a run.
//!
//! [`Recorder`]: super::record::Recorder

use serde::Serialize;

use super::events::{Event, Status};
use super::redact::Redactor;
use super::tally::CheckCounts;

/// An event with its offset from the start of the run.
#[derive(Clone, Debug, Serialize)]
pub struct TimedEvent {
    pub at_ms: u64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub title: String,
    pub status: Status,
    /// When it started, from the start of the run.
    pub started_ms: u64,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// Why an unverified step is not passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The section's events recorded while it ran (its `step_started` event first; nested
    /// steps' events included), as indexes into the section's `events`.
    #[serde(skip)]
    pub events: std::ops::Range<usize>,
}

/// An attempt of a section that failed, after which a person ran the section again
/// (`:retry`): what it did and how it failed stay in the report.
#[derive(Clone, Debug, Serialize)]
pub struct AttemptReport {
    pub attempt: u32,
    pub status: Status,
    pub duration_ms: u64,
    pub error: String,
    pub checks: CheckCounts,
    pub steps: Vec<StepReport>,
    pub events: Vec<TimedEvent>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SectionReport {
    pub title: String,
    pub status: Status,
    /// When it started (or was skipped), from the start of the run; not run: the run's end.
    pub started_ms: u64,
    pub duration_ms: u64,
    /// The same, in seconds.
    pub duration: f64,
    /// The rendered error of a failed section.
    pub error: Option<String>,
    /// Why a section was skipped (`--skip`, `not in --only`, `before --from`, `skipped at the
    /// prompt`) or is unverified.
    pub reason: Option<String>,
    /// How many times it was run again after failing (`:retry`).
    pub retries: u32,
    /// The attempts that failed before the last one, oldest first.
    pub attempts: Vec<AttemptReport>,
    /// The checks of its last attempt.
    pub checks: CheckCounts,
    pub steps: Vec<StepReport>,
    pub events: Vec<TimedEvent>,
}

impl SectionReport {
    /// A section with nothing recorded yet.
    pub fn new(title: &str, status: Status) -> Self {
        Self::started(title, status, 0)
    }

    /// A section with nothing recorded yet, started `started_ms` after the run began.
    pub fn started(title: &str, status: Status, started_ms: u64) -> Self {
        SectionReport {
            title: title.to_string(),
            status,
            started_ms,
            duration_ms: 0,
            duration: 0.0,
            error: None,
            reason: None,
            retries: 0,
            attempts: Vec::new(),
            checks: CheckCounts::default(),
            steps: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Its status as people read it: `passed after 1 retry`, `skipped (--skip)`,
    /// `unverified (no check answered)`.
    pub fn describe(&self) -> String {
        match self.status {
            Status::Passed if self.retries > 0 => {
                format!("passed after {}", retries(u64::from(self.retries)))
            }
            Status::Skipped => match &self.reason {
                Some(r) => format!("skipped ({r})"),
                None => "skipped".into(),
            },
            other => other.describe().to_string(),
        }
    }
}

/// `1 retry`, `2 retries`.
pub fn retries(n: u64) -> String {
    if n == 1 {
        "1 retry".into()
    } else {
        format!("{n} retries")
    }
}

/// Counts over the whole run; integer fields only, so scripts can compare them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub sections_passed: u64,
    pub sections_failed: u64,
    pub sections_skipped: u64,
    pub sections_not_run: u64,
    /// Sections that ran without error but whose checks were all skipped.
    pub sections_unverified: u64,
    /// Steps whose checks were all skipped.
    pub steps_unverified: u64,
    /// Times a failed section was run again (`:retry`).
    pub retries: u64,
    pub created: u64,
    pub configured: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Checks that held against a real data plane (or needed none, such as `expect`).
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub checks_skipped: u64,
    /// Checks answered by the simulated data plane whose expectations held.
    pub checks_simulated: u64,
    pub tools_run: u64,
    pub interventions: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub context: Option<String>,
    pub server: String,
    pub version: String,
}

/// The whole run, as the report files show it.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub runbook: String,
    pub title: String,
    pub target: String,
    pub started_at: String,
    pub status: Status,
    /// What happened, in one line: `passed`, `passed after 1 retry`, `failed at `X``,
    /// `stopped at `X`, 3 sections not run`.
    pub headline: String,
    /// The section before which a person ended the run at a prompt.
    pub stopped_at: Option<String>,
    pub duration_ms: u64,
    /// The same, in seconds.
    pub duration: f64,
    pub clusters: Vec<ClusterInfo>,
    pub sections: Vec<SectionReport>,
    /// Events outside any section (set-up code at the top of the runbook).
    pub events: Vec<TimedEvent>,
    pub summary: Summary,
    /// Diagnostics gathered from the clusters when a section failed.
    pub bundle: Option<String>,
}

impl RunReport {
    /// `passed`, `passed after 1 retry`, `failed at `X``, `stopped at `X`, 3 sections not
    /// run`, from the status and counts.
    pub fn headline_now(&self) -> String {
        let report = self;
        let s = &report.summary;
        let mut parts = Vec::new();
        match report.status {
            Status::Failed => parts.push(
                match report.sections.iter().find(|x| x.status == Status::Failed) {
                    Some(sec) => format!("failed at `{}`", sec.title),
                    None => "failed".to_string(),
                },
            ),
            Status::Passed => parts.push(if s.retries > 0 {
                format!("passed after {}", retries(s.retries))
            } else {
                "passed".to_string()
            }),
            Status::Stopped => {}
            other => parts.push(other.as_str().to_string()),
        }
        if let Some(at) = &report.stopped_at {
            parts.push(format!(
                "stopped at `{at}`, {} section{} not run",
                s.sections_not_run,
                if s.sections_not_run == 1 { "" } else { "s" }
            ));
        }
        parts.join(", ")
    }

    /// The same report with every piece of text passed through the redactor, before any
    /// format renders (and escapes) it.
    pub fn redacted(&self, redactor: &Redactor) -> RunReport {
        let f = |s: &str| redactor.redact(s);
        let o = |v: &Option<String>| v.as_deref().map(f);
        let events = |evs: &[TimedEvent]| -> Vec<TimedEvent> {
            evs.iter()
                .map(|e| TimedEvent {
                    at_ms: e.at_ms,
                    event: e.event.map_text(&f),
                })
                .collect()
        };
        let steps = |steps: &[StepReport]| -> Vec<StepReport> {
            steps
                .iter()
                .map(|s| StepReport {
                    title: f(&s.title),
                    error: o(&s.error),
                    reason: o(&s.reason),
                    ..s.clone()
                })
                .collect()
        };
        RunReport {
            runbook: f(&self.runbook),
            title: f(&self.title),
            target: f(&self.target),
            started_at: self.started_at.clone(),
            status: self.status,
            headline: f(&self.headline),
            stopped_at: o(&self.stopped_at),
            duration_ms: self.duration_ms,
            duration: self.duration,
            clusters: self
                .clusters
                .iter()
                .map(|c| ClusterInfo {
                    name: f(&c.name),
                    context: o(&c.context),
                    server: f(&c.server),
                    version: f(&c.version),
                })
                .collect(),
            sections: self
                .sections
                .iter()
                .map(|s| SectionReport {
                    title: f(&s.title),
                    error: o(&s.error),
                    reason: o(&s.reason),
                    attempts: s
                        .attempts
                        .iter()
                        .map(|a| AttemptReport {
                            error: f(&a.error),
                            steps: steps(&a.steps),
                            events: events(&a.events),
                            ..a.clone()
                        })
                        .collect(),
                    steps: steps(&s.steps),
                    events: events(&s.events),
                    ..s.clone()
                })
                .collect(),
            events: events(&self.events),
            summary: self.summary.clone(),
            bundle: o(&self.bundle),
        }
    }
}

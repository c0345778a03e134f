//! The run record: events folded into sections and steps, with a summary. Every report format
//! renders this one structure.

use std::time::Instant;

use serde::Serialize;

use super::events::{ApplyOutcome, CheckStatus, Event, Status};
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
    pub duration_ms: u64,
    pub error: Option<String>,
    /// Why an unverified step is not passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    fn new(title: &str, status: Status) -> Self {
        SectionReport {
            title: title.to_string(),
            status,
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

/// Folds events into a [`RunReport`] as they arrive.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    report: RunReport,
    /// Index of the section in progress, if any.
    open_section: Option<usize>,
    /// Titles known statically, in order; those never reached are reported at the end.
    planned: Vec<String>,
}

impl Recorder {
    pub fn new(planned: Vec<String>) -> Self {
        Recorder {
            start: Instant::now(),
            report: RunReport {
                runbook: String::new(),
                title: String::new(),
                target: String::new(),
                started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                status: Status::Passed,
                headline: String::new(),
                stopped_at: None,
                duration_ms: 0,
                duration: 0.0,
                clusters: Vec::new(),
                sections: Vec::new(),
                events: Vec::new(),
                summary: Summary::default(),
                bundle: None,
            },
            open_section: None,
            planned,
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub fn set_plan(&mut self, planned: Vec<String>) {
        self.planned = planned;
    }

    pub fn set_bundle(&mut self, bundle: String) {
        self.report.bundle = Some(bundle);
    }

    pub fn record(&mut self, event: &Event) {
        let s = &mut self.report.summary;
        match event {
            Event::RunStarted {
                runbook,
                title,
                target,
            } => {
                self.report.runbook = runbook.clone();
                self.report.title = title.clone();
                self.report.target = target.clone();
            }
            Event::ClusterReady {
                cluster,
                context,
                server,
                version,
            } => self.report.clusters.push(ClusterInfo {
                name: cluster.clone(),
                context: context.clone(),
                server: server.clone(),
                version: version.clone(),
            }),
            Event::SectionStarted { title } => {
                self.report
                    .sections
                    .push(SectionReport::new(title, Status::Passed));
                self.open_section = Some(self.report.sections.len() - 1);
            }
            Event::AttemptFailed {
                title,
                attempt,
                duration_ms,
                error,
            } => {
                if let Some(sec) = self
                    .open_section
                    .and_then(|i| self.report.sections.get_mut(i))
                    .filter(|sec| sec.title == *title)
                {
                    sec.retries += 1;
                    sec.attempts.push(AttemptReport {
                        attempt: *attempt,
                        status: Status::Failed,
                        duration_ms: *duration_ms,
                        error: error.clone(),
                        checks: std::mem::take(&mut sec.checks),
                        steps: std::mem::take(&mut sec.steps),
                        events: std::mem::take(&mut sec.events),
                    });
                }
                s.retries += 1;
                return;
            }
            Event::Stopped { section } => {
                self.report.stopped_at = Some(section.clone());
                if self.report.status != Status::Failed {
                    self.report.status = Status::Stopped;
                }
            }
            Event::SectionFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                let idx = match self.open_section.take() {
                    Some(i) if self.report.sections[i].title == *title => i,
                    _ => {
                        // A section that never started (skipped by a filter or at a prompt).
                        self.report
                            .sections
                            .push(SectionReport::new(title, *status));
                        self.report.sections.len() - 1
                    }
                };
                let sec = &mut self.report.sections[idx];
                sec.status = *status;
                sec.duration_ms = *duration_ms;
                match status {
                    Status::Skipped | Status::Unverified => sec.reason = error.clone(),
                    _ => sec.error = error.clone(),
                }
                match status {
                    Status::Passed => s.sections_passed += 1,
                    Status::Failed => s.sections_failed += 1,
                    Status::Skipped => s.sections_skipped += 1,
                    Status::NotRun | Status::Stopped => s.sections_not_run += 1,
                    Status::Unverified => s.sections_unverified += 1,
                }
                if *status == Status::Failed {
                    self.report.status = Status::Failed;
                }
            }
            Event::StepFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                if *status == Status::Unverified {
                    s.steps_unverified += 1;
                }
                if let Some(i) = self.open_section {
                    let (error, reason) = match status {
                        Status::Unverified | Status::Skipped => (None, error.clone()),
                        _ => (error.clone(), None),
                    };
                    self.report.sections[i].steps.push(StepReport {
                        title: title.clone(),
                        status: *status,
                        duration_ms: *duration_ms,
                        error,
                        reason,
                    });
                }
            }
            Event::Applied { outcome, .. } => match outcome {
                ApplyOutcome::Created => s.created += 1,
                ApplyOutcome::Configured => s.configured += 1,
                ApplyOutcome::Unchanged => s.unchanged += 1,
            },
            Event::Deleted { existed: true, .. } => s.deleted += 1,
            Event::Check { status, .. } => {
                match status {
                    CheckStatus::Passed => s.checks_passed += 1,
                    CheckStatus::Failed => s.checks_failed += 1,
                    CheckStatus::Skipped => s.checks_skipped += 1,
                    CheckStatus::Simulated => s.checks_simulated += 1,
                }
                if let Some(i) = self.open_section {
                    self.report.sections[i].checks.add(*status);
                }
            }
            Event::ToolRun { .. } => s.tools_run += 1,
            Event::Intervention { .. } => s.interventions += 1,
            Event::RunFinished {
                status,
                duration_ms,
            } => {
                self.report.duration_ms = *duration_ms;
                if matches!(status, Status::Failed | Status::Stopped)
                    && self.report.status != Status::Failed
                {
                    self.report.status = *status;
                }
            }
            _ => {}
        }
        if matches!(
            event,
            Event::SectionStarted { .. }
                | Event::SectionFinished { .. }
                | Event::StepFinished { .. }
                | Event::RunFinished { .. }
                | Event::ToolLine { .. }
        ) {
            return;
        }
        let timed = TimedEvent {
            at_ms: self.elapsed_ms(),
            event: event.clone(),
        };
        match self.open_section {
            Some(i) => self.report.sections[i].events.push(timed),
            None => self.report.events.push(timed),
        }
    }

    /// The finished report: planned sections that never ran are listed as not run, and the
    /// headline says what happened.
    pub fn finish(&self) -> RunReport {
        let mut report = self.report.clone();
        for title in &self.planned {
            if !report.sections.iter().any(|s| &s.title == title) {
                report
                    .sections
                    .push(SectionReport::new(title, Status::NotRun));
                report.summary.sections_not_run += 1;
            }
        }
        // Keep the runbook's order.
        let order = |t: &str| {
            self.planned
                .iter()
                .position(|p| p == t)
                .unwrap_or(usize::MAX)
        };
        report.sections.sort_by_key(|s| order(&s.title));
        if report.duration_ms == 0 {
            report.duration_ms = self.elapsed_ms();
        }
        report.duration = report.duration_ms as f64 / 1000.0;
        for s in &mut report.sections {
            s.duration = s.duration_ms as f64 / 1000.0;
        }
        report.headline = headline(&report);
        report
    }
}

/// `passed`, `passed after 1 retry`, `failed at `X``, `stopped at `X`, 3 sections not run`.
fn headline(report: &RunReport) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_sections_steps_and_counts() {
        let mut r = Recorder::new(vec!["a".into(), "b".into(), "c".into()]);
        r.record(&Event::SectionStarted { title: "a".into() });
        r.record(&Event::Applied {
            cluster: "c1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "x".into(),
            outcome: ApplyOutcome::Created,
            dry_run: false,
        });
        r.record(&Event::StepFinished {
            title: "s".into(),
            status: Status::Passed,
            duration_ms: 3,
            error: None,
        });
        r.record(&Event::SectionFinished {
            title: "a".into(),
            status: Status::Passed,
            duration_ms: 5,
            error: None,
        });
        r.record(&Event::SectionStarted { title: "b".into() });
        r.record(&Event::Check {
            name: "x".into(),
            status: CheckStatus::Failed,
            evidence: "e".into(),
            trace: Vec::new(),
        });
        r.record(&Event::SectionFinished {
            title: "b".into(),
            status: Status::Failed,
            duration_ms: 5,
            error: Some("boom".into()),
        });
        let rep = r.finish();
        assert_eq!(rep.status, Status::Failed);
        assert_eq!(rep.sections.len(), 3);
        assert_eq!(rep.sections[0].steps.len(), 1);
        assert_eq!(rep.sections[0].events.len(), 1);
        assert_eq!(rep.sections[2].status, Status::NotRun);
        assert_eq!(rep.summary.created, 1);
        assert_eq!(rep.summary.checks_failed, 1);
        assert_eq!(rep.summary.sections_not_run, 1);
    }
}

//! The run record: events folded into sections and steps, with a summary. Every report format
//! renders this one structure.

use std::time::Instant;

use serde::Serialize;

use super::events::{ApplyOutcome, CheckStatus, Event, Status};

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
}

#[derive(Clone, Debug, Serialize)]
pub struct SectionReport {
    pub title: String,
    pub status: Status,
    pub duration_ms: u64,
    /// The same, in seconds.
    pub duration: f64,
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
    pub events: Vec<TimedEvent>,
}

/// Counts over the whole run; integer fields only, so scripts can compare them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub sections_passed: u64,
    pub sections_failed: u64,
    pub sections_skipped: u64,
    pub sections_not_run: u64,
    pub created: u64,
    pub configured: u64,
    pub unchanged: u64,
    pub deleted: u64,
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
                self.report.sections.push(SectionReport {
                    title: title.clone(),
                    status: Status::Passed,
                    duration_ms: 0,
                    duration: 0.0,
                    error: None,
                    steps: Vec::new(),
                    events: Vec::new(),
                });
                self.open_section = Some(self.report.sections.len() - 1);
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
                        // A section that never started (skipped by a filter).
                        self.report.sections.push(SectionReport {
                            title: title.clone(),
                            status: *status,
                            duration_ms: 0,
                            duration: 0.0,
                            error: None,
                            steps: Vec::new(),
                            events: Vec::new(),
                        });
                        self.report.sections.len() - 1
                    }
                };
                let sec = &mut self.report.sections[idx];
                sec.status = *status;
                sec.duration_ms = *duration_ms;
                sec.error = error.clone();
                match status {
                    Status::Passed => s.sections_passed += 1,
                    Status::Failed => s.sections_failed += 1,
                    Status::Skipped => s.sections_skipped += 1,
                    Status::NotRun => s.sections_not_run += 1,
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
                if let Some(i) = self.open_section {
                    self.report.sections[i].steps.push(StepReport {
                        title: title.clone(),
                        status: *status,
                        duration_ms: *duration_ms,
                        error: error.clone(),
                    });
                }
            }
            Event::Applied { outcome, .. } => match outcome {
                ApplyOutcome::Created => s.created += 1,
                ApplyOutcome::Configured => s.configured += 1,
                ApplyOutcome::Unchanged => s.unchanged += 1,
            },
            Event::Deleted { existed: true, .. } => s.deleted += 1,
            Event::Check { status, .. } => match status {
                CheckStatus::Passed => s.checks_passed += 1,
                CheckStatus::Failed => s.checks_failed += 1,
                CheckStatus::Skipped => s.checks_skipped += 1,
                CheckStatus::Simulated => s.checks_simulated += 1,
            },
            Event::ToolRun { .. } => s.tools_run += 1,
            Event::Intervention { .. } => s.interventions += 1,
            Event::RunFinished {
                status,
                duration_ms,
            } => {
                self.report.duration_ms = *duration_ms;
                if *status == Status::Failed {
                    self.report.status = Status::Failed;
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

    /// The finished report: planned sections that never ran are listed as not run.
    pub fn finish(&self) -> RunReport {
        let mut report = self.report.clone();
        for title in &self.planned {
            if !report.sections.iter().any(|s| &s.title == title) {
                report.sections.push(SectionReport {
                    title: title.clone(),
                    status: Status::NotRun,
                    duration_ms: 0,
                    duration: 0.0,
                    error: None,
                    steps: Vec::new(),
                    events: Vec::new(),
                });
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
        report
    }
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

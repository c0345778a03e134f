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
    /// When it started, from the start of the run.
    pub started_ms: u64,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The section's events recorded while it ran (its `step_started` event first; nested
    /// steps' events included), as indexes into the section's `events`.
    #[serde(skip)]
    pub events: std::ops::Range<usize>,
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
    /// Steps of the open section still running: title, start, index of its first event.
    open_steps: Vec<(String, u64, usize)>,
    /// The last lines of tool output not yet recorded; kept when the tool's run is recorded.
    tool_tail: Vec<TimedEvent>,
}

/// Lines of a tool's output kept in the record (the tail; the terminal shows them all).
pub const TOOL_TAIL_LINES: usize = 12;

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
            open_steps: Vec::new(),
            tool_tail: Vec::new(),
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
        if matches!(event, Event::ToolRun { .. } | Event::SectionFinished { .. }) {
            self.keep_tool_tail();
        }
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
                self.open_steps.clear();
                self.report.sections.push(SectionReport {
                    title: title.clone(),
                    status: Status::Passed,
                    started_ms: self.elapsed_ms(),
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
                            started_ms: self.start.elapsed().as_millis() as u64,
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
            Event::StepStarted { title } => {
                if let Some(i) = self.open_section {
                    let first = self.report.sections[i].events.len();
                    self.open_steps
                        .push((title.clone(), self.elapsed_ms(), first));
                }
            }
            Event::StepFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                if let Some(i) = self.open_section {
                    // Steps of parallel tasks may finish out of order: the latest of that title.
                    let open = self.open_steps.iter().rposition(|(t, ..)| t == title);
                    let end = self.report.sections[i].events.len();
                    let (started_ms, first) = match open {
                        Some(k) => {
                            let (_, at, first) = self.open_steps.remove(k);
                            (at, first)
                        }
                        None => (self.elapsed_ms().saturating_sub(*duration_ms), end),
                    };
                    self.report.sections[i].steps.push(StepReport {
                        title: title.clone(),
                        status: *status,
                        started_ms,
                        duration_ms: *duration_ms,
                        error: error.clone(),
                        events: first..end,
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
        if let Event::ToolLine { label, .. } = event {
            self.hold_tool_line(label, event);
            return;
        }
        if matches!(
            event,
            Event::SectionStarted { .. }
                | Event::SectionFinished { .. }
                | Event::StepFinished { .. }
                | Event::RunFinished { .. }
        ) {
            return;
        }
        let timed = TimedEvent {
            at_ms: self.elapsed_ms(),
            event: event.clone(),
        };
        self.push(timed);
    }

    fn push(&mut self, timed: TimedEvent) {
        match self.open_section {
            Some(i) => self.report.sections[i].events.push(timed),
            None => self.report.events.push(timed),
        }
    }

    /// Holds a line of tool output, keeping only the last [`TOOL_TAIL_LINES`] of each tool.
    fn hold_tool_line(&mut self, label: &str, event: &Event) {
        let same =
            |e: &TimedEvent| matches!(&e.event, Event::ToolLine { label: l, .. } if l == label);
        if self.tool_tail.iter().filter(|e| same(e)).count() >= TOOL_TAIL_LINES {
            if let Some(oldest) = self.tool_tail.iter().position(same) {
                self.tool_tail.remove(oldest);
            }
        }
        self.tool_tail.push(TimedEvent {
            at_ms: self.elapsed_ms(),
            event: event.clone(),
        });
    }

    /// Records the held tool output (before the tool's run, or at the end of its section).
    fn keep_tool_tail(&mut self) {
        for timed in std::mem::take(&mut self.tool_tail) {
            self.push(timed);
        }
    }

    /// The finished report: planned sections that never ran are listed as not run.
    pub fn finish(&self) -> RunReport {
        let mut report = self.report.clone();
        if report.duration_ms == 0 {
            report.duration_ms = self.elapsed_ms();
        }
        for title in &self.planned {
            if !report.sections.iter().any(|s| &s.title == title) {
                report.sections.push(SectionReport {
                    title: title.clone(),
                    status: Status::NotRun,
                    started_ms: report.duration_ms,
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

    #[test]
    fn steps_know_their_start_and_events_and_tools_keep_their_tail() {
        let mut r = Recorder::new(vec!["a".into()]);
        r.record(&Event::SectionStarted { title: "a".into() });
        r.record(&Event::Say {
            text: "before".into(),
        });
        r.record(&Event::StepStarted { title: "s".into() });
        for n in 0..20 {
            r.record(&Event::ToolLine {
                label: "c1 helm".into(),
                line: format!("line {n}"),
            });
        }
        r.record(&Event::ToolRun {
            cluster: Some("c1".into()),
            program: "helm".into(),
            argv: vec![],
            code: 0,
            duration_ms: 1,
            simulated: true,
        });
        r.record(&Event::StepFinished {
            title: "s".into(),
            status: Status::Passed,
            duration_ms: 1,
            error: None,
        });
        r.record(&Event::SectionFinished {
            title: "a".into(),
            status: Status::Passed,
            duration_ms: 2,
            error: None,
        });
        let rep = r.finish();
        let sec = &rep.sections[0];
        let step = &sec.steps[0];
        assert!(sec.started_ms <= step.started_ms);
        // say, step_started, 12 lines of tail, tool_run: the step holds all but the say.
        assert_eq!(sec.events.len(), 3 + TOOL_TAIL_LINES);
        assert_eq!(step.events, 1..sec.events.len());
        let lines: Vec<&str> = sec
            .events
            .iter()
            .filter_map(|e| match &e.event {
                Event::ToolLine { line, .. } => Some(line.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(lines.first(), Some(&"line 8"));
        assert_eq!(lines.last(), Some(&"line 19"));
        assert!(matches!(
            sec.events.last().unwrap().event,
            Event::ToolRun { .. }
        ));
    }
}

//! The recorder: events folded, as they arrive, into the [`RunReport`] every report format
//! renders.

use std::time::Instant;

use super::events::{ApplyOutcome, CheckStatus, Event, Status};
pub use super::run_report::{
    retries, AttemptReport, ClusterInfo, RunReport, SectionReport, StepReport, Summary, TimedEvent,
};

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
        let now = self.elapsed_ms();
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
                self.report
                    .sections
                    .push(SectionReport::started(title, Status::Passed, now));
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
                            .push(SectionReport::started(title, *status, now));
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
                    // Steps of parallel tasks may finish out of order: the latest of that title.
                    let open = self.open_steps.iter().rposition(|(t, ..)| t == title);
                    let end = self.report.sections[i].events.len();
                    let (started_ms, first) = match open {
                        Some(k) => {
                            let (_, at, first) = self.open_steps.remove(k);
                            (at, first)
                        }
                        None => (now.saturating_sub(*duration_ms), end),
                    };
                    self.report.sections[i].steps.push(StepReport {
                        title: title.clone(),
                        status: *status,
                        started_ms,
                        duration_ms: *duration_ms,
                        error,
                        reason,
                        events: first..end,
                    });
                }
            }
            Event::StepStarted { title } => {
                if let Some(i) = self.open_section {
                    let first = self.report.sections[i].events.len();
                    self.open_steps.push((title.clone(), now, first));
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
        if let Event::ToolLine { label, .. } = event {
            self.hold_tool_line(label, event);
            return;
        }
        if matches!(
            event,
            Event::SectionStarted { .. }
                | Event::WaitProgress { .. }
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

    /// The finished report: planned sections that never ran are listed as not run, and the
    /// headline says what happened.
    pub fn finish(&self) -> RunReport {
        let mut report = self.report.clone();
        let end = if report.duration_ms == 0 {
            self.elapsed_ms()
        } else {
            report.duration_ms
        };
        for title in &self.planned {
            if !report.sections.iter().any(|s| &s.title == title) {
                report
                    .sections
                    .push(SectionReport::started(title, Status::NotRun, end));
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
        report.headline = report.headline_now();
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
    fn a_stop_at_a_prompt_is_the_headline() {
        let mut r = Recorder::new(vec!["a".into(), "b".into(), "c".into()]);
        r.record(&Event::SectionStarted { title: "a".into() });
        r.record(&Event::SectionFinished {
            title: "a".into(),
            status: Status::Passed,
            duration_ms: 1,
            error: None,
        });
        r.record(&Event::Stopped {
            section: "b".into(),
        });
        let rep = r.finish();
        assert_eq!(rep.status, Status::Stopped);
        assert_eq!(rep.stopped_at.as_deref(), Some("b"));
        assert_eq!(rep.headline, "stopped at `b`, 2 sections not run");
        assert_eq!(rep.summary.sections_not_run, 2);
    }
}

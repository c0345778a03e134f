//! Check counts per section and step, and the rule they decide: a section or step that ran
//! without error but whose checks were all skipped is [`Status::Unverified`], never passed.
//! The reporter applies it before anything is shown or recorded, so every sink agrees.

use serde::Serialize;

use super::events::{CheckStatus, Event, Status};

/// How the checks of a section, a step or a run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckCounts {
    pub passed: u64,
    /// Answered by the simulated data plane, and held.
    pub simulated: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl CheckCounts {
    pub fn add(&mut self, status: CheckStatus) {
        match status {
            CheckStatus::Passed => self.passed += 1,
            CheckStatus::Simulated => self.simulated += 1,
            CheckStatus::Failed => self.failed += 1,
            CheckStatus::Skipped => self.skipped += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.passed + self.simulated + self.failed + self.skipped
    }

    /// Checks were made, and none was answered.
    pub fn all_skipped(&self) -> bool {
        self.skipped > 0 && self.skipped == self.total()
    }

    /// Why a section or step with these counts is unverified.
    pub fn unverified_reason(&self) -> String {
        if self.skipped == 1 {
            "no check answered: its only check was skipped".into()
        } else {
            format!(
                "no check answered: all {} of its checks were skipped",
                self.skipped
            )
        }
    }
}

/// Counts the checks of the open section and steps, and turns a passed section or step whose
/// checks were all skipped into an unverified one.
#[derive(Debug, Default)]
pub struct Tally {
    section: CheckCounts,
    steps: Vec<CheckCounts>,
}

impl Tally {
    /// The event as every sink must see it.
    pub fn adjust(&mut self, event: Event) -> Event {
        match event {
            Event::SectionStarted { .. } | Event::AttemptFailed { .. } => {
                self.section = CheckCounts::default();
                self.steps.clear();
                event
            }
            Event::StepStarted { .. } => {
                self.steps.push(CheckCounts::default());
                event
            }
            Event::Check { status, .. } => {
                self.section.add(status);
                for step in &mut self.steps {
                    step.add(status);
                }
                event
            }
            Event::StepFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                let counts = self.steps.pop().unwrap_or_default();
                let (status, error) = unverified(status, error, &counts);
                Event::StepFinished {
                    title,
                    status,
                    duration_ms,
                    error,
                }
            }
            Event::SectionFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                let counts = std::mem::take(&mut self.section);
                self.steps.clear();
                let (status, error) = unverified(status, error, &counts);
                Event::SectionFinished {
                    title,
                    status,
                    duration_ms,
                    error,
                }
            }
            other => other,
        }
    }
}

fn unverified(
    status: Status,
    error: Option<String>,
    counts: &CheckCounts,
) -> (Status, Option<String>) {
    if status == Status::Passed && counts.all_skipped() {
        (Status::Unverified, Some(counts.unverified_reason()))
    } else {
        (status, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: CheckStatus) -> Event {
        Event::Check {
            name: "c".into(),
            status,
            evidence: String::new(),
            trace: Vec::new(),
        }
    }

    fn finished_step(t: &mut Tally) -> Status {
        match t.adjust(Event::StepFinished {
            title: "s".into(),
            status: Status::Passed,
            duration_ms: 0,
            error: None,
        }) {
            Event::StepFinished { status, .. } => status,
            _ => unreachable!("a step stays a step"),
        }
    }

    fn finished_section(t: &mut Tally) -> (Status, Option<String>) {
        match t.adjust(Event::SectionFinished {
            title: "a".into(),
            status: Status::Passed,
            duration_ms: 0,
            error: None,
        }) {
            Event::SectionFinished { status, error, .. } => (status, error),
            _ => unreachable!("a section stays a section"),
        }
    }

    #[test]
    fn all_skipped_is_unverified_and_any_answer_passes() {
        let mut t = Tally::default();
        t.adjust(Event::SectionStarted { title: "a".into() });
        t.adjust(Event::StepStarted { title: "s".into() });
        t.adjust(check(CheckStatus::Skipped));
        assert_eq!(finished_step(&mut t), Status::Unverified);
        t.adjust(Event::StepStarted { title: "s".into() });
        t.adjust(check(CheckStatus::Skipped));
        t.adjust(check(CheckStatus::Simulated));
        assert_eq!(finished_step(&mut t), Status::Passed);
        t.adjust(Event::StepStarted { title: "s".into() });
        assert_eq!(finished_step(&mut t), Status::Passed, "no checks: passed");
        assert_eq!(finished_section(&mut t).0, Status::Passed);

        t.adjust(Event::SectionStarted { title: "a".into() });
        t.adjust(check(CheckStatus::Skipped));
        t.adjust(check(CheckStatus::Skipped));
        let (status, reason) = finished_section(&mut t);
        assert_eq!(status, Status::Unverified);
        assert!(reason.unwrap().contains("all 2"));
    }

    #[test]
    fn a_retry_starts_the_count_again() {
        let mut t = Tally::default();
        t.adjust(Event::SectionStarted { title: "a".into() });
        t.adjust(check(CheckStatus::Passed));
        t.adjust(Event::AttemptFailed {
            title: "a".into(),
            attempt: 1,
            duration_ms: 0,
            error: "e".into(),
        });
        t.adjust(check(CheckStatus::Skipped));
        assert_eq!(finished_section(&mut t).0, Status::Unverified);
    }
}

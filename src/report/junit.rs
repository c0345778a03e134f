//! The JUnit report: one `<testsuite>` per section, one `<testcase>` per check, so CI counts
//! what was verified.
//!
//! - A check that held against a real data plane is a success; one answered by the simulated
//!   data plane is a success named `... (simulated)` with a `simulated` property and its
//!   trace in `<system-out>`, so it never reads as a real pass; a skipped check is
//!   `<skipped/>`; a failed one a `<failure>` carrying the section's error.
//! - The section itself is a test case when its checks do not tell its story: a section
//!   without checks, a failure that was not a check, a skipped or unrun section
//!   (`<skipped message="skipped (--skip)"/>`), a retried one (a success with a
//!   `<flakyFailure>` per failed attempt).
//! - Each suite has `status` (`passed after 1 retry`, `unverified (no check answered)`, ...)
//!   and `run` (the run's headline) properties, and the section's transcript as `<system-out>`.

use std::time::Duration;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::events::{CheckStatus, Event, Status};
use super::record::{RunReport, SectionReport, TimedEvent};
use super::transcript::event_line;

pub fn render(report: &RunReport) -> String {
    let mut junit = Report::new(format!("meshbook {}", report.runbook));
    for section in &report.sections {
        junit.add_test_suite(suite(report, section));
    }
    junit.set_time(Duration::from_millis(report.duration_ms));
    junit.to_string().unwrap_or_default()
}

fn transcript(events: &[TimedEvent]) -> String {
    events
        .iter()
        .filter_map(event_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn suite(report: &RunReport, section: &SectionReport) -> TestSuite {
    let mut suite = TestSuite::new(section.title.clone());
    suite.add_property(Property::new("status", section.describe()));
    suite.add_property(Property::new("run", report.headline.clone()));
    if let Some(reason) = &section.reason {
        suite.add_property(Property::new("reason", reason.clone()));
    }
    suite.set_time(Duration::from_millis(section.duration_ms));
    let out = transcript(&section.events);
    if !out.is_empty() {
        suite.set_system_out(out);
    }
    let mut cases = check_cases(report, section);
    let a_check_failed = section.events.iter().any(|e| {
        matches!(
            e.event,
            Event::Check {
                status: CheckStatus::Failed,
                ..
            }
        )
    });
    let own_case = cases.is_empty()
        || section.retries > 0
        || matches!(
            section.status,
            Status::Skipped | Status::NotRun | Status::Stopped
        )
        || (section.status == Status::Failed && !a_check_failed);
    if own_case {
        cases.insert(0, section_case(report, section));
    }
    suite.add_test_cases(cases);
    suite
}

/// The section as a test case of its own.
fn section_case(report: &RunReport, section: &SectionReport) -> TestCase {
    let mut status = match section.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Failed => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = section.error.clone().unwrap_or_else(|| "failed".into());
            st.set_message(first_line(&message));
            st.set_description(message);
            st
        }
        Status::Unverified | Status::Skipped | Status::NotRun | Status::Stopped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(section.describe());
            st
        }
    };
    for attempt in &section.attempts {
        let mut rerun = TestRerun::new(NonSuccessKind::Failure);
        rerun
            .set_message(format!(
                "attempt {} failed: {}",
                attempt.attempt,
                first_line(&attempt.error)
            ))
            .set_description(attempt.error.clone())
            .set_time(Duration::from_millis(attempt.duration_ms));
        let out = transcript(&attempt.events);
        if !out.is_empty() {
            rerun.set_system_out(out);
        }
        status.add_rerun(rerun);
    }
    let mut case = TestCase::new(section.title.clone(), status);
    case.set_classname(report.runbook.clone());
    case.set_time(Duration::from_millis(section.duration_ms));
    if section.retries > 0 {
        case.add_property(Property::new("retries", section.retries.to_string()));
    }
    case
}

/// A test case per check of the section's last attempt.
fn check_cases(report: &RunReport, section: &SectionReport) -> Vec<TestCase> {
    let mut cases = Vec::new();
    for e in &section.events {
        let Event::Check {
            name,
            status,
            evidence,
            trace,
        } = &e.event
        else {
            continue;
        };
        let trace_text = trace
            .iter()
            .map(|t| format!("trace: {t}"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut case = match status {
            CheckStatus::Passed => {
                let mut c = TestCase::new(name.clone(), TestCaseStatus::success());
                c.set_system_out(format!("passed: {evidence}"));
                c
            }
            CheckStatus::Simulated => {
                let mut c = TestCase::new(format!("{name} (simulated)"), TestCaseStatus::success());
                c.add_property(Property::new("simulated", "true"));
                let mut out = format!("passed (simulated): {evidence}");
                if !trace_text.is_empty() {
                    out.push('\n');
                    out.push_str(&trace_text);
                }
                c.set_system_out(out);
                c
            }
            CheckStatus::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(format!("skipped: {evidence}"));
                TestCase::new(name.clone(), st)
            }
            CheckStatus::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(evidence.clone());
                let mut description = evidence.clone();
                if !trace_text.is_empty() {
                    description.push('\n');
                    description.push_str(&trace_text);
                }
                if let Some(err) = &section.error {
                    description.push_str("\n\n");
                    description.push_str(err);
                }
                st.set_description(description);
                TestCase::new(name.clone(), st)
            }
        };
        case.set_classname(report.runbook.clone());
        cases.push(case);
    }
    cases
}

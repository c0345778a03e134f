//! The Markdown transcript: the headline, the counts, then each section with its steps, what
//! it did, its failed attempts (kept when a section was retried) and its error.

use std::fmt::Write;

use super::events::Status;
use super::record::{RunReport, SectionReport, StepReport, TimedEvent};
use super::terminal::human_ms;
use super::transcript::event_line;

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", report.title);
    let _ = writeln!(
        out,
        "Runbook `{}` on {} — **{}** in {}, started {}.\n",
        report.runbook,
        match report.target.as_str() {
            "simulated" => "simulated clusters".to_string(),
            "none" => "no clusters".to_string(),
            contexts => format!("contexts {contexts}"),
        },
        report.headline,
        human_ms(report.duration_ms),
        report.started_at
    );
    let s = &report.summary;
    let _ = writeln!(
        out,
        "| sections | passed | failed | skipped | unverified | not run |\n|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        report.sections.len(),
        s.sections_passed,
        s.sections_failed,
        s.sections_skipped,
        s.sections_unverified,
        s.sections_not_run
    );
    let _ = writeln!(
        out,
        "Objects: {} created, {} configured, {} unchanged, {} deleted. Checks: {} passed, {} passed (simulated), {} failed, {} skipped. Tools run: {}. Retries: {}.\n",
        s.created,
        s.configured,
        s.unchanged,
        s.deleted,
        s.checks_passed,
        s.checks_simulated,
        s.checks_failed,
        s.checks_skipped,
        s.tools_run,
        s.retries
    );
    let setup: Vec<String> = report.events.iter().filter_map(event_line).collect();
    if !setup.is_empty() {
        let _ = writeln!(out, "## Set-up\n");
        for e in setup {
            let _ = writeln!(out, "- {}", e.replace('\n', " "));
        }
        out.push('\n');
    }
    for section in &report.sections {
        write_section(&mut out, section);
    }
    if let Some(bundle) = &report.bundle {
        let _ = writeln!(out, "## Diagnostics\n\n```text\n{bundle}\n```");
    }
    out
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Passed => "✓",
        Status::Failed => "✗",
        Status::Skipped => "–",
        Status::Unverified => "?",
        Status::NotRun | Status::Stopped => "·",
    }
}

fn write_section(out: &mut String, section: &SectionReport) {
    let ran = !matches!(
        section.status,
        Status::Skipped | Status::NotRun | Status::Stopped
    );
    let _ = writeln!(
        out,
        "## {} {} — {}{}\n",
        mark(section.status),
        section.title,
        section.describe(),
        if ran {
            format!(" ({})", human_ms(section.duration_ms))
        } else {
            String::new()
        }
    );
    if section.status == Status::Unverified {
        if let Some(reason) = &section.reason {
            let _ = writeln!(out, "Unverified: {reason}.\n");
        }
    }
    for attempt in &section.attempts {
        let _ = writeln!(
            out,
            "### Attempt {}: failed ({}), then retried\n",
            attempt.attempt,
            human_ms(attempt.duration_ms)
        );
        write_body(out, &attempt.steps, &attempt.events);
        let _ = writeln!(out, "**Error:**\n\n```text\n{}\n```\n", attempt.error);
    }
    if !section.attempts.is_empty() {
        let _ = writeln!(
            out,
            "### Attempt {}: {}\n",
            section.attempts.len() + 1,
            section.status.describe()
        );
    }
    write_body(out, &section.steps, &section.events);
    if let Some(err) = &section.error {
        let _ = writeln!(out, "**Error:**\n\n```text\n{err}\n```\n");
    }
}

fn write_body(out: &mut String, steps: &[StepReport], events: &[TimedEvent]) {
    for step in steps {
        let _ = writeln!(
            out,
            "- step **{}**: {} ({}){}",
            step.title,
            step.status.describe(),
            human_ms(step.duration_ms),
            step.reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    if !steps.is_empty() {
        out.push('\n');
    }
    let lines: Vec<String> = events.iter().filter_map(event_line).collect();
    if !lines.is_empty() {
        out.push_str("```text\n");
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str("```\n\n");
    }
}

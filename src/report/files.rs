//! Report files, chosen by extension: `.json`, `.xml` (JUnit), `.md` (Markdown transcript).
//! Every format is rendered from the same [`RunReport`] and redacted as a whole.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::events::{Event, Status};
use super::record::{RunReport, TimedEvent};
use super::redact::Redactor;

/// A report format, from a file name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Junit),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

/// Renders a report in a format, with every secret masked.
pub fn render(report: &RunReport, format: Format, redactor: &Redactor) -> String {
    match format {
        Format::Json => {
            let value = serde_json::to_value(report).unwrap_or_default();
            let value = redactor.redact_json(&value);
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            text
        }
        Format::Junit => redactor.redact(&junit(report)),
        Format::Markdown => redactor.redact(&markdown(report)),
        Format::Html => super::html::render(report, redactor),
    }
}

fn junit(report: &RunReport) -> String {
    let mut suite = TestSuite::new(report.runbook.clone());
    for section in &report.sections {
        let status = match section.status {
            Status::Passed => TestCaseStatus::success(),
            Status::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let message = section.error.clone().unwrap_or_else(|| "failed".into());
                let first = message.lines().next().unwrap_or("failed").to_string();
                st.set_message(first);
                st.set_description(message);
                st
            }
            Status::Skipped | Status::NotRun => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(section.status.as_str());
                st
            }
        };
        let mut case = TestCase::new(section.title.clone(), status);
        case.set_classname(report.runbook.clone());
        case.set_time(std::time::Duration::from_millis(section.duration_ms));
        let transcript: Vec<String> = section.events.iter().filter_map(event_line).collect();
        if !transcript.is_empty() {
            case.set_system_out(transcript.join("\n"));
        }
        suite.add_test_case(case);
    }
    suite.set_time(std::time::Duration::from_millis(report.duration_ms));
    let mut junit = Report::new("meshbook");
    junit.add_test_suite(suite);
    junit.to_string().unwrap_or_default()
}

/// One readable line for an event, or `None` for events that are only structure.
pub fn event_line(e: &TimedEvent) -> Option<String> {
    Some(match &e.event {
        Event::Say { text } => text.clone(),
        Event::Notice { text } => format!("note: {text}"),
        Event::Applied {
            cluster,
            kind,
            namespace,
            name,
            outcome,
            dry_run,
        } => format!(
            "[{cluster}] {}{} {}{}",
            kind.to_lowercase(),
            format_args!("/{name}"),
            outcome.as_str(),
            match (namespace, dry_run) {
                (Some(ns), true) => format!(" (namespace {ns}, dry run)"),
                (Some(ns), false) => format!(" (namespace {ns})"),
                (None, true) => " (dry run)".to_string(),
                (None, false) => String::new(),
            }
        ),
        Event::Deleted {
            cluster,
            kind,
            namespace,
            name,
            existed,
        } => format!(
            "[{cluster}] {}/{name} {}{}",
            kind.to_lowercase(),
            if *existed {
                "deleted"
            } else {
                "already absent"
            },
            namespace
                .as_ref()
                .map(|ns| format!(" (namespace {ns})"))
                .unwrap_or_default()
        ),
        Event::Operation {
            cluster,
            verb,
            target,
            ..
        } => format!("[{cluster}] {verb} {target}"),
        Event::WaitSatisfied {
            cluster,
            what,
            elapsed_ms,
        } => format!(
            "[{cluster}] {what} ({})",
            super::terminal::human_ms(*elapsed_ms)
        ),
        Event::Check {
            name,
            status,
            evidence,
            ..
        } => format!("check {:?}: {name}: {evidence}", status).to_lowercase(),
        Event::ToolRun {
            cluster,
            program,
            argv,
            code,
            simulated,
            ..
        } => format!(
            "{}{program} {} -> exit {code}{}",
            cluster
                .as_ref()
                .map(|c| format!("[{c}] "))
                .unwrap_or_default(),
            argv.join(" "),
            if *simulated { " (simulated)" } else { "" }
        ),
        Event::Intervention { kind, detail } => format!("{kind}: {detail}"),
        Event::ClusterReady {
            cluster,
            context,
            server,
            version,
        } => format!(
            "{cluster} -> {} ({server}, {version})",
            context.as_deref().unwrap_or("simulated")
        ),
        _ => return None,
    })
}

fn markdown(report: &RunReport) -> String {
    use std::fmt::Write;
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
        report.status.as_str(),
        super::terminal::human_ms(report.duration_ms),
        report.started_at
    );
    let s = &report.summary;
    let _ = writeln!(
        out,
        "| sections | passed | failed | skipped | not run |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |\n",
        report.sections.len(),
        s.sections_passed,
        s.sections_failed,
        s.sections_skipped,
        s.sections_not_run
    );
    let _ = writeln!(
        out,
        "Objects: {} created, {} configured, {} unchanged, {} deleted. Checks: {} passed, {} failed, {} skipped. Tools run: {}.\n",
        s.created, s.configured, s.unchanged, s.deleted, s.checks_passed, s.checks_failed, s.checks_skipped, s.tools_run
    );
    if !report.events.is_empty() {
        let _ = writeln!(out, "## Set-up\n");
        for e in report.events.iter().filter_map(event_line) {
            let _ = writeln!(out, "- {}", e.replace('\n', " "));
        }
        out.push('\n');
    }
    for section in &report.sections {
        let mark = match section.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Skipped => "–",
            Status::NotRun => "·",
        };
        let _ = writeln!(
            out,
            "## {mark} {} ({}, {})\n",
            section.title,
            section.status.as_str(),
            super::terminal::human_ms(section.duration_ms)
        );
        for step in &section.steps {
            let _ = writeln!(
                out,
                "- step **{}**: {} ({})",
                step.title,
                step.status.as_str(),
                super::terminal::human_ms(step.duration_ms)
            );
        }
        if !section.steps.is_empty() {
            out.push('\n');
        }
        let lines: Vec<String> = section.events.iter().filter_map(event_line).collect();
        if !lines.is_empty() {
            out.push_str("```text\n");
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
            out.push_str("```\n\n");
        }
        if let Some(err) = &section.error {
            let _ = writeln!(out, "**Error:**\n\n```text\n{err}\n```\n");
        }
    }
    if let Some(bundle) = &report.bundle {
        let _ = writeln!(out, "## Diagnostics\n\n```text\n{bundle}\n```");
    }
    out
}

/// Writes a report file; the format comes from its extension.
pub fn write(path: &Path, report: &RunReport, redactor: &Redactor) -> Result<(), String> {
    let format = Format::from_path(path).ok_or_else(|| {
        format!(
            "cannot tell the report format of `{}`: use a .json, .xml (JUnit), .md (Markdown) or .html file name",
            path.display()
        )
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    std::fs::write(path, render(report, format, redactor))
        .map_err(|e| format!("cannot write report `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::{CheckStatus, Status};
    use crate::report::record::Recorder;

    fn sample() -> RunReport {
        let mut r = Recorder::new(vec!["one".into(), "two".into()]);
        r.record(&Event::RunStarted {
            runbook: "demo".into(),
            title: "Demo".into(),
            target: "simulated".into(),
        });
        r.record(&Event::SectionStarted {
            title: "one".into(),
        });
        r.record(&Event::Say {
            text: "key is sekret-value".into(),
        });
        r.record(&Event::Check {
            name: "page".into(),
            status: CheckStatus::Failed,
            evidence: "got 503".into(),
            trace: Vec::new(),
        });
        r.record(&Event::SectionFinished {
            title: "one".into(),
            status: Status::Failed,
            duration_ms: 12,
            error: Some("expectation failed: sekret-value".into()),
        });
        r.finish()
    }

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(Format::from_path(Path::new("a/r.JSON")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("r.xml")), Some(Format::Junit));
        assert_eq!(Format::from_path(Path::new("r.md")), Some(Format::Markdown));
        assert_eq!(Format::from_path(Path::new("r.txt")), None);
    }

    #[test]
    fn every_format_is_redacted() {
        let red = Redactor::new();
        red.add("sekret-value");
        let rep = sample();
        for f in [Format::Json, Format::Junit, Format::Markdown] {
            let text = render(&rep, f, &red);
            assert!(!text.contains("sekret-value"), "{f:?}: {text}");
            assert!(text.contains("***"), "{f:?}: {text}");
        }
    }

    #[test]
    fn junit_has_a_failure_per_failed_section() {
        let text = render(&sample(), Format::Junit, &Redactor::new());
        assert!(text.contains("<failure"), "{text}");
        assert!(text.contains("name=\"two\""), "{text}");
        assert!(text.contains("<skipped"), "{text}");
    }

    #[test]
    fn json_has_summary_integers() {
        let text = render(&sample(), Format::Json, &Redactor::new());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["summary"]["checks_failed"], 1);
        assert_eq!(v["sections"][1]["status"], "not_run");
        assert_eq!(v["target"], "simulated");
    }
}

//! Report files, chosen by extension: `.json`, `.xml` (JUnit), `.md` (Markdown transcript).
//! Every format is rendered from the same [`RunReport`], redacted field by field before it is
//! rendered (so no escaping or formatting can hide a secret from the mask), then once more as
//! a whole.

use std::path::Path;

use super::record::RunReport;
use super::redact::Redactor;

pub use super::transcript::event_line;

/// A report format, from a file name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Junit,
    Markdown,
}

impl Format {
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Junit),
            "md" | "markdown" => Some(Format::Markdown),
            _ => None,
        }
    }
}

/// Renders a report in a format, with every secret masked.
pub fn render(report: &RunReport, format: Format, redactor: &Redactor) -> String {
    let report = report.redacted(redactor);
    match format {
        Format::Json => {
            let value = serde_json::to_value(&report).unwrap_or_default();
            let value = redactor.redact_json(&value);
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            redactor.redact(&text)
        }
        Format::Junit => redactor.redact(&super::junit::render(&report)),
        Format::Markdown => redactor.redact(&super::markdown::render(&report)),
    }
}

/// Checks, before anything runs, that a report can be written at `path`: its format is
/// known, its directory exists or can be made, and the file can be opened for writing. A
/// file that did not exist is removed again. Errors are the paragraph to print.
pub fn probe(path: &Path) -> Result<(), String> {
    if Format::from_path(path).is_none() {
        return Err(format!(
            "cannot tell the report format of `{}`\nhelp: use a .json, .xml (JUnit) or .md (Markdown) file name",
            path.display()
        ));
    }
    let cannot = |e: std::io::Error| {
        format!(
            "cannot write the report `{}`: {e}\nhelp: choose a path in a writable directory; nothing was run",
            path.display()
        )
    };
    if path.is_dir() {
        return Err(format!(
            "cannot write the report `{}`: it is a directory\nhelp: give a file name ending in .json, .xml or .md; nothing was run",
            path.display()
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(cannot)?;
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(cannot)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Writes a report file; the format comes from its extension.
pub fn write(path: &Path, report: &RunReport, redactor: &Redactor) -> Result<(), String> {
    let format = Format::from_path(path).ok_or_else(|| {
        format!(
            "cannot tell the report format of `{}`: use a .json, .xml (JUnit) or .md (Markdown) file name",
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
    use crate::report::events::{CheckStatus, Event, Status};
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
        red.add("sekret-value").unwrap();
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

//! Report files, chosen by extension: `.json`, `.xml` (JUnit), `.md` (Markdown transcript).
//! Every format is rendered from the same [`RunReport`], redacted field by field before it is
//! rendered (so no escaping or formatting can hide a secret from the mask), then once more as
//! a whole.

use std::path::Path;

use super::record::RunReport;
use super::redact::Redactor;

pub use super::transcript::event_line;

/// A report file that cannot be written (or, before the run, would not be).
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    /// The extension names no report format.
    #[error("cannot tell the report format of `{path}`")]
    UnknownFormat { path: String, probing: bool },
    /// The path is a directory.
    #[error("cannot write the report `{path}`: it is a directory")]
    IsDirectory { path: String },
    /// Found out before the run: the report could not be written there.
    #[error("cannot write the report `{path}`: {source}")]
    Unwritable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The report's directory could not be made after the run.
    #[error("cannot create `{dir}`: {source}")]
    CreateDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    /// The report could not be written after the run.
    #[error("cannot write report `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl crate::base::error::Help for ReportFileError {
    fn help(&self) -> Option<String> {
        Some(match self {
            ReportFileError::UnknownFormat { .. } => {
                "use a .json, .xml (JUnit), .md (Markdown) or .html file name".into()
            }
            ReportFileError::IsDirectory { .. } => {
                "give a file name ending in .json, .xml or .md; nothing was run".into()
            }
            ReportFileError::Unwritable { .. } => {
                "choose a path in a writable directory; nothing was run".into()
            }
            _ => return None,
        })
    }

    /// After the run, an unknown format reads as one sentence (as it always has).
    fn paragraph(&self) -> String {
        match (self, self.help()) {
            (ReportFileError::UnknownFormat { probing: false, .. }, Some(h)) => {
                format!("{self}: {h}")
            }
            (_, Some(h)) => format!("{self}\nhelp: {h}"),
            (_, None) => self.to_string(),
        }
    }
}

crate::base::error::paragraph_into_string!(ReportFileError);

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
        Format::Html => super::html::render(&report, redactor),
    }
}

/// Checks, before anything runs, that a report can be written at `path`: its format is
/// known, its directory exists or can be made, and the file can be opened for writing. A
/// file that did not exist is removed again. Errors are the paragraph to print.
pub fn probe(path: &Path) -> Result<(), ReportFileError> {
    let shown = || path.display().to_string();
    if Format::from_path(path).is_none() {
        return Err(ReportFileError::UnknownFormat {
            path: shown(),
            probing: true,
        });
    }
    let cannot = |source: std::io::Error| ReportFileError::Unwritable {
        path: shown(),
        source,
    };
    if path.is_dir() {
        return Err(ReportFileError::IsDirectory { path: shown() });
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
pub fn write(path: &Path, report: &RunReport, redactor: &Redactor) -> Result<(), ReportFileError> {
    let format = Format::from_path(path).ok_or_else(|| ReportFileError::UnknownFormat {
        path: path.display().to_string(),
        probing: false,
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ReportFileError::CreateDir {
            dir: dir.display().to_string(),
            source,
        })?;
    }
    std::fs::write(path, render(report, format, redactor)).map_err(|source| {
        ReportFileError::Write {
            path: path.display().to_string(),
            source,
        }
    })
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

    /// A run with a simulated pass, a skipped check, an unverified section, a retried
    /// section and a section skipped with `--skip`.
    fn honest() -> RunReport {
        let mut r = Recorder::new(vec![
            "sim".into(),
            "unverified".into(),
            "retried".into(),
            "skipped".into(),
        ]);
        let check = |status, name: &str| Event::Check {
            name: name.into(),
            status,
            evidence: "HTTP 200".into(),
            trace: vec!["served by cluster2/productpage-v1".into()],
        };
        let finished = |title: &str, status, error: Option<&str>| Event::SectionFinished {
            title: title.into(),
            status,
            duration_ms: 1,
            error: error.map(String::from),
        };
        r.record(&Event::RunStarted {
            runbook: "demo".into(),
            title: "Demo".into(),
            target: "simulated".into(),
        });
        r.record(&Event::SectionStarted {
            title: "sim".into(),
        });
        r.record(&check(CheckStatus::Simulated, "page served"));
        r.record(&finished("sim", Status::Passed, None));
        r.record(&Event::SectionStarted {
            title: "unverified".into(),
        });
        r.record(&check(CheckStatus::Skipped, "no model"));
        r.record(&finished(
            "unverified",
            Status::Unverified,
            Some("no check answered: its only check was skipped"),
        ));
        r.record(&Event::SectionStarted {
            title: "retried".into(),
        });
        r.record(&check(CheckStatus::Failed, "ready"));
        r.record(&Event::AttemptFailed {
            title: "retried".into(),
            attempt: 1,
            duration_ms: 2,
            error: "expectation failed: ready".into(),
        });
        r.record(&check(CheckStatus::Passed, "ready"));
        r.record(&finished("retried", Status::Passed, None));
        r.record(&finished("skipped", Status::Skipped, Some("--skip")));
        r.finish()
    }

    #[test]
    fn junit_tells_simulated_skipped_unverified_and_retried_apart() {
        let text = render(&honest(), Format::Junit, &Redactor::new());
        // A simulated pass is named and marked so, with its trace.
        assert!(text.contains("name=\"page served (simulated)\""), "{text}");
        assert!(
            text.contains("<property name=\"simulated\" value=\"true\"/>"),
            "{text}"
        );
        assert!(
            text.contains("trace: served by cluster2/productpage-v1"),
            "{text}"
        );
        // A skipped check is <skipped/>, and its section is not passed.
        assert!(
            text.contains("<skipped message=\"skipped: HTTP 200\"/>"),
            "{text}"
        );
        assert!(
            text.contains("value=\"unverified (no check answered)\""),
            "{text}"
        );
        // The failed attempt stays visible.
        assert!(text.contains("<flakyFailure"), "{text}");
        assert!(text.contains("value=\"passed after 1 retry\""), "{text}");
        assert!(
            text.contains("<skipped message=\"skipped (--skip)\"/>"),
            "{text}"
        );
        assert!(!text.contains("<failure"), "{text}");
    }

    #[test]
    fn json_and_markdown_say_what_happened() {
        let text = render(&honest(), Format::Json, &Redactor::new());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["headline"], "passed after 1 retry");
        assert_eq!(v["summary"]["checks_simulated"], 1);
        assert_eq!(v["summary"]["checks_passed"], 1);
        assert_eq!(v["summary"]["checks_skipped"], 1);
        assert_eq!(v["summary"]["sections_unverified"], 1);
        assert_eq!(v["summary"]["sections_passed"], 2);
        assert_eq!(v["summary"]["retries"], 1);
        assert_eq!(v["sections"][1]["status"], "unverified");
        assert_eq!(v["sections"][2]["attempts"][0]["checks"]["failed"], 1);
        assert_eq!(v["sections"][2]["checks"]["passed"], 1);
        assert_eq!(v["sections"][3]["reason"], "--skip");
        assert!(v["sections"][3]["error"].is_null());
        let md = render(&honest(), Format::Markdown, &Redactor::new());
        for line in [
            "**passed after 1 retry**",
            "## ? unverified — unverified (no check answered)",
            "## ✓ retried — passed after 1 retry",
            "### Attempt 1: failed",
            "## – skipped — skipped (--skip)",
            "check passed (simulated): page served: HTTP 200",
            "    trace: served by cluster2/productpage-v1",
            "1 passed (simulated)",
        ] {
            assert!(md.contains(line), "{line:?} not in\n{md}");
        }
    }

    #[test]
    fn secrets_escaped_by_a_format_are_masked_before_it_escapes_them() {
        let red = Redactor::new();
        red.add("a<b&\"c'd").unwrap();
        let mut r = Recorder::new(vec!["s".into()]);
        r.record(&Event::SectionStarted { title: "s".into() });
        r.record(&Event::Say {
            text: "value a<b&\"c'd".into(),
        });
        r.record(&Event::SectionFinished {
            title: "s".into(),
            status: Status::Failed,
            duration_ms: 1,
            error: Some("bad a<b&\"c'd".into()),
        });
        let rep = r.finish();
        for f in [Format::Json, Format::Junit, Format::Markdown] {
            let text = render(&rep, f, &red);
            assert!(
                !text.contains("a&lt;b") && !text.contains("b&amp;"),
                "{f:?}: {text}"
            );
            assert!(
                !text.contains("a<b") && !text.contains("c'd"),
                "{f:?}: {text}"
            );
            assert!(text.contains("value ***"), "{f:?}: {text}");
        }
    }

    #[test]
    fn report_paths_are_probed_without_leaving_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/r.json");
        probe(&path).unwrap();
        assert!(!path.exists());
        use crate::base::error::Help;
        let e = probe(Path::new("/proc/nope/r.json")).unwrap_err();
        assert!(matches!(e, ReportFileError::Unwritable { .. }), "{e:?}");
        assert!(e.help().unwrap().contains("nothing was run"));
        assert!(probe(dir.path()).is_err());
        std::fs::create_dir(dir.path().join("d.json")).unwrap();
        assert!(matches!(
            probe(&dir.path().join("d.json")),
            Err(ReportFileError::IsDirectory { .. })
        ));
        let e = probe(&dir.path().join("r.txt")).unwrap_err();
        assert_eq!(
            String::from(e),
            format!(
                "cannot tell the report format of `{}`\nhelp: use a .json, .xml (JUnit), .md (Markdown) or .html file name",
                dir.path().join("r.txt").display()
            )
        );
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

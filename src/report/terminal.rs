//! The terminal view of a run: section and step progress with elapsed times, a spinner on a
//! TTY, plain lines in a pipe, colours only where they help (never with `NO_COLOR`).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::events::{ApplyOutcome, CheckStatus, Event, Status};

/// How much to show: `-q` is -1, default 0, `-v` 1, `-vv` 2.
pub type Verbosity = i8;

#[derive(Clone, Copy, Debug)]
pub struct TerminalOptions {
    pub color: bool,
    pub tty: bool,
    pub verbosity: Verbosity,
}

impl TerminalOptions {
    /// Detects a terminal on stdout and honours `NO_COLOR` and `CLICOLOR_FORCE`.
    pub fn detect(verbosity: Verbosity) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let force = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
        TerminalOptions {
            color: !no_color && (tty || force),
            tty,
            verbosity,
        }
    }

    pub fn plain() -> Self {
        TerminalOptions {
            color: false,
            tty: false,
            verbosity: 0,
        }
    }
}

/// Formats milliseconds the way people read durations: `250ms`, `1.4s`, `2m05s`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

pub struct Terminal {
    opts: TerminalOptions,
    spinner: Option<ProgressBar>,
    /// What the spinner shows when no wait is in progress.
    spinner_title: String,
    step_depth: usize,
    /// Failed attempts of the section in progress (`:retry`).
    retries: u32,
}

impl Terminal {
    pub fn new(opts: TerminalOptions) -> Self {
        Terminal {
            opts,
            spinner: None,
            spinner_title: String::new(),
            step_depth: 0,
            retries: 0,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.opts.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn indent(&self) -> String {
        "  ".repeat(self.step_depth + 1)
    }

    fn line(&self, text: &str) {
        match &self.spinner {
            Some(pb) => pb.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
        }
    }

    fn status_mark(&self, status: Status) -> String {
        match status {
            Status::Passed => self.paint("32", "✓"),
            Status::Failed => self.paint("31", "✗"),
            Status::Skipped => self.paint("33", "–"),
            Status::Unverified => self.paint("33", "?"),
            Status::NotRun | Status::Stopped => self.paint("2", "·"),
        }
    }

    fn start_spinner(&mut self, title: &str) {
        if !self.opts.tty || self.opts.verbosity < 0 {
            return;
        }
        self.stop_spinner();
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        pb.set_style(
            ProgressStyle::with_template("{prefix}{spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_prefix(self.indent());
        pb.set_message(title.to_string());
        pb.enable_steady_tick(Duration::from_millis(100));
        self.spinner = Some(pb);
        self.spinner_title = title.to_string();
    }

    fn stop_spinner(&mut self) {
        if let Some(pb) = self.spinner.take() {
            pb.finish_and_clear();
        }
    }

    /// Shows one event (already redacted text is produced by the caller's redactor).
    pub fn show(&mut self, event: &Event, redact: &dyn Fn(&str) -> String) {
        let v = self.opts.verbosity;
        match event {
            Event::RunStarted {
                runbook,
                title,
                target,
            } => {
                let head = format!("meshbook · {title} ({runbook}) · {target}");
                self.line(&self.paint("1", &redact(&head)));
            }
            Event::ClusterReady {
                cluster,
                context,
                server,
                version,
            } => {
                if v >= 0 {
                    let ctx = context.as_deref().unwrap_or("simulated");
                    self.line(&redact(&format!(
                        "{cluster} -> {ctx} ({server}, {version})"
                    )));
                }
            }
            Event::SectionStarted { title } => {
                self.stop_spinner();
                self.step_depth = 0;
                self.retries = 0;
                self.line(&format!(
                    "\n{} {}",
                    self.paint("36", "▶"),
                    self.paint("1", &redact(title))
                ));
                self.start_spinner(&redact(title));
            }
            Event::AttemptFailed {
                title,
                attempt,
                duration_ms,
                ..
            } => {
                self.stop_spinner();
                self.step_depth = 0;
                self.retries += 1;
                self.line(&format!(
                    "{} {}  {}  {}",
                    self.status_mark(Status::Failed),
                    self.paint("1", &redact(title)),
                    self.paint("2", &human_ms(*duration_ms)),
                    self.paint("33", &format!("attempt {attempt} failed; running it again"))
                ));
                self.start_spinner(&redact(title));
            }
            Event::SectionFinished {
                title,
                status,
                duration_ms,
                error,
            } => {
                self.stop_spinner();
                self.step_depth = 0;
                let time = self.paint("2", &human_ms(*duration_ms));
                let why = error.as_deref().map(redact);
                let title = redact(title);
                let text = match status {
                    Status::Skipped => format!(
                        "\n{} {title}  skipped ({})",
                        self.status_mark(*status),
                        why.as_deref().unwrap_or("skipped")
                    ),
                    Status::Unverified => format!(
                        "{} {}  {time}  {}",
                        self.status_mark(*status),
                        self.paint("1", &title),
                        self.paint(
                            "33",
                            &format!(
                                "unverified: {}",
                                why.as_deref().unwrap_or("no check answered")
                            )
                        )
                    ),
                    Status::Passed if self.retries > 0 => format!(
                        "{} {}  {time}  {}",
                        self.status_mark(*status),
                        self.paint("1", &title),
                        self.paint(
                            "33",
                            &format!(
                                "passed after {}",
                                super::record::retries(u64::from(self.retries))
                            )
                        )
                    ),
                    _ => format!(
                        "{} {}  {time}",
                        self.status_mark(*status),
                        self.paint("1", &title)
                    ),
                };
                self.line(&text);
                self.retries = 0;
            }
            Event::StepStarted { title } => {
                self.step_depth += 1;
                self.start_spinner(&redact(title));
            }
            Event::StepFinished {
                title,
                status,
                duration_ms,
                ..
            } => {
                self.stop_spinner();
                self.step_depth = self.step_depth.saturating_sub(1);
                if v >= 0 || *status == Status::Failed {
                    let note = if *status == Status::Unverified {
                        format!("  {}", self.paint("33", status.describe()))
                    } else {
                        String::new()
                    };
                    self.line(&format!(
                        "{}{} {}  {}{note}",
                        self.indent(),
                        self.status_mark(*status),
                        redact(title),
                        self.paint("2", &human_ms(*duration_ms))
                    ));
                }
            }
            Event::Say { text } => {
                if v >= 0 {
                    for l in redact(text).lines() {
                        self.line(&format!("{}{l}", self.indent()));
                    }
                }
            }
            Event::Notice { text } => {
                self.line(&format!(
                    "{}{} {}",
                    self.indent(),
                    self.paint("33", "note:"),
                    redact(text)
                ));
            }
            Event::Applied { outcome, .. } => {
                let show = match outcome {
                    ApplyOutcome::Unchanged => v >= 1,
                    _ => v >= 0,
                };
                if show {
                    self.detail(event, redact);
                }
            }
            Event::Check {
                name,
                status,
                evidence,
                trace,
            } => {
                if v >= 0 || *status == CheckStatus::Failed {
                    let mark = match status {
                        CheckStatus::Passed => self.paint("32", "✓"),
                        CheckStatus::Failed => self.paint("31", "✗"),
                        CheckStatus::Skipped => self.paint("33", "– skipped"),
                        CheckStatus::Simulated => self.paint("36", "✓ passed (simulated)"),
                    };
                    let text = redact(&format!("check {name}: {evidence}"));
                    self.line(&format!("{}  {mark} {text}", self.indent()));
                    // The evidence of why the simulated data plane answered so: on a failure,
                    // and with -v.
                    if *status == CheckStatus::Failed || v >= 1 {
                        for hop in trace {
                            self.line(&format!(
                                "{}      {}",
                                self.indent(),
                                self.paint("2", &format!("trace: {}", redact(hop)))
                            ));
                        }
                    }
                }
            }
            Event::ToolLine { label, line } => {
                if v >= 0 {
                    let text = format!(
                        "{}  {} {}",
                        self.indent(),
                        self.paint("2", &format!("[{label}]")),
                        line
                    );
                    self.line(&redact(&text));
                }
            }
            Event::Operation { .. } => {
                if v >= 1 {
                    self.detail(event, redact);
                }
            }
            Event::Deleted { existed: false, .. } => {
                if v >= 1 {
                    self.detail(event, redact);
                }
            }
            Event::Deleted { .. }
            | Event::WaitSatisfied { .. }
            | Event::ToolRun { .. }
            | Event::Intervention { .. } => {
                if v >= 0 {
                    self.detail(event, redact);
                }
            }
            Event::Stopped { .. } => {}
            Event::RunFinished { .. } => self.stop_spinner(),
            // For the report files only: the check itself is shown by its `Check` or `Say`.
            Event::Parameters { .. } | Event::Traffic { .. } => {}
            // On a terminal, the spinner's line says what a wait waits for and last saw.
            Event::WaitProgress { text, .. } => {
                if let Some(pb) = &self.spinner {
                    pb.set_message(format!(
                        "{} {}",
                        self.spinner_title,
                        self.paint("2", &format!("· {}", redact(text)))
                    ));
                }
            }
        }
    }

    fn detail(&self, event: &Event, redact: &dyn Fn(&str) -> String) {
        let timed = super::record::TimedEvent {
            at_ms: 0,
            event: event.clone(),
        };
        if let Some(text) = super::transcript::event_line(&timed) {
            self.line(&format!(
                "{}  {}",
                self.indent(),
                self.paint("2", &redact(&text))
            ));
        }
    }

    /// Clears any spinner before something else writes to the terminal.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.spinner {
            Some(pb) => pb.suspend(f),
            None => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(1400), "1.4s");
        assert_eq!(human_ms(125_000), "2m05s");
    }
}

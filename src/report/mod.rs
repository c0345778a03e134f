//! Events and their consumers: the terminal view and the report files.

pub mod events;
pub mod files;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod record;
pub mod redact;
pub mod run_report;
pub mod tally;
pub mod terminal;
pub mod transcript;

use std::sync::Mutex;

pub use events::{ApplyOutcome, CheckStatus, Event, Status, TrafficAttempt, TrafficCount};
pub use record::{Recorder, RunReport};
pub use redact::Redactor;
pub use terminal::{Terminal, TerminalOptions};

/// Receives every event of a run, shows it and records it. Shared by all bindings.
pub struct Reporter {
    redactor: Redactor,
    inner: Mutex<Inner>,
}

struct Inner {
    tally: tally::Tally,
    terminal: Terminal,
    recorder: Recorder,
}

impl Reporter {
    pub fn new(redactor: Redactor, opts: TerminalOptions, planned_sections: Vec<String>) -> Self {
        Reporter {
            redactor,
            inner: Mutex::new(Inner {
                tally: tally::Tally::default(),
                terminal: Terminal::new(opts),
                recorder: Recorder::new(planned_sections),
            }),
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Shows and records one event. A section or step whose checks were all skipped is
    /// made unverified first, so every sink agrees. What is shown is redacted field by field
    /// (then as rendered); the record keeps the raw event, redacted when a report is written,
    /// so a secret registered later is masked in earlier events too.
    pub fn emit(&self, event: Event) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let event = inner.tally.adjust(event);
        let red = |s: &str| self.redactor.redact(s);
        let shown = event.map_text(&red);
        tracing::debug!(event = %red(&format!("{shown:?}")), "event");
        inner.terminal.show(&shown, &red);
        inner.recorder.record(&event);
    }

    /// Runs `f` (which may write to the terminal or read input) with any spinner hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.terminal.suspend(f)
    }

    /// The section titles the runbook declares, in order.
    pub fn set_plan(&self, planned: Vec<String>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.recorder.set_plan(planned);
    }

    pub fn set_bundle(&self, bundle: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.recorder.set_bundle(bundle);
    }

    pub fn elapsed_ms(&self) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.recorder.elapsed_ms()
    }

    /// The report as it stands (planned sections not reached are listed as not run).
    pub fn report(&self) -> RunReport {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.recorder.finish()
    }
}

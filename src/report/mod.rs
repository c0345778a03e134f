//! Events and their consumers: the terminal view and the report files.

pub mod events;
pub mod files;
pub mod html;
pub mod record;
pub mod redact;
pub mod terminal;

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
    terminal: Terminal,
    recorder: Recorder,
}

impl Reporter {
    pub fn new(redactor: Redactor, opts: TerminalOptions, planned_sections: Vec<String>) -> Self {
        Reporter {
            redactor,
            inner: Mutex::new(Inner {
                terminal: Terminal::new(opts),
                recorder: Recorder::new(planned_sections),
            }),
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn emit(&self, event: Event) {
        tracing::debug!(event = %self.redactor.redact(&format!("{event:?}")), "event");
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let red = |s: &str| self.redactor.redact(s);
        inner.terminal.show(&event, &red);
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

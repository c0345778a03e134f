//! tracing to stderr, off unless asked (`-vv`, or `MESHBOOK_LOG=debug`). Every line goes
//! through the run's redactor, so a secret a core module happens to log is masked too.

use std::io::Write;
use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::report::Redactor;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Shares the run's secrets with the log writer (the first run of the process wins).
pub fn set_redactor(redactor: &Redactor) {
    let _ = REDACTOR.set(redactor.clone());
}

/// `text` masked with the run's secrets (for output that bypasses the reporter: panics).
pub fn redact(text: &str) -> String {
    match REDACTOR.get() {
        Some(r) => r.redact(text),
        None => text.to_string(),
    }
}

/// A stderr writer that masks secrets line by line.
struct RedactingWriter;

impl Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = match REDACTOR.get() {
            Some(r) => r.redact(&text),
            None => text.into_owned(),
        };
        std::io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

struct MakeRedacting;

impl<'a> MakeWriter<'a> for MakeRedacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter
    }
}

pub fn init(verbosity: i8) {
    let filter = match std::env::var("MESHBOOK_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::new(f),
        _ => EnvFilter::new(match verbosity {
            v if v >= 3 => "meshbook=trace,kube=debug",
            2 => "meshbook=debug",
            _ => "off",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeRedacting)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

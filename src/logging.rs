//! tracing to stderr, off unless asked (`-vv`, or `MESHBOOK_LOG=debug`). Events are rendered by
//! the reporter, which redacts them; logs carry only redacted text.

use tracing_subscriber::EnvFilter;

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
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

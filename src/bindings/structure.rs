//! Runbook output and checks: `say`, `expect`, `sleep`, `open`. (Sections, steps, clean-up
//! and `pause` are the engine's: see `engine::runner`.)

use std::sync::Arc;

use rhai::{Dynamic, Engine};

use super::convert::{duration, fail, RhaiResult};
use super::Def;
use crate::report::{CheckStatus, Event};
use crate::session::Session;

pub fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    Def::new("structure", "say", &["text: ?", "()"])
        .doc("Prints a line of the transcript (secrets are masked).")
        .example(r#"say("Bookinfo is installed on " + cluster("cluster1").name);"#)
        .register(engine, move |text: Dynamic| {
            s.emit(Event::Say {
                text: text.to_string(),
            });
        });
    let s = session.clone();
    Def::new("structure", "expect", &["condition: bool", "message: string", "()"])
        .doc("Fails the current step with `message` unless `condition` is true; counted as a check.")
        .example(r#"let d = cluster("cluster1").get("deploy", "productpage-v1", "bookinfo"); expect(d != (), "productpage is deployed");"#)
        .register(engine, move |cond: bool, message: &str| -> RhaiResult<()> {
            if cond {
                s.emit(Event::Check {
                    name: message.to_string(),
                    status: CheckStatus::Passed,
                    evidence: "expectation held".into(),
                    trace: Vec::new(),
                });
                Ok(())
            } else if s.dry_run {
                // Nothing was changed before it: the expectation cannot be judged.
                s.emit(Event::Check {
                    name: message.to_string(),
                    status: CheckStatus::Skipped,
                    evidence: "dry run: did not hold, and the changes before it were not made"
                        .into(),
                    trace: Vec::new(),
                });
                Ok(())
            } else {
                s.emit(Event::Check {
                    name: message.to_string(),
                    status: CheckStatus::Failed,
                    evidence: "expectation did not hold".into(),
                    trace: Vec::new(),
                });
                Err(fail(format!("expectation failed: {message}")))
            }
        });
    let s = session.clone();
    Def::new("structure", "sleep", &["duration: string|int", "()"])
        .doc("Waits for a duration such as \"2s\" or \"500ms\" (prefer the wait_* functions, which watch).")
        .example(r#"sleep("2s");"#)
        .register(engine, move |d: Dynamic| -> RhaiResult<()> {
            let d = duration(&d)?;
            s.sleep(d);
            Ok(())
        });
    let s = session.clone();
    Def::new("structure", "open", &["url: string", "()"])
        .doc("Shows a URL to open in a browser (opened for you only with MESHBOOK_OPEN=1 on a terminal).")
        .example(r#"open("http://localhost:20001/kiali");"#)
        .register(engine, move |url: &str| {
            s.emit(Event::Say { text: format!("open {url}") });
            if s.interactive && std::env::var("MESHBOOK_OPEN").is_ok_and(|v| v == "1") {
                let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
                let _ = std::process::Command::new(opener)
                    .arg(url)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
            }
        });
}

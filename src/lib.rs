//! meshbook: runbooks for multi-cluster service meshes.
//!
//! Layers (data flows down, events flow up):
//! `cli` -> `engine` (Rhai) -> `bindings` (thin adapters) -> core (`k8s`, `http`, `tools`,
//! `template`, `sim`). `report` consumes events; `repl` evaluates in a runbook's own scope.

pub mod assets;
pub mod base;
pub mod bindings;
pub mod checkpoint;
pub mod cli;
pub mod engine;
pub mod fleet;
pub mod http;
pub mod k8s;
pub mod logging;
pub mod manifests;
pub mod problem;
pub mod repl;
pub mod report;
pub mod runbook;
pub mod session;
pub mod sim;
pub mod suggest;
pub mod syntax;
pub mod template;
pub mod toolrun;
pub mod tools;

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs the command line and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    install_panic_hook();
    cli::main(args)
}

/// A closed pipe (`meshbook list | head`) ends the process quietly with 0, as ripgrep and
/// cargo do; any other panic is a meshbook bug, reported in one paragraph without a Rust
/// backtrace (set `MESHBOOK_BACKTRACE=1` to get one).
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let message = logging::redact(message);
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        if std::env::var_os("MESHBOOK_BACKTRACE").is_some() {
            default(info);
            return;
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: meshbook hit an internal error{place}: {message}\nhelp: this is a bug in meshbook, not in your runbook; please report it with the command you ran (MESHBOOK_BACKTRACE=1 adds a backtrace)"
        );
    }));
}

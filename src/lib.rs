//! meshbook: runbooks for multi-cluster service meshes.
//!
//! Layers (data flows down, events flow up):
//! `cli` -> `engine` (Rhai) -> `bindings` (thin adapters) -> core (`k8s`, `http`, `tools`,
//! `template`, `sim`). `report` consumes events; `repl` evaluates in a runbook's own scope.

pub mod assets;
pub mod bindings;
pub mod cli;
pub mod diagnostic;
pub mod engine;
pub mod fleet;
pub mod http;
pub mod k8s;
pub mod logging;
pub mod manifests;
pub mod repl;
pub mod report;
pub mod runbook;
pub mod session;
pub mod sim;
pub mod template;
pub mod tools;

use std::ffi::OsString;
use std::process::ExitCode;

/// Runs the command line and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    cli::main(args)
}

//! The one integration-test binary: every file here is a module.

mod cli;
mod http;
mod k8s;
mod readme;
mod repl;
mod report_html;
mod runbooks;
mod sim;
mod support;
mod targets;
mod tools;

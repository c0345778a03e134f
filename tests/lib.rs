//! The one integration-test binary: every file here is a module.

mod cli;
mod dataplane;
mod first_hour;
mod http;
mod k8s;
mod layers;
mod lifecycle;
mod newcomer;
mod readme;
mod redaction;
mod repl;
mod report_html;
mod reports;
mod runbooks;
mod sim;
mod support;
mod targets;
mod tools;

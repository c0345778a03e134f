//! The one integration-test binary: every file here is a module.

mod cli;
mod dataplane;
mod http;
mod k8s;
mod lifecycle;
mod readme;
mod repl;
mod runbooks;
mod sim;
mod support;
mod targets;
mod tools;

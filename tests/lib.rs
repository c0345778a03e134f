//! The one integration-test binary: every file here is a module.

mod cli;
mod http;
mod support;
mod tools;

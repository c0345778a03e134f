//! Handlebars rendering of runbook templates: the one strict setup of
//! [`crate::base::template`] (its helpers included).

pub use crate::base::template::{render, TemplateError};

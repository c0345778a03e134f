//! [`CliError`]: every failure of a command, rendered in one place with its exit code.

use std::fmt;

use super::exit;
use crate::engine::diagnostic::Diagnostic;
use crate::problem::Problem;

/// A command that could not do its work: the message, what to do, and the exit code.
#[derive(Debug)]
pub struct CliError {
    message: String,
    help: Option<String>,
    /// Already rendered as a whole (a diagnostic with its source excerpt).
    rendered: Option<String>,
    code: u8,
}

impl CliError {
    /// A command that could not start (exit code 2).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            help: None,
            rendered: None,
            code: exit::CANNOT_START,
        }
    }

    /// Text already rendered as a whole (diagnostics with their source excerpts).
    pub fn rendered(text: String) -> Self {
        CliError {
            rendered: Some(text),
            ..CliError::new(String::new())
        }
    }

    /// Any error's text, as a command that could not start.
    pub fn start(e: impl fmt::Display) -> Self {
        CliError::new(e.to_string())
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same error, its message prefixed (`"FILE: "`).
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// The same error with another exit code (1: the work failed).
    pub fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// The exit code a script can rely on (2: could not start).
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Prints the error as one paragraph on stderr, secrets masked, and returns its code.
    pub fn report(&self) -> u8 {
        eprintln!("{}", crate::logging::redact(self.to_string().trim_end()));
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = &self.rendered {
            let text = text.trim_end();
            return match text.strip_prefix("error: ") {
                Some(_) => f.write_str(text),
                None => write!(f, "error: {text}"),
            };
        }
        write!(f, "error: {}", self.message.trim_end())?;
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

impl From<Problem> for CliError {
    fn from(p: Problem) -> Self {
        CliError {
            message: p.message,
            help: p.help,
            rendered: None,
            code: exit::CANNOT_START,
        }
    }
}

impl From<Diagnostic> for CliError {
    fn from(d: Diagnostic) -> Self {
        CliError {
            message: d.message.clone(),
            help: d.help.clone(),
            rendered: Some(d.to_string()),
            code: exit::CANNOT_START,
        }
    }
}

impl From<Box<Diagnostic>> for CliError {
    fn from(d: Box<Diagnostic>) -> Self {
        CliError::from(*d)
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::new(message)
    }
}

impl From<crate::runbook::LoadError> for CliError {
    fn from(e: crate::runbook::LoadError) -> Self {
        CliError::start(e)
    }
}

impl From<crate::k8s::K8sError> for CliError {
    fn from(e: crate::k8s::K8sError) -> Self {
        CliError::start(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_paragraph_with_help_and_code_2() {
        let e =
            CliError::from(Problem::new("no runbook `x`").with_help("`meshbook list` lists them"));
        assert_eq!(
            e.to_string(),
            "error: no runbook `x`\nhelp: `meshbook list` lists them"
        );
        assert_eq!(e.code(), 2);
    }
}

//! What every typed error of the core can say besides its message: what to do about it.

/// An error with an optional "what to do" line. Its `Display` is the message alone; the help
/// is shown apart (the CLI's `help:` line), and [`Help::paragraph`] joins the two for a
/// caller that only carries text (a Rhai runtime error).
pub trait Help: std::fmt::Display {
    /// The message without what [`Help::help`] says apart (the `Display` text by default).
    fn message(&self) -> String {
        self.to_string()
    }

    /// What to do, when there is something useful to say.
    fn help(&self) -> Option<String> {
        None
    }

    /// The message, then `help: ...` on a line of its own when there is help.
    fn paragraph(&self) -> String {
        match self.help() {
            Some(h) => format!("{}\nhelp: {h}", self.message()),
            None => self.message(),
        }
    }
}

/// `impl From<$t> for Problem` (message and help apart, for the engine and the CLI) and
/// `impl From<$t> for String` through [`Help::paragraph`] (for a caller that only holds text:
/// a notice, a binding's `fail`), so that neither loses the help.
macro_rules! paragraph_into_string {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for String {
            fn from(e: $t) -> String {
                $crate::base::error::Help::paragraph(&e)
            }
        }
        impl From<$t> for $crate::problem::Problem {
            fn from(e: $t) -> Self {
                $crate::problem::Problem {
                    message: $crate::base::error::Help::message(&e),
                    help: $crate::base::error::Help::help(&e),
                }
            }
        }
    )*};
}
pub(crate) use paragraph_into_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("it broke")]
    struct E;
    impl Help for E {
        fn help(&self) -> Option<String> {
            Some("mend it".into())
        }
    }
    paragraph_into_string!(E);

    #[test]
    fn paragraph_joins_message_and_help() {
        assert_eq!(E.to_string(), "it broke");
        assert_eq!(String::from(E), "it broke\nhelp: mend it");
        let p = crate::problem::Problem::from(E);
        assert_eq!(
            (p.message.as_str(), p.help()),
            ("it broke", Some("mend it"))
        );
    }
}

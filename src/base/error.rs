//! What every typed error of the core can say besides its message: what to do about it.

/// An error with an optional "what to do" line. Its `Display` is the message alone; the help
/// is shown apart (the CLI's `help:` line), and [`Help::paragraph`] joins the two for a
/// caller that only carries text (a Rhai runtime error).
pub trait Help: std::fmt::Display {
    /// What to do, when there is something useful to say.
    fn help(&self) -> Option<String> {
        None
    }

    /// The message, then `help: ...` on a line of its own when there is help.
    fn paragraph(&self) -> String {
        match self.help() {
            Some(h) => format!("{self}\nhelp: {h}"),
            None => self.to_string(),
        }
    }
}

/// `impl From<$t> for String` through [`Help::paragraph`], so that a caller holding text (a
/// binding's `fail`, the CLI's `Result<_, String>`) keeps the help line.
#[macro_export]
macro_rules! paragraph_into_string {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for String {
            fn from(e: $t) -> String {
                $crate::base::error::Help::paragraph(&e)
            }
        }
    )*};
}

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
    }
}

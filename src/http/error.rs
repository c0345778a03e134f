//! Errors in what a script asked for (options and expectations), found before anything is sent.
//! Network failures are not errors: they are a [`super::Response`] with status 0.

/// A malformed request option or expectation.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A `resolve` entry not of the form `host:port:addr`.
    #[error("invalid `resolve` entry `{entry}`: {reason}; write it as curl's --resolve does, e.g. `bookinfo.example.com:443:172.18.255.1`")]
    InvalidResolve {
        /// The entry as given.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `/regex/` matcher that does not compile.
    #[error("invalid regular expression `{pattern}` in `{field}`; check its syntax, or write text without the surrounding `/`")]
    InvalidRegex {
        /// The expectation or option it came from (`contains`, `key`, ...).
        field: String,
        /// The pattern between the slashes.
        pattern: String,
        /// The regex crate's explanation.
        #[source]
        source: regex::Error,
    },
    /// The HTTP client could not be built for the request's options.
    #[error("could not build an HTTP client: {0}")]
    Client(String),
    /// A URL that cannot be parsed or has no host.
    #[error("invalid url `{url}`: {reason}; write a full url such as `http://localhost:8080/productpage`")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

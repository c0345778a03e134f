//! What a request is: method, headers, body, timeout, TLS, address overrides, redirects.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::HttpError;

/// Options of one HTTP request, shared by `curl`, `expect_http`, `sample` and the in-pod variants.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOptions {
    /// The request method (`GET` by default).
    pub method: http::Method,
    /// Request headers in order. A `Host` header is sent as the request's Host (the TLS SNI still
    /// comes from the URL; use `resolve` to reach an address with the right name).
    pub headers: Vec<(String, String)>,
    /// The request body, sent as is.
    pub body: Option<String>,
    /// The whole request (connect, send, read the body) must finish within this time.
    pub timeout: Duration,
    /// Accept any TLS certificate. Off unless asked for explicitly.
    pub insecure: bool,
    /// Address overrides, as `curl --resolve host:port:addr`.
    pub resolve: Vec<Resolve>,
    /// Follow redirects (at most 10), like `curl -L`. Off by default, as in curl.
    pub follow_redirects: bool,
}

/// The default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            method: http::Method::GET,
            headers: Vec::new(),
            body: None,
            timeout: DEFAULT_TIMEOUT,
            insecure: false,
            resolve: Vec::new(),
            follow_redirects: false,
        }
    }
}

/// One `host:port:addr` override: requests to `host` on `port` connect to `addrs` instead of
/// asking DNS, while Host and SNI stay `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// The name as written in the URL.
    pub host: String,
    /// The port it applies to (as curl, only URLs with this port are redirected).
    pub port: u16,
    /// Where to connect instead (curl accepts several, comma separated).
    pub addrs: Vec<IpAddr>,
}

impl Resolve {
    /// Parses `host:port:addr[,addr...]`; IPv6 addresses may be bracketed (`h:443:[::1]`).
    ///
    /// # Errors
    /// [`HttpError::InvalidResolve`] for anything else.
    pub fn parse(entry: &str) -> Result<Resolve, HttpError> {
        let invalid = |reason: &str| HttpError::InvalidResolve {
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = entry.trim().splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected three parts separated by `:`"));
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                let a = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                a.parse::<IpAddr>()
                    .map_err(|_| invalid(&format!("`{a}` is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }

    /// The entry as curl writes it (`host:port:addr,addr`).
    #[must_use]
    pub fn to_curl_arg(&self) -> String {
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| match a {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            })
            .collect();
        format!("{}:{}:{}", self.host, self.port, addrs.join(","))
    }

    /// Socket addresses to connect to.
    #[must_use]
    pub fn socket_addrs(&self) -> Vec<SocketAddr> {
        self.addrs
            .iter()
            .map(|a| SocketAddr::new(*a, self.port))
            .collect()
    }
}

/// Host and effective port of a URL.
///
/// # Errors
/// [`HttpError::InvalidUrl`] when it does not parse or has no host.
pub fn host_and_port(url: &str) -> Result<(String, u16), HttpError> {
    let invalid = |reason: &str| HttpError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    let host = parsed.host_str().ok_or_else(|| invalid("it has no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| invalid("it has no port and an unknown scheme"))?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_parses_like_curl() {
        let r = Resolve::parse("Bookinfo.example.com:443:172.18.255.1").unwrap();
        assert_eq!(r.host, "bookinfo.example.com");
        assert_eq!(r.port, 443);
        assert_eq!(r.addrs, vec!["172.18.255.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(r.to_curl_arg(), "bookinfo.example.com:443:172.18.255.1");
        let v6 = Resolve::parse("h:80:[::1],127.0.0.2").unwrap();
        assert_eq!(v6.to_curl_arg(), "h:80:[::1],127.0.0.2");
        assert_eq!(
            Resolve::parse("h:80:::1").unwrap().addrs,
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn bad_resolve_entries_say_why() {
        for (entry, why) in [
            ("h:80", "three parts"),
            (":80:1.2.3.4", "host is empty"),
            ("h:http:1.2.3.4", "port"),
            ("h:80:gateway", "`gateway` is not an IP address"),
        ] {
            let e = Resolve::parse(entry).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(entry), "{e}");
        }
    }

    #[test]
    fn host_and_port_uses_scheme_defaults() {
        assert_eq!(
            host_and_port("https://a.test/x").unwrap(),
            ("a.test".into(), 443)
        );
        assert_eq!(
            host_and_port("http://A.test:8080").unwrap(),
            ("a.test".into(), 8080)
        );
        assert_eq!(host_and_port("http://[::1]:9/").unwrap(), ("::1".into(), 9));
        assert!(host_and_port("not a url").is_err());
    }
}

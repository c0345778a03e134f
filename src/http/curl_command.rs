//! curl's command line, for requests made from inside a pod through `exec`
//! (`curl_from`, `expect_http_from`): the argv to run, and the parse of what it printed.
//!
//! Headers go to stdout ahead of the body (`-D -`) and a marker line written by `-w` ends
//! stdout, so status, headers, body, timing and peer come back from one stream.

use std::time::Duration;

use super::{RequestOptions, Response};

/// Starts the line `-w` appends after the body.
pub const STATUS_MARKER: &str = "__MESHBOOK_CURL__";

/// How the curl of a simulated pod marks its informational lines on stderr (as curl's own
/// `*` lines): the trace of the simulated data plane, or `unanswered: WHY`.
pub const SIMULATED_PREFIX: &str = "* simulated: ";

/// The argv of a curl command equivalent to a request with `opts` (no shell involved).
#[must_use]
pub fn curl_argv(url: &str, opts: &RequestOptions) -> Vec<String> {
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into(), "-g".into()];
    if opts.method == http::Method::HEAD {
        // `-X HEAD` would wait for a body that never comes; `-I` prints the headers itself.
        argv.push("-I".into());
    } else {
        argv.extend(["-D".into(), "-".into()]);
        if opts.method != http::Method::GET || opts.body.is_some() {
            argv.extend(["-X".into(), opts.method.to_string()]);
        }
    }
    argv.extend([
        "-w".into(),
        format!(
            "\\n{STATUS_MARKER} code=%{{http_code}} time=%{{time_total}} redirects=%{{num_redirects}} \
             remote=%{{remote_ip}}:%{{remote_port}}\\n"
        ),
    ]);
    if !opts.timeout.is_zero() {
        argv.extend(["-m".into(), format!("{}", opts.timeout.as_secs_f64())]);
    }
    for (name, value) in &opts.headers {
        argv.extend(["-H".into(), format!("{name}: {value}")]);
    }
    for r in &opts.resolve {
        argv.extend(["--resolve".into(), r.to_curl_arg()]);
    }
    if opts.insecure {
        argv.push("-k".into());
    }
    if let Some(body) = &opts.body {
        // `--data-raw`: a body starting with `@` is text, not a file name.
        argv.extend(["--data-raw".into(), body.clone()]);
    }
    if opts.follow_redirects {
        argv.extend(["-L".into(), "--max-redirs".into(), "10".into()]);
    }
    argv.push(url.into());
    argv
}

/// Turns what a [`curl_argv`] command printed, and its exit code, back into a [`Response`].
/// A failed curl (exit 6 resolve, 7 connect, 28 timeout, ...) is status 0 with `error`.
#[must_use]
pub fn parse_curl_output(stdout: &str, stderr: &str, code: i32) -> Response {
    let (output, marker) = split_marker(stdout);
    let field = |name: &str| marker.and_then(|m| marker_field(m, name));
    let elapsed_ms = field("time")
        .and_then(|t| t.replace(',', ".").parse::<f64>().ok())
        .map_or(0, |secs| Duration::from_secs_f64(secs.max(0.0)).as_millis());
    let remote = field("remote")
        .filter(|r| !r.starts_with(':') && !r.ends_with(':'))
        .map(str::to_string);
    let redirects = field("redirects")
        .and_then(|r| r.parse::<usize>().ok())
        .unwrap_or(0);
    let (headers, body) = split_headers(output, redirects);
    let status = field("code")
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    let mut response = Response {
        status,
        body: body.to_string(),
        headers,
        elapsed_ms: u64::try_from(elapsed_ms).unwrap_or(u64::MAX),
        remote,
        error: None,
        simulated: false,
        trace: Vec::new(),
        skipped: None,
    };
    // A simulated pod's curl says so on stderr, with the trace of why it answered as it did.
    for line in stderr.lines() {
        if let Some(t) = line.strip_prefix(SIMULATED_PREFIX) {
            response.simulated = true;
            match t.strip_prefix("unanswered: ") {
                Some(why) => response.skipped = Some(why.to_string()),
                None => response.trace.push(t.to_string()),
            }
        }
    }
    if response.skipped.is_some() {
        response.status = 0;
        return response;
    }
    if code != 0 {
        response.status = 0;
        response.error = Some(curl_error(code, stderr));
    } else if marker.is_none() {
        response.status = 0;
        response.error = Some(format!(
            "curl's output has no `{STATUS_MARKER}` line, so its status is unknown; is `curl` in the pod a real curl?{}",
            stderr_tail(stderr).map(|s| format!(" (stderr: {s})")).unwrap_or_default()
        ));
    } else if status == 0 {
        response.error = Some("curl reported no HTTP status".to_string());
    }
    response
}

/// Splits stdout into (headers and body, marker line).
fn split_marker(stdout: &str) -> (&str, Option<&str>) {
    match stdout.rfind(STATUS_MARKER) {
        Some(at) => {
            let before = &stdout[..at];
            let before = before.strip_suffix('\n').unwrap_or(before);
            (before, Some(stdout[at + STATUS_MARKER.len()..].trim()))
        }
        None => (stdout, None),
    }
}

fn marker_field<'a>(marker: &'a str, name: &str) -> Option<&'a str> {
    marker
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Takes the header blocks curl wrote ahead of the body (one per response: redirects and
/// `100 Continue` included) and returns the last block's headers and the body.
fn split_headers(output: &str, redirects: usize) -> (Vec<(String, String)>, &str) {
    let mut rest = output;
    let mut headers = Vec::new();
    let mut finals = 0;
    while finals <= redirects && rest.starts_with("HTTP/") {
        let (block, after) = match (rest.find("\r\n\r\n"), rest.find("\n\n")) {
            (Some(crlf), Some(lf)) if lf < crlf => (&rest[..lf], &rest[lf + 2..]),
            (Some(crlf), _) => (&rest[..crlf], &rest[crlf + 4..]),
            (None, Some(lf)) => (&rest[..lf], &rest[lf + 2..]),
            (None, None) => (rest, ""),
        };
        let mut lines = block.lines();
        let status_line = lines.next().unwrap_or_default();
        let informational = status_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|s| s.starts_with('1'));
        if !informational {
            finals += 1;
            headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
        }
        rest = after;
    }
    (headers, rest)
}

fn curl_error(code: i32, stderr: &str) -> String {
    let what = match code {
        6 => "could not resolve host".to_string(),
        7 => "could not connect".to_string(),
        28 => "timed out".to_string(),
        35 => "TLS handshake failed".to_string(),
        47 => "too many redirects".to_string(),
        51 | 60 => {
            "TLS certificate not trusted (set `insecure` only if that is intended)".to_string()
        }
        52 => "empty reply from server".to_string(),
        56 => "connection closed while receiving".to_string(),
        126 | 127 => format!(
            "`curl` could not be run in the pod (exit {code}); use a pod whose image has curl"
        ),
        _ => format!("curl failed with exit code {code}"),
    };
    match stderr_tail(stderr) {
        Some(detail) if code != 126 && code != 127 => format!("{what}: {detail}"),
        _ => what,
    }
}

/// curl's own error line (`curl: (7) Failed to connect ...`) without its prefix, or the last line.
fn stderr_tail(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("curl: ("))
        .or(lines.last())?;
    let text = line.strip_prefix("curl: ").unwrap_or(line);
    let text = match text.strip_prefix('(').and_then(|t| t.split_once(") ")) {
        Some((_, message)) => message,
        None => text,
    };
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Resolve;

    fn marker(code: u16, redirects: u32) -> String {
        format!("\n{STATUS_MARKER} code={code} time=0.012345 redirects={redirects} remote=10.244.0.7:9080\n")
    }

    #[test]
    fn argv_for_a_plain_get() {
        let argv = curl_argv(
            "http://productpage:9080/productpage",
            &RequestOptions::default(),
        );
        assert_eq!(
            argv,
            [
                "curl",
                "-sS",
                "-g",
                "-D",
                "-",
                "-w",
                "\\n__MESHBOOK_CURL__ code=%{http_code} time=%{time_total} redirects=%{num_redirects} remote=%{remote_ip}:%{remote_port}\\n",
                "-m",
                "10",
                "http://productpage:9080/productpage"
            ]
        );
    }

    #[test]
    fn argv_carries_every_option() {
        let opts = RequestOptions {
            method: http::Method::POST,
            headers: vec![("Host".into(), "bookinfo.example.com".into())],
            body: Some("@not-a-file".into()),
            timeout: Duration::from_millis(500),
            insecure: true,
            resolve: vec![Resolve::parse("bookinfo.example.com:443:172.18.255.1").unwrap()],
            follow_redirects: true,
        };
        let argv = curl_argv("https://bookinfo.example.com/", &opts).join(" ");
        for part in [
            "-X POST",
            "-m 0.5",
            "-H Host: bookinfo.example.com",
            "--resolve bookinfo.example.com:443:172.18.255.1",
            " -k ",
            "--data-raw @not-a-file",
            "-L --max-redirs 10",
        ] {
            assert!(argv.contains(part), "{part} in {argv}");
        }
        assert!(argv.ends_with(" https://bookinfo.example.com/"));
        let head = curl_argv(
            "http://a/",
            &RequestOptions {
                method: http::Method::HEAD,
                ..RequestOptions::default()
            },
        );
        assert!(head.contains(&"-I".to_string()) && !head.contains(&"-D".to_string()));
        assert!(!curl_argv("http://a/", &RequestOptions::default()).contains(&"-k".to_string()));
    }

    #[test]
    fn parses_status_headers_and_body() {
        let stdout = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nServer: istio-envoy\r\n\r\n<html>\nreviews-v2\n</html>{}",
            marker(200, 0)
        );
        let r = parse_curl_output(&stdout, "", 0);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "<html>\nreviews-v2\n</html>");
        assert_eq!(r.header("server"), Some("istio-envoy"));
        assert_eq!(
            r.headers[0],
            ("content-type".to_string(), "text/html".to_string())
        );
        assert_eq!(r.elapsed_ms, 12);
        assert_eq!(r.remote.as_deref(), Some("10.244.0.7:9080"));
        assert_eq!(r.error, None);
    }

    #[test]
    fn body_that_ends_with_a_newline_or_mentions_http_keeps_it() {
        let stdout = format!("HTTP/2 403\r\n\r\nRBAC: access denied\n{}", marker(403, 0));
        assert_eq!(
            parse_curl_output(&stdout, "", 0).body,
            "RBAC: access denied\n"
        );
        let stdout = format!(
            "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 in the body\r\n\r\n{}",
            marker(200, 0)
        );
        assert_eq!(
            parse_curl_output(&stdout, "", 0).body,
            "HTTP/1.1 in the body\r\n\r\n"
        );
    }

    #[test]
    fn redirects_and_continue_blocks_are_skipped() {
        let stdout = format!(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 301 Moved\r\nLocation: /b\r\n\r\nHTTP/1.1 200 OK\r\nx-final: yes\r\n\r\nbody{}",
            marker(200, 1)
        );
        let r = parse_curl_output(&stdout, "", 0);
        assert_eq!(
            (r.status, r.body.as_str(), r.header("x-final")),
            (200, "body", Some("yes"))
        );
        let not_followed = format!(
            "HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n{}",
            marker(302, 0)
        );
        let r = parse_curl_output(&not_followed, "", 0);
        assert_eq!(
            (r.status, r.header("location"), r.body.as_str()),
            (302, Some("/login"), "")
        );
    }

    #[test]
    fn curl_failures_are_status_zero_with_the_reason() {
        let cases = [
            (6, "curl: (6) Could not resolve host: reviews.nowhere\n", "could not resolve host: Could not resolve host: reviews.nowhere"),
            (
                7,
                "curl: (7) Failed to connect to ratings port 9080 after 2 ms: Couldn't connect to server\n",
                "could not connect: Failed to connect to ratings port 9080 after 2 ms: Couldn't connect to server",
            ),
            (28, "curl: (28) Operation timed out after 500 milliseconds with 0 bytes received\n", "timed out: Operation timed out after 500 milliseconds with 0 bytes received"),
            (60, "curl: (60) SSL certificate problem: self-signed certificate\nMore details here: https://curl.se/docs/sslcerts.html\n", "TLS certificate not trusted (set `insecure` only if that is intended): SSL certificate problem: self-signed certificate"),
            (127, "exec: \"curl\": executable file not found in $PATH", "`curl` could not be run in the pod (exit 127); use a pod whose image has curl"),
            (3, "", "curl failed with exit code 3"),
        ];
        for (code, stderr, error) in cases {
            let r = parse_curl_output(&marker(0, 0)[1..], stderr, code);
            assert_eq!(
                (r.status, r.error.as_deref()),
                (0, Some(error)),
                "exit {code}"
            );
        }
        // A timeout after the status line arrived is still a failure.
        let partial = format!("HTTP/1.1 200 OK\r\n\r\npartial{}", marker(200, 0));
        let r = parse_curl_output(&partial, "curl: (28) Operation timed out", 28);
        assert_eq!((r.status, r.body.as_str()), (0, "partial"));
    }

    #[test]
    fn output_without_a_marker_is_not_trusted() {
        let r = parse_curl_output("<html>hello</html>", "", 0);
        assert_eq!(r.status, 0);
        assert!(r.error.unwrap().contains("no `__MESHBOOK_CURL__` line"));
    }
}

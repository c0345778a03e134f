//! `curl` inside a simulated pod (`kubectl exec POD -- curl ...`): the command line read into a
//! [`Request`], and the answer printed as curl prints it (`-D -` headers, `-w` write-out,
//! `-o`, `-s`/`-S`, `-I`, `-v`), with curl's exit codes. The trace goes to stderr as
//! `* simulated:` lines, as curl's own informational lines do, so a person reading the output
//! of a simulated pod is told it is simulated.

use std::time::Duration;

use super::{Answer, Outcome, Request};

/// The prefix of trace lines on stderr.
pub const TRACE_PREFIX: &str = "* simulated: ";

/// What a curl command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurlCommand {
    pub request: Request,
    pub dump_headers: bool,
    pub head: bool,
    pub write_out: Option<String>,
    pub silent: bool,
    pub show_error: bool,
    pub output_null: bool,
    pub fail: bool,
    pub verbose: bool,
    pub timeout: Option<Duration>,
}

/// Whether an exec command is a curl invocation.
pub fn is_curl(argv: &[String]) -> bool {
    argv.first()
        .is_some_and(|a| a == "curl" || a.ends_with("/curl"))
}

/// A curl command line the simulated curl cannot run; the text is curl's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurlError {
    #[error("curl: option {0}: requires parameter")]
    MissingParameter(String),
    #[error("curl: option {0}: is unknown (simulated curl)")]
    UnknownOption(String),
    #[error("curl: no URL specified!")]
    NoUrl,
    #[error("curl: (3) {0}")]
    BadUrl(#[from] super::UrlError),
}

/// Reads curl's argv (the first element is the program).
pub fn parse(argv: &[String]) -> Result<CurlCommand, CurlError> {
    let mut method: Option<String> = None;
    let mut url: Option<String> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut resolve: Vec<String> = Vec::new();
    let mut body: Option<String> = None;
    let mut cmd = CurlCommand {
        request: Request::new("GET", "http://localhost/")?,
        dump_headers: false,
        head: false,
        write_out: None,
        silent: false,
        show_error: false,
        output_null: false,
        fail: false,
        verbose: false,
        timeout: None,
    };
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| CurlError::MissingParameter(flag.to_string()))
        };
        match a.as_str() {
            "-X" | "--request" => method = Some(value(a)?),
            "-H" | "--header" => {
                let h = value(a)?;
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            "-D" | "--dump-header" => cmd.dump_headers = value(a)? == "-",
            "-w" | "--write-out" => cmd.write_out = Some(value(a)?),
            "-o" | "--output" => cmd.output_null = value(a)? == "/dev/null",
            "-m" | "--max-time" => {
                cmd.timeout = value(a)?
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64)
            }
            "--connect-timeout" | "--max-redirs" | "-A" | "--user-agent" | "-u" | "--user"
            | "--retry" | "--cacert" | "--cert" | "--key" | "-b" | "--cookie" | "-e"
            | "--referer" => {
                let v = value(a)?;
                if matches!(a.as_str(), "-A" | "--user-agent") {
                    headers.push(("user-agent".into(), v));
                }
            }
            "--resolve" => resolve.push(value(a)?),
            "-d" | "--data" | "--data-raw" | "--data-binary" => {
                body = Some(value(a)?);
            }
            "-I" | "--head" => cmd.head = true,
            "-s" | "--silent" => cmd.silent = true,
            "-S" | "--show-error" => cmd.show_error = true,
            "-f" | "--fail" => cmd.fail = true,
            "-v" | "--verbose" => cmd.verbose = true,
            "-k" | "--insecure" | "-L" | "--location" | "-g" | "--globoff" | "--http1.1" | "-N"
            | "--no-buffer" | "-i" | "--include" => {
                if matches!(a.as_str(), "-i" | "--include") {
                    cmd.dump_headers = true;
                }
            }
            s if s.starts_with('-') && s.len() > 2 && !s.starts_with("--") => {
                // Combined short flags such as -sS, -sSL, -sv.
                for ch in s[1..].chars() {
                    match ch {
                        's' => cmd.silent = true,
                        'S' => cmd.show_error = true,
                        'I' => cmd.head = true,
                        'f' => cmd.fail = true,
                        'v' => cmd.verbose = true,
                        'i' => cmd.dump_headers = true,
                        'k' | 'L' | 'g' => {}
                        other => return Err(CurlError::UnknownOption(format!("-{other}"))),
                    }
                }
            }
            s if s.starts_with('-') => return Err(CurlError::UnknownOption(s.to_string())),
            s => url = Some(s.to_string()),
        }
    }
    let url = url.ok_or(CurlError::NoUrl)?;
    let url = if url.contains("://") {
        url
    } else {
        format!("http://{url}")
    };
    let method = method.unwrap_or_else(|| {
        if cmd.head {
            "HEAD".into()
        } else if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let mut request = Request::new(&method, &url)?;
    request.headers = headers;
    request.body = body;
    for r in resolve {
        let mut parts = r.splitn(3, ':');
        let (Some(h), Some(p), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if h.eq_ignore_ascii_case(&request.host) && p.parse::<u16>().ok() == Some(request.port) {
            request.connect_to = Some(addr.trim_matches(['[', ']']).to_string());
        }
    }
    cmd.request = request;
    Ok(cmd)
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// What curl prints for an answer: `(stdout, stderr, exit code)`.
pub fn render(cmd: &CurlCommand, answer: &Answer) -> (String, String, i32) {
    let mut stdout = String::new();
    let mut stderr: String = answer
        .trace
        .iter()
        .map(|l| format!("{TRACE_PREFIX}{l}\n"))
        .collect();
    let elapsed = match cmd.timeout {
        Some(t) if answer.elapsed > t => t,
        _ => answer.elapsed,
    };
    let timed_out = cmd.timeout.is_some_and(|t| answer.elapsed > t);
    let (status, code) = match (&answer.outcome, timed_out) {
        (_, true) => {
            if !cmd.silent || cmd.show_error {
                stderr.push_str(&format!(
                    "curl: (28) Operation timed out after {} milliseconds with 0 bytes received\n",
                    elapsed.as_millis()
                ));
            }
            (0, 28)
        }
        (Outcome::Reply(r), false) => {
            if cmd.dump_headers || cmd.head {
                stdout.push_str(&format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status)));
                for (k, v) in &r.headers {
                    stdout.push_str(&format!("{k}: {v}\r\n"));
                }
                stdout.push_str(&format!("content-length: {}\r\n", r.body.len()));
                stdout.push_str("x-meshbook-simulated: true\r\n\r\n");
            }
            let failed = cmd.fail && r.status >= 400;
            if !cmd.head && !cmd.output_null && !failed {
                stdout.push_str(&r.body);
            }
            if failed {
                if !cmd.silent || cmd.show_error {
                    stderr.push_str(&format!(
                        "curl: (22) The requested URL returned error: {}\n",
                        r.status
                    ));
                }
                (r.status, 22)
            } else {
                (r.status, 0)
            }
        }
        (Outcome::Failed { kind, message }, false) => {
            if !cmd.silent || cmd.show_error {
                stderr.push_str(&format!("curl: ({}) {message}\n", kind.curl_exit()));
            }
            (0, kind.curl_exit())
        }
        (Outcome::Unmodelled(why), false) => {
            stderr.push_str(&format!("{TRACE_PREFIX}unanswered: {why}\n"));
            (0, UNMODELLED_EXIT)
        }
    };
    if let Some(w) = &cmd.write_out {
        stdout.push_str(&write_out(w, status, elapsed));
    }
    (stdout, stderr, code)
}

/// curl's `-w` format: `%{http_code}`, `%{time_total}` and friends, `\n` escapes.
fn write_out(format: &str, status: u16, elapsed: Duration) -> String {
    format
        .replace("\\n", "\n")
        .replace("\\r", "\r")
        .replace("\\t", "\t")
        .replace("%{http_code}", &format!("{status:03}"))
        .replace("%{response_code}", &format!("{status:03}"))
        .replace("%{time_total}", &format!("{:.6}", elapsed.as_secs_f64()))
        .replace("%{num_redirects}", "0")
        .replace("%{remote_ip}", "")
        .replace("%{remote_port}", "")
}

/// The exit code a curl gets when the data plane cannot say what would happen.
pub const UNMODELLED_EXIT: i32 = 125;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dataplane::Reply;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn reads_the_command_line_meshbook_and_people_write() {
        let c = parse(&argv(
            "curl -sS -D - -H end-user:jason -m 5 http://reviews:9080/reviews/0",
        ))
        .unwrap();
        assert_eq!(c.request.host, "reviews");
        assert_eq!(c.request.port, 9080);
        assert_eq!(c.request.header("end-user"), Some("jason"));
        assert!(c.silent && c.show_error && c.dump_headers);
        assert_eq!(c.timeout, Some(Duration::from_secs(5)));
        let bare = parse(&argv("curl productpage:9080/productpage")).unwrap();
        assert_eq!(bare.request.path, "/productpage");
        assert!(parse(&argv("curl")).is_err());
    }

    #[test]
    fn prints_headers_body_write_out_and_exit_codes() {
        let c = parse(&argv("curl -s -D - -w \\n%{http_code} http://x/")).unwrap();
        let a = Answer {
            outcome: Outcome::Reply(Reply {
                status: 403,
                headers: vec![],
                body: "RBAC: access denied".into(),
            }),
            elapsed: Duration::from_millis(3),
            trace: vec!["denied".into()],
        };
        let (out, err, code) = render(&c, &a);
        assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
        assert!(out.ends_with("RBAC: access denied\n403"), "{out}");
        assert!(err.contains("* simulated: denied"));
        assert_eq!(code, 0);
        let reset = Answer {
            outcome: Outcome::Failed {
                kind: super::super::FailureKind::Reset,
                message: "Recv failure: Connection reset by peer".into(),
            },
            elapsed: Duration::ZERO,
            trace: vec![],
        };
        let (_, err, code) = render(&parse(&argv("curl -sS http://x/")).unwrap(), &reset);
        assert_eq!(code, 56);
        assert!(err.contains("curl: (56) Recv failure"));
    }
}

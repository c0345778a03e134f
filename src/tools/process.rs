//! Running an [`Invocation`] as a real process: argv only, output streamed and captured,
//! a timeout that kills the whole process group, redacted errors.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::doctor::find_on_path;
use super::error::ToolError;
use super::invocation::{install_hint, Invocation, Stream, ToolOutput};
use crate::report::Redactor;

/// How long output is still read after the tool exited, when something it started keeps its
/// pipes open.
pub const PIPE_GRACE: Duration = Duration::from_millis(500);

/// How many lines of stderr a [`ToolError::Failed`] keeps.
pub const STDERR_TAIL_LINES: usize = 10;

/// Runs the invocation and waits for it.
///
/// Every line of stdout and stderr is passed to `on_line` as it arrives, with secrets replaced
/// by `***`; the returned [`ToolOutput`] keeps the raw text for the script. A non-zero exit is
/// [`ToolError::Failed`] with the last lines of stderr; running past `inv.timeout` kills the
/// process and its process group and is [`ToolError::Timeout`]; a missing program is
/// [`ToolError::NotFound`] with how to get it. Error texts are redacted. Dropping the future
/// (cancelling the run) kills the process group too.
pub async fn run(
    inv: &Invocation,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
) -> Result<ToolOutput, ToolError> {
    let started = Instant::now();
    let argv = inv.full_argv();
    tracing::debug!(label = %inv.label, argv = %inv.secrets.redact(&argv.join(" ")), "running tool");
    let mut cmd = Command::new(&inv.program);
    cmd.args(&argv)
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);

    let mut child = spawn(&mut cmd)
        .await
        .map_err(|source| spawn_error(inv, source))?;
    let pid = child.id();
    // If this future is dropped (the run was cancelled, e.g. Ctrl-C), kill the whole group.
    let mut guard = GroupGuard(pid);

    if let (Some(text), Some(mut stdin)) = (&inv.stdin, child.stdin.take()) {
        // A program that never reads stdin must not block us: write in the background.
        let text = text.clone().into_bytes();
        tokio::spawn(async move {
            let _ = stdin.write_all(&text).await;
            let _ = stdin.shutdown().await;
        });
    }

    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let secrets = &inv.secrets;
    let (mut out_text, mut err_text) = (String::new(), String::new());
    let finished = {
        let work = async {
            let pumps = async {
                let (o, e) = tokio::join!(
                    pump(stdout, Stream::Stdout, on_line, secrets, &mut out_text),
                    pump(stderr, Stream::Stderr, on_line, secrets, &mut err_text)
                );
                o.and(e)
            };
            tokio::pin!(pumps);
            tokio::select! {
                read = &mut pumps => {
                    let status = child.wait().await;
                    (read, status)
                }
                status = child.wait() => {
                    // The tool exited; a daemon it left behind may still hold the pipes open:
                    // read what is left for a moment, then stop reading.
                    let read = tokio::time::timeout(PIPE_GRACE, &mut pumps)
                        .await
                        .unwrap_or(Ok(()));
                    (read, status)
                }
            }
        };
        tokio::time::timeout(inv.timeout, work).await
    };

    let (read, status) = match finished {
        Ok(done) => {
            // Exited by itself: anything it left running on purpose stays.
            guard.0 = None;
            done
        }
        Err(_) => {
            kill_group(guard.0.take());
            let _ = child.kill().await;
            return Err(ToolError::Timeout {
                label: inv.label.clone(),
                timeout: inv.timeout,
            });
        }
    };
    let io_error = |source: std::io::Error| ToolError::Io {
        label: inv.label.clone(),
        message: secrets.redact(&source.to_string()),
        source,
    };
    read.map_err(io_error)?;
    let status = status.map_err(io_error)?;
    let (stdout, stderr) = (out_text, err_text);
    let code = exit_code(&status);
    if code != 0 {
        return Err(ToolError::Failed {
            label: secrets.redact(&inv.label),
            code,
            stderr_tail: secrets.redact(&tail(&stderr, STDERR_TAIL_LINES)),
        });
    }
    Ok(ToolOutput {
        stdout,
        stderr,
        code,
        duration: started.elapsed(),
    })
}

/// Spawns, retrying a few times on ETXTBSY ("text file busy"): a tool written a moment ago
/// (a download, a test's fake) can still be open for writing in a forked sibling.
async fn spawn(cmd: &mut Command) -> std::io::Result<tokio::process::Child> {
    const ETXTBSY: i32 = 26;
    let mut attempt = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            other => return other,
        }
    }
}

fn spawn_error(inv: &Invocation, source: std::io::Error) -> ToolError {
    if source.kind() != std::io::ErrorKind::NotFound {
        return ToolError::Spawn {
            program: inv.program.clone(),
            message: source.to_string(),
            source,
        };
    }
    let path = inv
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| std::ffi::OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    if find_on_path(&inv.program, &path).is_some() {
        // The program is there: what is missing is its interpreter (`#!/bin/bash` on a
        // machine without bash) or a library loader.
        return ToolError::Spawn {
            program: inv.program.clone(),
            message: "it exists, but its interpreter (the `#!` line) was not found".into(),
            source,
        };
    }
    ToolError::NotFound {
        program: inv.program.clone(),
        place: if inv.program.contains('/') {
            "(no such file)".into()
        } else {
            "on PATH".into()
        },
        hint: install_hint(inv.tool()),
    }
}

/// Reads lines (lossy UTF-8) until EOF, passing each (redacted, without its newline) to
/// `on_line` and appending it, raw, to `all`.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: Stream,
    on_line: &(dyn Fn(Stream, &str) + Send + Sync),
    secrets: &Redactor,
    all: &mut String,
) -> std::io::Result<()> {
    let Some(reader) = reader else {
        return Ok(());
    };
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).await? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        all.push_str(&line);
        let shown = line.trim_end_matches(['\n', '\r']);
        on_line(stream, &secrets.redact(shown));
    }
    Ok(())
}

/// Kills the process group it holds when dropped, unless emptied.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0.take());
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // The child leads its own process group (process_group(0)), so this reaches the
    // grandchildren too (a script's `sleep`, a plugin's subprocess).
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    -1
}

/// The last `n` non-empty lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let text = (1..=15).map(|i| format!("l{i}\n")).collect::<String>();
        assert_eq!(tail(&text, 3), "l13\nl14\nl15");
        assert_eq!(tail("a\n\n", 10), "a");
    }
}

//! External tools: the process runner with fake tool scripts, helm_install, doctor, the
//! simulated rules of `stdlib/sim/tools`, and those rules applied to simulated clusters.

mod helm;
mod on_sim_clusters;
mod process;
mod simulated;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meshbook::tools::{Invocation, Stream};

pub const LICENSE: &str = "LICENSE-KEY-0123456789-secret";

/// A temporary directory of fake executables, placed first on PATH for one invocation.
pub struct FakeBin {
    pub dir: tempfile::TempDir,
}

impl FakeBin {
    pub fn new() -> Self {
        FakeBin {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes an executable bash script `name` with `body`.
    pub fn tool(self, name: &str, body: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// PATH with only this directory and the system's basics (bash, sleep, cat).
    pub fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.path().display())
    }

    pub fn invocation(&self, program: &str, argv: &[&str]) -> Invocation {
        Invocation::new(program, argv.iter().copied())
            .env("PATH", self.path_var())
            .env("REC", self.path("rec").display().to_string())
            .timeout(Duration::from_secs(20))
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).unwrap_or_default()
    }
}

/// Collects streamed lines.
#[derive(Default)]
pub struct Lines(pub Mutex<Vec<(Stream, String)>>);

impl Lines {
    pub fn push(&self, s: Stream, l: &str) {
        self.0.lock().unwrap().push((s, l.to_string()));
    }
    pub fn all(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub async fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! A `Test` builder that runs the real binary in a temporary directory with a clean
//! environment, so results never depend on the machine (no KUBECONFIG, no CLUSTER1...).

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_meshbook");

#[must_use]
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// Writes `src` as `runbook.rhai` and runs `meshbook run runbook.rhai`.
    pub fn runbook(src: &str) -> Self {
        Test::new()
            .file("runbook.rhai", src)
            .args(&["run", "runbook.rhai"])
    }

    pub fn file(self, name: &str, content: &str) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write");
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    #[allow(dead_code)] // used by the REPL tests
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    #[allow(dead_code)] // used by the REPL tests
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.into());
        self
    }

    pub fn run(self) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("CLUSTER")
                || k.starts_with("MESHBOOK_")
                || k.ends_with("_CONTEXT")
                || k.starts_with("REMOTE_CONTEXT")
                || k == "KUBECONFIG"
                || k.starts_with("GLOO")
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.dir.path().join(".state"))
            .env("KUBECACHEDIR", self.dir.path().join(".kube-cache"))
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::piped());
        cmd.stdout(std::process::Stdio::piped());
        cmd.stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn meshbook");
        {
            use std::io::Write;
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = &self.stdin {
                let _ = input.write_all(text.as_bytes());
            }
        }
        let out = child.wait_with_output().expect("wait");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: self.dir,
        }
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl Output {
    fn dump(&self) -> String {
        format!(
            "--- exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    pub fn status(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.dump());
        self
    }

    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.dump()
        );
        self
    }

    pub fn stdout_lacks(self, text: &str) -> Self {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts `text` appears nowhere: stdout, stderr, or any file the run wrote.
    pub fn nowhere(self, text: &str) -> Self {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "{text:?} leaked\n{}",
            self.dump()
        );
        for entry in walk(self.dir.path()) {
            if let Ok(content) = std::fs::read_to_string(&entry) {
                if entry.file_name().is_some_and(|n| n == "runbook.rhai") {
                    continue;
                }
                assert!(
                    !content.contains(text),
                    "{text:?} leaked into {}",
                    entry.display()
                );
            }
        }
        self
    }

    pub fn no_backtrace(self) -> Self {
        for bad in [
            "panicked",
            "stack backtrace",
            "RUST_BACKTRACE",
            "Error {",
            "ErrorRuntime",
        ] {
            assert!(
                !self.stderr.contains(bad) && !self.stdout.contains(bad),
                "found {bad:?}\n{}",
                self.dump()
            );
        }
        self
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}\n{}", self.dump()))
    }

    pub fn json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.file(name)).expect("valid JSON report")
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A TLS listener on 127.0.0.1 with a fresh self-signed certificate for `localhost`: the
/// listener, its port, the acceptor, and the certificate (PEM) for clients that trust it.
pub async fn tls_localhost() -> (
    tokio::net::TcpListener,
    u16,
    tokio_rustls::TlsAcceptor,
    String,
) {
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = certified.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port, acceptor, pem)
}

//! The process runner and doctor, with fake tool scripts.

use std::time::Duration;

use meshbook::tools::{doctor_with_path, run, Stream, ToolCluster, ToolError};

use super::{wait_until, FakeBin, Lines, LICENSE};

#[tokio::test]
async fn passes_argv_context_flag_and_env() {
    let bin = FakeBin::new().tool(
        "helm",
        r#"printf '%s\n' "$@" > "$REC"; echo "FOO=$FOO" >> "$REC"; echo done"#,
    );
    let inv = bin
        .invocation("helm", &["list", "-A", "it's; $(not a shell)"])
        .cluster(ToolCluster::new("cluster1", "kind-one"))
        .env("FOO", "bar");
    assert_eq!(inv.label, "cluster1 helm");
    let out = run(&inv, &|_, _| {}).await.unwrap();
    assert_eq!(out.stdout, "done\n");
    assert_eq!(out.code, 0);
    assert_eq!(
        bin.read("rec"),
        "list\n-A\nit's; $(not a shell)\n--kube-context\nkind-one\nFOO=bar\n"
    );
}

#[tokio::test]
async fn non_zero_exit_fails_with_the_last_stderr_lines() {
    let bin = FakeBin::new().tool(
        "meshctl",
        "for i in $(seq 1 15); do echo \"err $i\" >&2; done; exit 3",
    );
    let err = run(&bin.invocation("meshctl", &["check"]), &|_, _| {})
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ToolError::Failed { code: 3, .. }), "{msg}");
    assert!(
        msg.starts_with("`meshctl` failed with exit code 3"),
        "{msg}"
    );
    assert!(msg.contains("err 6\n") && msg.ends_with("err 15"), "{msg}");
    assert!(!msg.contains("err 5\n"), "{msg}");
}

#[tokio::test]
async fn streams_lines_while_the_tool_runs() {
    // The tool prints `one`, then waits for a file that only the line callback creates: it
    // can only print `two` if `one` was delivered live.
    let bin = FakeBin::new().tool(
        "istioctl",
        r#"echo one; echo warn >&2; while [ ! -f "$GO" ]; do sleep 0.02; done; echo two"#,
    );
    let go = bin.path("go");
    let lines = Lines::default();
    let on_line = |s: Stream, l: &str| {
        if l == "one" {
            std::fs::write(&go, "").unwrap();
        }
        lines.push(s, l);
    };
    let inv = bin
        .invocation("istioctl", &[])
        .env("GO", go.display().to_string());
    let out = run(&inv, &on_line).await.unwrap();
    assert_eq!(out.stdout, "one\ntwo\n");
    assert_eq!(out.stderr, "warn\n");
    let got = lines.0.lock().unwrap().clone();
    assert!(got.contains(&(Stream::Stderr, "warn".into())), "{got:?}");
    assert!(got.contains(&(Stream::Stdout, "two".into())), "{got:?}");
}

#[tokio::test]
async fn timeout_kills_the_process_group() {
    let bin = FakeBin::new().tool("vcluster", r#"sleep 300 & echo $! > "$REC"; wait"#);
    let inv = bin
        .invocation("vcluster", &["create", "x"])
        .timeout(Duration::from_millis(500));
    let err = run(&inv, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, ToolError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out after 0.5s"), "{err}");
    let pid = bin.read("rec").trim().to_string();
    assert!(!pid.is_empty());
    // The grandchild `sleep` was in the tool's process group: it must disappear.
    wait_until(
        "the grandchild to be killed",
        Duration::from_secs(10),
        || {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                // A zombie (state Z) is dead, waiting for its reaper.
                Ok(stat) => stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn cancelling_the_run_kills_the_process_group() {
    let bin = FakeBin::new().tool("helm", r#"sleep 300 & echo $! > "$REC"; wait"#);
    let rec = bin.path("rec");
    let inv = bin.invocation("helm", &["upgrade"]);
    // Cancel the run once the tool has started its grandchild (as Ctrl-C would).
    let started = async {
        wait_until("the tool to start", Duration::from_secs(10), || {
            std::fs::read_to_string(&rec).is_ok_and(|s| s.ends_with('\n'))
        })
        .await
    };
    tokio::select! {
        _ = run(&inv, &|_, _| {}) => panic!("the tool should still be running"),
        _ = started => {}
    }
    let pid = bin.read("rec").trim().to_string();
    wait_until(
        "the grandchild to be killed",
        Duration::from_secs(10),
        || gone(&pid),
    )
    .await;
}

/// Whether a process is gone (or a zombie waiting for its reaper).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')),
    }
}

#[tokio::test]
async fn a_daemon_left_holding_the_pipes_does_not_hang_the_step() {
    let bin = FakeBin::new().tool(
        "vcluster",
        r#"sleep 300 & echo $! > "$REC"; echo connected; exit 0"#,
    );
    let out = run(&bin.invocation("vcluster", &["connect", "x"]), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(out.stdout, "connected\n");
    let pid = bin.read("rec").trim().to_string();
    let _ = std::process::Command::new("kill").arg(&pid).status();
}

#[tokio::test]
async fn secrets_are_redacted_in_lines_and_errors_but_returned_raw() {
    let bin = FakeBin::new().tool(
        "meshctl",
        r#"echo "key is $1"; echo "stderr $1" >&2; [ "$2" = fail ] && exit 1; exit 0"#,
    );
    let lines = Lines::default();
    let on_line = |s: Stream, l: &str| lines.push(s, l);
    let inv = bin
        .invocation("meshctl", &[LICENSE, "ok"])
        .secrets([LICENSE]);
    let out = run(&inv, &on_line).await.unwrap();
    assert_eq!(
        out.stdout,
        format!("key is {LICENSE}\n"),
        "raw for the script"
    );
    assert!(!lines.all().contains(LICENSE), "{}", lines.all());
    assert!(lines.all().contains("key is ***"));

    let inv = bin
        .invocation("meshctl", &[LICENSE, "fail"])
        .secrets([LICENSE]);
    let err = run(&inv, &on_line).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("stderr ***") && !msg.contains(LICENSE),
        "{msg}"
    );
}

#[tokio::test]
async fn stdin_is_passed_to_the_tool() {
    let bin = FakeBin::new().tool("istioctl", r#"cat > "$REC""#);
    let inv = bin
        .invocation("istioctl", &["install", "-f", "-"])
        .stdin("kind: IstioOperator\n");
    run(&inv, &|_, _| {}).await.unwrap();
    assert_eq!(bin.read("rec"), "kind: IstioOperator\n");
}

#[tokio::test]
async fn a_missing_binary_names_it_and_how_to_get_it() {
    let bin = FakeBin::new();
    let err = run(&bin.invocation("meshctl", &["check"]), &|_, _| {})
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`meshctl` was not found on PATH; install meshctl: `curl -sL https://run.solo.io/meshctl/install | sh` and add `~/.gloo-mesh/bin` to PATH"
    );
    let err = run(&bin.invocation("helm", &[]), &|_, _| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("https://helm.sh/docs/intro/install/"),
        "{err}"
    );
}

#[tokio::test]
async fn doctor_on_a_machine_without_the_tools() {
    let empty = FakeBin::new();
    let path = std::ffi::OsString::from(empty.dir.path());
    let report = doctor_with_path(&["helm", "istioctl", "meshctl", "vcluster"], &path).await;
    assert_eq!(report.len(), 4);
    for status in &report {
        assert!(!status.found(), "{status:?}");
        assert!(status.version.is_none());
    }
    assert!(report[2].hint.contains("run.solo.io/meshctl/install"));

    let bin = FakeBin::new().tool(
        "helm",
        r#"[ "$1 $2" = "version --short" ] && echo "v3.17.0+gabc" || exit 2"#,
    );
    let path = std::ffi::OsString::from(bin.dir.path());
    let report = doctor_with_path(&["helm", "meshctl"], &path).await;
    assert_eq!(report[0].path.as_deref(), Some(bin.path("helm").as_path()));
    assert_eq!(report[0].version.as_deref(), Some("v3.17.0+gabc"));
    assert!(!report[1].found());
}

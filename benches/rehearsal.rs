//! Rehearses every bundled runbook on simulated clusters through the real binary and reports
//! the time per runbook (median of several runs) and in total.
//!
//! Run: `cargo bench --bench rehearsal` (add `--profile dev` to measure the debug build).
//! `MESHBOOK_BENCH_RUNS=N` sets the runs per runbook (default 5).

use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("MESHBOOK_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 5 } else { 1 });
    let bin = env!("CARGO_BIN_EXE_meshbook");
    let names = Command::new(bin)
        .args(["list", "--names"])
        .output()
        .expect("meshbook list");
    let names: Vec<String> = String::from_utf8_lossy(&names.stdout)
        .lines()
        .map(String::from)
        .collect();
    let names: Vec<String> = if benching {
        names
    } else {
        names.into_iter().take(1).collect()
    };
    let mut total = Duration::ZERO;
    println!("{:<40} {:>10}  (median of {runs})", "runbook", "time");
    for name in &names {
        let mut times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let out = Command::new(bin)
                .args(["run", name, "--sim", "-q"])
                .env_remove("KUBECONFIG")
                .env("NO_COLOR", "1")
                .output()
                .expect("meshbook run");
            assert!(
                out.status.success(),
                "{name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        total += median;
        println!("{name:<40} {:>8.0}ms", median.as_secs_f64() * 1000.0);
    }
    println!(
        "{:<40} {:>8.0}ms",
        "all bundled runbooks",
        total.as_secs_f64() * 1000.0
    );
}

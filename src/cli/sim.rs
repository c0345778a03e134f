//! `meshbook sim serve`: simulated clusters on 127.0.0.1 for kubectl, helm or a later
//! `meshbook run --context`, with a kubeconfig that has one context per cluster.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::error::CliError;
use super::exit;

/// Simulated clusters: a built-in Kubernetes API server for offline rehearsal.
#[derive(Args, Debug)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    Serve(ServeArgs),
}

const SERVE_EXAMPLES: &str = "\
Examples:
  meshbook sim serve --clusters cluster1,cluster2 --kubeconfig /tmp/sim.kubeconfig
  KUBECONFIG=/tmp/sim.kubeconfig kubectl --context cluster1 get ns
  KUBECONFIG=/tmp/sim.kubeconfig meshbook run global-mesh --context cluster1=cluster1 --context cluster2=cluster2
  meshbook sim serve --sim-faults 0.1 --sim-latency 20ms   # a flaky, remote-like API server
  meshbook sim serve --fail-image '*:broken'                # pulls of these images fail

Contexts written here are marked simulated: meshbook simulates external tools there and skips
traffic checks, as it does for in-process simulated clusters. Objects live in memory until Ctrl-C.";

/// Serve simulated clusters until Ctrl-C and write a kubeconfig for them.
#[derive(Args, Debug)]
#[command(after_help = SERVE_EXAMPLES)]
pub struct ServeArgs {
    /// Cluster names, comma-separated (each becomes a context of the same name).
    #[arg(long, value_delimiter = ',', default_value = "cluster1,cluster2")]
    pub clusters: Vec<String>,
    /// Where to write the kubeconfig (existing contexts of the same names are replaced).
    #[arg(long, value_name = "FILE", default_value = "meshbook-sim.kubeconfig")]
    pub kubeconfig: PathBuf,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Faults and latency of simulated clusters (`sim serve` and `run`).
#[derive(Args, Debug, Default, Clone)]
pub struct FaultArgs {
    /// Fail this share of requests (0 to 1) as a loaded API server does: 429 with
    /// Retry-After, 500, 503, dropped connections, cut watches and 410 Gone. Deterministic
    /// for a given --sim-fault-seed.
    #[arg(long, value_name = "RATE", value_parser = crate::sim::faults::parse_rate)]
    pub sim_faults: Option<f64>,
    /// Add this round trip to every request of a simulated cluster (e.g. 20ms, a remote cluster).
    #[arg(long, value_name = "DURATION", value_parser = crate::sim::faults::parse_duration)]
    pub sim_latency: Option<std::time::Duration>,
    /// Seed of the fault sequence.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub sim_fault_seed: u64,
    /// Pulls of images matching this glob (`*`, `?`; repeatable, or comma-separated) fail as
    /// on a real node: ErrImagePull, then ImagePullBackOff, and the rollout never completes.
    #[arg(
        long = "fail-image",
        value_name = "PATTERN",
        env = "MESHBOOK_SIM_FAIL_IMAGE",
        value_delimiter = ','
    )]
    pub fail_image: Vec<String>,
}

impl FaultArgs {
    /// Makes the simulated clusters this process starts use these faults (when any is given).
    pub fn apply(&self) {
        if self.sim_faults.is_some() || self.sim_latency.is_some() {
            crate::sim::faults::FaultOptions::set_for_runs(crate::sim::faults::FaultOptions {
                rate: self.sim_faults.unwrap_or(0.0),
                latency: self.sim_latency.unwrap_or_default(),
                seed: self.sim_fault_seed,
            });
        }
        if !self.fail_image.is_empty() {
            crate::sim::set_fail_images(self.fail_image.clone());
        }
    }
}

pub fn run(args: SimArgs, handle: &tokio::runtime::Handle) -> Result<u8, CliError> {
    let SimCommand::Serve(serve) = args.command;
    let mut names: Vec<String> = Vec::new();
    for n in serve
        .clusters
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        if !is_dns_label(n) {
            return Err(CliError::new(format!(
                "`{n}` is not a valid cluster name: use lowercase letters, digits and `-`"
            )));
        }
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    if names.is_empty() {
        return Err(CliError::new("--clusters names no cluster"));
    }
    serve.faults.apply();
    let kubeconfig = serve.kubeconfig.clone();
    let result = handle.block_on(crate::sim::serve_command(names, serve.kubeconfig, |urls| {
        let mut out = std::io::stdout().lock();
        for (name, url) in urls {
            let _ = writeln!(out, "{name} -> {url} (context {name})");
        }
        let _ = writeln!(out, "kubeconfig written to {}", kubeconfig.display());
        let _ = writeln!(out, "export KUBECONFIG={}", kubeconfig.display());
        let _ = writeln!(out, "serving; press Ctrl-C to stop");
        let _ = out.flush();
    }));
    result
        .map(|()| exit::OK)
        .map_err(|e| CliError::new(format!("{e:#}")))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

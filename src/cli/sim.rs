//! `meshbook sim serve`: simulated clusters on 127.0.0.1 for kubectl, helm or a later
//! `meshbook run --context`, with a kubeconfig that has one context per cluster.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

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
}

pub fn run(args: SimArgs, handle: &tokio::runtime::Handle) -> u8 {
    let SimCommand::Serve(serve) = args.command;
    let mut names: Vec<String> = Vec::new();
    for n in serve
        .clusters
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        if !is_dns_label(n) {
            eprintln!(
                "error: `{n}` is not a valid cluster name: use lowercase letters, digits and `-`"
            );
            return exit::CANNOT_START;
        }
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    if names.is_empty() {
        eprintln!("error: --clusters names no cluster");
        return exit::CANNOT_START;
    }
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
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::CANNOT_START
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

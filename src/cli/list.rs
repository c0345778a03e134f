//! `meshbook list`: the bundled runbooks, their clusters and sections.

use clap::Args;

use super::exit;
use crate::runbook::Runbook;

/// List the bundled runbooks with their clusters and sections.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook list\n  meshbook list --names      # one name per line, for scripts"
)]
pub struct ListArgs {
    /// Print only the names, one per line.
    #[arg(long)]
    pub names: bool,
}

pub fn run(args: ListArgs, handle: &tokio::runtime::Handle) -> u8 {
    let names = Runbook::bundled_names();
    if args.names {
        for n in &names {
            println!("{n}");
        }
        return exit::OK;
    }
    let mut code = exit::OK;
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let rb = match Runbook::load(name) {
            Ok(rb) => rb,
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::FAILED;
                continue;
            }
        };
        println!("{name}  —  {}", rb.header.title);
        if let Some(summary) = &rb.header.summary {
            println!("  {summary}");
        }
        let clusters: Vec<String> = rb
            .header
            .clusters
            .iter()
            .map(|c| match &c.env {
                Some(env) => format!("{} <- ${env}", c.name),
                None => c.name.clone(),
            })
            .collect();
        println!(
            "  clusters: {}",
            if clusters.is_empty() {
                "none".to_string()
            } else {
                clusters.join(", ")
            }
        );
        match super::run::static_checks(&rb, handle) {
            Ok(super::run::Checked { titles, .. }) => {
                println!("  sections:");
                for (n, t) in titles.iter().enumerate() {
                    println!("    {:>2}. {t}", n + 1);
                }
            }
            Err(e) => {
                println!("  sections: unavailable, the runbook does not pass `meshbook check`:");
                for l in e.lines().take(3) {
                    println!("    {l}");
                }
                code = exit::FAILED;
            }
        }
    }
    if names.is_empty() {
        eprintln!("no bundled runbooks");
    }
    code
}

//! `meshbook list`: the bundled runbooks, their clusters and sections.

use clap::Args;

use super::error::CliError;
use super::exit;
use crate::runbook::Runbook;

/// List the bundled runbooks with their clusters and sections.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook list\n  meshbook list --names      # one name per line, for scripts\n  meshbook list --json       # every runbook's header and sections, as data"
)]
pub struct ListArgs {
    /// Print only the names, one per line.
    #[arg(long, conflicts_with = "json")]
    pub names: bool,
    /// Print the runbooks as JSON: name, title, summary, clusters, parameters, environment,
    /// sections.
    #[arg(long)]
    pub json: bool,
}

/// One runbook as data.
fn as_json(rb: &Runbook, sections: Result<Vec<String>, CliError>) -> serde_json::Value {
    let h = &rb.header;
    serde_json::json!({
        "name": rb.name,
        "path": rb.display_path,
        "title": h.title,
        "summary": h.summary,
        "walkthrough": h.walkthrough,
        "clusters": h.clusters.iter().map(|c| serde_json::json!({"name": c.name, "env": c.env})).collect::<Vec<_>>(),
        "clusters_from_script": h.clusters_from_script,
        "params": h.params.iter().map(|(k, v)| serde_json::json!({"name": k, "default": v})).collect::<Vec<_>>(),
        "env": h.env.iter().map(|e| serde_json::json!({"name": e.name, "secret": e.secret, "required": e.required, "description": e.description})).collect::<Vec<_>>(),
        "sections": sections.as_ref().ok(),
        "error": sections.as_ref().err().map(ToString::to_string),
    })
}

pub fn run(args: ListArgs, handle: &tokio::runtime::Handle) -> u8 {
    let names = Runbook::bundled_names();
    if args.json {
        let mut code = exit::OK;
        let mut out = Vec::new();
        for name in &names {
            match Runbook::load(name) {
                Ok(rb) => {
                    let sections = super::run::static_checks(&rb, handle).map(|c| c.titles);
                    if sections.is_err() {
                        code = exit::FAILED;
                    }
                    out.push(as_json(&rb, sections));
                }
                Err(e) => {
                    code = exit::FAILED;
                    out.push(serde_json::json!({"name": name, "error": e.to_string()}));
                }
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Array(out)).unwrap_or_default()
        );
        return code;
    }
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
                for l in e.to_string().lines().take(3) {
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

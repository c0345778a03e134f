//! `meshbook check`: compile and statically check runbooks without touching any cluster.

use clap::Args;

use super::exit;
use crate::runbook::Runbook;

/// Compile and check runbooks without touching any cluster.
///
/// Checks syntax, the header, that imports resolve, that every called function exists, that
/// section titles are literal and unique, that sections are not nested, and that every
/// `cluster("...")` is declared. `meshbook run` makes the same checks first.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook check global-mesh\n  meshbook check ./my-scenario.rhai\n  meshbook check --all\n  meshbook check --all --json     # findings as data, for editors and CI\n\nExit codes: 0 every runbook passed, 2 a runbook has an error."
)]
pub struct CheckArgs {
    /// A bundled runbook name or a path to a .rhai file.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub runbook: Option<String>,
    /// Check every bundled runbook.
    #[arg(long)]
    pub all: bool,
    /// Print the results as JSON (one object with a `runbooks` array) on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CheckArgs, handle: &tokio::runtime::Handle) -> u8 {
    let names = if args.all {
        Runbook::bundled_names()
    } else {
        args.runbook.into_iter().collect()
    };
    let mut code = exit::OK;
    let mut results = Vec::new();
    for name in names {
        let rb = match Runbook::load(&name) {
            Ok(rb) => rb,
            Err(e) => {
                code = exit::CANNOT_START;
                if args.json {
                    results.push(serde_json::json!({
                        "runbook": name,
                        "ok": false,
                        "findings": [{"message": e.to_string()}],
                    }));
                } else {
                    eprintln!("error: {e}");
                }
                continue;
            }
        };
        match super::run::static_diagnostics(&rb, handle) {
            Ok(c) => {
                if args.json {
                    results.push(serde_json::json!({
                        "runbook": rb.name,
                        "path": rb.display_path,
                        "ok": true,
                        "sections": c.titles,
                        "clusters": rb.header.clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                        "findings": [],
                    }));
                } else {
                    println!("ok: {} ({} sections)", rb.display_path, c.titles.len());
                }
            }
            Err(findings) => {
                code = exit::CANNOT_START;
                if args.json {
                    results.push(serde_json::json!({
                        "runbook": rb.name,
                        "path": rb.display_path,
                        "ok": false,
                        "findings": findings.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
                    }));
                } else {
                    let text: Vec<String> = findings.iter().map(|d| d.to_string()).collect();
                    eprintln!("{}", text.join("\n").trim_end());
                }
            }
        }
    }
    if args.json {
        let doc = serde_json::json!({ "ok": code == exit::OK, "runbooks": results });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    code
}

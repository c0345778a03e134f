//! `meshbook doctor`: are the external tools a runbook calls installed, and do its mapped
//! clusters answer?

use clap::Args;

use super::error::CliError;
use super::exit;
use super::targets::{self, Target};
use crate::fleet::Fleet;
use crate::runbook::Runbook;

/// Check the tools a runbook calls (or all bundled runbooks) and the clusters it maps.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook doctor                      # tools of every bundled runbook\n  meshbook doctor gloo-mesh-multicluster --context cluster1=kind-a --context cluster2=kind-b\n\nExit codes: 0 everything found and reachable, 1 something is missing or unreachable."
)]
pub struct DoctorArgs {
    /// A bundled runbook name or a path to a .rhai file (default: every bundled runbook).
    pub runbook: Option<String>,
    /// Map a logical cluster to a kubeconfig context, to check that it answers; repeatable.
    #[arg(long = "context", value_name = "NAME=KUBECONTEXT")]
    pub context: Vec<String>,
}

pub fn run(args: DoctorArgs, handle: &tokio::runtime::Handle) -> Result<u8, CliError> {
    let runbooks: Vec<Runbook> = match &args.runbook {
        Some(name) => match Runbook::load(name) {
            Ok(rb) => vec![rb],
            Err(e) => {
                return Err(CliError::start(e));
            }
        },
        None => Runbook::bundled_names()
            .iter()
            .filter_map(|n| Runbook::load(n).ok())
            .collect(),
    };
    let mut tools = std::collections::BTreeSet::new();
    tools.insert("kubectl".to_string());
    for rb in &runbooks {
        tools.extend(crate::tools::tools_used_by_runbook(&rb.source));
    }
    let names: Vec<&str> = tools.iter().map(String::as_str).collect();
    let statuses = handle.block_on(crate::tools::doctor(&names));
    let mut code = exit::OK;
    println!("{:<10} {:<8} {:<40} version", "tool", "status", "path");
    for st in &statuses {
        let (status, path) = match &st.path {
            Some(p) => ("ok", p.display().to_string()),
            None => ("MISSING", "-".to_string()),
        };
        println!(
            "{:<10} {:<8} {:<40} {}",
            st.name,
            status,
            path,
            st.version.as_deref().unwrap_or("-")
        );
        if !st.found() {
            println!("           how to get it: {}", st.hint);
            code = exit::FAILED;
        }
    }
    if let [rb] = runbooks.as_slice() {
        let contexts = match targets::parse_pairs("--context", &args.context) {
            Ok(c) => c,
            Err(e) => {
                return Err(CliError::start(e));
            }
        };
        match targets::resolve(&rb.header.clusters, &contexts, false, |k| {
            std::env::var(k).ok()
        }) {
            Ok(Target::Real(map)) => {
                println!();
                match handle.block_on(Fleet::real(&map)) {
                    Ok(fleet) => {
                        for m in fleet.members() {
                            println!("{}", crate::k8s::describe(&m.cluster));
                        }
                    }
                    Err(e) => {
                        println!("cluster check failed: {e}");
                        code = exit::FAILED;
                    }
                }
            }
            Ok(Target::Simulated(names)) => {
                println!("\nno context mapped: {} would run on simulated clusters ({}), where tools are simulated", rb.name, names.join(", "));
            }
            Ok(Target::None) => {}
            Err(e) => {
                println!("\n{e}");
                code = exit::FAILED;
            }
        }
    }
    Ok(code)
}

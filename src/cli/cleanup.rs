//! `meshbook cleanup`: deletes what an earlier run of a runbook created and left (after
//! `--keep`, or a clean-up stopped by a second Ctrl-C), from the run's state file.

use clap::Args;

use super::error::CliError;
use super::exit;
use crate::checkpoint::{self, CreatedObject};
use crate::runbook::Runbook;

/// Delete what an earlier run of a runbook created and left behind.
///
/// Replays the run's state file: every object the run created (server-side apply said
/// "created", create_namespace, secrets) that it did not delete, newest first, on the contexts
/// the run used and no others. Undos registered with cleanup() are closures and cannot be
/// replayed: the ones that did not run are listed, by section, for a person to check.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook run ./demo.rhai --keep     # a failure is left for inspection\n  meshbook cleanup ./demo.rhai        # then its objects are deleted\n\nExit codes: 0 nothing is left, 1 an object could not be deleted, 2 no recorded run or a cluster cannot be reached."
)]
pub struct CleanupArgs {
    /// The runbook the run ran (a bundled name or a path, as given to `meshbook run`).
    pub runbook: String,
}

pub fn run(args: CleanupArgs, handle: &tokio::runtime::Handle) -> Result<u8, CliError> {
    let runbook = match Runbook::load(&args.runbook) {
        Ok(rb) => rb,
        Err(e) => {
            return Err(CliError::start(e));
        }
    };
    let path = checkpoint::path_for(&runbook);
    let mut record = match checkpoint::load(&path) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Err(CliError::new(format!(
                "no run of {} is recorded (looked for `{}`)",
                runbook.display_path,
                path.display()
            ))
            .with_help(format!(
                "`meshbook run {}` records its state there",
                args.runbook
            )));
        }
        Err(e) => {
            return Err(CliError::from(crate::problem::Problem::from(e)));
        }
    };
    let undos_left = std::mem::take(&mut record.undos_left);
    if record.created.is_empty() {
        println!(
            "nothing left to delete: the last run of {} created nothing it did not delete",
            runbook.display_path
        );
        report_undos(&undos_left);
        let _ = checkpoint::save(&path, &record);
        return Ok(exit::OK);
    }
    if record.in_process {
        println!(
            "nothing to delete: the last run of {} was on simulated clusters inside its own process, gone with it",
            runbook.display_path
        );
        record.created.clear();
        let _ = checkpoint::save(&path, &record);
        return Ok(exit::OK);
    }
    let var = std::env::var_os("KUBECONFIG").or_else(|| record.kubeconfig.clone().map(Into::into));
    let kubeconfig = match crate::k8s::load_kubeconfig(var.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            return Err(CliError::start(e));
        }
    };
    let mut names: Vec<String> = record.created.iter().map(|o| o.cluster.clone()).collect();
    names.sort();
    names.dedup();
    let mut clusters = Vec::new();
    for name in &names {
        let Some(context) = record.contexts.get(name) else {
            return Err(CliError::new(format!(
                "the state file names no context for cluster `{name}`"
            ))
            .with_help(format!("its objects are listed in `{}`", path.display())));
        };
        match handle.block_on(crate::k8s::connect(name, context, &kubeconfig)) {
            Ok(c) => clusters.push(c),
            Err(e) => {
                return Err(CliError::start(e).with_help(format!(
                    "nothing was deleted; run `meshbook cleanup {}` again when `{context}` answers",
                    args.runbook
                )));
            }
        }
    }
    let mut left: Vec<CreatedObject> = Vec::new();
    let mut deleted = 0;
    for obj in record.created.iter().rev() {
        let Some(cluster) = clusters.iter().find(|c| c.name() == obj.cluster) else {
            continue;
        };
        let result = handle.block_on(async {
            let Ok(_) = cluster.resolve(&obj.kind).await else {
                return Ok(false); // its type is no longer served: neither is the object
            };
            let wait = obj.kind == "Namespace";
            cluster
                .delete(&obj.kind, &obj.name, obj.namespace.as_deref(), wait)
                .await
        });
        match result {
            Ok(true) => {
                deleted += 1;
                println!("deleted {}", obj.describe());
            }
            Ok(false) => println!("already gone {}", obj.describe()),
            Err(e) => {
                eprintln!("error: cannot delete {}: {e}", obj.describe());
                left.insert(0, obj.clone());
            }
        }
    }
    let failed = left.len();
    record.created = left;
    if let Err(e) = checkpoint::save(&path, &record) {
        eprintln!("error: {e}");
    }
    println!(
        "cleanup of {}: {deleted} deleted{}",
        runbook.display_path,
        if failed > 0 {
            format!(", {failed} could not be deleted (run it again)")
        } else {
            String::new()
        }
    );
    report_undos(&undos_left);
    Ok(if failed > 0 { exit::FAILED } else { exit::OK })
}

/// Lists the undos that did not run: closures, which no later process can replay.
fn report_undos(undos: &[String]) {
    if !undos.is_empty() {
        println!(
            "not replayed (cleanup() closures live only in their run; check what they undo by hand): {}",
            undos.join(", ")
        );
    }
}

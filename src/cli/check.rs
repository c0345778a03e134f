//! `meshbook check`: compile and statically check runbooks without touching any cluster.

use clap::Args;

use super::exit;
use crate::runbook::Runbook;

/// Compile and check runbooks without touching any cluster.
///
/// Checks syntax, the header, that imports resolve, that every called function exists, and
/// that section titles are literal and unique. `meshbook run` makes the same checks first.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook check global-mesh\n  meshbook check ./my-scenario.rhai\n  meshbook check --all\n\nExit codes: 0 every runbook passed, 2 a runbook has an error."
)]
pub struct CheckArgs {
    /// A bundled runbook name or a path to a .rhai file.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub runbook: Option<String>,
    /// Check every bundled runbook.
    #[arg(long)]
    pub all: bool,
}

pub fn run(args: CheckArgs, handle: &tokio::runtime::Handle) -> u8 {
    let names = if args.all {
        Runbook::bundled_names()
    } else {
        args.runbook.into_iter().collect()
    };
    let mut code = exit::OK;
    for name in names {
        let rb = match Runbook::load(&name) {
            Ok(rb) => rb,
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::CANNOT_START;
                continue;
            }
        };
        match super::run::static_checks(&rb, handle) {
            Ok(c) => println!("ok: {} ({} sections)", rb.display_path, c.titles.len()),
            Err(text) => {
                eprintln!("{}", text.trim_end());
                code = exit::CANNOT_START;
            }
        }
    }
    code
}

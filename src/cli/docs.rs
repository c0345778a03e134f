//! `meshbook docs`: the Markdown reference of every script function, generated from the
//! engine's own registry so it can never drift from what scripts can call.

use clap::Args;

use super::exit;
use crate::engine::docs::{functions, markdown, reference_engine};

/// Print the reference of every script function (Markdown), or write Rhai definition files.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook docs > FUNCTIONS.md\n  meshbook docs | grep wait_\n  meshbook docs --definitions .rhai-defs    # for an editor with the Rhai language server"
)]
pub struct DocsArgs {
    /// Write Rhai definition files (`*.d.rhai`) into DIR instead, so an editor with the Rhai
    /// language server completes and checks meshbook's functions.
    #[arg(long, value_name = "DIR")]
    pub definitions: Option<std::path::PathBuf>,
}

pub fn run(args: DocsArgs, handle: &tokio::runtime::Handle) -> u8 {
    let engine = reference_engine(handle);
    if let Some(dir) = args.definitions {
        let defs = engine
            .definitions()
            .with_headers(true)
            .include_standard_packages(true);
        if let Err(e) = defs.write_to_dir(&dir) {
            eprintln!(
                "error: cannot write definition files to `{}`: {e}",
                dir.display()
            );
            return exit::CANNOT_START;
        }
        let files: Vec<String> = defs.iter_files().map(|(name, _)| name).collect();
        println!(
            "wrote {} definition file{} to {}: {}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            dir.display(),
            files.join(", ")
        );
        println!("point the Rhai language server's definition files at this directory to complete and check meshbook's functions");
        return exit::OK;
    }
    print!("{}", markdown(&functions(&engine)));
    exit::OK
}

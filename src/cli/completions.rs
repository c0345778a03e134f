//! `meshbook completions SHELL`: a completion script for bash, zsh or fish (clap_complete),
//! generated from the same command definitions the parser uses.

use clap::{Args, CommandFactory, ValueEnum};

use super::exit;

/// Print a shell completion script.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  meshbook completions bash > ~/.local/share/bash-completion/completions/meshbook\n  meshbook completions zsh > \"${fpath[1]}/_meshbook\"\n  meshbook completions fish > ~/.config/fish/completions/meshbook.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    pub shell: Shell,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub fn run(args: CompletionsArgs) -> u8 {
    let mut cmd = super::Cli::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "meshbook", &mut std::io::stdout());
    exit::OK
}

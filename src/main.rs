use std::process::ExitCode;

fn main() -> ExitCode {
    meshbook::run(std::env::args_os())
}

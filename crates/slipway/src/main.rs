//! The `slipway` binary: parses the command line, runs one command, maps the outcome to an exit
//! code. Everything else lives in the library crates; this crate only wires and presents.

mod builtins;
mod cli;
mod commands;
mod demo;
mod monitors;
mod output;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The command answered "no" (e.g. `artifacts verify` found corrupt objects).
    pub const NO: u8 = 1;
    /// Usage error or failure.
    pub const ERROR: u8 = 2;
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// What a command concluded, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the answer (if any) is yes.
    Ok,
    /// Done; the answer is no.
    No,
    /// Stopped by an interrupt.
    Interrupted,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_logging(cli.global.verbose, cli.global.quiet);
    if let Some(dir) = &cli.global.directory
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("error: cannot change to directory {}: {e}", dir.display());
        return ExitCode::from(exit::ERROR);
    }
    match commands::run(cli) {
        Ok(Outcome::Ok) => ExitCode::from(exit::OK),
        Ok(Outcome::No) => ExitCode::from(exit::NO),
        Ok(Outcome::Interrupted) => ExitCode::from(exit::INTERRUPTED),
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::from(exit::OK);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

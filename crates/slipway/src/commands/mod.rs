//! One module per command group; each parses nothing (clap did), calls the library, presents.

mod access;
mod artifacts;
mod audit;
mod gate;
mod gc;
mod governance;
mod init;
mod lineage;
mod models;
pub mod monitor;
mod pipeline;
mod runs;
mod score;
mod server;

use crate::Outcome;
use crate::cli::{Cli, Command};
use crate::output::Messages;
use anyhow::Result;
use slipway_store::Workspace;

/// What every command gets: the global flags, resolved.
pub struct Context {
    /// `--json` was given.
    pub json: bool,
    /// Messages for people on stderr.
    pub messages: Messages,
    /// Progress bars allowed (not quiet, not JSON).
    pub progress: bool,
    /// `--as USER` (or $SLIPWAY_USER).
    pub user: Option<String>,
}

impl Context {
    /// Opens the project containing the current directory.
    pub fn workspace(&self) -> Result<Workspace> {
        Ok(Workspace::discover(&std::env::current_dir()?)?)
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<Outcome> {
    let ctx = Context {
        json: cli.global.json,
        messages: Messages {
            enabled: !cli.global.quiet,
        },
        progress: !cli.global.quiet && !cli.global.json,
        user: cli.global.user.clone(),
    };
    match cli.command {
        Command::Init => init::run(&ctx),
        Command::Artifacts(cmd) => artifacts::run(&ctx, cmd),
        Command::Run(args) => pipeline::run(&ctx, args, cli.global.verbose),
        Command::Status => pipeline::status(&ctx),
        Command::Dag(args) => pipeline::dag(&ctx, args),
        Command::Gate(args) => gate::run(&ctx, args),
        Command::Models(cmd) => models::run(&ctx, cmd),
        Command::Lineage(args) => lineage::run(&ctx, args),
        Command::Card(args) => governance::card(&ctx, args),
        Command::Validation(args) => governance::validation(&ctx, args),
        Command::Evidence(args) => governance::evidence(&ctx, args),
        Command::Audit(cmd) => audit::run(&ctx, cmd),
        Command::Users(cmd) => access::users(&ctx, cmd),
        Command::Tokens(cmd) => access::tokens(&ctx, cmd),
        Command::Monitor(cmd) => monitor::run(&ctx, cmd),
        Command::Gc(args) => gc::run(&ctx, args),
        Command::Demo(args) => crate::demo::run(&ctx, args),
        Command::Score(args) => score::run(&ctx, args),
        Command::Server(args) => server::run(&ctx, args),
        Command::Runs(args) => runs::run(&ctx, args),
    }
}

/// The absolute form of a path (relative paths are taken from the current directory).
pub fn absolute(path: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    Ok(std::path::absolute(path)?)
}

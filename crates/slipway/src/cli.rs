//! The command line, defined once with clap derive: doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes: 0 success; 1 the answer is \"no\" (e.g. verify found corrupt objects); \
2 usage error or failure.";

/// Slipway: content-addressed artifacts, cached pipelines, experiment tracking, a gated model
/// registry, serving and monitoring, in one binary.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors and data.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail on stderr (-vv for debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create .slipway/ (object store, metadata database, config) in this directory.
    Init,
    /// The content-addressed object store by hand.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Delete objects that nothing references (no run, lock file or reference).
    Gc(GcArgs),
    /// Run the bundled example end to end in DIR (default: ./slipway-demo).
    Demo(DemoArgs),
    /// Serve the tracker for this project: the MLflow-compatible REST API (point
    /// MLFLOW_TRACKING_URI at it), the native API under /api/v1, /metrics and /healthz.
    Server(ServerArgs),
    /// Tracked runs (pipeline stages and MLflow-logged runs alike): list, show, search, compare.
    Runs(RunsArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on. Anything but loopback needs --insecure until auth lands.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed on stderr).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Allow listening on a non-loopback address without authentication.
    #[arg(long)]
    pub insecure: bool,
    /// Largest JSON request body, in MiB.
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub max_json_mib: usize,
    /// Largest artifact upload, in GiB (uploads are streamed, never held in memory).
    #[arg(long, default_value_t = 64, value_name = "GIB")]
    pub max_artifact_gib: u64,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Read from a running tracker instead of opening .slipway/ (e.g. http://127.0.0.1:5000).
    #[arg(long, env = "SLIPWAY_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: RunsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List(RunsListArgs),
    /// One run: status, commit and dirty flag, params, metrics, data digests, artifacts.
    Show(RunsShowArgs),
    /// Runs matching a filter, e.g. "metrics.auc > 0.8 and params.lr = '0.01'".
    Search(RunsSearchArgs),
    /// Runs side by side: params that differ, metrics with deltas against the first run.
    Compare(RunsCompareArgs),
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Only runs of these experiments (names or ids; repeatable). Default: all.
    #[arg(long, short = 'e', value_name = "EXPERIMENT")]
    pub experiment: Vec<String>,
    /// How many runs to show.
    #[arg(long, short = 'n', default_value_t = 50)]
    pub max_results: usize,
    /// Which runs: active, deleted or all.
    #[arg(long, default_value = "active")]
    pub view: String,
}

#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// The run id (32 hex characters).
    pub run_id: String,
}

#[derive(Debug, Args)]
pub struct RunsSearchArgs {
    /// Filter in MLflow's search language (metrics., params., tags., attributes.; AND only).
    pub filter: String,
    /// Only runs of these experiments (names or ids; repeatable). Default: all.
    #[arg(long, short = 'e', value_name = "EXPERIMENT")]
    pub experiment: Vec<String>,
    /// Sort key, e.g. "metrics.auc DESC" (repeatable).
    #[arg(long, value_name = "KEY [ASC|DESC]")]
    pub order_by: Vec<String>,
    /// How many runs to show.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub max_results: usize,
    /// Continue after a previous page (its token is printed on stderr).
    #[arg(long)]
    pub page_token: Option<String>,
    /// Which runs: active, deleted or all.
    #[arg(long, default_value = "active")]
    pub view: String,
}

#[derive(Debug, Args)]
pub struct RunsCompareArgs {
    /// Two or more run ids; deltas are against the first.
    #[arg(required = true, num_args = 2..)]
    pub run_ids: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// Store files or directories; prints each one's digest.
    Put(PutArgs),
    /// Restore a stored file or directory (verified) to a path, or a file to stdout.
    Get(GetArgs),
    /// List stored artifacts and named references.
    Ls,
    /// Re-hash stored objects and report every corrupt or missing one (exit 1 if any).
    Verify(VerifyArgs),
    /// Print the digest of a file or directory without storing it (uses the stat cache).
    Hash(HashArgs),
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Files or directories to store; `-` reads one file from stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// What the artifact is: dataset, features, model, report, file or directory.
    #[arg(long)]
    pub kind: Option<String>,
    /// Name a reference to the artifact (keeps it from gc; usable instead of the digest).
    #[arg(long, value_name = "REF")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// A digest, a unique digest prefix (6+ characters) or a reference name.
    pub target: String,
    /// Where to write it; without it, a file is written to stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace PATH if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only these objects (digests, prefixes or reference names); default: all.
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files or directories to hash.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Report what would be deleted without deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep unreferenced objects younger than this (e.g. 0s, 30m, 1h, 7d), so runs in flight
    /// are never raced.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub grace: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory to create the example project in.
    #[arg(default_value = "slipway-demo")]
    pub dir: PathBuf,
}

/// Parses `90s`, `30m`, `1h`, `7d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; use e.g. 0s, 90s, 30m, 1h, 7d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "`{text}` has unknown unit `{unit}`; use s, m, h or d"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("0s").unwrap().as_secs(), 0);
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert!(parse_duration("2w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("h").is_err());
    }
}

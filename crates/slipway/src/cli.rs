//! The command line, defined once with clap derive: doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes: 0 success; 1 the answer is \"no\" (verify found corrupt objects, \
a pipeline stage failed); 2 usage error or failure; 130 interrupted.";

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
    /// Act as this user (default: $SLIPWAY_USER, else $USER). Roles come from `slipway users`.
    #[arg(long = "as", global = true, env = "SLIPWAY_USER", value_name = "USER")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create .slipway/ (object store, metadata database, config) in this directory.
    Init,
    /// The content-addressed object store by hand.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Run the pipeline in slipway.yaml: only what is stale, restoring cache hits, in parallel.
    Run(RunArgs),
    /// Which stages are stale, and why (the first reason for each).
    Status,
    /// Show the pipeline's stages and edges, marking stale stages.
    Dag(DagArgs),
    /// Champion/challenger decision: promote only if the challenger beats the champion by more
    /// than a margin and breaches no guardrail (exit 1 when the answer is "keep").
    Gate(GateArgs),
    /// The model registry: register, approve, promote, roll back; what is live.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Where a model version, run or file came from (or, with --forward, what it feeds).
    Lineage(LineageArgs),
    /// The model card of a version (Markdown or HTML), generated from recorded evidence.
    Card(CardArgs),
    /// The validation report of a gate decision (Markdown or HTML): inputs, guardrails,
    /// reasons, verdict, and the approvals and transitions that relied on it.
    Validation(ValidationArgs),
    /// Export a version's evidence (card, gate decision, approvals, history, lineage, audit
    /// entries) into a directory with a manifest of digests.
    Evidence(EvidenceArgs),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Who may do what: users and their roles.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens for the server (MLflow clients send them as MLFLOW_TRACKING_TOKEN).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Monitoring: SLO breaches on a metric series, drift (PSI).
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Delete objects that nothing references (no run, lock file or reference).
    Gc(GcArgs),
    /// Run the bundled example end to end in DIR (default: ./slipway-demo).
    Demo(DemoArgs),
    /// The ML Test Score: which of the 28 tests are automated (passing or failing, with the
    /// evidence report's digest), manual or missing, and the paper's score.
    Score(ScoreArgs),
    /// Serve this project: the MLflow-compatible REST API (point MLFLOW_TRACKING_URI at it), the
    /// native API under /api/v1, the serving gateway for every live model under /v1/models
    /// (hot-swapped on registry changes, every prediction logged), the monitors of
    /// monitors.yaml on their schedules, /metrics and /healthz.
    Server(ServerArgs),
    /// Tracked runs (pipeline stages and MLflow-logged runs alike): list, show, search, compare.
    Runs(RunsArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on. Anything but loopback needs users with tokens (or --insecure).
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

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A registered model version. Not available yet: resolving MODEL@VERSION to its recorded
    /// evidence is not wired; without it the score is computed from the project's current
    /// pipeline evidence (the reports its built-in test stages wrote).
    #[arg(value_name = "MODEL@VERSION")]
    pub target: Option<String>,
    /// YAML file of tests run by hand: `manual: {TEST-ID: DOCUMENT}` (default: mltestscore.yaml
    /// in the project root, if present).
    #[arg(long, value_name = "FILE")]
    pub manual: Option<PathBuf>,
    /// Exit 1 when the score is below this.
    #[arg(long, value_name = "SCORE")]
    pub min: Option<f64>,
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
pub struct RunArgs {
    /// Stages to run, with everything upstream of them (a foreach/matrix base name selects all
    /// its instances); default: the whole pipeline.
    pub stages: Vec<String>,
    /// Stages to run at once (default: number of cores).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Run the selected stages even if up to date (no cache restores).
    #[arg(short, long)]
    pub force: bool,
    /// Print what would run or be restored, and why, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// After a failure, keep running the stages that do not depend on it.
    #[arg(short, long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct DagArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DagFormat,
}

/// Formats of `slipway dag`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DagFormat {
    /// Each stage with the stages it depends on.
    Text,
    /// Graphviz dot (`slipway dag --format dot | dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders on GitHub and GitLab).
    Mermaid,
    /// JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The primary metric, measured on the same frozen holdout for both models.
    #[arg(long, default_value = "auc")]
    pub metric: String,
    /// Whether a higher or a lower value of the metric is better.
    #[arg(long, value_enum, default_value = "higher")]
    pub better: Better,
    /// The champion's (current Production model's) value of the metric.
    #[arg(
        long,
        allow_hyphen_values = true,
        required_unless_present = "champion_report"
    )]
    pub champion: Option<f64>,
    /// The challenger's value of the metric.
    #[arg(
        long,
        allow_hyphen_values = true,
        required_unless_present = "challenger_report"
    )]
    pub challenger: Option<f64>,
    /// The champion's evaluation report (from `slipway/evaluate`): its metric values, and the
    /// holdout digest, which must equal the challenger's.
    #[arg(long, value_name = "FILE", conflicts_with = "champion")]
    pub champion_report: Option<PathBuf>,
    /// The challenger's evaluation report; guardrails written `name<=bound` take their value
    /// from it.
    #[arg(long, value_name = "FILE", conflicts_with = "challenger")]
    pub challenger_report: Option<PathBuf>,
    /// Record the decision in the registry for this model (the evidence a promotion needs).
    #[arg(long, value_name = "NAME", requires = "challenger_version")]
    pub model: Option<String>,
    /// The registered version the challenger is.
    #[arg(long, value_name = "VERSION")]
    pub challenger_version: Option<u64>,
    /// The registered version the champion is (default: the current Production of `default`).
    #[arg(long, value_name = "VERSION")]
    pub champion_version: Option<u64>,
    /// The margin the challenger must beat the champion by (strictly).
    #[arg(long, default_value_t = 0.0)]
    pub delta: f64,
    /// A guardrail on the challenger: `name=value<=bound` or `name=value>=bound`
    /// (e.g. `p99_latency_ms=180<=200`); repeatable.
    #[arg(long = "guardrail", value_name = "NAME=VALUE<=BOUND")]
    pub guardrails: Vec<String>,
    /// Take `p99_latency_ms` (a guardrail written `p99_latency_ms<=BOUND`) from the gateway's
    /// prediction log: the challenger version's served latency (e.g. as a shadow or canary)
    /// instead of the evaluation report's.
    #[arg(long, requires = "challenger_version")]
    pub latency_from_log: bool,
}

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Better {
    /// Higher is better (AUC, accuracy).
    Higher,
    /// Lower is better (log loss, error).
    Lower,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List registered models with their tier, owner, latest version and live slots.
    List(ModelsListArgs),
    /// A model (or one version) in detail: inventory, versions, stages, evidence.
    Show(ModelRefArgs),
    /// Register a new version of a model from a model file or directory (or a stored digest).
    Register(RegisterArgs),
    /// Change a model's inventory entry (owner, tier, intended use, limitations).
    Update(UpdateModelArgs),
    /// Sign off a version (validators; bound to its artifact, gate decision and the policy).
    Approve(ApproveArgs),
    /// Make a version Production in a slot (archives the previous one), if the policy allows.
    Promote(PromoteArgs),
    /// Re-point a slot at the previous Production version (or a named earlier one).
    Rollback(RollbackArgs),
    /// Move a version to Staging, Archived or None in a slot.
    Stage(StageArgs),
    /// Point an alias (e.g. `challenger`) at a version, or delete it.
    Alias(AliasArgs),
    /// Pin a version's deployment config (a file stored content-addressed).
    PinConfig(PinConfigArgs),
    /// What is live in a slot, now or at a past time.
    Live(LiveArgs),
    /// Every transition of a model: who, when, what, on what evidence, why.
    History(HistoryArgs),
    /// Champion/challenger traffic of a slot: a canary share or shadow copies to a Staging
    /// version (or show it, or clear it).
    Traffic(TrafficArgs),
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// The model.
    pub name: String,
    /// The deployment slot.
    #[arg(long, default_value = "default")]
    pub slot: String,
    /// Send a share of requests (sticky by request key) to this Staging version.
    #[arg(long, value_name = "VERSION", conflicts_with_all = ["shadow", "clear"])]
    pub canary: Option<u64>,
    /// Mirror a share of requests to this Staging version (its outputs are logged, never
    /// returned).
    #[arg(long, value_name = "VERSION", conflicts_with = "clear")]
    pub shadow: Option<u64>,
    /// The fraction of requests: e.g. 0.05 for 5 % (default: 0.05 for a canary, 1 for shadow).
    #[arg(long)]
    pub share: Option<f64>,
    /// Remove the slot's challenger traffic.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct ModelsListArgs {
    /// Show the full inventory (intended use, limitations).
    #[arg(long)]
    pub inventory: bool,
}

#[derive(Debug, Args)]
pub struct ModelRefArgs {
    /// `NAME` or `NAME@VERSION`.
    pub model: String,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The model's name (created on first registration).
    pub name: String,
    /// The model file or directory to store, or the digest of one already stored.
    #[arg(long)]
    pub artifact: String,
    /// The tracker run that produced it (its author, origin and commit become provenance).
    #[arg(long)]
    pub run: Option<String>,
    /// Risk tier for a new model: low, medium or high.
    #[arg(long)]
    pub tier: Option<String>,
    /// Owner for a new model.
    #[arg(long)]
    pub owner: Option<String>,
    /// Intended use for a new model.
    #[arg(long)]
    pub intended_use: Option<String>,
    /// Known limitations for a new model.
    #[arg(long)]
    pub limitations: Option<String>,
    /// A description of this version.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct UpdateModelArgs {
    /// The model.
    pub name: String,
    /// New risk tier (validators and above).
    #[arg(long)]
    pub tier: Option<String>,
    /// New owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// New intended use.
    #[arg(long)]
    pub intended_use: Option<String>,
    /// New limitations.
    #[arg(long)]
    pub limitations: Option<String>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// Why, or what was checked.
    #[arg(long)]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// The deployment slot.
    #[arg(long, default_value = "default")]
    pub slot: String,
    /// Aliases to move to the version as part of the promotion (e.g. `champion`).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The model.
    pub name: String,
    /// The deployment slot.
    #[arg(long, default_value = "default")]
    pub slot: String,
    /// An earlier Production version to return to (default: the previous one).
    #[arg(long)]
    pub to: Option<u64>,
    /// Why (required: it goes into the history and the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// Staging, Archived or None.
    #[arg(long)]
    pub to: String,
    /// The deployment slot.
    #[arg(long, default_value = "default")]
    pub slot: String,
}

#[derive(Debug, Args)]
pub struct AliasArgs {
    /// The model.
    pub name: String,
    /// The alias.
    pub alias: String,
    /// The version to point it at (omit with --delete).
    #[arg(value_name = "VERSION")]
    pub number: Option<u64>,
    /// Delete the alias.
    #[arg(long, conflicts_with = "number")]
    pub delete: bool,
}

#[derive(Debug, Args)]
pub struct PinConfigArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// The deployment config file.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The model.
    pub name: String,
    /// The deployment slot.
    #[arg(long, default_value = "default")]
    pub slot: String,
    /// A past time: epoch ms or UTC like 2026-11-26T08:30:00Z.
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The model.
    pub name: String,
    /// Only this slot.
    #[arg(long)]
    pub slot: Option<String>,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// A prediction id, `NAME@VERSION`, a run id, a path in the project, or a digest (prefix) /
    /// reference.
    pub target: String,
    /// Forward: every run, model version and live slot downstream of a file or digest.
    #[arg(long)]
    pub forward: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DagFormat,
}

#[derive(Debug, Args)]
pub struct ValidationArgs {
    /// `NAME@VERSION` (its latest gate decision as challenger) or a gate decision's digest.
    pub target: String,
    /// markdown or html.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: CardFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CardArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// markdown or html.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: CardFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Formats of generated documents.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CardFormat {
    /// GitHub-flavoured Markdown.
    Markdown,
    /// A standalone HTML page.
    Html,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// `NAME@VERSION`.
    #[arg(value_name = "NAME@VERSION")]
    pub target: String,
    /// Directory to write (default: evidence-NAME-VERSION).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print audit entries in order.
    Log(AuditLogArgs),
    /// Verify the chain end to end (exit 1 naming the first bad entry).
    Verify,
}

#[derive(Debug, Args)]
pub struct AuditLogArgs {
    /// Only entries after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (the first user must be yourself, as admin).
    Add(UserAddArgs),
    /// List users.
    List,
    /// Change a user's role.
    SetRole(UserAddArgs),
    /// Disable a user (their tokens stop working).
    Disable(UserNameArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// User name.
    pub name: String,
    /// viewer, contributor, validator, deployer or admin.
    #[arg(long)]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// User name.
    pub name: String,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token (printed once; store it safely).
    Create(TokenCreateArgs),
    /// List tokens (without secrets).
    List,
    /// Revoke a token by id.
    Revoke(TokenIdArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Whose token (default: you).
    #[arg(long)]
    pub user: Option<String>,
    /// What it is for.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenIdArgs {
    /// The token's id (the part after `slw_`).
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Sustained-breach check of a daily metric: alert when N consecutive rolling means fall
    /// below the floor (exit 1 when an alert fires).
    Slo(SloArgs),
    /// Population Stability Index per feature, current file against a baseline file (CSV or
    /// Parquet, streamed); exit 1 when any feature reaches the significant threshold.
    Psi(PsiArgs),
    /// Profile a baseline (e.g. the training data): every feature's frozen bins and shares —
    /// and, with --model, the version's predictions on it — stored as an artifact and recorded
    /// on the version; drift monitors without a `baseline:` file compare live traffic with it.
    Profile(ProfileArgs),
    /// Record labels (ground truth) for logged predictions from a CSV `prediction_id,label`.
    Labels(LabelsArgs),
    /// Recent predictions from the gateway's prediction log, with their labels when known.
    Predictions(PredictionsArgs),
    /// p50/p99 latency per model version from the prediction log (the gate's
    /// `p99_latency_ms` guardrail input).
    Latency(LatencyArgs),
    /// Run the monitors declared in monitors.yaml once (the server runs them on their
    /// schedule): a breach opens an incident, notifies the webhook and may propose a retrained
    /// challenger (never promoted); a healthy reading resolves the open incident. Exit 1 when
    /// any monitor is in breach.
    Run(MonitorRunArgs),
    /// The incident log.
    Incidents(IncidentsArgs),
    /// Resolve an incident by hand.
    Resolve(ResolveArgs),
    /// Delete prediction-log segments whose newest prediction is older than a duration
    /// (the segment being written is never touched).
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep predictions younger than this (e.g. 30d, 12h).
    #[arg(long, value_parser = parse_duration)]
    pub older_than: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct MonitorRunArgs {
    /// Only this monitor.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Resolved ones too.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The incident's number.
    pub id: i64,
    /// Why (goes into the incident and the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The baseline table (CSV or Parquet).
    pub file: PathBuf,
    /// `NAME@VERSION`: profile the inputs this version takes and its predictions on the file,
    /// and record the profile on the version.
    #[arg(long, value_name = "NAME@VERSION")]
    pub model: Option<String>,
    /// Only these columns (default: the version's inputs, or every column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Bins for numeric features.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// Also write the profile (JSON) here.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LabelsArgs {
    /// CSV with a header `prediction_id,label`.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct PredictionsArgs {
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Only predictions at or after this time (epoch ms or UTC like 2026-11-26T08:30:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// `NAME` (every version) or `NAME@VERSION`.
    pub model: String,
    /// Only predictions at or after this time (epoch ms or UTC).
    #[arg(long)]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct PsiArgs {
    /// The baseline (e.g. training data): its deciles become the frozen bin edges. With
    /// --model and no baseline, the live version's stored profile.
    #[arg(long, value_name = "FILE", required_unless_present = "model")]
    pub baseline: Option<PathBuf>,
    /// The window to compare (e.g. recent production inputs).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "model",
        conflicts_with = "model"
    )]
    pub current: Option<PathBuf>,
    /// Compare the live traffic of this model (the gateway's prediction log) instead of a file.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// With --model: the slot.
    #[arg(long, default_value = "default", requires = "model")]
    pub slot: String,
    /// With --model: how far back (e.g. 1h, 7d).
    #[arg(long, default_value = "24h", requires = "model")]
    pub window: String,
    /// Only these columns (comma-separated; default: every column of the baseline).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Number of bins for numeric features.
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
    /// PSI at or above this is a moderate shift.
    #[arg(long, default_value_t = 0.1)]
    pub moderate: f64,
    /// PSI at or above this is a significant shift (drift).
    #[arg(long, default_value_t = 0.25)]
    pub significant: f64,
    /// Also write a chart of PSI per feature with the thresholds (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// `quantile`: deciles frozen from the baseline, as NumPy computes them (the default);
    /// `evidently`: Evidently's equal-width Sturges bins over both samples, for comparing
    /// numbers with Evidently's `psi` drift method.
    #[arg(long, value_enum, default_value = "quantile")]
    pub binning: PsiBinning,
}

/// How `monitor psi` bins numeric features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PsiBinning {
    /// Quantile bins frozen from the baseline.
    Quantile,
    /// Evidently's binning.
    Evidently,
}

#[derive(Debug, Args)]
pub struct SloArgs {
    /// CSV with a header `day,value`, one row a day, in order.
    #[arg(long, value_name = "FILE")]
    pub series: PathBuf,
    /// The floor the rolling mean must stay at or above.
    #[arg(long, allow_hyphen_values = true)]
    pub floor: f64,
    /// Days in the rolling mean.
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Consecutive smoothed days below the floor that fire the alert.
    #[arg(long, default_value_t = 3)]
    pub breaches: usize,
    /// Also write a chart of the series, its rolling mean, the floor and the alert day (SVG).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
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

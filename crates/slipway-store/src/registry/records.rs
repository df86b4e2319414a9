//! The registry's records.

use slipway_core::Digest;
use slipway_core::audit::SealedEntry;
use slipway_core::registry::{Approval, Components, ModelVersion, Provenance, RiskTier, Role};

/// What registering a model needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewModel {
    /// Unique name.
    pub name: String,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Its risk tier (default low).
    pub tier: RiskTier,
    /// What it is for.
    pub intended_use: Option<String>,
    /// Known limitations.
    pub limitations: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// Changes to a model's inventory entry; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelUpdate {
    /// New owner.
    pub owner: Option<String>,
    /// New tier.
    pub tier: Option<RiskTier>,
    /// New intended use.
    pub intended_use: Option<String>,
    /// New limitations.
    pub limitations: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// A registered model (its inventory entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredModel {
    /// Unique name.
    pub name: String,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Risk tier.
    pub tier: RiskTier,
    /// What it is for.
    pub intended_use: Option<String>,
    /// Known limitations.
    pub limitations: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Who registered it.
    pub created_by: String,
    /// When, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Aliases, by name.
    pub aliases: Vec<(String, u64)>,
    /// The newest version number, if any.
    pub latest_version: Option<u64>,
}

/// What registering a version needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewVersion {
    /// The model.
    pub model: String,
    /// The model file or directory's digest.
    pub artifact: Option<Digest>,
    /// Where the artifact came from (an MLflow `source` URI, a path).
    pub source: Option<String>,
    /// The run that produced it (provenance is looked up from the tracker when it exists).
    pub run_id: Option<String>,
    /// LLM/agent components.
    pub components: Components,
    /// Free text.
    pub description: Option<String>,
}

/// Changes to a version; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VersionUpdate {
    /// New description.
    pub description: Option<String>,
    /// Pin the deployment config (its digest).
    pub deployment_config: Option<Digest>,
    /// Record the ML Test Score.
    pub ml_test_score: Option<f64>,
}

/// A registered version as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionRecord {
    /// The model.
    pub model: String,
    /// The version as the transition function sees it.
    pub version: ModelVersion,
    /// Where the artifact came from.
    pub source: Option<String>,
    /// The producing run's id.
    pub run_id: Option<String>,
    /// The pinned deployment config.
    pub deployment_config: Option<Digest>,
    /// The recorded ML Test Score.
    pub ml_test_score: Option<f64>,
    /// Free text.
    pub description: Option<String>,
    /// When registered, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
    /// Tags, by key.
    pub tags: Vec<(String, String)>,
    /// Its stage in the `default` slot (MLflow's `current_stage`).
    pub default_stage: slipway_core::registry::Stage,
}

impl VersionRecord {
    /// The version number.
    pub fn number(&self) -> u64 {
        self.version.version
    }
    /// The producing run's provenance, if known.
    pub fn provenance(&self) -> Option<&Provenance> {
        self.version.provenance.as_ref()
    }
}

/// What a transition did.
#[derive(Clone, Debug, PartialEq)]
pub struct TransitionOutcome {
    /// The recorded transition.
    pub record: slipway_core::registry::TransitionRecord,
    /// The effects applied.
    pub effects: Vec<slipway_core::registry::Effect>,
    /// The live version of the slot afterwards.
    pub live: Option<u64>,
}

/// One transition in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct TransitionRow {
    /// Position in the history.
    pub id: i64,
    /// The record (actor, time, evidence, reason).
    pub record: slipway_core::registry::TransitionRecord,
}

/// One move of an alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasMove {
    /// The alias.
    pub alias: String,
    /// Where it pointed before (`None`: it did not exist).
    pub from: Option<u64>,
    /// Where it points after (`None`: deleted).
    pub to: Option<u64>,
    /// Who moved it.
    pub actor: String,
    /// When, ms.
    pub at_ms: i64,
}

/// A recorded approval.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRow {
    /// The approval (who, role, binding, when).
    pub approval: Approval,
    /// The comment given.
    pub comment: Option<String>,
    /// Whether it still counts (its binding matches the version's current artifact, gate
    /// decision and the policy in force).
    pub valid: bool,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When added, ms.
    pub created_ms: i64,
    /// When disabled, if so.
    pub disabled_ms: Option<i64>,
}

/// A token as listed (no secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// Public id (part of the token).
    pub id: String,
    /// Owner.
    pub user: String,
    /// What it is for.
    pub description: Option<String>,
    /// When created, ms.
    pub created_ms: i64,
    /// When revoked, if so.
    pub revoked_ms: Option<i64>,
}

/// A newly created token: the only time the secret is visible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// Public id.
    pub id: String,
    /// The full token to give to the client (`slw_<id>_<secret>`).
    pub token: String,
}

/// An audit entry with its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    /// The sealed entry.
    pub sealed: SealedEntry,
    /// The payload whose digest the entry records.
    pub payload: serde_json::Value,
}

/// How a slot's challenger receives traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficMode {
    /// A share of requests (sticky by request key) is answered by the challenger.
    Canary,
    /// A share of requests is mirrored to the challenger; its output is logged, never returned.
    Shadow,
}

impl TrafficMode {
    /// `canary` or `shadow`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficMode::Canary => "canary",
            TrafficMode::Shadow => "shadow",
        }
    }
}

/// A slot's challenger traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficSplit {
    /// The model.
    pub model: String,
    /// The slot.
    pub slot: String,
    /// Canary or shadow.
    pub mode: TrafficMode,
    /// The challenger version (in Staging in the slot).
    pub challenger: u64,
    /// The fraction of requests routed (canary) or mirrored (shadow), in (0, 1].
    pub share: f64,
    /// Who set it.
    pub actor: String,
    /// When, ms.
    pub updated_ms: i64,
}

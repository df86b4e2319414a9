//! The model registry on top of the metadata store: models, versions, per-slot stages, aliases,
//! approvals, gate decisions, policy, users and tokens, and the tamper-evident audit chain.
//!
//! Decisions are made by `slipway_core::registry::transition` (pure); this module loads the
//! state a decision needs, and applies the resulting effects, the history and the audit entry
//! in ONE transaction. "At most one Production per (model, slot)" is enforced twice: by the
//! transition function and by a partial unique index.

pub mod auth;
mod incidents;
mod records;
pub mod schema;
mod sqlite;
mod traffic;

pub use incidents::{Breach, BreachReport, INCIDENTS, Incident};
pub use traffic::TRAFFIC;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use records::*;

use slipway_core::Digest;
use slipway_core::audit::{ChainBreak, SealedEntry};
use slipway_core::gate::DecisionRecord;
use slipway_core::registry::{Actor, Policy, Refusal, Request, Role, SlotState};

/// An error of the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request was refused; every missing requirement is listed.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A metadata-store failure, or a record that does not exist or already exists.
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
    /// A value is not acceptable (names the field and what would be valid).
    #[error("{0}")]
    Invalid(String),
    /// The actor may not do this.
    #[error("{0}")]
    PermissionDenied(String),
}

/// Shorthand for registry results.
pub type RegResult<T> = Result<T, RegistryError>;

/// The registry interface, implemented by every metadata backend. Every state change appends an
/// audit entry in the same transaction.
pub trait RegistryStore: Send + Sync {
    // --- models (the inventory) ---

    /// Registers a model; `AlreadyExists` if the name is taken.
    fn create_model(&self, new: &NewModel, actor: &Actor, at_ms: i64)
    -> RegResult<RegisteredModel>;
    /// A model by name.
    fn model(&self, name: &str) -> RegResult<RegisteredModel>;
    /// Every model (the inventory), by name.
    fn models(&self) -> RegResult<Vec<RegisteredModel>>;
    /// Changes a model's inventory fields (only the given ones).
    fn update_model(
        &self,
        name: &str,
        update: &ModelUpdate,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<RegisteredModel>;
    /// Renames a model (versions, aliases and history follow).
    fn rename_model(
        &self,
        name: &str,
        new_name: &str,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<RegisteredModel>;
    /// Deletes a model and its versions; refused while a version is in Production anywhere.
    fn delete_model(&self, name: &str, actor: &Actor, at_ms: i64) -> RegResult<()>;
    /// Sets (or with `None` deletes) a model tag.
    fn set_model_tag(
        &self,
        name: &str,
        key: &str,
        value: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<()>;

    // --- versions ---

    /// Registers a new version; its number is the next one for the model, assigned race-free.
    fn register_version(
        &self,
        new: &NewVersion,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<VersionRecord>;
    /// One version.
    fn version(&self, model: &str, version: u64) -> RegResult<VersionRecord>;
    /// Every version of a model, newest first.
    fn versions(&self, model: &str) -> RegResult<Vec<VersionRecord>>;
    /// Versions (of any model) whose artifact is this digest or that a run produced: lineage.
    fn versions_from(
        &self,
        artifact: Option<&Digest>,
        run_id: Option<&str>,
    ) -> RegResult<Vec<VersionRecord>>;
    /// Changes a version's description, pinned deployment config or ML Test Score.
    fn update_version(
        &self,
        model: &str,
        version: u64,
        update: &VersionUpdate,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<VersionRecord>;
    /// Deletes a version; refused while it is in Production in any slot.
    fn delete_version(&self, model: &str, version: u64, actor: &Actor, at_ms: i64)
    -> RegResult<()>;
    /// Sets (or with `None` deletes) a version tag.
    fn set_version_tag(
        &self,
        model: &str,
        version: u64,
        key: &str,
        value: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<()>;

    // --- slots, transitions, aliases ---

    /// The state the transition function sees for a slot (all versions of the model).
    fn slot_state(&self, model: &str, slot: &str) -> RegResult<SlotState>;
    /// Decides and applies a request in one transaction: effects, history, audit entry.
    fn transition(
        &self,
        model: &str,
        slot: &str,
        request: &Request,
    ) -> RegResult<TransitionOutcome>;
    /// What is live in a slot (now, or at a past time).
    fn live(
        &self,
        model: &str,
        slot: &str,
        as_of_ms: Option<i64>,
    ) -> RegResult<Option<VersionRecord>>;
    /// Every live (model, slot) with its version: what the gateway serves.
    fn live_all(&self) -> RegResult<Vec<(String, String, VersionRecord)>>;
    /// The transitions of a model (optionally one slot), oldest first.
    fn history(&self, model: &str, slot: Option<&str>) -> RegResult<Vec<TransitionRow>>;
    /// The version an alias points at.
    fn alias(&self, model: &str, alias: &str) -> RegResult<Option<u64>>;
    /// Every move of a model's aliases, oldest first.
    fn alias_history(&self, model: &str) -> RegResult<Vec<AliasMove>>;
    /// A version's stage in every slot it has one.
    fn stages(
        &self,
        model: &str,
        version: u64,
    ) -> RegResult<Vec<(String, slipway_core::registry::Stage)>>;

    // --- evidence ---

    /// Records a sign-off of a version, bound to its artifact, current gate decision and policy.
    fn approve(
        &self,
        model: &str,
        version: u64,
        actor: &Actor,
        comment: Option<&str>,
        at_ms: i64,
    ) -> RegResult<ApprovalRow>;
    /// Every approval of a version, with whether it still counts.
    fn approvals(&self, model: &str, version: u64) -> RegResult<Vec<ApprovalRow>>;
    /// Records a gate decision (idempotent by digest); returns its digest.
    fn record_gate_decision(
        &self,
        record: &DecisionRecord,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<Digest>;
    /// A gate decision by digest.
    fn gate_decision(&self, digest: &Digest) -> RegResult<Option<DecisionRecord>>;
    /// The latest gate decision with this version as challenger.
    fn latest_gate_decision(
        &self,
        model: &str,
        version: u64,
    ) -> RegResult<Option<(Digest, DecisionRecord)>>;

    // --- policy ---

    /// The policy in force (the defaults until one is set).
    fn policy(&self) -> RegResult<Policy>;
    /// Sets a new policy (its version becomes the previous + 1); earlier approvals stop counting.
    fn set_policy(&self, policy: &Policy, actor: &Actor, at_ms: i64) -> RegResult<Policy>;

    // --- users and tokens ---

    /// Adds a user with a role.
    fn create_user(&self, name: &str, role: Role, actor: &Actor, at_ms: i64) -> RegResult<UserRow>;
    /// Changes a user's role, or disables (`None`) them.
    fn set_user_role(
        &self,
        name: &str,
        role: Option<Role>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<UserRow>;
    /// Every user.
    fn users(&self) -> RegResult<Vec<UserRow>>;
    /// Creates an API token for a user; the secret is returned once and stored only hashed.
    fn create_token(
        &self,
        user: &str,
        description: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<NewToken>;
    /// Every token (without secrets).
    fn tokens(&self) -> RegResult<Vec<TokenRow>>;
    /// Revokes a token.
    fn revoke_token(&self, id: &str, actor: &Actor, at_ms: i64) -> RegResult<()>;
    /// The actor a token stands for, if it is valid (not revoked, user not disabled).
    fn authenticate(&self, token: &str) -> RegResult<Option<Actor>>;

    // --- audit ---

    /// Appends an audit entry for an action recorded elsewhere (e.g. a run created).
    fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        payload: &serde_json::Value,
        at_ms: i64,
    ) -> RegResult<SealedEntry>;
    /// Audit entries with `seq > after`, at most `limit`, in order.
    fn audit_log(&self, after: u64, limit: usize) -> RegResult<Vec<AuditRow>>;
    /// Verifies the whole chain; the first broken entry if any.
    fn audit_verify(&self) -> RegResult<Result<u64, ChainBreak>>;
}

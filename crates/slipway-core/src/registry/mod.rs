//! The model registry as a state machine: stages per (model version, deployment slot), roles,
//! risk-tiered policy, approvals bound to content, protected aliases and rollback.
//!
//! Everything is pure: [`transition`] takes the slot's state, a request (who, when, what), the
//! policy and the evidence, and returns either the effects to apply in one transaction or a
//! [`Refusal`] that lists **every** missing requirement. The store applies the effects (and
//! enforces "at most one Production per (model, slot)" a second time with a unique index);
//! [`SlotState::apply`] applies them in memory, for tests and for replaying history.
//!
//! The stages are `None → Staging → Production → Archived`. Promotion to Production archives the
//! previous Production of the slot in the same result, and pushes the version on the slot's
//! rollback stack; rollback re-points the slot to the version below it (or to a named version from
//! the stack) and records the reason. Models created without a tier are low tier, whose default
//! policy requires nothing and protects no alias, so plain MLflow client code works unchanged.

mod policy;
mod transition;
mod types;

pub use policy::{Approval, ApprovalBinding, Evidence, GateEvidence, Policy, TierPolicy};
pub use transition::{
    Action, Effect, Refusal, Request, Requirement, SlotState, TransitionRecord, VersionEntry,
    approve, transition,
};
pub use types::{
    Actor, Components, ModelInfo, ModelVersion, NameError, Provenance, RiskTier, Role, Stage,
    UnknownName, check_name,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

//! The transition function: a slot's state, a request, the policy and the evidence in; effects or
//! a refusal listing every missing requirement out.

use super::policy::{Approval, ApprovalBinding, Evidence, Policy, TierPolicy};
use super::types::{Actor, ModelInfo, ModelVersion, Role, Stage, check_name};
use crate::Digest;
use crate::gate::Verdict;
use crate::tracking::RunOrigin;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A version and its stage in the slot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionEntry {
    /// The version.
    pub version: ModelVersion,
    /// Its stage in this slot.
    pub stage: Stage,
}

/// What the transition function needs to know about one (model, slot): the model, the versions
/// involved and their stages here, the slot's rollback stack and the model's aliases.
///
/// The store may load only the versions a request touches: the target, the current Production
/// and the versions on the rollback stack.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotState {
    /// The model.
    pub model: ModelInfo,
    /// The deployment slot, e.g. `default`, `eu`.
    pub slot: String,
    /// Versions by number, with their stage in this slot.
    pub versions: BTreeMap<u64, VersionEntry>,
    /// Versions that have been Production in this slot, oldest first; the current Production,
    /// if any, is on top. Rollback returns to the one below.
    pub rollback_stack: Vec<u64>,
    /// The model's aliases (MLflow aliases are per model, not per slot).
    pub aliases: BTreeMap<String, u64>,
}

impl SlotState {
    /// A slot with no versions.
    pub fn new(model: ModelInfo, slot: &str) -> SlotState {
        SlotState {
            model,
            slot: slot.to_string(),
            versions: BTreeMap::new(),
            rollback_stack: Vec::new(),
            aliases: BTreeMap::new(),
        }
    }

    /// Adds a newly registered version (stage None).
    pub fn register(&mut self, version: ModelVersion) {
        self.versions.insert(
            version.version,
            VersionEntry {
                version,
                stage: Stage::None,
            },
        );
    }

    /// The version live in the slot.
    pub fn production(&self) -> Option<u64> {
        self.versions
            .iter()
            .find(|(_, e)| e.stage == Stage::Production)
            .map(|(&v, _)| v)
    }

    /// How many versions are Production (the invariant says at most one).
    pub fn production_count(&self) -> usize {
        self.versions
            .values()
            .filter(|e| e.stage == Stage::Production)
            .count()
    }

    /// A version's stage here (`None` for a version this state does not hold).
    pub fn stage(&self, version: u64) -> Stage {
        self.versions.get(&version).map_or(Stage::None, |e| e.stage)
    }

    /// Applies effects returned by [`transition`].
    pub fn apply(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::SetStage { version, to, .. } => {
                    if let Some(entry) = self.versions.get_mut(version) {
                        entry.stage = *to;
                    }
                }
                Effect::MoveAlias { alias, to, .. } => match to {
                    Some(v) => {
                        self.aliases.insert(alias.clone(), *v);
                    }
                    None => {
                        self.aliases.remove(alias);
                    }
                },
                Effect::SetRollbackStack(stack) => self.rollback_stack = stack.clone(),
                Effect::Record(_) => {}
            }
        }
    }
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Move a version to Staging, Archived or None (Production goes through `Promote`).
    Stage {
        /// The version.
        version: u64,
        /// The stage to move it to.
        to: Stage,
    },
    /// Make a version the slot's Production, archiving the previous one, and point the given
    /// aliases (protected ones included) at it.
    Promote {
        /// The version.
        version: u64,
        /// Aliases to move to it as part of the promotion.
        #[serde(default)]
        aliases: Vec<String>,
    },
    /// Re-point the slot to the previous Production (or a named one from the slot's history).
    Rollback {
        /// A named earlier Production version; the one below the current on the stack if unset.
        #[serde(default)]
        to: Option<u64>,
        /// Why (required).
        reason: String,
    },
    /// Point an alias at a version.
    SetAlias {
        /// The alias.
        alias: String,
        /// The version.
        version: u64,
    },
    /// Remove an alias.
    DeleteAlias {
        /// The alias.
        alias: String,
    },
}

/// Who asks for what, and when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    /// Who.
    pub actor: Actor,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// What.
    pub action: Action,
}

/// A change to apply, all of one result in one transaction.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    /// A version's stage in the slot changes.
    SetStage {
        /// The version.
        version: u64,
        /// Its stage before.
        from: Stage,
        /// Its stage after.
        to: Stage,
    },
    /// An alias moves, appears (`from` unset) or disappears (`to` unset).
    MoveAlias {
        /// The alias.
        alias: String,
        /// The version it pointed at.
        from: Option<u64>,
        /// The version it points at now.
        to: Option<u64>,
    },
    /// The slot's rollback stack becomes this.
    SetRollbackStack(Vec<u64>),
    /// The transition to record in the history and the audit chain.
    Record(TransitionRecord),
}

/// One transition as recorded: who pulled the lever, when, and on what evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransitionRecord {
    /// `stage`, `promote`, `rollback`, `set_alias` or `delete_alias`.
    pub action: String,
    /// The model.
    pub model: String,
    /// The slot.
    pub slot: String,
    /// The version acted on (the rollback target for a rollback).
    pub version: Option<u64>,
    /// Who.
    pub actor: String,
    /// Their role.
    pub role: Role,
    /// When.
    pub time_ms: i64,
    /// Why (rollbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The gate decision relied on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_decision: Option<Digest>,
    /// The approvers whose approvals counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// The pinned deployment config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<Digest>,
    /// The policy version applied.
    pub policy_version: u32,
}

/// The kind of a missing requirement (for mapping to API errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// The actor's role is too weak.
    Role,
    /// The version is not registered (or not known to this state).
    UnknownVersion,
    /// The version's stage does not allow the transition.
    Stage,
    /// A passing gate decision against the current champion.
    Gate,
    /// Enough valid approvals.
    Approvals,
    /// Built by a pipeline run from a clean commit.
    PipelineOrigin,
    /// A pinned deployment config.
    PinnedConfig,
    /// A minimum ML Test Score.
    MlTestScore,
    /// The alias is protected.
    ProtectedAlias,
    /// An alias that does not exist, or an invalid name.
    Alias,
    /// No version to roll back to.
    RollbackTarget,
    /// A rollback needs a reason.
    Reason,
}

impl Requirement {
    /// Whether the requirement is about permission (the caller may not do this) rather than the
    /// request's content: role and protected aliases.
    pub fn is_permission(self) -> bool {
        matches!(self, Requirement::Role | Requirement::ProtectedAlias)
    }
}

/// A refused transition, with every missing requirement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
pub struct Refusal {
    /// What was asked, e.g. `promote credit-risk version 4 to Production in slot default`.
    pub action: String,
    /// Each missing requirement with a human-readable explanation.
    pub missing: Vec<(Requirement, String)>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {}: ", self.action)?;
        for (i, (_, message)) in self.missing.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(message)?;
        }
        Ok(())
    }
}

impl Refusal {
    /// The explanations.
    pub fn reasons(&self) -> Vec<&str> {
        self.missing.iter().map(|(_, m)| m.as_str()).collect()
    }

    /// Whether the requirement kind is among the missing ones.
    pub fn lacks(&self, requirement: Requirement) -> bool {
        self.missing.iter().any(|(r, _)| *r == requirement)
    }

    /// Whether it is a permission problem (MLflow's `PERMISSION_DENIED`) rather than an invalid
    /// request (`INVALID_PARAMETER_VALUE`).
    pub fn is_permission(&self) -> bool {
        self.missing.iter().any(|(r, _)| r.is_permission())
    }
}

/// Collects missing requirements.
struct Checks {
    action: String,
    missing: Vec<(Requirement, String)>,
}

impl Checks {
    fn new(action: String) -> Checks {
        Checks {
            action,
            missing: Vec::new(),
        }
    }

    fn miss(&mut self, requirement: Requirement, message: String) {
        self.missing.push((requirement, message));
    }

    fn role(&mut self, actor: &Actor, needed: Role, doing: &str) {
        if !actor.role.allows(needed) {
            self.miss(
                Requirement::Role,
                format!(
                    "{doing} needs the {needed} role; {} has the {} role",
                    actor.name, actor.role
                ),
            );
        }
    }

    fn finish(self, effects: impl FnOnce() -> Vec<Effect>) -> Result<Vec<Effect>, Refusal> {
        if self.missing.is_empty() {
            Ok(effects())
        } else {
            Err(Refusal {
                action: self.action,
                missing: self.missing,
            })
        }
    }
}

/// Decides a request against the slot's state, the policy (the model's tier picks the tier
/// policy) and the evidence. On success, the effects to apply in one transaction, ending with a
/// [`Effect::Record`]; on refusal, every missing requirement.
pub fn transition(
    state: &SlotState,
    request: &Request,
    policy: &Policy,
    evidence: &Evidence,
) -> Result<Vec<Effect>, Refusal> {
    let tier = policy.tier(state.model.tier);
    let record = |action: &str, version: Option<u64>| TransitionRecord {
        action: action.to_string(),
        model: state.model.name.clone(),
        slot: state.slot.clone(),
        version,
        actor: request.actor.name.clone(),
        role: request.actor.role,
        time_ms: request.time_ms,
        reason: None,
        gate_decision: None,
        approvers: Vec::new(),
        deployment_config: None,
        policy_version: policy.version,
    };
    let (model, slot) = (&state.model.name, &state.slot);
    match &request.action {
        Action::Stage { version, to } => {
            let mut checks = Checks::new(format!(
                "move {model} version {version} to {to} in slot {slot}"
            ));
            let from = state.stage(*version);
            if !state.versions.contains_key(version) {
                unknown_version(&mut checks, state, *version);
            } else if *to == Stage::Production {
                checks.miss(
                    Requirement::Stage,
                    format!("versions reach Production only by promotion, which applies the {} tier policy; use promote", state.model.tier),
                );
            } else if from == *to {
                checks.miss(
                    Requirement::Stage,
                    format!("version {version} is already {to} in slot {slot}"),
                );
            }
            let needed = if from == Stage::Production {
                Role::Deployer
            } else {
                Role::Contributor
            };
            let doing = if from == Stage::Production {
                "taking the Production version out of a slot"
            } else {
                "changing a version's stage"
            };
            checks.role(&request.actor, needed, doing);
            checks.finish(|| {
                let mut effects = vec![Effect::SetStage {
                    version: *version,
                    from,
                    to: *to,
                }];
                if from == Stage::Production {
                    let stack = state
                        .rollback_stack
                        .iter()
                        .copied()
                        .filter(|v| v != version)
                        .collect();
                    effects.push(Effect::SetRollbackStack(stack));
                }
                effects.push(Effect::Record(record("stage", Some(*version))));
                effects
            })
        }
        Action::Promote { version, aliases } => {
            let mut checks = Checks::new(format!(
                "promote {model} version {version} to Production in slot {slot}"
            ));
            checks.role(&request.actor, Role::Deployer, "promoting");
            for alias in aliases {
                if let Err(e) = check_name("alias", alias) {
                    checks.miss(Requirement::Alias, e.to_string());
                }
            }
            let mut approvers = Vec::new();
            match state.versions.get(version) {
                None => unknown_version(&mut checks, state, *version),
                Some(entry) if entry.stage == Stage::Production => checks.miss(
                    Requirement::Stage,
                    format!("version {version} is already Production in slot {slot}"),
                ),
                Some(entry) => {
                    approvers =
                        check_promotion(&mut checks, state, &entry.version, tier, policy, evidence);
                    let moved: Vec<&String> = aliases.iter().filter(|a| tier.protects(a)).collect();
                    if !tier.gate_required && !moved.is_empty() {
                        check_gate(
                            &mut checks,
                            state,
                            *version,
                            evidence,
                            &format!("to move the protected alias {}", list(moved)),
                        );
                    }
                }
            }
            checks.finish(|| {
                let mut effects = Vec::new();
                let current = state.production();
                if let Some(c) = current {
                    effects.push(Effect::SetStage {
                        version: c,
                        from: Stage::Production,
                        to: Stage::Archived,
                    });
                }
                effects.push(Effect::SetStage {
                    version: *version,
                    from: state.stage(*version),
                    to: Stage::Production,
                });
                let mut stack: Vec<u64> = state
                    .rollback_stack
                    .iter()
                    .copied()
                    .filter(|v| v != version)
                    .collect();
                stack.push(*version);
                effects.push(Effect::SetRollbackStack(stack));
                let unique: BTreeSet<&String> = aliases.iter().collect();
                for alias in unique {
                    let from = state.aliases.get(alias).copied();
                    if from != Some(*version) {
                        effects.push(Effect::MoveAlias {
                            alias: alias.clone(),
                            from,
                            to: Some(*version),
                        });
                    }
                }
                let mut rec = record("promote", Some(*version));
                rec.gate_decision = evidence.gate.as_ref().map(|g| g.decision);
                rec.approvers = approvers;
                rec.deployment_config = evidence.deployment_config;
                effects.push(Effect::Record(rec));
                effects
            })
        }
        Action::Rollback { to, reason } => {
            let mut checks = Checks::new(format!("roll back {model} in slot {slot}"));
            checks.role(&request.actor, Role::Deployer, "rolling back");
            if reason.trim().is_empty() {
                checks.miss(
                    Requirement::Reason,
                    "a rollback needs a reason; say why (e.g. the incident id)".to_string(),
                );
            }
            let current = state.production();
            let stack = &state.rollback_stack;
            let target: Option<(u64, usize)> = match to {
                Some(named) => {
                    if Some(*named) == current {
                        checks.miss(
                            Requirement::RollbackTarget,
                            format!("version {named} is already Production in slot {slot}"),
                        );
                        None
                    } else if let Some(at) = stack.iter().rposition(|v| v == named) {
                        Some((*named, at))
                    } else {
                        checks.miss(
                            Requirement::RollbackTarget,
                            format!(
                                "version {named} has not been Production in slot {slot} (earlier Production versions: {}); rollback only returns to an already validated version, promote it instead",
                                list(stack.iter().filter(|v| Some(**v) != current))
                            ),
                        );
                        None
                    }
                }
                None => {
                    let found = stack
                        .iter()
                        .enumerate()
                        .rev()
                        .find(|(_, v)| Some(**v) != current)
                        .map(|(at, v)| (*v, at));
                    if found.is_none() {
                        checks.miss(
                            Requirement::RollbackTarget,
                            format!(
                                "slot {slot} has no earlier Production version to roll back to"
                            ),
                        );
                    }
                    found
                }
            };
            if let Some((v, _)) = target
                && !state.versions.contains_key(&v)
            {
                unknown_version(&mut checks, state, v);
            }
            checks.finish(|| {
                let (target, at) = target.expect("checked");
                let mut effects = Vec::new();
                if let Some(c) = current {
                    effects.push(Effect::SetStage {
                        version: c,
                        from: Stage::Production,
                        to: Stage::Archived,
                    });
                }
                effects.push(Effect::SetStage {
                    version: target,
                    from: state.stage(target),
                    to: Stage::Production,
                });
                effects.push(Effect::SetRollbackStack(stack[..=at].to_vec()));
                if let Some(c) = current {
                    for (alias, v) in &state.aliases {
                        if *v == c {
                            effects.push(Effect::MoveAlias {
                                alias: alias.clone(),
                                from: Some(c),
                                to: Some(target),
                            });
                        }
                    }
                }
                let mut rec = record("rollback", Some(target));
                rec.reason = Some(reason.trim().to_string());
                effects.push(Effect::Record(rec));
                effects
            })
        }
        Action::SetAlias { alias, version } => {
            let mut checks = Checks::new(format!(
                "point alias {alias} of {model} at version {version}"
            ));
            checks.role(&request.actor, Role::Contributor, "setting an alias");
            if let Err(e) = check_name("alias", alias) {
                checks.miss(Requirement::Alias, e.to_string());
            }
            if !state.versions.contains_key(version) {
                unknown_version(&mut checks, state, *version);
            }
            protected(&mut checks, tier, state, alias);
            checks.finish(|| {
                vec![
                    Effect::MoveAlias {
                        alias: alias.clone(),
                        from: state.aliases.get(alias).copied(),
                        to: Some(*version),
                    },
                    Effect::Record(record("set_alias", Some(*version))),
                ]
            })
        }
        Action::DeleteAlias { alias } => {
            let mut checks = Checks::new(format!("delete alias {alias} of {model}"));
            checks.role(&request.actor, Role::Contributor, "deleting an alias");
            let from = state.aliases.get(alias).copied();
            if from.is_none() {
                checks.miss(
                    Requirement::Alias,
                    format!(
                        "{model} has no alias {alias} (aliases: {})",
                        list(state.aliases.keys())
                    ),
                );
            }
            protected(&mut checks, tier, state, alias);
            checks.finish(|| {
                vec![
                    Effect::MoveAlias {
                        alias: alias.clone(),
                        from,
                        to: None,
                    },
                    Effect::Record(record("delete_alias", from)),
                ]
            })
        }
    }
}

fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn unknown_version(checks: &mut Checks, state: &SlotState, version: u64) {
    checks.miss(
        Requirement::UnknownVersion,
        format!(
            "{} has no version {version} (versions: {})",
            state.model.name,
            list(state.versions.keys())
        ),
    );
}

fn protected(checks: &mut Checks, tier: &TierPolicy, state: &SlotState, alias: &str) {
    if tier.protects(alias) {
        checks.miss(
            Requirement::ProtectedAlias,
            format!(
                "alias {alias} is protected for {}-tier models and moves only through a gated promotion (promote with the alias)",
                state.model.tier
            ),
        );
    }
}

/// Checks the tier policy for promoting `version`; returns the approvers that counted.
fn check_promotion(
    checks: &mut Checks,
    state: &SlotState,
    version: &ModelVersion,
    tier: &TierPolicy,
    policy: &Policy,
    evidence: &Evidence,
) -> Vec<String> {
    let v = version.version;
    let tier_name = state.model.tier;
    if tier.gate_required {
        check_gate(
            checks,
            state,
            v,
            evidence,
            &format!("for {tier_name}-tier models"),
        );
    }
    let approvers = count_approvals(checks, state, version, tier, policy, evidence);
    if tier.pipeline_origin_required {
        match &version.provenance {
            None => checks.miss(
                Requirement::PipelineOrigin,
                format!("version {v} has no recorded training run; {tier_name}-tier models promote only versions built by a pipeline run from a clean commit"),
            ),
            Some(p) => {
                if p.origin != RunOrigin::Pipeline {
                    checks.miss(
                        Requirement::PipelineOrigin,
                        format!("version {v} was built by an {} run ({}); {tier_name}-tier models promote only versions built by a pipeline run (the promotion boundary)", p.origin, p.run_id),
                    );
                }
                match (&p.commit, p.dirty) {
                    (None, _) => checks.miss(
                        Requirement::PipelineOrigin,
                        format!("run {} of version {v} has no recorded git commit; build it from a clean commit", p.run_id),
                    ),
                    (Some(commit), true) => checks.miss(
                        Requirement::PipelineOrigin,
                        format!("run {} of version {v} was built at commit {commit} with uncommitted changes; commit them and rebuild", p.run_id),
                    ),
                    (Some(_), false) => {}
                }
            }
        }
    }
    if tier.pinned_config_required && evidence.deployment_config.is_none() {
        checks.miss(
            Requirement::PinnedConfig,
            format!(
                "a pinned deployment config (its digest) is required for {tier_name}-tier models"
            ),
        );
    }
    if let Some(min) = tier.min_ml_test_score {
        match evidence.ml_test_score {
            None => checks.miss(
                Requirement::MlTestScore,
                format!("an ML Test Score of at least {min} is required for {tier_name}-tier models; none is recorded for version {v}"),
            ),
            Some(score) if score.is_nan() || score < min => checks.miss(
                Requirement::MlTestScore,
                format!("version {v}'s ML Test Score {score} is below the minimum {min} for {tier_name}-tier models"),
            ),
            Some(_) => {}
        }
    }
    approvers
}

/// Requires a passing gate decision for version `v` against the slot's current champion.
fn check_gate(checks: &mut Checks, state: &SlotState, v: u64, evidence: &Evidence, why: &str) {
    match &evidence.gate {
        None => checks.miss(
            Requirement::Gate,
            format!("a passing gate decision for version {v} is required {why}; run the gate against the current champion"),
        ),
        Some(gate) => {
            if gate.challenger_version != v {
                checks.miss(
                    Requirement::Gate,
                    format!("the gate decision {} is about version {}, not version {v}", gate.decision.short(12), gate.challenger_version),
                );
            }
            if gate.verdict != Verdict::Promote {
                checks.miss(
                    Requirement::Gate,
                    format!("the gate decision {} says keep the champion, so version {v} may not be promoted", gate.decision.short(12)),
                );
            }
            let champion = state.production();
            if champion.is_some() && gate.champion_version != champion {
                checks.miss(
                    Requirement::Gate,
                    format!(
                        "the gate decision compared against {}, but the current champion in slot {} is version {}; run the gate again",
                        gate.champion_version.map_or("no champion".to_string(), |c| format!("version {c}")),
                        state.slot,
                        champion.unwrap_or_default()
                    ),
                );
            }
        }
    }
}

/// Why an approval does not count for `version` now, if it does not.
fn approval_problem(
    approval: &Approval,
    expected: &ApprovalBinding,
    version: &ModelVersion,
    tier: &TierPolicy,
) -> Option<String> {
    let who = &approval.approver;
    let b = &approval.binding;
    let v = version.version;
    if b.model != expected.model || b.version != expected.version {
        return Some(format!(
            "the approval by {who} is for {} version {}, not version {v}",
            b.model, b.version
        ));
    }
    if b.artifact != expected.artifact {
        return Some(format!(
            "the approval by {who} was for artifact {}, but version {v}'s artifact is {}; the content changed, so approve again",
            b.artifact.short(12),
            expected.artifact.short(12)
        ));
    }
    if b.gate_decision != expected.gate_decision {
        let show = |d: &Option<Digest>| d.map_or("none".to_string(), |d| d.short(12));
        return Some(format!(
            "the approval by {who} was given on gate decision {}, but the latest is {}; approve again",
            show(&b.gate_decision),
            show(&expected.gate_decision)
        ));
    }
    if b.policy_version != expected.policy_version {
        return Some(format!(
            "the approval by {who} was given under policy version {}, but the policy is now version {}; approve again",
            b.policy_version, expected.policy_version
        ));
    }
    if !approval.role.allows(Role::Validator) {
        return Some(format!(
            "the approval by {who} does not count: approvers need the validator role and {who} had the {} role",
            approval.role
        ));
    }
    if tier.separation_of_duties {
        if *who == version.created_by {
            return Some(format!(
                "the approval by {who} does not count: {who} registered version {v} (separation of duties)"
            ));
        }
        if version
            .provenance
            .as_ref()
            .is_some_and(|p| p.author == *who)
        {
            return Some(format!(
                "the approval by {who} does not count: {who} authored its training run (separation of duties)"
            ));
        }
    }
    None
}

fn count_approvals(
    checks: &mut Checks,
    state: &SlotState,
    version: &ModelVersion,
    tier: &TierPolicy,
    policy: &Policy,
    evidence: &Evidence,
) -> Vec<String> {
    let expected = ApprovalBinding::new(
        &state.model.name,
        version,
        evidence.gate.as_ref().map(|g| g.decision),
        policy,
    );
    let mut counted: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    for approval in &evidence.approvals {
        match approval_problem(approval, &expected, version, tier) {
            None => {
                counted.insert(approval.approver.clone());
            }
            Some(problem) => problems.push(problem),
        }
    }
    let needed = tier.approvals as usize;
    if counted.len() < needed {
        let who = if tier.separation_of_duties {
            format!(
                "validators who neither registered version {} nor authored its training run",
                version.version
            )
        } else {
            "validators".to_string()
        };
        checks.miss(
            Requirement::Approvals,
            format!(
                "{needed} approval{} from {who} required for {}-tier models, {} valid ({})",
                if needed == 1 { "" } else { "s" },
                state.model.tier,
                counted.len(),
                list(counted.iter())
            ),
        );
        for problem in problems {
            checks.miss(Requirement::Approvals, problem);
        }
    }
    counted.into_iter().collect()
}

/// Records an approval of `version` by `approver`, bound to the version's artifact, the latest
/// gate decision and the policy version. Refuses an approver without the validator role and,
/// when the model's tier requires separation of duties, the version's creator or its training
/// run's author.
pub fn approve(
    state: &SlotState,
    version: u64,
    approver: &Actor,
    gate_decision: Option<Digest>,
    policy: &Policy,
    time_ms: i64,
) -> Result<Approval, Refusal> {
    let mut checks = Checks::new(format!("approve {} version {version}", state.model.name));
    checks.role(approver, Role::Validator, "approving a version");
    let tier = policy.tier(state.model.tier);
    let entry = state.versions.get(&version);
    match entry {
        None => unknown_version(&mut checks, state, version),
        Some(entry) if tier.separation_of_duties => {
            let who = &approver.name;
            if entry.version.created_by == *who {
                checks.miss(
                    Requirement::Approvals,
                    format!("{who} registered version {version}; {}-tier models need an approver other than the creator (separation of duties)", state.model.tier),
                );
            }
            if entry
                .version
                .provenance
                .as_ref()
                .is_some_and(|p| p.author == *who)
            {
                checks.miss(
                    Requirement::Approvals,
                    format!("{who} authored version {version}'s training run; {}-tier models need an approver other than the author (separation of duties)", state.model.tier),
                );
            }
        }
        Some(_) => {}
    }
    if !checks.missing.is_empty() {
        return Err(Refusal {
            action: checks.action,
            missing: checks.missing,
        });
    }
    let entry = entry.expect("checked");
    Ok(Approval {
        approver: approver.name.clone(),
        role: approver.role,
        binding: ApprovalBinding::new(&state.model.name, &entry.version, gate_decision, policy),
        time_ms,
    })
}

//! Risk-tiered policy, approvals bound to exact content, and the evidence a transition brings.

use super::types::{ModelVersion, RiskTier, Role};
use crate::Digest;
use crate::gate::Verdict;
use crate::pipeline::canonical_json;

/// What a transition to Production needs, for one risk tier.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPolicy {
    /// Approvals needed from distinct validators.
    #[serde(default)]
    pub approvals: u32,
    /// Approvers may be neither the version's creator nor its training run's author.
    #[serde(default)]
    pub separation_of_duties: bool,
    /// A passing gate decision for the version against the current champion is needed.
    #[serde(default)]
    pub gate_required: bool,
    /// The version must come from a `pipeline` run at a clean commit (the promotion boundary).
    #[serde(default)]
    pub pipeline_origin_required: bool,
    /// The deployment config must be pinned (its digest recorded).
    #[serde(default)]
    pub pinned_config_required: bool,
    /// The version's ML Test Score must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ml_test_score: Option<f64>,
    /// Aliases that move only through a gated promotion.
    #[serde(default)]
    pub protected_aliases: Vec<String>,
}

impl TierPolicy {
    /// Nothing required, nothing protected.
    pub fn open() -> TierPolicy {
        TierPolicy {
            approvals: 0,
            separation_of_duties: false,
            gate_required: false,
            pipeline_origin_required: false,
            pinned_config_required: false,
            min_ml_test_score: None,
            protected_aliases: Vec::new(),
        }
    }

    /// Whether `alias` is protected.
    pub fn protects(&self, alias: &str) -> bool {
        self.protected_aliases.iter().any(|a| a == alias)
    }
}

/// The project's policy: one [`TierPolicy`] per risk tier, and a version number that approvals
/// bind to (changing the policy invalidates earlier approvals).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Bumped on every change.
    pub version: u32,
    /// Low tier (the default for a model created without a tier).
    pub low: TierPolicy,
    /// Medium tier.
    pub medium: TierPolicy,
    /// High tier.
    pub high: TierPolicy,
}

impl Default for Policy {
    /// Safe defaults. Low: nothing required and nothing protected (single-user use and plain
    /// MLflow clients work). Medium: a passing gate, 1 approval with separation of duties, a
    /// pipeline run from a clean commit, a pinned deployment config, `champion` protected. High:
    /// as medium with 2 approvals and an ML Test Score of at least 2.
    fn default() -> Policy {
        let medium = TierPolicy {
            approvals: 1,
            separation_of_duties: true,
            gate_required: true,
            pipeline_origin_required: true,
            pinned_config_required: true,
            min_ml_test_score: None,
            protected_aliases: vec!["champion".to_string()],
        };
        let high = TierPolicy {
            approvals: 2,
            min_ml_test_score: Some(2.0),
            ..medium.clone()
        };
        Policy {
            version: 1,
            low: TierPolicy::open(),
            medium,
            high,
        }
    }
}

impl Policy {
    /// The policy for `tier`.
    pub fn tier(&self, tier: RiskTier) -> &TierPolicy {
        match tier {
            RiskTier::Low => &self.low,
            RiskTier::Medium => &self.medium,
            RiskTier::High => &self.high,
        }
    }
}

/// Exactly what an approval approves: a version's artifact, the gate decision, the policy.
/// If any of these changes, the approval no longer counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApprovalBinding {
    /// The model.
    pub model: String,
    /// The version.
    pub version: u64,
    /// The version's artifact digest.
    pub artifact: Digest,
    /// The gate decision's digest, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_decision: Option<Digest>,
    /// The policy version.
    pub policy_version: u32,
}

impl ApprovalBinding {
    /// The binding for `version` of `model` with the current gate decision and policy.
    pub fn new(
        model: &str,
        version: &ModelVersion,
        gate_decision: Option<Digest>,
        policy: &Policy,
    ) -> ApprovalBinding {
        ApprovalBinding {
            model: model.to_string(),
            version: version.version,
            artifact: version.artifact,
            gate_decision,
            policy_version: policy.version,
        }
    }

    /// The digest of the canonical JSON encoding: what the approval signs off.
    pub fn digest(&self) -> Digest {
        let value = serde_json::to_value(self).expect("a binding is plain data");
        Digest::of(canonical_json(&value).as_bytes())
    }
}

/// A recorded sign-off.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// Their role when they approved.
    pub role: Role,
    /// What they approved.
    pub binding: ApprovalBinding,
    /// When, milliseconds since the Unix epoch.
    pub time_ms: i64,
}

/// A gate decision as evidence for a promotion.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GateEvidence {
    /// The decision record's digest.
    pub decision: Digest,
    /// What it decided.
    pub verdict: Verdict,
    /// The challenger it was about.
    pub challenger_version: u64,
    /// The champion it compared against (`None` when the slot had no champion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_version: Option<u64>,
}

/// What a request brings to support a transition.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The latest gate decision for the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateEvidence>,
    /// Every approval recorded for the version (stale ones are sorted out here).
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// The pinned deployment config's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<Digest>,
    /// The version's ML Test Score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml_test_score: Option<f64>,
}

//! The registry's vocabulary: stages, roles, risk tiers, model versions and their provenance.

use crate::Digest;
use crate::tracking::RunOrigin;
use std::fmt;
use std::str::FromStr;

pub use crate::tracking::UnknownName;

/// Where a model version stands in one deployment slot.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Stage {
    /// Registered, not staged.
    None,
    /// Candidate, under evaluation.
    Staging,
    /// Live in the slot; at most one per (model, slot).
    Production,
    /// Retired (a former Production stays a rollback target).
    Archived,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 4] = [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ];

    /// MLflow's names: `None`, `Staging`, `Production`, `Archived`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = UnknownName;
    /// Case-insensitive, as MLflow accepts `production` and `Production`.
    fn from_str(text: &str) -> Result<Stage, UnknownName> {
        Stage::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownName {
                what: "stage",
                value: text.to_string(),
                expected: "None, Staging, Production, Archived",
            })
    }
}

/// What a user may do; each role includes the ones before it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Logs runs, registers versions, stages them, sets unprotected aliases.
    Contributor,
    /// Approves versions for promotion.
    Validator,
    /// Promotes, rolls back, archives what is live.
    Deployer,
    /// Manages users, tokens and policy.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Contributor,
        Role::Validator,
        Role::Deployer,
        Role::Admin,
    ];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Validator => "validator",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Role, UnknownName> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownName {
                what: "role",
                value: text.to_string(),
                expected: "viewer, contributor, validator, deployer, admin",
            })
    }
}

/// How much is at stake when the model is wrong; picks the policy.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    /// The default: nothing is required beyond the role.
    #[default]
    Low,
    /// Gated, approved, built by a pipeline.
    Medium,
    /// As medium, with more approvals and a minimum ML Test Score.
    High,
}

impl RiskTier {
    /// Every tier.
    pub const ALL: [RiskTier; 3] = [RiskTier::Low, RiskTier::Medium, RiskTier::High];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
        }
    }
}

impl fmt::Display for RiskTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskTier {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<RiskTier, UnknownName> {
        RiskTier::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownName {
                what: "risk tier",
                value: text.to_string(),
                expected: "low, medium, high",
            })
    }
}

/// A user acting on the registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    /// User name.
    pub name: String,
    /// Their role.
    pub role: Role,
}

impl Actor {
    /// An actor.
    pub fn new(name: &str, role: Role) -> Actor {
        Actor {
            name: name.to_string(),
            role,
        }
    }
}

/// The registered model: the inventory entry the policy keys on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// The model's name.
    pub name: String,
    /// Its risk tier.
    #[serde(default)]
    pub tier: RiskTier,
}

/// The run that produced a version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The run's id.
    pub run_id: String,
    /// Who ran it.
    pub author: String,
    /// Pipeline stage or ad hoc.
    #[serde(with = "origin_serde")]
    pub origin: RunOrigin,
    /// The git commit it ran at, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    #[serde(default)]
    pub dirty: bool,
}

mod origin_serde {
    use crate::tracking::RunOrigin;
    pub fn serialize<S: serde::Serializer>(o: &RunOrigin, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(o.as_str())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RunOrigin, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The parts of an LLM or agent system that together are "the model": each one versioned.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Components {
    /// The base model's id, e.g. `llama-3.1-8b-instruct@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// Digest of the adapter weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Digest>,
    /// Digest of the system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<Digest>,
    /// Digest of the tool schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_schema: Option<Digest>,
}

impl Components {
    /// Whether no component is set (a plain model file).
    pub fn is_empty(&self) -> bool {
        *self == Components::default()
    }
}

/// A registered version of a model.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelVersion {
    /// The version number, from 1.
    pub version: u64,
    /// The model file or directory (manifest) digest: what approvals bind to.
    pub artifact: Digest,
    /// Who registered it.
    pub created_by: String,
    /// The run that produced it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Components, for LLM and agent systems.
    #[serde(default, skip_serializing_if = "Components::is_empty")]
    pub components: Components,
}

/// A model, slot or alias name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} name `{name}` is not valid; use 1 to 128 letters, digits, `_`, `-` or `.`, starting with a letter or digit"
)]
pub struct NameError {
    /// `model`, `slot` or `alias`.
    pub what: &'static str,
    /// The name.
    pub name: String,
}

/// Checks a model, slot or alias name.
pub fn check_name(what: &'static str, name: &str) -> Result<(), NameError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(NameError {
            what,
            name: name.to_string(),
        })
    }
}

//! Property test of the registry: random sequences of register, approve, promote, rollback and
//! archive across two slots, checked against a small reference model. The invariant "at most one
//! Production per (model, slot)" must hold after every step, every outcome must be the one the
//! reference predicts, and every refusal must name exactly the requirements the reference says
//! are missing.

use super::*;
use crate::Digest;
use crate::gate::Verdict;
use crate::tracking::RunOrigin;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const USERS: [(&str, Role); 5] = [
    ("ann", Role::Viewer),
    ("ben", Role::Contributor),
    ("cat", Role::Validator),
    ("dan", Role::Deployer),
    ("eve", Role::Admin),
];
const SLOTS: usize = 2;

#[derive(Clone, Debug)]
enum Op {
    Register {
        creator: usize,
        author: usize,
        pipeline: bool,
    },
    Approve {
        version: u64,
        approver: usize,
    },
    Promote {
        version: u64,
        slot: usize,
        actor: usize,
        gate_ok: bool,
        gate_fresh: bool,
    },
    Rollback {
        slot: usize,
        actor: usize,
        reason: bool,
    },
    Archive {
        version: u64,
        slot: usize,
        actor: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    // Mostly users with enough rights, so that transitions succeed often enough to matter.
    let deployer = prop_oneof![4 => 3..USERS.len(), 1 => 0..USERS.len()];
    let validator = prop_oneof![4 => 2..USERS.len(), 1 => 0..USERS.len()];
    let version = 1u64..6;
    let slot = 0..SLOTS;
    prop_oneof![
        2 => (user.clone(), user.clone(), prop::bool::weighted(0.8))
            .prop_map(|(creator, author, pipeline)| Op::Register { creator, author, pipeline }),
        3 => (version.clone(), validator).prop_map(|(version, approver)| Op::Approve { version, approver }),
        4 => (version.clone(), slot.clone(), deployer.clone(), prop::bool::weighted(0.85), prop::bool::weighted(0.85))
            .prop_map(|(version, slot, actor, gate_ok, gate_fresh)| Op::Promote { version, slot, actor, gate_ok, gate_fresh }),
        2 => (slot.clone(), deployer.clone(), prop::bool::weighted(0.9))
            .prop_map(|(slot, actor, reason)| Op::Rollback { slot, actor, reason }),
        1 => (version, slot, prop_oneof![Just(1usize), deployer]).prop_map(|(version, slot, actor)| Op::Archive { version, slot, actor }),
    ]
}

fn actor(i: usize) -> Actor {
    Actor::new(USERS[i].0, USERS[i].1)
}

/// The reference: plain bookkeeping, written independently of the transition function.
#[derive(Default)]
struct Reference {
    /// (creator, author, built by a pipeline) per version, index = version - 1.
    versions: Vec<(usize, usize, bool)>,
    /// Users whose approval of a version counts.
    approvers: BTreeMap<u64, BTreeSet<usize>>,
    stage: [BTreeMap<u64, Stage>; SLOTS],
    production: [Option<u64>; SLOTS],
    stack: [Vec<u64>; SLOTS],
}

impl Reference {
    fn known(&self, v: u64) -> bool {
        v >= 1 && v as usize <= self.versions.len()
    }

    fn stage(&self, slot: usize, v: u64) -> Stage {
        self.stage[slot].get(&v).copied().unwrap_or(Stage::None)
    }

    fn set(&mut self, slot: usize, v: u64, stage: Stage) {
        self.stage[slot].insert(v, stage);
        if stage == Stage::Production {
            self.production[slot] = Some(v);
        } else if self.production[slot] == Some(v) {
            self.production[slot] = None;
        }
    }
}

fn kinds(refusal: &Refusal) -> BTreeSet<String> {
    refusal
        .missing
        .iter()
        .map(|(r, _)| format!("{r:?}"))
        .collect()
}

fn expect(set: &[&str]) -> BTreeSet<String> {
    set.iter().map(|s| s.to_string()).collect()
}

fn policy() -> Policy {
    // The default medium tier, without the alias protection (not exercised here).
    let mut p = Policy::default();
    p.medium.protected_aliases.clear();
    p
}

fn gate_digest(v: u64) -> Digest {
    Digest::of(format!("gate decision for version {v}").as_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariant_and_reasons_hold_for_random_sequences(ops in proptest::collection::vec(op(), 1..80)) {
        let policy = policy();
        let model = ModelInfo { name: "m".into(), tier: RiskTier::Medium };
        let mut slots: Vec<SlotState> = (0..SLOTS).map(|i| SlotState::new(model.clone(), &format!("s{i}"))).collect();
        let mut approvals: BTreeMap<u64, Vec<Approval>> = BTreeMap::new();
        let mut reference = Reference::default();
        let t = 1_700_000_000_000;

        for op in ops {
            match op {
                Op::Register { creator, author, pipeline } => {
                    let v = reference.versions.len() as u64 + 1;
                    reference.versions.push((creator, author, pipeline));
                    let version = ModelVersion {
                        version: v,
                        artifact: Digest::of(format!("bytes {v}").as_bytes()),
                        created_by: USERS[creator].0.into(),
                        provenance: Some(Provenance {
                            run_id: format!("r{v}"),
                            author: USERS[author].0.into(),
                            origin: if pipeline { RunOrigin::Pipeline } else { RunOrigin::Adhoc },
                            commit: Some("abc123".into()),
                            dirty: false,
                        }),
                        components: Components::default(),
                    };
                    for s in &mut slots {
                        s.register(version.clone());
                    }
                }
                Op::Approve { version, approver } => {
                    let result = approve(&slots[0], version, &actor(approver), Some(gate_digest(version)), &policy, t);
                    let mut missing = Vec::new();
                    if !USERS[approver].1.allows(Role::Validator) { missing.push("Role"); }
                    if !reference.known(version) {
                        missing.push("UnknownVersion");
                    } else {
                        let (creator, author, _) = reference.versions[version as usize - 1];
                        if approver == creator || approver == author { missing.push("Approvals"); }
                    }
                    match result {
                        Ok(a) => {
                            prop_assert!(missing.is_empty(), "approval accepted, reference expected {missing:?}");
                            reference.approvers.entry(version).or_default().insert(approver);
                            approvals.entry(version).or_default().push(a);
                        }
                        Err(refusal) => {
                            prop_assert_eq!(kinds(&refusal), expect(&missing));
                            prop_assert!(refusal.reasons().iter().all(|r| !r.is_empty()));
                        }
                    }
                }
                Op::Promote { version, slot, actor: who, gate_ok, gate_fresh } => {
                    let champion = reference.production[slot];
                    let evidence = Evidence {
                        gate: Some(GateEvidence {
                            decision: gate_digest(version),
                            verdict: if gate_ok { Verdict::Promote } else { Verdict::Keep },
                            challenger_version: version,
                            champion_version: if gate_fresh { champion } else { champion.map(|c| c + 100).or(Some(99)) },
                        }),
                        approvals: approvals.get(&version).cloned().unwrap_or_default(),
                        deployment_config: Some(Digest::of(b"cfg")),
                        ml_test_score: None,
                    };
                    let request = Request { actor: actor(who), time_ms: t, action: Action::Promote { version, aliases: vec![] } };
                    let result = transition(&slots[slot], &request, &policy, &evidence);
                    let mut missing = Vec::new();
                    if !USERS[who].1.allows(Role::Deployer) { missing.push("Role"); }
                    if !reference.known(version) {
                        missing.push("UnknownVersion");
                    } else if champion == Some(version) {
                        missing.push("Stage");
                    } else {
                        if !gate_ok || (champion.is_some() && !gate_fresh) { missing.push("Gate"); }
                        if reference.approvers.get(&version).is_none_or(|a| a.is_empty()) { missing.push("Approvals"); }
                        if !reference.versions[version as usize - 1].2 { missing.push("PipelineOrigin"); }
                    }
                    match result {
                        Ok(effects) => {
                            prop_assert!(missing.is_empty(), "promotion accepted, reference expected {missing:?}");
                            slots[slot].apply(&effects);
                            if let Some(c) = champion { reference.set(slot, c, Stage::Archived); }
                            reference.set(slot, version, Stage::Production);
                            reference.stack[slot].retain(|v| *v != version);
                            reference.stack[slot].push(version);
                        }
                        Err(refusal) => {
                            prop_assert!(!missing.is_empty(), "promotion refused: {refusal}");
                            prop_assert_eq!(kinds(&refusal), expect(&missing), "{}", refusal);
                        }
                    }
                }
                Op::Rollback { slot, actor: who, reason } => {
                    let request = Request {
                        actor: actor(who),
                        time_ms: t,
                        action: Action::Rollback { to: None, reason: if reason { "incident".into() } else { String::new() } },
                    };
                    let result = transition(&slots[slot], &request, &policy, &Evidence::default());
                    let current = reference.production[slot];
                    let stack = &reference.stack[slot];
                    let target = match current {
                        Some(c) => stack.iter().rev().find(|v| **v != c).copied(),
                        None => stack.last().copied(),
                    };
                    let mut missing = Vec::new();
                    if !USERS[who].1.allows(Role::Deployer) { missing.push("Role"); }
                    if !reason { missing.push("Reason"); }
                    if target.is_none() { missing.push("RollbackTarget"); }
                    match result {
                        Ok(effects) => {
                            prop_assert!(missing.is_empty(), "rollback accepted, reference expected {missing:?}");
                            slots[slot].apply(&effects);
                            let target = target.unwrap();
                            if let Some(c) = current { reference.set(slot, c, Stage::Archived); }
                            reference.set(slot, target, Stage::Production);
                            let at = reference.stack[slot].iter().rposition(|v| *v == target).unwrap();
                            reference.stack[slot].truncate(at + 1);
                        }
                        Err(refusal) => prop_assert_eq!(kinds(&refusal), expect(&missing), "{}", refusal),
                    }
                }
                Op::Archive { version, slot, actor: who } => {
                    let request = Request { actor: actor(who), time_ms: t, action: Action::Stage { version, to: Stage::Archived } };
                    let result = transition(&slots[slot], &request, &policy, &Evidence::default());
                    let live = reference.production[slot] == Some(version);
                    let needed = if live { Role::Deployer } else { Role::Contributor };
                    let mut missing = Vec::new();
                    if !USERS[who].1.allows(needed) { missing.push("Role"); }
                    if !reference.known(version) {
                        missing.push("UnknownVersion");
                    } else if reference.stage(slot, version) == Stage::Archived {
                        missing.push("Stage");
                    }
                    match result {
                        Ok(effects) => {
                            prop_assert!(missing.is_empty(), "archive accepted, reference expected {missing:?}");
                            slots[slot].apply(&effects);
                            reference.set(slot, version, Stage::Archived);
                            if live { reference.stack[slot].retain(|v| *v != version); }
                        }
                        Err(refusal) => prop_assert_eq!(kinds(&refusal), expect(&missing), "{}", refusal),
                    }
                }
            }
            for (i, s) in slots.iter().enumerate() {
                prop_assert!(s.production_count() <= 1, "slot {i} has {} Production versions", s.production_count());
                prop_assert_eq!(s.production(), reference.production[i]);
                prop_assert_eq!(&s.rollback_stack, &reference.stack[i]);
                for v in s.versions.keys() {
                    prop_assert_eq!(s.stage(*v), reference.stage(i, *v), "slot {} version {}", i, v);
                }
            }
        }
    }
}

//! Scenario tests of the registry: tiers, separation of duties, approvals bound to content,
//! gates, the promotion boundary, rollback and protected aliases.

use super::*;
use crate::Digest;
use crate::gate::Verdict;
use crate::tracking::RunOrigin;

const T0: i64 = 1_700_000_000_000;

fn admin() -> Actor {
    Actor::new("root", Role::Admin)
}
fn deployer() -> Actor {
    Actor::new("dora", Role::Deployer)
}
fn carol() -> Actor {
    Actor::new("carol", Role::Validator)
}
fn victor() -> Actor {
    Actor::new("victor", Role::Validator)
}

/// A version registered by alice from a pipeline run authored by bob at a clean commit.
fn version(v: u64) -> ModelVersion {
    ModelVersion {
        version: v,
        artifact: Digest::of(format!("model bytes {v}").as_bytes()),
        created_by: "alice".into(),
        provenance: Some(Provenance {
            run_id: format!("run-{v}"),
            author: "bob".into(),
            origin: RunOrigin::Pipeline,
            commit: Some("3f2a9c1".into()),
            dirty: false,
        }),
        components: Components::default(),
    }
}

fn slot(tier: RiskTier, versions: u64) -> SlotState {
    let mut s = SlotState::new(
        ModelInfo {
            name: "credit-risk".into(),
            tier,
        },
        "default",
    );
    for v in 1..=versions {
        s.register(version(v));
    }
    s
}

fn request(actor: Actor, action: Action) -> Request {
    Request {
        actor,
        time_ms: T0,
        action,
    }
}

fn promote(v: u64) -> Action {
    Action::Promote {
        version: v,
        aliases: vec![],
    }
}

fn gate(v: u64, champion: Option<u64>, verdict: Verdict) -> GateEvidence {
    GateEvidence {
        decision: Digest::of(format!("decision {v} vs {champion:?} {verdict}").as_bytes()),
        verdict,
        challenger_version: v,
        champion_version: champion,
    }
}

/// Full medium-tier evidence for promoting `v` over `champion`.
fn evidence(state: &SlotState, v: u64, champion: Option<u64>, policy: &Policy) -> Evidence {
    let g = gate(v, champion, Verdict::Promote);
    let approval = approve(state, v, &carol(), Some(g.decision), policy, T0).unwrap();
    Evidence {
        gate: Some(g),
        approvals: vec![approval],
        deployment_config: Some(Digest::of(b"deploy.yaml")),
        ml_test_score: None,
    }
}

fn apply(
    state: &mut SlotState,
    actor: Actor,
    action: Action,
    policy: &Policy,
    evidence: &Evidence,
) -> Vec<Effect> {
    let effects = transition(state, &request(actor, action), policy, evidence).unwrap();
    state.apply(&effects);
    assert!(state.production_count() <= 1);
    effects
}

fn record(effects: &[Effect]) -> &TransitionRecord {
    match effects.last() {
        Some(Effect::Record(r)) => r,
        other => panic!("last effect is not a record: {other:?}"),
    }
}

#[test]
fn low_tier_needs_nothing_and_promotion_archives_the_previous_production() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Low, 2);
    let none = Evidence::default();
    let effects = apply(&mut s, admin(), promote(1), &policy, &none);
    assert_eq!(
        effects[0],
        Effect::SetStage {
            version: 1,
            from: Stage::None,
            to: Stage::Production
        }
    );
    let effects = apply(&mut s, admin(), promote(2), &policy, &none);
    assert_eq!(
        effects[..3],
        [
            Effect::SetStage {
                version: 1,
                from: Stage::Production,
                to: Stage::Archived
            },
            Effect::SetStage {
                version: 2,
                from: Stage::None,
                to: Stage::Production
            },
            Effect::SetRollbackStack(vec![1, 2]),
        ]
    );
    assert_eq!(s.production(), Some(2));
    assert_eq!(s.stage(1), Stage::Archived);
    let rec = record(&effects);
    assert_eq!(
        (rec.action.as_str(), rec.version, rec.actor.as_str()),
        ("promote", Some(2), "root")
    );
    assert_eq!(rec.time_ms, T0);
    // Plain MLflow-style alias calls work on a low-tier model.
    apply(
        &mut s,
        Actor::new("alice", Role::Contributor),
        Action::SetAlias {
            alias: "champion".into(),
            version: 2,
        },
        &policy,
        &none,
    );
    assert_eq!(s.aliases["champion"], 2);
}

#[test]
fn roles_are_checked_and_are_permission_problems() {
    let policy = Policy::default();
    let s = slot(RiskTier::Low, 1);
    let err = transition(
        &s,
        &request(Actor::new("vic", Role::Validator), promote(1)),
        &policy,
        &Evidence::default(),
    )
    .unwrap_err();
    assert_eq!(err.missing.len(), 1);
    assert!(err.is_permission());
    assert_eq!(
        err.to_string(),
        "cannot promote credit-risk version 1 to Production in slot default: promoting needs the deployer role; vic has the validator role"
    );
    let err = transition(
        &s,
        &request(
            Actor::new("viewer", Role::Viewer),
            Action::Stage {
                version: 1,
                to: Stage::Staging,
            },
        ),
        &policy,
        &Evidence::default(),
    )
    .unwrap_err();
    assert!(err.lacks(Requirement::Role));
}

#[test]
fn medium_tier_refusal_lists_every_missing_requirement() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Medium, 1);
    let v = s.versions.get_mut(&1).unwrap();
    v.version.provenance.as_mut().unwrap().origin = RunOrigin::Adhoc;
    let err = transition(
        &s,
        &request(deployer(), promote(1)),
        &policy,
        &Evidence::default(),
    )
    .unwrap_err();
    let kinds: Vec<Requirement> = err.missing.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        kinds,
        vec![
            Requirement::Gate,
            Requirement::Approvals,
            Requirement::PipelineOrigin,
            Requirement::PinnedConfig
        ],
        "{err}"
    );
    assert!(!err.is_permission());
    let msg = err.to_string();
    assert!(
        msg.contains("a passing gate decision for version 1 is required"),
        "{msg}"
    );
    assert!(msg.contains("1 approval from validators who neither registered version 1 nor authored its training run required for medium-tier models, 0 valid (none)"), "{msg}");
    assert!(msg.contains("built by an adhoc run (run-1)"), "{msg}");
    assert!(msg.contains("pinned deployment config"), "{msg}");
}

#[test]
fn medium_tier_promotes_with_full_evidence() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Medium, 2);
    let ev = evidence(&s, 1, None, &policy);
    let effects = apply(&mut s, deployer(), promote(1), &policy, &ev);
    let rec = record(&effects);
    assert_eq!(rec.approvers, vec!["carol".to_string()]);
    assert_eq!(rec.gate_decision, Some(ev.gate.as_ref().unwrap().decision));
    assert_eq!(rec.deployment_config, Some(Digest::of(b"deploy.yaml")));
    assert_eq!(rec.policy_version, 1);
    // The next challenger's gate must be against the current champion, version 1.
    let stale = evidence(&s, 2, None, &policy);
    let err = transition(&s, &request(deployer(), promote(2)), &policy, &stale).unwrap_err();
    assert!(err.lacks(Requirement::Gate));
    assert!(
        err.to_string().contains(
            "compared against no champion, but the current champion in slot default is version 1"
        ),
        "{err}"
    );
    let ev = evidence(&s, 2, Some(1), &policy);
    apply(&mut s, deployer(), promote(2), &policy, &ev);
    assert_eq!(s.production(), Some(2));
}

#[test]
fn gate_that_says_keep_refuses() {
    let policy = Policy::default();
    let s = slot(RiskTier::Medium, 1);
    let mut ev = evidence(&s, 1, None, &policy);
    let keep = gate(1, None, Verdict::Keep);
    ev.approvals = vec![approve(&s, 1, &carol(), Some(keep.decision), &policy, T0).unwrap()];
    ev.gate = Some(keep);
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert_eq!(err.missing.len(), 1, "{err}");
    assert!(err.reasons()[0].contains("says keep the champion"), "{err}");
    // A decision about another version does not count either.
    let mut ev = evidence(&s, 1, None, &policy);
    ev.gate.as_mut().unwrap().challenger_version = 7;
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert!(
        err.to_string()
            .contains("is about version 7, not version 1"),
        "{err}"
    );
}

#[test]
fn separation_of_duties() {
    let policy = Policy::default();
    let s = slot(RiskTier::Medium, 1);
    let g = gate(1, None, Verdict::Promote);
    // The creator and the run's author may not approve.
    let err = approve(
        &s,
        1,
        &Actor::new("alice", Role::Validator),
        Some(g.decision),
        &policy,
        T0,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("alice registered version 1"),
        "{err}"
    );
    let err = approve(
        &s,
        1,
        &Actor::new("bob", Role::Admin),
        Some(g.decision),
        &policy,
        T0,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("bob authored version 1's training run"),
        "{err}"
    );
    // A contributor may not approve at all.
    let err = approve(
        &s,
        1,
        &Actor::new("cid", Role::Contributor),
        None,
        &policy,
        T0,
    )
    .unwrap_err();
    assert!(err.lacks(Requirement::Role));
    // Approvals recorded some other way by the creator do not count at promotion either.
    let forged = Approval {
        approver: "alice".into(),
        role: Role::Validator,
        binding: ApprovalBinding::new("credit-risk", &version(1), Some(g.decision), &policy),
        time_ms: T0,
    };
    let ev = Evidence {
        gate: Some(g),
        approvals: vec![forged.clone(), forged],
        deployment_config: Some(Digest::of(b"deploy.yaml")),
        ml_test_score: None,
    };
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert!(err.lacks(Requirement::Approvals));
    assert!(err.to_string().contains("the approval by alice does not count: alice registered version 1 (separation of duties)"), "{err}");
    // Without separation of duties (a custom low tier needing one approval) the creator may approve.
    let mut relaxed = Policy::default();
    relaxed.low.approvals = 1;
    let low = slot(RiskTier::Low, 1);
    let own = approve(
        &low,
        1,
        &Actor::new("alice", Role::Validator),
        None,
        &relaxed,
        T0,
    )
    .unwrap();
    let ev = Evidence {
        approvals: vec![own],
        ..Evidence::default()
    };
    assert!(transition(&low, &request(deployer(), promote(1)), &relaxed, &ev).is_ok());
}

#[test]
fn approvals_are_bound_to_content() {
    let policy = Policy::default();
    let s = slot(RiskTier::Medium, 1);
    let ev = evidence(&s, 1, None, &policy);
    assert!(transition(&s, &request(deployer(), promote(1)), &policy, &ev).is_ok());

    // The version's artifact changed (re-registered bytes): the approval is stale.
    let mut changed = s.clone();
    changed.versions.get_mut(&1).unwrap().version.artifact = Digest::of(b"other bytes");
    let err = transition(&changed, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert!(
        err.to_string()
            .contains("the content changed, so approve again"),
        "{err}"
    );

    // A new gate decision: the approval was given on the old one.
    let mut regated = ev.clone();
    regated.gate = Some(GateEvidence {
        decision: Digest::of(b"a newer decision"),
        ..ev.gate.clone().unwrap()
    });
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &regated).unwrap_err();
    assert!(
        err.to_string().contains("was given on gate decision"),
        "{err}"
    );

    // A new policy version.
    let bumped = Policy {
        version: 2,
        ..policy.clone()
    };
    let err = transition(&s, &request(deployer(), promote(1)), &bumped, &ev).unwrap_err();
    assert!(
        err.to_string()
            .contains("under policy version 1, but the policy is now version 2"),
        "{err}"
    );
    assert_eq!(
        err.missing.len(),
        2,
        "the count and the stale approval: {err}"
    );
}

#[test]
fn binding_digest_changes_with_content() {
    let policy = Policy::default();
    let a = ApprovalBinding::new("m", &version(1), None, &policy);
    let mut b = a.clone();
    b.gate_decision = Some(Digest::of(b"x"));
    assert_ne!(a.digest(), b.digest());
    assert_eq!(a.digest(), a.clone().digest());
}

#[test]
fn high_tier_needs_two_approvers_and_a_test_score() {
    let policy = Policy::default();
    let s = slot(RiskTier::High, 1);
    let mut ev = evidence(&s, 1, None, &policy);
    // The same approver twice counts once.
    ev.approvals.push(ev.approvals[0].clone());
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert!(err.lacks(Requirement::Approvals));
    assert!(err.lacks(Requirement::MlTestScore));
    assert!(
        err.to_string().contains("2 approvals from validators"),
        "{err}"
    );
    assert!(err.to_string().contains("none is recorded"), "{err}");
    let decision = ev.gate.as_ref().unwrap().decision;
    ev.approvals
        .push(approve(&s, 1, &victor(), Some(decision), &policy, T0).unwrap());
    ev.ml_test_score = Some(1.5);
    let err = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap_err();
    assert_eq!(err.missing.len(), 1, "{err}");
    assert!(
        err.to_string()
            .contains("ML Test Score 1.5 is below the minimum 2"),
        "{err}"
    );
    ev.ml_test_score = Some(2.0);
    let effects = transition(&s, &request(deployer(), promote(1)), &policy, &ev).unwrap();
    assert_eq!(
        record(&effects).approvers,
        vec!["carol".to_string(), "victor".to_string()]
    );
}

#[test]
fn promotion_boundary_needs_a_clean_pipeline_commit() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Medium, 3);
    s.versions
        .get_mut(&1)
        .unwrap()
        .version
        .provenance
        .as_mut()
        .unwrap()
        .dirty = true;
    s.versions
        .get_mut(&2)
        .unwrap()
        .version
        .provenance
        .as_mut()
        .unwrap()
        .commit = None;
    s.versions.get_mut(&3).unwrap().version.provenance = None;
    let cases = [
        (1, "with uncommitted changes"),
        (2, "has no recorded git commit"),
        (3, "has no recorded training run"),
    ];
    for (v, expected) in cases {
        let ev = evidence(&s, v, None, &policy);
        let err = transition(&s, &request(deployer(), promote(v)), &policy, &ev).unwrap_err();
        assert_eq!(err.missing.len(), 1, "{err}");
        assert!(err.lacks(Requirement::PipelineOrigin));
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn rollback_walks_back_through_production_history() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Low, 4);
    let none = Evidence::default();
    for v in 1..=3 {
        apply(&mut s, deployer(), promote(v), &policy, &none);
    }
    apply(
        &mut s,
        admin(),
        Action::SetAlias {
            alias: "live".into(),
            version: 3,
        },
        &policy,
        &none,
    );
    let rollback = |reason: &str| Action::Rollback {
        to: None,
        reason: reason.into(),
    };
    let effects = apply(
        &mut s,
        deployer(),
        rollback("INC-7: p99 latency doubled"),
        &policy,
        &none,
    );
    assert_eq!(s.production(), Some(2));
    assert_eq!(s.stage(3), Stage::Archived);
    assert_eq!(s.rollback_stack, vec![1, 2]);
    assert_eq!(
        s.aliases["live"], 2,
        "aliases on the rolled-back version follow"
    );
    let rec = record(&effects);
    assert_eq!(rec.action, "rollback");
    assert_eq!(rec.reason.as_deref(), Some("INC-7: p99 latency doubled"));
    apply(&mut s, deployer(), rollback("again"), &policy, &none);
    assert_eq!(s.production(), Some(1));
    let err = transition(
        &s,
        &request(deployer(), rollback("once more")),
        &policy,
        &none,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot roll back credit-risk in slot default: slot default has no earlier Production version to roll back to"
    );
    // No reason, wrong role: both reported.
    let err = transition(&s, &request(carol(), rollback("  ")), &policy, &none).unwrap_err();
    assert!(
        err.lacks(Requirement::Reason) && err.lacks(Requirement::Role),
        "{err}"
    );
}

#[test]
fn rollback_to_a_named_version() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Low, 4);
    let none = Evidence::default();
    for v in 1..=3 {
        apply(&mut s, deployer(), promote(v), &policy, &none);
    }
    let to = |v: u64| Action::Rollback {
        to: Some(v),
        reason: "drill".into(),
    };
    let err = transition(&s, &request(deployer(), to(4)), &policy, &none).unwrap_err();
    assert!(
        err.to_string().contains(
            "version 4 has not been Production in slot default (earlier Production versions: 1, 2)"
        ),
        "{err}"
    );
    let err = transition(&s, &request(deployer(), to(3)), &policy, &none).unwrap_err();
    assert!(
        err.to_string().contains("version 3 is already Production"),
        "{err}"
    );
    apply(&mut s, deployer(), to(1), &policy, &none);
    assert_eq!(s.production(), Some(1));
    assert_eq!(s.rollback_stack, vec![1]);
}

#[test]
fn rollback_after_the_production_was_withdrawn() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Low, 2);
    let none = Evidence::default();
    apply(&mut s, deployer(), promote(1), &policy, &none);
    apply(&mut s, deployer(), promote(2), &policy, &none);
    // Archiving what is live needs the deployer role and takes it off the stack.
    let archive = Action::Stage {
        version: 2,
        to: Stage::Archived,
    };
    let err = transition(
        &s,
        &request(Actor::new("cid", Role::Contributor), archive.clone()),
        &policy,
        &none,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("taking the Production version out of a slot needs the deployer role"),
        "{err}"
    );
    apply(&mut s, deployer(), archive, &policy, &none);
    assert_eq!(s.production(), None);
    assert_eq!(s.rollback_stack, vec![1]);
    // With nothing live, rollback restores the last version still on the stack.
    apply(
        &mut s,
        deployer(),
        Action::Rollback {
            to: None,
            reason: "restore service".into(),
        },
        &policy,
        &none,
    );
    assert_eq!(s.production(), Some(1));
}

#[test]
fn stage_changes() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Medium, 1);
    let none = Evidence::default();
    let to = |stage| Action::Stage {
        version: 1,
        to: stage,
    };
    let contributor = Actor::new("cid", Role::Contributor);
    apply(
        &mut s,
        contributor.clone(),
        to(Stage::Staging),
        &policy,
        &none,
    );
    assert_eq!(s.stage(1), Stage::Staging);
    let err = transition(
        &s,
        &request(contributor.clone(), to(Stage::Staging)),
        &policy,
        &none,
    )
    .unwrap_err();
    assert!(err.to_string().contains("already Staging"), "{err}");
    let err = transition(&s, &request(admin(), to(Stage::Production)), &policy, &none).unwrap_err();
    assert!(
        err.to_string()
            .contains("only by promotion, which applies the medium tier policy"),
        "{err}"
    );
    let err = transition(
        &s,
        &request(
            admin(),
            Action::Stage {
                version: 9,
                to: Stage::Archived,
            },
        ),
        &policy,
        &none,
    )
    .unwrap_err();
    assert_eq!(
        err.reasons(),
        vec!["credit-risk has no version 9 (versions: 1)"]
    );
}

#[test]
fn protected_aliases_move_only_through_gated_promotion() {
    let policy = Policy::default();
    let mut s = slot(RiskTier::Medium, 2);
    let none = Evidence::default();
    let set = Action::SetAlias {
        alias: "champion".into(),
        version: 1,
    };
    let err = transition(&s, &request(admin(), set), &policy, &none).unwrap_err();
    assert!(err.is_permission());
    assert!(
        err.to_string()
            .contains("alias champion is protected for medium-tier models"),
        "{err}"
    );
    // Unprotected aliases are free.
    apply(
        &mut s,
        Actor::new("cid", Role::Contributor),
        Action::SetAlias {
            alias: "challenger".into(),
            version: 2,
        },
        &policy,
        &none,
    );
    let ev = evidence(&s, 1, None, &policy);
    let effects = apply(
        &mut s,
        deployer(),
        Action::Promote {
            version: 1,
            aliases: vec!["champion".into()],
        },
        &policy,
        &ev,
    );
    assert!(effects.contains(&Effect::MoveAlias {
        alias: "champion".into(),
        from: None,
        to: Some(1)
    }));
    assert_eq!(s.aliases["champion"], 1);
    let err = transition(
        &s,
        &request(
            admin(),
            Action::DeleteAlias {
                alias: "champion".into(),
            },
        ),
        &policy,
        &none,
    )
    .unwrap_err();
    assert!(err.lacks(Requirement::ProtectedAlias));
    let err = transition(
        &s,
        &request(
            admin(),
            Action::DeleteAlias {
                alias: "nope".into(),
            },
        ),
        &policy,
        &none,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no alias nope (aliases: challenger, champion)"),
        "{err}"
    );
    apply(
        &mut s,
        admin(),
        Action::DeleteAlias {
            alias: "challenger".into(),
        },
        &policy,
        &none,
    );
    assert!(!s.aliases.contains_key("challenger"));
}

#[test]
fn names_roles_and_stages_parse() {
    assert!(check_name("alias", "champion").is_ok());
    assert!(check_name("slot", "eu-west.1").is_ok());
    let err = check_name("alias", "-x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "alias name `-x` is not valid; use 1 to 128 letters, digits, `_`, `-` or `.`, starting with a letter or digit"
    );
    assert!(check_name("model", "").is_err());
    assert_eq!("production".parse::<Stage>().unwrap(), Stage::Production);
    assert_eq!("deployer".parse::<Role>().unwrap(), Role::Deployer);
    assert!(
        "root"
            .parse::<Role>()
            .unwrap_err()
            .to_string()
            .contains("viewer, contributor")
    );
    assert_eq!("high".parse::<RiskTier>().unwrap(), RiskTier::High);
    assert!(Role::Admin.allows(Role::Validator));
    assert!(!Role::Validator.allows(Role::Deployer));
    assert_eq!(RiskTier::default(), RiskTier::Low);
}

#[test]
fn versions_with_components_serialise() {
    let mut v = version(3);
    v.components = Components {
        base_model: Some("llama-3.1-8b-instruct".into()),
        adapter: Some(Digest::of(b"lora")),
        system_prompt: Some(Digest::of(b"You are a careful credit analyst.")),
        tool_schema: Some(Digest::of(b"{\"tools\":[]}")),
    };
    let json = serde_json::to_string(&v).unwrap();
    assert!(
        json.contains("\"base_model\":\"llama-3.1-8b-instruct\""),
        "{json}"
    );
    assert!(json.contains("\"origin\":\"pipeline\""), "{json}");
    assert_eq!(serde_json::from_str::<ModelVersion>(&json).unwrap(), v);
    let plain = serde_json::to_string(&version(1)).unwrap();
    assert!(!plain.contains("components"), "{plain}");
}

#[test]
fn policy_reads_from_json_with_defaults() {
    let json = r#"{"version": 3, "low": {}, "medium": {"approvals": 1, "gate_required": true},
        "high": {"approvals": 3, "min_ml_test_score": 3.5, "protected_aliases": ["champion", "prod"]}}"#;
    let policy: Policy = serde_json::from_str(json).unwrap();
    assert_eq!(policy.tier(RiskTier::High).approvals, 3);
    assert!(policy.tier(RiskTier::High).protects("prod"));
    assert!(!policy.tier(RiskTier::Medium).separation_of_duties);
    let err = serde_json::from_str::<Policy>(
        r#"{"version":1,"low":{"aprovals":1},"medium":{},"high":{}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("aprovals"), "{err}");
}

#[test]
fn protected_alias_needs_a_gate_even_where_the_tier_does_not() {
    let mut policy = Policy::default();
    policy.low.protected_aliases = vec!["champion".into()];
    let s = slot(RiskTier::Low, 1);
    let with_alias = Action::Promote {
        version: 1,
        aliases: vec!["champion".into()],
    };
    let err = transition(
        &s,
        &request(deployer(), with_alias.clone()),
        &policy,
        &Evidence::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.reasons(),
        vec![
            "a passing gate decision for version 1 is required to move the protected alias champion; run the gate against the current champion"
        ]
    );
    // Without the alias the same promotion needs nothing.
    assert!(
        transition(
            &s,
            &request(deployer(), promote(1)),
            &policy,
            &Evidence::default()
        )
        .is_ok()
    );
    let ev = Evidence {
        gate: Some(gate(1, None, Verdict::Promote)),
        ..Evidence::default()
    };
    assert!(transition(&s, &request(deployer(), with_alias), &policy, &ev).is_ok());
}

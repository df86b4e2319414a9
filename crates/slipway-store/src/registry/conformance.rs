//! The registry conformance suite every backend must pass. Each check uses its own model names.

use super::*;
use slipway_core::gate::{DecisionRecord, Direction, GateInput, GateSubject};
use slipway_core::registry::{Action, Components, Request, RiskTier, Stage};

fn admin() -> Actor {
    Actor::new("root", Role::Admin)
}

fn artifact(n: u64) -> Digest {
    Digest::of(format!("model bytes {n}").as_bytes())
}

fn model(store: &dyn RegistryStore, name: &str, tier: RiskTier) {
    store
        .create_model(
            &NewModel {
                name: name.into(),
                owner: Some("risk-team".into()),
                tier,
                intended_use: Some("credit decisions".into()),
                limitations: None,
                description: None,
            },
            &admin(),
            1,
        )
        .unwrap();
}

fn register(store: &dyn RegistryStore, name: &str, by: &Actor, n: u64) -> u64 {
    store
        .register_version(
            &NewVersion {
                model: name.into(),
                artifact: Some(artifact(n)),
                source: None,
                run_id: None,
                components: Components::default(),
                description: None,
            },
            by,
            10 + n as i64,
        )
        .unwrap()
        .number()
}

fn request(actor: &Actor, t: i64, action: Action) -> Request {
    Request {
        actor: actor.clone(),
        time_ms: t,
        action,
    }
}

fn promote(version: u64) -> Action {
    Action::Promote {
        version,
        aliases: vec!["champion".into()],
    }
}

/// Runs every check against `store`.
pub fn run_all(store: &dyn RegistryStore) {
    models_and_versions(store);
    promote_and_rollback_keep_one_production(store);
    live_as_of_answers_past_times(store);
    medium_tier_needs_gate_approval_and_config(store);
    approvals_are_bound_to_content(store);
    users_and_tokens(store);
    audit_chain_verifies(store);
}

/// Version numbers are consecutive per model; the inventory holds owner and tier.
pub fn models_and_versions(store: &dyn RegistryStore) {
    model(store, "conf-inventory", RiskTier::Low);
    assert!(matches!(
        store.create_model(
            &NewModel {
                name: "conf-inventory".into(),
                ..NewModel::default()
            },
            &admin(),
            2
        ),
        Err(RegistryError::Meta(
            crate::meta::MetaError::AlreadyExists { .. }
        ))
    ));
    assert!(
        store
            .create_model(
                &NewModel {
                    name: "bad name!".into(),
                    ..NewModel::default()
                },
                &admin(),
                2
            )
            .is_err()
    );
    let a = register(store, "conf-inventory", &admin(), 1);
    let b = register(store, "conf-inventory", &admin(), 2);
    assert_eq!((a, b), (1, 2));
    let m = store.model("conf-inventory").unwrap();
    assert_eq!(m.owner.as_deref(), Some("risk-team"));
    assert_eq!(m.latest_version, Some(2));
    let versions = store.versions("conf-inventory").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.number()).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(versions[1].version.artifact, artifact(1));
    assert_eq!(versions[0].default_stage, Stage::None);
    let viewer = Actor::new("val", Role::Viewer);
    assert!(matches!(
        store.register_version(
            &NewVersion {
                model: "conf-inventory".into(),
                artifact: Some(artifact(3)),
                ..NewVersion::default()
            },
            &viewer,
            3
        ),
        Err(RegistryError::PermissionDenied(_))
    ));
    store
        .set_model_tag("conf-inventory", "team", Some("credit"), &admin(), 4)
        .unwrap();
    assert_eq!(
        store.model("conf-inventory").unwrap().tags,
        vec![("team".to_string(), "credit".to_string())]
    );
}

/// Promotion archives the previous Production; rollback returns to it; never two Production.
pub fn promote_and_rollback_keep_one_production(store: &dyn RegistryStore) {
    model(store, "conf-slots", RiskTier::Low);
    for n in 1..=3 {
        register(store, "conf-slots", &admin(), n);
    }
    store
        .transition("conf-slots", "default", &request(&admin(), 100, promote(1)))
        .unwrap();
    let out = store
        .transition("conf-slots", "default", &request(&admin(), 200, promote(2)))
        .unwrap();
    assert_eq!(out.live, Some(2));
    assert_eq!(
        store.version("conf-slots", 1).unwrap().default_stage,
        Stage::Archived
    );
    assert_eq!(store.alias("conf-slots", "champion").unwrap(), Some(2));
    store
        .transition("conf-slots", "eu", &request(&admin(), 250, promote(3)))
        .unwrap();
    assert_eq!(
        store
            .live("conf-slots", "eu", None)
            .unwrap()
            .unwrap()
            .number(),
        3
    );
    assert_eq!(
        store
            .live("conf-slots", "default", None)
            .unwrap()
            .unwrap()
            .number(),
        2,
        "slots are independent"
    );
    let back = store
        .transition(
            "conf-slots",
            "default",
            &request(
                &admin(),
                300,
                Action::Rollback {
                    to: None,
                    reason: "incident 42".into(),
                },
            ),
        )
        .unwrap();
    assert_eq!(back.live, Some(1));
    let no_reason = store.transition(
        "conf-slots",
        "default",
        &request(
            &admin(),
            310,
            Action::Rollback {
                to: None,
                reason: " ".into(),
            },
        ),
    );
    assert!(matches!(no_reason, Err(RegistryError::Refused(_))));
    let history = store.history("conf-slots", Some("default")).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| h.record.action.as_str())
            .collect::<Vec<_>>(),
        ["promote", "promote", "rollback"]
    );
    assert_eq!(history[2].record.reason.as_deref(), Some("incident 42"));
    let live_all = store.live_all().unwrap();
    assert!(
        live_all
            .iter()
            .any(|(m, s, v)| m == "conf-slots" && s == "eu" && v.number() == 3)
    );
    let moves = store.alias_history("conf-slots").unwrap();
    assert!(
        moves
            .iter()
            .any(|m| m.alias == "champion" && m.to == Some(2))
    );
    let contributor = Actor::new("carol", Role::Contributor);
    let refused = store
        .transition(
            "conf-slots",
            "default",
            &request(&contributor, 400, promote(3)),
        )
        .unwrap_err();
    assert!(refused.to_string().contains("deployer"), "{refused}");
}

/// "What was live at time T" is answered from the live history.
pub fn live_as_of_answers_past_times(store: &dyn RegistryStore) {
    model(store, "conf-asof", RiskTier::Low);
    register(store, "conf-asof", &admin(), 1);
    register(store, "conf-asof", &admin(), 2);
    store
        .transition(
            "conf-asof",
            "default",
            &request(&admin(), 1_000, promote(1)),
        )
        .unwrap();
    store
        .transition(
            "conf-asof",
            "default",
            &request(&admin(), 2_000, promote(2)),
        )
        .unwrap();
    let at = |t| {
        store
            .live("conf-asof", "default", Some(t))
            .unwrap()
            .map(|v| v.number())
    };
    assert_eq!(at(999), None);
    assert_eq!(at(1_000), Some(1));
    assert_eq!(at(1_999), Some(1));
    assert_eq!(at(2_000), Some(2));
    assert_eq!(at(5_000), Some(2));
    assert!(
        store.live("conf-missing", "default", None).is_err(),
        "unknown model is an error, not 'nothing live'"
    );
}

fn decision(
    model: &str,
    champion: Option<u64>,
    challenger: u64,
    champ: f64,
    chal: f64,
) -> DecisionRecord {
    DecisionRecord::decide(
        GateSubject {
            model: Some(model.into()),
            champion_version: champion,
            challenger_version: Some(challenger),
            holdout: None,
            decided_at_ms: Some(5),
        },
        GateInput {
            metric: "auc".into(),
            direction: Direction::Higher,
            champion: champ,
            challenger: chal,
            delta: 0.005,
            guardrails: Vec::new(),
        },
    )
    .unwrap()
}

/// A medium-tier promotion lists everything missing, then succeeds once the evidence exists.
pub fn medium_tier_needs_gate_approval_and_config(store: &dyn RegistryStore) {
    model(store, "conf-medium", RiskTier::Medium);
    let author = Actor::new("alice", Role::Deployer);
    let validator = Actor::new("victor", Role::Validator);
    let v = register(store, "conf-medium", &author, 1);
    let err = store
        .transition("conf-medium", "default", &request(&author, 100, promote(v)))
        .unwrap_err();
    let RegistryError::Refused(refusal) = err else {
        panic!("expected a refusal")
    };
    let text = refusal.to_string();
    for needle in ["gate", "approval", "pipeline", "config"] {
        assert!(
            text.to_lowercase().contains(needle),
            "refusal should mention {needle}: {text}"
        );
    }
    // Evidence: a passing gate decision, a pinned config, a validator's approval.
    store
        .record_gate_decision(&decision("conf-medium", None, v, 0.0, 0.9), &author, 110)
        .unwrap();
    store
        .update_version(
            "conf-medium",
            v,
            &VersionUpdate {
                deployment_config: Some(Digest::of(b"replicas: 2")),
                ..VersionUpdate::default()
            },
            &author,
            120,
        )
        .unwrap();
    assert!(
        store.approve("conf-medium", v, &author, None, 125).is_err(),
        "the creator cannot approve"
    );
    store
        .approve("conf-medium", v, &validator, Some("looks good"), 130)
        .unwrap();
    let err = store
        .transition("conf-medium", "default", &request(&author, 140, promote(v)))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("pipeline") && !text.to_lowercase().contains("approval"),
        "only the promotion boundary is left: {text}"
    );
}

/// Approvals bind to the version's artifact, gate decision and policy: a new policy voids them.
pub fn approvals_are_bound_to_content(store: &dyn RegistryStore) {
    model(store, "conf-bound", RiskTier::Medium);
    let author = Actor::new("alice", Role::Deployer);
    let validator = Actor::new("victor", Role::Validator);
    let v = register(store, "conf-bound", &author, 1);
    store
        .record_gate_decision(&decision("conf-bound", None, v, 0.0, 0.9), &author, 10)
        .unwrap();
    store
        .approve("conf-bound", v, &validator, None, 20)
        .unwrap();
    assert!(store.approvals("conf-bound", v).unwrap()[0].valid);
    store
        .record_gate_decision(&decision("conf-bound", None, v, 0.0, 0.95), &author, 30)
        .unwrap();
    assert!(
        !store.approvals("conf-bound", v).unwrap()[0].valid,
        "a new gate decision voids the approval"
    );
    store
        .approve("conf-bound", v, &validator, None, 40)
        .unwrap();
    let policy = store.policy().unwrap();
    let changed = store.set_policy(&policy, &admin(), 50).unwrap();
    assert_eq!(changed.version, policy.version + 1);
    assert!(
        store
            .approvals("conf-bound", v)
            .unwrap()
            .iter()
            .all(|a| !a.valid),
        "a new policy voids approvals"
    );
    assert!(matches!(
        store.set_policy(&policy, &validator, 60),
        Err(RegistryError::PermissionDenied(_))
    ));
    // Put the defaults back (later checks of other suites expect the default tiers).
    store
        .set_policy(&slipway_core::registry::Policy::default(), &admin(), 70)
        .unwrap();
}

/// Tokens authenticate as their user until revoked or the user is disabled.
pub fn users_and_tokens(store: &dyn RegistryStore) {
    store
        .create_user("conf-dora", Role::Deployer, &admin(), 1)
        .unwrap();
    assert!(
        store
            .create_user("conf-dora", Role::Viewer, &admin(), 2)
            .is_err()
    );
    let token = store
        .create_token("conf-dora", Some("ci"), &admin(), 3)
        .unwrap();
    assert_eq!(
        store.authenticate(&token.token).unwrap(),
        Some(Actor::new("conf-dora", Role::Deployer))
    );
    assert_eq!(
        store
            .authenticate("slw_000000000000_00000000000000000000000000000000")
            .unwrap(),
        None
    );
    assert_eq!(store.authenticate("not a token").unwrap(), None);
    // Change the last secret digit (to one it is not: a fixed '0' matched 1 time in 16).
    let last = if token.token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token.token[..token.token.len() - 1]);
    assert_eq!(store.authenticate(&forged).unwrap(), None);
    store
        .set_user_role("conf-dora", Some(Role::Viewer), &admin(), 4)
        .unwrap();
    assert_eq!(
        store.authenticate(&token.token).unwrap().unwrap().role,
        Role::Viewer
    );
    store.revoke_token(&token.id, &admin(), 5).unwrap();
    assert_eq!(store.authenticate(&token.token).unwrap(), None);
    assert!(
        store
            .tokens()
            .unwrap()
            .iter()
            .any(|t| t.id == token.id && t.revoked_ms == Some(5))
    );
    let other = store.create_token("conf-dora", None, &admin(), 6).unwrap();
    store.set_user_role("conf-dora", None, &admin(), 7).unwrap();
    assert_eq!(
        store.authenticate(&other.token).unwrap(),
        None,
        "disabled users' tokens stop working"
    );
    let viewer = Actor::new("vic", Role::Viewer);
    assert!(matches!(
        store.create_user("x", Role::Admin, &viewer, 8),
        Err(RegistryError::PermissionDenied(_))
    ));
}

/// Every action above left an entry; the chain verifies end to end.
pub fn audit_chain_verifies(store: &dyn RegistryStore) {
    let entries = store.audit_log(0, 100_000).unwrap();
    assert!(entries.len() > 10);
    assert!(
        entries
            .iter()
            .any(|e| e.sealed.entry.action == "model.promote")
    );
    assert!(
        entries
            .iter()
            .any(|e| e.sealed.entry.action == "model.rollback")
    );
    assert!(
        entries
            .iter()
            .any(|e| e.sealed.entry.action == "model.approve")
    );
    assert!(
        entries
            .iter()
            .any(|e| e.sealed.entry.action == "token.revoke")
    );
    let verified = store.audit_verify().unwrap().unwrap();
    assert_eq!(verified, entries.last().unwrap().sealed.entry.seq);
}

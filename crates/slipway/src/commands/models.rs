//! `slipway models …`: the registry from the command line.

use super::Context;
use super::access::actor;
use crate::Outcome;
use crate::cli::*;
use crate::output::{print_json, print_line, table};
use anyhow::{Context as _, Result, anyhow, bail};
use slipway_core::ArtifactKind;
use slipway_core::registry::{Action, Components, Request, RiskTier, Stage};
use slipway_core::timefmt::{parse as parse_time, utc};
use slipway_store::objects::ObjectStore;
use slipway_store::registry::{
    ModelUpdate, NewModel, NewVersion, RegistryError, RegistryStore, VersionRecord, VersionUpdate,
};
use slipway_store::{MetaError, MetadataStore};
use std::path::Path;

pub fn run(ctx: &Context, cmd: ModelsCommand) -> Result<Outcome> {
    match cmd {
        ModelsCommand::List(args) => list(ctx, args),
        ModelsCommand::Show(args) => show(ctx, args),
        ModelsCommand::Register(args) => register(ctx, args),
        ModelsCommand::Update(args) => update(ctx, args),
        ModelsCommand::Approve(args) => approve(ctx, args),
        ModelsCommand::Promote(args) => {
            let (name, version) = model_version(&args.target)?;
            transition(
                ctx,
                &name,
                &args.slot,
                Action::Promote {
                    version,
                    aliases: args.aliases,
                },
            )
        }
        ModelsCommand::Traffic(args) => traffic(ctx, args),
        ModelsCommand::Rollback(args) => transition(
            ctx,
            &args.name,
            &args.slot,
            Action::Rollback {
                to: args.to,
                reason: args.reason,
            },
        ),
        ModelsCommand::Stage(args) => {
            let (name, version) = model_version(&args.target)?;
            let to = args
                .to
                .parse::<Stage>()
                .or_else(|_| capitalised(&args.to).parse::<Stage>())?;
            transition(ctx, &name, &args.slot, Action::Stage { version, to })
        }
        ModelsCommand::Alias(args) => {
            let action = match (args.delete, args.number) {
                (true, _) => Action::DeleteAlias { alias: args.alias },
                (false, Some(version)) => Action::SetAlias {
                    alias: args.alias,
                    version,
                },
                (false, None) => {
                    bail!("give the VERSION to point `{}` at, or --delete", args.alias)
                }
            };
            transition(ctx, &args.name, "default", action)
        }
        ModelsCommand::PinConfig(args) => pin_config(ctx, args),
        ModelsCommand::Live(args) => live(ctx, args),
        ModelsCommand::History(args) => history(ctx, args),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + &chars.as_str().to_lowercase())
        .unwrap_or_default()
}

/// Splits `NAME@VERSION`, the form every command that names one registered version takes.
pub(super) fn model_version(text: &str) -> Result<(String, u64)> {
    let (name, version) = text.rsplit_once('@').ok_or_else(|| {
        anyhow!("`{text}` names no version; write NAME@VERSION, e.g. credit-risk@3")
    })?;
    let version = version.parse::<u64>().map_err(|_| {
        anyhow!("`{text}`: version `{version}` is not a number; write NAME@VERSION")
    })?;
    Ok((name.to_string(), version))
}

fn tier(text: &str) -> Result<RiskTier> {
    Ok(text.parse::<RiskTier>()?)
}

/// A registry error, with refusals printed as the list of what is missing (exit 1).
fn refused_or(ctx: &Context, e: RegistryError) -> Result<Outcome> {
    match e {
        RegistryError::Refused(refusal) => {
            if ctx.json {
                print_json(&serde_json::json!({
                    "refused": true,
                    "action": refusal.action,
                    "missing": refusal.missing.iter().map(|(kind, why)| serde_json::json!({"requirement": kind, "why": why})).collect::<Vec<_>>(),
                }))?;
            } else {
                eprintln!("refused: {}", refusal.action);
                for (_, why) in &refusal.missing {
                    eprintln!("  - {why}");
                }
            }
            Ok(Outcome::No)
        }
        other => Err(other.into()),
    }
}

fn stages_text(ws: &slipway_store::Workspace, model: &str, version: u64) -> Result<String> {
    let stages = ws.meta().stages(model, version)?;
    Ok(stages
        .iter()
        .map(|(slot, stage)| format!("{stage} in {slot}"))
        .collect::<Vec<_>>()
        .join(", "))
}

fn list(ctx: &Context, args: ModelsListArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let models = ws.meta().models()?;
    let live = ws.meta().live_all()?;
    let live_of = |name: &str| -> Vec<String> {
        live.iter()
            .filter(|(m, _, _)| m == name)
            .map(|(_, slot, v)| format!("{slot}: v{}", v.number()))
            .collect()
    };
    if ctx.json {
        let items: Vec<_> = models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name, "owner": m.owner, "tier": m.tier.as_str(), "intended_use": m.intended_use,
                    "limitations": m.limitations, "latest_version": m.latest_version, "live": live_of(&m.name),
                    "aliases": m.aliases.iter().map(|(a, v)| serde_json::json!({"alias": a, "version": v})).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&serde_json::json!(items))?;
        return Ok(Outcome::Ok);
    }
    let mut header = vec!["model", "tier", "owner", "latest", "live"];
    if args.inventory {
        header.extend(["intended use", "limitations"]);
    }
    let mut t = table(&header);
    for m in &models {
        let mut row = vec![
            m.name.clone(),
            m.tier.to_string(),
            m.owner.clone().unwrap_or_default(),
            m.latest_version.map(|v| v.to_string()).unwrap_or_default(),
            live_of(&m.name).join(", "),
        ];
        if args.inventory {
            row.push(m.intended_use.clone().unwrap_or_default());
            row.push(m.limitations.clone().unwrap_or_default());
        }
        t.add_row(row);
    }
    print_line(t)?;
    Ok(Outcome::Ok)
}

fn version_json(ws: &slipway_store::Workspace, v: &VersionRecord) -> Result<serde_json::Value> {
    let approvals = ws.meta().approvals(&v.model, v.number())?;
    let gate = ws.meta().latest_gate_decision(&v.model, v.number())?;
    Ok(serde_json::json!({
        "model": v.model, "version": v.number(), "artifact": v.version.artifact, "created_by": v.version.created_by,
        "created_ms": v.created_ms, "run_id": v.run_id, "source": v.source,
        "provenance": v.version.provenance, "components": v.version.components,
        "deployment_config": v.deployment_config, "ml_test_score": v.ml_test_score,
        "stages": ws.meta().stages(&v.model, v.number())?.iter().map(|(s, st)| serde_json::json!({"slot": s, "stage": st.as_str()})).collect::<Vec<_>>(),
        "approvals": approvals.iter().map(|a| serde_json::json!({"approver": a.approval.approver, "role": a.approval.role.as_str(),
            "time_ms": a.approval.time_ms, "valid": a.valid, "comment": a.comment})).collect::<Vec<_>>(),
        "gate_decision": gate.map(|(d, r)| serde_json::json!({"digest": d, "verdict": r.decision.verdict.as_str(), "reasons": r.decision.reasons})),
        "tags": v.tags,
    }))
}

fn show(ctx: &Context, args: ModelRefArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    if let Some((name, version)) = args.model.rsplit_once('@') {
        let version: u64 = version
            .parse()
            .map_err(|_| anyhow!("`{}`: write NAME or NAME@VERSION", args.model))?;
        let v = ws.meta().version(name, version)?;
        let json = version_json(&ws, &v)?;
        if ctx.json {
            print_json(&json)?;
        } else {
            print_line(format_args!("{name}@{version}"))?;
            print_line(format_args!("  artifact     {}", v.version.artifact))?;
            print_line(format_args!(
                "  registered   {} by {}",
                utc(v.created_ms),
                v.version.created_by
            ))?;
            if let Some(p) = v.provenance() {
                print_line(format_args!(
                    "  trained by   run {} ({}, {}, commit {}{})",
                    p.run_id,
                    p.author,
                    p.origin,
                    p.commit.as_deref().unwrap_or("unknown"),
                    if p.dirty { ", dirty" } else { "" }
                ))?;
            }
            print_line(format_args!(
                "  stages       {}",
                stages_text(&ws, name, version)?
            ))?;
            if let Some(c) = v.deployment_config {
                print_line(format_args!("  config       {c}"))?;
            }
            for a in json["approvals"].as_array().into_iter().flatten() {
                print_line(format_args!(
                    "  approved by  {} ({}) at {}{}",
                    a["approver"].as_str().unwrap_or(""),
                    a["role"].as_str().unwrap_or(""),
                    utc(a["time_ms"].as_i64().unwrap_or(0)),
                    if a["valid"] == true {
                        ""
                    } else {
                        " — no longer counts (content or policy changed)"
                    }
                ))?;
            }
            if let Some(g) = json.get("gate_decision").filter(|g| !g.is_null()) {
                print_line(format_args!(
                    "  gate         {} ({})",
                    g["verdict"].as_str().unwrap_or(""),
                    g["digest"].as_str().unwrap_or("")
                ))?;
            }
        }
        return Ok(Outcome::Ok);
    }
    let m = ws.meta().model(&args.model)?;
    let versions = ws.meta().versions(&args.model)?;
    if ctx.json {
        let items = versions
            .iter()
            .map(|v| version_json(&ws, v))
            .collect::<Result<Vec<_>>>()?;
        print_json(&serde_json::json!({
            "name": m.name, "owner": m.owner, "tier": m.tier.as_str(), "intended_use": m.intended_use,
            "limitations": m.limitations, "description": m.description, "created_by": m.created_by, "created_ms": m.created_ms,
            "tags": m.tags, "aliases": m.aliases.iter().map(|(a, v)| serde_json::json!({"alias": a, "version": v})).collect::<Vec<_>>(),
            "versions": items,
        }))?;
        return Ok(Outcome::Ok);
    }
    print_line(format_args!(
        "{} ({} risk, owner {})",
        m.name,
        m.tier,
        m.owner.as_deref().unwrap_or("unset")
    ))?;
    if let Some(u) = &m.intended_use {
        print_line(format_args!("  intended use: {u}"))?;
    }
    if let Some(l) = &m.limitations {
        print_line(format_args!("  limitations:  {l}"))?;
    }
    if !m.aliases.is_empty() {
        let aliases: Vec<String> = m
            .aliases
            .iter()
            .map(|(a, v)| format!("{a} -> v{v}"))
            .collect();
        print_line(format_args!("  aliases:      {}", aliases.join(", ")))?;
    }
    let mut t = table(&["version", "artifact", "registered", "by", "stages"]);
    for v in &versions {
        t.add_row(vec![
            v.number().to_string(),
            v.version.artifact.short(12),
            utc(v.created_ms),
            v.version.created_by.clone(),
            stages_text(&ws, &m.name, v.number())?,
        ]);
    }
    print_line(t)?;
    Ok(Outcome::Ok)
}

fn register(ctx: &Context, args: RegisterArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let me = actor(ctx, &ws)?;
    let now = slipway_store::now_ms();
    let artifact = if Path::new(&args.artifact).exists() {
        ws.store_path(Path::new(&args.artifact), Some(ArtifactKind::Model), now)
            .with_context(|| format!("cannot store {}", args.artifact))?
            .artifact
            .digest
    } else {
        let digest = ws.resolve(&args.artifact)?;
        if !ws.objects().has(&digest)? {
            bail!(
                "{} is neither a file or directory nor a stored object",
                args.artifact
            );
        }
        digest
    };
    if let Some(run) = &args.run {
        ws.meta().run(run).with_context(|| format!("--run {run}"))?;
    }
    match ws.meta().model(&args.name) {
        Ok(_) => {}
        Err(RegistryError::Meta(MetaError::NotFound { .. })) => {
            let new = NewModel {
                name: args.name.clone(),
                owner: args.owner.clone().or_else(|| Some(me.name.clone())),
                tier: args
                    .tier
                    .as_deref()
                    .map(tier)
                    .transpose()?
                    .unwrap_or_default(),
                intended_use: args.intended_use.clone(),
                limitations: args.limitations.clone(),
                description: None,
            };
            ws.meta().create_model(&new, &me, now)?;
        }
        Err(e) => return Err(e.into()),
    }
    let v = ws.meta().register_version(
        &NewVersion {
            model: args.name.clone(),
            artifact: Some(artifact),
            source: Some(args.artifact.clone()),
            run_id: args.run.clone(),
            components: Components::default(),
            description: args.description,
        },
        &me,
        now,
    )?;
    if ctx.json {
        print_json(&version_json(&ws, &v)?)?;
    } else {
        print_line(format_args!("{}@{}", v.model, v.number()))?;
        ctx.messages.say(format_args!(
            "Registered {}@{} (artifact {})",
            v.model,
            v.number(),
            artifact.short(12)
        ));
    }
    Ok(Outcome::Ok)
}

fn update(ctx: &Context, args: UpdateModelArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let update = ModelUpdate {
        owner: args.owner,
        tier: args.tier.as_deref().map(tier).transpose()?,
        intended_use: args.intended_use,
        limitations: args.limitations,
        description: args.description,
    };
    let m = ws.meta().update_model(
        &args.name,
        &update,
        &actor(ctx, &ws)?,
        slipway_store::now_ms(),
    )?;
    print_line(format_args!(
        "{} ({} risk, owner {})",
        m.name,
        m.tier,
        m.owner.as_deref().unwrap_or("unset")
    ))?;
    Ok(Outcome::Ok)
}

fn approve(ctx: &Context, args: ApproveArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (name, version) = model_version(&args.target)?;
    match ws.meta().approve(
        &name,
        version,
        &actor(ctx, &ws)?,
        args.comment.as_deref(),
        slipway_store::now_ms(),
    ) {
        Ok(row) => {
            if ctx.json {
                print_json(
                    &serde_json::json!({"approver": row.approval.approver, "binding": row.approval.binding,
                    "binding_digest": row.approval.binding.digest()}),
                )?;
            } else {
                print_line(format_args!(
                    "Approved {name}@{version} as {} (bound to artifact {}, gate decision {}, policy v{})",
                    row.approval.approver,
                    row.approval.binding.artifact.short(12),
                    row.approval
                        .binding
                        .gate_decision
                        .map(|d| d.short(12))
                        .unwrap_or_else(|| "none".into()),
                    row.approval.binding.policy_version
                ))?;
            }
            Ok(Outcome::Ok)
        }
        Err(e) => refused_or(ctx, e),
    }
}

fn transition(ctx: &Context, name: &str, slot: &str, action: Action) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let request = Request {
        actor: actor(ctx, &ws)?,
        time_ms: slipway_store::now_ms(),
        action,
    };
    match ws.meta().transition(name, slot, &request) {
        Ok(outcome) => {
            if ctx.json {
                print_json(&serde_json::json!({"record": outcome.record, "live": outcome.live}))?;
            } else {
                let r = &outcome.record;
                let what = match r.action.as_str() {
                    "promote" => format!(
                        "Promoted {name}@{} to Production in slot {slot}",
                        r.version.unwrap_or(0)
                    ),
                    "rollback" => format!(
                        "Rolled back {name} in slot {slot} to version {}",
                        r.version.unwrap_or(0)
                    ),
                    other => format!(
                        "{other} {name}{} in slot {slot}",
                        r.version.map(|v| format!("@{v}")).unwrap_or_default()
                    ),
                };
                print_line(what)?;
                ctx.messages.say(format_args!(
                    "Live in {slot}: {}",
                    outcome
                        .live
                        .map(|v| format!("version {v}"))
                        .unwrap_or_else(|| "nothing".into())
                ));
            }
            Ok(Outcome::Ok)
        }
        Err(e) => refused_or(ctx, e),
    }
}

fn pin_config(ctx: &Context, args: PinConfigArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (name, version) = model_version(&args.target)?;
    let stored = ws.store_path(
        &args.file,
        Some(ArtifactKind::File),
        slipway_store::now_ms(),
    )?;
    let update = VersionUpdate {
        deployment_config: Some(stored.artifact.digest),
        ..VersionUpdate::default()
    };
    ws.meta().update_version(
        &name,
        version,
        &update,
        &actor(ctx, &ws)?,
        slipway_store::now_ms(),
    )?;
    print_line(format_args!(
        "Pinned deployment config {} to {name}@{version}",
        stored.artifact.digest.short(12)
    ))?;
    Ok(Outcome::Ok)
}

fn live(ctx: &Context, args: LiveArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let as_of = args
        .as_of
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| anyhow!("--as-of: {e}"))?;
    let live = ws.meta().live(&args.name, &args.slot, as_of)?;
    if ctx.json {
        print_json(&match &live {
            Some(v) => {
                serde_json::json!({"model": args.name, "slot": args.slot, "version": v.number(), "artifact": v.version.artifact, "as_of_ms": as_of})
            }
            None => {
                serde_json::json!({"model": args.name, "slot": args.slot, "version": null, "as_of_ms": as_of})
            }
        })?;
    } else {
        match &live {
            Some(v) => print_line(format_args!(
                "{}@{}  {}",
                args.name,
                v.number(),
                v.version.artifact
            ))?,
            None => print_line(format_args!(
                "nothing live for {} in slot {}{}",
                args.name,
                args.slot,
                as_of.map(|t| format!(" at {}", utc(t))).unwrap_or_default()
            ))?,
        }
    }
    Ok(if live.is_some() {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

fn history(ctx: &Context, args: HistoryArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let rows = ws.meta().history(&args.name, args.slot.as_deref())?;
    if ctx.json {
        print_json(&serde_json::json!(
            rows.iter().map(|r| &r.record).collect::<Vec<_>>()
        ))?;
        return Ok(Outcome::Ok);
    }
    let mut t = table(&[
        "time", "slot", "action", "version", "actor", "evidence", "reason",
    ]);
    for r in &rows {
        let rec = &r.record;
        let mut evidence = Vec::new();
        if let Some(g) = rec.gate_decision {
            evidence.push(format!("gate {}", g.short(10)));
        }
        if !rec.approvers.is_empty() {
            evidence.push(format!("approved by {}", rec.approvers.join(", ")));
        }
        if let Some(c) = rec.deployment_config {
            evidence.push(format!("config {}", c.short(10)));
        }
        t.add_row(vec![
            utc(rec.time_ms),
            rec.slot.clone(),
            rec.action.clone(),
            rec.version.map(|v| v.to_string()).unwrap_or_default(),
            format!("{} ({})", rec.actor, rec.role),
            evidence.join("; "),
            rec.reason.clone().unwrap_or_default(),
        ]);
    }
    print_line(t)?;
    Ok(Outcome::Ok)
}

fn traffic(ctx: &Context, args: TrafficArgs) -> Result<Outcome> {
    use slipway_store::registry::TrafficMode;
    let ws = ctx.workspace()?;
    let change = match (args.canary, args.shadow, args.clear) {
        (Some(v), None, false) => Some(Some((TrafficMode::Canary, v, args.share.unwrap_or(0.05)))),
        (None, Some(v), false) => Some(Some((TrafficMode::Shadow, v, args.share.unwrap_or(1.0)))),
        (None, None, true) => Some(None),
        (None, None, false) => None,
        _ => bail!("give one of --canary VERSION, --shadow VERSION or --clear"),
    };
    if let Some(change) = change {
        ws.meta().set_traffic(
            &args.name,
            &args.slot,
            change,
            &actor(ctx, &ws)?,
            slipway_store::now_ms(),
        )?;
    } else {
        ws.meta().model(&args.name)?;
    }
    let split = ws
        .meta()
        .traffic()?
        .into_iter()
        .find(|t| t.model == args.name && t.slot == args.slot);
    if ctx.json {
        print_json(&match &split {
            Some(t) => {
                serde_json::json!({"model": t.model, "slot": t.slot, "mode": t.mode.as_str(), "challenger": t.challenger, "share": t.share, "set_by": t.actor, "updated_ms": t.updated_ms})
            }
            None => serde_json::json!({"model": args.name, "slot": args.slot, "mode": null}),
        })?;
    } else {
        match &split {
            Some(t) => print_line(format_args!(
                "{}/{}: {} {:.1} % of requests to version {} (set by {} at {})",
                t.model,
                t.slot,
                if t.mode == TrafficMode::Canary {
                    "canary:"
                } else {
                    "shadow: mirror"
                },
                t.share * 100.0,
                t.challenger,
                t.actor,
                utc(t.updated_ms)
            ))?,
            None => print_line(format_args!(
                "{}/{}: every request goes to the Production version",
                args.name, args.slot
            ))?,
        }
    }
    Ok(Outcome::Ok)
}

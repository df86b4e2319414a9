//! `slipway card` and `slipway evidence`: governance documents from recorded evidence.

use super::Context;
use super::models::model_version;
use crate::Outcome;
use crate::cli::{CardArgs, CardFormat, EvidenceArgs, ValidationArgs};
use crate::output::{print_json, print_line};
use anyhow::{Context as _, Result};
use slipway_core::document::{Block, Document, Section};
use slipway_core::{ArtifactKind, Digest};
use slipway_store::MetadataStore;
use slipway_store::lineage::{Lineage, LineageTarget};
use slipway_store::registry::RegistryStore;
use std::path::PathBuf;

/// The model card with its monitoring section: the model's incidents, a chart of the latest
/// drift reading, and the training run's metric curves.
fn card_document(
    ws: &slipway_store::Workspace,
    name: &str,
    version: u64,
    now_ms: i64,
) -> Result<Document> {
    let mut doc = slipway_store::governance::model_card(ws.meta(), name, version, now_ms)?;
    let mut blocks = Vec::new();
    let incidents: Vec<_> = ws
        .meta()
        .incidents(false)?
        .into_iter()
        .filter(|i| i.model == name)
        .collect();
    if incidents.is_empty() {
        blocks.push(Block::Paragraph(
            "No incidents recorded for this model.".into(),
        ));
    } else {
        let open = incidents.iter().filter(|i| i.open).count();
        blocks.push(Block::Paragraph(format!(
            "{} incident(s), {open} open.",
            incidents.len()
        )));
        blocks.push(Block::Table(
            [
                "#",
                "status",
                "monitor",
                "slot",
                "opened",
                "summary",
                "resolution",
            ]
            .map(String::from)
            .to_vec(),
            incidents
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        if i.open {
                            "open".into()
                        } else {
                            "resolved".into()
                        },
                        i.monitor.clone(),
                        i.slot.clone(),
                        slipway_core::timefmt::utc(i.opened_ms),
                        i.summary.clone(),
                        i.resolution.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ));
        if let Some(latest) = incidents.iter().find(|i| i.details["kind"] == "psi") {
            let features: Vec<(String, f64)> = latest.details["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| Some((f["name"].as_str()?.to_string(), f["psi"].as_f64()?)))
                .collect();
            let t = &latest.details["thresholds"];
            blocks.push(Block::Svg(crate::monitors::charts::psi(
                &format!(
                    "PSI per feature at incident #{} ({})",
                    latest.id, latest.monitor
                ),
                &features,
                t["moderate"].as_f64().unwrap_or(0.1),
                t["significant"].as_f64().unwrap_or(0.25),
            )));
        }
    }
    let record = ws.meta().version(name, version)?;
    if let Some(run) = &record.run_id {
        let mut series = Vec::new();
        for latest in ws.meta().latest_metrics(run)? {
            let history = ws.meta().metric_history(run, &latest.key)?;
            if history.len() > 1 {
                series.push(slipway_core::chart::Series {
                    name: latest.key.clone(),
                    points: history.iter().map(|p| (p.step as f64, p.value)).collect(),
                });
            }
        }
        if !series.is_empty() {
            blocks.push(Block::Svg(slipway_core::chart::lines(
                &format!("Training metrics of run {run}"),
                "step",
                &series,
                &[],
                &[],
            )));
        }
    }
    doc.sections.insert(
        doc.sections.len().saturating_sub(2),
        Section {
            title: "Monitoring".into(),
            blocks,
        },
    );
    Ok(doc)
}

/// Prints a generated document, or writes it to `output`.
fn write_document(
    ctx: &Context,
    doc: &Document,
    format: CardFormat,
    output: Option<&std::path::Path>,
) -> Result<Outcome> {
    let text = match format {
        CardFormat::Markdown => doc.to_markdown(),
        CardFormat::Html => doc.to_html(),
    };
    match output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            ctx.messages.say(format_args!("Wrote {}", path.display()));
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Ok)
}

pub fn card(ctx: &Context, args: CardArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (name, version) = model_version(&args.target)?;
    let doc = card_document(&ws, &name, version, slipway_store::now_ms())?;
    write_document(ctx, &doc, args.format, args.output.as_deref())
}

/// The gate decision a target names: `NAME@VERSION` (its latest as challenger) or a digest.
fn decision_digest(ws: &slipway_store::Workspace, target: &str) -> Result<Digest> {
    if target.contains('@') {
        let (name, version) = model_version(target)?;
        return ws
            .meta()
            .latest_gate_decision(&name, version)?
            .map(|(d, _)| d)
            .ok_or_else(|| anyhow::anyhow!("{target} has no recorded gate decision; record one with `slipway gate --model {name} --challenger-version {version} …`"));
    }
    target.parse::<Digest>().map_err(|_| {
        anyhow::anyhow!(
            "`{target}` is neither NAME@VERSION nor a gate decision digest (64 hex digits)"
        )
    })
}

pub fn validation(ctx: &Context, args: ValidationArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let digest = decision_digest(&ws, &args.target)?;
    let doc =
        slipway_store::governance::validation_report(ws.meta(), &digest, slipway_store::now_ms())?;
    write_document(ctx, &doc, args.format, args.output.as_deref())
}

pub fn evidence(ctx: &Context, args: EvidenceArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (name, version) = model_version(&args.target)?;
    let now = slipway_store::now_ms();
    let dir = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("evidence-{name}-{version}")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = ws.meta();
    let record = meta.version(&name, version)?;
    let doc = card_document(&ws, &name, version, now)?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("card.md".into(), doc.to_markdown().into_bytes()),
        ("card.html".into(), doc.to_html().into_bytes()),
    ];
    let json = |v: &serde_json::Value| serde_json::to_vec_pretty(v).expect("json");
    files.push((
        "version.json".into(),
        json(&serde_json::json!({"model": name, "version": version, "artifact": record.version.artifact,
            "created_by": record.version.created_by, "created_ms": record.created_ms, "run_id": record.run_id,
            "provenance": record.version.provenance, "deployment_config": record.deployment_config,
            "ml_test_score": record.ml_test_score, "components": record.version.components})),
    ));
    if let Some((digest, decision)) = meta.latest_gate_decision(&name, version)? {
        files.push((
            "gate-decision.json".into(),
            decision.canonical_json().into_bytes(),
        ));
        files.push((
            "gate-decision.digest".into(),
            format!("{digest}\n").into_bytes(),
        ));
        let report = slipway_store::governance::validation_report(meta, &digest, now)?;
        files.push((
            "validation-report.md".into(),
            report.to_markdown().into_bytes(),
        ));
    }
    let approvals: Vec<_> = meta
        .approvals(&name, version)?
        .iter()
        .map(|a| serde_json::json!({"approval": a.approval, "binding_digest": a.approval.binding.digest(), "valid": a.valid, "comment": a.comment}))
        .collect();
    files.push(("approvals.json".into(), json(&serde_json::json!(approvals))));
    let history: Vec<_> = meta
        .history(&name, None)?
        .into_iter()
        .filter(|r| r.record.version == Some(version))
        .map(|r| r.record)
        .collect();
    files.push(("history.json".into(), json(&serde_json::to_value(history)?)));
    let lineage =
        Lineage::new(meta).backward(&LineageTarget::ModelVersion(name.clone(), version))?;
    files.push((
        "lineage.json".into(),
        json(&serde_json::to_value(&lineage)?),
    ));
    let subject = format!("{name}@{version}");
    let audit: Vec<_> = meta
        .audit_log(0, usize::MAX >> 1)?
        .into_iter()
        .filter(|r| {
            r.sealed.entry.subject == subject
                || r.sealed.entry.subject.starts_with(&format!("{subject}/"))
        })
        .map(|r| serde_json::json!({"entry": r.sealed, "payload": r.payload}))
        .collect();
    let chain = meta.audit_verify()?;
    files.push((
        "audit.json".into(),
        json(&serde_json::json!({"entries": audit, "chain_verified": chain.is_ok(), "head": meta.audit_head().map(|(s, h)| serde_json::json!({"seq": s, "hash": h}))})),
    ));
    let mut manifest = Vec::new();
    for (file, bytes) in &files {
        std::fs::write(dir.join(file), bytes)
            .with_context(|| format!("cannot write {}", dir.join(file).display()))?;
        manifest.push(
            serde_json::json!({"path": file, "digest": Digest::of(bytes), "size": bytes.len()}),
        );
    }
    let manifest_doc = serde_json::json!({"model": name, "version": version, "artifact": record.version.artifact,
        "generated_ms": now, "files": manifest});
    std::fs::write(dir.join("MANIFEST.json"), json(&manifest_doc))?;
    let stored = ws.store_path(&dir, Some(ArtifactKind::Report), now)?;
    if ctx.json {
        print_json(
            &serde_json::json!({"directory": dir.display().to_string(), "digest": stored.artifact.digest, "files": files.len() + 1}),
        )?;
    } else {
        print_line(format_args!(
            "{}  {}",
            stored.artifact.digest,
            dir.display()
        ))?;
        ctx.messages.say(format_args!(
            "Exported {} file(s) of evidence for {name}@{version}; the bundle is stored content-addressed (digest above)",
            files.len() + 1
        ));
    }
    Ok(Outcome::Ok)
}

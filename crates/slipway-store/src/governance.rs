//! Governance documents generated from recorded evidence, never typed by hand: the model card
//! of a version (inventory, training run and data lineage, holdout metrics and gate decision,
//! approvals, transitions, monitoring, audit entries).

use crate::lineage::{Lineage, LineageNode, LineageTarget};
use crate::meta::MetadataStore;
use crate::registry::{RegResult, RegistryStore};
use slipway_core::document::{Block, Document, Section};
use slipway_core::timefmt::utc;

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "not recorded".into())
}

/// Leaves of a backward lineage tree: the raw inputs and code a version was built from.
fn sources(node: &LineageNode, out: &mut Vec<String>) {
    if node.kind == "artifact" && node.children.is_empty() && !node.repeated {
        out.push(format!("{} — {}", node.label, node.id));
    }
    for c in &node.children {
        sources(c, out);
    }
}

fn tree_text(node: &LineageNode, depth: usize, out: &mut String) {
    out.push_str(&format!(
        "{}{}{}\n",
        "  ".repeat(depth),
        node.label,
        if node.repeated { " (see above)" } else { "" }
    ));
    for c in &node.children {
        tree_text(c, depth + 1, out);
    }
}

/// The model card of `model@version`, as of `now_ms`.
pub fn model_card<S: MetadataStore + RegistryStore>(
    store: &S,
    model: &str,
    version: u64,
    now_ms: i64,
) -> RegResult<Document> {
    let m = store.model(model)?;
    let v = store.version(model, version)?;
    let mut sections = Vec::new();

    sections.push(Section {
        title: "Inventory".into(),
        blocks: vec![Block::Facts(vec![
            ("Model".into(), m.name.clone()),
            ("Owner".into(), opt(&m.owner)),
            ("Risk tier".into(), m.tier.to_string()),
            ("Intended use".into(), opt(&m.intended_use)),
            ("Limitations".into(), opt(&m.limitations)),
            ("Description".into(), opt(&m.description)),
        ])],
    });

    let stages = store.stages(model, version)?;
    let aliases: Vec<String> = m
        .aliases
        .iter()
        .filter(|(_, v2)| *v2 == version)
        .map(|(a, _)| a.clone())
        .collect();
    let mut facts = vec![
        ("Version".into(), version.to_string()),
        ("Artifact digest".into(), v.version.artifact.to_hex()),
        (
            "Registered".into(),
            format!("{} by {}", utc(v.created_ms), v.version.created_by),
        ),
        (
            "Stages".into(),
            if stages.is_empty() {
                "None in every slot".into()
            } else {
                stages
                    .iter()
                    .map(|(s, st)| format!("{st} in {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        (
            "Aliases".into(),
            if aliases.is_empty() {
                "none".into()
            } else {
                aliases.join(", ")
            },
        ),
        (
            "Deployment config".into(),
            v.deployment_config
                .map(|d| d.to_hex())
                .unwrap_or_else(|| "not pinned".into()),
        ),
        (
            "ML Test Score".into(),
            v.ml_test_score
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not recorded".into()),
        ),
    ];
    if !v.version.components.is_empty() {
        facts.push((
            "Components".into(),
            serde_json::to_string(&v.version.components).unwrap_or_default(),
        ));
    }
    sections.push(Section {
        title: "Version".into(),
        blocks: vec![Block::Facts(facts)],
    });

    let mut training = Vec::new();
    match &v.run_id {
        Some(run_id) => {
            let run = store.run(run_id)?;
            training.push(Block::Facts(vec![
                ("Run".into(), format!("{} ({})", run.id, run.name)),
                ("Origin".into(), run.origin.to_string()),
                ("Status".into(), run.status.to_string()),
                ("Started".into(), utc(run.start_ms)),
                ("Ended".into(), run.end_ms.map(utc).unwrap_or_else(|| "running".into())),
                ("Author".into(), run.user.clone()),
                (
                    "Code".into(),
                    format!(
                        "commit {}{}",
                        run.git_commit.as_deref().unwrap_or("unknown"),
                        match run.git_dirty {
                            Some(true) => " (work tree had uncommitted changes)",
                            Some(false) => " (clean)",
                            None => "",
                        }
                    ),
                ),
            ]));
            let params = store.params(&run.id)?;
            if !params.is_empty() {
                training.push(Block::Table(vec!["param".into(), "value".into()], params.into_iter().map(|(k, v)| vec![k, v]).collect()));
            }
            let metrics = store.latest_metrics(&run.id)?;
            if !metrics.is_empty() {
                training.push(Block::Table(
                    vec!["metric".into(), "value".into(), "step".into()],
                    metrics.into_iter().map(|p| vec![p.key, p.value.to_string(), p.step.to_string()]).collect(),
                ));
            }
        }
        None => training.push(Block::Paragraph(
            "No training run is linked to this version (registered ad hoc); its provenance cannot be traced.".into(),
        )),
    }
    sections.push(Section {
        title: "Training".into(),
        blocks: training,
    });

    let tree = Lineage::new(store).backward(&LineageTarget::ModelVersion(model.into(), version));
    if let Ok(tree) = tree {
        let mut leaves = Vec::new();
        sources(&tree, &mut leaves);
        let mut text = String::new();
        tree_text(&tree, 0, &mut text);
        sections.push(Section {
            title: "Training data and code (lineage)".into(),
            blocks: vec![
                Block::Paragraph(
                    "The inputs this version was built from, by content digest:".into(),
                ),
                Block::List(leaves),
                Block::Code(text),
            ],
        });
    }

    let mut evaluation = Vec::new();
    match store.latest_gate_decision(model, version)? {
        Some((digest, record)) => {
            let input = &record.input;
            evaluation.push(Block::Facts(vec![
                ("Gate decision".into(), format!("{} ({})", record.decision.verdict.as_str().to_uppercase(), digest)),
                (
                    "Primary metric".into(),
                    format!(
                        "{} on the frozen holdout: challenger {} vs champion {} (margin {:+.6}, needed more than {})",
                        input.metric, input.challenger, input.champion, record.decision.margin, input.delta
                    ),
                ),
                (
                    "Holdout".into(),
                    record.subject.holdout.map(|d| d.to_hex()).unwrap_or_else(|| "digest not recorded".into()),
                ),
                (
                    "Champion".into(),
                    record.subject.champion_version.map(|c| format!("{model}@{c}")).unwrap_or_else(|| "none (first version)".into()),
                ),
            ]));
            if !input.guardrails.is_empty() {
                evaluation.push(guardrail_table(input));
            }
            evaluation.push(Block::List(record.decision.reasons.clone()));
        }
        None => evaluation.push(Block::Paragraph(
            "No gate decision is recorded for this version.".into(),
        )),
    }
    sections.push(Section {
        title: "Evaluation and gate".into(),
        blocks: evaluation,
    });

    let approvals = store.approvals(model, version)?;
    sections.push(Section {
        title: "Approvals".into(),
        blocks: vec![if approvals.is_empty() {
            Block::Paragraph("No approvals recorded.".into())
        } else {
            Block::Table(
                vec![
                    "approver".into(),
                    "role".into(),
                    "when".into(),
                    "bound to".into(),
                    "counts".into(),
                    "comment".into(),
                ],
                approvals
                    .iter()
                    .map(|a| {
                        let b = &a.approval.binding;
                        vec![
                            a.approval.approver.clone(),
                            a.approval.role.to_string(),
                            utc(a.approval.time_ms),
                            format!(
                                "artifact {}, gate {}, policy v{}",
                                b.artifact.short(12),
                                b.gate_decision
                                    .map(|d| d.short(12))
                                    .unwrap_or_else(|| "none".into()),
                                b.policy_version
                            ),
                            if a.valid {
                                "yes".into()
                            } else {
                                "no (content or policy changed)".into()
                            },
                            a.comment.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            )
        }],
    });

    let history: Vec<Vec<String>> = store
        .history(model, None)?
        .into_iter()
        .filter(|r| r.record.version == Some(version))
        .map(|r| {
            let rec = r.record;
            vec![
                utc(rec.time_ms),
                rec.slot,
                rec.action,
                format!("{} ({})", rec.actor, rec.role),
                rec.reason.unwrap_or_default(),
            ]
        })
        .collect();
    sections.push(Section {
        title: "Deployment history".into(),
        blocks: vec![if history.is_empty() {
            Block::Paragraph("This version has not been deployed.".into())
        } else {
            Block::Table(
                vec![
                    "when".into(),
                    "slot".into(),
                    "action".into(),
                    "by".into(),
                    "reason".into(),
                ],
                history,
            )
        }],
    });

    let subject = format!("{model}@{version}");
    let audit: Vec<Vec<String>> = store
        .audit_log(0, usize::MAX >> 1)?
        .into_iter()
        .filter(|row| {
            row.sealed.entry.subject == subject
                || row.sealed.entry.subject.starts_with(&format!("{subject}/"))
        })
        .map(|row| {
            let e = row.sealed.entry;
            vec![
                e.seq.to_string(),
                utc(e.time_ms),
                e.actor,
                e.action,
                row.sealed.hash.short(16),
            ]
        })
        .collect();
    sections.push(Section {
        title: "Audit trail".into(),
        blocks: vec![Block::Table(
            vec![
                "seq".into(),
                "when".into(),
                "actor".into(),
                "action".into(),
                "entry hash".into(),
            ],
            audit,
        )],
    });

    Ok(Document {
        title: format!("Model card: {model}@{version}"),
        subtitle: format!(
            "Generated by slipway at {} from the recorded evidence; nothing in it was typed by hand.",
            utc(now_ms)
        ),
        sections,
    })
}

/// Every guardrail of a gate input with its value, bound and whether it holds.
fn guardrail_table(input: &slipway_core::gate::GateInput) -> Block {
    Block::Table(
        ["guardrail", "value", "bound", "holds"]
            .map(String::from)
            .to_vec(),
        input
            .guardrails
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    g.value.to_string(),
                    format!("{} {}", g.comparison.as_str(), g.bound),
                    if g.holds() {
                        "yes".into()
                    } else {
                        "BREACHED".into()
                    },
                ]
            })
            .collect(),
    )
}

/// The validation report of one gate decision: what was compared (subject, holdout, champion
/// and challenger values, margin), every guardrail with its value and bound, every reason, the
/// verdict — and what the decision was then used for: the approvals bound to it and the
/// transitions that cited it. Generated from the recorded decision; nothing typed by hand.
pub fn validation_report<S: MetadataStore + RegistryStore>(
    store: &S,
    digest: &slipway_core::Digest,
    now_ms: i64,
) -> RegResult<Document> {
    let record = store.gate_decision(digest)?.ok_or_else(|| {
        crate::registry::RegistryError::Meta(crate::meta::MetaError::NotFound {
            what: "gate decision",
            id: digest.to_hex(),
        })
    })?;
    let input = &record.input;
    let subject = &record.subject;
    let model = subject.model.clone();
    let name = |v: Option<u64>| match (&model, v) {
        (Some(m), Some(v)) => format!("{m}@{v}"),
        (None, Some(v)) => format!("version {v}"),
        _ => "not registered".into(),
    };
    let mut sections = vec![Section {
        title: "Decision".into(),
        blocks: vec![
            Block::Facts(vec![
                (
                    "Verdict".into(),
                    record.decision.verdict.as_str().to_uppercase(),
                ),
                ("Decision record".into(), digest.to_hex()),
                ("Challenger".into(), name(subject.challenger_version)),
                ("Champion".into(), name(subject.champion_version)),
                (
                    "Frozen holdout".into(),
                    subject
                        .holdout
                        .map(|d| d.to_hex())
                        .unwrap_or_else(|| "digest not recorded (values given ad hoc)".into()),
                ),
            ]),
            Block::List(record.decision.reasons.clone()),
        ],
    }];
    sections.push(Section {
        title: "Primary metric".into(),
        blocks: vec![
            Block::Table(
                [
                    "metric",
                    "better",
                    "champion",
                    "challenger",
                    "margin",
                    "must exceed",
                    "ok",
                ]
                .map(String::from)
                .to_vec(),
                vec![vec![
                    input.metric.clone(),
                    format!("{:?}", input.direction).to_lowercase(),
                    input.champion.to_string(),
                    input.challenger.to_string(),
                    format!("{:+.6}", record.decision.margin),
                    input.delta.to_string(),
                    if record.decision.metric_ok {
                        "yes".into()
                    } else {
                        "NO".into()
                    },
                ]],
            ),
            Block::Svg(slipway_core::chart::bars(
                &format!("{} on the frozen holdout", input.metric),
                &[
                    (
                        format!("champion {}", name(subject.champion_version)),
                        input.champion,
                    ),
                    (
                        format!("challenger {}", name(subject.challenger_version)),
                        input.challenger,
                    ),
                ],
                &[],
            )),
        ],
    });
    sections.push(Section {
        title: "Guardrails".into(),
        blocks: vec![if input.guardrails.is_empty() {
            Block::Paragraph("No guardrails were set.".into())
        } else {
            guardrail_table(input)
        }],
    });
    let mut used = Vec::new();
    if let (Some(m), Some(v)) = (&model, subject.challenger_version) {
        let approvals: Vec<Vec<String>> = store
            .approvals(m, v)?
            .into_iter()
            .filter(|a| a.approval.binding.gate_decision == Some(*digest))
            .map(|a| {
                vec![
                    a.approval.approver.clone(),
                    a.approval.role.to_string(),
                    utc(a.approval.time_ms),
                    if a.valid {
                        "yes".into()
                    } else {
                        "no (content or policy changed)".into()
                    },
                    a.comment.unwrap_or_default(),
                ]
            })
            .collect();
        used.push(if approvals.is_empty() {
            Block::Paragraph("No approval is bound to this decision.".into())
        } else {
            Block::Table(
                ["approver", "role", "when", "counts", "comment"]
                    .map(String::from)
                    .to_vec(),
                approvals,
            )
        });
        let transitions: Vec<Vec<String>> = store
            .history(m, None)?
            .into_iter()
            .filter(|r| r.record.gate_decision == Some(*digest))
            .map(|r| {
                vec![
                    utc(r.record.time_ms),
                    r.record.action.clone(),
                    r.record.slot.clone(),
                    format!("{} ({})", r.record.actor, r.record.role),
                    r.record.approvers.join(", "),
                ]
            })
            .collect();
        used.push(if transitions.is_empty() {
            Block::Paragraph("No transition has cited this decision (yet).".into())
        } else {
            Block::Table(
                ["when", "action", "slot", "by", "approvers"]
                    .map(String::from)
                    .to_vec(),
                transitions,
            )
        });
    }
    if !used.is_empty() {
        sections.push(Section {
            title: "What it was used for".into(),
            blocks: used,
        });
    }
    Ok(Document {
        title: format!("Validation report: {}", name(subject.challenger_version)),
        subtitle: format!(
            "Gate decision {} — generated by slipway at {} from the recorded decision; nothing in it was typed by hand.",
            digest.short(16),
            utc(now_ms)
        ),
        sections,
    })
}

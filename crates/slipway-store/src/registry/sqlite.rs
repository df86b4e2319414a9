//! [`RegistryStore`] for the SQLite metadata store.

use super::*;
use crate::meta::{MetaError, SqliteStore};
use rusqlite::{OptionalExtension, Transaction, params};
use slipway_core::audit::{AuditEntry, ChainBreak, SealedEntry};
use slipway_core::pipeline::canonical_json;
use slipway_core::registry::{
    Action, Approval, ApprovalBinding, Effect, Evidence, GateEvidence, ModelInfo, ModelVersion,
    Provenance, RiskTier, Stage, TransitionRecord, VersionEntry, approve as core_approve,
    check_name, transition as core_transition,
};
use slipway_core::tracking::RunOrigin;

fn meta(store: &SqliteStore, e: rusqlite::Error) -> RegistryError {
    RegistryError::Meta(store.err(e))
}

fn not_found(what: &'static str, id: impl Into<String>) -> RegistryError {
    RegistryError::Meta(MetaError::NotFound {
        what,
        id: id.into(),
    })
}

fn parse<T: std::str::FromStr>(text: String) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn json<T: serde::de::DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn stage_name(stage: Stage) -> &'static str {
    stage.as_str()
}

impl SqliteStore {
    /// Runs `f` in an IMMEDIATE transaction (writers queue; no deadlock on upgrade).
    fn reg_write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> RegResult<T>) -> RegResult<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        let value = f(&tx)?;
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(value)
    }

    /// Appends an audit entry inside the transaction open on `tx`.
    pub(crate) fn append_audit(
        &self,
        tx: &rusqlite::Connection,
        actor: &str,
        action: &str,
        subject: &str,
        payload: &serde_json::Value,
        at_ms: i64,
    ) -> RegResult<SealedEntry> {
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        let payload_text = canonical_json(payload);
        let entry = AuditEntry {
            seq: last.as_ref().map_or(1, |l| l.0 as u64 + 1),
            time_ms: at_ms,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            payload: Digest::of(payload_text.as_bytes()),
        };
        let prev_hash = match &last {
            Some((_, hash)) => hash
                .parse::<Digest>()
                .map_err(|e| RegistryError::Invalid(format!("audit log: {e}")))?,
            None => slipway_core::audit::GENESIS,
        };
        let hash = entry.hash_after(&prev_hash);
        tx.execute(
            "INSERT INTO audit_log (seq, time_ms, actor, action, subject, payload, payload_digest, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                entry.seq as i64,
                entry.time_ms,
                entry.actor,
                entry.action,
                entry.subject,
                payload_text,
                entry.payload.to_hex(),
                hash.to_hex()
            ],
        )
        .map_err(|e| meta(self, e))?;
        self.write_audit_head(entry.seq, &hash);
        Ok(SealedEntry { entry, hash })
    }

    /// The file beside the database that anchors the audit chain's head (sequence and hash), so
    /// that deleting the newest entries in the database alone is detected.
    pub fn audit_head_path(&self) -> std::path::PathBuf {
        let mut name = self.path().as_os_str().to_owned();
        name.push(".audit-head");
        std::path::PathBuf::from(name)
    }

    /// The recorded head, if any: (sequence, hash).
    pub fn audit_head(&self) -> Option<(u64, Digest)> {
        let text = std::fs::read_to_string(self.audit_head_path()).ok()?;
        let (seq, hash) = text.trim().split_once(' ')?;
        let seq = seq.trim_start_matches('0');
        let seq = if seq.is_empty() { "0" } else { seq };
        Some((seq.parse().ok()?, hash.parse().ok()?))
    }

    fn write_audit_head(&self, seq: u64, hash: &Digest) {
        use std::os::unix::fs::FileExt;
        // Never move the head backwards (another process may have appended since).
        if self.audit_head().is_some_and(|(head, _)| head >= seq) {
            return;
        }
        // A fixed-width record rewritten in place: no new file per entry (creating files is
        // what costs most here), and an 86-byte write within one page is never torn.
        let record = format!("{seq:020} {hash}\n");
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.audit_head_path())
            .and_then(|f| f.write_all_at(record.as_bytes(), 0));
        // Best effort: a head that could not be written only weakens tail-truncation detection
        // (the chain itself still verifies every entry).
        let _ = written;
    }

    fn load_model(&self, conn: &rusqlite::Connection, name: &str) -> RegResult<RegisteredModel> {
        let model = conn
            .query_row(
                "SELECT name, owner, risk_tier, intended_use, limitations, description, created_by, created_ms, updated_ms,
                        (SELECT MAX(version) FROM model_versions v WHERE v.model = m.name)
                 FROM registered_models m WHERE name = ?1",
                [name],
                |r| {
                    Ok(RegisteredModel {
                        name: r.get(0)?,
                        owner: r.get(1)?,
                        tier: parse::<RiskTier>(r.get(2)?)?,
                        intended_use: r.get(3)?,
                        limitations: r.get(4)?,
                        description: r.get(5)?,
                        created_by: r.get(6)?,
                        created_ms: r.get(7)?,
                        updated_ms: r.get(8)?,
                        latest_version: r.get::<_, Option<i64>>(9)?.map(|v| v as u64),
                        tags: Vec::new(),
                        aliases: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(|e| meta(self, e))?
            .ok_or_else(|| not_found("registered model", name))?;
        let mut model = model;
        let mut tags = conn
            .prepare_cached(
                "SELECT key, value FROM registered_model_tags WHERE model = ?1 ORDER BY key",
            )
            .map_err(|e| meta(self, e))?;
        model.tags = tags
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| meta(self, e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))?;
        let mut aliases = conn
            .prepare_cached("SELECT alias, version FROM aliases WHERE model = ?1 ORDER BY alias")
            .map_err(|e| meta(self, e))?;
        model.aliases = aliases
            .query_map([name], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(|e| meta(self, e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))?;
        Ok(model)
    }

    fn load_versions(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        only: Option<u64>,
    ) -> RegResult<Vec<VersionRecord>> {
        let sql = "SELECT v.version, v.artifact, v.source, v.run_id, v.run_author, v.run_origin, v.run_commit, v.run_dirty,
                          v.components, v.deployment_config, v.ml_test_score, v.description, v.created_by, v.created_ms,
                          v.updated_ms, COALESCE(s.stage, 'None')
                   FROM model_versions v
                   LEFT JOIN slot_stages s ON s.model = v.model AND s.version = v.version AND s.slot = 'default'
                   WHERE v.model = ?1 AND (?2 IS NULL OR v.version = ?2)
                   ORDER BY v.version DESC";
        let mut stmt = conn.prepare_cached(sql).map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map(params![model, only.map(|v| v as i64)], |r| {
                let run_id: Option<String> = r.get(3)?;
                let author: Option<String> = r.get(4)?;
                let origin: Option<String> = r.get(5)?;
                let provenance = match (run_id.clone(), author, origin) {
                    (Some(run_id), Some(author), Some(origin)) => Some(Provenance {
                        run_id,
                        author,
                        origin: parse::<RunOrigin>(origin)?,
                        commit: r.get(6)?,
                        dirty: r.get::<_, Option<i64>>(7)?.unwrap_or(0) != 0,
                    }),
                    _ => None,
                };
                let components: Option<String> = r.get(8)?;
                Ok(VersionRecord {
                    model: model.to_string(),
                    version: ModelVersion {
                        version: r.get::<_, i64>(0)? as u64,
                        artifact: parse::<Digest>(r.get(1)?)?,
                        created_by: r.get(12)?,
                        provenance,
                        components: components.map(json).transpose()?.unwrap_or_default(),
                    },
                    source: r.get(2)?,
                    run_id,
                    deployment_config: r
                        .get::<_, Option<String>>(9)?
                        .map(parse::<Digest>)
                        .transpose()?,
                    ml_test_score: r.get(10)?,
                    description: r.get(11)?,
                    created_ms: r.get(13)?,
                    updated_ms: r.get(14)?,
                    tags: Vec::new(),
                    default_stage: parse::<Stage>(r.get(15)?)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        let mut versions: Vec<VersionRecord> = rows
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))?;
        if versions.len() <= 64 {
            let mut tags = conn
                .prepare_cached("SELECT key, value FROM model_version_tags WHERE model = ?1 AND version = ?2 ORDER BY key")
                .map_err(|e| meta(self, e))?;
            for v in &mut versions {
                v.tags = tags
                    .query_map(params![model, v.number() as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(|e| meta(self, e))?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(|e| meta(self, e))?;
            }
        }
        Ok(versions)
    }

    fn load_version(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        version: u64,
    ) -> RegResult<VersionRecord> {
        self.load_versions(conn, model, Some(version))?
            .pop()
            .ok_or_else(|| not_found("model version", format!("{model} version {version}")))
    }

    fn load_slot_state(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        slot: &str,
    ) -> RegResult<SlotState> {
        self.load_slot_state_for(conn, model, slot, None)
    }

    /// The slot's state with all versions or, for a transition, only the versions it can touch:
    /// the request's target, the current Production, the rollback stack and the aliases' targets
    /// (so a promotion costs the same with 10 versions or 10,000).
    fn load_slot_state_for(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        slot: &str,
        target: Option<u64>,
    ) -> RegResult<SlotState> {
        let info = self.load_model(conn, model)?;
        let mut state = SlotState::new(
            ModelInfo {
                name: info.name.clone(),
                tier: info.tier,
            },
            slot,
        );
        let mut stages = std::collections::HashMap::new();
        {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT version, stage FROM slot_stages WHERE model = ?1 AND slot = ?2",
                )
                .map_err(|e| meta(self, e))?;
            let rows = stmt
                .query_map([model, slot], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, parse::<Stage>(r.get(1)?)?))
                })
                .map_err(|e| meta(self, e))?;
            for row in rows {
                let (v, s) = row.map_err(|e| meta(self, e))?;
                stages.insert(v, s);
            }
        }
        let stack: Option<String> = conn
            .query_row(
                "SELECT rollback_stack FROM slots WHERE model = ?1 AND slot = ?2",
                [model, slot],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        if let Some(stack) = stack {
            state.rollback_stack = serde_json::from_str(&stack).map_err(|e| {
                RegistryError::Invalid(format!("rollback stack of {model}/{slot}: {e}"))
            })?;
        }
        let records = match target {
            None => self.load_versions(conn, model, None)?,
            Some(target) => {
                // A default rollback returns to the entry below the top of the stack.
                let mut wanted: std::collections::BTreeSet<u64> =
                    state.rollback_stack.iter().rev().take(2).copied().collect();
                wanted.insert(target);
                wanted.extend(
                    stages
                        .iter()
                        .filter(|(_, s)| **s == Stage::Production)
                        .map(|(v, _)| *v),
                );
                wanted.extend(info.aliases.iter().map(|(_, v)| *v));
                let mut records = Vec::with_capacity(wanted.len());
                for v in wanted {
                    records.extend(self.load_versions(conn, model, Some(v))?);
                }
                records
            }
        };
        for record in records {
            let stage = stages.get(&record.number()).copied().unwrap_or(Stage::None);
            state.versions.insert(
                record.number(),
                VersionEntry {
                    version: record.version,
                    stage,
                },
            );
        }
        state.aliases = info.aliases.into_iter().collect();
        Ok(state)
    }

    fn evidence(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        version: u64,
        state: &SlotState,
    ) -> RegResult<Evidence> {
        let mut evidence = Evidence::default();
        if let Some((digest, record)) = self.latest_decision(conn, model, version)? {
            evidence.gate = Some(GateEvidence {
                decision: digest,
                verdict: record.decision.verdict,
                challenger_version: version,
                champion_version: record.subject.champion_version,
            });
        }
        evidence.approvals = self
            .load_approvals(conn, model, version)?
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        if state.versions.contains_key(&version) {
            let record = self.load_version(conn, model, version)?;
            evidence.deployment_config = record.deployment_config;
            evidence.ml_test_score = record.ml_test_score;
        }
        Ok(evidence)
    }

    fn latest_decision(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        version: u64,
    ) -> RegResult<Option<(Digest, DecisionRecord)>> {
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT digest, record FROM gate_decisions WHERE model = ?1 AND challenger_version = ?2
                 ORDER BY created_ms DESC, rowid DESC LIMIT 1",
                params![model, version as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        match row {
            None => Ok(None),
            Some((digest, record)) => {
                let digest = digest
                    .parse()
                    .map_err(|e| RegistryError::Invalid(format!("gate decision digest: {e}")))?;
                let record = DecisionRecord::from_json(&record)
                    .map_err(|e| RegistryError::Invalid(format!("gate decision {digest}: {e}")))?;
                Ok(Some((digest, record)))
            }
        }
    }

    fn load_approvals(
        &self,
        conn: &rusqlite::Connection,
        model: &str,
        version: u64,
    ) -> RegResult<Vec<(Approval, Option<String>)>> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT a.approver, a.at_ms, a.binding, a.comment, COALESCE(u.role, 'validator')
                 FROM approvals a LEFT JOIN users u ON u.name = a.approver
                 WHERE a.model = ?1 AND a.version = ?2 ORDER BY a.id",
            )
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map(params![model, version as i64], |r| {
                let binding: ApprovalBinding = json(r.get(2)?)?;
                let stored: serde_json::Value = json(r.get(2)?)?;
                let role = stored
                    .get("approver_role")
                    .and_then(|v| v.as_str())
                    .map(|s| s.to_string())
                    .unwrap_or(r.get::<_, String>(4)?);
                Ok((
                    Approval {
                        approver: r.get(0)?,
                        role: parse(role)?,
                        binding,
                        time_ms: r.get(1)?,
                    },
                    r.get(3)?,
                ))
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn load_policy(&self, conn: &rusqlite::Connection) -> RegResult<Policy> {
        let doc: Option<String> = conn
            .query_row(
                "SELECT document FROM policies ORDER BY version DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        match doc {
            None => Ok(Policy::default()),
            Some(doc) => serde_json::from_str(&doc)
                .map_err(|e| RegistryError::Invalid(format!("stored policy: {e}"))),
        }
    }

    /// Applies the effects of an accepted transition inside `tx`.
    fn apply_effects(
        &self,
        tx: &Transaction<'_>,
        model: &str,
        slot: &str,
        effects: &[Effect],
        at_ms: i64,
        actor: &str,
    ) -> RegResult<()> {
        // Take the old Production out first so the unique index never sees two.
        let mut ordered: Vec<&Effect> = effects
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::SetStage {
                        from: Stage::Production,
                        ..
                    }
                )
            })
            .collect();
        ordered.extend(effects.iter().filter(|e| {
            !matches!(
                e,
                Effect::SetStage {
                    from: Stage::Production,
                    ..
                }
            )
        }));
        tx.execute(
            "INSERT OR IGNORE INTO slots (model, slot) VALUES (?1, ?2)",
            [model, slot],
        )
        .map_err(|e| meta(self, e))?;
        for effect in ordered {
            match effect {
                Effect::SetStage { version, from, to } => {
                    if *to == Stage::None {
                        tx.execute(
                            "DELETE FROM slot_stages WHERE model = ?1 AND slot = ?2 AND version = ?3",
                            params![model, slot, *version as i64],
                        )
                    } else {
                        tx.execute(
                            "INSERT INTO slot_stages (model, slot, version, stage) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT(model, slot, version) DO UPDATE SET stage = excluded.stage",
                            params![model, slot, *version as i64, stage_name(*to)],
                        )
                    }
                    .map_err(|e| meta(self, e))?;
                    if *from == Stage::Production {
                        tx.execute(
                            "UPDATE live_history SET to_ms = ?4 WHERE model = ?1 AND slot = ?2 AND version = ?3 AND to_ms IS NULL",
                            params![model, slot, *version as i64, at_ms],
                        )
                        .map_err(|e| meta(self, e))?;
                    }
                    if *to == Stage::Production {
                        tx.execute(
                            "INSERT INTO live_history (model, slot, version, from_ms) VALUES (?1, ?2, ?3, ?4)",
                            params![model, slot, *version as i64, at_ms],
                        )
                        .map_err(|e| meta(self, e))?;
                    }
                }
                Effect::MoveAlias { alias, from, to } => {
                    match to {
                        Some(v) => tx.execute(
                            "INSERT INTO aliases (model, alias, version) VALUES (?1, ?2, ?3)
                             ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version",
                            params![model, alias, *v as i64],
                        ),
                        None => tx.execute(
                            "DELETE FROM aliases WHERE model = ?1 AND alias = ?2",
                            params![model, alias],
                        ),
                    }
                    .map_err(|e| meta(self, e))?;
                    tx.execute(
                        "INSERT INTO alias_history (model, alias, from_version, to_version, actor, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![model, alias, from.map(|v| v as i64), to.map(|v| v as i64), actor, at_ms],
                    )
                    .map_err(|e| meta(self, e))?;
                }
                Effect::SetRollbackStack(stack) => {
                    tx.execute(
                        "UPDATE slots SET rollback_stack = ?3 WHERE model = ?1 AND slot = ?2",
                        params![
                            model,
                            slot,
                            serde_json::to_string(stack).expect("numbers serialise")
                        ],
                    )
                    .map_err(|e| meta(self, e))?;
                }
                Effect::Record(record) => {
                    let text = serde_json::to_string(record).expect("records serialise");
                    tx.execute(
                        "INSERT INTO transitions (model, slot, version, action, actor, at_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![model, slot, record.version.map(|v| v as i64), record.action, record.actor, record.time_ms, text],
                    )
                    .map_err(|e| meta(self, e))?;
                    let subject = match record.version {
                        Some(v) => format!("{model}@{v}/{slot}"),
                        None => format!("{model}/{slot}"),
                    };
                    let payload = serde_json::to_value(record).expect("records serialise");
                    self.append_audit(
                        tx,
                        &record.actor,
                        &format!("model.{}", record.action),
                        &subject,
                        &payload,
                        record.time_ms,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn touch_model(&self, tx: &Transaction<'_>, name: &str, at_ms: i64) -> RegResult<()> {
        let n = tx
            .execute(
                "UPDATE registered_models SET updated_ms = ?2 WHERE name = ?1",
                params![name, at_ms],
            )
            .map_err(|e| meta(self, e))?;
        if n == 0 {
            return Err(not_found("registered model", name));
        }
        Ok(())
    }

    fn require_role(actor: &Actor, needed: Role, doing: &str) -> RegResult<()> {
        if actor.role.allows(needed) {
            Ok(())
        } else {
            Err(RegistryError::PermissionDenied(format!(
                "{doing} needs the {needed} role; {} has the {} role",
                actor.name, actor.role
            )))
        }
    }
}

fn name_ok(what: &'static str, name: &str) -> RegResult<()> {
    check_name(what, name).map_err(|e| RegistryError::Invalid(e.to_string()))
}

impl RegistryStore for SqliteStore {
    fn create_model(
        &self,
        new: &NewModel,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<RegisteredModel> {
        name_ok("model", &new.name)?;
        Self::require_role(actor, Role::Contributor, "registering a model")?;
        self.reg_write(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM registered_models WHERE name = ?1", [&new.name], |r| r.get(0))
                .optional()
                .map_err(|e| meta(self, e))?;
            if exists.is_some() {
                return Err(RegistryError::Meta(MetaError::AlreadyExists {
                    what: "registered model",
                    id: new.name.clone(),
                }));
            }
            tx.execute(
                "INSERT INTO registered_models (name, owner, risk_tier, intended_use, limitations, description, created_by, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![new.name, new.owner, new.tier.as_str(), new.intended_use, new.limitations, new.description, actor.name, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            let payload = serde_json::json!({"name": new.name, "owner": new.owner, "tier": new.tier.as_str(),
                "intended_use": new.intended_use, "limitations": new.limitations});
            self.append_audit(tx, &actor.name, "model.create", &new.name, &payload, at_ms)?;
            Ok(())
        })?;
        self.model(&new.name)
    }

    fn model(&self, name: &str) -> RegResult<RegisteredModel> {
        self.load_model(&self.lock(), name)
    }

    fn models(&self) -> RegResult<Vec<RegisteredModel>> {
        let conn = self.lock();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM registered_models ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| meta(self, e))?;
        names.iter().map(|n| self.load_model(&conn, n)).collect()
    }

    fn update_model(
        &self,
        name: &str,
        update: &ModelUpdate,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<RegisteredModel> {
        Self::require_role(actor, Role::Contributor, "changing a model")?;
        if update.tier.is_some() {
            Self::require_role(actor, Role::Validator, "changing a model's risk tier")?;
        }
        self.reg_write(|tx| {
            self.touch_model(tx, name, at_ms)?;
            tx.execute(
                "UPDATE registered_models SET owner = COALESCE(?2, owner), risk_tier = COALESCE(?3, risk_tier),
                   intended_use = COALESCE(?4, intended_use), limitations = COALESCE(?5, limitations),
                   description = COALESCE(?6, description) WHERE name = ?1",
                params![name, update.owner, update.tier.map(|t| t.as_str()), update.intended_use, update.limitations, update.description],
            )
            .map_err(|e| meta(self, e))?;
            let payload = serde_json::json!({"owner": update.owner, "tier": update.tier.map(|t| t.as_str()),
                "intended_use": update.intended_use, "limitations": update.limitations, "description": update.description});
            self.append_audit(tx, &actor.name, "model.update", name, &payload, at_ms)?;
            Ok(())
        })?;
        self.model(name)
    }

    fn rename_model(
        &self,
        name: &str,
        new_name: &str,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<RegisteredModel> {
        name_ok("model", new_name)?;
        Self::require_role(actor, Role::Deployer, "renaming a model")?;
        self.reg_write(|tx| {
            self.touch_model(tx, name, at_ms)?;
            let taken: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM registered_models WHERE name = ?1",
                    [new_name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| meta(self, e))?;
            if taken.is_some() {
                return Err(RegistryError::Meta(MetaError::AlreadyExists {
                    what: "registered model",
                    id: new_name.into(),
                }));
            }
            tx.execute(
                "UPDATE registered_models SET name = ?2 WHERE name = ?1",
                [name, new_name],
            )
            .map_err(|e| meta(self, e))?;
            for table in [
                "slot_stages",
                "live_history",
                "alias_history",
                "transitions",
                "approvals",
                "gate_decisions",
            ] {
                tx.execute(
                    &format!("UPDATE {table} SET model = ?2 WHERE model = ?1"),
                    [name, new_name],
                )
                .map_err(|e| meta(self, e))?;
            }
            self.append_audit(
                tx,
                &actor.name,
                "model.rename",
                name,
                &serde_json::json!({"new_name": new_name}),
                at_ms,
            )?;
            Ok(())
        })?;
        self.model(new_name)
    }

    fn delete_model(&self, name: &str, actor: &Actor, at_ms: i64) -> RegResult<()> {
        Self::require_role(actor, Role::Deployer, "deleting a model")?;
        self.reg_write(|tx| {
            self.touch_model(tx, name, at_ms)?;
            let live: Option<i64> = tx
                .query_row("SELECT version FROM slot_stages WHERE model = ?1 AND stage = 'Production' LIMIT 1", [name], |r| r.get(0))
                .optional()
                .map_err(|e| meta(self, e))?;
            if let Some(v) = live {
                return Err(RegistryError::Invalid(format!(
                    "model {name} has version {v} in Production; roll back or archive it before deleting the model"
                )));
            }
            tx.execute("DELETE FROM registered_models WHERE name = ?1", [name]).map_err(|e| meta(self, e))?;
            self.append_audit(tx, &actor.name, "model.delete", name, &serde_json::json!({}), at_ms)?;
            Ok(())
        })
    }

    fn set_model_tag(
        &self,
        name: &str,
        key: &str,
        value: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<()> {
        Self::require_role(actor, Role::Contributor, "tagging a model")?;
        if key.is_empty() {
            return Err(RegistryError::Invalid("tag key must not be empty".into()));
        }
        self.reg_write(|tx| {
            self.touch_model(tx, name, at_ms)?;
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO registered_model_tags (model, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT(model, key) DO UPDATE SET value = excluded.value",
                    [name, key, v],
                ),
                None => tx.execute(
                    "DELETE FROM registered_model_tags WHERE model = ?1 AND key = ?2",
                    [name, key],
                ),
            }
            .map_err(|e| meta(self, e))?;
            self.append_audit(
                tx,
                &actor.name,
                "model.tag",
                name,
                &serde_json::json!({"key": key, "value": value}),
                at_ms,
            )?;
            Ok(())
        })
    }

    fn register_version(
        &self,
        new: &NewVersion,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<VersionRecord> {
        Self::require_role(actor, Role::Contributor, "registering a model version")?;
        let artifact = new.artifact.ok_or_else(|| {
            RegistryError::Invalid(
                "a model version needs its artifact digest (the model file or directory)".into(),
            )
        })?;
        let version = self.reg_write(|tx| {
            self.touch_model(tx, &new.model, at_ms)?;
            let next: i64 = tx
                .query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model = ?1", [&new.model], |r| r.get(0))
                .map_err(|e| meta(self, e))?;
            let run: Option<(String, String, Option<String>, Option<i64>)> = match &new.run_id {
                Some(id) => tx
                    .query_row("SELECT user_name, origin, git_commit, git_dirty FROM runs WHERE id = ?1", [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                    .map_err(|e| meta(self, e))?,
                None => None,
            };
            let components = (!new.components.is_empty()).then(|| serde_json::to_string(&new.components).expect("components serialise"));
            tx.execute(
                "INSERT INTO model_versions (model, version, artifact, source, run_id, run_author, run_origin, run_commit, run_dirty,
                    components, description, created_by, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
                params![
                    new.model,
                    next,
                    artifact.to_hex(),
                    new.source,
                    new.run_id,
                    run.as_ref().map(|r| r.0.clone()),
                    run.as_ref().map(|r| r.1.clone()),
                    run.as_ref().and_then(|r| r.2.clone()),
                    run.as_ref().and_then(|r| r.3),
                    components,
                    new.description,
                    actor.name,
                    at_ms
                ],
            )
            .map_err(|e| meta(self, e))?;
            let payload = serde_json::json!({"artifact": artifact, "source": new.source, "run_id": new.run_id,
                "components": new.components});
            self.append_audit(tx, &actor.name, "model.register_version", &format!("{}@{next}", new.model), &payload, at_ms)?;
            Ok(next as u64)
        })?;
        self.version(&new.model, version)
    }

    fn version(&self, model: &str, version: u64) -> RegResult<VersionRecord> {
        self.load_version(&self.lock(), model, version)
    }

    fn versions_from(
        &self,
        artifact: Option<&Digest>,
        run_id: Option<&str>,
    ) -> RegResult<Vec<VersionRecord>> {
        let conn = self.lock();
        let keys: Vec<(String, i64)> = conn
            .prepare_cached(
                "SELECT model, version FROM model_versions
                 WHERE (?1 IS NOT NULL AND artifact = ?1) OR (?2 IS NOT NULL AND run_id = ?2)
                 ORDER BY model, version",
            )
            .and_then(|mut s| {
                s.query_map(params![artifact.map(|d| d.to_hex()), run_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .map_err(|e| meta(self, e))?;
        keys.iter()
            .map(|(m, v)| self.load_version(&conn, m, *v as u64))
            .collect()
    }

    fn versions(&self, model: &str) -> RegResult<Vec<VersionRecord>> {
        let conn = self.lock();
        self.load_model(&conn, model)?;
        self.load_versions(&conn, model, None)
    }

    fn update_version(
        &self,
        model: &str,
        version: u64,
        update: &VersionUpdate,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<VersionRecord> {
        Self::require_role(actor, Role::Contributor, "changing a model version")?;
        if let Some(score) = update.ml_test_score
            && !score.is_finite()
        {
            return Err(RegistryError::Invalid(format!(
                "ML Test Score {score} is not a finite number"
            )));
        }
        self.reg_write(|tx| {
            let n = tx
                .execute(
                    "UPDATE model_versions SET description = COALESCE(?3, description),
                       deployment_config = COALESCE(?4, deployment_config), ml_test_score = COALESCE(?5, ml_test_score),
                       updated_ms = ?6 WHERE model = ?1 AND version = ?2",
                    params![model, version as i64, update.description, update.deployment_config.map(|d| d.to_hex()), update.ml_test_score, at_ms],
                )
                .map_err(|e| meta(self, e))?;
            if n == 0 {
                return Err(not_found("model version", format!("{model} version {version}")));
            }
            let payload = serde_json::json!({"description": update.description, "deployment_config": update.deployment_config,
                "ml_test_score": update.ml_test_score});
            self.append_audit(tx, &actor.name, "model.update_version", &format!("{model}@{version}"), &payload, at_ms)?;
            Ok(())
        })?;
        self.version(model, version)
    }

    fn delete_version(
        &self,
        model: &str,
        version: u64,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<()> {
        Self::require_role(actor, Role::Deployer, "deleting a model version")?;
        self.reg_write(|tx| {
            let live: Option<String> = tx
                .query_row(
                    "SELECT slot FROM slot_stages WHERE model = ?1 AND version = ?2 AND stage = 'Production' LIMIT 1",
                    params![model, version as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| meta(self, e))?;
            if let Some(slot) = live {
                return Err(RegistryError::Invalid(format!(
                    "{model} version {version} is in Production in slot {slot}; roll back first"
                )));
            }
            let n = tx
                .execute("DELETE FROM model_versions WHERE model = ?1 AND version = ?2", params![model, version as i64])
                .map_err(|e| meta(self, e))?;
            if n == 0 {
                return Err(not_found("model version", format!("{model} version {version}")));
            }
            tx.execute("DELETE FROM aliases WHERE model = ?1 AND version = ?2", params![model, version as i64])
                .map_err(|e| meta(self, e))?;
            self.append_audit(tx, &actor.name, "model.delete_version", &format!("{model}@{version}"), &serde_json::json!({}), at_ms)?;
            Ok(())
        })
    }

    fn set_version_tag(
        &self,
        model: &str,
        version: u64,
        key: &str,
        value: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<()> {
        Self::require_role(actor, Role::Contributor, "tagging a model version")?;
        if key.is_empty() {
            return Err(RegistryError::Invalid("tag key must not be empty".into()));
        }
        self.reg_write(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM model_versions WHERE model = ?1 AND version = ?2", params![model, version as i64], |r| r.get(0))
                .optional()
                .map_err(|e| meta(self, e))?;
            if exists.is_none() {
                return Err(not_found("model version", format!("{model} version {version}")));
            }
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO model_version_tags (model, version, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(model, version, key) DO UPDATE SET value = excluded.value",
                    params![model, version as i64, key, v],
                ),
                None => tx.execute(
                    "DELETE FROM model_version_tags WHERE model = ?1 AND version = ?2 AND key = ?3",
                    params![model, version as i64, key],
                ),
            }
            .map_err(|e| meta(self, e))?;
            self.append_audit(tx, &actor.name, "model.tag_version", &format!("{model}@{version}"), &serde_json::json!({"key": key, "value": value}), at_ms)?;
            Ok(())
        })
    }

    fn slot_state(&self, model: &str, slot: &str) -> RegResult<SlotState> {
        self.load_slot_state(&self.lock(), model, slot)
    }

    fn transition(
        &self,
        model: &str,
        slot: &str,
        request: &Request,
    ) -> RegResult<TransitionOutcome> {
        name_ok("slot", slot)?;
        let touched = match &request.action {
            Action::Stage { version, .. }
            | Action::Promote { version, .. }
            | Action::SetAlias { version, .. } => Some(*version),
            Action::Rollback { to, .. } => *to,
            Action::DeleteAlias { .. } => None,
        };
        self.reg_write(|tx| {
            let state = self.load_slot_state_for(tx, model, slot, Some(touched.unwrap_or(0)))?;
            let policy = self.load_policy(tx)?;
            let target = match &request.action {
                Action::Rollback { .. } => None,
                _ => touched,
            };
            let evidence = match target {
                Some(v) => self.evidence(tx, model, v, &state)?,
                None => Evidence::default(),
            };
            let effects = core_transition(&state, request, &policy, &evidence)?;
            self.apply_effects(
                tx,
                model,
                slot,
                &effects,
                request.time_ms,
                &request.actor.name,
            )?;
            tx.execute(
                "UPDATE registered_models SET updated_ms = ?2 WHERE name = ?1",
                params![model, request.time_ms],
            )
            .map_err(|e| meta(self, e))?;
            let mut after = state.clone();
            after.apply(&effects);
            let record = effects
                .iter()
                .find_map(|e| match e {
                    Effect::Record(r) => Some(r.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| TransitionRecord {
                    action: "unknown".into(),
                    model: model.into(),
                    slot: slot.into(),
                    version: target,
                    actor: request.actor.name.clone(),
                    role: request.actor.role,
                    time_ms: request.time_ms,
                    reason: None,
                    gate_decision: None,
                    approvers: Vec::new(),
                    deployment_config: None,
                    policy_version: policy.version,
                });
            Ok(TransitionOutcome {
                record,
                live: after.production(),
                effects,
            })
        })
    }

    fn live(
        &self,
        model: &str,
        slot: &str,
        as_of_ms: Option<i64>,
    ) -> RegResult<Option<VersionRecord>> {
        let conn = self.lock();
        let version: Option<i64> = match as_of_ms {
            None => conn
                .prepare_cached("SELECT version FROM slot_stages WHERE model = ?1 AND slot = ?2 AND stage = 'Production'")
                .and_then(|mut s| s.query_row([model, slot], |r| r.get(0)).optional()),
            Some(at) => conn
                .prepare_cached(
                    "SELECT version FROM live_history WHERE model = ?1 AND slot = ?2 AND from_ms <= ?3
                     AND (to_ms IS NULL OR to_ms > ?3) ORDER BY from_ms DESC, rowid DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row(params![model, slot, at], |r| r.get(0)).optional()),
        }
        .map_err(|e| meta(self, e))?;
        match version {
            Some(v) => Ok(Some(self.load_version(&conn, model, v as u64)?)),
            None => {
                self.load_model(&conn, model)?;
                Ok(None)
            }
        }
    }

    fn live_all(&self) -> RegResult<Vec<(String, String, VersionRecord)>> {
        let conn = self.lock();
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT model, slot, version FROM slot_stages WHERE stage = 'Production' ORDER BY model, slot")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .map_err(|e| meta(self, e))?;
        rows.into_iter()
            .map(|(m, s, v)| Ok((m.clone(), s, self.load_version(&conn, &m, v as u64)?)))
            .collect()
    }

    fn history(&self, model: &str, slot: Option<&str>) -> RegResult<Vec<TransitionRow>> {
        let conn = self.lock();
        self.load_model(&conn, model)?;
        let mut stmt = conn
            .prepare_cached("SELECT id, record FROM transitions WHERE model = ?1 AND (?2 IS NULL OR slot = ?2) ORDER BY id")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map(params![model, slot], |r| {
                Ok(TransitionRow {
                    id: r.get(0)?,
                    record: json(r.get(1)?)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn alias(&self, model: &str, alias: &str) -> RegResult<Option<u64>> {
        let conn = self.lock();
        let v: Option<i64> = conn
            .prepare_cached("SELECT version FROM aliases WHERE model = ?1 AND alias = ?2")
            .and_then(|mut s| s.query_row([model, alias], |r| r.get(0)).optional())
            .map_err(|e| meta(self, e))?;
        Ok(v.map(|v| v as u64))
    }

    fn alias_history(&self, model: &str) -> RegResult<Vec<AliasMove>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT alias, from_version, to_version, actor, at_ms FROM alias_history WHERE model = ?1 ORDER BY id")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([model], |r| {
                Ok(AliasMove {
                    alias: r.get(0)?,
                    from: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                    to: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    actor: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn stages(&self, model: &str, version: u64) -> RegResult<Vec<(String, Stage)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT slot, stage FROM slot_stages WHERE model = ?1 AND version = ?2 ORDER BY slot")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map(params![model, version as i64], |r| {
                Ok((r.get(0)?, parse::<Stage>(r.get(1)?)?))
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn approve(
        &self,
        model: &str,
        version: u64,
        actor: &Actor,
        comment: Option<&str>,
        at_ms: i64,
    ) -> RegResult<ApprovalRow> {
        self.reg_write(|tx| {
            let state = self.load_slot_state(tx, model, "default")?;
            let policy = self.load_policy(tx)?;
            let gate = self.latest_decision(tx, model, version)?.map(|(d, _)| d);
            let approval = core_approve(&state, version, actor, gate, &policy, at_ms)?;
            let mut binding = serde_json::to_value(&approval.binding).expect("bindings serialise");
            binding["approver_role"] = serde_json::Value::String(actor.role.as_str().to_string());
            tx.execute(
                "INSERT INTO approvals (model, version, approver, at_ms, binding, binding_digest, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![model, version as i64, actor.name, at_ms, binding.to_string(), approval.binding.digest().to_hex(), comment],
            )
            .map_err(|e| meta(self, e))?;
            let payload = serde_json::json!({"binding": approval.binding, "binding_digest": approval.binding.digest(), "comment": comment});
            self.append_audit(tx, &actor.name, "model.approve", &format!("{model}@{version}"), &payload, at_ms)?;
            Ok(ApprovalRow {
                approval,
                comment: comment.map(str::to_string),
                valid: true,
            })
        })
    }

    fn approvals(&self, model: &str, version: u64) -> RegResult<Vec<ApprovalRow>> {
        let conn = self.lock();
        let record = self.load_version(&conn, model, version)?;
        let policy = self.load_policy(&conn)?;
        let gate = self.latest_decision(&conn, model, version)?.map(|(d, _)| d);
        let current = ApprovalBinding::new(model, &record.version, gate, &policy);
        Ok(self
            .load_approvals(&conn, model, version)?
            .into_iter()
            .map(|(approval, comment)| ApprovalRow {
                valid: approval.binding == current,
                approval,
                comment,
            })
            .collect())
    }

    fn record_gate_decision(
        &self,
        record: &DecisionRecord,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<Digest> {
        Self::require_role(actor, Role::Contributor, "recording a gate decision")?;
        let digest = record.digest();
        self.reg_write(|tx| {
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO gate_decisions (digest, model, champion_version, challenger_version, verdict, record, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        digest.to_hex(),
                        record.subject.model,
                        record.subject.champion_version.map(|v| v as i64),
                        record.subject.challenger_version.map(|v| v as i64),
                        record.decision.verdict.as_str(),
                        record.canonical_json(),
                        at_ms
                    ],
                )
                .map_err(|e| meta(self, e))?;
            if inserted > 0 {
                let subject = match (&record.subject.model, record.subject.challenger_version) {
                    (Some(m), Some(v)) => format!("{m}@{v}"),
                    (Some(m), None) => m.clone(),
                    _ => "ad hoc".to_string(),
                };
                let payload = serde_json::json!({"decision": digest, "verdict": record.decision.verdict.as_str(),
                    "breaches": record.decision.breaches});
                self.append_audit(tx, &actor.name, "gate.decision", &subject, &payload, at_ms)?;
            }
            Ok(())
        })?;
        Ok(digest)
    }

    fn gate_decision(&self, digest: &Digest) -> RegResult<Option<DecisionRecord>> {
        let text: Option<String> = self
            .lock()
            .query_row(
                "SELECT record FROM gate_decisions WHERE digest = ?1",
                [digest.to_hex()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        text.map(|t| {
            DecisionRecord::from_json(&t)
                .map_err(|e| RegistryError::Invalid(format!("gate decision {digest}: {e}")))
        })
        .transpose()
    }

    fn latest_gate_decision(
        &self,
        model: &str,
        version: u64,
    ) -> RegResult<Option<(Digest, DecisionRecord)>> {
        self.latest_decision(&self.lock(), model, version)
    }

    fn policy(&self) -> RegResult<Policy> {
        self.load_policy(&self.lock())
    }

    fn set_policy(&self, policy: &Policy, actor: &Actor, at_ms: i64) -> RegResult<Policy> {
        Self::require_role(actor, Role::Admin, "changing the policy")?;
        self.reg_write(|tx| {
            let current = self.load_policy(tx)?;
            let mut next = policy.clone();
            next.version = current.version + 1;
            let document = serde_json::to_string(&next).expect("policies serialise");
            let digest = Digest::of(document.as_bytes());
            tx.execute(
                "INSERT INTO policies (version, document, digest, created_by, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![next.version as i64, document, digest.to_hex(), actor.name, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            let payload = serde_json::to_value(&next).expect("policies serialise");
            self.append_audit(tx, &actor.name, "policy.set", &format!("policy v{}", next.version), &payload, at_ms)?;
            Ok(next)
        })
    }

    fn create_user(&self, name: &str, role: Role, actor: &Actor, at_ms: i64) -> RegResult<UserRow> {
        name_ok("user", name)?;
        Self::require_role(actor, Role::Admin, "adding a user")?;
        self.reg_write(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(|e| meta(self, e))?;
            if exists.is_some() {
                return Err(RegistryError::Meta(MetaError::AlreadyExists {
                    what: "user",
                    id: name.into(),
                }));
            }
            tx.execute(
                "INSERT INTO users (name, role, created_ms) VALUES (?1, ?2, ?3)",
                params![name, role.as_str(), at_ms],
            )
            .map_err(|e| meta(self, e))?;
            self.append_audit(
                tx,
                &actor.name,
                "user.create",
                name,
                &serde_json::json!({"role": role.as_str()}),
                at_ms,
            )?;
            Ok(UserRow {
                name: name.into(),
                role,
                created_ms: at_ms,
                disabled_ms: None,
            })
        })
    }

    fn set_user_role(
        &self,
        name: &str,
        role: Option<Role>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<UserRow> {
        Self::require_role(actor, Role::Admin, "changing a user")?;
        self.reg_write(|tx| {
            let n = match role {
                Some(r) => tx.execute(
                    "UPDATE users SET role = ?2, disabled_ms = NULL WHERE name = ?1",
                    params![name, r.as_str()],
                ),
                None => tx.execute(
                    "UPDATE users SET disabled_ms = ?2 WHERE name = ?1",
                    params![name, at_ms],
                ),
            }
            .map_err(|e| meta(self, e))?;
            if n == 0 {
                return Err(not_found("user", name));
            }
            let payload =
                serde_json::json!({"role": role.map(|r| r.as_str()), "disabled": role.is_none()});
            self.append_audit(tx, &actor.name, "user.update", name, &payload, at_ms)?;
            tx.query_row(
                "SELECT name, role, created_ms, disabled_ms FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(UserRow {
                        name: r.get(0)?,
                        role: parse(r.get(1)?)?,
                        created_ms: r.get(2)?,
                        disabled_ms: r.get(3)?,
                    })
                },
            )
            .map_err(|e| meta(self, e))
        })
    }

    fn users(&self) -> RegResult<Vec<UserRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT name, role, created_ms, disabled_ms FROM users ORDER BY name")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(UserRow {
                    name: r.get(0)?,
                    role: parse(r.get(1)?)?,
                    created_ms: r.get(2)?,
                    disabled_ms: r.get(3)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn create_token(
        &self,
        user: &str,
        description: Option<&str>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<NewToken> {
        if actor.name != user {
            Self::require_role(actor, Role::Admin, "creating a token for another user")?;
        }
        let (id, token, hash) = auth::generate();
        self.reg_write(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM users WHERE name = ?1 AND disabled_ms IS NULL", [user], |r| r.get(0))
                .optional()
                .map_err(|e| meta(self, e))?;
            if exists.is_none() {
                return Err(not_found("user", user));
            }
            tx.execute(
                "INSERT INTO tokens (id, user_name, secret_hash, description, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, user, hash.to_hex(), description, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            self.append_audit(tx, &actor.name, "token.create", &format!("token {id}"), &serde_json::json!({"user": user, "description": description}), at_ms)?;
            Ok(())
        })?;
        Ok(NewToken { id, token })
    }

    fn tokens(&self) -> RegResult<Vec<TokenRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT id, user_name, description, created_ms, revoked_ms FROM tokens ORDER BY created_ms, id")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenRow {
                    id: r.get(0)?,
                    user: r.get(1)?,
                    description: r.get(2)?,
                    created_ms: r.get(3)?,
                    revoked_ms: r.get(4)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn revoke_token(&self, id: &str, actor: &Actor, at_ms: i64) -> RegResult<()> {
        self.reg_write(|tx| {
            let owner: Option<String> = tx
                .query_row("SELECT user_name FROM tokens WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| meta(self, e))?;
            let owner = owner.ok_or_else(|| not_found("token", id))?;
            if owner != actor.name {
                Self::require_role(actor, Role::Admin, "revoking another user's token")?;
            }
            tx.execute(
                "UPDATE tokens SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![id, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            self.append_audit(
                tx,
                &actor.name,
                "token.revoke",
                &format!("token {id}"),
                &serde_json::json!({"user": owner}),
                at_ms,
            )?;
            Ok(())
        })
    }

    fn authenticate(&self, token: &str) -> RegResult<Option<Actor>> {
        let Some((id, hash)) = auth::parse(token) else {
            return Ok(None);
        };
        let row: Option<(String, String, String)> = self
            .lock()
            .prepare_cached(
                "SELECT t.secret_hash, u.name, u.role FROM tokens t JOIN users u ON u.name = t.user_name
                 WHERE t.id = ?1 AND t.revoked_ms IS NULL AND u.disabled_ms IS NULL",
            )
            .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(|e| meta(self, e))?;
        Ok(row.and_then(|(stored, name, role)| {
            let stored: Digest = stored.parse().ok()?;
            let role = role.parse().ok()?;
            auth::same(&stored, &hash).then_some(Actor { name, role })
        }))
    }

    fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        payload: &serde_json::Value,
        at_ms: i64,
    ) -> RegResult<SealedEntry> {
        self.reg_write(|tx| self.append_audit(tx, actor, action, subject, payload, at_ms))
    }

    fn audit_log(&self, after: u64, limit: usize) -> RegResult<Vec<AuditRow>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, time_ms, actor, action, subject, payload, payload_digest, hash FROM audit_log
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map(params![after as i64, limit as i64], |r| {
                Ok(AuditRow {
                    sealed: SealedEntry {
                        entry: AuditEntry {
                            seq: r.get::<_, i64>(0)? as u64,
                            time_ms: r.get(1)?,
                            actor: r.get(2)?,
                            action: r.get(3)?,
                            subject: r.get(4)?,
                            payload: parse(r.get(6)?)?,
                        },
                        hash: parse(r.get(7)?)?,
                    },
                    payload: json(r.get(5)?)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    fn audit_verify(&self) -> RegResult<Result<u64, ChainBreak>> {
        let mut after = 0u64;
        let mut prev = slipway_core::audit::GENESIS;
        loop {
            let batch = self.audit_log(after, 10_000)?;
            if batch.is_empty() {
                return Ok(Ok(after));
            }
            let entries: Vec<SealedEntry> = batch.iter().map(|r| r.sealed.clone()).collect();
            if let Err(brk) = slipway_core::audit::verify_from(after, &prev, &entries) {
                return Ok(Err(brk));
            }
            // The stored payload must still hash to the digest the chain covers.
            for row in &batch {
                let digest = Digest::of(canonical_json(&row.payload).as_bytes());
                if digest != row.sealed.entry.payload {
                    return Ok(Err(ChainBreak {
                        seq: row.sealed.entry.seq,
                        why: slipway_core::audit::BreakKind::HashMismatch {
                            computed: digest,
                            stored: row.sealed.entry.payload,
                        },
                    }));
                }
            }
            let last = entries.last().expect("non-empty batch");
            after = last.entry.seq;
            prev = last.hash;
        }
    }
}

impl SqliteStore {
    /// [`SqliteStore::append_audit`] for the tracker's writes (run created, finished, deleted).
    pub(crate) fn audit_tx(
        &self,
        tx: &rusqlite::Connection,
        actor: &str,
        action: &str,
        subject: &str,
        payload: &serde_json::Value,
        at_ms: i64,
    ) -> crate::meta::MetaResult<()> {
        self.append_audit(tx, actor, action, subject, payload, at_ms)
            .map(|_| ())
            .map_err(|e| match e {
                RegistryError::Meta(m) => m,
                other => MetaError::Invalid(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("metadata.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn conformance_suite_passes() {
        let (_dir, store) = open();
        super::super::conformance::run_all(&store);
    }

    #[test]
    fn database_refuses_a_second_production_even_without_the_transition_function() {
        let (_dir, store) = open();
        let admin = Actor::new("root", Role::Admin);
        store
            .create_model(
                &NewModel {
                    name: "m".into(),
                    ..NewModel::default()
                },
                &admin,
                1,
            )
            .unwrap();
        for n in 0..2u8 {
            store
                .register_version(
                    &NewVersion {
                        model: "m".into(),
                        artifact: Some(Digest::of(&[n])),
                        ..NewVersion::default()
                    },
                    &admin,
                    2,
                )
                .unwrap();
        }
        let conn = store.lock();
        conn.execute(
            "INSERT INTO slot_stages VALUES ('m', 'default', 1, 'Production')",
            [],
        )
        .unwrap();
        let second = conn.execute(
            "INSERT INTO slot_stages VALUES ('m', 'default', 2, 'Production')",
            [],
        );
        assert!(
            second.is_err(),
            "the partial unique index holds invariant 1"
        );
    }

    #[test]
    fn concurrent_promotions_leave_exactly_one_production() {
        let (_dir, store) = open();
        let admin = Actor::new("root", Role::Admin);
        store
            .create_model(
                &NewModel {
                    name: "race".into(),
                    ..NewModel::default()
                },
                &admin,
                1,
            )
            .unwrap();
        for n in 0..16u8 {
            store
                .register_version(
                    &NewVersion {
                        model: "race".into(),
                        artifact: Some(Digest::of(&[n])),
                        ..NewVersion::default()
                    },
                    &admin,
                    2,
                )
                .unwrap();
        }
        std::thread::scope(|s| {
            for v in 1..=16u64 {
                let store = &store;
                let admin = admin.clone();
                s.spawn(move || {
                    let request = Request {
                        actor: admin,
                        time_ms: 10 + v as i64,
                        action: Action::Promote {
                            version: v,
                            aliases: vec![],
                        },
                    };
                    let _ = store.transition("race", "default", &request);
                });
            }
        });
        let productions: i64 = store
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM slot_stages WHERE model = 'race' AND stage = 'Production'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(productions, 1);
        assert_eq!(
            store.history("race", None).unwrap().len(),
            16,
            "every promotion is in the history"
        );
        assert!(store.audit_verify().unwrap().is_ok());
    }

    #[test]
    fn tampering_with_the_audit_log_is_detected_naming_the_entry() {
        let (_dir, store) = open();
        let admin = Actor::new("root", Role::Admin);
        for i in 0..5 {
            store
                .create_model(
                    &NewModel {
                        name: format!("m{i}"),
                        ..NewModel::default()
                    },
                    &admin,
                    i,
                )
                .unwrap();
        }
        assert_eq!(store.audit_verify().unwrap().unwrap(), 5);
        store
            .lock()
            .execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", [])
            .unwrap();
        assert_eq!(store.audit_verify().unwrap().unwrap_err().seq, 3);
        store
            .lock()
            .execute("UPDATE audit_log SET actor = 'root' WHERE seq = 3", [])
            .unwrap();
        store
            .lock()
            .execute(
                "UPDATE audit_log SET payload = '{\"name\":\"evil\"}' WHERE seq = 2",
                [],
            )
            .unwrap();
        assert_eq!(
            store.audit_verify().unwrap().unwrap_err().seq,
            2,
            "an edited payload is caught"
        );
        let (_dir2, store) = open();
        for i in 0..5 {
            store
                .create_model(
                    &NewModel {
                        name: format!("m{i}"),
                        ..NewModel::default()
                    },
                    &admin,
                    i,
                )
                .unwrap();
        }
        store
            .lock()
            .execute("DELETE FROM audit_log WHERE seq = 4", [])
            .unwrap();
        assert_eq!(
            store.audit_verify().unwrap().unwrap_err().seq,
            5,
            "a deleted entry is caught at the next one"
        );
    }
}

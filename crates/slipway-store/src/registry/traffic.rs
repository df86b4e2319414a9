//! Champion/challenger traffic per slot (canary share or shadow mirroring) and the labels that
//! arrive later for logged predictions. Traffic changes are registry state: validated here,
//! written with their audit entry in one transaction. The gateway reads them with [`traffic`]
//! and only honours a split while its challenger is still in Staging in that slot.
//!
//! [`traffic`]: RegistryStore::traffic

use super::*;
use crate::meta::SqliteStore;
use rusqlite::{OptionalExtension, params};
use slipway_core::registry::Stage;

/// The tables of this module (a migration of the metadata store).
pub const TRAFFIC: &str = r#"
CREATE TABLE traffic_splits (
    model       TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
    slot        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('canary', 'shadow')),
    challenger  INTEGER NOT NULL,
    share       REAL NOT NULL CHECK (share > 0 AND share <= 1),
    actor       TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (model, slot)
) WITHOUT ROWID;

CREATE TABLE prediction_labels (
    prediction_id  TEXT PRIMARY KEY,
    label          REAL NOT NULL,
    recorded_ms    INTEGER NOT NULL
) WITHOUT ROWID;
"#;

fn meta(store: &SqliteStore, e: rusqlite::Error) -> RegistryError {
    RegistryError::Meta(store.err(e))
}

impl SqliteStore {
    /// Sets (or with `None` clears) the challenger traffic of a slot: `(mode, version, share)`.
    /// The version must be in Staging in that slot; the actor needs the deployer role.
    pub fn set_traffic(
        &self,
        model: &str,
        slot: &str,
        split: Option<(TrafficMode, u64, f64)>,
        actor: &Actor,
        at_ms: i64,
    ) -> RegResult<Option<TrafficSplit>> {
        if !actor.role.allows(Role::Deployer) {
            return Err(RegistryError::PermissionDenied(format!(
                "changing the traffic of {model} slot {slot} needs the deployer role; {} has the {} role",
                actor.name, actor.role
            )));
        }
        self.model(model)?;
        if let Some((_, version, share)) = split {
            if !(share > 0.0 && share <= 1.0) {
                return Err(RegistryError::Invalid(format!(
                    "share {share} is not valid: give a fraction in (0, 1], e.g. 0.05 for 5 %"
                )));
            }
            self.version(model, version)?;
            let stage = self
                .stages(model, version)?
                .into_iter()
                .find(|(s, _)| s == slot)
                .map(|(_, st)| st);
            if stage != Some(Stage::Staging) {
                return Err(RegistryError::Invalid(format!(
                    "{model}@{version} is {} in slot {slot}; a challenger must be in Staging there first (`slipway models promote {model}@{version} --to staging --slot {slot}`)",
                    stage.map_or("not staged", |s| s.as_str())
                )));
            }
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        let before: Option<(String, i64, f64)> = tx
            .query_row(
                "SELECT mode, challenger, share FROM traffic_splits WHERE model = ?1 AND slot = ?2",
                params![model, slot],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        let result = match split {
            Some((mode, version, share)) => {
                tx.execute(
                    "INSERT INTO traffic_splits (model, slot, mode, challenger, share, actor, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT(model, slot) DO UPDATE SET mode = excluded.mode,
                       challenger = excluded.challenger, share = excluded.share,
                       actor = excluded.actor, updated_ms = excluded.updated_ms",
                    params![model, slot, mode.as_str(), version as i64, share, actor.name, at_ms],
                )
                .map_err(|e| meta(self, e))?;
                Some(TrafficSplit {
                    model: model.to_string(),
                    slot: slot.to_string(),
                    mode,
                    challenger: version,
                    share,
                    actor: actor.name.clone(),
                    updated_ms: at_ms,
                })
            }
            None => {
                tx.execute(
                    "DELETE FROM traffic_splits WHERE model = ?1 AND slot = ?2",
                    params![model, slot],
                )
                .map_err(|e| meta(self, e))?;
                None
            }
        };
        let payload = serde_json::json!({
            "slot": slot,
            "before": before.map(|(m, v, s)| serde_json::json!({"mode": m, "challenger": v, "share": s})),
            "after": result.as_ref().map(|t| serde_json::json!({"mode": t.mode.as_str(), "challenger": t.challenger, "share": t.share})),
        });
        let action = if result.is_some() {
            "traffic.set"
        } else {
            "traffic.clear"
        };
        self.append_audit(&tx, &actor.name, action, model, &payload, at_ms)?;
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(result)
    }

    /// Every configured split, by model and slot.
    pub fn traffic(&self) -> RegResult<Vec<TrafficSplit>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT model, slot, mode, challenger, share, actor, updated_ms FROM traffic_splits ORDER BY model, slot",
            )
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([], |r| {
                let mode: String = r.get(2)?;
                Ok(TrafficSplit {
                    model: r.get(0)?,
                    slot: r.get(1)?,
                    mode: if mode == "shadow" {
                        TrafficMode::Shadow
                    } else {
                        TrafficMode::Canary
                    },
                    challenger: r.get::<_, i64>(3)? as u64,
                    share: r.get(4)?,
                    actor: r.get(5)?,
                    updated_ms: r.get(6)?,
                })
            })
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }

    /// What the audit chain recorded after `after`: its newest sequence number, and whether
    /// any of those entries changed registry state (anything but the tracker's `run.*`
    /// events, which are the frequent ones). The gateway polls this to know when to reload;
    /// it reads only the entries past `after`.
    pub fn audit_changes_since(&self, after: u64) -> RegResult<(u64, bool)> {
        let (seq, registry): (Option<i64>, Option<i64>) = self
            .lock()
            .prepare_cached(
                "SELECT max(seq), max(action NOT LIKE 'run.%') FROM audit_log WHERE seq > ?1",
            )
            .and_then(|mut s| s.query_row([after as i64], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(|e| meta(self, e))?;
        Ok((seq.map_or(after, |s| s as u64), registry == Some(1)))
    }

    /// Records labels of predictions (`(prediction id, label)`); a later label for the same id
    /// replaces the earlier one. Returns how many were recorded.
    pub fn put_labels(&self, labels: &[(String, f64)], at_ms: i64) -> RegResult<usize> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO prediction_labels (prediction_id, label, recorded_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT(prediction_id) DO UPDATE SET label = excluded.label, recorded_ms = excluded.recorded_ms",
                )
                .map_err(|e| meta(self, e))?;
            for (id, label) in labels {
                stmt.execute(params![id, label, at_ms])
                    .map_err(|e| meta(self, e))?;
            }
        }
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(labels.len())
    }

    /// Every recorded label, by prediction id.
    pub fn labels(&self) -> RegResult<std::collections::HashMap<String, f64>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT prediction_id, label FROM prediction_labels")
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_changes_tell_registry_changes_from_tracker_run_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("m.db")).unwrap();
        assert_eq!(store.audit_changes_since(0).unwrap(), (0, false));
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
        let (seen, changed) = store.audit_changes_since(0).unwrap();
        assert!(changed && seen > 0);
        assert_eq!(
            store.audit_changes_since(seen).unwrap(),
            (seen, false),
            "nothing new"
        );
        for action in ["run.create", "run.finish"] {
            store
                .audit("ana", action, "run-1", &serde_json::json!({}), 2)
                .unwrap();
        }
        let (latest, changed) = store.audit_changes_since(seen).unwrap();
        assert_eq!(
            (latest, changed),
            (seen + 2, false),
            "run events are not registry changes"
        );
        store
            .audit("ana", "model.alias", "m", &serde_json::json!({}), 3)
            .unwrap();
        assert_eq!(
            store.audit_changes_since(latest).unwrap(),
            (latest + 1, true)
        );
    }
}

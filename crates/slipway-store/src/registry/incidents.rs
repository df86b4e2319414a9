//! The incident log: a monitor's breach opens an incident, deduplicated while it is open (a
//! repeat only counts), and not reopened within a cooldown after it was resolved. Every change
//! of an incident appends to the audit chain in the same transaction.

use super::*;
use crate::meta::SqliteStore;
use rusqlite::{OptionalExtension, params};

/// The table of this module (a migration of the metadata store).
pub const INCIDENTS: &str = r#"
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    monitor      TEXT NOT NULL,
    model        TEXT NOT NULL,
    slot         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    summary      TEXT NOT NULL,
    details      TEXT NOT NULL,
    occurrences  INTEGER NOT NULL,
    opened_ms    INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    resolved_ms  INTEGER,
    resolution   TEXT,
    notified     TEXT,
    proposal     TEXT
);
CREATE UNIQUE INDEX incidents_one_open_per_monitor ON incidents(monitor) WHERE status = 'open';
"#;

/// One incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Its number.
    pub id: i64,
    /// The monitor that raised it.
    pub monitor: String,
    /// The model watched.
    pub model: String,
    /// The slot watched.
    pub slot: String,
    /// Open or resolved.
    pub open: bool,
    /// One line: what breached.
    pub summary: String,
    /// The latest breach's numbers.
    pub details: serde_json::Value,
    /// Breaches counted while open.
    pub occurrences: u64,
    /// When it opened, ms.
    pub opened_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
    /// When resolved, ms.
    pub resolved_ms: Option<i64>,
    /// Why it was resolved.
    pub resolution: Option<String>,
    /// What the webhook answered.
    pub notified: Option<String>,
    /// The retraining proposal made for it.
    pub proposal: Option<serde_json::Value>,
}

/// What recording a breach did.
#[derive(Clone, Debug, PartialEq)]
pub enum Breach {
    /// A new incident.
    Opened(Incident),
    /// The monitor's incident was already open: counted.
    Repeated(Incident),
    /// The last incident was resolved less than the cooldown ago: nothing recorded.
    CoolingDown {
        /// The incident resolved last.
        last: Incident,
        /// When a breach may open a new incident again, ms.
        until_ms: i64,
    },
}

fn meta(store: &SqliteStore, e: rusqlite::Error) -> RegistryError {
    RegistryError::Meta(store.err(e))
}

const COLUMNS: &str = "id, monitor, model, slot, status, summary, details, occurrences, opened_ms, updated_ms, resolved_ms, resolution, notified, proposal";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Incident> {
    let details: String = r.get(6)?;
    let proposal: Option<String> = r.get(13)?;
    Ok(Incident {
        id: r.get(0)?,
        monitor: r.get(1)?,
        model: r.get(2)?,
        slot: r.get(3)?,
        open: r.get::<_, String>(4)? == "open",
        summary: r.get(5)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        occurrences: r.get::<_, i64>(7)? as u64,
        opened_ms: r.get(8)?,
        updated_ms: r.get(9)?,
        resolved_ms: r.get(10)?,
        resolution: r.get(11)?,
        notified: r.get(12)?,
        proposal: proposal.and_then(|p| serde_json::from_str(&p).ok()),
    })
}

/// What a monitor saw when it breached.
pub struct BreachReport<'a> {
    /// The monitor.
    pub monitor: &'a str,
    /// The model.
    pub model: &'a str,
    /// The slot.
    pub slot: &'a str,
    /// One line.
    pub summary: &'a str,
    /// The numbers.
    pub details: &'a serde_json::Value,
    /// How long after a resolution a new incident may open, ms.
    pub cooldown_ms: i64,
}

impl SqliteStore {
    /// Records a breach: opens an incident, counts a repeat, or stays quiet in the cooldown.
    pub fn record_breach(
        &self,
        breach: &BreachReport<'_>,
        actor: &str,
        at_ms: i64,
    ) -> RegResult<Breach> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        let open: Option<Incident> = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE monitor = ?1 AND status = 'open'"),
                [breach.monitor],
                row,
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        let details = breach.details.to_string();
        let outcome = if let Some(open) = open {
            tx.execute(
                "UPDATE incidents SET occurrences = occurrences + 1, details = ?2, summary = ?3, updated_ms = ?4 WHERE id = ?1",
                params![open.id, details, breach.summary, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            let updated = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                    [open.id],
                    row,
                )
                .map_err(|e| meta(self, e))?;
            Breach::Repeated(updated)
        } else {
            let last: Option<Incident> = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM incidents WHERE monitor = ?1 ORDER BY id DESC LIMIT 1"),
                    [breach.monitor],
                    row,
                )
                .optional()
                .map_err(|e| meta(self, e))?;
            match last {
                Some(last)
                    if last
                        .resolved_ms
                        .is_some_and(|r| at_ms < r + breach.cooldown_ms) =>
                {
                    let until_ms = last.resolved_ms.unwrap_or(at_ms) + breach.cooldown_ms;
                    Breach::CoolingDown { last, until_ms }
                }
                _ => {
                    tx.execute(
                        "INSERT INTO incidents (monitor, model, slot, status, summary, details, occurrences, opened_ms, updated_ms)
                         VALUES (?1, ?2, ?3, 'open', ?4, ?5, 1, ?6, ?6)",
                        params![breach.monitor, breach.model, breach.slot, breach.summary, details, at_ms],
                    )
                    .map_err(|e| meta(self, e))?;
                    let id = tx.last_insert_rowid();
                    self.append_audit(
                        &tx,
                        actor,
                        "incident.open",
                        breach.model,
                        &serde_json::json!({"incident": id, "monitor": breach.monitor, "slot": breach.slot, "summary": breach.summary, "details": breach.details}),
                        at_ms,
                    )?;
                    let opened = tx
                        .query_row(
                            &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                            [id],
                            row,
                        )
                        .map_err(|e| meta(self, e))?;
                    Breach::Opened(opened)
                }
            }
        };
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(outcome)
    }

    /// Resolves the monitor's open incident (the monitor is healthy again), if any.
    pub fn resolve_monitor_incident(
        &self,
        monitor: &str,
        resolution: &str,
        actor: &str,
        at_ms: i64,
    ) -> RegResult<Option<Incident>> {
        let id: Option<i64> = self
            .lock()
            .query_row(
                "SELECT id FROM incidents WHERE monitor = ?1 AND status = 'open'",
                [monitor],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| meta(self, e))?;
        match id {
            Some(id) => self
                .resolve_incident(id, resolution, actor, at_ms)
                .map(Some),
            None => Ok(None),
        }
    }

    /// Resolves an incident by number.
    pub fn resolve_incident(
        &self,
        id: i64,
        resolution: &str,
        actor: &str,
        at_ms: i64,
    ) -> RegResult<Incident> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        let incident: Incident = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(|e| meta(self, e))?
            .ok_or_else(|| {
                RegistryError::Meta(crate::meta::MetaError::NotFound {
                    what: "incident",
                    id: id.to_string(),
                })
            })?;
        if !incident.open {
            return Err(RegistryError::Invalid(format!(
                "incident {id} is already resolved ({})",
                incident.resolution.as_deref().unwrap_or("no reason given")
            )));
        }
        tx.execute(
            "UPDATE incidents SET status = 'resolved', resolved_ms = ?2, resolution = ?3, updated_ms = ?2 WHERE id = ?1",
            params![id, at_ms, resolution],
        )
        .map_err(|e| meta(self, e))?;
        self.append_audit(
            &tx,
            actor,
            "incident.resolve",
            &incident.model,
            &serde_json::json!({"incident": id, "monitor": incident.monitor, "resolution": resolution}),
            at_ms,
        )?;
        let resolved = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
                row,
            )
            .map_err(|e| meta(self, e))?;
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(resolved)
    }

    /// Records what happened after an incident opened — the webhook's answer (`notified`) or a
    /// retraining proposal (`proposal`) — with its audit entry.
    pub fn note_incident(
        &self,
        id: i64,
        notified: Option<&str>,
        proposal: Option<&serde_json::Value>,
        actor: &str,
        at_ms: i64,
    ) -> RegResult<()> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| meta(self, e))?;
        let model: String = tx
            .query_row("SELECT model FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|e| meta(self, e))?;
        if let Some(n) = notified {
            tx.execute(
                "UPDATE incidents SET notified = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, n, at_ms],
            )
            .map_err(|e| meta(self, e))?;
            self.append_audit(
                &tx,
                actor,
                "incident.notify",
                &model,
                &serde_json::json!({"incident": id, "webhook": n}),
                at_ms,
            )?;
        }
        if let Some(p) = proposal {
            tx.execute(
                "UPDATE incidents SET proposal = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, p.to_string(), at_ms],
            )
            .map_err(|e| meta(self, e))?;
            self.append_audit(
                &tx,
                actor,
                "incident.propose",
                &model,
                &serde_json::json!({"incident": id, "proposal": p}),
                at_ms,
            )?;
        }
        tx.commit().map_err(|e| meta(self, e))?;
        Ok(())
    }

    /// Incidents, newest first (only open ones with `open_only`).
    pub fn incidents(&self, open_only: bool) -> RegResult<Vec<Incident>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM incidents WHERE (?1 = 0 OR status = 'open') ORDER BY id DESC"
            ))
            .map_err(|e| meta(self, e))?;
        let rows = stmt
            .query_map([open_only as i64], row)
            .map_err(|e| meta(self, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| meta(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breach<'a>(details: &'a serde_json::Value) -> BreachReport<'a> {
        BreachReport {
            monitor: "drift",
            model: "credit",
            slot: "default",
            summary: "PSI 0.4 on income",
            details,
            cooldown_ms: 1_000,
        }
    }

    #[test]
    fn breaches_dedupe_while_open_and_respect_the_cooldown_after_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("m.db")).unwrap();
        let d = serde_json::json!({"psi": 0.4});
        let Breach::Opened(first) = store.record_breach(&breach(&d), "monitor", 10).unwrap() else {
            panic!("the first breach opens an incident")
        };
        let Breach::Repeated(again) = store.record_breach(&breach(&d), "monitor", 20).unwrap()
        else {
            panic!("a breach while open is counted, not reopened")
        };
        assert_eq!(again.id, first.id);
        assert_eq!(again.occurrences, 2);
        assert_eq!(store.incidents(true).unwrap().len(), 1);
        store
            .resolve_monitor_incident("drift", "healthy again", "monitor", 100)
            .unwrap()
            .unwrap();
        assert!(matches!(
            store.record_breach(&breach(&d), "monitor", 600).unwrap(),
            Breach::CoolingDown {
                until_ms: 1_100,
                ..
            }
        ));
        assert!(store.incidents(true).unwrap().is_empty());
        let Breach::Opened(second) = store.record_breach(&breach(&d), "monitor", 1_100).unwrap()
        else {
            panic!("after the cooldown a breach opens a new incident")
        };
        assert_ne!(second.id, first.id);
        store
            .note_incident(
                second.id,
                Some("200"),
                Some(&serde_json::json!({"version": 3})),
                "monitor",
                1_200,
            )
            .unwrap();
        let listed = store.incidents(false).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].notified.as_deref(), Some("200"));
        assert_eq!(listed[0].proposal, Some(serde_json::json!({"version": 3})));
        let actions: Vec<String> = store
            .audit_log(0, 100)
            .unwrap()
            .into_iter()
            .map(|r| r.sealed.entry.action)
            .collect();
        assert_eq!(
            actions,
            [
                "incident.open",
                "incident.resolve",
                "incident.open",
                "incident.notify",
                "incident.propose"
            ]
        );
        assert!(store.audit_verify().unwrap().is_ok());
        assert!(
            store
                .resolve_incident(first.id, "again", "x", 2_000)
                .is_err()
        );
    }
}

//! `slipway audit log|verify`.

use super::Context;
use crate::Outcome;
use crate::cli::{AuditCommand, AuditLogArgs};
use crate::output::{print_json, print_line, table};
use anyhow::Result;
use slipway_core::timefmt::utc;
use slipway_store::registry::RegistryStore;

pub fn run(ctx: &Context, cmd: AuditCommand) -> Result<Outcome> {
    match cmd {
        AuditCommand::Log(args) => log(ctx, args),
        AuditCommand::Verify => verify(ctx),
    }
}

fn log(ctx: &Context, args: AuditLogArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let rows = ws.meta().audit_log(args.after, args.limit)?;
    if ctx.json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                let e = &r.sealed.entry;
                serde_json::json!({"seq": e.seq, "time_ms": e.time_ms, "actor": e.actor, "action": e.action,
                    "subject": e.subject, "payload_digest": e.payload, "hash": r.sealed.hash, "payload": r.payload})
            })
            .collect();
        print_json(&serde_json::json!(items))?;
        return Ok(Outcome::Ok);
    }
    let mut t = table(&["seq", "time", "actor", "action", "subject", "hash"]);
    for r in &rows {
        let e = &r.sealed.entry;
        t.add_row(vec![
            e.seq.to_string(),
            utc(e.time_ms),
            e.actor.clone(),
            e.action.clone(),
            e.subject.clone(),
            r.sealed.hash.short(12),
        ]);
    }
    print_line(t)?;
    Ok(Outcome::Ok)
}

fn verify(ctx: &Context) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let result = ws.meta().audit_verify()?;
    let head = ws.meta().audit_head();
    // The head file beside the database anchors the chain's newest entry: if the database no
    // longer reaches it (or holds a different entry there), its tail was deleted or rewritten.
    let head_problem = match (&result, head) {
        (Ok(last), Some((head_seq, head_hash))) => {
            if *last < head_seq {
                Some((
                    head_seq,
                    format!(
                        "the chain ends at entry {last} but entry {head_seq} was recorded; the newest entries were deleted"
                    ),
                ))
            } else {
                let at = ws.meta().audit_log(head_seq - 1, 1)?;
                match at.first() {
                    Some(row) if row.sealed.hash == head_hash => None,
                    _ => Some((
                        head_seq,
                        format!(
                            "entry {head_seq} differs from the one recorded; the chain was rewritten from there"
                        ),
                    )),
                }
            }
        }
        _ => None,
    };
    let (ok, first_bad, why, count) = match (&result, &head_problem) {
        (Err(brk), _) => (false, Some(brk.seq), brk.why.to_string(), None),
        (Ok(_), Some((seq, why))) => (false, Some(*seq), why.clone(), None),
        (Ok(last), None) => (true, None, String::new(), Some(*last)),
    };
    if ctx.json {
        print_json(
            &serde_json::json!({"ok": ok, "entries": count, "first_bad_entry": first_bad, "why": (!ok).then_some(why)}),
        )?;
    } else if ok {
        print_line(format_args!(
            "Audit chain intact: {} entries verified.",
            count.unwrap_or(0)
        ))?;
    } else {
        print_line(format_args!(
            "Audit chain BROKEN at entry {}: {why}",
            first_bad.unwrap_or(0)
        ))?;
    }
    Ok(if ok { Outcome::Ok } else { Outcome::No })
}

//! `slipway gc`.

use super::Context;
use crate::Outcome;
use crate::cli::GcArgs;
use crate::output::{bytes, print_json, print_line};
use anyhow::Result;

pub fn run(ctx: &Context, args: GcArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let report = slipway_store::gc::collect(&ws, args.dry_run, args.grace)?;
    if ctx.json {
        print_json(&serde_json::json!({
            "dry_run": report.dry_run,
            "kept": report.kept,
            "kept_recent": report.kept_recent,
            "deleted": report.deleted.iter().map(|(d, size)| serde_json::json!({"digest": d, "size": size})).collect::<Vec<_>>(),
            "bytes_freed": report.bytes_freed(),
            "temp_files": report.temp_files,
        }))?;
        return Ok(Outcome::Ok);
    }
    let verb = if report.dry_run {
        "Would delete"
    } else {
        "Deleted"
    };
    for (digest, size) in &report.deleted {
        if report.dry_run {
            print_line(format_args!("{digest}  {}", bytes(*size)))?;
        }
    }
    print_line(format_args!(
        "{verb} {} unreferenced object(s), {}; kept {} referenced and {} younger than the grace period{}",
        report.deleted.len(),
        bytes(report.bytes_freed()),
        report.kept,
        report.kept_recent,
        if report.temp_files > 0 {
            format!("; {} leftover temp file(s)", report.temp_files)
        } else {
            String::new()
        }
    ))?;
    Ok(Outcome::Ok)
}

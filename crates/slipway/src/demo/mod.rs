//! `slipway demo`: the bundled example, run end to end with nothing but the binary.
//!
//! Today it exercises what exists: it creates a project with a deterministic synthetic
//! credit-risk dataset, stores it content-addressed, shows deduplication and the stat cache,
//! verifies the store and dry-runs gc. Each later part of Slipway extends this walk-through.

pub mod data;

use crate::Outcome;
use crate::cli::DemoArgs;
use crate::commands::Context;
use crate::output::bytes;
use anyhow::{Context as _, Result};
use slipway_core::ArtifactKind;
use slipway_store::meta::MetadataStore;
use slipway_store::objects::ObjectStore;
use slipway_store::{TreeHasher, Workspace};
use std::fs;
use std::time::Instant;

/// Rows of the training population generated for the example.
pub const TRAINING_ROWS: usize = 20_000;

pub fn run(ctx: &Context, args: DemoArgs) -> Result<Outcome> {
    let say = |line: String| ctx.messages.say(line);
    let root = &args.dir;
    fs::create_dir_all(root.join("data/raw"))
        .with_context(|| format!("cannot create {}", root.display()))?;
    let (ws, created) = Workspace::init(root)?;
    say(format!(
        "1. {} project in {}",
        if created { "Created" } else { "Reusing" },
        ws.root().display()
    ));

    let raw = root.join("data/raw/applications.csv");
    fs::write(&raw, data::credit_risk_csv(TRAINING_ROWS, 42, 0.0))?;
    let reference = root.join("data/raw/reference.csv");
    fs::write(
        &reference,
        data::credit_risk_csv(TRAINING_ROWS / 4, 4242, 0.0),
    )?;
    say(format!(
        "2. Generated {TRAINING_ROWS} synthetic credit applications (seed 42) in data/raw/ — deterministic, nothing downloaded"
    ));

    let started = Instant::now();
    let stored = ws.store_path(
        &root.join("data/raw"),
        Some(ArtifactKind::Dataset),
        slipway_store::now_ms(),
    )?;
    ws.meta().set_ref(
        "demo/raw-data",
        &stored.artifact.digest,
        slipway_store::now_ms(),
    )?;
    say(format!(
        "3. Stored data/raw as dataset {} ({} files, {}) in {:.0?}; named `demo/raw-data`",
        stored.artifact.digest.short(12),
        stored.files,
        bytes(stored.artifact.size),
        started.elapsed()
    ));

    let again = ws.store_path(
        &root.join("data/raw"),
        Some(ArtifactKind::Dataset),
        slipway_store::now_ms(),
    )?;
    say(format!(
        "4. Stored it again: same digest ({}), {} new objects — content addressing deduplicates",
        if again.artifact.digest == stored.artifact.digest {
            "yes"
        } else {
            "NO"
        },
        again.new_objects
    ));

    let hasher = TreeHasher::new(ws.meta());
    hasher.hash(&root.join("data/raw"))?;
    say(format!(
        "5. Re-hashed data/raw: {} file(s) read, {} answered by the stat cache (files written in the last second are always re-read)",
        hasher.stats().files_read(),
        hasher.stats().files_cached()
    ));

    let digests: Vec<_> = ws.objects().list()?.into_iter().map(|o| o.digest).collect();
    let failures = ws.verify_objects(&digests, &|| {});
    say(format!(
        "6. Verified {} object(s): {}",
        digests.len(),
        if failures.is_empty() {
            "all intact".to_string()
        } else {
            format!("{} corrupt", failures.len())
        }
    ));

    let gc = slipway_store::gc::collect(&ws, true, std::time::Duration::ZERO)?;
    say(format!(
        "7. gc --dry-run: {} referenced object(s) kept, {} unreferenced",
        gc.kept,
        gc.deleted.len()
    ));
    say(format!(
        "Explore: cd {} && slipway artifacts ls && slipway artifacts get demo/raw-data -o /tmp/raw",
        root.display()
    ));
    if ctx.json {
        crate::output::print_json(&serde_json::json!({
            "root": ws.root().display().to_string(),
            "dataset": stored.artifact.digest,
            "objects": digests.len(),
            "corrupt": failures.len(),
        }))?;
    }
    Ok(if failures.is_empty() {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

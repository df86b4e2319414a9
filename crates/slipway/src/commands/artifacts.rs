//! `slipway artifacts put|get|ls|verify|hash`.

use super::Context;
use crate::Outcome;
use crate::cli::{ArtifactsCommand, GetArgs, HashArgs, PutArgs, VerifyArgs};
use crate::output::{bytes, print_json, print_line, table};
use crate::progress::Progress;
use anyhow::{Context as _, Result, bail};
use slipway_core::{ArtifactKind, Digest};
use slipway_store::meta::MetadataStore;
use slipway_store::objects::ObjectStore;
use slipway_store::{HashedPath, TreeHasher};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub fn run(ctx: &Context, cmd: ArtifactsCommand) -> Result<Outcome> {
    match cmd {
        ArtifactsCommand::Put(args) => put(ctx, args),
        ArtifactsCommand::Get(args) => get(ctx, args),
        ArtifactsCommand::Ls => ls(ctx),
        ArtifactsCommand::Verify(args) => verify(ctx, args),
        ArtifactsCommand::Hash(args) => hash(ctx, args),
    }
}

fn put(ctx: &Context, args: PutArgs) -> Result<Outcome> {
    let kind = args
        .kind
        .as_deref()
        .map(str::parse::<ArtifactKind>)
        .transpose()?;
    if args.name.is_some() && args.paths.len() != 1 {
        bail!(
            "--name names one artifact; give exactly one path (got {})",
            args.paths.len()
        );
    }
    let ws = ctx.workspace()?;
    let mut results = Vec::new();
    for path in &args.paths {
        let stored = if path.as_os_str() == "-" {
            store_stdin(&ws, kind)?
        } else {
            let progress = Mutex::new(Progress::bytes(
                &format!("storing {}", path.display()),
                ctx.progress,
            ));
            let stored = ws
                .store_path_observed(path, kind, slipway_store::now_ms(), &|n| {
                    progress.lock().expect("progress lock").inc(n)
                })
                .with_context(|| format!("cannot store {}", path.display()))?;
            progress.into_inner().expect("progress lock").finish();
            stored
        };
        if let Some(name) = &args.name {
            ws.meta()
                .set_ref(name, &stored.artifact.digest, slipway_store::now_ms())?;
        }
        results.push((path, stored));
    }
    if ctx.json {
        let items: Vec<_> = results
            .iter()
            .map(|(path, s)| {
                serde_json::json!({
                    "path": path.display().to_string(),
                    "digest": s.artifact.digest,
                    "size": s.artifact.size,
                    "kind": s.artifact.kind,
                    "files": s.files,
                    "new_objects": s.new_objects,
                    "new_bytes": s.new_bytes,
                })
            })
            .collect();
        print_json(&serde_json::json!(items))?;
    } else {
        for (path, s) in &results {
            print_line(format_args!("{}  {}", s.artifact.digest, path.display()))?;
            ctx.messages.say(format_args!(
                "  {} {}, {} file(s), {} new object(s) ({})",
                s.artifact.kind,
                bytes(s.artifact.size),
                s.files,
                s.new_objects,
                bytes(s.new_bytes)
            ));
        }
    }
    Ok(Outcome::Ok)
}

/// Streams stdin into the store (bounded memory) and records it as an artifact.
fn store_stdin(
    ws: &slipway_store::Workspace,
    kind: Option<ArtifactKind>,
) -> Result<slipway_store::workspace::Stored> {
    let put = ws.objects().put_reader(&mut std::io::stdin().lock())?;
    let artifact = slipway_core::ArtifactRef {
        digest: put.digest,
        size: put.size,
        kind: kind.unwrap_or(ArtifactKind::File),
        media_type: None,
    };
    ws.meta()
        .put_artifact(&slipway_store::meta::ArtifactRecord {
            artifact: artifact.clone(),
            created_ms: slipway_store::now_ms(),
            source: Some("<stdin>".into()),
        })?;
    Ok(slipway_store::workspace::Stored {
        artifact,
        files: 1,
        new_objects: usize::from(put.newly_stored),
        new_bytes: if put.newly_stored { put.size } else { 0 },
    })
}

fn get(ctx: &Context, args: GetArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let digest = ws.resolve(&args.target)?;
    match &args.output {
        Some(dest) => {
            if dest.exists() && !args.force {
                bail!(
                    "{} already exists; pass --force to replace it",
                    dest.display()
                );
            }
            let files = ws.restore(&digest, dest)?;
            if ctx.json {
                print_json(
                    &serde_json::json!({"digest": digest, "path": dest.display().to_string(), "files": files}),
                )?;
            } else {
                ctx.messages.say(format_args!(
                    "Restored {} ({files} file(s)) to {}",
                    digest.short(12),
                    dest.display()
                ));
            }
        }
        None => {
            if ws.is_manifest(&digest)? {
                bail!("{digest} is a directory; give -o PATH to restore it");
            }
            let mut out = std::io::stdout().lock();
            ws.objects().copy_to_writer(&digest, &mut out)?;
        }
    }
    Ok(Outcome::Ok)
}

fn ls(ctx: &Context) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let records = ws.meta().artifacts()?;
    let refs = ws.meta().refs()?;
    let mut names: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for (name, digest) in &refs {
        names.entry(*digest).or_default().push(name.clone());
    }
    if ctx.json {
        let items: Vec<_> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "digest": r.artifact.digest,
                    "size": r.artifact.size,
                    "kind": r.artifact.kind,
                    "source": r.source,
                    "created_ms": r.created_ms,
                    "refs": names.get(&r.artifact.digest).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let refs: Vec<_> = refs
            .iter()
            .map(|(n, d)| serde_json::json!({"name": n, "digest": d}))
            .collect();
        print_json(&serde_json::json!({"artifacts": items, "refs": refs}))?;
        return Ok(Outcome::Ok);
    }
    let mut t = table(&["digest", "kind", "size", "refs", "source"]);
    for r in &records {
        t.add_row(vec![
            r.artifact.digest.short(16),
            r.artifact.kind.to_string(),
            bytes(r.artifact.size),
            names
                .get(&r.artifact.digest)
                .map(|n| n.join(", "))
                .unwrap_or_default(),
            r.source.clone().unwrap_or_default(),
        ]);
    }
    print_line(t)?;
    let objects = ws.objects().list()?;
    ctx.messages.say(format_args!(
        "{} artifact(s) recorded; {} object(s) in the store, {}",
        records.len(),
        objects.len(),
        bytes(objects.iter().map(|o| o.size).sum())
    ));
    Ok(Outcome::Ok)
}

fn verify(ctx: &Context, args: VerifyArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let digests: Vec<Digest> = if args.targets.is_empty() {
        ws.objects().list()?.into_iter().map(|o| o.digest).collect()
    } else {
        args.targets
            .iter()
            .map(|t| ws.resolve(t))
            .collect::<Result<_, _>>()?
    };
    let progress = Mutex::new(Progress::new(
        digests.len() as u64,
        "verifying",
        ctx.progress,
    ));
    let failures = ws.verify_objects(&digests, &|| progress.lock().expect("progress lock").inc(1));
    progress.into_inner().expect("progress lock").finish();
    let metadata = ws.meta().integrity_check();
    if ctx.json {
        let items: Vec<_> = failures
            .iter()
            .map(|(d, e)| serde_json::json!({"digest": d, "error": e.to_string()}))
            .collect();
        print_json(&serde_json::json!({
            "checked": digests.len(),
            "failures": items,
            "metadata_ok": metadata.is_ok(),
            "ok": failures.is_empty() && metadata.is_ok(),
        }))?;
    } else {
        for (digest, error) in &failures {
            let what = match error {
                slipway_store::StoreError::Missing(_) => "missing".to_string(),
                slipway_store::StoreError::Corrupt { actual, .. } => {
                    format!("corrupt (bytes hash to {})", actual.short(12))
                }
                other => other.to_string(),
            };
            print_line(format_args!("{digest}  {what}"))?;
        }
        if let Err(e) = &metadata {
            print_line(format_args!("metadata: {e}"))?;
        }
        ctx.messages.say(format_args!(
            "Checked {} object(s): {} corrupt or missing; metadata {}",
            digests.len(),
            failures.len(),
            if metadata.is_ok() { "ok" } else { "damaged" }
        ));
    }
    Ok(if failures.is_empty() && metadata.is_ok() {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

fn hash(ctx: &Context, args: HashArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let progress = Mutex::new(Progress::bytes("hashing", ctx.progress));
    let report = |n| progress.lock().expect("progress lock").inc(n);
    let hasher = TreeHasher::new(ws.meta()).with_progress(&report);
    let mut items = Vec::new();
    for path in &args.paths {
        let hashed = hasher
            .hash(path)
            .with_context(|| format!("cannot hash {}", path.display()))?;
        let (kind, files) = match &hashed {
            HashedPath::File { .. } => ("file", 1),
            HashedPath::Directory { manifest, .. } => ("directory", manifest.entries().len()),
        };
        items.push((path, hashed.digest(), hashed.size(), kind, files));
    }
    if ctx.json {
        let json: Vec<_> = items
            .iter()
            .map(|(p, d, size, kind, files)| {
                serde_json::json!({"path": p.display().to_string(), "digest": d, "size": size, "kind": kind, "files": files})
            })
            .collect();
        print_json(&serde_json::json!(json))?;
    } else {
        for (p, d, ..) in &items {
            print_line(format_args!("{d}  {}", p.display()))?;
        }
    }
    let stats = hasher.stats();
    if let Ok(bar) = progress.lock() {
        bar.bar_clear();
    }
    tracing::info!(
        files_read = stats.files_read(),
        bytes_read = stats.bytes_read(),
        files_cached = stats.files_cached(),
        "hashing finished"
    );
    Ok(Outcome::Ok)
}

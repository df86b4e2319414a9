//! The route table: which loaded model answers each live (model, slot), and which challenger
//! gets a canary share or shadow copies. A table is immutable; the reloader builds a new one
//! beside the serving one (loading new versions first) and swaps it in, so requests in flight
//! finish on the models they started with and no request ever sees a half-loaded slot.

use super::latency::LatencyHistogram;
use slipway_core::Digest;
use slipway_core::registry::Stage;
use slipway_serve::Model;
use slipway_store::predlog::Stream;
use slipway_store::registry::{RegistryStore, TrafficMode};
use slipway_store::{SqliteStore, Workspace};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A version loaded for one slot.
pub struct Loaded {
    /// The model's name.
    pub model: String,
    /// The version.
    pub version: u64,
    /// Its artifact.
    pub artifact: Digest,
    /// The runtime (shared between slots serving the same artifact).
    pub runtime: Arc<dyn Model>,
    /// How its predictions are declared in the prediction log.
    pub stream: Arc<Stream>,
    /// Its latency histogram (shared by every slot serving this version).
    pub latency: Arc<LatencyHistogram>,
}

/// A slot's challenger.
pub struct Challenger {
    /// Canary or shadow.
    pub mode: TrafficMode,
    /// The fraction of requests routed or mirrored.
    pub share: f64,
    /// The challenger's model.
    pub target: Arc<Loaded>,
}

/// What a live slot answers with.
pub struct SlotRoute {
    /// The Production version.
    pub champion: Arc<Loaded>,
    /// The challenger, if traffic is configured and the challenger is in Staging.
    pub challenger: Option<Challenger>,
}

/// Every live slot, by model then slot.
#[derive(Default)]
pub struct RouteTable {
    /// model → slot → route.
    pub models: HashMap<String, HashMap<String, SlotRoute>>,
    /// model → alias → the version it points at (served at `/v1/models/{m}/aliases/{a}:predict`).
    pub aliases: HashMap<String, HashMap<String, Arc<Loaded>>>,
    /// Versions that are live but could not be loaded (the previous version keeps serving).
    pub errors: Vec<String>,
}

impl RouteTable {
    /// The route of a slot.
    pub fn get(&self, model: &str, slot: &str) -> Option<&SlotRoute> {
        self.models.get(model)?.get(slot)
    }

    /// The version an alias points at.
    pub fn alias(&self, model: &str, alias: &str) -> Option<&Arc<Loaded>> {
        self.aliases.get(model)?.get(alias)
    }

    /// The live slots of a model, for error messages.
    pub fn slots_of(&self, model: &str) -> Vec<String> {
        let mut slots: Vec<String> = self
            .models
            .get(model)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        slots.sort();
        slots
    }
}

/// Latency histograms by (model, version).
pub type Histograms = Arc<Mutex<HashMap<(String, u64), Arc<LatencyHistogram>>>>;

/// Restores artifacts into the gateway's cache directory and loads them, once per digest.
pub struct Loader {
    workspace: Arc<Workspace>,
    dir: PathBuf,
    runtimes: HashMap<Digest, Arc<dyn Model>>,
    /// Latency histograms by (model, version): kept across reloads so a version's numbers
    /// survive a swap (and a rollback to it).
    pub latency: Histograms,
}

impl Loader {
    /// A loader caching under `<workspace>/.slipway/gateway/`.
    pub fn new(workspace: Arc<Workspace>) -> Loader {
        let dir = workspace.dir().join("gateway");
        Loader {
            workspace,
            dir,
            runtimes: HashMap::new(),
            latency: Arc::default(),
        }
    }

    fn runtime(&mut self, digest: &Digest) -> Result<Arc<dyn Model>, String> {
        if let Some(r) = self.runtimes.get(digest) {
            return Ok(Arc::clone(r));
        }
        let file = self.materialize(digest)?;
        let model: Arc<dyn Model> = Arc::from(
            slipway_serve::load(&file)
                .map_err(|e| format!("artifact {}: {e}", digest.short(12)))?,
        );
        self.runtimes.insert(*digest, Arc::clone(&model));
        Ok(model)
    }

    /// The model file of an artifact, restored (verified) into the cache once.
    fn materialize(&self, digest: &Digest) -> Result<PathBuf, String> {
        let done = self.dir.join(digest.to_hex());
        if let Some(file) = find_model(&done) {
            return Ok(file);
        }
        let tmp = self
            .dir
            .join(format!("{}.tmp-{}", digest.to_hex(), std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        self.workspace
            .restore(digest, &tmp.join("artifact"))
            .map_err(|e| format!("artifact {} cannot be restored: {e}", digest.short(12)))?;
        slipway_serve::model_file(&tmp.join("artifact")).ok_or_else(|| {
            format!(
                "artifact {} holds no model file (.json or .onnx)",
                digest.short(12)
            )
        })?;
        let _ = std::fs::remove_dir_all(&done);
        std::fs::rename(&tmp, &done).map_err(|e| format!("{}: {e}", done.display()))?;
        find_model(&done).ok_or_else(|| format!("{}: no model file", done.display()))
    }

    fn histogram(&self, model: &str, version: u64) -> Arc<LatencyHistogram> {
        let mut map = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry((model.to_string(), version)).or_default())
    }

    fn load(
        &mut self,
        model: &str,
        slot: &str,
        version: u64,
        artifact: Digest,
        old: Option<&Arc<Loaded>>,
    ) -> Result<Arc<Loaded>, String> {
        if let Some(old) = old
            && old.version == version
            && old.artifact == artifact
        {
            return Ok(Arc::clone(old));
        }
        let runtime = self
            .runtime(&artifact)
            .map_err(|e| format!("{model}@{version} (slot {slot}): {e}"))?;
        let features = runtime
            .signature()
            .inputs
            .iter()
            .map(|f| f.name.clone())
            .collect();
        Ok(Arc::new(Loaded {
            model: model.to_string(),
            version,
            artifact,
            stream: Arc::new(Stream {
                model: model.to_string(),
                slot: slot.to_string(),
                version,
                features: Arc::new(features),
            }),
            latency: self.histogram(model, version),
            runtime,
        }))
    }
}

/// In a cache entry: the bare file restored and renamed (`artifact.json` / `artifact.onnx`), or
/// the model file inside a restored directory.
fn find_model(done: &Path) -> Option<PathBuf> {
    for name in ["artifact.json", "artifact.onnx"] {
        let file = done.join(name);
        if file.is_file() {
            return Some(file);
        }
    }
    let dir = done.join("artifact");
    dir.is_dir()
        .then(|| slipway_serve::model_file(&dir))
        .flatten()
}

/// Builds the table the registry asks for now, reusing what `old` already has loaded.
pub fn build(
    store: &SqliteStore,
    loader: &mut Loader,
    old: &RouteTable,
) -> Result<RouteTable, String> {
    let live = store.live_all().map_err(|e| e.to_string())?;
    let traffic = store.traffic().map_err(|e| e.to_string())?;
    let mut table = RouteTable::default();
    for (model, slot, version) in live {
        let previous = old.get(&model, &slot);
        let loaded = loader.load(
            &model,
            &slot,
            version.number(),
            version.version.artifact,
            previous.map(|p| &p.champion),
        );
        let champion = match loaded {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "Cannot load a live version; the slot keeps its previous version.");
                table.errors.push(e);
                match previous {
                    Some(p) => Arc::clone(&p.champion),
                    None => continue,
                }
            }
        };
        let mut challenger = None;
        if let Some(split) = traffic.iter().find(|t| t.model == model && t.slot == slot)
            && split.challenger != champion.version
        {
            let staged = store
                .stages(&model, split.challenger)
                .map_err(|e| e.to_string())?
                .into_iter()
                .any(|(s, st)| s == slot && st == Stage::Staging);
            if staged {
                let old_target = previous
                    .and_then(|p| p.challenger.as_ref())
                    .map(|c| &c.target);
                let record = store
                    .version(&model, split.challenger)
                    .map_err(|e| e.to_string())?;
                match loader.load(
                    &model,
                    &slot,
                    split.challenger,
                    record.version.artifact,
                    old_target,
                ) {
                    Ok(target) => {
                        challenger = Some(Challenger {
                            mode: split.mode,
                            share: split.share,
                            target,
                        })
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Cannot load a challenger; the slot serves its champion only.");
                        table.errors.push(e);
                    }
                }
            }
        }
        table.models.entry(model).or_default().insert(
            slot,
            SlotRoute {
                champion,
                challenger,
            },
        );
    }
    // Aliases (MLflow's `models:/name@champion`): each is served as its own stream, slot
    // `@alias`, so an alias move swaps what its URL answers with.
    for model in store.models().map_err(|e| e.to_string())? {
        for (alias, version) in &model.aliases {
            let slot = format!("@{alias}");
            let previous = old.alias(&model.name, alias);
            let record = store
                .version(&model.name, *version)
                .map_err(|e| e.to_string())?;
            match loader.load(
                &model.name,
                &slot,
                *version,
                record.version.artifact,
                previous,
            ) {
                Ok(loaded) => {
                    table
                        .aliases
                        .entry(model.name.clone())
                        .or_default()
                        .insert(alias.clone(), loaded);
                }
                Err(e) => {
                    tracing::error!(error = %e, "Cannot load an aliased version; the alias keeps its previous one.");
                    table.errors.push(e);
                    if let Some(p) = previous {
                        table
                            .aliases
                            .entry(model.name.clone())
                            .or_default()
                            .insert(alias.clone(), Arc::clone(p));
                    }
                }
            }
        }
    }
    Ok(table)
}

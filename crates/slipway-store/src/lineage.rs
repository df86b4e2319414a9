//! Lineage: from a model version, run or artifact back to the data and code it came from, and
//! forward from a dataset or file to every run, model version and live slot downstream of it.
//!
//! The graph is (artifact)-[consumed by]->(run)-[produced]->(artifact), model version -> run
//! and artifact, live slot -> model version. A cache restore produces no new run, so the first
//! run that produced a digest is the one lineage leads to.

use crate::meta::MetadataStore;
use crate::registry::{RegResult, RegistryStore, VersionRecord};
use serde::Serialize;
use slipway_core::Digest;
use slipway_core::tracking::IoRole;
use std::collections::BTreeSet;

/// One node of a lineage tree, with the nodes it leads to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineageNode {
    /// `model_version`, `run`, `artifact`, `slot` or `prediction`.
    pub kind: &'static str,
    /// A stable id: `credit-risk@2`, a run id, a digest, `credit-risk/default`.
    pub id: String,
    /// One line for people.
    pub label: String,
    /// Extra facts (params, metrics, commit, path, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// What this node came from (backward) or led to (forward).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<LineageNode>,
    /// Already shown elsewhere in the tree (its children are not repeated).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
}

impl LineageNode {
    fn new(kind: &'static str, id: String, label: String) -> LineageNode {
        LineageNode {
            kind,
            id,
            label,
            details: Vec::new(),
            children: Vec::new(),
            repeated: false,
        }
    }

    /// Every (parent id, child id) edge of the tree.
    pub fn edges(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_edges(&mut out);
        out
    }

    fn collect_edges(&self, out: &mut Vec<(String, String)>) {
        for child in &self.children {
            out.push((self.id.clone(), child.id.clone()));
            child.collect_edges(out);
        }
    }

    /// Every node of the tree (each id once).
    pub fn nodes(&self) -> Vec<&LineageNode> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        self.collect_nodes(&mut seen, &mut out);
        out
    }

    fn collect_nodes<'a>(&'a self, seen: &mut BTreeSet<String>, out: &mut Vec<&'a LineageNode>) {
        if seen.insert(self.id.clone()) {
            out.push(self);
        }
        for c in &self.children {
            c.collect_nodes(seen, out);
        }
    }
}

/// What lineage can start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineageTarget {
    /// A registered model version.
    ModelVersion(String, u64),
    /// A tracker run.
    Run(String),
    /// An artifact's digest (with the path it was given as, if any).
    Artifact(Digest, Option<String>),
}

/// Errors of lineage queries.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// From the metadata store.
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
    /// From the registry.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
}

/// Walks the stores; `S` is any backend implementing both interfaces.
pub struct Lineage<'a, S: MetadataStore + RegistryStore> {
    store: &'a S,
}

const MAX_DEPTH: usize = 64;

impl<'a, S: MetadataStore + RegistryStore> Lineage<'a, S> {
    /// Lineage over `store`.
    pub fn new(store: &'a S) -> Lineage<'a, S> {
        Lineage { store }
    }

    /// Backward lineage: where the target came from, down to raw data and code.
    pub fn backward(&self, target: &LineageTarget) -> Result<LineageNode, LineageError> {
        let mut seen = BTreeSet::new();
        match target {
            LineageTarget::ModelVersion(model, version) => {
                let record = self.store.version(model, *version)?;
                Ok(self.version_node(&record, &mut seen, 0)?)
            }
            LineageTarget::Run(id) => Ok(self.run_node(id, &mut seen, 0)?),
            LineageTarget::Artifact(digest, path) => {
                Ok(self.artifact_node(digest, path.as_deref(), &mut seen, 0)?)
            }
        }
    }

    /// Lineage of one logged prediction: the prediction (inputs, output, route, label when
    /// known) → the version that answered (slot, who promoted it, on what evidence) → its run,
    /// data and code.
    pub fn prediction(
        &self,
        record: &crate::predlog::PredictionRecord,
        label: Option<f64>,
    ) -> Result<LineageNode, LineageError> {
        let mut node = LineageNode::new(
            "prediction",
            record.id.to_string(),
            format!(
                "prediction {} at {}: {} from {}@{} in slot {} ({}, {:.3} ms)",
                record.id,
                slipway_core::timefmt::utc(record.time_ms()),
                record.output,
                record.model,
                record.version,
                record.slot,
                record.route.as_str(),
                f64::from(record.latency_us) / 1000.0
            ),
        );
        node.details.push(format!(
            "inputs: {}",
            record
                .features
                .iter()
                .zip(&record.inputs)
                .map(|(f, v)| format!("{f}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(label) = label {
            node.details.push(format!("label: {label}"));
        }
        let version = self.store.version(&record.model, record.version)?;
        let mut seen = BTreeSet::new();
        node.children
            .push(self.version_node(&version, &mut seen, 1)?);
        Ok(node)
    }

    fn version_node(
        &self,
        v: &VersionRecord,
        seen: &mut BTreeSet<String>,
        depth: usize,
    ) -> Result<LineageNode, LineageError> {
        let id = format!("{}@{}", v.model, v.number());
        let mut node = LineageNode::new(
            "model_version",
            id.clone(),
            format!("model {id} (artifact {})", v.version.artifact.short(12)),
        );
        let stages = self.store.stages(&v.model, v.number())?;
        if !stages.is_empty() {
            node.details.push(format!(
                "stages: {}",
                stages
                    .iter()
                    .map(|(slot, st)| format!("{st} in {slot}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for row in self.store.history(&v.model, None)? {
            let r = &row.record;
            if r.version == Some(v.number()) && (r.action == "promote" || r.action == "rollback") {
                let mut evidence = Vec::new();
                if let Some(g) = r.gate_decision {
                    evidence.push(format!("gate decision {}", g.short(12)));
                }
                if !r.approvers.is_empty() {
                    evidence.push(format!("approved by {}", r.approvers.join(", ")));
                }
                node.details.push(format!(
                    "{} to {} by {} at {}{}",
                    r.action,
                    r.slot,
                    r.actor,
                    slipway_core::timefmt::utc(r.time_ms),
                    if evidence.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", evidence.join("; "))
                    }
                ));
            }
        }
        if !seen.insert(id) {
            node.repeated = true;
            return Ok(node);
        }
        if let Some(run) = &v.run_id {
            node.children.push(self.run_node(run, seen, depth + 1)?);
        } else {
            node.children.push(self.artifact_node(
                &v.version.artifact,
                v.source.as_deref(),
                seen,
                depth + 1,
            )?);
        }
        Ok(node)
    }

    fn run_node(
        &self,
        run_id: &str,
        seen: &mut BTreeSet<String>,
        depth: usize,
    ) -> Result<LineageNode, LineageError> {
        let run = self.store.run(run_id)?;
        let mut node = LineageNode::new(
            "run",
            run.id.clone(),
            format!(
                "run {} '{}' ({}, {}, commit {}{})",
                run.id,
                run.name,
                run.origin,
                run.status,
                run.git_commit
                    .as_deref()
                    .map(|c| &c[..c.len().min(12)])
                    .unwrap_or("unknown"),
                match run.git_dirty {
                    Some(true) => ", dirty",
                    Some(false) => ", clean",
                    None => "",
                }
            ),
        );
        if !seen.insert(run.id.clone()) || depth > MAX_DEPTH {
            node.repeated = true;
            return Ok(node);
        }
        let params = self.store.params(&run.id)?;
        if !params.is_empty() {
            node.details.push(format!(
                "params: {}",
                params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let metrics = self.store.latest_metrics(&run.id)?;
        if !metrics.is_empty() {
            node.details.push(format!(
                "metrics: {}",
                metrics
                    .iter()
                    .map(|m| format!("{}={}", m.key, m.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for io in self.store.run_io(&run.id)? {
            if io.role == IoRole::Input {
                node.children.push(self.artifact_node(
                    &io.digest,
                    Some(&io.path),
                    seen,
                    depth + 1,
                )?);
            }
        }
        Ok(node)
    }

    fn artifact_node(
        &self,
        digest: &Digest,
        path: Option<&str>,
        seen: &mut BTreeSet<String>,
        depth: usize,
    ) -> Result<LineageNode, LineageError> {
        let id = digest.to_hex();
        let label = match path {
            Some(p) => format!("{p} ({})", digest.short(12)),
            None => format!("artifact {}", digest.short(12)),
        };
        let mut node = LineageNode::new("artifact", id.clone(), label);
        if !seen.insert(id) || depth > MAX_DEPTH {
            node.repeated = true;
            return Ok(node);
        }
        let outputs: Vec<(String, String)> = self
            .store
            .runs_touching(digest)?
            .into_iter()
            .filter(|(_, io)| io.role == IoRole::Output)
            .map(|(run, io)| (run, io.path))
            .collect();
        // The same bytes may have been written under other paths (a copy); prefer the runs
        // that wrote this path.
        let at_path: Vec<String> = outputs
            .iter()
            .filter(|(_, p)| Some(p.as_str()) == path)
            .map(|(run, _)| run.clone())
            .collect();
        let producers: Vec<String> = match path {
            None => outputs.iter().map(|(run, _)| run.clone()).collect(),
            Some(_) => {
                if at_path.is_empty() && !outputs.is_empty() {
                    node.details.push(format!(
                        "the same bytes were also written as {} by another run",
                        outputs[0].1
                    ));
                }
                at_path
            }
        };
        // Run ids are UUIDv7: the smallest is the first run that produced these bytes.
        match producers.iter().min() {
            Some(first) => {
                if producers.len() > 1 {
                    node.details.push(format!(
                        "produced identically by {} runs; showing the first",
                        producers.len()
                    ));
                }
                node.children.push(self.run_node(first, seen, depth + 1)?);
            }
            None => node
                .details
                .push("source: no run produced it (raw input or code)".into()),
        }
        Ok(node)
    }

    /// Forward lineage: every run, artifact, model version and live slot downstream.
    pub fn forward(&self, digest: &Digest, path: Option<&str>) -> RegResult<LineageNode> {
        let mut seen = BTreeSet::new();
        let mut root = self.forward_artifact(digest, path, &mut seen, 0)?;
        // A changed file fed nothing yet under its new digest; what its earlier contents fed
        // is what the change affects.
        if let Some(path) = path {
            for earlier in self.store.input_digests_at(path)? {
                if earlier != *digest {
                    let mut node = self.forward_artifact(&earlier, Some(path), &mut seen, 1)?;
                    node.label = format!("{path} as it was ({})", earlier.short(12));
                    root.children.push(node);
                }
            }
        }
        Ok(root)
    }

    fn forward_artifact(
        &self,
        digest: &Digest,
        path: Option<&str>,
        seen: &mut BTreeSet<String>,
        depth: usize,
    ) -> RegResult<LineageNode> {
        let id = digest.to_hex();
        let label = match path {
            Some(p) => format!("{p} ({})", digest.short(12)),
            None => format!("artifact {}", digest.short(12)),
        };
        let mut node = LineageNode::new("artifact", id.clone(), label);
        if !seen.insert(id) || depth > MAX_DEPTH {
            node.repeated = true;
            return Ok(node);
        }
        for v in self.store.versions_from(Some(digest), None)? {
            node.children.push(self.forward_version(&v, seen)?);
        }
        let consumers: BTreeSet<String> = self
            .store
            .runs_touching(digest)?
            .into_iter()
            .filter(|(_, io)| io.role == IoRole::Input)
            .map(|(run, _)| run)
            .collect();
        for run_id in consumers {
            let run = self.store.run(&run_id)?;
            let mut run_node = LineageNode::new(
                "run",
                run.id.clone(),
                format!("run {} '{}' ({})", run.id, run.name, run.origin),
            );
            if !seen.insert(run.id.clone()) {
                run_node.repeated = true;
                node.children.push(run_node);
                continue;
            }
            for io in self.store.run_io(&run.id)? {
                if io.role == IoRole::Output && !io.path.starts_with("slipway/logs/") {
                    run_node.children.push(self.forward_artifact(
                        &io.digest,
                        Some(&io.path),
                        seen,
                        depth + 1,
                    )?);
                }
            }
            for v in self.store.versions_from(None, Some(&run.id))? {
                run_node.children.push(self.forward_version(&v, seen)?);
            }
            node.children.push(run_node);
        }
        Ok(node)
    }

    fn forward_version(
        &self,
        v: &VersionRecord,
        seen: &mut BTreeSet<String>,
    ) -> RegResult<LineageNode> {
        let id = format!("{}@{}", v.model, v.number());
        let mut node = LineageNode::new("model_version", id.clone(), format!("model {id}"));
        if !seen.insert(id) {
            node.repeated = true;
            return Ok(node);
        }
        for (slot, stage) in self.store.stages(&v.model, v.number())? {
            if stage == slipway_core::registry::Stage::Production {
                node.children.push(LineageNode::new(
                    "slot",
                    format!("{}/{slot}", v.model),
                    format!("LIVE in slot {slot} of {}", v.model),
                ));
            }
        }
        Ok(node)
    }
}

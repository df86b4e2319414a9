//! Loading a project's pipeline: `slipway.yaml`, its params file, and the built-ins' implied
//! deps and outs, validated into a [`Pipeline`] with every problem reported at once.

use crate::builtins::Builtins;
use crate::error::PipelineError;
use slipway_core::RelPath;
use slipway_core::pipeline::{ParamsDoc, Pipeline, StageId, params_file, parse_pipeline};
use std::path::{Path, PathBuf};

/// The pipeline file's name in the project root.
pub const PIPELINE_FILE: &str = "slipway.yaml";

/// A loaded, validated pipeline and where it lives.
pub struct Project {
    /// The project root (where `slipway.yaml` and `.slipway/` are).
    pub root: PathBuf,
    /// The validated pipeline.
    pub pipeline: Pipeline,
}

impl Project {
    /// Reads and validates the pipeline of the project rooted at `root`, knowing only the
    /// standard built-ins ([`Builtins::standard`]).
    pub fn load(root: &Path) -> Result<Project, PipelineError> {
        Project::load_with(root, &Builtins::standard())
    }

    /// Reads and validates the pipeline of the project rooted at `root`; `uses:` stages must
    /// name one of `builtins`.
    pub fn load_with(root: &Path, builtins: &Builtins) -> Result<Project, PipelineError> {
        let file = root.join(PIPELINE_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PipelineError::NoPipelineFile {
                    root: root.to_path_buf(),
                });
            }
            Err(e) => return Err(PipelineError::io("read", file, e)),
        };
        let params_rel = params_file(PIPELINE_FILE, &text).map_err(PipelineError::Spec)?;
        let params_path = root.join(params_rel.as_str());
        let params = match std::fs::read_to_string(&params_path) {
            Ok(params_text) => ParamsDoc::parse(params_rel.as_str(), &params_text)
                .map_err(|e| PipelineError::Spec(vec![e]))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ParamsDoc::missing(params_rel.as_str())
            }
            Err(e) => return Err(PipelineError::io("read", params_path, e)),
        };
        let mut spec =
            parse_pipeline(PIPELINE_FILE, &text, &params).map_err(PipelineError::Spec)?;
        let mut problems = Vec::new();
        for stage in &mut spec.stages {
            if let Err(e) = builtins.declare(PIPELINE_FILE, stage) {
                problems.push(e);
            }
        }
        if !problems.is_empty() {
            return Err(PipelineError::Spec(problems));
        }
        let exists = |path: &RelPath| root.join(path.as_str()).exists();
        let pipeline = Pipeline::new(spec, &exists).map_err(PipelineError::Spec)?;
        Ok(Project {
            root: root.to_path_buf(),
            pipeline,
        })
    }

    /// The stages a run of `targets` covers: everything for no targets, else each target (a
    /// stage name or a foreach/matrix base name) with its upstream.
    pub fn select(&self, targets: &[String]) -> Result<Vec<StageId>, PipelineError> {
        let chosen = self.select_only(targets)?;
        if targets.is_empty() {
            return Ok(chosen);
        }
        Ok(self.pipeline.upstream_closure(&chosen))
    }

    /// The stages named by `targets` themselves, without their upstream (everything for no
    /// targets).
    pub fn select_only(&self, targets: &[String]) -> Result<Vec<StageId>, PipelineError> {
        if targets.is_empty() {
            return Ok(self.pipeline.topo_order().to_vec());
        }
        let mut chosen = Vec::new();
        for target in targets {
            let found = self.pipeline.select(target);
            if found.is_empty() {
                return Err(PipelineError::UnknownTarget {
                    name: target.clone(),
                    known: self
                        .pipeline
                        .stages()
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            chosen.extend(found);
        }
        Ok(chosen)
    }

    /// Absolute path of a project-relative path.
    pub fn path(&self, rel: &RelPath) -> PathBuf {
        self.root.join(rel.as_str())
    }
}

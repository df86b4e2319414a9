//! `slipway status`: which stages are stale, with the first reason for each.

use crate::error::PipelineError;
use crate::lockfile;
use crate::observe::Observer;
use crate::project::Project;
use slipway_core::pipeline::{Observed, StaleReason};
use slipway_store::Workspace;
use std::cell::RefCell;

/// One stage's status.
#[derive(Clone, Debug, PartialEq)]
pub struct StageStatus {
    /// The stage.
    pub name: String,
    /// `None` when up to date; otherwise the first reason it would run.
    pub reason: Option<StaleReason>,
}

/// The status of every stage, in topological order (files read are counted in `files_read`).
pub fn status(ws: &Workspace, project: &Project) -> Result<(Vec<StageStatus>, u64), PipelineError> {
    let lock = lockfile::read(ws.root(), ws.dir())?;
    let observer = Observer::new(ws, &project.root);
    let error = RefCell::new(None);
    let pipeline = &project.pipeline;
    let statuses = pipeline.status(&lock, |id| match observer.observe(pipeline.stage(id)) {
        Ok(observed) => observed,
        Err(e) => {
            error.borrow_mut().get_or_insert(e);
            Observed::default()
        }
    });
    if let Some(e) = error.into_inner() {
        return Err(e);
    }
    let statuses = statuses
        .into_iter()
        .map(|(id, reason)| StageStatus {
            name: pipeline.stage(id).name.clone(),
            reason,
        })
        .collect();
    Ok((statuses, observer.files_read()))
}

//! The embedded client: reads `.slipway/` in this process.

use super::{ClientError, TrackerClient};
use crate::api::dto::{Comparison, ExperimentView, Lineage, RunPage, RunView};
use crate::query::{self, RunSearch};
use slipway_store::Workspace;

/// Reads a project's stores directly.
pub struct Embedded {
    workspace: Workspace,
}

impl Embedded {
    /// Wraps an opened project.
    pub fn new(workspace: Workspace) -> Embedded {
        Embedded { workspace }
    }
}

impl TrackerClient for Embedded {
    fn experiments(&self) -> Result<Vec<ExperimentView>, ClientError> {
        Ok(query::experiments(self.workspace.meta())?)
    }

    fn search_runs(&self, search: &RunSearch) -> Result<RunPage, ClientError> {
        Ok(query::search_runs(self.workspace.meta(), search)?)
    }

    fn run(&self, run_id: &str) -> Result<RunView, ClientError> {
        Ok(query::run_view(
            &self.workspace,
            self.workspace.meta(),
            run_id,
        )?)
    }

    fn compare(&self, run_ids: &[String]) -> Result<Comparison, ClientError> {
        Ok(query::compare(self.workspace.meta(), run_ids)?)
    }

    fn lineage(&self, run_id: &str) -> Result<Lineage, ClientError> {
        Ok(query::lineage(self.workspace.meta(), run_id)?)
    }
}

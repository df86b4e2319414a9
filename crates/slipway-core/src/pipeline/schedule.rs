//! A ready set for running stages in parallel: which stages may start now, given which have
//! finished.
//!
//! The executor owns the threads; this only keeps the books. Start with the stages to run (for
//! example an [`upstream_closure`](super::Pipeline::upstream_closure)). A selected stage waits for
//! every selected stage upstream of it, also through unselected stages in between; unselected
//! stages themselves count as already satisfied.

use super::dag::{Pipeline, StageId};
use std::collections::BTreeSet;

/// Where a selected stage is in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for upstream stages.
    Waiting,
    /// Free to start.
    Ready,
    /// Handed out by [`Schedule::next_ready`] and not yet reported back.
    Running,
    /// Finished successfully (or was up to date).
    Done,
    /// Ran and failed.
    Failed,
    /// Not run because an upstream stage failed.
    Skipped,
}

/// The books of one run over a selection of stages.
#[derive(Clone, Debug)]
pub struct Schedule<'p> {
    pipeline: &'p Pipeline,
    progress: Vec<Option<Progress>>,
    waiting_on: Vec<usize>,
    /// For each selected stage, the selected stages that wait for it.
    unblocks: Vec<Vec<StageId>>,
    ready: BTreeSet<(usize, StageId)>,
}

impl<'p> Schedule<'p> {
    /// A schedule over `selected` (duplicates ignored).
    pub fn new(pipeline: &'p Pipeline, selected: &[StageId]) -> Schedule<'p> {
        let selected: BTreeSet<StageId> = selected.iter().copied().collect();
        let mut progress = vec![None; pipeline.len()];
        for id in &selected {
            progress[id.index()] = Some(Progress::Waiting);
        }
        let mut waiting_on = vec![0; pipeline.len()];
        let mut unblocks = vec![Vec::new(); pipeline.len()];
        let mut ready = BTreeSet::new();
        for id in &selected {
            let i = id.index();
            for up in nearest_selected_upstream(pipeline, *id, &progress) {
                unblocks[up.index()].push(*id);
                waiting_on[i] += 1;
            }
        }
        for id in &selected {
            let i = id.index();
            if waiting_on[i] == 0 {
                progress[i] = Some(Progress::Ready);
                ready.insert((pipeline.rank(*id), *id));
            }
        }
        Schedule {
            pipeline,
            progress,
            waiting_on,
            unblocks,
            ready,
        }
    }

    /// The stages free to start, in topological order.
    pub fn ready(&self) -> Vec<StageId> {
        self.ready.iter().map(|(_, id)| *id).collect()
    }

    /// Takes the first ready stage (topological order) and marks it running.
    pub fn next_ready(&mut self) -> Option<StageId> {
        let (_, id) = self.ready.pop_first()?;
        self.progress[id.index()] = Some(Progress::Running);
        Some(id)
    }

    /// Records a success; returns the stages that became ready because of it.
    pub fn complete(&mut self, id: StageId) -> Vec<StageId> {
        self.finish(id, Progress::Done);
        let mut newly = Vec::new();
        for down in std::mem::take(&mut self.unblocks[id.index()]) {
            let i = down.index();
            if self.progress[i] != Some(Progress::Waiting) {
                continue;
            }
            self.waiting_on[i] -= 1;
            if self.waiting_on[i] == 0 {
                self.progress[i] = Some(Progress::Ready);
                self.ready.insert((self.pipeline.rank(down), down));
                newly.push(down);
            }
        }
        newly
    }

    /// Records a failure; every selected stage downstream of it is skipped. Returns the skipped
    /// stages in topological order.
    pub fn fail(&mut self, id: StageId) -> Vec<StageId> {
        self.finish(id, Progress::Failed);
        let mut skipped = Vec::new();
        for down in self.pipeline.downstream_closure(&[id]) {
            let i = down.index();
            if matches!(self.progress[i], Some(Progress::Waiting | Progress::Ready)) {
                self.ready.remove(&(self.pipeline.rank(down), down));
                self.progress[i] = Some(Progress::Skipped);
                skipped.push(down);
            }
        }
        skipped
    }

    /// Skips every stage not yet started (stop at the first failure, DVC's default). Returns
    /// them in topological order.
    pub fn cancel_pending(&mut self) -> Vec<StageId> {
        self.ready.clear();
        let mut skipped = Vec::new();
        for &id in self.pipeline.topo_order() {
            let slot = &mut self.progress[id.index()];
            if matches!(slot, Some(Progress::Waiting | Progress::Ready)) {
                *slot = Some(Progress::Skipped);
                skipped.push(id);
            }
        }
        skipped
    }

    /// Where a stage is; `None` if it is not in the selection.
    pub fn progress(&self, id: StageId) -> Option<Progress> {
        self.progress[id.index()]
    }

    /// Whether nothing is ready, running or waiting.
    pub fn is_finished(&self) -> bool {
        self.progress.iter().all(|p| {
            !matches!(
                p,
                Some(Progress::Waiting | Progress::Ready | Progress::Running)
            )
        })
    }

    fn finish(&mut self, id: StageId, to: Progress) {
        debug_assert!(to != Progress::Running);
        let slot = &mut self.progress[id.index()];
        assert_eq!(
            *slot,
            Some(Progress::Running),
            "stage {id} reported finished without being handed out by next_ready"
        );
        *slot = Some(to);
    }
}

/// The selected stages upstream of `id` reached without passing through another selected stage.
fn nearest_selected_upstream(
    pipeline: &Pipeline,
    id: StageId,
    progress: &[Option<Progress>],
) -> Vec<StageId> {
    let mut found = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<StageId> = pipeline.dependencies(id).to_vec();
    while let Some(up) = stack.pop() {
        if !seen.insert(up) {
            continue;
        }
        if progress[up.index()].is_some() {
            found.insert(up);
        } else {
            stack.extend(pipeline.dependencies(up).iter().copied());
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{ParamsDoc, parse_pipeline};

    fn pipeline() -> Pipeline {
        let yaml = "\
stages:
  a:
    cmd: a
    outs: [a]
  b:
    cmd: b
    deps: [a]
    outs: [b]
  c:
    cmd: c
    deps: [a]
    outs: [c]
  d:
    cmd: d
    deps: [b, c]
  e:
    cmd: e
";
        let spec =
            parse_pipeline("slipway.yaml", yaml, &ParamsDoc::missing("params.yaml")).unwrap();
        Pipeline::new(spec, &|_| false).unwrap()
    }

    fn names(p: &Pipeline, ids: &[StageId]) -> Vec<String> {
        ids.iter().map(|id| p.stage(*id).name.clone()).collect()
    }

    #[test]
    fn hands_out_stages_as_their_upstream_finishes() {
        let p = pipeline();
        let all: Vec<StageId> = p.topo_order().to_vec();
        let mut s = Schedule::new(&p, &all);
        assert_eq!(names(&p, &s.ready()), ["a", "e"]);
        let a = s.next_ready().unwrap();
        let e = s.next_ready().unwrap();
        assert_eq!(s.next_ready(), None);
        assert_eq!(names(&p, &s.complete(a)), ["b", "c"]);
        s.complete(e);
        let b = s.next_ready().unwrap();
        let c = s.next_ready().unwrap();
        assert!(s.complete(b).is_empty());
        assert_eq!(names(&p, &s.complete(c)), ["d"]);
        let d = s.next_ready().unwrap();
        assert!(!s.is_finished());
        s.complete(d);
        assert!(s.is_finished());
    }

    #[test]
    fn failure_skips_descendants_only() {
        let p = pipeline();
        let all: Vec<StageId> = p.topo_order().to_vec();
        let mut s = Schedule::new(&p, &all);
        let a = s.next_ready().unwrap();
        assert_eq!(names(&p, &s.fail(a)), ["b", "c", "d"]);
        assert_eq!(s.progress(p.id("d").unwrap()), Some(Progress::Skipped));
        let e = s.next_ready().unwrap();
        assert_eq!(p.stage(e).name, "e");
        s.complete(e);
        assert!(s.is_finished());
    }

    #[test]
    fn waits_for_selected_upstream_through_unselected_stages() {
        let p = pipeline();
        let (a, d) = (p.id("a").unwrap(), p.id("d").unwrap());
        let mut s = Schedule::new(&p, &[d, a]);
        assert_eq!(names(&p, &s.ready()), ["a"]);
        let first = s.next_ready().unwrap();
        assert_eq!(names(&p, &s.complete(first)), ["d"]);
    }

    #[test]
    fn unselected_upstream_counts_as_done() {
        let p = pipeline();
        let mut s = Schedule::new(&p, &[p.id("d").unwrap()]);
        assert_eq!(names(&p, &s.ready()), ["d"]);
        assert_eq!(s.progress(p.id("a").unwrap()), None);
        assert_eq!(names(&p, &s.cancel_pending()), ["d"]);
        assert!(s.is_finished());
    }
}

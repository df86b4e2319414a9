//! The stage graph: edges from paths, validation, order, closures and levels.
//!
//! A stage depends on another when one of its deps is equal to, inside, or contains one of the
//! other stage's outs or metrics files. There are no other edges.

use super::error::{SpecError, SpecProblem};
use super::spec::{PipelineSpec, StageSpec};
use crate::RelPath;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt;

/// A stage's position in [`PipelineSpec::stages`] (file order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(usize);

impl StageId {
    /// The index into [`Pipeline::stages`].
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A validated pipeline: its stages, the edges between them, and a deterministic order.
#[derive(Clone, Debug)]
pub struct Pipeline {
    spec: PipelineSpec,
    upstream: Vec<Vec<StageId>>,
    downstream: Vec<Vec<StageId>>,
    order: Vec<StageId>,
    rank: Vec<usize>,
    by_name: BTreeMap<String, StageId>,
}

/// Every output path in the pipeline, by path, with the stage and the line declaring it.
type OutIndex<'a> = BTreeMap<&'a str, Vec<(StageId, &'a RelPath, u32)>>;

impl Pipeline {
    /// Builds and checks the graph. `exists` tells whether a path is present in the project (the
    /// caller does the I/O); it is asked only about deps that no stage writes.
    ///
    /// Reported, all at once: cycles, two stages writing one path, an out inside another out, a
    /// stage reading its own out, and a dep that does not exist and that no stage writes.
    pub fn new(
        spec: PipelineSpec,
        exists: &dyn Fn(&RelPath) -> bool,
    ) -> Result<Pipeline, Vec<SpecError>> {
        let n = spec.stages.len();
        let mut errors = Vec::new();
        let file = spec.file.clone();
        let err = |stage: &StageSpec, line: u32, field: String, problem: SpecProblem| {
            SpecError::new(&file, line, problem)
                .in_stage(&stage.name)
                .in_field(field)
        };

        let mut outs: OutIndex<'_> = BTreeMap::new();
        for (i, stage) in spec.stages.iter().enumerate() {
            for out in stage.outputs() {
                outs.entry(out.path.as_str())
                    .or_default()
                    .push((StageId(i), &out.path, out.line));
            }
        }
        // One producer per path, and no out inside another.
        for (path, declared) in &outs {
            let (first_stage, _, first_line) = declared[0];
            for &(id, _, line) in &declared[1..] {
                let stage = &spec.stages[id.0];
                errors.push(err(
                    stage,
                    line,
                    field_of(stage, path),
                    SpecProblem::DuplicateOut {
                        path: path.to_string(),
                        other_stage: spec.stages[first_stage.0].name.clone(),
                        other_line: first_line,
                    },
                ));
            }
            for ancestor in proper_ancestors(path) {
                if let Some(outer) = outs.get(ancestor) {
                    let (outer_id, _, outer_line) = outer[0];
                    for &(id, _, line) in declared {
                        let stage = &spec.stages[id.0];
                        errors.push(err(
                            stage,
                            line,
                            field_of(stage, path),
                            SpecProblem::NestedOut {
                                path: path.to_string(),
                                outer: ancestor.to_string(),
                                outer_stage: spec.stages[outer_id.0].name.clone(),
                                outer_line,
                            },
                        ));
                    }
                }
            }
        }
        // Edges from deps to producers.
        let mut upstream: Vec<BTreeSet<StageId>> = vec![BTreeSet::new(); n];
        for (i, stage) in spec.stages.iter().enumerate() {
            for (d, dep) in stage.deps.iter().enumerate() {
                let producers = producers_of(&outs, &dep.path);
                if producers.is_empty() && !exists(&dep.path) {
                    errors.push(err(
                        stage,
                        dep.line,
                        format!("deps[{d}]"),
                        SpecProblem::MissingDep {
                            path: dep.path.to_string(),
                        },
                    ));
                }
                for (id, out_path) in producers {
                    if id.0 == i {
                        errors.push(err(
                            stage,
                            dep.line,
                            format!("deps[{d}]"),
                            SpecProblem::OwnOutAsDep {
                                dep: dep.path.to_string(),
                                out: out_path.to_string(),
                            },
                        ));
                    } else {
                        upstream[i].insert(id);
                    }
                }
            }
        }
        let by_name: BTreeMap<String, StageId> = spec
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), StageId(i)))
            .collect();
        let name_order = |ids: BTreeSet<StageId>| -> Vec<StageId> {
            let mut v: Vec<StageId> = ids.into_iter().collect();
            v.sort_by(|a, b| spec.stages[a.0].name.cmp(&spec.stages[b.0].name));
            v
        };
        let mut downstream_sets: Vec<BTreeSet<StageId>> = vec![BTreeSet::new(); n];
        for (i, ups) in upstream.iter().enumerate() {
            for up in ups {
                downstream_sets[up.0].insert(StageId(i));
            }
        }
        let upstream: Vec<Vec<StageId>> = upstream.into_iter().map(name_order).collect();
        let downstream: Vec<Vec<StageId>> = downstream_sets.into_iter().map(name_order).collect();

        for cycle in cycles(&spec, &downstream) {
            let first = &spec.stages[cycle[0].0];
            let path = cycle
                .iter()
                .map(|id| spec.stages[id.0].name.clone())
                .collect();
            errors.push(
                SpecError::new(&spec.file, first.line, SpecProblem::Cycle { path })
                    .in_stage(&first.name),
            );
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.at.line, e.to_string()));
            errors.dedup();
            return Err(errors);
        }

        let order = topological_order(&spec, &upstream, &downstream);
        let mut rank = vec![0; n];
        for (r, id) in order.iter().enumerate() {
            rank[id.0] = r;
        }
        Ok(Pipeline {
            spec,
            upstream,
            downstream,
            order,
            rank,
            by_name,
        })
    }

    /// Parses and checks in one step: [`parse_pipeline`](super::parse_pipeline) then
    /// [`Pipeline::new`]. Graph problems are only looked for once the file parses.
    pub fn from_yaml(
        file_name: &str,
        yaml_text: &str,
        params: &super::ParamsDoc,
        exists: &dyn Fn(&RelPath) -> bool,
    ) -> Result<Pipeline, Vec<SpecError>> {
        Pipeline::new(super::parse_pipeline(file_name, yaml_text, params)?, exists)
    }

    /// The spec the pipeline was built from.
    pub fn spec(&self) -> &PipelineSpec {
        &self.spec
    }

    /// All stages, indexed by [`StageId::index`].
    pub fn stages(&self) -> &[StageSpec] {
        &self.spec.stages
    }

    /// One stage.
    pub fn stage(&self, id: StageId) -> &StageSpec {
        &self.spec.stages[id.0]
    }

    /// Number of stages.
    pub fn len(&self) -> usize {
        self.spec.stages.len()
    }

    /// Whether there are no stages.
    pub fn is_empty(&self) -> bool {
        self.spec.stages.is_empty()
    }

    /// The stage with this exact name.
    pub fn id(&self, name: &str) -> Option<StageId> {
        self.by_name.get(name).copied()
    }

    /// The stages a command-line target names: a stage name, or the name of a `foreach`/`matrix`
    /// definition (all its instances, by name). Empty when nothing matches.
    pub fn select(&self, target: &str) -> Vec<StageId> {
        if let Some(id) = self.id(target) {
            return vec![id];
        }
        self.by_name
            .values()
            .copied()
            .filter(|id| self.stage(*id).template.as_deref() == Some(target))
            .collect()
    }

    /// The stage whose out or metrics file is `path` or contains it.
    pub fn producer(&self, path: &RelPath) -> Option<StageId> {
        self.spec
            .stages
            .iter()
            .position(|s| s.outputs().any(|o| path.is_within(&o.path)))
            .map(StageId)
    }

    /// Every stage, upstream before downstream; among stages free to go in either order, by
    /// name.
    pub fn topo_order(&self) -> &[StageId] {
        &self.order
    }

    /// The stages this one reads from (its direct upstream), by name.
    pub fn dependencies(&self, id: StageId) -> &[StageId] {
        &self.upstream[id.0]
    }

    /// The stages that read from this one (its direct downstream), by name.
    pub fn dependents(&self, id: StageId) -> &[StageId] {
        &self.downstream[id.0]
    }

    /// Every edge `(upstream, downstream)`, in topological order of the upstream stage.
    pub fn edges(&self) -> Vec<(StageId, StageId)> {
        self.order
            .iter()
            .flat_map(|&up| self.downstream[up.0].iter().map(move |&down| (up, down)))
            .collect()
    }

    /// The given stages and everything downstream of them, in topological order: what a change
    /// to those stages can affect.
    pub fn downstream_closure(&self, changed: &[StageId]) -> Vec<StageId> {
        self.closure(changed, &self.downstream)
    }

    /// The given stages and everything they depend on, in topological order: what
    /// `slipway run STAGE` considers.
    pub fn upstream_closure(&self, targets: &[StageId]) -> Vec<StageId> {
        self.closure(targets, &self.upstream)
    }

    fn closure(&self, start: &[StageId], next: &[Vec<StageId>]) -> Vec<StageId> {
        let mut seen = vec![false; self.len()];
        let mut queue: VecDeque<StageId> = start.iter().copied().collect();
        while let Some(id) = queue.pop_front() {
            if std::mem::replace(&mut seen[id.0], true) {
                continue;
            }
            queue.extend(next[id.0].iter().copied());
        }
        self.in_order(seen)
    }

    /// The stages flagged in `selected`, in topological order.
    fn in_order(&self, selected: Vec<bool>) -> Vec<StageId> {
        self.order
            .iter()
            .copied()
            .filter(|id| selected[id.0])
            .collect()
    }

    /// Position of a stage in [`Pipeline::topo_order`].
    pub fn rank(&self, id: StageId) -> usize {
        self.rank[id.0]
    }

    /// Stages grouped into levels: level 0 depends on nothing, level k only on levels below k.
    /// The stages of one level are independent of each other. Each level is sorted by name.
    pub fn levels(&self) -> Vec<Vec<StageId>> {
        let mut level = vec![0usize; self.len()];
        for &id in &self.order {
            level[id.0] = self.upstream[id.0]
                .iter()
                .map(|u| level[u.0] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut out: Vec<Vec<StageId>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
        for &id in &self.order {
            out[level[id.0]].push(id);
        }
        for group in &mut out {
            group.sort_by(|a, b| self.stage(*a).name.cmp(&self.stage(*b).name));
        }
        out
    }
}

/// The field name of an output path within its stage (`outs[i]` or `metrics[i]`).
fn field_of(stage: &StageSpec, path: &str) -> String {
    if let Some(i) = stage.outs.iter().position(|o| o.path.as_str() == path) {
        format!("outs[{i}]")
    } else if let Some(i) = stage.metrics.iter().position(|o| o.path.as_str() == path) {
        format!("metrics[{i}]")
    } else {
        "outs".to_string()
    }
}

/// `a/b/c` -> `a`, `a/b`: the directories above a path, shortest first.
fn proper_ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// The stages with an output equal to, containing, or inside `dep`, with that output.
fn producers_of<'a>(outs: &OutIndex<'a>, dep: &RelPath) -> Vec<(StageId, &'a RelPath)> {
    let mut found = Vec::new();
    let d = dep.as_str();
    let mut add = |entries: &Vec<(StageId, &'a RelPath, u32)>| {
        for &(id, path, _) in entries {
            found.push((id, path));
        }
    };
    // Outs equal to the dep or containing it.
    for ancestor in proper_ancestors(d) {
        if let Some(e) = outs.get(ancestor) {
            add(e);
        }
    }
    if let Some(e) = outs.get(d) {
        add(e);
    }
    // Outs inside the dep: keys starting with `dep/` are contiguous in sorted order.
    let prefix = format!("{d}/");
    for (_, e) in outs
        .range(prefix.as_str()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
    {
        add(e);
    }
    found
}

/// Kahn's algorithm; among ready stages the smallest name goes first.
fn topological_order(
    spec: &PipelineSpec,
    upstream: &[Vec<StageId>],
    downstream: &[Vec<StageId>],
) -> Vec<StageId> {
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<(&str, StageId)>> = BinaryHeap::new();
    for (i, w) in waiting.iter().enumerate() {
        if *w == 0 {
            ready.push(Reverse((spec.stages[i].name.as_str(), StageId(i))));
        }
    }
    let mut order = Vec::with_capacity(upstream.len());
    while let Some(Reverse((_, id))) = ready.pop() {
        order.push(id);
        for down in &downstream[id.0] {
            waiting[down.0] -= 1;
            if waiting[down.0] == 0 {
                ready.push(Reverse((spec.stages[down.0].name.as_str(), *down)));
            }
        }
    }
    order
}

/// One cycle per strongly connected component with more than one stage, as a path starting and
/// ending at the component's first stage by name (e.g. `a -> b -> a`).
fn cycles(spec: &PipelineSpec, downstream: &[Vec<StageId>]) -> Vec<Vec<StageId>> {
    let components = strongly_connected(spec.stages.len(), downstream);
    let mut out = Vec::new();
    for component in components.into_iter().filter(|c| c.len() > 1) {
        let inside: BTreeSet<StageId> = component.iter().copied().collect();
        let start = *component
            .iter()
            .min_by(|a, b| spec.stages[a.0].name.cmp(&spec.stages[b.0].name))
            .expect("component is not empty");
        // Shortest way round from `start` back to itself, following data flow, by name.
        let mut previous: BTreeMap<StageId, StageId> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(id) = queue.pop_front() {
            for &next in &downstream[id.0] {
                if !inside.contains(&next) {
                    continue;
                }
                if next == start {
                    closing = Some(id);
                    break 'search;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = previous.entry(next) {
                    e.insert(id);
                    queue.push_back(next);
                }
            }
        }
        let mut path = vec![start];
        let mut at = closing.expect("a strongly connected component has a cycle through each node");
        let mut back = Vec::new();
        while at != start {
            back.push(at);
            at = previous[&at];
        }
        path.extend(back.into_iter().rev());
        path.push(start);
        out.push(path);
    }
    out.sort_by(|a, b| spec.stages[a[0].0].name.cmp(&spec.stages[b[0].0].name));
    out
}

/// Tarjan's algorithm, iterative (no recursion depth limit on long chains).
fn strongly_connected(n: usize, edges: &[Vec<StageId>]) -> Vec<Vec<StageId>> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut components = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if let Some(w) = edges[v].get(*child).map(|s| s.0) {
                *child += 1;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().expect("stack holds the component");
                        on_stack[w] = false;
                        component.push(StageId(w));
                        if w == v {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
    }
    components
}

#[cfg(test)]
#[path = "dag_tests.rs"]
mod tests;

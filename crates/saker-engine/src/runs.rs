//! Task-run lookups for the process pass: an index beside the execution (by id, by
//! `(taskId, parent, value)`, children by parent) so a lookup costs O(matches) instead of a
//! scan of the whole list, which made every pass quadratic in the number of task runs. The
//! executor keeps it between `apply` calls (see `memo.rs`), with figures derived from states
//! (open runs, per-parent counts) that it updates from the runs each step changed.
//!
//! The keys are those that never change once a run exists (id, task id, parent, value); states
//! are always read from the list. The index is trusted only while it covers the list exactly
//! (same length, same last id); otherwise lookups fall back to a scan, so a list changed behind
//! the index's back still gives correct answers.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use saker_core::{Execution, StateType, TaskRun, TaskRunId};

use crate::cx::Resolved;

/// FxHash: the keys are short strings hashed on every lookup; SipHash's DoS resistance buys
/// nothing for an in-memory index of our own ids.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

fn key_hash(task_id: &str, parent: Option<&str>, value: Option<&str>) -> u64 {
    let mut h = Fx::default();
    (task_id, parent, value).hash(&mut h);
    h.finish()
}

fn parent_hash(parent: Option<&str>) -> u64 {
    let mut h = Fx::default();
    parent.hash(&mut h);
    h.finish()
}

/// Per-parent figures over the parent's direct children (keyed by the parent's hash, so two
/// parents may share an entry: the figures are then too high, which only makes the checks
/// that use them fall back to an exact scan).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParentStats {
    failed: usize,
    retrying: usize,
    /// Bumped whenever a child goes from terminated back to not terminated (restart), which
    /// voids every cursor that assumed a terminated prefix.
    regress: u64,
}

impl ParentStats {
    fn count(&mut self, run: &TaskRun, add: bool) {
        let state = run.state.current();
        let (failed, retrying) = (
            usize::from(state.is_failed()),
            usize::from(state == StateType::Retrying),
        );
        if add {
            self.failed += failed;
            self.retrying += retrying;
        } else {
            self.failed -= failed;
            self.retrying -= retrying;
        }
    }
}

/// Positions in `task_run_list`. Hash collisions are possible in `by_key`/`children` (keys are
/// hashes), so callers re-check the run they get.
///
/// Besides the keys, it keeps figures derived from states (the open runs, per-parent counts),
/// as of the last [`RunIndex::reconcile`]: the executor keeps the index between `apply` calls
/// and brings those up to date from the runs it changed, so no event costs a pass over every
/// run.
#[derive(Default)]
pub(crate) struct RunIndex {
    len: usize,
    last_id: Option<TaskRunId>,
    /// Bumped on every rebuild (runs removed): positions and cursors from before are void.
    pub(crate) epoch: u64,
    by_id: FxMap<TaskRunId, usize>,
    by_key: FxMap<u64, Vec<usize>>,
    children: FxMap<u64, Vec<usize>>,
    /// Whether the run's task is a flowable, by position.
    flowable: Vec<bool>,
    /// Runs not terminated, and those of them that are flowables.
    open: BTreeSet<usize>,
    open_flowables: BTreeSet<usize>,
    stats: FxMap<u64, ParentStats>,
}

impl RunIndex {
    #[cfg(debug_assertions)]
    pub(crate) fn new(list: &[TaskRun], is_flowable: &dyn Fn(&str) -> bool) -> Self {
        let mut index = RunIndex::default();
        index.sync(list, is_flowable);
        index
    }

    /// Whether the index covers exactly `list`.
    pub(crate) fn is_fresh(&self, list: &[TaskRun]) -> bool {
        self.len == list.len() && list.last().map(|r| &r.id) == self.last_id.as_ref()
    }

    /// Brings the index up to date: appended runs are added (with their current states),
    /// anything else (runs removed on restart or by LoopUntil) rebuilds it. Returns whether it
    /// had to rebuild.
    pub(crate) fn sync(&mut self, list: &[TaskRun], is_flowable: &dyn Fn(&str) -> bool) -> bool {
        if self.is_fresh(list) {
            return false;
        }
        let prefix_intact = list.len() >= self.len
            && (self.len == 0 || Some(&list[self.len - 1].id) == self.last_id.as_ref());
        let rebuilt = !prefix_intact;
        if rebuilt {
            let epoch = self.epoch + 1;
            *self = RunIndex::default();
            self.epoch = epoch;
        }
        for (position, run) in list.iter().enumerate().skip(self.len) {
            self.by_id.insert(run.id.clone(), position);
            let parent = run.parent_task_run_id.as_ref().map(TaskRunId::as_str);
            self.by_key
                .entry(key_hash(&run.task_id, parent, run.value.as_deref()))
                .or_default()
                .push(position);
            let parent_key = parent_hash(parent);
            self.children.entry(parent_key).or_default().push(position);
            let flowable = is_flowable(&run.task_id);
            self.flowable.push(flowable);
            if !run.state.is_terminated() {
                self.open.insert(position);
                if flowable {
                    self.open_flowables.insert(position);
                }
            }
            self.stats.entry(parent_key).or_default().count(run, true);
        }
        self.len = list.len();
        self.last_id = list.last().map(|r| r.id.clone());
        rebuilt
    }

    /// Accounts for runs changed in place: `changed` gives each one's position and its value
    /// when the index last saw it. Positions must be covered by the index (no rebuild since).
    pub(crate) fn reconcile<'r>(
        &mut self,
        list: &[TaskRun],
        changed: impl Iterator<Item = (usize, &'r TaskRun)>,
    ) {
        for (position, before) in changed {
            let Some(after) = list.get(position).filter(|_| position < self.len) else {
                continue;
            };
            let parent = after.parent_task_run_id.as_ref().map(TaskRunId::as_str);
            let stats = self.stats.entry(parent_hash(parent)).or_default();
            stats.count(before, false);
            stats.count(after, true);
            if before.state.is_terminated() && !after.state.is_terminated() {
                stats.regress += 1;
            }
            if after.state.is_terminated() {
                self.open.remove(&position);
                self.open_flowables.remove(&position);
            } else {
                self.open.insert(position);
                if self.flowable[position] {
                    self.open_flowables.insert(position);
                }
            }
        }
    }

    pub(crate) fn position(&self, list: &[TaskRun], id: &str) -> Option<usize> {
        if self.is_fresh(list) {
            self.by_id.get(id).copied()
        } else {
            list.iter().position(|r| r.id == id)
        }
    }

    /// Runs not terminated as of the last reconcile (flowables only with `flowables`).
    pub(crate) fn open(&self, flowables: bool) -> &BTreeSet<usize> {
        if flowables {
            &self.open_flowables
        } else {
            &self.open
        }
    }

    pub(crate) fn is_flowable(&self, position: usize) -> bool {
        self.flowable.get(position).copied().unwrap_or(false)
    }

    /// The figures of `parent`'s children.
    pub(crate) fn stats(&self, parent: &str) -> ParentStats {
        self.stats
            .get(&parent_hash(Some(parent)))
            .copied()
            .unwrap_or_default()
    }

    /// The state-derived part, to compare a kept index with a fresh one (debug checks).
    #[cfg(debug_assertions)]
    pub(crate) fn derived(&self) -> Derived {
        let mut stats: Vec<(u64, usize, usize)> = self
            .stats
            .iter()
            .map(|(k, s)| (*k, s.failed, s.retrying))
            .filter(|(_, f, r)| *f > 0 || *r > 0)
            .collect();
        stats.sort_unstable();
        (
            self.len,
            self.last_id.clone(),
            self.open.clone(),
            self.open_flowables.clone(),
            self.flowable.clone(),
            stats,
        )
    }
}

#[cfg(debug_assertions)]
pub(crate) type Derived = (
    usize,
    Option<TaskRunId>,
    BTreeSet<usize>,
    BTreeSet<usize>,
    Vec<bool>,
    Vec<(u64, usize, usize)>,
);

impl ParentStats {
    pub(crate) fn failed(&self) -> bool {
        self.failed > 0
    }
    pub(crate) fn retrying(&self) -> bool {
        self.retrying > 0
    }
    pub(crate) fn regress(&self) -> u64 {
        self.regress
    }
}

/// Read access to the task runs of an execution, indexed when an index is at hand (the
/// executor) and by scanning otherwise (unit tests build bare executions).
#[derive(Clone, Copy)]
pub(crate) struct Runs<'e> {
    pub(crate) exec: &'e Execution,
    index: Option<&'e RunIndex>,
}

impl<'e> From<&'e Execution> for Runs<'e> {
    fn from(exec: &'e Execution) -> Self {
        Runs { exec, index: None }
    }
}

impl<'e> From<&'e mut Execution> for Runs<'e> {
    fn from(exec: &'e mut Execution) -> Self {
        Runs { exec, index: None }
    }
}

/// Either indexed positions or a scan of the list, both filtered by a predicate.
pub(crate) enum RunIter<'e, F> {
    Indexed(&'e [TaskRun], std::slice::Iter<'e, usize>, F),
    Scan(std::slice::Iter<'e, TaskRun>, F),
}

impl<'e, F: FnMut(&TaskRun) -> bool> Iterator for RunIter<'e, F> {
    type Item = &'e TaskRun;

    fn next(&mut self) -> Option<&'e TaskRun> {
        match self {
            RunIter::Indexed(list, positions, keep) => {
                positions.by_ref().map(|&p| &list[p]).find(|run| keep(run))
            }
            RunIter::Scan(runs, keep) => runs.by_ref().find(|run| keep(run)),
        }
    }
}

impl<'e> Runs<'e> {
    pub(crate) fn new(exec: &'e Execution, index: &'e RunIndex) -> Self {
        Runs {
            exec,
            index: Some(index),
        }
    }

    fn fresh(&self) -> Option<&'e RunIndex> {
        self.index
            .filter(|index| index.is_fresh(&self.exec.task_run_list))
    }

    pub(crate) fn find(self, id: &str) -> Option<&'e TaskRun> {
        match self.fresh() {
            Some(index) => index.by_id.get(id).map(|&p| &self.exec.task_run_list[p]),
            None => self.exec.find_task_run(id),
        }
    }

    /// Runs of `resolved`'s task under its parent with its value, in creation order.
    pub(crate) fn matching<'r>(
        self,
        resolved: &'r Resolved<'_>,
    ) -> RunIter<'e, impl FnMut(&TaskRun) -> bool + 'r> {
        let keep = move |run: &TaskRun| resolved.matches(run);
        let list = self.exec.task_run_list.as_slice();
        match self.fresh() {
            Some(index) => {
                let hash = key_hash(
                    &resolved.task.id,
                    resolved.parent.as_ref().map(TaskRunId::as_str),
                    resolved.value.as_deref(),
                );
                let positions = index.by_key.get(&hash).map_or(&[][..], Vec::as_slice);
                RunIter::Indexed(list, positions.iter(), keep)
            }
            None => RunIter::Scan(list.iter(), keep),
        }
    }

    /// Direct children of `parent` (`None` = top level), in creation order.
    pub(crate) fn children<'p>(
        self,
        parent: Option<&'p str>,
    ) -> RunIter<'e, impl FnMut(&TaskRun) -> bool + 'p> {
        let keep =
            move |run: &TaskRun| run.parent_task_run_id.as_ref().map(TaskRunId::as_str) == parent;
        let list = self.exec.task_run_list.as_slice();
        match self.fresh() {
            Some(index) => {
                let positions = index
                    .children
                    .get(&parent_hash(parent))
                    .map_or(&[][..], Vec::as_slice);
                RunIter::Indexed(list, positions.iter(), keep)
            }
            None => RunIter::Scan(list.iter(), keep),
        }
    }

    /// Ancestors of `run`, outermost first (like [`Execution::find_parents`], indexed).
    pub(crate) fn parents(self, run: &TaskRun) -> Vec<&'e TaskRun> {
        if self.fresh().is_none() {
            return self.exec.find_parents(run);
        }
        let mut parents: Vec<&TaskRun> = Vec::new();
        let mut next = run.parent_task_run_id.as_ref();
        while let Some(parent_id) = next {
            let Some(parent) = self.find(parent_id.as_str()) else {
                break;
            };
            if parents.iter().any(|p| p.id == parent.id) || parent.id == run.id {
                break;
            }
            parents.push(parent);
            next = parent.parent_task_run_id.as_ref();
        }
        parents.reverse();
        parents
    }
}

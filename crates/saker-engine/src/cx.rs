//! The working state of one `apply` call: the execution being mutated, the flow, the injected
//! time/ids/services, and the actions collected so far (Restate's `ActionCollector`).

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use saker_core::{Execution, IdSource, Instant, JsonMap, StateType, TaskRun, TaskRunId};
use saker_expr::Value;
use saker_flow::{Flow, Task};

use crate::action::{Action, LogLevel};
use crate::context::{Needs, render_context_for};
use crate::memo::Memo;
use crate::runs::{RunIndex, Runs};
use crate::select::Branches;
use crate::services::{At, EngineServices};
use crate::tree::FlowIndex;

/// A task to run at one position: the task, its iteration value, and its parent task run.
#[derive(Debug, Clone)]
pub(crate) struct Resolved<'a> {
    pub(crate) task: &'a Task,
    pub(crate) value: Option<String>,
    pub(crate) iteration: Option<i32>,
    pub(crate) parent: Option<TaskRunId>,
}

impl Resolved<'_> {
    /// Same task id, same parent, same value (Kestra's `isTaskRunFor`).
    pub(crate) fn matches(&self, run: &TaskRun) -> bool {
        run.task_id == self.task.id
            && run.parent_task_run_id == self.parent
            && run.value == self.value
    }
}

/// `tasks` as resolved tasks under `parent`, disabled ones removed (they never run).
pub(crate) fn resolve_list<'a>(tasks: &'a [Task], parent: Option<&TaskRunId>) -> Vec<Resolved<'a>> {
    tasks
        .iter()
        .filter(|task| !task.common.disabled)
        .map(|task| Resolved {
            task,
            value: None,
            iteration: None,
            parent: parent.cloned(),
        })
        .collect()
}

/// Which task runs changed, so a pass can tell "nothing changed" without cloning and
/// comparing the whole execution, and the caller can save only what changed.
#[derive(Default)]
pub(crate) struct Track {
    /// Runs handed out by [`Cx::run_mut`] in the current step, as they were before (by position).
    snapshots: HashMap<usize, TaskRun>,
    /// The execution without its task runs, at the start of the step.
    header: Option<Execution>,
    len_at_step: usize,
    /// The index's epoch at the start of the step: a rebuild since voids the kept figures.
    epoch_at_step: u64,
    /// Positions of runs changed (or added) during this `apply`, and whether the list was
    /// reshaped (runs removed), which makes every run "changed".
    pub(crate) changed: BTreeSet<usize>,
    pub(crate) all: bool,
}

pub(crate) struct Cx<'a> {
    pub(crate) flow: &'a Flow,
    pub(crate) index: FlowIndex<'a>,
    /// Mutate task runs only through [`Cx::run_mut`] / [`Cx::create`] (or methods using them):
    /// change detection and the index rely on it. Removing runs is fine (detected by length).
    pub(crate) exec: &'a mut Execution,
    pub(crate) now: Instant,
    pub(crate) ids: &'a mut dyn IdSource,
    pub(crate) services: &'a dyn EngineServices,
    pub(crate) expr: &'a saker_expr::Engine,
    pub(crate) actions: Vec<Action>,
    /// The index and cursors kept between `apply` calls (see [`crate::memo`]).
    pub(crate) memo: Memo,
    pub(crate) track: Track,
    /// Branches of flowables whose branches are static (see `Flowable::static_branches`),
    /// by task run id, for this `apply`.
    pub(crate) branch_cache: HashMap<TaskRunId, Rc<Branches<'a>>>,
}

/// The execution without its task runs (cheap to clone and compare).
fn header_of(exec: &mut Execution) -> Execution {
    let runs = std::mem::take(&mut exec.task_run_list);
    let header = exec.clone();
    exec.task_run_list = runs;
    header
}

impl<'a> Cx<'a> {
    /// Task runs, indexed.
    pub(crate) fn runs(&self) -> Runs<'_> {
        Runs::new(self.exec, &self.memo.index)
    }

    pub(crate) fn run(&self, id: &TaskRunId) -> Option<&TaskRun> {
        self.runs().find(id.as_str())
    }

    pub(crate) fn run_mut(&mut self, id: &TaskRunId) -> Option<&mut TaskRun> {
        let position = self
            .memo
            .index
            .position(&self.exec.task_run_list, id.as_str())?;
        let run = &mut self.exec.task_run_list[position];
        self.track
            .snapshots
            .entry(position)
            .or_insert_with(|| run.clone());
        Some(run)
    }

    /// Starts a step (the event handler, or one process pass): later, [`Cx::end_step`] tells
    /// whether it changed anything.
    pub(crate) fn begin_step(&mut self) {
        if self.sync_index() {
            self.track.all = true;
        }
        self.track.epoch_at_step = self.memo.index.epoch;
        self.track.snapshots.clear();
        self.track.header = Some(header_of(self.exec));
        self.track.len_at_step = self.exec.task_run_list.len();
    }

    /// Whether the step changed the execution (what a full before/after comparison says, given
    /// task runs are mutated through [`Cx::run_mut`]); records the changed runs.
    pub(crate) fn end_step(&mut self) -> bool {
        let list_len = self.exec.task_run_list.len();
        let mut changed = false;
        // The kept figures follow the runs changed in place; after a rebuild within the step
        // (runs removed) they are derived again from scratch.
        if self.derived_ok() {
            self.memo.index.reconcile(
                &self.exec.task_run_list,
                self.track.snapshots.iter().map(|(p, before)| (*p, before)),
            );
        } else {
            let epoch = self.memo.index.epoch + 1;
            self.memo.index = RunIndex::default();
            self.memo.index.epoch = epoch;
            self.sync_index();
        }
        if list_len < self.track.len_at_step || self.sync_index() {
            // Runs were removed: positions moved, everything counts as changed.
            self.track.all = true;
            changed = true;
        }
        if list_len > self.track.len_at_step {
            changed = true;
            self.track.changed.extend(self.track.len_at_step..list_len);
        }
        for (position, before) in self.track.snapshots.drain() {
            if self.exec.task_run_list.get(position) != Some(&before) {
                changed = true;
                self.track.changed.insert(position);
            }
        }
        if let Some(header) = self.track.header.take()
            && header_of(self.exec) != header
        {
            changed = true;
        }
        changed
    }

    /// Adds appended runs to the index (rebuilds it when runs were removed; returns whether).
    pub(crate) fn sync_index(&mut self) -> bool {
        let flow = &self.index;
        self.memo.index.sync(&self.exec.task_run_list, &|task_id| {
            flow.task(task_id).is_some_and(|t| t.is_flowable())
        })
    }

    /// Whether the index's state-derived figures, plus the runs changed in this step, describe
    /// the execution (no rebuild since the step began, nothing appended behind its back).
    pub(crate) fn derived_ok(&self) -> bool {
        self.memo.index.epoch == self.track.epoch_at_step
            && self.memo.index.is_fresh(&self.exec.task_run_list)
    }

    /// Runs changed in this step that `parent` is the direct parent of.
    fn dirty_children<'s>(
        &'s self,
        parent: &'s str,
    ) -> impl Iterator<Item = (&'s TaskRun, &'s TaskRun)> + 's {
        let list = &self.exec.task_run_list;
        self.track.snapshots.iter().filter_map(move |(&p, before)| {
            list.get(p)
                .filter(|run| {
                    run.parent_task_run_id.as_ref().map(TaskRunId::as_str) == Some(parent)
                })
                .map(|run| (before, run))
        })
    }

    /// False when no direct child of `parent` is FAILED (true may be a false positive).
    pub(crate) fn maybe_failed_child(&self, parent: &TaskRunId) -> bool {
        !self.derived_ok()
            || self.memo.index.stats(parent.as_str()).failed()
            || self
                .dirty_children(parent.as_str())
                .any(|(_, run)| run.state.current().is_failed())
    }

    /// False when no direct child of `parent` is RETRYING (true may be a false positive).
    pub(crate) fn maybe_retrying_child(&self, parent: &TaskRunId) -> bool {
        !self.derived_ok()
            || self.memo.index.stats(parent.as_str()).retrying()
            || self
                .dirty_children(parent.as_str())
                .any(|(_, run)| run.state.current() == StateType::Retrying)
    }

    /// How many times a child of `parent` went from terminated back to open (a stamp for
    /// cursors that assume a terminated prefix), or `None` when it cannot be told cheaply.
    pub(crate) fn regress_stamp(&self, parent: &TaskRunId) -> Option<u64> {
        if !self.derived_ok()
            || self
                .dirty_children(parent.as_str())
                .any(|(before, run)| before.state.is_terminated() && !run.state.is_terminated())
        {
            return None;
        }
        Some(self.memo.index.stats(parent.as_str()).regress())
    }

    /// [`Cx::runs_in`] for a predicate that only accepts runs that are not terminated (and
    /// only flowables, with `flowables`): looks at the open runs instead of every run.
    pub(crate) fn open_runs_in(
        &self,
        flowables: bool,
        predicate: impl Fn(&TaskRun) -> bool,
    ) -> Vec<TaskRunId> {
        if !self.derived_ok() {
            return self.runs_in(predicate);
        }
        let list = &self.exec.task_run_list;
        let index = &self.memo.index;
        let mut positions: Vec<usize> = index.open(flowables).iter().copied().collect();
        let dirty = self.track.snapshots.keys().copied();
        let before = positions.len();
        positions.extend(dirty.filter(|&p| !flowables || index.is_flowable(p)));
        if positions.len() > before {
            positions.sort_unstable();
            positions.dedup();
        }
        let found: Vec<TaskRunId> = positions
            .into_iter()
            .filter_map(|p| list.get(p))
            .filter(|run| predicate(run))
            .map(|run| run.id.clone())
            .collect();
        if crate::memo::checked(list.len()) {
            assert_eq!(found, self.runs_in(&predicate), "open runs out of date");
        }
        found
    }

    /// The task of a task run (`None` for a run of a task no longer in the flow).
    pub(crate) fn task_of(&self, run: &TaskRun) -> Option<&'a Task> {
        self.index.task(&run.task_id)
    }

    /// The variables for rendering `templates`: task-run-derived ones (`outputs`, `tasks`,
    /// `parents`) cost O(task runs) and are only built when a template may read them.
    fn context(&self, task: Option<&Task>, run: Option<&TaskRunId>, needs: Needs) -> Value {
        let run = run.and_then(|id| self.run(id));
        render_context_for(self.flow, self.runs(), task, run, self.services, needs)
    }

    /// Renders a template for `task`/`run`; the error is a log-ready message.
    pub(crate) fn render(
        &self,
        template: &str,
        task: Option<&Task>,
        run: Option<&TaskRunId>,
    ) -> Result<String, String> {
        if !saker_expr::is_template(template) {
            return Ok(template.to_owned());
        }
        let services = At {
            inner: self.services,
            now: self.now,
        };
        self.expr
            .render(
                template,
                &self.context(task, run, Needs::of_str(template)),
                &services,
            )
            .map_err(|error| error.to_string())
    }

    /// Renders every string inside `value`.
    pub(crate) fn render_value(
        &self,
        value: &Value,
        task: Option<&Task>,
        run: Option<&TaskRunId>,
    ) -> Result<Value, String> {
        let services = At {
            inner: self.services,
            now: self.now,
        };
        self.expr
            .render_value(
                value,
                &self.context(task, run, Needs::of_value(value)),
                &services,
            )
            .map_err(|error| error.to_string())
    }

    /// [`Cx::render_value`] with extra `taskrun.*` variables (ForEachItem renders each batch's
    /// subflow inputs with `taskrun.items` and `taskrun.iteration`).
    pub(crate) fn render_value_with_taskrun(
        &self,
        value: &Value,
        task: Option<&Task>,
        run: Option<&TaskRunId>,
        taskrun: &JsonMap,
    ) -> Result<Value, String> {
        if taskrun.is_empty() {
            return self.render_value(value, task, run);
        }
        let mut context = self.context(task, run, Needs::of_value(value));
        if let Some(variables) = context.as_object_mut() {
            let entry = variables
                .entry("taskrun")
                .or_insert_with(|| Value::Object(JsonMap::new()));
            if let Some(map) = entry.as_object_mut() {
                map.extend(taskrun.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let services = At {
            inner: self.services,
            now: self.now,
        };
        self.expr
            .render_value(value, &context, &services)
            .map_err(|error| error.to_string())
    }

    pub(crate) fn log(&mut self, level: LogLevel, run: Option<&TaskRunId>, message: String) {
        self.actions.push(Action::Log {
            level,
            task_run_id: run.cloned(),
            message,
        });
    }

    /// Appends a new `CREATED` task run for `resolved`.
    pub(crate) fn create(&mut self, resolved: &Resolved<'_>, force_execution: bool) -> TaskRunId {
        let id = self.ids.task_run_id();
        let mut run = TaskRun::new(id.clone(), self.exec, resolved.task.id.clone(), self.now)
            .with_parent(resolved.parent.clone())
            .with_value(resolved.value.clone())
            .with_iteration(resolved.iteration);
        if force_execution {
            run.force_execution = Some(true);
        }
        self.exec.add_task_run(run);
        if self.sync_index() {
            self.track.all = true;
        }
        if self.exec.state.current() == StateType::Created {
            self.exec.transition(StateType::Running, self.now);
        }
        id
    }

    /// Appends a task run created by a worker (a WorkingDirectory child, spec §6 `dynamic`),
    /// `RUNNING` from the start: the worker already started it.
    pub(crate) fn add_dynamic(&mut self, id: TaskRunId, task_id: &str, parent: &TaskRunId) {
        let mut run = TaskRun::new(id, self.exec, task_id, self.now)
            .with_parent(Some(parent.clone()))
            .with_state(StateType::Running, self.now);
        run.dynamic = Some(true);
        self.exec.add_task_run(run);
        if self.sync_index() {
            self.track.all = true;
        }
    }

    /// Moves a task run to `state` (no-op for an unknown id).
    pub(crate) fn set_state(&mut self, id: &TaskRunId, state: StateType) {
        let now = self.now;
        if let Some(run) = self.run_mut(id) {
            run.transition(state, now);
        }
    }

    /// Fails a task run the executor could not handle, with an ERROR log line saying why.
    pub(crate) fn fail(&mut self, id: &TaskRunId, message: String) {
        self.log(LogLevel::Error, Some(id), message);
        self.set_state(id, StateType::Failed);
    }

    /// Sets (merges) outputs on a task run.
    pub(crate) fn merge_outputs(&mut self, id: &TaskRunId, outputs: JsonMap) {
        if let Some(run) = self.run_mut(id) {
            let mut merged = run.outputs.take().unwrap_or_default();
            saker_core::variables::merge(&mut merged, outputs);
            run.outputs = Some(merged);
        }
    }

    /// Whether every direct child of `parent` is terminated.
    pub(crate) fn children_terminated(&self, parent: &TaskRunId) -> bool {
        self.runs()
            .children(Some(parent.as_str()))
            .all(|run| run.state.is_terminated())
    }

    /// Every non-terminated descendant of `parent` takes `state` (a terminated flowable does
    /// not wait for its remaining children).
    pub(crate) fn force_descendants(&mut self, parent: &TaskRunId, state: StateType) {
        let children: Vec<TaskRunId> = self
            .runs()
            .children(Some(parent.as_str()))
            .map(|run| run.id.clone())
            .collect();
        for child in children {
            self.force_descendants(&child, state);
            let now = self.now;
            if let Some(run) = self.run_mut(&child)
                && !run.state.is_terminated()
            {
                run.transition(state, now);
            }
        }
    }

    /// Ids of the task runs currently in a state accepted by `predicate`, in list order.
    pub(crate) fn runs_in(&self, predicate: impl Fn(&TaskRun) -> bool) -> Vec<TaskRunId> {
        self.exec
            .task_run_list
            .iter()
            .filter(|run| predicate(run))
            .map(|run| run.id.clone())
            .collect()
    }
}

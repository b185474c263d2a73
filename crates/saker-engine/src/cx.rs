//! The working state of one `apply` call: the execution being mutated, the flow, the injected
//! time/ids/services, and the actions collected so far (Restate's `ActionCollector`).

use saker_core::{Execution, IdSource, Instant, JsonMap, StateType, TaskRun, TaskRunId};
use saker_expr::Value;
use saker_flow::{Flow, Task};

use crate::action::{Action, LogLevel};
use crate::context::render_context;
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

pub(crate) struct Cx<'a> {
    pub(crate) flow: &'a Flow,
    pub(crate) index: FlowIndex<'a>,
    pub(crate) exec: &'a mut Execution,
    pub(crate) now: Instant,
    pub(crate) ids: &'a mut dyn IdSource,
    pub(crate) services: &'a dyn EngineServices,
    pub(crate) expr: &'a saker_expr::Engine,
    pub(crate) actions: Vec<Action>,
}

impl<'a> Cx<'a> {
    pub(crate) fn run(&self, id: &TaskRunId) -> Option<&TaskRun> {
        self.exec.find_task_run(id.as_str())
    }

    pub(crate) fn run_mut(&mut self, id: &TaskRunId) -> Option<&mut TaskRun> {
        self.exec.find_task_run_mut(id.as_str())
    }

    /// The task of a task run (`None` for a run of a task no longer in the flow).
    pub(crate) fn task_of(&self, run: &TaskRun) -> Option<&'a Task> {
        self.index.task(&run.task_id)
    }

    fn context(&self, task: Option<&Task>, run: Option<&TaskRunId>) -> Value {
        let run = run.and_then(|id| self.run(id));
        render_context(self.flow, self.exec, task, run, self.services)
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
            .render(template, &self.context(task, run), &services)
            .map_err(|error| format!("failed to render `{template}`: {error}"))
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
            .render_value(value, &self.context(task, run), &services)
            .map_err(|error| format!("failed to render {value}: {error}"))
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
        if self.exec.state.current() == StateType::Created {
            self.exec.transition(StateType::Running, self.now);
        }
        id
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
        self.exec
            .children(Some(parent.as_str()))
            .all(|run| run.state.is_terminated())
    }

    /// Every non-terminated descendant of `parent` takes `state` (a terminated flowable does
    /// not wait for its remaining children).
    pub(crate) fn force_descendants(&mut self, parent: &TaskRunId, state: StateType) {
        let children: Vec<TaskRunId> = self
            .exec
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

//! The execution document: [`Execution`], its flat [`TaskRun`] list and their attempts.
//!
//! Field names, order and omission rules follow Kestra's Jackson output (`NON_NULL`
//! inclusion): absent options are omitted, `inputs`/`outputs` are omitted when empty
//! (`NON_EMPTY`), `deleted` is always written, and a task run's `outputs` is always written,
//! as `null` when the task produced none (Kestra marks it `@JsonInclude(ALWAYS)` so expressions
//! can tell "no outputs" from "empty outputs").
//!
//! All mutators take the current instant from the caller; nothing here reads a clock.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{ExecutionId, FlowRef, TaskRunId};
use crate::label::{self, Label};
use crate::state::{State, StateType};
use crate::time::Instant;
use crate::variables;

/// A JSON object (inputs, outputs, variables).
pub type JsonMap = Map<String, Value>;

/// A task run id that is not in the execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Can't find taskrun with taskrunId '{task_run_id}' on execution '{execution_id}'")]
pub struct TaskRunNotFound {
    pub execution_id: ExecutionId,
    pub task_run_id: TaskRunId,
}

/// Why an execution exists: normal run (`null` in JSON), test or playground.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionKind {
    /// Kestra never stores NORMAL (it writes null); kept so such documents still parse.
    Normal,
    Test,
    Playground,
}

/// What created the execution: a trigger, or the parent Subflow task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionTrigger {
    pub id: String,
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
}

impl ExecutionTrigger {
    pub fn new(id: impl Into<String>, trigger_type: impl Into<String>, variables: JsonMap) -> Self {
        ExecutionTrigger {
            id: id.into(),
            trigger_type: trigger_type.into(),
            variables: Some(variables),
            log_file: None,
        }
    }
}

/// Restart/replay bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionMetadata {
    /// 1 for a new execution, +1 on each restart, replay or resume.
    #[serde(default = "one")]
    pub attempt_number: u32,
    #[serde(
        default,
        with = "crate::time::iso_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_created_date: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_started_by: Option<String>,
}

fn one() -> u32 {
    1
}

impl Default for ExecutionMetadata {
    fn default() -> Self {
        ExecutionMetadata {
            attempt_number: 1,
            original_created_date: None,
            execution_started_by: None,
        }
    }
}

impl ExecutionMetadata {
    /// Metadata of a brand-new execution created at `now`.
    pub fn new(now: Instant) -> Self {
        ExecutionMetadata {
            original_created_date: Some(now),
            ..Default::default()
        }
    }

    /// The metadata of the next attempt (restart, replay, resume).
    #[must_use]
    pub fn next_attempt(&self) -> Self {
        ExecutionMetadata {
            attempt_number: self.attempt_number + 1,
            ..self.clone()
        }
    }
}

/// A requested breakpoint: `taskId` or `taskId.value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakpoint {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Breakpoint {
    /// Parses `taskId[.value]`, splitting on the first dot after the first character.
    pub fn parse(text: &str) -> Breakpoint {
        match text.find('.') {
            Some(dot) if dot > 0 => Breakpoint {
                id: text[..dot].to_owned(),
                value: Some(text[dot + 1..].to_owned()),
            },
            _ => Breakpoint {
                id: text.to_owned(),
                value: None,
            },
        }
    }

    /// Whether a task run is stopped by this breakpoint.
    pub fn matches(&self, task_run: &TaskRun) -> bool {
        self.id == task_run.task_id
            && (self.value.is_none() || self.value.as_deref() == task_run.value.as_deref())
    }
}

/// One worker run of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunAttempt {
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
}

impl TaskRunAttempt {
    pub fn new(state: State) -> Self {
        TaskRunAttempt {
            state,
            worker_id: None,
            log_file: None,
        }
    }

    #[must_use]
    pub fn with_worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.worker_id = Some(worker_id.into());
        self
    }

    #[must_use]
    pub fn with_state(mut self, state: StateType, now: Instant) -> Self {
        self.state.transition(state, now);
        self
    }
}

/// One run of one task (one per iteration value; retries in place add attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub id: TaskRunId,
    pub execution_id: ExecutionId,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    /// Task run of the enclosing flowable; `None` at the top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_run_id: Option<TaskRunId>,
    /// Iteration value (ForEach and friends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<TaskRunAttempt>,
    /// Always serialized: `null` means the task produced no outputs (not even `{}`).
    #[serde(default)]
    pub outputs: Option<JsonMap>,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i32>,
    /// Set on task runs reported by a worker (WorkingDirectory children).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    /// Set on afterExecution runs, which run even when the execution was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_execution: Option<bool>,
}

impl TaskRun {
    /// A new `CREATED` task run of `task_id` in `execution` (Kestra's `TaskRun.of`). Chain
    /// [`TaskRun::with_parent`], [`TaskRun::with_value`], [`TaskRun::with_iteration`] as needed.
    pub fn new(
        id: TaskRunId,
        execution: &Execution,
        task_id: impl Into<String>,
        now: Instant,
    ) -> Self {
        TaskRun {
            tenant_id: execution.tenant_id.clone(),
            id,
            execution_id: execution.id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            task_id: task_id.into(),
            parent_task_run_id: None,
            value: None,
            attempts: Vec::new(),
            outputs: None,
            state: State::new(now),
            iteration: None,
            dynamic: None,
            force_execution: None,
        }
    }

    #[must_use]
    pub fn with_parent(mut self, parent: Option<TaskRunId>) -> Self {
        self.parent_task_run_id = parent;
        self
    }

    #[must_use]
    pub fn with_value(mut self, value: Option<String>) -> Self {
        self.value = value;
        self
    }

    #[must_use]
    pub fn with_iteration(mut self, iteration: Option<i32>) -> Self {
        self.iteration = iteration;
        self
    }

    /// Moves the task run to `state` (no-op if already there). Returns whether it changed.
    pub fn transition(&mut self, state: StateType, now: Instant) -> bool {
        self.state.transition(state, now)
    }

    /// [`TaskRun::transition`] by value (Kestra's `withState`).
    #[must_use]
    pub fn with_state(mut self, state: StateType, now: Instant) -> Self {
        self.transition(state, now);
        self
    }

    /// Moves the task run and its last attempt to `state`, creating an attempt that starts in
    /// `state` when there is none (used for executor-side tasks, and "mark as").
    pub fn transition_with_attempt(&mut self, state: StateType, now: Instant) {
        match self.attempts.last_mut() {
            Some(last) => {
                last.state.transition(state, now);
            }
            None => self
                .attempts
                .push(TaskRunAttempt::new(State::of(state, now))),
        }
        self.state.transition(state, now);
    }

    /// Appends a `FAILED` attempt and fails the task run (Kestra's `fail()`, used when the
    /// task could not even be sent to a worker).
    pub fn fail(&mut self, now: Instant) {
        self.attempts
            .push(TaskRunAttempt::new(State::of(StateType::Failed, now)));
        self.state.transition(StateType::Failed, now);
    }

    /// `taskrun.attemptsCount`: the number of attempts so far.
    pub fn attempts_count(&self) -> usize {
        self.attempts.len()
    }

    pub fn last_attempt(&self) -> Option<&TaskRunAttempt> {
        self.attempts.last()
    }

    pub fn last_attempt_mut(&mut self) -> Option<&mut TaskRunAttempt> {
        self.attempts.last_mut()
    }

    /// Same task id, same parent (`None` = top level) and same iteration value.
    pub fn matches(&self, task_id: &str, parent: Option<&str>, value: Option<&str>) -> bool {
        self.task_id == task_id
            && self.parent_task_run_id.as_ref().map(TaskRunId::as_str) == parent
            && self.value.as_deref() == value
    }

    /// Same id, value and iteration (Kestra's `isSame`).
    pub fn is_same(&self, other: &TaskRun) -> bool {
        self.id == other.id && self.value == other.value && self.iteration == other.iteration
    }

    /// The `taskrun` expression variable: `{id, startDate, attemptsCount, parentId?, value?,
    /// iteration?}`.
    pub fn variables(&self) -> JsonMap {
        variables::taskrun(self)
    }
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub id: ExecutionId,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    /// Flat list, in creation order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_run_list: Vec<TaskRun>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: JsonMap,
    /// Flow outputs, once ended.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: JsonMap,
    /// Always written, `[]` when empty (Kestra 1.x's getter returns an empty list for null).
    #[serde(default, with = "crate::label::labels_list_or_map")]
    pub labels: Vec<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<JsonMap>,
    pub state: State,
    /// The execution this one was created from (replay, retry as new execution, subflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<ExecutionId>,
    /// First execution of a replay chain (own id otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_id: Option<ExecutionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<ExecutionTrigger>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub metadata: ExecutionMetadata,
    /// While in the future, the execution stays CREATED.
    #[serde(
        default,
        with = "crate::time::iso_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule_date: Option<Instant>,
    /// `None` for normal executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ExecutionKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakpoints: Vec<Breakpoint>,
}

impl Execution {
    /// A new `CREATED` execution of `flow` (Kestra's `Execution.newExecution`).
    ///
    /// Labels are the flow's labels without `system.*` ones, then `labels` (which may carry
    /// system labels, e.g. an upstream correlation id), deduplicated by key; a
    /// `system.correlationId` equal to the execution id is added when none is given.
    pub fn new(
        id: ExecutionId,
        flow: &FlowRef,
        flow_labels: &[Label],
        labels: Vec<Label>,
        now: Instant,
    ) -> Self {
        let mut all: Vec<Label> = flow_labels
            .iter()
            .filter(|l| !l.is_system())
            .cloned()
            .collect();
        all.extend(labels);
        if !all.iter().any(|l| l.key == label::CORRELATION_ID) {
            all.push(Label::new(label::CORRELATION_ID, id.as_str()));
        }
        Execution {
            tenant_id: None,
            original_id: Some(id.clone()),
            id,
            namespace: flow.namespace.clone(),
            flow_id: flow.id.clone(),
            flow_revision: flow.revision,
            task_run_list: Vec::new(),
            inputs: Map::new(),
            outputs: Map::new(),
            labels: label::deduplicate(all),
            variables: None,
            state: State::new(now),
            parent_id: None,
            trigger: None,
            deleted: false,
            metadata: ExecutionMetadata::new(now),
            schedule_date: None,
            kind: None,
            breakpoints: Vec::new(),
        }
    }

    /// The execution without its task runs, as stores keep it in their header row (field by field, so the
    /// task-run list is never copied and a new field is a compile error here).
    pub fn header(&self) -> Execution {
        let Execution {
            tenant_id,
            id,
            namespace,
            flow_id,
            flow_revision,
            task_run_list: _,
            inputs,
            outputs,
            labels,
            variables,
            state,
            parent_id,
            original_id,
            trigger,
            deleted,
            metadata,
            schedule_date,
            kind,
            breakpoints,
        } = self;
        Execution {
            tenant_id: tenant_id.clone(),
            id: id.clone(),
            namespace: namespace.clone(),
            flow_id: flow_id.clone(),
            flow_revision: *flow_revision,
            task_run_list: Vec::new(),
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            labels: labels.clone(),
            variables: variables.clone(),
            state: state.clone(),
            parent_id: parent_id.clone(),
            original_id: original_id.clone(),
            trigger: trigger.clone(),
            deleted: *deleted,
            metadata: metadata.clone(),
            schedule_date: *schedule_date,
            kind: *kind,
            breakpoints: breakpoints.clone(),
        }
    }

    /// The flow this execution runs.
    pub fn flow_ref(&self) -> FlowRef {
        FlowRef::new(
            self.namespace.clone(),
            self.flow_id.clone(),
            self.flow_revision,
        )
    }

    /// Moves the execution to `state` (no-op if already there). Returns whether it changed.
    pub fn transition(&mut self, state: StateType, now: Instant) -> bool {
        self.state.transition(state, now)
    }

    /// [`Execution::transition`] by value.
    #[must_use]
    pub fn with_state(mut self, state: StateType, now: Instant) -> Self {
        self.transition(state, now);
        self
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.value.as_str())
    }

    /// Replaces all labels, deduplicated by key.
    pub fn set_labels(&mut self, labels: impl IntoIterator<Item = Label>) {
        self.labels = label::deduplicate(labels);
    }

    /// Adds a label unless one with the same key exists (Kestra's `addLabel`).
    pub fn add_label(&mut self, new: Label) {
        if !self.labels.iter().any(|l| l.key == new.key) {
            self.labels.push(new);
        }
    }

    /// Adds or overwrites a label in place.
    pub fn put_label(&mut self, new: Label) {
        match self.labels.iter_mut().find(|l| l.key == new.key) {
            Some(existing) => existing.value = new.value,
            None => self.labels.push(new),
        }
    }

    pub fn find_task_run(&self, id: &str) -> Option<&TaskRun> {
        self.task_run_list.iter().find(|t| t.id == id)
    }

    pub fn find_task_run_mut(&mut self, id: &str) -> Option<&mut TaskRun> {
        self.task_run_list.iter_mut().find(|t| t.id == id)
    }

    /// Like [`Execution::find_task_run`] but with Kestra's error for a missing id.
    pub fn task_run(&self, id: &str) -> Result<&TaskRun, TaskRunNotFound> {
        self.find_task_run(id).ok_or_else(|| self.not_found(id))
    }

    /// Appends a new task run.
    pub fn add_task_run(&mut self, task_run: TaskRun) {
        self.task_run_list.push(task_run);
    }

    /// Replaces the task run with the same id, keeping its position (Kestra's `withTaskRun`).
    pub fn replace_task_run(&mut self, task_run: TaskRun) -> Result<(), TaskRunNotFound> {
        match self.task_run_list.iter_mut().find(|t| t.id == task_run.id) {
            Some(slot) => {
                *slot = task_run;
                Ok(())
            }
            None => Err(self.not_found(task_run.id.as_str())),
        }
    }

    /// All task runs of a task id, in creation order.
    pub fn task_runs_by_task_id<'a>(
        &'a self,
        task_id: &'a str,
    ) -> impl Iterator<Item = &'a TaskRun> {
        self.task_run_list
            .iter()
            .filter(move |t| t.task_id == task_id)
    }

    /// Task runs of `task_id` under `parent` (`None` = top level) with iteration `value`: the
    /// runs the next-resolution algorithms look at (same task id, same parent, same value).
    pub fn task_runs_matching<'a>(
        &'a self,
        task_id: &'a str,
        parent: Option<&'a str>,
        value: Option<&'a str>,
    ) -> impl Iterator<Item = &'a TaskRun> {
        self.task_run_list
            .iter()
            .filter(move |t| t.matches(task_id, parent, value))
    }

    /// The first of [`Execution::task_runs_matching`].
    pub fn find_task_run_matching(
        &self,
        task_id: &str,
        parent: Option<&str>,
        value: Option<&str>,
    ) -> Option<&TaskRun> {
        self.task_run_list
            .iter()
            .find(|t| t.matches(task_id, parent, value))
    }

    /// The run of `task_id` whose iteration values (ancestors' then its own, outermost first)
    /// equal `values` (Kestra's `findTaskRunByTaskIdAndValue`).
    pub fn find_task_run_by_task_id_and_values(
        &self,
        task_id: &str,
        values: &[&str],
    ) -> Option<&TaskRun> {
        self.task_run_list
            .iter()
            .find(|t| t.task_id == task_id && self.parents_values(t, true) == values)
    }

    /// Direct children of `parent` (`None` = top-level task runs), in creation order.
    pub fn children<'a>(&'a self, parent: Option<&'a str>) -> impl Iterator<Item = &'a TaskRun> {
        self.task_run_list
            .iter()
            .filter(move |t| t.parent_task_run_id.as_ref().map(TaskRunId::as_str) == parent)
    }

    /// Ancestors of a task run, outermost first, without the task run itself. Stops at a
    /// missing parent (and at a cycle, which a valid document never has).
    pub fn find_parents<'a>(&'a self, task_run: &TaskRun) -> Vec<&'a TaskRun> {
        let mut parents: Vec<&TaskRun> = Vec::new();
        let mut next = task_run.parent_task_run_id.as_ref();
        while let Some(parent_id) = next {
            let Some(parent) = self.find_task_run(parent_id.as_str()) else {
                break;
            };
            if parents.iter().any(|p| p.id == parent.id) || parent.id == task_run.id {
                break;
            }
            parents.push(parent);
            next = parent.parent_task_run_id.as_ref();
        }
        parents.reverse();
        parents
    }

    /// Iteration values of the ancestors (and of the task run itself when `with_current`),
    /// outermost first.
    pub fn parents_values<'a>(&'a self, task_run: &'a TaskRun, with_current: bool) -> Vec<&'a str> {
        let mut values: Vec<&str> = self
            .find_parents(task_run)
            .into_iter()
            .filter_map(|t| t.value.as_deref())
            .collect();
        if with_current {
            values.extend(task_run.value.as_deref());
        }
        values
    }

    /// The last task run that is not terminated.
    pub fn find_last_not_terminated(&self) -> Option<&TaskRun> {
        self.task_run_list
            .iter()
            .rev()
            .find(|t| !t.state.is_terminated())
    }

    /// Whether some task run is in a state accepted by `predicate`.
    pub fn has_task_run_in(&self, predicate: impl Fn(StateType) -> bool) -> bool {
        self.task_run_list
            .iter()
            .any(|t| predicate(t.state.current()))
    }

    /// The breakpoint that stops `task_run`, if any.
    pub fn breakpoint_for(&self, task_run: &TaskRun) -> Option<&Breakpoint> {
        self.breakpoints.iter().find(|b| b.matches(task_run))
    }

    /// The `outputs` expression variable (spec §7.4): task outputs by task id, nested under
    /// iteration values.
    pub fn outputs_variable(&self) -> JsonMap {
        variables::outputs(&self.task_run_list)
    }

    /// The `tasks` expression variable: `{taskId: {state}}` or `{taskId: {value: {state}}}`.
    pub fn tasks_variable(&self) -> JsonMap {
        variables::tasks(&self.task_run_list)
    }

    /// The `parents` expression variable for a task run (nearest ancestor first); `parent` is
    /// its first element.
    pub fn parents_variable(&self, task_run: &TaskRun) -> Vec<Value> {
        variables::parents(&self.find_parents(task_run))
    }

    /// The `execution` expression variable: `{id, state, startDate, originalId?, outputs?}`.
    pub fn execution_variable(&self) -> JsonMap {
        variables::execution(self)
    }

    /// The `labels` expression variable (dotted keys nested).
    pub fn labels_variable(&self) -> JsonMap {
        label::labels_to_nested_map(&self.labels)
    }

    fn not_found(&self, task_run_id: &str) -> TaskRunNotFound {
        TaskRunNotFound {
            execution_id: self.id.clone(),
            task_run_id: TaskRunId::new(task_run_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IdSource, SequentialIds};
    use chrono::{TimeDelta, TimeZone, Utc};
    use serde_json::json;

    fn at(millis: i64) -> Instant {
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap() + TimeDelta::milliseconds(millis)
    }

    fn object(value: Value) -> JsonMap {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// `tasks: [ForEach each(values [a, b]) -> [Sequential seq -> [Return r]], Log show]`,
    /// run to success with deterministic ids and dates.
    fn for_each_execution() -> Execution {
        let mut ids = SequentialIds::new(42);
        let flow = FlowRef::new("company.team", "demo", 3);
        let mut execution = Execution::new(
            ids.execution_id(),
            &flow,
            &[
                Label::new("team", "data"),
                Label::new("system.readOnly", "true"),
            ],
            vec![Label::new("team", "platform")],
            at(10),
        );
        execution.inputs = object(json!({"day": "2025-01-06"}));
        execution.trigger = Some(ExecutionTrigger::new(
            "daily",
            "io.kestra.plugin.core.trigger.Schedule",
            object(json!({"date": "2025-01-06T09:00:00Z"})),
        ));
        execution.transition(StateType::Running, at(50));

        let mut each = TaskRun::new(ids.task_run_id(), &execution, "each", at(60))
            .with_state(StateType::Running, at(61));
        let mut clock = 100;
        let mut children = Vec::new();
        for (iteration, value) in ["a", "b"].into_iter().enumerate() {
            let seq = TaskRun::new(ids.task_run_id(), &execution, "seq", at(clock))
                .with_parent(Some(each.id.clone()))
                .with_value(Some(value.to_owned()))
                .with_iteration(Some(iteration as i32))
                .with_state(StateType::Running, at(clock + 1));
            let mut r = TaskRun::new(ids.task_run_id(), &execution, "r", at(clock + 2))
                .with_parent(Some(seq.id.clone()));
            r.attempts.push(
                TaskRunAttempt::new(State::of(StateType::Running, at(clock + 3)))
                    .with_worker_id("w1")
                    .with_state(StateType::Success, at(clock + 250)),
            );
            r.transition(StateType::Running, at(clock + 3));
            r.transition(StateType::Success, at(clock + 250));
            r.outputs = Some(object(json!({"value": format!("{value}-r")})));
            let mut seq = seq.with_state(StateType::Success, at(clock + 260));
            seq.outputs = Some(Map::new());
            children.push(seq);
            children.push(r);
            clock += 1000;
        }
        each.transition(StateType::Success, at(clock));
        each.outputs = Some(Map::new());
        execution.add_task_run(each);
        for child in children {
            execution.add_task_run(child);
        }
        let show = TaskRun::new(ids.task_run_id(), &execution, "show", at(clock + 10));
        execution.add_task_run(show);
        execution
    }

    #[test]
    fn new_execution_labels_and_metadata() {
        let execution = for_each_execution();
        assert_eq!(
            execution.labels,
            [
                Label::new("team", "platform"),
                Label::new(label::CORRELATION_ID, execution.id.as_str()),
            ]
        );
        assert_eq!(execution.original_id.as_ref(), Some(&execution.id));
        assert_eq!(execution.metadata.attempt_number, 1);
        assert_eq!(execution.metadata.original_created_date, Some(at(10)));
        assert_eq!(execution.metadata.next_attempt().attempt_number, 2);

        let upstream = Execution::new(
            ExecutionId::new("child"),
            &FlowRef::new("ns", "f", 1),
            &[],
            vec![Label::new(label::CORRELATION_ID, "upstream")],
            at(0),
        );
        assert_eq!(upstream.label(label::CORRELATION_ID), Some("upstream"));
    }

    #[test]
    fn execution_json_snapshot() {
        insta::assert_json_snapshot!(for_each_execution());
    }

    #[test]
    fn outputs_of_the_fixture() {
        let execution = for_each_execution();
        assert_eq!(
            Value::Object(execution.outputs_variable()),
            json!({
                "each": {},
                "seq": {"a": {}, "b": {}},
                "r": {"a": {"value": "a-r"}, "b": {"value": "b-r"}}
            })
        );
        let r_b = execution
            .find_task_run_by_task_id_and_values("r", &["b"])
            .unwrap();
        // `seq` has empty outputs, which Kestra leaves out of `parents`; `each` has neither.
        assert_eq!(
            execution.parents_variable(r_b),
            [json!({"taskrun": {"value": "b"}})]
        );
    }

    #[test]
    fn lookups() {
        let execution = for_each_execution();
        let each = execution.task_runs_by_task_id("each").next().unwrap();
        let top: Vec<_> = execution
            .children(None)
            .map(|t| t.task_id.as_str())
            .collect();
        assert_eq!(top, ["each", "show"]);
        let seqs: Vec<_> = execution
            .children(Some(each.id.as_str()))
            .map(|t| t.value.as_deref().unwrap())
            .collect();
        assert_eq!(seqs, ["a", "b"]);

        let seq_b = execution
            .find_task_run_matching("seq", Some(each.id.as_str()), Some("b"))
            .unwrap();
        assert_eq!(seq_b.iteration, Some(1));
        assert!(
            execution
                .find_task_run_matching("seq", None, Some("b"))
                .is_none()
        );

        let r_b = execution
            .find_task_run_by_task_id_and_values("r", &["b"])
            .unwrap();
        assert_eq!(r_b.parent_task_run_id.as_ref(), Some(&seq_b.id));
        let parents: Vec<_> = execution
            .find_parents(r_b)
            .iter()
            .map(|t| t.task_id.as_str())
            .collect();
        assert_eq!(parents, ["each", "seq"]);
        assert_eq!(execution.parents_values(r_b, true), ["b"]);
        assert_eq!(r_b.attempts_count(), 1);
        assert_eq!(r_b.last_attempt().unwrap().worker_id.as_deref(), Some("w1"));

        assert_eq!(
            execution.find_last_not_terminated().unwrap().task_id,
            "show"
        );
        assert!(execution.has_task_run_in(StateType::is_created));
        assert!(!execution.has_task_run_in(StateType::is_failed));
        assert!(execution.task_run("missing").is_err());
    }

    #[test]
    fn replace_task_run_keeps_position() {
        let mut execution = for_each_execution();
        let mut show = execution
            .task_runs_by_task_id("show")
            .next()
            .unwrap()
            .clone();
        show.transition_with_attempt(StateType::Success, at(9000));
        execution.replace_task_run(show.clone()).unwrap();
        let last = execution.task_run_list.last().unwrap();
        assert_eq!(last.state.current(), StateType::Success);
        assert_eq!(last.attempts.len(), 1);
        assert_eq!(last.attempts[0].state.histories().len(), 1);

        let stranger = TaskRun::new(TaskRunId::new("nope"), &execution, "x", at(0));
        let error = execution.replace_task_run(stranger).unwrap_err();
        assert_eq!(error.task_run_id, "nope");
        assert!(
            error
                .to_string()
                .contains("Can't find taskrun with taskrunId 'nope'")
        );
    }

    #[test]
    fn fail_adds_a_failed_attempt() {
        let execution = for_each_execution();
        let mut run = TaskRun::new(TaskRunId::new("t"), &execution, "x", at(0));
        run.fail(at(5));
        assert_eq!(run.state.current(), StateType::Failed);
        assert_eq!(run.attempts_count(), 1);
        assert_eq!(run.attempts[0].state.current(), StateType::Failed);
        run.transition_with_attempt(StateType::Success, at(6));
        assert_eq!(run.attempts[0].state.current(), StateType::Success);
        assert_eq!(run.attempts_count(), 1);
    }

    #[test]
    fn breakpoints() {
        let execution = for_each_execution();
        let r_a = execution
            .find_task_run_by_task_id_and_values("r", &["a"])
            .unwrap();
        let seq_a = execution
            .find_task_run_by_task_id_and_values("seq", &["a"])
            .unwrap();
        assert_eq!(
            Breakpoint::parse("seq.a"),
            Breakpoint {
                id: "seq".into(),
                value: Some("a".into())
            }
        );
        assert_eq!(Breakpoint::parse(".x").id, ".x");
        assert!(Breakpoint::parse("seq.a").matches(seq_a));
        assert!(!Breakpoint::parse("seq.b").matches(seq_a));
        assert!(Breakpoint::parse("r").matches(r_a));
        let mut with = execution.clone();
        with.breakpoints.push(Breakpoint::parse("r"));
        assert!(with.breakpoint_for(r_a).is_some());
        assert!(execution.breakpoint_for(r_a).is_none());
    }

    /// A hand-written document in Kestra's shape (field order and omissions as Kestra's API
    /// prints them) must come back byte-identical.
    #[test]
    fn kestra_document_round_trips() {
        let kestra = r#"{
          "id": "6WLkqX2yAbCdEfGhIjKlMn", "namespace": "company.team", "flowId": "demo", "flowRevision": 3,
          "taskRunList": [
            {"id": "1aaXq2yAbCdEfGhIjKlMn0", "executionId": "6WLkqX2yAbCdEfGhIjKlMn", "namespace": "company.team",
             "flowId": "demo", "taskId": "each", "outputs": {},
             "state": {"current": "SUCCESS", "histories": [
                {"state": "CREATED", "date": "2025-01-06T09:00:00.060Z"},
                {"state": "RUNNING", "date": "2025-01-06T09:00:00.061Z"},
                {"state": "SUCCESS", "date": "2025-01-06T09:00:02.200Z"}],
              "duration": "PT2.14S", "startDate": "2025-01-06T09:00:00.060Z", "endDate": "2025-01-06T09:00:02.200Z"}},
            {"id": "2bbXq2yAbCdEfGhIjKlMn0", "executionId": "6WLkqX2yAbCdEfGhIjKlMn", "namespace": "company.team",
             "flowId": "demo", "taskId": "r", "parentTaskRunId": "1aaXq2yAbCdEfGhIjKlMn0", "value": "a",
             "attempts": [{"state": {"current": "SUCCESS", "histories": [
                {"state": "RUNNING", "date": "2025-01-06T09:00:00.100Z"},
                {"state": "SUCCESS", "date": "2025-01-06T09:00:00.350Z"}],
              "duration": "PT0.25S", "startDate": "2025-01-06T09:00:00.100Z", "endDate": "2025-01-06T09:00:00.350Z"},
              "workerId": "w1"}],
             "outputs": {"value": "a"},
             "state": {"current": "SUCCESS", "histories": [
                {"state": "CREATED", "date": "2025-01-06T09:00:00.090Z"},
                {"state": "RUNNING", "date": "2025-01-06T09:00:00.100Z"},
                {"state": "SUCCESS", "date": "2025-01-06T09:00:00.350Z"}],
              "duration": "PT0.26S", "startDate": "2025-01-06T09:00:00.090Z", "endDate": "2025-01-06T09:00:00.350Z"},
             "iteration": 0},
            {"id": "3ccXq2yAbCdEfGhIjKlMn0", "executionId": "6WLkqX2yAbCdEfGhIjKlMn", "namespace": "company.team",
             "flowId": "demo", "taskId": "late", "outputs": null,
             "state": {"current": "CREATED", "histories": [{"state": "CREATED", "date": "2025-01-06T09:00:02.300Z"}],
              "startDate": "2025-01-06T09:00:02.300Z"}}
          ],
          "inputs": {"day": "2025-01-06", "nested": {"a": 1}},
          "outputs": {"final": "a"},
          "labels": [{"key": "team", "value": "data"}, {"key": "system.correlationId", "value": "6WLkqX2yAbCdEfGhIjKlMn"}],
          "variables": {"greeting": "hello"},
          "state": {"current": "RUNNING", "histories": [
              {"state": "CREATED", "date": "2025-01-06T09:00:00.010Z"},
              {"state": "RUNNING", "date": "2025-01-06T09:00:00.050Z"}],
            "startDate": "2025-01-06T09:00:00.010Z"},
          "parentId": "0zzXq2yAbCdEfGhIjKlMn0",
          "originalId": "0zzXq2yAbCdEfGhIjKlMn0",
          "trigger": {"id": "daily", "type": "io.kestra.plugin.core.trigger.Schedule",
                      "variables": {"date": "2025-01-06T09:00:00Z", "next": "2025-01-07T09:00:00Z"}},
          "deleted": false,
          "metadata": {"attemptNumber": 2, "originalCreatedDate": "2025-01-06T09:00:00.010Z"},
          "scheduleDate": "2025-01-06T09:00:00Z",
          "kind": "TEST",
          "breakpoints": [{"id": "r", "value": "a"}, {"id": "late"}]
        }"#;
        let expected: Value = serde_json::from_str(kestra).unwrap();
        let execution: Execution = serde_json::from_str(kestra).unwrap();
        assert_eq!(execution.task_run_list.len(), 3);
        assert_eq!(execution.task_run_list[2].outputs, None);
        assert_eq!(execution.metadata.attempt_number, 2);
        assert_eq!(execution.kind, Some(ExecutionKind::Test));
        // Compare serialized text so field order counts too.
        assert_eq!(
            serde_json::to_string(&execution).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }

    #[test]
    fn minimal_and_legacy_documents_parse() {
        let execution: Execution = serde_json::from_value(json!({
            "id": "x", "namespace": "ns", "flowId": "f", "flowRevision": 1,
            "labels": {"team": "data"},
            "state": {"current": "CREATED", "histories": [{"state": "CREATED", "date": "2025-01-06T09:00:00Z"}]}
        }))
        .unwrap();
        assert_eq!(execution.labels, [Label::new("team", "data")]);
        assert_eq!(execution.metadata.attempt_number, 1);
        let json = serde_json::to_value(&execution).unwrap();
        assert_eq!(json["deleted"], json!(false));
        assert!(json.get("taskRunList").is_none());
        assert!(json.get("inputs").is_none());
        assert!(json.get("parentId").is_none());
    }
}

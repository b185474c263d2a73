//! Replay (a new execution copied from an old one, restarted from a task run) and the change
//! of a task run's state ("mark as SUCCESS/FAILED", which restarts the execution from there).
//! Both are Kestra's `ExecutionService.replay` / `markAs` semantics.

use std::collections::{HashMap, HashSet};

use saker_core::{Execution, ExecutionId, IdSource, Instant, State, StateType, TaskRun, TaskRunId};
use saker_flow::{Flow, TaskKind};

use crate::action::LogLevel;
use crate::cx::Cx;
use crate::flowable::{DAG, EACH_PARALLEL, PARALLEL, PAUSE};
use crate::sla;
use crate::tree::FlowIndex;

/// Why a replay or a change of state cannot be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayError {
    /// No such task run in the execution (HTTP 404).
    UnknownTaskRun(String),
    /// The execution is not in a state that allows it (HTTP 409).
    WrongState(String),
    /// The request itself is invalid (HTTP 422).
    Invalid(String),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::UnknownTaskRun(id) => write!(f, "Task run '{id}' not found"),
            ReplayError::WrongState(m) | ReplayError::Invalid(m) => f.write_str(m),
        }
    }
}

/// The task run and its ancestors, outermost first.
fn chain<'a>(execution: &'a Execution, run: &'a TaskRun) -> Vec<&'a TaskRun> {
    let mut chain = execution.find_parents(run);
    chain.push(run);
    chain
}

/// A flowable's children run one after the other (a later sibling comes "after")?
fn sequential_parent(index: &FlowIndex<'_>, parent: Option<&TaskRun>) -> bool {
    parent
        .and_then(|p| index.task(&p.task_id))
        .is_none_or(|t| !matches!(t.canonical, PARALLEL | EACH_PARALLEL | DAG))
}

/// The state a task run restarted from takes: a flowable resumes its children (RUNNING); a
/// runnable, a Pause or a WorkingDirectory block runs again (RESTARTED).
fn restart_state(index: &FlowIndex<'_>, run: &TaskRun) -> StateType {
    let flowable = index
        .task(&run.task_id)
        .is_some_and(|t| t.kind == TaskKind::Flowable && t.canonical != PAUSE);
    if flowable && run.dynamic != Some(true) {
        StateType::Running
    } else {
        StateType::Restarted
    }
}

/// Kestra's replay: a new execution (`new_id`, `parentId` = the old one, `originalId` kept)
/// with the old one's inputs, labels, variables and trigger. Without `from` it starts over
/// (no task run, CREATED). With `from`, the task runs that precede that task run are copied
/// (new ids), the task run and its ancestors restart, and everything after it is dropped; a
/// task run inside a WorkingDirectory block replays the whole block. `flow` is the revision
/// the new execution runs (its tasks must still hold the copied task runs).
pub fn replay(
    flow: &Flow,
    old: &Execution,
    from: Option<&str>,
    new_id: ExecutionId,
    ids: &mut dyn IdSource,
    now: Instant,
) -> Result<Execution, ReplayError> {
    if !old.state.is_terminated() {
        return Err(ReplayError::WrongState(format!(
            "Execution must be terminated to be replayed (state {})",
            old.state.current()
        )));
    }
    let mut execution = old.header();
    execution.id = new_id.clone();
    execution.parent_id = Some(old.id.clone());
    execution.original_id = old.original_id.clone().or_else(|| Some(old.id.clone()));
    execution.flow_revision = flow.revision.unwrap_or(old.flow_revision);
    execution.metadata = old.metadata.next_attempt();
    execution.outputs.clear();
    execution.schedule_date = None;
    execution.deleted = false;
    let Some(from) = from else {
        execution.state = State::new(now);
        return Ok(execution);
    };
    let index = FlowIndex::new(flow);
    let target = old
        .find_task_run(from)
        .ok_or_else(|| ReplayError::UnknownTaskRun(from.to_owned()))?;
    // Inside a WorkingDirectory block, the block is what runs again.
    let target_chain = chain(old, target);
    let target = target_chain
        .iter()
        .find(|r| {
            index
                .task(&r.task_id)
                .is_some_and(|t| t.kind == TaskKind::WorkingDirectory)
        })
        .copied()
        .unwrap_or(target);
    let target_chain = chain(old, target);
    let restarted: HashSet<&str> = target_chain.iter().map(|r| r.id.as_str()).collect();
    let position: HashMap<&str, usize> = old
        .task_run_list
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let in_handler = |run: &TaskRun| index.get(&run.task_id).is_some_and(|i| i.in_handler);
    let target_in_handler = in_handler(target);
    let kept = |run: &TaskRun| -> bool {
        if restarted.contains(run.id.as_str()) {
            return true;
        }
        if (!target_in_handler && in_handler(run)) || run.force_execution == Some(true) {
            return false;
        }
        let own = chain(old, run);
        let Some(k) = own
            .iter()
            .zip(&target_chain)
            .position(|(a, b)| a.id != b.id)
        else {
            // A descendant of the target (it restarts, so its children go).
            return false;
        };
        let parent = k.checked_sub(1).map(|p| target_chain[p]);
        let after = position.get(own[k].id.as_str()) > position.get(target_chain[k].id.as_str());
        !(after && sequential_parent(&index, parent))
    };
    let mut new_ids: HashMap<&str, TaskRunId> = HashMap::new();
    let copied: Vec<&TaskRun> = old.task_run_list.iter().filter(|r| kept(r)).collect();
    for run in &copied {
        if index.get(&run.task_id).is_none() && run.dynamic != Some(true) {
            return Err(ReplayError::Invalid(format!(
                "task '{}' is not in revision {} of the flow",
                run.task_id, execution.flow_revision
            )));
        }
        new_ids.insert(run.id.as_str(), ids.task_run_id());
    }
    execution.task_run_list = copied
        .into_iter()
        .map(|run| {
            let mut copy = run.clone();
            copy.id = new_ids[run.id.as_str()].clone();
            copy.execution_id = new_id.clone();
            copy.parent_task_run_id = run
                .parent_task_run_id
                .as_ref()
                .and_then(|p| new_ids.get(p.as_str()).cloned());
            if restarted.contains(run.id.as_str()) {
                let state = if run.id == target.id {
                    restart_state(&index, run)
                } else {
                    StateType::Running
                };
                copy.transition(state, now);
            }
            copy
        })
        .collect();
    execution.transition(StateType::Restarted, now);
    Ok(execution)
}

/// States a task run can be changed to: terminal ones.
fn settable(state: StateType) -> bool {
    matches!(
        state,
        StateType::Success
            | StateType::Warning
            | StateType::Failed
            | StateType::Killed
            | StateType::Skipped
    )
}

/// Checks a change of task-run state before it is sent as
/// [`crate::Event::TaskRunStateChanged`]: the execution must be terminated or paused, the task
/// run must exist and not be a WorkingDirectory child, the state must be a final one.
pub fn check_change_state(
    execution: &Execution,
    task_run_id: &str,
    state: StateType,
) -> Result<(), ReplayError> {
    let current = execution.state.current();
    if !current.is_terminated() && current != StateType::Paused {
        return Err(ReplayError::WrongState(format!(
            "Execution must be terminated or paused to change a task run's state (state {current})"
        )));
    }
    let run = execution
        .find_task_run(task_run_id)
        .ok_or_else(|| ReplayError::UnknownTaskRun(task_run_id.to_owned()))?;
    if !settable(state) {
        return Err(ReplayError::Invalid(format!(
            "A task run can only be set to SUCCESS, WARNING, FAILED, KILLED or SKIPPED, not {state}"
        )));
    }
    if run.dynamic == Some(true) {
        return Err(ReplayError::Invalid(format!(
            "Task run '{task_run_id}' belongs to a WorkingDirectory block: change the block's state"
        )));
    }
    Ok(())
}

/// Kestra's `markAs`: the task run takes `state` (its last attempt too), its ancestors resume
/// (RUNNING) and the execution restarts from there. As on restart, errors/finally/
/// afterExecution runs are dropped so they run again at the new end (unless the task run is
/// itself in such a branch); an execution still holding a paused task run stays PAUSED.
pub(crate) fn change_state(cx: &mut Cx<'_>, task_run_id: &TaskRunId, state: StateType) {
    let Some(run) = cx.run(task_run_id).cloned() else {
        cx.log(
            LogLevel::Warn,
            None,
            format!("state change ignored: unknown task run {task_run_id}"),
        );
        return;
    };
    if let Err(e) = check_change_state(cx.exec, task_run_id.as_str(), state) {
        cx.log(
            LogLevel::Warn,
            Some(task_run_id),
            format!("state change ignored: {e}"),
        );
        return;
    }
    let was_terminated = cx.exec.state.is_terminated();
    let target_in_handler = cx.index.get(&run.task_id).is_some_and(|i| i.in_handler);
    if !target_in_handler {
        let mut removed: HashSet<TaskRunId> = HashSet::new();
        for other in &cx.exec.task_run_list {
            let handler = cx.index.get(&other.task_id).is_some_and(|i| i.in_handler);
            let parent_removed = other
                .parent_task_run_id
                .as_ref()
                .is_some_and(|p| removed.contains(p));
            if handler || parent_removed || other.force_execution == Some(true) {
                removed.insert(other.id.clone());
            }
        }
        cx.exec.task_run_list.retain(|r| !removed.contains(&r.id));
    }
    let ancestors: Vec<TaskRunId> = cx
        .exec
        .find_parents(&run)
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let now = cx.now;
    if let Some(run) = cx.run_mut(task_run_id) {
        run.transition(state, now);
        if let Some(last) = run.attempts.last_mut() {
            last.state.transition(state, now);
        }
    }
    for id in ancestors {
        cx.set_state(&id, StateType::Running);
    }
    cx.log(
        LogLevel::Info,
        Some(task_run_id),
        format!("Task run state changed to {state}"),
    );
    if cx.exec.has_task_run_in(|s| s == StateType::Paused) {
        return;
    }
    cx.exec.outputs.clear();
    cx.exec.transition(StateType::Restarted, now);
    if was_terminated {
        let start = cx.exec.state.start_date();
        sla::arm_deadlines(cx, start);
    }
}

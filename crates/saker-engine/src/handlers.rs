//! How each [`Event`] changes the execution before the process pass runs.

use std::collections::HashSet;

use saker_core::{JsonMap, Label, State, StateType, TaskRunAttempt, TaskRunId};
use saker_flow::TaskKind;

use crate::action::{Action, LogLevel};
use crate::cx::Cx;
use crate::event::{Event, TaskRunResult, Timer};
use crate::flowable::{PAUSE, loop_until, pause, working_directory};
use crate::{for_each_item, retry, sla, subflow};

pub(crate) fn handle(cx: &mut Cx<'_>, event: Event) {
    match event {
        Event::Created => {
            if cx.exec.variables.is_none() && !cx.flow.variables.is_empty() {
                cx.exec.variables = Some(cx.flow.variables.clone());
            }
            if let Some(at) = cx.exec.schedule_date.filter(|at| *at > cx.now) {
                cx.actions.push(Action::ArmTimer {
                    at,
                    timer: Timer::ScheduleDue,
                });
            } else {
                let start = cx.exec.state.start_date();
                sla::arm_deadlines(cx, start);
            }
        }
        Event::TaskRunResult(result) => task_run_result(cx, result),
        // LoopUntil timers are armed again by the pass (its settle step); retries here.
        Event::Recovered => rearm_retries(cx),
        Event::TimerFired(Timer::RetryDue { task_run_id }) => retry_due(cx, &task_run_id),
        // The pass starts the execution now that its schedule date is reached; its SLA
        // deadlines count from now.
        Event::TimerFired(Timer::ScheduleDue) => sla::arm_deadlines(cx, cx.now),
        Event::TimerFired(Timer::SlaDue { sla_id }) => sla::deadline(cx, &sla_id),
        Event::TimerFired(Timer::LoopDue {
            task_run_id,
            iteration,
        }) => {
            loop_until::next_iteration(cx, &task_run_id, iteration);
        }
        Event::TimerFired(Timer::PauseDue { task_run_id, to }) => {
            pause::resume(cx, &task_run_id, to, JsonMap::new());
        }
        Event::KillRequested => kill(cx),
        Event::PauseRequested => {
            if cx.exec.state.current() == StateType::Running {
                cx.exec.transition(StateType::Paused, cx.now);
            }
        }
        Event::ResumeRequested {
            task_run_id,
            inputs,
        } => resume(cx, task_run_id, inputs),
        Event::SubflowEnded {
            task_run_id,
            execution_id,
            state,
            outputs,
        } => {
            let Some(run) = cx.run(&task_run_id) else {
                return;
            };
            if !run.state.current().is_running() {
                let message = format!(
                    "late subflow end {state} ignored: the task run is {}",
                    run.state.current()
                );
                cx.log(LogLevel::Warn, Some(&task_run_id), message);
                return;
            }
            let Some(task) = cx.task_of(run) else { return };
            if task.canonical == for_each_item::ITEMS {
                // One end per batch; the run ends with the last one.
                if let Some((raw, outputs)) =
                    for_each_item::child_ended(cx, task, &task_run_id, state)
                {
                    end_attempt(cx, &task_run_id, raw, None, Some(outputs));
                }
                return;
            }
            let (raw, outputs) = subflow::ended(task, state, execution_id.as_str(), outputs);
            end_attempt(cx, &task_run_id, raw, None, Some(outputs));
        }
        Event::RestartRequested => restart(cx),
        Event::TaskRunStateChanged { task_run_id, state } => {
            crate::replay::change_state(cx, &task_run_id, state)
        }
        Event::WorkerTaskRuns(report) => working_directory::report(cx, report),
    }
}

pub(crate) fn task_run_result(cx: &mut Cx<'_>, result: TaskRunResult) {
    let id = result.task_run_id;
    let Some(run) = cx.run(&id) else {
        cx.log(
            LogLevel::Warn,
            None,
            format!("result for unknown task run {id} ignored"),
        );
        return;
    };
    // Only a task run handed to a worker takes results: a late or duplicate report (after a
    // forced end, a kill, or while a retry is pending) must not add attempts.
    if !run.state.current().is_running() {
        let message = format!(
            "late result {} ignored: the task run is {}",
            result.state,
            run.state.current()
        );
        cx.log(LogLevel::Warn, Some(&id), message);
        return;
    }
    match result.state {
        StateType::Running => {
            // A start reported late keeps its own instant (never in the future).
            let now = result.started.filter(|at| *at <= cx.now).unwrap_or(cx.now);
            if let Some(run) = cx.run_mut(&id) {
                if run.last_attempt().is_none_or(|a| a.state.is_terminated()) {
                    let mut attempt = TaskRunAttempt::new(State::of(StateType::Running, now));
                    attempt.worker_id = result.worker_id;
                    run.attempts.push(attempt);
                }
                run.transition(StateType::Running, now);
            }
        }
        state if state.is_terminated() => {
            end_attempt(cx, &id, state, result.worker_id, result.outputs)
        }
        other => cx.log(
            LogLevel::Warn,
            Some(&id),
            format!("unexpected result state {other} ignored"),
        ),
    }
}

/// Ends the current attempt in `raw` and decides the task run's state: retry, then
/// `warningOnRetry`, `allowFailure`, `allowWarning` (spec §6.10 step 5).
fn end_attempt(
    cx: &mut Cx<'_>,
    id: &TaskRunId,
    raw: StateType,
    worker_id: Option<String>,
    outputs: Option<JsonMap>,
) {
    let now = cx.now;
    let Some(run) = cx.run_mut(id) else { return };
    match run.attempts.last_mut() {
        Some(last) if !last.state.is_terminated() => {
            last.state.transition(raw, now);
        }
        _ => {
            let mut attempt = TaskRunAttempt::new(State::of(raw, now));
            attempt.worker_id = worker_id;
            run.attempts.push(attempt);
        }
    }
    run.outputs = outputs;
    // A WorkingDirectory child cannot be retried on its own: its directory is gone.
    let dynamic = run.dynamic == Some(true);
    if raw == StateType::Failed && !dynamic && schedule_retry(cx, id) {
        return;
    }
    let Some(run) = cx.run(id) else { return };
    let Some(task) = cx.task_of(run) else {
        cx.set_state(id, raw);
        return;
    };
    let policy = retry::policy(cx.flow, &cx.index, cx.runs(), run);
    let mut state = raw;
    if state == StateType::Success
        && run.attempts.len() > 1
        && policy.is_some_and(|p| p.warning_on_retry)
    {
        state = StateType::Warning;
    }
    if state == StateType::Failed {
        state = StateType::fail(task.common.allow_failure, task.common.allow_warning);
    }
    if state == StateType::Warning && task.common.allow_warning {
        state = StateType::Success;
    }
    cx.set_state(id, state);
}

/// Schedules a retry of a failed task run when its policy allows one. Returns whether it did.
fn schedule_retry(cx: &mut Cx<'_>, id: &TaskRunId) -> bool {
    let Some(run) = cx.run(id).cloned() else {
        return false;
    };
    let Some(policy) = retry::policy(cx.flow, &cx.index, cx.runs(), &run) else {
        return false;
    };
    let now = cx.now;
    if retry::creates_new_execution(policy) {
        let attempts = cx.exec.metadata.attempt_number;
        let first = cx
            .exec
            .metadata
            .original_created_date
            .unwrap_or(cx.exec.state.start_date());
        let next = retry::next_date(policy, attempts, now, first, cx.ids);
        let at = match next {
            Ok(Some(at)) => at,
            Ok(None) => return false,
            Err(message) => {
                cx.log(LogLevel::Error, Some(id), message);
                return false;
            }
        };
        let mut chain: Vec<TaskRunId> = cx
            .exec
            .find_parents(&run)
            .iter()
            .map(|r| r.id.clone())
            .collect();
        chain.push(id.clone());
        for run_id in chain {
            cx.set_state(&run_id, StateType::Retried);
        }
        cx.exec.transition(StateType::Retried, now);
        cx.log(
            LogLevel::Info,
            Some(id),
            format!(
                "Task failed, the execution will be replayed at {}",
                saker_core::time::format_instant(&at)
            ),
        );
        cx.actions.push(Action::CreateReplay { at });
        return true;
    }
    let attempts = run.attempts.len();
    let at = match retry_at(policy, &run, now, cx.ids) {
        Ok(Some(at)) => at,
        Ok(None) => return false,
        Err(message) => {
            cx.log(LogLevel::Error, Some(id), message);
            return false;
        }
    };
    cx.set_state(id, StateType::Failed);
    cx.set_state(id, StateType::Retrying);
    if cx.exec.state.current() == StateType::Running {
        cx.exec.transition(StateType::Retrying, now);
    }
    cx.log(
        LogLevel::Info,
        Some(id),
        format!(
            "Task failed on attempt {attempts}, retrying at {}",
            saker_core::time::format_instant(&at)
        ),
    );
    cx.actions.push(Action::ArmTimer {
        at,
        timer: Timer::RetryDue {
            task_run_id: id.clone(),
        },
    });
    true
}

/// When the next attempt of `run` (its last attempt failed) is due: derived from the stored
/// attempts only, so a restart finds the same instant (a random interval is drawn again).
fn retry_at(
    policy: &saker_flow::Retry,
    run: &saker_core::TaskRun,
    now: saker_core::Instant,
    ids: &mut dyn saker_core::IdSource,
) -> Result<Option<saker_core::Instant>, String> {
    let attempts = run.attempts.len() as u32;
    let last_end = run
        .last_attempt()
        .and_then(|a| a.state.end_date())
        .unwrap_or(now);
    let first_start = run
        .attempts
        .first()
        .map_or(run.state.start_date(), |a| a.state.start_date());
    retry::next_date(policy, attempts, last_end, first_start, ids)
}

/// After a restart: the timer of every task run waiting for its retry, at its due instant
/// (now when it is already past; the runtime fires past timers at once).
fn rearm_retries(cx: &mut Cx<'_>) {
    for id in cx.runs_in(|r| r.state.current() == StateType::Retrying) {
        let Some(run) = cx.run(&id).cloned() else {
            continue;
        };
        let now = cx.now;
        let at = match retry::policy(cx.flow, &cx.index, cx.runs(), &run) {
            Some(policy) => retry_at(policy, &run, now, cx.ids).ok().flatten(),
            None => None,
        }
        // No policy or no attempt left any more (the flow revision is the same, so this only
        // happens on corrupt data): retry now rather than hang.
        .unwrap_or(now);
        cx.actions.push(Action::ArmTimer {
            at,
            timer: Timer::RetryDue { task_run_id: id },
        });
    }
}

fn retry_due(cx: &mut Cx<'_>, id: &TaskRunId) {
    if cx
        .run(id)
        .is_none_or(|r| r.state.current() != StateType::Retrying)
    {
        return;
    }
    cx.set_state(id, StateType::Created);
    let still = cx
        .exec
        .task_run_list
        .iter()
        .any(|r| r.state.current() == StateType::Retrying);
    if !still && cx.exec.state.current() == StateType::Retrying {
        cx.exec.transition(StateType::Running, cx.now);
    }
}

fn kill(cx: &mut Cx<'_>) {
    if cx.exec.state.is_terminated() {
        cx.log(
            LogLevel::Warn,
            None,
            "kill ignored: the execution is already terminated".into(),
        );
        return;
    }
    // A paused execution is first resumed as killed; a pending retry will not happen.
    for id in cx.runs_in(|r| matches!(r.state.current(), StateType::Paused | StateType::Retrying)) {
        cx.set_state(&id, StateType::Killed);
    }
    cx.exec.transition(StateType::Killing, cx.now);
    let interrupt = cx.runs_in(|r| {
        r.state.current().is_running()
            && r.force_execution != Some(true)
            && cx.task_of(r).is_some_and(|t| {
                matches!(
                    t.kind,
                    TaskKind::Runnable | TaskKind::WorkingDirectory | TaskKind::Executable
                )
            })
    });
    for task_run_id in interrupt {
        cx.actions.push(Action::KillTaskRun { task_run_id });
    }
}

fn resume(cx: &mut Cx<'_>, task_run_id: Option<TaskRunId>, inputs: JsonMap) {
    if cx.exec.state.current() == StateType::Breakpoint {
        // Resume from breakpoints: stopped runs are dispatched again, without re-checking.
        for id in cx.runs_in(|r| r.state.current() == StateType::Breakpoint) {
            cx.set_state(&id, StateType::Created);
        }
        cx.exec.transition(StateType::Running, cx.now);
        return;
    }
    let ids = match task_run_id {
        Some(id) => vec![id],
        None => cx.runs_in(|r| r.state.current() == StateType::Paused),
    };
    if ids.is_empty() && cx.exec.state.current() == StateType::Paused {
        // A manual pause: no task to resume.
        cx.exec.transition(StateType::Running, cx.now);
        return;
    }
    for id in ids {
        if !pause::resume(cx, &id, StateType::Running, inputs.clone()) {
            cx.log(
                LogLevel::Warn,
                Some(&id),
                "resume ignored: the task run is not paused".into(),
            );
        }
    }
}

/// Restart from the failure point (spec §6.7).
fn restart(cx: &mut Cx<'_>) {
    let state = cx.exec.state.current();
    if !matches!(state, StateType::Failed | StateType::Paused) {
        cx.log(
            LogLevel::Warn,
            None,
            format!("restart ignored: the execution is {state}"),
        );
        return;
    }
    // errors/finally/afterExecution runs (and their descendants) are dropped.
    let mut removed: HashSet<TaskRunId> = HashSet::new();
    for run in &cx.exec.task_run_list {
        let handler = cx.index.get(&run.task_id).is_some_and(|i| i.in_handler);
        let parent_removed = run
            .parent_task_run_id
            .as_ref()
            .is_some_and(|p| removed.contains(p));
        if handler || parent_removed || run.force_execution == Some(true) {
            removed.insert(run.id.clone());
        }
    }
    cx.exec
        .task_run_list
        .retain(|run| !removed.contains(&run.id));
    // A restarted WorkingDirectory block re-runs as a whole on a worker: its children go.
    let blocks: HashSet<TaskRunId> = cx
        .runs_in(|r| {
            matches!(r.state.current(), StateType::Failed | StateType::Paused)
                && cx
                    .task_of(r)
                    .is_some_and(|t| t.kind == TaskKind::WorkingDirectory)
        })
        .into_iter()
        .collect();
    if !blocks.is_empty() {
        let mut removed: HashSet<TaskRunId> = HashSet::new();
        for run in &cx.exec.task_run_list {
            let parent = run.parent_task_run_id.as_ref();
            if parent.is_some_and(|p| blocks.contains(p) || removed.contains(p)) {
                removed.insert(run.id.clone());
            }
        }
        cx.exec
            .task_run_list
            .retain(|run| !removed.contains(&run.id));
    }
    let restarted =
        cx.runs_in(|r| matches!(r.state.current(), StateType::Failed | StateType::Paused));
    let mut ancestors: Vec<TaskRunId> = Vec::new();
    for id in &restarted {
        let Some(run) = cx.run(id) else { continue };
        ancestors.extend(cx.exec.find_parents(run).iter().map(|r| r.id.clone()));
        // A Pause starts over (it pauses again); other flowables resume their children.
        let flowable = cx
            .task_of(run)
            .is_some_and(|t| t.kind == TaskKind::Flowable && t.canonical != PAUSE);
        cx.set_state(
            id,
            if flowable {
                StateType::Running
            } else {
                StateType::Restarted
            },
        );
    }
    for id in ancestors {
        cx.set_state(&id, StateType::Running);
    }
    cx.exec.metadata = cx.exec.metadata.next_attempt();
    cx.exec.put_label(Label::new("system.restarted", "true"));
    cx.exec.outputs.clear();
    let failed = state == StateType::Failed;
    cx.exec.transition(StateType::Restarted, cx.now);
    if failed {
        let start = cx.exec.state.start_date();
        sla::arm_deadlines(cx, start);
    }
}

//! Pause: the run goes PAUSED (and the execution with it) the first time it is seen RUNNING,
//! arming a timer for `pauseDuration`/`delay` (resume into `behavior`) or `timeout` (fail).
//! A resume moves it to its target state, or back to RUNNING when it has (deprecated) children.

use saker_core::{JsonMap, StateType, TaskRun, TaskRunId, parse_duration};
use saker_expr::Value;
use saker_flow::Task;

use super::{Flowable, standard_branches};
use crate::action::{Action, LogLevel};
use crate::cx::{Cx, resolve_list};
use crate::event::Timer;
use crate::select::Branches;

pub(crate) struct Pause;

impl Flowable for Pause {
    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        Ok(standard_branches(task, "tasks", run))
    }
}

/// Whether the run already went through PAUSED since it was created or restarted (then it
/// only waits for its children).
pub(crate) fn was_paused(run: &TaskRun) -> bool {
    run.state
        .histories()
        .iter()
        .rev()
        .take_while(|h| h.state != StateType::Restarted)
        .any(|h| h.state == StateType::Paused)
}

/// First sight of a RUNNING Pause run: pause it and the execution, arm its timer.
pub(crate) fn begin(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) {
    let duration = ["pauseDuration", "delay"]
        .iter()
        .find_map(|name| task.params.get(*name).and_then(Value::as_str))
        .map(str::to_owned);
    let behavior = task
        .params
        .get("behavior")
        .and_then(Value::as_str)
        .unwrap_or("RESUME");
    let (text, to) = match (&duration, &task.common.timeout) {
        (Some(text), _) => {
            let to = match behavior {
                "WARN" => StateType::Warning,
                "FAIL" => StateType::Failed,
                "CANCEL" => StateType::Cancelled,
                // RESUME: continue as after a manual resume.
                _ => StateType::Running,
            };
            (Some(text.clone()), to)
        }
        (None, Some(timeout)) => (
            Some(timeout.clone()),
            StateType::fail(task.common.allow_failure, task.common.allow_warning),
        ),
        (None, None) => (None, StateType::Running),
    };
    let delay = match text.map(|t| cx.render(&t, Some(task), Some(run_id))) {
        None => None,
        Some(Ok(rendered)) => match parse_duration(&rendered) {
            Ok(delay) => Some(delay),
            Err(error) => {
                cx.fail(
                    run_id,
                    format!("invalid pause duration {rendered:?}: {error}"),
                );
                return;
            }
        },
        Some(Err(error)) => {
            cx.fail(run_id, error);
            return;
        }
    };
    cx.set_state(run_id, StateType::Paused);
    if !cx.exec.state.is_terminated() {
        cx.exec.transition(StateType::Paused, cx.now);
    }
    // `onPause` runs as a child of the Pause when the pause begins (once).
    for on_pause in resolve_list(task.branch_tasks("onPause"), Some(run_id)) {
        if !cx
            .exec
            .task_run_list
            .iter()
            .any(|run| on_pause.matches(run))
        {
            let force = cx
                .run(run_id)
                .is_some_and(|r| r.force_execution == Some(true));
            cx.create(&on_pause, force);
        }
    }
    if let Some(delay) = delay {
        let at = cx.now + delay;
        cx.actions.push(Action::ArmTimer {
            at,
            timer: Timer::PauseDue {
                task_run_id: run_id.clone(),
                to,
            },
        });
    }
}

/// Resumes a PAUSED Pause run into `to` (`RUNNING` = a normal resume) with `onResume` inputs.
/// Returns whether the run was paused.
pub(crate) fn resume(cx: &mut Cx<'_>, run_id: &TaskRunId, to: StateType, inputs: JsonMap) -> bool {
    let Some(run) = cx.run(run_id) else {
        return false;
    };
    if run.state.current() != StateType::Paused {
        return false;
    }
    let has_children = cx
        .task_of(run)
        .is_some_and(|task| !task.branch_tasks("tasks").is_empty());
    let state = match to {
        StateType::Running if has_children => StateType::Running,
        StateType::Running => StateType::Success,
        other => other,
    };
    let mut resumed = JsonMap::new();
    resumed.insert(
        "on".into(),
        Value::String(
            cx.now
                .naive_utc()
                .format("%Y-%m-%dT%H:%M:%S%.3f")
                .to_string(),
        ),
    );
    resumed.insert("to".into(), Value::String(state.to_string()));
    let mut outputs = JsonMap::new();
    outputs.insert("onResume".into(), Value::Object(inputs));
    outputs.insert("resumed".into(), Value::Object(resumed));
    cx.merge_outputs(run_id, outputs);
    cx.set_state(run_id, state);
    if state == StateType::Cancelled {
        cx.log(
            LogLevel::Info,
            Some(run_id),
            "Pause ended with CANCEL: cancelling the execution".into(),
        );
        cx.exec.transition(StateType::Cancelled, cx.now);
        return true;
    }
    let still_paused = cx
        .exec
        .task_run_list
        .iter()
        .any(|r| r.state.current() == StateType::Paused);
    if !still_paused && cx.exec.state.current() == StateType::Paused {
        cx.exec.metadata = cx.exec.metadata.next_attempt();
        cx.exec.transition(StateType::Restarted, cx.now);
    }
    true
}

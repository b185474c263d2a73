//! LoopUntil (alias WaitFor): runs `tasks` sequentially, then renders `condition`; truthy ends
//! the loop, falsy waits `checkFrequency.interval` and starts a new iteration. The previous
//! iteration's task runs are removed and the `iterationCount` output (0 for the first one) is
//! incremented; children carry the count as their `iteration`.

use chrono::TimeDelta;
use saker_core::{JsonMap, StateType, TaskRun, TaskRunId, parse_duration};
use saker_expr::Value;
use saker_flow::Task;

use super::{Flowable, standard_branches};
use crate::action::{Action, LogLevel};
use crate::cx::Cx;
use crate::event::Timer;
use crate::select::{self, Branches};

pub(crate) struct LoopUntil;

const COUNT: &str = "iterationCount";

fn count(run: &TaskRun) -> u32 {
    run.outputs
        .as_ref()
        .and_then(|o| o.get(COUNT))
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32
}

impl Flowable for LoopUntil {
    fn start(&self, _cx: &Cx<'_>, _task: &Task, _run: &TaskRun) -> Result<JsonMap, String> {
        let mut outputs = JsonMap::new();
        outputs.insert(COUNT.into(), Value::from(0));
        Ok(outputs)
    }

    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        let mut branches = standard_branches(task, "tasks", run);
        let iteration = Some(count(run) as i32);
        for resolved in branches.tasks.iter_mut().flatten() {
            resolved.iteration = iteration;
        }
        Ok(branches)
    }
}

/// `checkFrequency.<name>`, rendered when it is an expression.
fn frequency(
    cx: &Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
    name: &str,
) -> Result<Option<String>, String> {
    let value = task.params.get("checkFrequency").and_then(|f| f.get(name));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => cx.render(text, Some(task), Some(run_id)).map(Some),
        Some(other) => Ok(Some(other.to_string())),
    }
}

fn duration(text: Option<String>, name: &str) -> Result<Option<TimeDelta>, String> {
    text.map(|t| {
        parse_duration(t.trim()).map_err(|error| format!("invalid `{name}` {t:?}: {error}"))
    })
    .transpose()
}

/// Step 7 for a running LoopUntil: end it, or arm the timer of the next iteration. The timer is
/// armed again on each pass while waiting (same instant, same [`Timer`]): timers are upserts.
pub(crate) fn settle<'a>(cx: &mut Cx<'a>, task: &'a Task, run_id: &TaskRunId) {
    let Some(run) = cx.run(run_id).cloned() else {
        return;
    };
    let branches = match LoopUntil.branches(cx, task, &run) {
        Ok(branches) => branches,
        Err(message) => {
            cx.fail(run_id, message);
            return;
        }
    };
    // The raw state decides whether to loop; allowFailure/allowWarning map the final one.
    let Some(state) = select::resolve_state(cx.runs(), &branches, false, false, None) else {
        return;
    };
    let (allow_failure, allow_warning) = (task.common.allow_failure, task.common.allow_warning);
    let map = |state: StateType| match state {
        StateType::Failed => StateType::fail(allow_failure, allow_warning),
        StateType::Warning if allow_warning => StateType::Success,
        other => other,
    };
    if !state.is_terminated_no_fail() {
        finish(cx, run_id, map(state));
        return;
    }
    let decision = (|| -> Result<Option<StateType>, String> {
        let condition = match task.params.get("condition") {
            Some(Value::String(text)) => cx.render(text, Some(task), Some(run_id))?,
            Some(other) => other.to_string(),
            None => return Err("missing required property `condition`".into()),
        };
        if saker_expr::is_truthy_string(&condition) {
            return Ok(Some(map(state)));
        }
        let iterations = count(&run);
        let max_iterations = frequency(cx, task, run_id, "maxIterations")?
            .map(|t| {
                t.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("invalid `maxIterations` {t:?}"))
            })
            .transpose()?;
        let max_duration = duration(frequency(cx, task, run_id, "maxDuration")?, "maxDuration")?;
        let reached = max_iterations.is_some_and(|max| iterations + 1 >= max)
            || max_duration.is_some_and(|max| cx.now - run.state.start_date() >= max);
        if reached {
            let fail = task
                .params
                .get("failOnMaxReached")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            return Ok(Some(if fail {
                StateType::fail(allow_failure, allow_warning)
            } else {
                map(state)
            }));
        }
        Ok(None)
    })();
    match decision {
        Ok(Some(end)) => finish(cx, run_id, end),
        Ok(None) => {
            let interval = match duration(
                frequency(cx, task, run_id, "interval").ok().flatten(),
                "interval",
            ) {
                Ok(interval) => interval.unwrap_or(TimeDelta::minutes(1)),
                Err(message) => {
                    cx.fail(run_id, message);
                    return;
                }
            };
            let last_end = cx
                .exec
                .children(Some(run_id.as_str()))
                .filter_map(|child| child.state.end_date())
                .max()
                .unwrap_or(cx.now);
            let timer = Timer::LoopDue {
                task_run_id: run_id.clone(),
                iteration: count(&run),
            };
            cx.actions.push(Action::ArmTimer {
                at: last_end + interval,
                timer,
            });
        }
        Err(message) => cx.fail(run_id, message),
    }
}

fn finish(cx: &mut Cx<'_>, run_id: &TaskRunId, state: StateType) {
    cx.set_state(run_id, state);
    cx.force_descendants(run_id, state);
}

/// The timer of iteration `iteration` fired: drop its task runs and start the next one.
pub(crate) fn next_iteration(cx: &mut Cx<'_>, run_id: &TaskRunId, iteration: u32) {
    let Some(run) = cx.run(run_id) else { return };
    if run.state.current() != StateType::Running || count(run) != iteration {
        return;
    }
    let mut removed: Vec<TaskRunId> = vec![run_id.clone()];
    for run in &cx.exec.task_run_list {
        if run
            .parent_task_run_id
            .as_ref()
            .is_some_and(|p| removed.contains(p))
        {
            removed.push(run.id.clone());
        }
    }
    cx.exec
        .task_run_list
        .retain(|run| run.id == *run_id || !removed.contains(&run.id));
    let mut outputs = JsonMap::new();
    outputs.insert(COUNT.into(), Value::from(iteration + 1));
    cx.merge_outputs(run_id, outputs);
    cx.log(
        LogLevel::Debug,
        Some(run_id),
        format!("starting iteration {}", iteration + 1),
    );
}

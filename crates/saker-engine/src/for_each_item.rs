//! ForEachItem's executable step `<id>_items` (spec §4.1 ForEachItem, §6.11): one child
//! execution per batch listed by the `<id>_split` step, counted into `iterations` as they end.
//!
//! The ForEachItem task itself is a Sequential over its hidden steps (`saker_flow`'s
//! `for_each_item::steps`); splitting the file and merging the children's outputs read and
//! write storage, so they are worker jobs and this module only sees URIs.

use saker_core::{JsonMap, State, StateType, TaskRunAttempt, TaskRunId};
use saker_expr::Value;
use saker_flow::Task;
use saker_flow::for_each_item::{ITEMS_SUFFIX, SPLIT_SUFFIX};

use crate::action::{Action, StartSubflow};
use crate::cx::Cx;
use crate::subflow;

pub(crate) use saker_flow::for_each_item::ITEMS;

const ITERATIONS: &str = "iterations";
const NUMBER_OF_BATCHES: &str = "numberOfBatches";
const BASE_URI: &str = "subflowOutputsBaseUri";

/// Child states that end an iteration (a child reports only once it is terminated).
const TERMINAL: [StateType; 5] = [
    StateType::Success,
    StateType::Warning,
    StateType::Failed,
    StateType::Killed,
    StateType::Cancelled,
];

/// Dispatch of the `_items` run: RUNNING with one attempt and one [`Action::StartSubflow`] per
/// batch. Without batches it succeeds at once with no outputs; with `wait: false` it succeeds
/// as soon as the children are requested.
pub(crate) fn start(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) {
    let batches = match batch_uris(cx, task, run_id) {
        Ok(batches) => batches,
        Err(message) => {
            cx.fail(run_id, message);
            return;
        }
    };
    // Every batch is rendered before anything starts: a bad template starts no child at all.
    let mut requests = Vec::with_capacity(batches.len());
    for (iteration, uri) in batches.iter().enumerate() {
        let mut taskrun = JsonMap::new();
        taskrun.insert("items".into(), Value::String(uri.clone()));
        taskrun.insert("iteration".into(), Value::from(iteration));
        match subflow::render_request(cx, task, run_id, &taskrun) {
            Ok(request) => requests.push(request),
            Err(message) => {
                cx.fail(run_id, message);
                return;
            }
        }
    }
    let wait = subflow::flag(task, "wait", true);
    let count = requests.len();
    let base = storage_path(cx, task, run_id);
    let scheduled = requests
        .iter()
        .any(|r| r.schedule_date.is_some_and(|at| at > cx.now));
    let outputs = (count > 0).then(|| {
        let mut iterations = JsonMap::new();
        if wait {
            // Scheduled children wait in CREATED; the others start right away.
            let (created, running) = if scheduled { (count, 0) } else { (0, count) };
            iterations.insert(StateType::Created.to_string(), Value::from(created));
            iterations.insert(StateType::Running.to_string(), Value::from(running));
        } else {
            // Kestra reports every child as a success once created, with no CREATED count.
            iterations.insert(StateType::Running.to_string(), Value::from(0));
            iterations.insert(StateType::Success.to_string(), Value::from(count));
        }
        let mut outputs = JsonMap::new();
        outputs.insert(ITERATIONS.into(), Value::Object(iterations));
        outputs.insert(NUMBER_OF_BATCHES.into(), Value::from(count));
        if !wait {
            outputs.insert(BASE_URI.into(), Value::String(base.clone()));
        }
        outputs
    });
    let now = cx.now;
    if let Some(run) = cx.run_mut(run_id) {
        run.attempts
            .push(TaskRunAttempt::new(State::of(StateType::Running, now)));
        run.transition(StateType::Running, now);
        run.outputs = outputs;
        if count == 0 || !wait {
            run.transition_with_attempt(StateType::Success, now);
        }
    }
    let trigger = subflow::trigger(cx, task, run_id);
    for (iteration, request) in requests.into_iter().enumerate() {
        let mut trigger = trigger.clone();
        trigger
            .variables
            .get_or_insert_with(JsonMap::new)
            .insert("taskRunIteration".into(), Value::from(iteration));
        let execution_id = cx.ids.execution_id();
        cx.actions.push(Action::StartSubflow(Box::new(StartSubflow {
            task_run_id: run_id.clone(),
            execution_id,
            namespace: request.namespace,
            flow_id: request.flow_id,
            revision: request.revision,
            inputs: request.inputs,
            labels: request.labels,
            trigger,
            schedule_date: request.schedule_date,
            wait,
            outputs_uri: wait.then(|| format!("kestra://{base}/{iteration}/outputs.ion")),
        })));
    }
}

/// A child of the `_items` run ended in `child`: counts it. Returns the run's raw final state
/// and outputs once every batch has ended (`None` while some are still running).
pub(crate) fn child_ended(
    cx: &mut Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
    child: StateType,
) -> Option<(StateType, JsonMap)> {
    let mut outputs = cx.run(run_id)?.outputs.clone().unwrap_or_default();
    let batches = outputs
        .get(NUMBER_OF_BATCHES)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut iterations = outputs
        .get(ITERATIONS)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let count = |iterations: &JsonMap, state: StateType| {
        iterations
            .get(&state.to_string())
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    // The child leaves RUNNING (or CREATED when it was scheduled and never seen running).
    for from in [StateType::Running, StateType::Created] {
        let n = count(&iterations, from);
        if n > 0 {
            iterations.insert(from.to_string(), Value::from(n - 1));
            break;
        }
    }
    let ended = count(&iterations, child) + 1;
    iterations.insert(child.to_string(), Value::from(ended));
    let terminated: u64 = TERMINAL
        .iter()
        .map(|state| count(&iterations, *state))
        .sum();
    outputs.insert(ITERATIONS.into(), Value::Object(iterations.clone()));
    if terminated < batches {
        if let Some(run) = cx.run_mut(run_id) {
            run.outputs = Some(outputs);
        }
        return None;
    }
    let state = if subflow::flag(task, "transmitFailed", true) {
        terminal_state(&iterations)
    } else {
        StateType::Success
    };
    outputs.insert(
        BASE_URI.into(),
        Value::String(storage_path(cx, task, run_id)),
    );
    Some((state, outputs))
}

/// Kestra's `findTerminalState` over the iteration counts (the step's own `allowFailure` /
/// `allowWarning` are never set: the ForEachItem task applies its own to its children).
fn terminal_state(iterations: &JsonMap) -> StateType {
    let any = |state: StateType| {
        iterations
            .get(&state.to_string())
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0)
    };
    if any(StateType::Failed) {
        StateType::Failed
    } else if any(StateType::Killed) {
        StateType::Killed
    } else if any(StateType::Warning) {
        StateType::Warning
    } else {
        StateType::Success
    }
}

/// The batch URIs from the `uris` output of the sibling `<id>_split` run.
fn batch_uris(cx: &Cx<'_>, task: &Task, run_id: &TaskRunId) -> Result<Vec<String>, String> {
    let run = cx.run(run_id).ok_or("ForEachItem run vanished")?;
    let parent_id = task.id.strip_suffix(ITEMS_SUFFIX).unwrap_or(&task.id);
    let split_id = format!("{parent_id}{SPLIT_SUFFIX}");
    let split = cx
        .runs()
        .children(run.parent_task_run_id.as_ref().map(TaskRunId::as_str))
        .find(|r| r.task_id == split_id && r.value == run.value)
        .ok_or_else(|| format!("no `{split_id}` task run to read the batches from"))?;
    let uris = split
        .outputs
        .as_ref()
        .and_then(|o| o.get("uris"))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("`{split_id}` did not list its batches"))?;
    uris.iter()
        .map(|uri| {
            uri.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("invalid batch URI {uri} in `{split_id}` outputs"))
        })
        .collect()
}

/// The `_items` run's storage folder as Kestra's `subflowOutputsBaseUri`: the task-run prefix
/// path without scheme nor trailing slash (`/<ns>/<flow>/executions/<id>/tasks/<task>/<run>`).
fn storage_path(cx: &Cx<'_>, task: &Task, run_id: &TaskRunId) -> String {
    format!(
        "/{}/{}/executions/{}/tasks/{}/{}",
        cx.exec.namespace.replace('.', "/"),
        slugify(&cx.exec.flow_id),
        cx.exec.id.as_str(),
        slugify(&task.id),
        run_id.as_str()
    )
}

/// Kestra's `Slugify.of`, as the storage layout uses it (same rule as
/// `saker_task::storage::slugify`, which this pure crate does not depend on).
fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

//! Subflow (executable task): starts a child execution and turns its end into this task run's
//! state and outputs (spec §4.1 Subflow, §6.11).

use saker_core::{ExecutionTrigger, JsonMap, Label, State, StateType, TaskRunAttempt, TaskRunId};
use saker_expr::Value;
use saker_flow::Task;

use crate::action::{Action, StartSubflow};
use crate::cx::Cx;

pub(crate) const SUBFLOW: &str = "io.kestra.plugin.core.flow.Subflow";

pub(crate) fn flag(task: &Task, name: &str, default: bool) -> bool {
    task.params
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

fn string(cx: &Cx<'_>, task: &Task, run_id: &TaskRunId, name: &str) -> Result<String, String> {
    match task.params.get(name) {
        Some(Value::String(text)) => cx.render(text, Some(task), Some(run_id)),
        _ => Err(format!("missing required property `{name}`")),
    }
}

/// Dispatch of a Subflow task run: RUNNING with one synthetic attempt, then
/// [`Action::StartSubflow`]; SUCCESS at once when `wait` is false.
pub(crate) fn start(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) {
    if task.canonical != SUBFLOW {
        cx.fail(run_id, format!("unsupported task type {}", task.canonical));
        return;
    }
    let request = match render_request(cx, task, run_id, &JsonMap::new()) {
        Ok(request) => request,
        Err(message) => {
            cx.fail(run_id, message);
            return;
        }
    };
    let execution_id = cx.ids.execution_id();
    let now = cx.now;
    let wait = flag(task, "wait", true);
    let mut outputs = JsonMap::new();
    outputs.insert(
        "executionId".into(),
        Value::String(execution_id.to_string()),
    );
    if let Some(run) = cx.run_mut(run_id) {
        run.attempts
            .push(TaskRunAttempt::new(State::of(StateType::Running, now)));
        run.transition(StateType::Running, now);
        run.outputs = Some(outputs);
        if !wait {
            run.transition_with_attempt(StateType::Success, now);
        }
    }
    let start = action(cx, task, run_id, request, execution_id, wait);
    cx.actions.push(Action::StartSubflow(Box::new(start)));
}

/// The [`StartSubflow`] a RUNNING Subflow run issued when it started, built again from the
/// flow and the execution as they are now (the same child id, from the run's
/// `outputs.executionId`): for a runtime that finds the child was never saved.
pub(crate) fn start_again(
    cx: &Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
) -> Result<StartSubflow, String> {
    if task.canonical != SUBFLOW {
        return Err(format!("{} is not a Subflow task", task.id));
    }
    let run = cx
        .run(run_id)
        .ok_or_else(|| format!("no task run {}", run_id.as_str()))?;
    if run.state.current() != StateType::Running {
        return Err(format!(
            "task run {} is {}, not waiting for its child",
            run_id.as_str(),
            run.state.current()
        ));
    }
    let execution_id = run
        .outputs
        .as_ref()
        .and_then(|o| o.get("executionId"))
        .and_then(Value::as_str)
        .map(saker_core::ExecutionId::new)
        .ok_or_else(|| format!("task run {} names no child execution", run_id.as_str()))?;
    let request = render_request(cx, task, run_id, &JsonMap::new())?;
    let wait = flag(task, "wait", true);
    Ok(action(cx, task, run_id, request, execution_id, wait))
}

/// The [`StartSubflow`] of a Subflow run from its rendered properties.
fn action(
    cx: &Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
    request: Request,
    execution_id: saker_core::ExecutionId,
    wait: bool,
) -> StartSubflow {
    let Request {
        namespace,
        flow_id,
        revision,
        inputs,
        labels,
        schedule_date,
    } = request;
    StartSubflow {
        task_run_id: run_id.clone(),
        execution_id,
        namespace,
        flow_id,
        revision,
        inputs,
        labels,
        trigger: trigger(cx, task, run_id),
        schedule_date,
        wait,
        outputs_uri: None,
    }
}

/// The rendered properties of a Subflow task (or of ForEachItem's executable step).
pub(crate) struct Request {
    pub(crate) namespace: String,
    pub(crate) flow_id: String,
    pub(crate) revision: Option<u32>,
    pub(crate) inputs: JsonMap,
    pub(crate) labels: Vec<Label>,
    pub(crate) schedule_date: Option<saker_core::Instant>,
}

/// `taskrun` holds extra `taskrun.*` variables for rendering `inputs` (ForEachItem's `items`
/// and `iteration`).
pub(crate) fn render_request(
    cx: &Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
    taskrun: &JsonMap,
) -> Result<Request, String> {
    let namespace = string(cx, task, run_id, "namespace")?;
    let flow_id = string(cx, task, run_id, "flowId")?;
    let revision = match task.params.get("revision") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().map(|r| r as u32),
        Some(Value::String(text)) => {
            let rendered = cx.render(text, Some(task), Some(run_id))?;
            Some(
                rendered
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid revision {rendered:?}"))?,
            )
        }
        Some(other) => return Err(format!("invalid revision {other}")),
    };
    let inputs = match task.params.get("inputs") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(raw) => match cx.render_value_with_taskrun(raw, Some(task), Some(run_id), taskrun)? {
            Value::Object(map) => map,
            other => return Err(format!("`inputs` must be a map, got {other}")),
        },
    };
    let own: Vec<Label> = match task.params.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(raw) => match cx.render_value(raw, Some(task), Some(run_id))? {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    Label::new(k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                })
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    let text = |k: &str| {
                        i.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    Label::new(text("key"), text("value"))
                })
                .collect(),
            other => return Err(format!("`labels` must be a map or a list, got {other}")),
        },
    };
    if let Some(system) = own.iter().find(|l| l.is_system()) {
        return Err(format!(
            "system labels cannot be set on a subflow: {}",
            system.key
        ));
    }
    let inherit = flag(task, "inheritLabels", false);
    let mut labels: Vec<Label> = cx
        .exec
        .labels
        .iter()
        .filter(|l| inherit || l.key == "system.correlationId")
        .cloned()
        .collect();
    labels.extend(own);
    let schedule_date = match task.params.get("scheduleDate").and_then(Value::as_str) {
        None => None,
        Some(text) => {
            let rendered = cx.render(text, Some(task), Some(run_id))?;
            Some(
                saker_core::time::parse_instant(rendered.trim())
                    .map_err(|error| format!("invalid scheduleDate {rendered:?}: {error}"))?,
            )
        }
    };
    Ok(Request {
        namespace,
        flow_id,
        revision,
        inputs,
        labels: saker_core::label::deduplicate(labels),
        schedule_date,
    })
}

/// `{id: <taskId>, type: <task type>, variables: {executionId, namespace, flowId, flowRevision,
/// taskRunId, taskId, taskRunValue?, taskRunIteration?}}`.
pub(crate) fn trigger(cx: &Cx<'_>, task: &Task, run_id: &TaskRunId) -> ExecutionTrigger {
    let mut variables = JsonMap::new();
    variables.insert("executionId".into(), Value::String(cx.exec.id.to_string()));
    variables.insert("namespace".into(), Value::String(cx.exec.namespace.clone()));
    variables.insert("flowId".into(), Value::String(cx.exec.flow_id.clone()));
    variables.insert("flowRevision".into(), Value::from(cx.exec.flow_revision));
    variables.insert("taskRunId".into(), Value::String(run_id.to_string()));
    variables.insert("taskId".into(), Value::String(task.id.clone()));
    if let Some(run) = cx.run(run_id) {
        if let Some(value) = &run.value {
            variables.insert("taskRunValue".into(), Value::String(value.clone()));
        }
        if let Some(iteration) = run.iteration {
            variables.insert("taskRunIteration".into(), Value::from(iteration));
        }
    }
    ExecutionTrigger::new(task.id.clone(), task.canonical, variables)
}

/// The raw attempt state and outputs of a Subflow run whose child ended in `child`.
pub(crate) fn ended(
    task: &Task,
    child: StateType,
    execution_id: &str,
    child_outputs: JsonMap,
) -> (StateType, JsonMap) {
    let state = if !flag(task, "transmitFailed", true) {
        StateType::Success
    } else {
        match child {
            StateType::Failed => StateType::Failed,
            StateType::Killed => StateType::Killed,
            StateType::Warning => StateType::Warning,
            _ => StateType::Success,
        }
    };
    let mut outputs = JsonMap::new();
    outputs.insert("executionId".into(), Value::String(execution_id.to_owned()));
    outputs.insert("state".into(), Value::String(child.to_string()));
    outputs.insert("outputs".into(), Value::Object(child_outputs));
    (state, outputs)
}

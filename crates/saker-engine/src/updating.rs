//! Execution-updating tasks, applied by the executor itself (spec §4.3): Labels, Exit,
//! SetVariables, UnsetVariables. Each gets one synthetic attempt.

use saker_core::{JsonMap, Label, StateType, TaskRunId};
use saker_expr::Value;
use saker_flow::Task;

use crate::action::{Action, LogLevel};
use crate::cx::Cx;

const LABELS: &str = "io.kestra.plugin.core.execution.Labels";
const EXIT: &str = "io.kestra.plugin.core.execution.Exit";
const SET_VARIABLES: &str = "io.kestra.plugin.core.execution.SetVariables";
const UNSET_VARIABLES: &str = "io.kestra.plugin.core.execution.UnsetVariables";

/// Runs an execution-updating task run to its end state.
pub(crate) fn apply(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) {
    let result = match task.canonical {
        LABELS => labels(cx, task, run_id),
        SET_VARIABLES => set_variables(cx, task, run_id),
        UNSET_VARIABLES => unset_variables(cx, task, run_id),
        EXIT => return exit(cx, task, run_id),
        other => Err(format!("unsupported task type {other}")),
    };
    let state = match result {
        Ok(()) => StateType::Success,
        Err(message) => {
            cx.log(LogLevel::Error, Some(run_id), message);
            StateType::fail(task.common.allow_failure, task.common.allow_warning)
        }
    };
    let now = cx.now;
    if let Some(run) = cx.run_mut(run_id) {
        run.transition_with_attempt(state, now);
    }
}

fn labels(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) -> Result<(), String> {
    let raw = task
        .params
        .get("labels")
        .ok_or("missing required property `labels`")?;
    let raw = match raw {
        Value::String(text) => {
            let rendered = cx.render(text, Some(task), Some(run_id))?;
            serde_json::from_str(&rendered)
                .map_err(|error| format!("`labels` must render to a JSON object: {error}"))?
        }
        other => other.clone(),
    };
    let pairs: Vec<(Value, Value)> = match raw {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|item| {
                (
                    item.get("key").cloned().unwrap_or_default(),
                    item.get("value").cloned().unwrap_or_default(),
                )
            })
            .collect(),
        other => return Err(format!("`labels` must be a map or a list, got {other}")),
    };
    let mut labels = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let key = render_scalar(cx, task, run_id, &key)?;
        let value = render_scalar(cx, task, run_id, &value)?;
        if key.starts_with("system.") {
            return Err(format!(
                "System labels can only be set by Kestra itself, offending label: {key}={value}"
            ));
        }
        labels.push(Label::new(key, value));
    }
    for label in labels {
        cx.exec.put_label(label);
    }
    Ok(())
}

fn render_scalar(
    cx: &Cx<'_>,
    task: &Task,
    run_id: &TaskRunId,
    value: &Value,
) -> Result<String, String> {
    match value {
        Value::String(text) => cx.render(text, Some(task), Some(run_id)),
        Value::Null => Err("a label key or value is missing".into()),
        other => Ok(other.to_string()),
    }
}

fn set_variables(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) -> Result<(), String> {
    let raw = task
        .params
        .get("variables")
        .ok_or("missing required property `variables`")?;
    let Value::Object(rendered) = cx.render_value(raw, Some(task), Some(run_id))? else {
        return Err("`variables` must be a map".into());
    };
    let overwrite = task
        .params
        .get("overwrite")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut variables = cx
        .exec
        .variables
        .clone()
        .unwrap_or_else(|| cx.flow.variables.clone());
    if !overwrite && let Some(key) = rendered.keys().find(|k| variables.contains_key(*k)) {
        return Err(format!(
            "`{key}` already exists and `overwrite` is set to `false`"
        ));
    }
    saker_core::variables::merge(&mut variables, rendered);
    cx.exec.variables = Some(variables);
    Ok(())
}

fn unset_variables(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) -> Result<(), String> {
    let names = match task.params.get("variables") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(text)) => {
            let rendered = cx.render(text, Some(task), Some(run_id))?;
            serde_json::from_str(&rendered)
                .map_err(|error| format!("`variables` must be a list: {error}"))?
        }
        _ => return Err("`variables` must be a list of names".into()),
    };
    let ignore_missing = task
        .params
        .get("ignoreMissing")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut variables = cx
        .exec
        .variables
        .clone()
        .unwrap_or_else(|| cx.flow.variables.clone());
    for name in names {
        let name = render_scalar(cx, task, run_id, &name)?;
        if remove_path(&mut variables, &name).is_none() && !ignore_missing {
            return Err(format!(
                "Unable to unset variable '{name}' as it doesn't exist"
            ));
        }
    }
    cx.exec.variables = Some(variables);
    Ok(())
}

/// Removes `a.b.c` from nested maps.
fn remove_path(map: &mut JsonMap, path: &str) -> Option<Value> {
    match path.split_once('.') {
        _ if map.contains_key(path) => map.remove(path),
        Some((head, rest)) => match map.get_mut(head) {
            Some(Value::Object(inner)) => remove_path(inner, rest),
            _ => None,
        },
        None => None,
    }
}

/// Exit: the Exit run and its ancestors take the exit state, and so does the execution
/// (KILLED goes through a kill so running work is interrupted).
fn exit(cx: &mut Cx<'_>, task: &Task, run_id: &TaskRunId) {
    let raw = task
        .params
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("SUCCESS");
    let state = match cx.render(raw, Some(task), Some(run_id)).as_deref() {
        Ok("SUCCESS") => StateType::Success,
        Ok("WARNING") => StateType::Warning,
        Ok("KILLED") => StateType::Killed,
        Ok("FAILED") => StateType::Failed,
        Ok("CANCELED" | "CANCELLED") => StateType::Cancelled,
        Ok(other) => {
            let message = format!("invalid Exit state {other:?}");
            cx.fail(run_id, message);
            return;
        }
        Err(error) => {
            let message = error.clone();
            cx.fail(run_id, message);
            return;
        }
    };
    let now = cx.now;
    let Some(run) = cx.run(run_id).cloned() else {
        return;
    };
    let ancestors: Vec<TaskRunId> = cx
        .exec
        .find_parents(&run)
        .iter()
        .map(|r| r.id.clone())
        .collect();
    if let Some(run) = cx.run_mut(run_id) {
        run.transition_with_attempt(state, now);
    }
    for ancestor in ancestors {
        cx.set_state(&ancestor, state);
    }
    cx.log(
        LogLevel::Info,
        Some(run_id),
        format!("Exit with state {state}"),
    );
    if state == StateType::Killed {
        let running = cx.runs_in(|r| r.state.current().is_running() && r.id != run.id);
        for id in running {
            if cx
                .run(&id)
                .and_then(|r| cx.task_of(r))
                .is_some_and(|t| !t.is_flowable())
            {
                cx.actions.push(Action::KillTaskRun { task_run_id: id });
            }
        }
    }
    cx.exec.transition(state, now);
}

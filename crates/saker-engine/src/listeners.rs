//! Deprecated flow `listeners` (spec §1.11): once the execution is terminated, the tasks of each
//! listener whose `conditions` all hold run as top-level task runs, before `afterExecution`.
//! Their results never change the execution state (it is already terminal).

use saker_core::{Execution, StateType};
use saker_expr::Value;
use saker_flow::Plugin;

use crate::action::LogLevel;
use crate::cx::{Cx, resolve_list};
use crate::next;
use crate::select::{self, Branches};

/// Creates the next task run of every valid listener. Returns whether a listener task run is
/// still open (so `afterExecution` waits for it).
pub(crate) fn schedule(cx: &mut Cx<'_>) -> bool {
    let flow = cx.flow;
    let mut open = false;
    for (position, listener) in flow.listeners.iter().enumerate() {
        let tasks = resolve_list(&listener.tasks, None);
        // A listener already started keeps going even if its conditions no longer hold.
        let started = select::runs_of(cx.runs(), &tasks).len();
        if started == 0 {
            match all_hold(cx, &listener.conditions) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(message) => {
                    // Logged once: a listener that never starts is not re-evaluated on later
                    // passes only because the execution does not change.
                    cx.log(
                        LogLevel::Warn,
                        None,
                        format!("listener {position} skipped: {message}"),
                    );
                    continue;
                }
            }
        }
        // Kestra's resolveSequentialNexts with no errors: a failed task stops its listener.
        let branches = Branches {
            tasks: Some(tasks),
            errors: Vec::new(),
            finally: Vec::new(),
        };
        let (_, current) = select::select(cx.runs(), &branches, None);
        for resolved in next::sequential(cx.runs(), current) {
            cx.create(&resolved, true);
        }
        let all = branches.tasks.as_deref().unwrap_or(&[]);
        open |= select::runs_of(cx.runs(), all)
            .iter()
            .any(|run| !run.state.is_terminated());
    }
    open
}

fn all_hold(cx: &Cx<'_>, conditions: &[Plugin]) -> Result<bool, String> {
    for condition in conditions {
        if !holds(cx, condition)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn states(value: Option<&Value>) -> Vec<StateType> {
    let list = match value {
        Some(Value::Array(list)) => list.clone(),
        Some(Value::String(one)) => vec![Value::String(one.clone())],
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|v| v.as_str())
        .filter_map(|s| serde_json::from_value(Value::String(s.to_owned())).ok())
        .collect()
}

fn string_param<'p>(condition: &'p Plugin, name: &str) -> Option<&'p str> {
    condition.params.get(name).and_then(Value::as_str)
}

fn nested(condition: &Plugin) -> &[Plugin] {
    condition
        .plugins
        .iter()
        .find(|(name, _)| name == "conditions")
        .map(|(_, list)| list.as_slice())
        .unwrap_or(&[])
}

/// One listener condition against the current (terminated) execution. Conditions about a
/// trigger date or another execution have no meaning here and are reported as unsupported.
fn holds(cx: &Cx<'_>, condition: &Plugin) -> Result<bool, String> {
    let exec: &Execution = cx.exec;
    let short = condition
        .canonical
        .rsplit('.')
        .next()
        .unwrap_or(condition.canonical);
    match short {
        "ExecutionStatus" | "ExecutionStatusCondition" => {
            let state = exec.state.current();
            let within = states(condition.params.get("in"));
            let without = states(condition.params.get("notIn"));
            Ok((within.is_empty() || within.contains(&state)) && !without.contains(&state))
        }
        "ExecutionFlow" | "ExecutionFlowCondition" | "FlowCondition" => {
            Ok(
                string_param(condition, "namespace") == Some(exec.namespace.as_str())
                    && string_param(condition, "flowId") == Some(exec.flow_id.as_str()),
            )
        }
        "ExecutionNamespace" | "ExecutionNamespaceCondition" | "FlowNamespaceCondition" => {
            let Some(namespace) = string_param(condition, "namespace") else {
                return Err("missing required property `namespace`".into());
            };
            let prefix = condition.params.get("prefix").and_then(Value::as_bool) == Some(true);
            Ok(match string_param(condition, "comparison") {
                _ if prefix => exec.namespace.starts_with(namespace),
                Some("PREFIX") => exec.namespace.starts_with(namespace),
                Some("SUFFIX") => exec.namespace.ends_with(namespace),
                _ => exec.namespace == namespace,
            })
        }
        "Expression" | "ExpressionCondition" => {
            let Some(expression) = string_param(condition, "expression") else {
                return Err("missing required property `expression`".into());
            };
            let rendered = cx.render(expression, None, None)?;
            // Expression's own rule (spec §5.5): false only when blank or `false`.
            let trimmed = rendered.trim();
            Ok(!trimmed.is_empty() && !trimmed.eq_ignore_ascii_case("false"))
        }
        "Not" | "NotCondition" => {
            for inner in nested(condition) {
                if holds(cx, inner)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        "Or" | "OrCondition" => {
            for inner in nested(condition) {
                if holds(cx, inner)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Err(format!(
            "condition type {} is not supported on listeners",
            condition.type_name
        )),
    }
}

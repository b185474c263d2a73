//! ForEach and the legacy EachSequential / EachParallel: children repeated per value.
//!
//! Each child run carries `value` (the string, or a map's JSON) and `iteration` (the value's
//! 0-based position, shared by all tasks of that value, as Kestra's `resolveEachTasks` does).

use saker_core::TaskRun;
use saker_expr::Value;
use saker_flow::Task;

use super::{Flowable, parent_int_param};
use crate::cx::{Cx, Resolved, resolve_list};
use crate::next;
use crate::select::{Branches, Which};

/// `values` + `concurrencyLimit` (default 1 = sequential, 0 = unlimited value groups).
pub(crate) struct ForEach;
/// `value`, strictly sequential.
pub(crate) struct EachSequential;
/// `value` + `concurrent`: every (value, task) pair in parallel.
pub(crate) struct EachParallel;

impl Flowable for ForEach {
    fn static_branches(&self, task: &Task) -> bool {
        literal_values(task, "values")
    }

    fn branches<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        each_branches(cx, task, run, "values")
    }

    fn next<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        which: Which,
        current: &[Resolved<'a>],
    ) -> Result<Vec<Resolved<'a>>, String> {
        let Some(limit) = parent_int_param(cx, task, current, "concurrencyLimit", 1)? else {
            return Ok(Vec::new());
        };
        match limit {
            1 => Ok(next::sequential(cx.runs(), current)),
            limit => Ok(next::concurrent_values(cx.runs(), which, current, limit)),
        }
    }
}

impl Flowable for EachSequential {
    fn static_branches(&self, task: &Task) -> bool {
        literal_values(task, "value")
    }

    fn branches<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        each_branches(cx, task, run, "value")
    }
}

impl Flowable for EachParallel {
    fn static_branches(&self, task: &Task) -> bool {
        literal_values(task, "value")
    }

    fn branches<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        each_branches(cx, task, run, "value")
    }

    fn next<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        which: Which,
        current: &[Resolved<'a>],
    ) -> Result<Vec<Resolved<'a>>, String> {
        let Some(concurrent) = parent_int_param(cx, task, current, "concurrent", 0)? else {
            return Ok(Vec::new());
        };
        Ok(next::parallel(
            cx.runs(),
            which,
            current,
            concurrent,
            &|_| true,
        ))
    }
}

/// A list of plain strings and integers: [`resolve_values`] renders nothing, so the values are
/// the same on every pass.
fn literal_values(task: &Task, property: &str) -> bool {
    match task.params.get(property) {
        Some(Value::Array(items)) => items.iter().all(|item| match item {
            Value::String(text) => !saker_expr::is_template(text),
            Value::Number(n) => n.is_i64() || n.is_u64(),
            _ => false,
        }),
        _ => false,
    }
}

fn each_branches<'a>(
    cx: &Cx<'a>,
    task: &'a Task,
    run: &TaskRun,
    property: &str,
) -> Result<Branches<'a>, String> {
    let values = resolve_values(cx, task, run, property)?;
    let children: Vec<&Task> = task
        .branch_tasks("tasks")
        .iter()
        .filter(|t| !t.common.disabled)
        .collect();
    let mut tasks = Vec::with_capacity(values.len() * children.len());
    for (iteration, value) in values.iter().enumerate() {
        for child in &children {
            tasks.push(Resolved {
                task: child,
                value: Some(value.clone()),
                iteration: Some(iteration as i32),
                parent: Some(run.id.clone()),
            });
        }
    }
    Ok(Branches {
        tasks: Some(tasks),
        errors: resolve_list(task.branch_tasks("errors"), Some(&run.id)),
        finally: resolve_list(task.branch_tasks("finally"), Some(&run.id)),
    })
}

/// Kestra's `resolveValues`: a string renders to a JSON array; a list has its strings (and
/// integers) rendered and its maps' values rendered. Nulls are an error, duplicates dropped.
pub(crate) fn resolve_values(
    cx: &Cx<'_>,
    task: &Task,
    run: &TaskRun,
    property: &str,
) -> Result<Vec<String>, String> {
    let items: Vec<Value> = match task.params.get(property) {
        Some(Value::String(text)) => {
            let rendered = cx.render(text, Some(task), Some(&run.id))?;
            serde_json::from_str(&rendered).map_err(|error| {
                format!("`{property}` must render to a JSON array, got {rendered:?}: {error}")
            })?
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => cx
                    .render(text, Some(task), Some(&run.id))
                    .map(Value::String),
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Value::String(n.to_string())),
                Value::Object(_) => cx.render_value(item, Some(task), Some(&run.id)),
                Value::Null => Ok(Value::Null),
                other => Err(format!("Unknown value element type: {other}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`{property}` must be a list or a string, got {other}"
            ));
        }
        None => return Err(format!("missing required property `{property}`")),
    };
    let nulls = items.iter().filter(|v| v.is_null()).count();
    if nulls > 0 {
        let shown: Vec<String> = items.iter().map(java_like).collect();
        return Err(format!(
            "Found '{nulls}' null values on Each, with values=[{}]",
            shown.join(", ")
        ));
    }
    let mut distinct: Vec<String> = Vec::with_capacity(items.len());
    // A set beside the list: `Vec::contains` per value was quadratic in the number of values.
    let mut seen: std::collections::HashSet<String> =
        std::collections::HashSet::with_capacity(items.len());
    for item in &items {
        let text = match item {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if seen.insert(text.clone()) {
            distinct.push(text);
        }
    }
    Ok(distinct)
}

/// Java's `toString` of a parsed JSON value, for the null-values message.
fn java_like(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", java_like(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(java_like).collect::<Vec<_>>().join(", ")
            )
        }
        other => other.to_string(),
    }
}

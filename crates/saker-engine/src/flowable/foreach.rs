//! ForEach and the legacy EachSequential / EachParallel: children repeated per value.
//!
//! Each child run carries `value` (the string, or a map's JSON) and `iteration` (the value's
//! 0-based position, shared by all tasks of that value, as Kestra's `resolveEachTasks` does).

use std::sync::Arc;

use saker_core::{StateType, TaskRun, TaskRunId};
use saker_expr::Value;
use saker_flow::Task;

use super::{EACH_PARALLEL, EACH_SEQUENTIAL, FOR_EACH, Flowable, int_param, parent_int_param};
use crate::cx::{Cx, Resolved, resolve_list};
use crate::memo::Cursor;
use crate::next;
use crate::select::{self, Branches, Which};

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

/// The child list of an Each run with literal values (values × enabled child tasks, exactly
/// as [`each_branches`] builds it), read one position at a time: the fast path below keeps
/// cursors over it between events instead of building and scanning it on every pass.
pub(crate) struct EachList<'a> {
    children: Vec<&'a Task>,
    values: Arc<[String]>,
    parent: TaskRunId,
}

impl<'a> EachList<'a> {
    fn len(&self) -> usize {
        self.values.len() * self.children.len()
    }

    fn get(&self, position: usize) -> Resolved<'a> {
        let width = self.children.len();
        let iteration = position / width;
        Resolved {
            task: self.children[position % width],
            value: Some(self.values[iteration].clone()),
            iteration: Some(iteration as i32),
            parent: Some(self.parent.clone()),
        }
    }
}

/// The child list of `run` when it is an Each flowable with literal values and at least one
/// child; the values are resolved once per task and kept by the executor.
fn each_list<'a>(cx: &mut Cx<'a>, task: &'a Task, run: &TaskRun) -> Option<EachList<'a>> {
    let property = match task.canonical {
        FOR_EACH => "values",
        EACH_SEQUENTIAL | EACH_PARALLEL => "value",
        _ => return None,
    };
    // Kept per task, the answer "not literal" too: checking a list of values is O(values).
    let values = match cx.memo.values.get(&task.id) {
        Some(values) => values.clone()?,
        None => {
            let values: Option<Arc<[String]>> = literal_values(task, property)
                .then(|| resolve_values(cx, task, run, property).ok())
                .flatten()
                .map(Into::into);
            cx.memo.values.insert(task.id.clone(), values.clone());
            values?
        }
    };
    let children: Vec<&Task> = task
        .branch_tasks("tasks")
        .iter()
        .filter(|t| !t.common.disabled)
        .collect();
    let list = EachList {
        children,
        values,
        parent: run.id.clone(),
    };
    (list.len() > 0).then_some(list)
}

/// Advances the cursor saying how many leading children have a first run that is terminated
/// (what [`next::sequential`] walks over) and returns it. Amortized O(1) per event: the
/// cursor only moves back when a child run is reopened (restart) or runs are removed.
fn done_prefix(cx: &mut Cx<'_>, list: &EachList<'_>) -> usize {
    let stamp = cx.regress_stamp(&list.parent);
    let epoch = cx.memo.index.epoch;
    let kept = cx.memo.cursors.get(&list.parent).map(|c| c.done);
    let mut at = match (stamp, kept) {
        (Some(regress), Some(c)) if c.epoch == epoch && c.regress == regress => c.at,
        _ => 0,
    };
    let runs = cx.runs();
    while at < list.len() {
        match runs.matching(&list.get(at)).next() {
            Some(run) if run.state.is_terminated() => at += 1,
            _ => break,
        }
    }
    if let Some(regress) = stamp {
        cx.memo.cursors.entry(list.parent.clone()).or_default().done =
            Cursor { at, epoch, regress };
    }
    at
}

/// Whether every child has a run (runs are never removed without a rebuild, so this cursor
/// only moves forward within an epoch).
fn all_created(cx: &mut Cx<'_>, list: &EachList<'_>) -> bool {
    let usable = cx.derived_ok();
    let epoch = cx.memo.index.epoch;
    let mut at = match cx.memo.cursors.get(&list.parent).map(|c| c.created) {
        Some(c) if usable && c.epoch == epoch => c.at,
        _ => 0,
    };
    let runs = cx.runs();
    while at < list.len() && runs.matching(&list.get(at)).next().is_some() {
        at += 1;
    }
    if usable {
        cx.memo
            .cursors
            .entry(list.parent.clone())
            .or_default()
            .created = Cursor {
            at,
            epoch,
            regress: 0,
        };
    }
    at == list.len()
}

/// [`select::all_terminated`] over the list: `Some` when the cursor decides it.
fn all_terminated(cx: &mut Cx<'_>, list: &EachList<'_>) -> Option<bool> {
    let at = done_prefix(cx, list);
    if at == list.len() {
        return Some(true);
    }
    // The child at the cursor has no terminated first run; a later duplicate run of it
    // could still be terminated: leave that rare case to the full check.
    let terminated = cx
        .runs()
        .matching(&list.get(at))
        .any(|run| run.state.is_terminated());
    (!terminated).then_some(false)
}

/// Whether [`select::select`] (not forced) picks the `tasks` list, when that is cheap to tell:
/// no errors/finally run yet, no failed child, and `finally` not due.
fn selects_tasks(
    cx: &mut Cx<'_>,
    list: &EachList<'_>,
    errors: &[Resolved<'_>],
    finally: &[Resolved<'_>],
) -> bool {
    if select::any_run(cx.runs(), finally) || select::any_run(cx.runs(), errors) {
        return false;
    }
    if cx.maybe_failed_child(&list.parent) {
        return false;
    }
    finally.is_empty() || all_terminated(cx, list) == Some(false)
}

/// The children to create next for an Each run with literal values, `None` when the cheap
/// checks cannot tell (the caller then takes the general path, which gives the same answer).
pub(crate) fn fast_next<'a>(
    cx: &mut Cx<'a>,
    task: &'a Task,
    run: &TaskRun,
) -> Option<Result<Vec<Resolved<'a>>, String>> {
    let list = each_list(cx, task, run)?;
    let errors = resolve_list(task.branch_tasks("errors"), Some(&run.id));
    let finally = resolve_list(task.branch_tasks("finally"), Some(&run.id));
    if !selects_tasks(cx, &list, &errors, &finally) {
        return None;
    }
    let (property, default) = match task.canonical {
        FOR_EACH => ("concurrencyLimit", 1),
        EACH_PARALLEL => ("concurrent", 0),
        _ => ("", 1),
    };
    let limit = if property.is_empty() {
        1
    } else {
        match int_param(cx, task, run, property, default) {
            Ok(limit) => limit,
            Err(message) => return Some(Err(message)),
        }
    };
    if task.canonical != EACH_PARALLEL && limit == 1 {
        // `next::sequential`: the first child without a run, once every earlier one ended.
        let at = done_prefix(cx, &list);
        if at == list.len() {
            return Some(Ok(Vec::new()));
        }
        let next = list.get(at);
        let started = cx.runs().matching(&next).next().is_some();
        return Some(Ok(if started { Vec::new() } else { vec![next] }));
    }
    // Parallel and value groups create nothing once every child has a run; before that, the
    // general path decides (it runs a few times, when runs are being created).
    all_created(cx, &list).then(|| Ok(Vec::new()))
}

/// [`select::resolve_state`] (as the Each flowables use it) while the run is visibly in
/// progress: `Some(None)`; `None` when the general path must decide.
pub(crate) fn fast_state<'a>(
    cx: &mut Cx<'a>,
    task: &'a Task,
    run: &TaskRun,
) -> Option<Option<StateType>> {
    let list = each_list(cx, task, run)?;
    if cx.maybe_retrying_child(&run.id) {
        return None;
    }
    let errors = resolve_list(task.branch_tasks("errors"), Some(&run.id));
    let finally = resolve_list(task.branch_tasks("finally"), Some(&run.id));
    if !selects_tasks(cx, &list, &errors, &finally) {
        return None;
    }
    (all_terminated(cx, &list) == Some(false)).then_some(None)
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

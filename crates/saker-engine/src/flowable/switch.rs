//! Switch: `value` rendered once at start (outputs `value`, `defaults`), then the matching
//! `cases` entry, else `defaults`; neither → the Switch fails.

use saker_core::{JsonMap, TaskRun};
use saker_expr::Value;
use saker_flow::Task;

use super::Flowable;
use crate::cx::{Cx, resolve_list};
use crate::select::Branches;

pub(crate) struct Switch;

fn case<'a>(task: &'a Task, value: &str) -> Option<&'a [Task]> {
    task.branches
        .iter()
        .find(|b| b.name.starts_with("cases") && b.case.as_deref() == Some(value))
        .map(|b| b.tasks.as_slice())
}

impl Flowable for Switch {
    fn start(&self, cx: &Cx<'_>, task: &Task, run: &TaskRun) -> Result<JsonMap, String> {
        let value = match task.params.get("value") {
            Some(Value::String(text)) => cx.render(text, Some(task), Some(&run.id))?,
            Some(Value::Null) | None => return Err("missing required property `value`".into()),
            Some(other) => other.to_string(),
        };
        let mut outputs = JsonMap::new();
        outputs.insert("defaults".into(), Value::Bool(case(task, &value).is_none()));
        outputs.insert("value".into(), Value::String(value));
        Ok(outputs)
    }

    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        let value = run
            .outputs
            .as_ref()
            .and_then(|o| o.get("value"))
            .and_then(Value::as_str)
            .ok_or("the Switch value was not rendered")?;
        let defaults = task.branch_tasks("defaults");
        let tasks = match case(task, value) {
            Some(tasks) => Some(tasks),
            None if !defaults.is_empty() => Some(defaults),
            None => None,
        };
        Ok(Branches {
            tasks: tasks.map(|tasks| resolve_list(tasks, Some(&run.id))),
            errors: resolve_list(task.branch_tasks("errors"), Some(&run.id)),
            finally: resolve_list(task.branch_tasks("finally"), Some(&run.id)),
        })
    }
}

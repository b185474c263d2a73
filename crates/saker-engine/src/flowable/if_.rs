//! If: `condition` rendered once at start (output `evaluationResult`), then `then` or `else`.

use saker_core::{JsonMap, TaskRun};
use saker_expr::Value;
use saker_flow::Task;

use super::Flowable;
use crate::cx::{Cx, resolve_list};
use crate::select::Branches;

pub(crate) struct If;

impl Flowable for If {
    fn start(&self, cx: &Cx<'_>, task: &Task, run: &TaskRun) -> Result<JsonMap, String> {
        let condition = match task.params.get("condition") {
            Some(Value::String(text)) => cx.render(text, Some(task), Some(&run.id))?,
            Some(Value::Bool(b)) => b.to_string(),
            Some(other) => other.to_string(),
            None => return Err("missing required property `condition`".into()),
        };
        let mut outputs = JsonMap::new();
        outputs.insert(
            "evaluationResult".into(),
            Value::Bool(saker_expr::is_truthy_string(&condition)),
        );
        Ok(outputs)
    }

    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        let result = run
            .outputs
            .as_ref()
            .and_then(|o| o.get("evaluationResult"))
            .and_then(Value::as_bool)
            .ok_or("the If condition was not evaluated")?;
        let main = if result { "then" } else { "else" };
        Ok(Branches {
            tasks: Some(resolve_list(task.branch_tasks(main), Some(&run.id))),
            errors: resolve_list(task.branch_tasks("errors"), Some(&run.id)),
            finally: resolve_list(task.branch_tasks("finally"), Some(&run.id)),
        })
    }
}

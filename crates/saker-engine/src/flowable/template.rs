//! Template (deprecated): the tasks of a stored template, included in the flow before the run
//! (`saker_flow::template::expand_templates`), run one after another like a Sequential. Its
//! outputs are the rendered `args`, read by the template's tasks as
//! `{{ parent.outputs.args.<name> }}`.

use saker_core::{JsonMap, TaskRun};
use saker_flow::Task;

use super::{Flowable, standard_branches};
use crate::cx::Cx;
use crate::select::Branches;

pub(crate) struct Template;

impl Flowable for Template {
    fn start(&self, cx: &Cx<'_>, task: &Task, run: &TaskRun) -> Result<JsonMap, String> {
        if task.branch("tasks").is_none() {
            // Not included before the run: the reason was recorded then (a flow that was never
            // prepared has templates disabled).
            return Err(task
                .unresolved
                .clone()
                .unwrap_or_else(|| saker_flow::template::DISABLED.to_owned()));
        }
        let mut outputs = JsonMap::new();
        if let Some(args) = task.params.get("args").filter(|a| !a.is_null()) {
            let rendered = cx.render_value(args, Some(task), Some(&run.id))?;
            outputs.insert("args".into(), rendered);
        }
        Ok(outputs)
    }

    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        Ok(standard_branches(task, "tasks", run))
    }

    fn static_branches(&self, _task: &Task) -> bool {
        true
    }
}

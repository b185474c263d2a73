//! Dag: children start once every task they depend on has a terminated run in this Dag.

use saker_core::TaskRun;
use saker_flow::Task;

use super::{Flowable, int_param, standard_branches};
use crate::cx::{Cx, Resolved};
use crate::next;
use crate::select::{Branches, Which};

pub(crate) struct Dag;

impl Flowable for Dag {
    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        Ok(standard_branches(task, "tasks", run))
    }

    fn next<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        which: Which,
        current: &[Resolved<'a>],
    ) -> Result<Vec<Resolved<'a>>, String> {
        let Some(parent) = current.first().and_then(|r| r.parent.clone()) else {
            return Ok(Vec::new());
        };
        let run = cx.run(&parent).ok_or("dag run vanished")?;
        let concurrent = int_param(cx, task, run, "concurrent", 0)?;
        let branch = task.branch("tasks");
        let ready = |resolved: &Resolved<'a>| {
            let Some(branch) = branch else { return true };
            let Some(position) = branch.tasks.iter().position(|t| t.id == resolved.task.id) else {
                return true;
            };
            let depends_on = branch
                .depends_on
                .get(position)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            depends_on.iter().all(|id| {
                // A disabled dependency never runs: it does not block its dependents.
                let disabled = branch
                    .tasks
                    .iter()
                    .any(|t| t.id == *id && t.common.disabled);
                disabled
                    || cx
                        .runs()
                        .children(Some(parent.as_str()))
                        .any(|run| run.task_id == *id && run.state.is_terminated())
            })
        };
        Ok(next::parallel(
            cx.runs(),
            which,
            current,
            concurrent,
            &ready,
        ))
    }
}

//! Sequential, AllowFailure and Parallel: one `tasks` list, run in order or side by side.

use saker_core::{StateType, TaskRun};
use saker_flow::Task;

use super::{Flowable, parent_int_param, standard_branches};
use crate::cx::{Cx, Resolved};
use crate::next;
use crate::select::{self, Branches, Which};

/// Runs children one after another.
pub(crate) struct Sequential;

impl Flowable for Sequential {
    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        Ok(standard_branches(task, "tasks", run))
    }
}

/// Like Sequential, but a failure of its children ends it in WARNING (SUCCESS with
/// `allowWarning`) so the parent continues.
pub(crate) struct AllowFailure;

impl Flowable for AllowFailure {
    fn branches<'a>(
        &self,
        _cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String> {
        Ok(standard_branches(task, "tasks", run))
    }

    fn resolve_state(
        &self,
        cx: &Cx<'_>,
        task: &Task,
        branches: &Branches<'_>,
    ) -> Option<StateType> {
        select::resolve_state(cx.runs(), branches, true, task.common.allow_warning, None)
    }
}

/// Starts every child at once (up to `concurrent`, 0 = unlimited).
pub(crate) struct Parallel;

impl Flowable for Parallel {
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

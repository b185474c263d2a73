//! Flowable tasks: executor-side tasks that pick their children and derive their state from
//! them. One file per type behind [`Flowable`], dispatched by the task's canonical type name.

mod dag;
pub(crate) mod foreach;
mod if_;
pub(crate) mod loop_until;
pub(crate) mod pause;
mod sequential;
mod switch;
mod template;
pub(crate) mod working_directory;

use saker_core::{JsonMap, StateType, TaskRun};
use saker_expr::Value;
use saker_flow::Task;

use crate::cx::{Cx, Resolved, resolve_list};
use crate::next;
use crate::select::{self, Branches, Which};

/// The behaviour of one flowable type.
pub(crate) trait Flowable: Sync {
    /// Outputs the task run gets when it starts (If's `evaluationResult`, Switch's `value`).
    /// They are stored so the chosen branch cannot change mid-way.
    fn start(&self, _cx: &Cx<'_>, _task: &Task, _run: &TaskRun) -> Result<JsonMap, String> {
        Ok(JsonMap::new())
    }

    /// The children, errors and finally lists of this run.
    fn branches<'a>(
        &self,
        cx: &Cx<'a>,
        task: &'a Task,
        run: &TaskRun,
    ) -> Result<Branches<'a>, String>;

    /// Whether [`Flowable::branches`] of `task` depends on nothing but the task and the run's
    /// id (no rendering): the pass then computes them once per `apply` instead of twice per
    /// pass, which mattered for ForEach over thousands of values.
    fn static_branches(&self, _task: &Task) -> bool {
        false
    }

    /// The children to create now out of the current list.
    fn next<'a>(
        &self,
        cx: &Cx<'a>,
        _task: &'a Task,
        _which: Which,
        current: &[Resolved<'a>],
    ) -> Result<Vec<Resolved<'a>>, String> {
        Ok(next::sequential(cx.runs(), current))
    }

    /// The terminal state of the run, or `None` while it is in progress.
    fn resolve_state(
        &self,
        cx: &Cx<'_>,
        task: &Task,
        branches: &Branches<'_>,
    ) -> Option<StateType> {
        select::resolve_state(
            cx.runs(),
            branches,
            task.common.allow_failure,
            task.common.allow_warning,
            None,
        )
    }
}

pub(crate) const SEQUENTIAL: &str = "io.kestra.plugin.core.flow.Sequential";
pub(crate) const PARALLEL: &str = "io.kestra.plugin.core.flow.Parallel";
pub(crate) const IF: &str = "io.kestra.plugin.core.flow.If";
pub(crate) const SWITCH: &str = "io.kestra.plugin.core.flow.Switch";
pub(crate) const FOR_EACH: &str = "io.kestra.plugin.core.flow.ForEach";
pub(crate) const EACH_SEQUENTIAL: &str = "io.kestra.plugin.core.flow.EachSequential";
pub(crate) const EACH_PARALLEL: &str = "io.kestra.plugin.core.flow.EachParallel";
pub(crate) const DAG: &str = "io.kestra.plugin.core.flow.Dag";
pub(crate) const ALLOW_FAILURE: &str = "io.kestra.plugin.core.flow.AllowFailure";
pub(crate) const PAUSE: &str = "io.kestra.plugin.core.flow.Pause";
pub(crate) const LOOP_UNTIL: &str = "io.kestra.plugin.core.flow.LoopUntil";
pub(crate) const FOR_EACH_ITEM: &str = saker_flow::for_each_item::TYPE;
pub(crate) const WORKING_DIRECTORY: &str = "io.kestra.plugin.core.flow.WorkingDirectory";
pub(crate) const TEMPLATE: &str = saker_flow::template::TEMPLATE_TASK;

/// The implementation of a flowable type, `None` for types the engine does not support yet.
pub(crate) fn lookup(canonical: &str) -> Option<&'static dyn Flowable> {
    Some(match canonical {
        SEQUENTIAL => &sequential::Sequential,
        ALLOW_FAILURE => &sequential::AllowFailure,
        PARALLEL => &sequential::Parallel,
        IF => &if_::If,
        SWITCH => &switch::Switch,
        FOR_EACH => &foreach::ForEach,
        EACH_SEQUENTIAL => &foreach::EachSequential,
        EACH_PARALLEL => &foreach::EachParallel,
        DAG => &dag::Dag,
        PAUSE => &pause::Pause,
        LOOP_UNTIL => &loop_until::LoopUntil,
        // Its hidden split/items/merge steps run in order (Kestra's `resolveSequentialNexts`).
        FOR_EACH_ITEM => &sequential::Sequential,
        WORKING_DIRECTORY => &working_directory::WorkingDirectory,
        TEMPLATE => &template::Template,
        _ => return None,
    })
}

/// `tasks` (or another main branch) plus the task's own `errors` and `finally`.
pub(crate) fn standard_branches<'a>(task: &'a Task, main: &str, run: &TaskRun) -> Branches<'a> {
    Branches {
        tasks: Some(resolve_list(task.branch_tasks(main), Some(&run.id))),
        errors: resolve_list(task.branch_tasks("errors"), Some(&run.id)),
        finally: resolve_list(task.branch_tasks("finally"), Some(&run.id)),
    }
}

/// Integer property `name` of the flowable whose next children `current` lists, read against
/// its task run; `None` when `current` is empty (nothing to schedule at this level).
pub(crate) fn parent_int_param(
    cx: &Cx<'_>,
    task: &Task,
    current: &[Resolved<'_>],
    name: &str,
    default: usize,
) -> Result<Option<usize>, String> {
    let Some(parent) = current.first().and_then(|r| r.parent.as_ref()) else {
        return Ok(None);
    };
    let run = cx
        .run(parent)
        .ok_or_else(|| format!("task run of `{}` vanished", task.id))?;
    int_param(cx, task, run, name, default).map(Some)
}

/// An integer property that may be written as a number or a (rendered) string.
pub(crate) fn int_param(
    cx: &Cx<'_>,
    task: &Task,
    run: &TaskRun,
    name: &str,
    default: usize,
) -> Result<usize, String> {
    match task.params.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("`{name}` must be ≥ 0, got {n}")),
        Some(Value::String(text)) => {
            let rendered = cx.render(text, Some(task), Some(&run.id))?;
            rendered
                .trim()
                .parse()
                .map_err(|_| format!("`{name}` must be an integer, got {rendered:?}"))
        }
        Some(other) => Err(format!("`{name}` must be an integer, got {other}")),
    }
}

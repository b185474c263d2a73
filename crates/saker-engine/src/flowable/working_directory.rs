//! WorkingDirectory: a Sequential whose `tasks` run on one worker, in one directory.
//!
//! The engine dispatches the block ([`crate::Action::Dispatch`]); the worker creates the child
//! task runs itself (`dynamic`) and reports them with [`Event::WorkerTaskRuns`], which this
//! file records. The block's state derives from its children like a Sequential; its `errors`
//! and `finally` are created by the engine and run as ordinary tasks, outside the directory
//! (the worker released it when a child failed).
//!
//! [`Event::WorkerTaskRuns`]: crate::Event::WorkerTaskRuns

use saker_core::{StateType, TaskRun};
use saker_flow::Task;

use super::{Flowable, standard_branches};
use crate::action::LogLevel;
use crate::cx::{Cx, Resolved};
use crate::event::{BlockReleased, WorkerTaskRuns};
use crate::handlers::task_run_result;
use crate::next;
use crate::select::{Branches, Which};

pub(crate) struct WorkingDirectory;

impl Flowable for WorkingDirectory {
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
        _task: &'a Task,
        which: Which,
        current: &[Resolved<'a>],
    ) -> Result<Vec<Resolved<'a>>, String> {
        // The worker creates the children of `tasks`; the handlers are the engine's.
        Ok(match which {
            Which::Tasks => Vec::new(),
            Which::Errors | Which::Finally => next::sequential(cx.runs(), current),
        })
    }
}

/// Whether the block has a child to run (a block without one is not sent to a worker: it
/// would resolve before the worker could report anything).
pub(crate) fn has_children(task: &Task) -> bool {
    task.branch_tasks("tasks")
        .iter()
        .any(|child| !child.common.disabled)
}

/// Records a report of the worker holding the block `report.task_run_id`.
pub(crate) fn report(cx: &mut Cx<'_>, report: WorkerTaskRuns) {
    let block_id = report.task_run_id;
    let Some(block) = cx.run(&block_id) else {
        let message = format!("report for unknown WorkingDirectory task run {block_id} ignored");
        cx.log(LogLevel::Warn, None, message);
        return;
    };
    // After a kill or a forced end the block is over: what the worker still sends is late.
    if !block.state.current().is_running() {
        let message = format!(
            "late WorkingDirectory report ignored: the task run is {}",
            block.state.current()
        );
        cx.log(LogLevel::Warn, Some(&block_id), message);
        return;
    }
    let Some(task) = cx.task_of(block) else {
        return;
    };
    for child in report.children {
        let id = child.result.task_run_id.clone();
        let known = cx.run(&id).map(|run| run.parent_task_run_id.as_ref());
        match known {
            Some(Some(parent)) if *parent == block_id => {}
            Some(_) => {
                let message = format!("task run {id} is not a child of this block; ignored");
                cx.log(LogLevel::Warn, Some(&block_id), message);
                continue;
            }
            None => {
                let in_block = task
                    .branch_tasks("tasks")
                    .iter()
                    .any(|t| t.id == child.task_id && !t.common.disabled);
                if !in_block {
                    let message = format!(
                        "task '{}' is not a task of this WorkingDirectory; report ignored",
                        child.task_id
                    );
                    cx.log(LogLevel::Warn, Some(&block_id), message);
                    continue;
                }
                cx.add_dynamic(id.clone(), &child.task_id, &block_id);
            }
        }
        if child.result.state == StateType::Skipped {
            // `runIf` was falsy: no attempt, as for an executor-side skip.
            cx.set_state(&id, StateType::Skipped);
        } else {
            task_run_result(cx, child.result);
        }
    }
    if let Some(released) = report.released {
        release(cx, &block_id, released);
    }
}

/// The worker let the block go: its outputs are recorded; a failure of the directory itself
/// ends the block at once (Kestra's `WorkerTask.fail()`, one FAILED attempt).
fn release(cx: &mut Cx<'_>, block_id: &saker_core::TaskRunId, released: BlockReleased) {
    if let Some(outputs) = released.outputs {
        cx.merge_outputs(block_id, outputs);
    }
    let now = cx.now;
    match released.state {
        StateType::Failed => {
            if let Some(run) = cx.run_mut(block_id) {
                run.fail(now);
            }
            cx.force_descendants(block_id, StateType::Failed);
        }
        StateType::Killed => {
            cx.set_state(block_id, StateType::Killed);
            cx.force_descendants(block_id, StateType::Killed);
        }
        _ => {
            // A killed child stops the block without failing it: the children after it never
            // get a run, so the block cannot derive its state from them.
            let killed = cx
                .runs()
                .children(Some(block_id.as_str()))
                .any(|run| run.state.current() == StateType::Killed);
            if killed {
                cx.set_state(block_id, StateType::Killed);
            }
        }
    }
}

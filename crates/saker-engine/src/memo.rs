//! What the executor keeps about an execution between `apply` calls, so that one event costs
//! about the same whatever the number of task runs: the task-run index with its state-derived
//! figures, the values of Each flowables with literal values, and how far each such run's
//! child list is known to be created / terminated.
//!
//! Everything here is derived from the execution and is only a shortcut: it is validated
//! against the execution at the start of each `apply` (same flow, task-run list only appended
//! to, else rebuilt) and, in debug builds, checked against a fresh derivation after each one.

use std::sync::Arc;

use saker_core::{Execution, TaskRunId};
use saker_flow::Flow;

use crate::runs::{FxMap, RunIndex};

/// Debug builds compare the memo and the fast paths with a derivation from scratch after
/// every step; only for executions this small, so that large ones (the runtime's thousand
/// sleeps test) do not turn quadratic again in debug builds.
pub(crate) const CHECKED_RUNS: usize = 256;

/// Whether to run those checks for an execution with `runs` task runs.
pub(crate) fn checked(runs: usize) -> bool {
    cfg!(debug_assertions) && runs <= CHECKED_RUNS
}

/// How far a list is known to satisfy a property, valid while the index's `epoch` (and for
/// `done`, the parent's `regress` count) are unchanged.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Cursor {
    pub(crate) at: usize,
    pub(crate) epoch: u64,
    pub(crate) regress: u64,
}

/// Cursors over a static Each run's child list: `done` = the first run of every earlier
/// child is terminated; `created` = every earlier child has a run.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct EachCursors {
    pub(crate) done: Cursor,
    pub(crate) created: Cursor,
}

#[derive(Default)]
pub(crate) struct Memo {
    pub(crate) index: RunIndex,
    /// Values of Each flowables by task id when they are literal (the same for every run),
    /// `None` when they are not.
    pub(crate) values: FxMap<String, Option<Arc<[String]>>>,
    pub(crate) cursors: FxMap<TaskRunId, EachCursors>,
    /// The flow it was derived with (its address: the caller keeps one flow per execution).
    flow: usize,
    pub(crate) last_use: u64,
}

impl Memo {
    /// A memo for `execution` run with `flow`: `kept` when it was derived from the same flow,
    /// brought up to date with the runs appended since; otherwise a fresh one.
    pub(crate) fn resume(
        kept: Option<Memo>,
        flow: &Flow,
        execution: &Execution,
        is_flowable: &dyn Fn(&str) -> bool,
    ) -> Memo {
        let address = flow as *const Flow as usize;
        let mut memo = match kept {
            Some(memo) if memo.flow == address => memo,
            _ => Memo {
                flow: address,
                ..Memo::default()
            },
        };
        memo.index.sync(&execution.task_run_list, is_flowable);
        #[cfg(debug_assertions)]
        if checked(execution.task_run_list.len()) {
            // A list changed in place between calls (not through `apply`) cannot be noticed
            // cheaply in release builds; debug builds start over, so tests stay exact.
            let fresh = RunIndex::new(&execution.task_run_list, is_flowable);
            if fresh.derived() != memo.index.derived() {
                return Memo {
                    flow: address,
                    index: fresh,
                    ..Memo::default()
                };
            }
        }
        memo
    }

    /// Debug builds: the kept figures equal a fresh derivation (called after each `apply`).
    #[cfg(debug_assertions)]
    pub(crate) fn check(&self, execution: &Execution, is_flowable: &dyn Fn(&str) -> bool) {
        if !checked(execution.task_run_list.len()) {
            return;
        }
        let fresh = RunIndex::new(&execution.task_run_list, is_flowable);
        assert_eq!(
            fresh.derived(),
            self.index.derived(),
            "task-run index out of date after apply"
        );
    }
}

//! saker-engine: the pure executor. Kestra's execution state machine as
//! `apply(flow, execution, event, now, ids, services) -> Vec<Action>`.
//!
//! The engine does no IO, reads no clock, draws no randomness and spawns nothing: time, ids,
//! task results and timers come in as [`Event`]s and arguments; side effects go out as
//! [`Action`]s that the caller executes after persisting the execution (architecture
//! invariants 1 and 2).
//!
//! Code map:
//! - [`handlers`](crate::handlers): what each event changes before the pass.
//! - [`process`](crate::process): the process pass of spec §6.3, run to a fixpoint.
//! - [`select`](crate::select): tasks/errors/finally selection, final-state guess (§6.4, §6.9).
//! - [`next`](crate::next): sequential / parallel / value-group next task runs.
//! - [`flowable`](crate::flowable): one file per flowable type behind a small trait.
//! - [`dispatch`](crate::dispatch), [`updating`](crate::updating), [`subflow`](crate::subflow):
//!   starting task runs by kind; [`retry`](crate::retry): retry policies.
//! - [`for_each_item`](crate::for_each_item): ForEachItem's executable step (one child
//!   execution per batch, `iterations` counting); its split/merge steps are worker jobs.
//! - [`context`](crate::context): expression variables (also used by workers).
//! - [`replay`](crate::replay): replay as a new execution, change of a task run's state.
//! - [`inputs`]: typed execution inputs and flow outputs (`resolve_inputs`, `type_output`).

mod action;
mod context;
mod cx;
mod dispatch;
mod event;
mod flowable;
mod for_each_item;
mod handlers;
pub mod inputs;
mod listeners;
mod memo;
mod next;
mod process;
mod replay;
mod retry;
mod runs;
mod select;
mod services;
mod sla;
mod subflow;
mod tree;
mod updating;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use saker_core::{Execution, IdSource, Instant, TaskRunId};
use saker_flow::Flow;

pub use action::{Action, LogLevel, StartSubflow};
pub use context::{Needs, render_context, worker_context, working_directory_context};
pub use event::{BlockReleased, DynamicTaskRun, Event, TaskRunResult, Timer, WorkerTaskRuns};
pub use replay::{ReplayError, check_change_state, replay};
pub use services::{EngineServices, NoEngineServices};

use crate::cx::{Cx, Track};
use crate::memo::Memo;
use crate::tree::FlowIndex;

/// The executor: owns the expression engine (its template cache) and applies events.
///
/// It also keeps, per execution id, what it derived from the execution (task-run index,
/// open runs, ForEach progress; see `memo.rs`), so an event costs about the same whatever
/// the number of task runs. That memo is checked against the execution on each call (same
/// flow, task-run list only appended to since, else derived again), which holds as long as
/// task runs are only changed by `apply` (or the execution is replaced as a whole).
pub struct Executor {
    expr: saker_expr::Engine,
    memos: Mutex<Memos>,
}

/// Memos by execution id. Bounded: an execution that is never driven to its end cannot make
/// it grow without limit (a dropped memo is only derived again).
#[derive(Default)]
struct Memos {
    by_execution: HashMap<String, Memo>,
    clock: u64,
}

const MAX_MEMOS: usize = 256;

impl Memos {
    fn take(&mut self, id: &str) -> Option<Memo> {
        self.by_execution.remove(id)
    }

    fn keep(&mut self, id: &str, mut memo: Memo) {
        self.clock += 1;
        memo.last_use = self.clock;
        if self.by_execution.len() >= MAX_MEMOS {
            let oldest = self
                .by_execution
                .iter()
                .min_by_key(|(_, m)| m.last_use)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.by_execution.remove(&oldest);
            }
        }
        self.by_execution.insert(id.to_owned(), memo);
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl Executor {
    pub fn new() -> Self {
        Executor {
            expr: saker_expr::Engine::new(),
            memos: Mutex::new(Memos::default()),
        }
    }

    /// Applies one event to `execution` (mutated in place) and returns the side effects to
    /// perform, in order. `now` is the event's instant; `ids` supplies new ids (and the
    /// randomness of random retry intervals). Never panics on user input: expression and
    /// property errors fail the task run with an ERROR [`Action::Log`].
    pub fn apply(
        &self,
        flow: &Flow,
        execution: &mut Execution,
        event: Event,
        now: Instant,
        ids: &mut dyn IdSource,
        services: &dyn EngineServices,
    ) -> Vec<Action> {
        self.apply_tracked(flow, execution, event, now, ids, services)
            .actions
    }

    /// [`Executor::apply`], also saying which task runs it changed, so a caller can persist
    /// only those instead of comparing the whole list.
    pub fn apply_tracked(
        &self,
        flow: &Flow,
        execution: &mut Execution,
        event: Event,
        now: Instant,
        ids: &mut dyn IdSource,
        services: &dyn EngineServices,
    ) -> Applied {
        let was_terminated = execution.state.is_terminated();
        #[cfg(debug_assertions)]
        let index = FlowIndex::new(flow);
        #[cfg(debug_assertions)]
        let is_flowable = |task_id: &str| index.task(task_id).is_some_and(|t| t.is_flowable());
        let mut cx = self.cx(flow, execution, now, ids, services);
        cx.begin_step();
        handlers::handle(&mut cx, event);
        sla::on_change(&mut cx);
        cx.end_step();
        process::run(&mut cx);
        // A timer armed on several passes is one timer.
        let mut seen: Vec<Action> = Vec::new();
        cx.actions.retain(|action| {
            if !matches!(action, Action::ArmTimer { .. }) {
                return true;
            }
            let first = !seen.contains(action);
            if first {
                seen.push(action.clone());
            }
            first
        });
        if !was_terminated && cx.exec.state.is_terminated() {
            let state = cx.exec.state.current();
            cx.actions.push(Action::Ended { state });
        }
        let changed = if cx.track.all {
            RunChanges::All
        } else {
            let list = &cx.exec.task_run_list;
            RunChanges::Runs(
                cx.track
                    .changed
                    .iter()
                    .filter_map(|&p| list.get(p).map(|r| r.id.clone()))
                    .collect(),
            )
        };
        #[cfg(debug_assertions)]
        cx.memo.check(cx.exec, &is_flowable);
        // A finished execution with nothing open keeps no memo (a restart derives it again).
        if !(cx.exec.state.is_terminated() && cx.memo.index.open(false).is_empty()) {
            self.memos().keep(cx.exec.id.as_str(), cx.memo);
        }
        Applied {
            actions: cx.actions,
            changed,
        }
    }
}

impl Executor {
    /// The [`StartSubflow`] that the RUNNING Subflow run `task_run_id` issued when it started,
    /// built again from `flow` and `execution` as they are now, with the same child execution
    /// id (the run's `outputs.executionId`). A runtime that acts on actions only once the
    /// parent is committed may die before the child is saved; at recovery it starts the child
    /// again from this (at-least-once). `execution` is not changed. `Err` says why there is
    /// nothing to start again (not such a run, or its properties no longer render).
    pub fn subflow_start(
        &self,
        flow: &Flow,
        execution: &mut Execution,
        task_run_id: &TaskRunId,
        now: Instant,
        ids: &mut dyn IdSource,
        services: &dyn EngineServices,
    ) -> Result<StartSubflow, String> {
        let cx = self.cx(flow, execution, now, ids, services);
        let start = match cx.run(task_run_id).and_then(|run| cx.task_of(run)) {
            Some(task) => subflow::start_again(&cx, task, task_run_id),
            None => Err(format!("no task run {}", task_run_id.as_str())),
        };
        let id = cx.exec.id.as_str().to_owned();
        self.memos().keep(&id, cx.memo);
        start
    }

    /// The context of one call on `execution`, with its kept memo (see `memo.rs`).
    fn cx<'a>(
        &'a self,
        flow: &'a Flow,
        execution: &'a mut Execution,
        now: Instant,
        ids: &'a mut dyn IdSource,
        services: &'a dyn EngineServices,
    ) -> Cx<'a> {
        let index = FlowIndex::new(flow);
        let is_flowable = |task_id: &str| index.task(task_id).is_some_and(|t| t.is_flowable());
        let kept = self.memos().take(execution.id.as_str());
        let memo = Memo::resume(kept, flow, execution, &is_flowable);
        Cx {
            flow,
            index,
            exec: execution,
            now,
            ids,
            services,
            expr: &self.expr,
            actions: Vec::new(),
            memo,
            track: Track::default(),
            branch_cache: Default::default(),
        }
    }

    fn memos(&self) -> std::sync::MutexGuard<'_, Memos> {
        // A panic while holding the lock leaves only derived data behind: start over.
        match self.memos.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                *guard = Memos::default();
                self.memos.clear_poison();
                guard
            }
        }
    }
}

/// What [`Executor::apply_tracked`] did.
#[derive(Debug)]
pub struct Applied {
    pub actions: Vec<Action>,
    pub changed: RunChanges,
}

/// The task runs an `apply` changed or added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunChanges {
    /// Runs were removed (restart, LoopUntil iteration): treat every run as changed.
    All,
    /// These runs, in list order; the others are untouched.
    Runs(Vec<TaskRunId>),
}

/// [`Executor::apply`] on a process-wide executor.
pub fn apply(
    flow: &Flow,
    execution: &mut Execution,
    event: Event,
    now: Instant,
    ids: &mut dyn IdSource,
    services: &dyn EngineServices,
) -> Vec<Action> {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR
        .get_or_init(Executor::new)
        .apply(flow, execution, event, now, ids, services)
}

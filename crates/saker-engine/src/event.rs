//! What can happen to an execution: the closed set of inputs of [`crate::Executor::apply`].

use saker_core::{ExecutionId, Instant, JsonMap, StateType, TaskRunId};

/// One input of the state machine. The caller persists the execution after each `apply`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The execution was just created (state `CREATED`): start it.
    Created,
    /// A worker started or finished an attempt of a runnable task run.
    TaskRunResult(TaskRunResult),
    /// A timer armed by [`crate::Action::ArmTimer`] is due.
    TimerFired(Timer),
    /// Kill requested (API, Exit KILLED of a parent, kill cascade).
    KillRequested,
    /// Manual pause of a running execution (no Pause task involved).
    PauseRequested,
    /// Resume a paused execution: one Pause task run, or every paused one when `None`.
    ResumeRequested {
        task_run_id: Option<TaskRunId>,
        /// Validated `onResume` inputs, stored as the Pause task's `onResume` output.
        inputs: JsonMap,
    },
    /// A child execution started by [`crate::Action::StartSubflow`] terminated.
    SubflowEnded {
        task_run_id: TaskRunId,
        execution_id: ExecutionId,
        state: StateType,
        /// The child's flow outputs.
        outputs: JsonMap,
    },
    /// Restart a FAILED or PAUSED execution from its failure point (spec §6.7).
    RestartRequested,
    /// The execution was loaded from the store after a restart: re-arm the timers whose due
    /// time is derived from the stored execution (pending retries, LoopUntil intervals), at
    /// the instant they were due before the restart.
    Recovered,
    /// Set a task run of a terminated or paused execution to a final state and restart the
    /// execution from there (Kestra's "change state"; see [`crate::check_change_state`]).
    TaskRunStateChanged {
        task_run_id: TaskRunId,
        state: StateType,
    },
    /// The worker holding a WorkingDirectory block reports on the task runs it creates for the
    /// block's children (spec §6: `dynamic` task runs), and at last releases the block.
    WorkerTaskRuns(WorkerTaskRuns),
}

/// One report of the worker holding a WorkingDirectory block.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerTaskRuns {
    /// The WorkingDirectory task run.
    pub task_run_id: TaskRunId,
    /// Child attempts in the order they happened. A child task run (id chosen by the worker)
    /// is created by its first report: `RUNNING`, or `SKIPPED` when its `runIf` is falsy.
    pub children: Vec<DynamicTaskRun>,
    /// Set on the last report. The worker sends it together with the report of the child that
    /// ends the block (the last one, or a failing one), so the block's state is never derived
    /// from its children while the worker still works in its directory.
    pub released: Option<BlockReleased>,
}

/// One child attempt of a WorkingDirectory block, as a [`TaskRunResult`] plus the child's task.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicTaskRun {
    pub task_id: String,
    pub result: TaskRunResult,
}

/// The end of a WorkingDirectory block on its worker.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockReleased {
    /// `SUCCESS` when the directory was prepared and finished (the block's state then derives
    /// from its children); `FAILED` when preparing it (input files, cache) or uploading its
    /// output files failed; `KILLED` when it was interrupted before a child could report it.
    pub state: StateType,
    /// The block's own outputs (`outputFiles`).
    pub outputs: Option<JsonMap>,
}

/// A worker's report for one attempt.
///
/// `state` is the attempt state as the task produced it (`RUNNING` when the attempt starts,
/// then `SUCCESS`, `WARNING`, `FAILED` or `KILLED`). The engine applies `retry`,
/// `allowFailure`, `allowWarning` and `warningOnRetry` itself, because only it knows whether a
/// retry is left.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunResult {
    pub task_run_id: TaskRunId,
    pub state: StateType,
    pub worker_id: Option<String>,
    /// Outputs of a finished attempt (`None`: the task produced none).
    pub outputs: Option<JsonMap>,
    /// When a `RUNNING` report's attempt started, if the report comes later (`None`: now).
    pub started: Option<Instant>,
}

impl TaskRunResult {
    /// The attempt started on a worker.
    pub fn running(task_run_id: TaskRunId) -> Self {
        TaskRunResult {
            task_run_id,
            state: StateType::Running,
            worker_id: None,
            outputs: None,
            started: None,
        }
    }

    /// The attempt started on a worker at `at`, reported later (with its end, when it ended
    /// first: one commit instead of two).
    pub fn running_since(task_run_id: TaskRunId, at: Instant) -> Self {
        TaskRunResult {
            started: Some(at),
            ..TaskRunResult::running(task_run_id)
        }
    }

    /// The attempt ended in `state` with `outputs`.
    pub fn ended(task_run_id: TaskRunId, state: StateType, outputs: Option<JsonMap>) -> Self {
        TaskRunResult {
            task_run_id,
            state,
            worker_id: None,
            outputs,
            started: None,
        }
    }
}

/// Why a timer was armed; handed back unchanged in [`Event::TimerFired`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// A `RETRY_FAILED_TASK` retry is due: the task run goes back to `CREATED`.
    RetryDue { task_run_id: TaskRunId },
    /// A Pause task's `pauseDuration` or `timeout` elapsed: resume it into `to`.
    PauseDue {
        task_run_id: TaskRunId,
        to: StateType,
    },
    /// The execution's `scheduleDate` is reached: it may start.
    ScheduleDue,
    /// A LoopUntil's `interval` after iteration `iteration` elapsed: start the next one.
    LoopDue {
        task_run_id: TaskRunId,
        iteration: u32,
    },
    /// The deadline of the flow's `MAX_DURATION` SLA `sla_id` is reached.
    SlaDue { sla_id: String },
}

//! What the engine asks the outside world to do: the closed set of outputs of
//! [`crate::Executor::apply`], executed by the caller after persisting the execution.

use saker_core::{ExecutionId, ExecutionTrigger, Instant, JsonMap, Label, StateType, TaskRunId};

use crate::event::Timer;

/// Severity of an executor log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// One side effect requested by the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a runnable task run (now `RUNNING`) to a worker. The worker finds the task by
    /// `task_id` in the flow, renders it (see [`crate::render_context`]) and reports
    /// [`crate::Event::TaskRunResult`]s.
    Dispatch {
        task_run_id: TaskRunId,
        task_id: String,
    },
    /// Create and start a child execution for a Subflow task run. The id is chosen by the
    /// engine so the parent's outputs can name it before the child exists.
    StartSubflow(Box<StartSubflow>),
    /// Deliver [`crate::Event::TimerFired`] with `timer` at `at`. An upsert keyed by `timer`:
    /// the same timer may be armed again (with the same instant) while the engine waits for it.
    ArmTimer { at: Instant, timer: Timer },
    /// An executor log line (execution-level when `task_run_id` is `None`).
    Log {
        level: LogLevel,
        task_run_id: Option<TaskRunId>,
        message: String,
    },
    /// Interrupt a running task run (worker task or the child execution of a Subflow).
    KillTaskRun { task_run_id: TaskRunId },
    /// `CREATE_NEW_EXECUTION` retry: replay the whole execution as a new one at `at`.
    CreateReplay { at: Instant },
    /// The execution reached a terminal state (emitted once).
    Ended { state: StateType },
}

/// The child execution a Subflow task asks for (properties already rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct StartSubflow {
    pub task_run_id: TaskRunId,
    pub execution_id: ExecutionId,
    pub namespace: String,
    pub flow_id: String,
    pub revision: Option<u32>,
    /// Rendered, still to be coerced by the child flow's input definitions.
    pub inputs: JsonMap,
    /// The parent's `system.correlationId`, the parent's other labels with `inheritLabels`,
    /// then the task's `labels` (the child flow's own labels are the caller's to add).
    pub labels: Vec<Label>,
    /// The child's `trigger`: the parent task run (`{{ trigger.executionId }}` in the child).
    pub trigger: ExecutionTrigger,
    pub schedule_date: Option<Instant>,
    /// `false`: the parent task run already succeeded and will get no [`crate::Event::SubflowEnded`].
    pub wait: bool,
    /// Where to store the child's flow outputs (one ION line) when it ends, before reporting
    /// [`crate::Event::SubflowEnded`]: ForEachItem merges these files (`None` for Subflow).
    pub outputs_uri: Option<String>,
}

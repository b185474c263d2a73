//! saker-core: the execution data model shared by the engine, the store, the server and the
//! CLI.
//!
//! Pure data: executions, task runs, states, ids, labels, durations and the expression
//! variables derived from them, serialized exactly like Kestra's REST API. Nothing here does
//! IO, reads a clock or draws random numbers: instants and id bits are always passed in.

pub mod duration;
pub mod execution;
pub mod ids;
pub mod label;
pub mod state;
pub mod time;
pub mod variables;

pub use duration::{DurationParseError, IsoDuration, format_duration, parse_duration};
pub use execution::{
    Breakpoint, Execution, ExecutionKind, ExecutionMetadata, ExecutionTrigger, JsonMap, TaskRun,
    TaskRunAttempt, TaskRunNotFound,
};
pub use ids::{ExecutionId, FlowRef, IdSource, SequentialIds, TaskRunId};
pub use label::Label;
pub use state::{History, State, StateType};
pub use time::Instant;

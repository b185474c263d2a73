//! The deletions behind Kestra's `PurgeExecutions` and `PurgeLogs` tasks ([`Purger`]): the
//! server's store, reached from a task like the log source of `log.Fetch`.

use saker_core::{Instant, StateType};

use crate::log::Level;
use crate::task::BoxFuture;

/// What `PurgeExecutions` deletes: the ended executions of a namespace (and its children) or
/// of one flow, by date and state, with the parts it names.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionsPurge {
    /// Without `flow_id`: a namespace prefix; with it: the flow's namespace (Kestra's rule).
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// Started at or after.
    pub start_date: Option<Instant>,
    /// Ended before.
    pub end_date: Instant,
    /// Only these states (empty: any); executions that have not ended are never purged.
    pub states: Vec<StateType>,
    pub purge_log: bool,
    pub purge_metric: bool,
    pub purge_storage: bool,
    /// Executions deleted per transaction.
    pub batch_size: u32,
}

/// What a `PurgeExecutions` run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgedExecutions {
    pub executions: u64,
    /// Internal-storage files deleted.
    pub files: u64,
}

/// What `PurgeLogs` deletes.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsPurge {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub execution_id: Option<String>,
    /// Only these levels (empty: all).
    pub levels: Vec<Level>,
    /// At or after.
    pub start_date: Option<Instant>,
    /// Before.
    pub end_date: Instant,
}

/// Deletes stored executions and logs for the purge tasks.
pub trait Purger: Send + Sync {
    fn purge_executions(
        &self,
        purge: ExecutionsPurge,
    ) -> BoxFuture<'_, Result<PurgedExecutions, String>>;

    /// Returns how many log lines were deleted.
    fn purge_logs(&self, purge: LogsPurge) -> BoxFuture<'_, Result<u64, String>>;
}

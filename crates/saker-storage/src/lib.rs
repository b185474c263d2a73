//! saker-storage: where runs are kept.
//!
//! - [`Store`]: flows by `(namespace, id[, revision])`, executions (a header plus task-run rows,
//!   written as deltas so a 10,000-iteration ForEach does not rewrite one huge document per
//!   step) and execution logs. Native `async fn`s returning `Send` futures, so the SQLite and
//!   PostgreSQL backends of later issues fit the same shape; callers are generic over `S: Store`.
//! - [`MemoryStore`]: the in-memory backend (`saker flow test`, tests).
//! - [`LocalStorage`]: internal storage (`kestra:///…` files, spec §9) on local disk;
//!   [`S3Storage`] in an S3-compatible bucket; [`StorageConfig`] picks one.
//! - [`StoreLogSource`]: the `log.Fetch` view ([`saker_task::LogSource`]) of a store's logs.

pub mod files_suite;
mod local;
mod logs;
mod memory;
mod metrics;
pub mod moto;
mod purger;
mod query;
mod s3;
mod storage_config;
pub mod suite;

use std::future::Future;

use saker_core::{Execution, ExecutionId, Instant, TaskRun, TaskRunId};

pub use local::{FileStore, LocalStorage};
pub use logs::{LogEntry, LogFilter, StoreLogSource};
pub use memory::MemoryStore;
pub use metrics::{MetricEntry, MetricQuery};
pub use purger::StorePurger;
pub use query::{
    ExecutionPurge, ExecutionQuery, LogPurge, LogSearch, Page, Paging, PurgedExecution, Scope,
    TriggerKey, TriggerRecord, sort_executions,
};
pub use s3::{S3Config, S3Storage};
pub use storage_config::StorageConfig;

/// Storage failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An update names something that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A problem of the backend (IO, database, serialization).
    #[error("storage backend error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// One revision of a flow, kept as its source text: the caller parses (and caches) it, so
/// stored flows survive changes to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub namespace: String,
    pub id: String,
    pub revision: u32,
    pub source: String,
    /// A deleted flow is a last revision with this set (Kestra keeps the history); it is no
    /// longer returned as the latest revision nor listed.
    pub deleted: bool,
}

/// Which task runs of an execution changed since it was last saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Rewrite every task run (first save, or task runs removed/reordered).
    All,
    /// Only these task runs were added or changed (in list order); the others are as stored.
    TaskRuns(Vec<TaskRunId>),
}

impl Changed {
    /// The delta between the task runs of an execution before and after an update. Task runs are
    /// only ever appended or changed in place; anything else (a restart that drops runs) is
    /// [`Changed::All`].
    pub fn between(before: &[TaskRun], after: &[TaskRun]) -> Changed {
        if after.len() < before.len() {
            return Changed::All;
        }
        let mut ids = Vec::new();
        for (index, run) in after.iter().enumerate() {
            match before.get(index) {
                Some(old) if old.id != run.id => return Changed::All,
                Some(old) if old == run => {}
                _ => ids.push(run.id.clone()),
            }
        }
        Changed::TaskRuns(ids)
    }
}

/// Persistence of flows, executions and logs. Every method is a single atomic write or read.
pub trait Store: Send + Sync + 'static {
    /// Stores a flow source as a new revision of `(namespace, id)` and returns it; an unchanged
    /// source returns the latest revision unchanged (Kestra creates no revision then).
    fn put_flow(
        &self,
        namespace: &str,
        id: &str,
        source: &str,
    ) -> impl Future<Output = Result<FlowRecord>> + Send;

    /// One revision, or the latest when `revision` is `None`.
    fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> impl Future<Output = Result<Option<FlowRecord>>> + Send;

    /// The latest revision of every flow (of one namespace when given), sorted by
    /// `(namespace, id)`. Flow triggers scan these.
    fn list_flows(
        &self,
        namespace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<FlowRecord>>> + Send;

    /// Inserts or updates an execution: its header always, its task runs as `changed` says.
    fn save_execution(
        &self,
        execution: &Execution,
        changed: &Changed,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Saves several executions, all or nothing: the backends commit them together (one
    /// transaction), which is what makes the runtime's batched saves cheap, and a failure
    /// stores none of them (the runtime answers every submit of a failed batch with the
    /// error). The default, one save after the other, is for backends without transactions.
    fn save_executions(
        &self,
        items: &[(&Execution, &Changed)],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for (execution, changed) in items {
                self.save_execution(execution, changed).await?;
            }
            Ok(())
        }
    }

    fn get_execution(
        &self,
        id: &ExecutionId,
    ) -> impl Future<Output = Result<Option<Execution>>> + Send;

    /// Appends log lines (kept in insertion order).
    fn append_logs(&self, entries: &[LogEntry]) -> impl Future<Output = Result<()>> + Send;

    /// The log lines matching `filter`, in insertion order.
    fn logs(&self, filter: &LogFilter) -> impl Future<Output = Result<Vec<LogEntry>>> + Send;

    // ----- Added for the server (issue 4): search, deletion, recovery, triggers.

    /// Every revision of a flow, oldest first (deleted markers included).
    fn flow_revisions(
        &self,
        namespace: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<FlowRecord>>> + Send;

    /// Deletes a flow: appends a revision marked deleted (same source). `false` when there was
    /// no live flow.
    fn delete_flow(&self, namespace: &str, id: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Executions matching `query`, newest first ([`sort_executions`]), one page, with their
    /// task runs.
    fn search_executions(
        &self,
        query: &ExecutionQuery,
    ) -> impl Future<Output = Result<Page<Execution>>> + Send;

    /// Every execution not in a terminated state (CREATED, QUEUED, RUNNING, PAUSED, KILLING,
    /// RESTARTED, RETRYING...), oldest first: what a restarted server resumes.
    fn unfinished_executions(&self) -> impl Future<Output = Result<Vec<Execution>>> + Send;

    /// Removes an execution, its task runs and its logs for good. `false` when unknown.
    fn delete_execution(&self, id: &ExecutionId) -> impl Future<Output = Result<bool>> + Send;

    /// Log lines across executions, in insertion order, one page.
    fn search_logs(
        &self,
        search: &LogSearch,
    ) -> impl Future<Output = Result<Page<LogEntry>>> + Send;

    /// Removes the log lines of an execution; returns how many.
    fn delete_logs(&self, execution_id: &str) -> impl Future<Output = Result<u64>> + Send;

    /// Inserts or replaces a trigger's record (lease fields included, as given).
    fn put_trigger(&self, record: &TriggerRecord) -> impl Future<Output = Result<()>> + Send;

    fn get_trigger(
        &self,
        key: &TriggerKey,
    ) -> impl Future<Output = Result<Option<TriggerRecord>>> + Send;

    /// Every trigger record (of one namespace and its children when given), sorted by key.
    fn list_triggers(
        &self,
        namespace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<TriggerRecord>>> + Send;

    fn delete_trigger(&self, key: &TriggerKey) -> impl Future<Output = Result<bool>> + Send;

    /// Takes the lease of a trigger for `owner` until `until`, atomically: granted when the
    /// record has no lease, an expired one (`lease_until <= now`) or one held by `owner`.
    /// Returns the record as leased, `None` when another owner holds it or the trigger has no
    /// record.
    fn acquire_trigger_lease(
        &self,
        key: &TriggerKey,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> impl Future<Output = Result<Option<TriggerRecord>>> + Send;

    /// Tells the processes that run the triggers that `key`'s record was changed (committed)
    /// by one that does not: the API of the webserver component. A store shared by several
    /// processes delivers it (PostgreSQL: a note on the flow-changes channel); one that only a
    /// single process uses has nobody to tell.
    fn trigger_changed(&self, key: &TriggerKey) -> impl Future<Output = Result<()>> + Send {
        let _ = key;
        std::future::ready(Ok(()))
    }

    // ----- Retention (issue 6): bounded deletes, so a big purge never holds the writer long.

    /// Deletes up to `limit` executions matching `purge` (those that ended first go first) with
    /// their task runs, and their logs and metrics when `purge` says so, in one transaction.
    /// Returns the deleted executions (their internal-storage files are the caller's). A
    /// backend may take fewer than `limit` per call (SQL ones at most 1,000): callers loop until
    /// a call returns nothing.
    fn purge_executions(
        &self,
        purge: &ExecutionPurge,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PurgedExecution>>> + Send;

    /// Deletes up to `limit` log lines matching `purge` (oldest first); returns how many
    /// (possibly fewer than `limit` while more match: loop until 0).
    fn purge_logs(&self, purge: &LogPurge, limit: u32) -> impl Future<Output = Result<u64>> + Send;

    // ----- Task metrics (counters, timers, gauges reported by tasks).

    /// Appends metric points (kept in insertion order).
    fn append_metrics(&self, entries: &[MetricEntry]) -> impl Future<Output = Result<()>> + Send;

    /// The metrics matching `query`, in insertion order, one page.
    fn search_metrics(
        &self,
        query: &MetricQuery,
    ) -> impl Future<Output = Result<Page<MetricEntry>>> + Send;

    /// The distinct names of the metrics of a flow (of one of its tasks when given), sorted.
    fn metric_names(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The distinct ids of the tasks of a flow that have metrics (deleted or renamed tasks
    /// included), sorted.
    fn metric_tasks(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
}

#[cfg(test)]
mod tests {
    use saker_core::{FlowRef, Instant, StateType};

    use super::*;

    fn now() -> Instant {
        saker_core::time::parse_instant("2026-01-01T00:00:00Z").unwrap()
    }

    fn run(id: &str) -> TaskRun {
        let execution = Execution::new(
            ExecutionId::new("e"),
            &FlowRef::new("ns", "f", 1),
            &[],
            Vec::new(),
            now(),
        );
        TaskRun::new(TaskRunId::new(id), &execution, "t", now())
    }

    #[test]
    fn changed_lists_new_and_modified_runs() {
        let before = vec![run("a"), run("b")];
        let mut after = before.clone();
        after[1].transition(StateType::Running, now());
        after.push(run("c"));
        assert_eq!(
            Changed::between(&before, &after),
            Changed::TaskRuns(vec![TaskRunId::new("b"), TaskRunId::new("c")])
        );
        assert_eq!(Changed::between(&after, &before), Changed::All);
        let swapped = vec![run("b"), run("a")];
        assert_eq!(Changed::between(&before, &swapped), Changed::All);
    }
}

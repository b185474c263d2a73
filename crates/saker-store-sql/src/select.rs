//! The store a server runs on, chosen by its database URL: [`SqlStore`] is one type for both
//! backends (implementing [`Store`] and [`KvStore`] by delegation), so the server is not
//! generic over them; [`open`] makes it from `sqlite://PATH` or `postgres://…`.

use std::sync::Arc;

use saker_core::{Execution, ExecutionId, Instant};
use saker_storage::{
    Changed, Error, ExecutionPurge, ExecutionQuery, FlowRecord, LogEntry, LogFilter, LogPurge,
    LogSearch, MetricEntry, MetricQuery, Page, PurgedExecution, Result, Store, TriggerKey,
    TriggerRecord,
};
use saker_task::kv::{KvEntry, KvError, KvMeta, KvPut, KvStore};
use saker_task::task::BoxFuture;

use crate::{PgStore, SqliteStore};

/// A SQLite or a PostgreSQL store.
#[derive(Clone)]
pub enum SqlStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Opens the store of a database URL, bringing its schema up to date:
/// - `sqlite://PATH` (or `sqlite:PATH`): a SQLite file, created with its directories when
///   missing; `sqlite:///abs/path` is absolute, `sqlite://data/saker.db` relative to the
///   working directory; `sqlite::memory:` a private in-memory store;
/// - `postgres://…` or `postgresql://…`: a PostgreSQL database ([`PgStore::connect`] lists the
///   parameters).
pub async fn open(url: &str) -> Result<Arc<SqlStore>> {
    let store = if url == "sqlite::memory:" {
        SqlStore::Sqlite(SqliteStore::memory().await?)
    } else if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(Error::Backend(
                "the SQLite database URL names no file: use sqlite://PATH".to_owned(),
            ));
        }
        SqlStore::Sqlite(SqliteStore::open(path).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        SqlStore::Postgres(PgStore::connect(url).await?)
    } else {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        return Err(Error::Backend(format!(
            "unsupported database URL scheme `{scheme}`: use sqlite://PATH or \
             postgres://USER@HOST:PORT/DATABASE"
        )));
    };
    Ok(Arc::new(store))
}

impl SqlStore {
    /// Where the data is, without secrets: a file, or `postgres://user@host:port/database`.
    pub fn location(&self) -> &str {
        match self {
            SqlStore::Sqlite(store) => store.location(),
            SqlStore::Postgres(store) => store.location(),
        }
    }

    /// Listens for the flow changes committed by any process (see [`crate::flow_changes`]);
    /// `None` for SQLite, which one process owns.
    pub async fn flow_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<crate::FlowChange>>> {
        match self {
            SqlStore::Sqlite(_) => Ok(None),
            SqlStore::Postgres(store) => store.flow_changes().await.map(Some),
        }
    }

    /// Closes every connection; the store is unusable afterwards.
    pub async fn close(&self) {
        match self {
            SqlStore::Sqlite(store) => store.close().await,
            SqlStore::Postgres(store) => store.close().await,
        }
    }
}

/// `$call` on the backend inside `$self`, bound as `$store`.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            SqlStore::Sqlite($store) => $call,
            SqlStore::Postgres($store) => $call,
        }
    };
}

impl Store for SqlStore {
    async fn put_flow(&self, namespace: &str, id: &str, source: &str) -> Result<FlowRecord> {
        delegate!(self, s => s.put_flow(namespace, id, source).await)
    }

    async fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<FlowRecord>> {
        delegate!(self, s => s.get_flow(namespace, id, revision).await)
    }

    async fn list_flows(&self, namespace: Option<&str>) -> Result<Vec<FlowRecord>> {
        delegate!(self, s => s.list_flows(namespace).await)
    }

    async fn save_execution(&self, execution: &Execution, changed: &Changed) -> Result<()> {
        delegate!(self, s => s.save_execution(execution, changed).await)
    }

    async fn save_executions(&self, items: &[(&Execution, &Changed)]) -> Result<()> {
        delegate!(self, s => s.save_executions(items).await)
    }

    async fn get_execution(&self, id: &ExecutionId) -> Result<Option<Execution>> {
        delegate!(self, s => s.get_execution(id).await)
    }

    async fn append_logs(&self, entries: &[LogEntry]) -> Result<()> {
        delegate!(self, s => s.append_logs(entries).await)
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        delegate!(self, s => s.logs(filter).await)
    }

    async fn flow_revisions(&self, namespace: &str, id: &str) -> Result<Vec<FlowRecord>> {
        delegate!(self, s => s.flow_revisions(namespace, id).await)
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool> {
        delegate!(self, s => s.delete_flow(namespace, id).await)
    }

    async fn search_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        delegate!(self, s => s.search_executions(query).await)
    }

    async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        delegate!(self, s => s.unfinished_executions().await)
    }

    async fn delete_execution(&self, id: &ExecutionId) -> Result<bool> {
        delegate!(self, s => s.delete_execution(id).await)
    }

    async fn search_logs(&self, search: &LogSearch) -> Result<Page<LogEntry>> {
        delegate!(self, s => s.search_logs(search).await)
    }

    async fn delete_logs(&self, execution_id: &str) -> Result<u64> {
        delegate!(self, s => s.delete_logs(execution_id).await)
    }

    async fn purge_executions(
        &self,
        purge: &ExecutionPurge,
        limit: u32,
    ) -> Result<Vec<PurgedExecution>> {
        delegate!(self, s => s.purge_executions(purge, limit).await)
    }

    async fn purge_logs(&self, purge: &LogPurge, limit: u32) -> Result<u64> {
        delegate!(self, s => s.purge_logs(purge, limit).await)
    }

    async fn put_trigger(&self, record: &TriggerRecord) -> Result<()> {
        delegate!(self, s => s.put_trigger(record).await)
    }

    async fn get_trigger(&self, key: &TriggerKey) -> Result<Option<TriggerRecord>> {
        delegate!(self, s => s.get_trigger(key).await)
    }

    async fn list_triggers(&self, namespace: Option<&str>) -> Result<Vec<TriggerRecord>> {
        delegate!(self, s => s.list_triggers(namespace).await)
    }

    async fn delete_trigger(&self, key: &TriggerKey) -> Result<bool> {
        delegate!(self, s => s.delete_trigger(key).await)
    }

    async fn acquire_trigger_lease(
        &self,
        key: &TriggerKey,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<Option<TriggerRecord>> {
        delegate!(self, s => s.acquire_trigger_lease(key, owner, until, now).await)
    }

    async fn trigger_changed(&self, key: &TriggerKey) -> Result<()> {
        delegate!(self, s => s.trigger_changed(key).await)
    }

    async fn append_metrics(&self, entries: &[MetricEntry]) -> Result<()> {
        delegate!(self, s => s.append_metrics(entries).await)
    }

    async fn search_metrics(&self, query: &MetricQuery) -> Result<Page<MetricEntry>> {
        delegate!(self, s => s.search_metrics(query).await)
    }

    async fn metric_names(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
    ) -> Result<Vec<String>> {
        delegate!(self, s => s.metric_names(namespace, flow_id, task_id).await)
    }

    async fn metric_tasks(&self, namespace: &str, flow_id: &str) -> Result<Vec<String>> {
        delegate!(self, s => s.metric_tasks(namespace, flow_id).await)
    }
}

impl KvStore for SqlStore {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, std::result::Result<Option<KvEntry>, KvError>> {
        delegate!(self, s => s.get(namespace, key, now))
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: KvPut,
        now: Instant,
    ) -> BoxFuture<'a, std::result::Result<(), KvError>> {
        delegate!(self, s => s.put(namespace, key, entry, now))
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, std::result::Result<bool, KvError>> {
        delegate!(self, s => KvStore::delete(s, namespace, key))
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, std::result::Result<Vec<KvMeta>, KvError>> {
        delegate!(self, s => s.list(namespace, now))
    }

    fn list_expired<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, std::result::Result<Vec<KvMeta>, KvError>> {
        delegate!(self, s => s.list_expired(namespace, now))
    }

    fn delete_expired<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, std::result::Result<bool, KvError>> {
        delegate!(self, s => s.delete_expired(namespace, key, now))
    }

    fn namespaces(&self) -> BoxFuture<'_, std::result::Result<Vec<String>, KvError>> {
        delegate!(self, s => s.namespaces())
    }
}

//! The SQLite backend: one file, WAL, one writer connection and a few readers.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use saker_core::{Execution, ExecutionId, Instant};
use saker_storage::{
    Changed, Error, ExecutionPurge, ExecutionQuery, FlowRecord, LogEntry, LogFilter, LogPurge,
    LogSearch, MetricEntry, MetricQuery, Page, Paging, PurgedExecution, Result, Store, TriggerKey,
    TriggerRecord,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection};

use crate::codec::{
    ExecutionRow, TaskRunRow, all_rows, delta_rows, instant_to_db, level_to_db,
    option_instant_to_db, to_json,
};
use crate::rows::{
    SqlRow, assemble_all, db, execution_from_parts, flow_record, log_entry, metric_entry,
    runs_by_execution, trigger_record,
};
use crate::sql::{self, Dialect, Param};

/// The schema, oldest first. A new version is a new file; released files never change (their
/// checksum is recorded in the database).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "metrics",
        include_str!("../migrations/sqlite/0002_metrics.sql"),
    ),
    (
        3,
        "retention",
        include_str!("../migrations/sqlite/0003_retention.sql"),
    ),
];

/// How many connections read in parallel with the writer (WAL readers never block it).
const READERS: u32 = 4;

/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Saker's store in one SQLite file.
///
/// All writes go through a single connection: SQLite has one writer at a time anyway, and
/// queueing in the pool is cheaper than lock retries. Each write is one `BEGIN IMMEDIATE`
/// transaction. Reads use their own connections (WAL readers see the last commit and never wait
/// for the writer). `synchronous=NORMAL` with WAL keeps every commit atomic and consistent; a
/// power loss (not a process crash) may lose the last commits before the next checkpoint.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    location: String,
}

fn pool_options(connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        // Connections live as long as the store: an in-memory database lives in its
        // connection, and prepared statements are cached per connection.
        .idle_timeout(None)
        .max_lifetime(None)
        // A ping per acquire would double the round trips of a save.
        .test_before_acquire(false)
}

impl SqliteStore {
    /// One page of `table` (rows in insertion order, `seq`) matching `filter`, with the total
    /// count, read in one snapshot: the shared shape of the log and metric searches.
    async fn page_by_seq<T>(
        &self,
        table: &str,
        columns: &str,
        filter: &sql::Filter,
        paging: Paging,
        decode: fn(&SqliteRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let where_clause = filter.where_clause();
        let mut tx = self.reader.begin().await.map_err(db)?;
        let total: i64 = bind_params(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {table}{where_clause}"
            ))),
            &filter.params,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        let rows = bind_params(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM {table}{where_clause} ORDER BY {}{}",
                filter.seq_order(),
                sql::limit_clause(paging)
            ))),
            &filter.params,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Page {
            results: rows.iter().map(decode).collect::<Result<_>>()?,
            total: total as u64,
        })
    }

    /// Opens (creating it and its parent directories when missing) the store in the SQLite
    /// file at `path`, bringing its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let location = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::Backend(format!(
                    "cannot create the directory {} for the store: {e}",
                    parent.display()
                ))
            })?;
        }
        let fail = |e: sqlx::Error| {
            Error::Backend(format!(
                "cannot open the SQLite store {location}: {e}{}",
                if e.to_string().contains("not a database") {
                    " (the file is not a SQLite database, or it is damaged)"
                } else {
                    ""
                }
            ))
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = pool_options(1)
            .connect_with(options.clone())
            .await
            .map_err(fail)?;
        migrate(&writer, &location).await?;
        let reader = pool_options(READERS)
            .connect_with(options)
            .await
            .map_err(fail)?;
        Ok(SqliteStore {
            writer,
            reader,
            location,
        })
    }

    /// A private in-memory store (tests): one connection, gone when the store is dropped.
    pub async fn memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(db)?
            .foreign_keys(true);
        let writer = pool_options(1).connect_with(options).await.map_err(db)?;
        migrate(&writer, ":memory:").await?;
        Ok(SqliteStore {
            reader: writer.clone(),
            writer,
            location: ":memory:".to_owned(),
        })
    }

    /// The file the store lives in (`:memory:` for an in-memory one).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Closes every connection (checkpointing the WAL); the store is unusable afterwards.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }
}

/// The newest schema version this build knows.
pub fn schema_version() -> i64 {
    MIGRATIONS.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
}

/// Refuses a database written by a newer Saker, then applies the missing migrations.
async fn migrate(pool: &SqlitePool, location: &str) -> Result<()> {
    let fail = |e: sqlx::Error| {
        let hint = if e.to_string().contains("not a database") {
            " (the file is not a SQLite database, or it is damaged)"
        } else {
            ""
        };
        Error::Backend(format!(
            "cannot read the SQLite store {location}: {e}{hint}"
        ))
    };
    let has_history: bool = sqlx::query_scalar(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await
    .map_err(fail)?;
    if has_history {
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .map_err(fail)?;
        let known = schema_version();
        if let Some(applied) = applied.filter(|applied| *applied > known) {
            return Err(Error::Backend(format!(
                "the SQLite store {location} has schema version {applied}, written by a newer \
                 Saker; this version knows schema versions up to {known}: upgrade Saker or use \
                 another data directory"
            )));
        }
    }
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, text)| {
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*text),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
        .run(pool)
        .await
        .map_err(|e| {
            Error::Backend(format!(
                "cannot bring the schema of the SQLite store {location} up to date: {e}"
            ))
        })
}

/// SQLite's JSON functions for the label filter.
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn label_condition(&self, key: &str, value: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM json_each(e.header, '$.labels') l \
             WHERE json_extract(l.value, '$.key') = {key} \
               AND json_extract(l.value, '$.value') = {value})"
        )
    }

    fn contains_lowercase(&self, column: &str, needle: &str) -> String {
        format!("instr(lower({column}), {needle}) > 0")
    }
}

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments>;

fn bind_params<'q>(mut query: SqliteQuery<'q>, params: &[Param]) -> SqliteQuery<'q> {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Int(n) => query.bind(*n),
            Param::Bool(b) => query.bind(*b),
            Param::Float(x) => query.bind(*x),
        };
    }
    query
}

fn bind_logs<'q>(mut query: SqliteQuery<'q>, entries: &[LogEntry]) -> Result<SqliteQuery<'q>> {
    for entry in entries {
        query = query
            .bind(entry.namespace.clone())
            .bind(entry.flow_id.clone())
            .bind(entry.task_id.clone())
            .bind(entry.execution_id.clone())
            .bind(entry.task_run_id.clone())
            .bind(entry.attempt_number.map(i64::from))
            .bind(instant_to_db(entry.timestamp)?)
            .bind(level_to_db(entry.level))
            .bind(entry.thread.clone())
            .bind(entry.message.clone());
    }
    Ok(query)
}

fn bind_execution<'q>(query: SqliteQuery<'q>, row: &ExecutionRow) -> SqliteQuery<'q> {
    query
        .bind(row.id.clone())
        .bind(row.namespace.clone())
        .bind(row.flow_id.clone())
        .bind(row.state)
        .bind(row.start_date)
        .bind(row.end_date)
        .bind(row.parent_id.clone())
        .bind(row.deleted)
        .bind(row.header.clone())
}

/// The header UPDATE (`$1`..`$9`) followed by one task-run upsert per changed run
/// (`$10`.. three parameters each, the execution id being `$1`).
fn delta_sql(runs: usize) -> String {
    let mut text = String::from(sql::EXECUTION_UPDATE);
    for run in 0..runs {
        let first = 10 + run * 3;
        text.push_str(&format!(
            "; INSERT INTO task_runs (execution_id, id, position, value) \
             VALUES ($1, ${}, ${}, ${}) \
             ON CONFLICT (execution_id, id) DO UPDATE SET position = excluded.position, \
             value = excluded.value",
            first,
            first + 1,
            first + 2
        ));
    }
    text
}

async fn insert_runs(
    conn: &mut SqliteConnection,
    execution_id: &str,
    rows: &[TaskRunRow],
) -> Result<()> {
    for chunk in rows.chunks(sql::TASK_RUNS_PER_INSERT) {
        let text = sql::task_runs_insert(chunk.len());
        let mut query = sqlx::query(AssertSqlSafe(text));
        for row in chunk {
            query = query
                .bind(execution_id.to_owned())
                .bind(row.id.clone())
                .bind(row.position)
                .bind(row.value.clone());
        }
        query.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The task-run JSONs of the given executions, each in list order.
async fn runs_of(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<String>>> {
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let text = format!(
            "SELECT execution_id, value FROM task_runs WHERE execution_id IN ({}) \
             ORDER BY execution_id, position",
            sql::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(text));
        for id in chunk {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(&mut *conn).await.map_err(db)?;
        runs_by_execution(&rows, &mut runs)?;
    }
    Ok(runs)
}

/// Writes one execution (header, and its task runs as `changed` says) inside the caller's
/// transaction.
async fn write_execution(
    conn: &mut SqliteConnection,
    row: &ExecutionRow,
    delta: Option<&[TaskRunRow]>,
    execution: &Execution,
) -> Result<()> {
    // The usual save (a stored execution, a few changed runs) is one round trip to the
    // database thread: the header UPDATE and the run upserts as one multi-statement query.
    // On an execution not stored yet, the UPDATE changes nothing and a run upsert breaks the
    // foreign key (SQLite undoes that statement only); the whole execution is written then.
    let existed = match delta {
        Some(runs) => {
            let mut query = bind_execution(sqlx::query(AssertSqlSafe(delta_sql(runs.len()))), row);
            for run in runs {
                query = query
                    .bind(run.id.clone())
                    .bind(run.position)
                    .bind(run.value.clone());
            }
            match query.execute(&mut *conn).await {
                Ok(done) => done.rows_affected() == 1 + runs.len() as u64,
                Err(sqlx::Error::Database(e))
                    if e.kind() == sqlx::error::ErrorKind::ForeignKeyViolation =>
                {
                    false
                }
                Err(e) => return Err(db(e)),
            }
        }
        None => {
            bind_execution(sqlx::query(sql::EXECUTION_UPDATE), row)
                .execute(&mut *conn)
                .await
                .map_err(db)?
                .rows_affected()
                > 0
        }
    };
    if delta.is_none() || !existed {
        if existed {
            sqlx::query(sql::TASK_RUNS_DELETE)
                .bind(row.id.clone())
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        } else {
            bind_execution(sqlx::query(sql::EXECUTION_INSERT), row)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
        insert_runs(conn, &row.id, &all_rows(execution)?).await?;
    }
    Ok(())
}

impl Store for SqliteStore {
    async fn put_flow(&self, namespace: &str, id: &str, source: &str) -> Result<FlowRecord> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let latest = sqlx::query(sql::FLOW_LATEST)
            .bind(namespace)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| flow_record(&row))
            .transpose()?;
        if let Some(latest) = &latest
            && latest.source == source
            && !latest.deleted
        {
            return Ok(latest.clone());
        }
        let record = FlowRecord {
            namespace: namespace.to_owned(),
            id: id.to_owned(),
            revision: latest.map_or(1, |latest| latest.revision + 1),
            source: source.to_owned(),
            deleted: false,
        };
        sqlx::query(sql::FLOW_INSERT)
            .bind(namespace)
            .bind(id)
            .bind(i64::from(record.revision))
            .bind(source)
            .bind(false)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(record)
    }

    async fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<FlowRecord>> {
        let row = match revision {
            None => {
                sqlx::query(sql::FLOW_LATEST)
                    .bind(namespace)
                    .bind(id)
                    .fetch_optional(&self.reader)
                    .await
            }
            Some(revision) => {
                sqlx::query(sql::FLOW_REVISION)
                    .bind(namespace)
                    .bind(id)
                    .bind(i64::from(revision))
                    .fetch_optional(&self.reader)
                    .await
            }
        }
        .map_err(db)?;
        let record = row.map(|row| flow_record(&row)).transpose()?;
        Ok(match revision {
            None => record.filter(|record| !record.deleted),
            Some(_) => record,
        })
    }

    async fn list_flows(&self, namespace: Option<&str>) -> Result<Vec<FlowRecord>> {
        sqlx::query(sql::FLOWS_LATEST)
            .bind(namespace)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(flow_record)
            .collect()
    }

    async fn save_execution(&self, execution: &Execution, changed: &Changed) -> Result<()> {
        self.save_executions(&[(execution, changed)]).await
    }

    /// One transaction (one commit, one fsync) for the whole batch.
    async fn save_executions(&self, items: &[(&Execution, &Changed)]) -> Result<()> {
        // Everything is encoded (and a delta checked) before the transaction starts, so the
        // writer is held only for the statements.
        let mut encoded = Vec::with_capacity(items.len());
        for (execution, changed) in items {
            let row = ExecutionRow::new(execution)?;
            let delta = match changed {
                Changed::All => None,
                Changed::TaskRuns(ids) => Some(delta_rows(execution, ids)?),
            };
            encoded.push((row, delta, *execution));
        }
        // The usual save of a turn (one stored execution, some changed runs) is ONE round trip
        // to the database thread, transaction included: a hop costs more than the statements.
        // An execution not stored yet breaks the runs' foreign key: rolled back, then written
        // whole below. (A header-only delta could not tell, so it takes the path below.)
        if let [(row, Some(runs), _)] = &encoded[..]
            && !runs.is_empty()
        {
            let mut conn = self.writer.acquire().await.map_err(db)?;
            let text = format!("BEGIN IMMEDIATE; {}; COMMIT", delta_sql(runs.len()));
            let mut query = bind_execution(sqlx::query(AssertSqlSafe(text)), row);
            for run in runs.iter() {
                query = query
                    .bind(run.id.clone())
                    .bind(run.position)
                    .bind(run.value.clone());
            }
            match query.execute(&mut *conn).await {
                Ok(_) => return Ok(()),
                Err(error) => {
                    // Whatever ran of it is undone; a failed ROLLBACK means nothing was open.
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    let missing = matches!(&error, sqlx::Error::Database(e)
                        if e.kind() == sqlx::error::ErrorKind::ForeignKeyViolation);
                    if !missing {
                        return Err(db(error));
                    }
                }
            }
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        for (row, delta, execution) in &encoded {
            write_execution(&mut tx, row, delta.as_deref(), execution).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn get_execution(&self, id: &ExecutionId) -> Result<Option<Execution>> {
        let rows = sqlx::query(sql::EXECUTION_GET)
            .bind(id.as_str())
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        execution_from_parts(&rows)
    }

    async fn append_logs(&self, entries: &[LogEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if entries.len() <= sql::LOGS_PER_INSERT {
            // One round trip, transaction included (see `save_executions`).
            let text = format!(
                "BEGIN IMMEDIATE; {}; COMMIT",
                sql::logs_insert(entries.len())
            );
            let query = bind_logs(sqlx::query(AssertSqlSafe(text)), entries)?;
            let mut conn = self.writer.acquire().await.map_err(db)?;
            return match query.execute(&mut *conn).await {
                Ok(_) => Ok(()),
                Err(error) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    Err(db(error))
                }
            };
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        for chunk in entries.chunks(sql::LOGS_PER_INSERT) {
            let query = sqlx::query(AssertSqlSafe(sql::logs_insert(chunk.len())));
            bind_logs(query, chunk)?
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        let filter = sql::log_filter(filter);
        let text = format!(
            "SELECT {} FROM logs{} ORDER BY seq",
            sql::LOG_COLUMNS,
            filter.where_clause()
        );
        bind_params(sqlx::query(AssertSqlSafe(text)), &filter.params)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(log_entry)
            .collect()
    }

    async fn flow_revisions(&self, namespace: &str, id: &str) -> Result<Vec<FlowRecord>> {
        sqlx::query(sql::FLOW_REVISIONS)
            .bind(namespace)
            .bind(id)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(flow_record)
            .collect()
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let latest = sqlx::query(sql::FLOW_LATEST)
            .bind(namespace)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|row| flow_record(&row))
            .transpose()?;
        let Some(latest) = latest.filter(|latest| !latest.deleted) else {
            return Ok(false);
        };
        sqlx::query(sql::FLOW_INSERT)
            .bind(namespace)
            .bind(id)
            .bind(i64::from(latest.revision) + 1)
            .bind(latest.source)
            .bind(true)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn search_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let filter = sql::execution_filter(query, &SqliteDialect)?;
        let where_clause = filter.where_clause();
        // One read transaction: the count, the page and its task runs see the same snapshot.
        let mut tx = self.reader.begin().await.map_err(db)?;
        let total: i64 = bind_params(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM executions e{where_clause}"
            ))),
            &filter.params,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        let headers = bind_params(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT e.id, e.header FROM executions e{where_clause} \
                 ORDER BY e.start_date DESC, e.id{}",
                sql::limit_clause(query.paging)
            ))),
            &filter.params,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let ids: Vec<String> = headers
            .iter()
            .map(|row| row.text(0))
            .collect::<Result<_>>()?;
        let runs = runs_of(&mut tx, &ids).await?;
        tx.commit().await.map_err(db)?;
        Ok(Page {
            results: assemble_all(&headers, runs)?,
            total: total as u64,
        })
    }

    async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        let states = sql::state_list(&sql::unfinished_states());
        let mut tx = self.reader.begin().await.map_err(db)?;
        let headers = sqlx::query(AssertSqlSafe(format!(
            "SELECT e.id, e.header FROM executions e WHERE e.state IN ({states}) \
             ORDER BY e.start_date, e.id"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut runs: HashMap<String, Vec<String>> = HashMap::new();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT r.execution_id, r.value FROM task_runs r \
             JOIN executions e ON e.id = r.execution_id \
             WHERE e.state IN ({states}) ORDER BY r.execution_id, r.position"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        runs_by_execution(&rows, &mut runs)?;
        assemble_all(&headers, runs)
    }

    async fn delete_execution(&self, id: &ExecutionId) -> Result<bool> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        for statement in [sql::LOGS_DELETE, sql::METRICS_DELETE, sql::TASK_RUNS_DELETE] {
            sqlx::query(statement)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let deleted = sqlx::query(sql::EXECUTION_DELETE)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(deleted > 0)
    }

    async fn search_logs(&self, search: &LogSearch) -> Result<Page<LogEntry>> {
        let filter = sql::log_search_filter(search, &SqliteDialect)?;
        self.page_by_seq("logs", sql::LOG_COLUMNS, &filter, search.paging, log_entry)
            .await
    }

    async fn append_metrics(&self, entries: &[MetricEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        for chunk in entries.chunks(sql::METRICS_PER_INSERT) {
            let params = sql::metric_params(chunk)?;
            bind_params(
                sqlx::query(AssertSqlSafe(sql::metrics_insert(chunk.len()))),
                &params,
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn search_metrics(&self, query: &MetricQuery) -> Result<Page<MetricEntry>> {
        let filter = sql::metric_filter(query);
        self.page_by_seq(
            "metrics",
            sql::METRIC_COLUMNS,
            &filter,
            query.paging,
            metric_entry,
        )
        .await
    }

    async fn metric_names(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
    ) -> Result<Vec<String>> {
        let query = match task_id {
            Some(task) => sqlx::query(sql::METRIC_NAMES_OF_TASK)
                .bind(namespace)
                .bind(flow_id)
                .bind(task),
            None => sqlx::query(sql::METRIC_NAMES).bind(namespace).bind(flow_id),
        };
        query
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(|row| row.text(0))
            .collect()
    }

    async fn metric_tasks(&self, namespace: &str, flow_id: &str) -> Result<Vec<String>> {
        sqlx::query(sql::METRIC_TASKS)
            .bind(namespace)
            .bind(flow_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(|row| row.text(0))
            .collect()
    }

    async fn delete_logs(&self, execution_id: &str) -> Result<u64> {
        Ok(sqlx::query(sql::LOGS_DELETE)
            .bind(execution_id)
            .execute(&self.writer)
            .await
            .map_err(db)?
            .rows_affected())
    }

    async fn purge_executions(
        &self,
        purge: &ExecutionPurge,
        limit: u32,
    ) -> Result<Vec<PurgedExecution>> {
        let (select, params) = sql::purge_selection(purge, limit)?;
        // One short write transaction per batch: readers go on meanwhile (WAL), and other
        // writers wait for one batch at most.
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let rows = bind_params(sqlx::query(AssertSqlSafe(select)), &params)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let (purged, ids) = crate::rows::purged_executions(&rows)?;
        if !purged.is_empty() {
            for statement in sql::purge_deletes(purge, ids.len()) {
                bind_params(sqlx::query(AssertSqlSafe(statement)), &ids)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(purged)
    }

    async fn purge_logs(&self, purge: &LogPurge, limit: u32) -> Result<u64> {
        let (statement, params) = sql::log_purge(purge, limit)?;
        Ok(bind_params(sqlx::query(AssertSqlSafe(statement)), &params)
            .execute(&self.writer)
            .await
            .map_err(db)?
            .rows_affected())
    }

    async fn put_trigger(&self, record: &TriggerRecord) -> Result<()> {
        sqlx::query(sql::TRIGGER_UPSERT)
            .bind(record.key.namespace.as_str())
            .bind(record.key.flow_id.as_str())
            .bind(record.key.trigger_id.as_str())
            .bind(option_instant_to_db(record.next_execution_date)?)
            .bind(record.disabled)
            .bind(to_json(&record.context)?)
            .bind(record.lease_owner.as_deref())
            .bind(option_instant_to_db(record.lease_until)?)
            .bind(instant_to_db(record.updated)?)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_trigger(&self, key: &TriggerKey) -> Result<Option<TriggerRecord>> {
        sqlx::query(sql::TRIGGER_GET)
            .bind(key.namespace.as_str())
            .bind(key.flow_id.as_str())
            .bind(key.trigger_id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .map(|row| trigger_record(&row))
            .transpose()
    }

    async fn list_triggers(&self, namespace: Option<&str>) -> Result<Vec<TriggerRecord>> {
        sqlx::query(sql::TRIGGERS_LIST)
            .bind(namespace)
            .bind(namespace.map(|ns| format!("{ns}.")))
            .bind(namespace.map(|ns| format!("{ns}/")))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(trigger_record)
            .collect()
    }

    async fn delete_trigger(&self, key: &TriggerKey) -> Result<bool> {
        Ok(sqlx::query(sql::TRIGGER_DELETE)
            .bind(key.namespace.as_str())
            .bind(key.flow_id.as_str())
            .bind(key.trigger_id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db)?
            .rows_affected()
            > 0)
    }

    async fn acquire_trigger_lease(
        &self,
        key: &TriggerKey,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<Option<TriggerRecord>> {
        sqlx::query(sql::TRIGGER_LEASE)
            .bind(key.namespace.as_str())
            .bind(key.flow_id.as_str())
            .bind(key.trigger_id.as_str())
            .bind(owner)
            .bind(instant_to_db(until)?)
            .bind(instant_to_db(now)?)
            .fetch_optional(&self.writer)
            .await
            .map_err(db)?
            .map(|row| trigger_record(&row))
            .transpose()
    }
}

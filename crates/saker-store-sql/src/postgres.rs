//! The PostgreSQL backend: one connection pool shared by any number of Saker processes.
//!
//! Reads and most writes are the SQL of [`sql`]. What is PostgreSQL's own:
//! - execution saves are one statement for a whole batch (arrays bound as parameters and
//!   `UNNEST`ed): the header updates, the task-run upserts and, for a full rewrite, the removal
//!   of the runs no longer listed; executions not stored yet get a second statement. A usual
//!   batch of 100 executions is BEGIN, one statement, COMMIT;
//! - flow revisions are numbered under a transaction-scoped advisory lock per flow, so two
//!   processes saving the same flow never race for a revision number; the same transaction
//!   notifies the flow change to other processes ([`crate::flow_changes`]);
//! - migrations run on their own connection under sqlx's session advisory lock (one database,
//!   one lock), so processes starting together apply each migration once.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use saker_core::{Execution, ExecutionId, Instant};
use saker_storage::{
    Changed, Error, ExecutionPurge, ExecutionQuery, FlowRecord, LogEntry, LogFilter, LogPurge,
    LogSearch, MetricEntry, MetricQuery, Page, Paging, PurgedExecution, Result, Store, TriggerKey,
    TriggerRecord,
};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection, Postgres, Row};

use crate::codec::{
    ExecutionRow, TaskRunRow, all_rows, delta_rows, instant_to_db, level_to_db,
    option_instant_to_db, to_json,
};
use crate::rows::{
    SqlRow, assemble_all, db, execution_from_parts, flow_record, log_entry, metric_entry,
    runs_by_execution, trigger_record,
};
use crate::sql::{self, Dialect, Param};

/// The schema, oldest first (versions 1 to 49; the job queue owns 50 and later). Released
/// files never change: their checksum is recorded in the database.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "metrics",
        include_str!("../migrations/postgres/0002_metrics.sql"),
    ),
    (
        3,
        "retention",
        include_str!("../migrations/postgres/0003_retention.sql"),
    ),
];

/// The newest schema version of the PostgreSQL store this build knows.
pub fn pg_schema_version() -> i64 {
    MIGRATIONS.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
}

/// The pool settings, taken from the query of the database URL (`max_connections`,
/// `acquire_timeout` in seconds); the other parameters go to the driver.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    /// Connections this process opens at most.
    pub max_connections: u32,
    /// How long an operation waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

impl PoolSettings {
    /// Splits Saker's own parameters off a `postgres://` URL: the URL left for the driver and
    /// the settings.
    pub fn from_url(url: &str) -> Result<(String, PoolSettings)> {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut settings = PoolSettings::default();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "max_connections" => {
                    settings.max_connections =
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            Error::Backend(format!(
                                "max_connections in the database URL must be a whole number \
                                 above 0, not `{value}`"
                            ))
                        })?;
                }
                "acquire_timeout" => {
                    settings.acquire_timeout = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| {
                            Error::Backend(format!(
                                "acquire_timeout in the database URL is a number of seconds \
                                 above 0 (e.g. 30 or 0.5), not `{value}`"
                            ))
                        })?;
                }
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((url, settings))
    }
}

/// Saker's store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    location: String,
    settings: PoolSettings,
}

impl PgStore {
    /// One page of `table` (rows in insertion order, `seq`) matching `filter`, with the total
    /// count, read in one snapshot: the shared shape of the log and metric searches.
    async fn page_by_seq<T>(
        &self,
        table: &str,
        columns: &str,
        filter: &sql::Filter,
        paging: Paging,
        decode: fn(&PgRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let where_clause = filter.where_clause();
        let mut tx = self.pool.begin_with(BEGIN_SNAPSHOT).await.map_err(db)?;
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

    /// Connects to the database of a `postgres://user[:password]@host[:port]/database[?…]` URL
    /// and brings its schema up to date. Query parameters: `max_connections` (default 10),
    /// `acquire_timeout` (seconds, default 30) and the driver's own (`sslmode`,
    /// `application_name`, `options`…).
    pub async fn connect(url: &str) -> Result<Self> {
        let (url, settings) = PoolSettings::from_url(url)?;
        let mut options = PgConnectOptions::from_str(&url)
            .map_err(|e| Error::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if options.get_application_name().is_none() {
            // Names Saker's sessions in pg_stat_activity.
            options = options.application_name("saker");
        }
        let location = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username())
        );
        migrate(&options, &location).await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            // A pooled connection is checked before use (one round trip), so connections the
            // server dropped (restart, pg_terminate_backend, failover) are replaced instead of
            // failing the next operations.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(|e| {
                Error::Backend(format!(
                    "cannot connect to the PostgreSQL store {location}: {e}"
                ))
            })?;
        Ok(PgStore {
            pool,
            location,
            settings,
        })
    }

    /// The database, as `postgres://user@host:port/database` (never the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// The connection pool (for the components that share the database, e.g. a job queue).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; the store is unusable afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }
}

/// Refuses a database written by a newer Saker, then applies the missing migrations, on a
/// connection of its own: closing it ends the session, which releases the migration lock even
/// when a migration failed.
async fn migrate(options: &PgConnectOptions, location: &str) -> Result<()> {
    let mut conn = PgConnection::connect_with(options).await.map_err(|e| {
        Error::Backend(format!(
            "cannot connect to the PostgreSQL store {location}: {e}"
        ))
    })?;
    let result = migrate_on(&mut conn, location).await;
    let _ = conn.close().await;
    result
}

async fn migrate_on(conn: &mut PgConnection, location: &str) -> Result<()> {
    let fail = |e: sqlx::Error| {
        Error::Backend(format!("cannot read the PostgreSQL store {location}: {e}"))
    };
    let has_history: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
    if has_history {
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        let known = pg_schema_version();
        if let Some(applied) = applied.filter(|applied| *applied > known) {
            return Err(Error::Backend(format!(
                "the PostgreSQL store {location} has schema version {applied}, written by a \
                 newer Saker; this version knows schema versions up to {known}: upgrade Saker \
                 or use another database"
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
    // This takes PostgreSQL's advisory lock of the database before reading what is applied.
    // (`run_direct` is `run` without the `Acquire` bound, whose lifetime makes the future not
    // `Send`: sqlx's own workaround.)
    Migrator::with_migrations(migrations)
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| {
            Error::Backend(format!(
                "cannot bring the schema of the PostgreSQL store {location} up to date: {e}"
            ))
        })
}

/// PostgreSQL's label filter (served by the GIN index on `labels`) and substring search.
pub(crate) struct PgDialect;

impl Dialect for PgDialect {
    fn label_condition(&self, key: &str, value: &str) -> String {
        format!(
            "e.labels @> jsonb_build_array(jsonb_build_object('key', {key}::text, \
             'value', {value}::text))"
        )
    }

    fn contains_lowercase(&self, column: &str, needle: &str) -> String {
        format!("strpos(lower({column}), {needle}) > 0")
    }
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// PostgreSQL text cannot hold NUL characters; a searched-for string with one becomes U+FFFD,
/// as stored text does.
fn pg_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

fn bind_params<'q>(mut query: PgQuery<'q>, params: &[Param]) -> PgQuery<'q> {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(pg_text(text)),
            Param::Int(n) => query.bind(*n),
            Param::Bool(b) => query.bind(*b),
            Param::Float(x) => query.bind(*x),
        };
    }
    query
}

// ----- Execution saves

/// Updates the headers of the executions that exist, upserts the given task runs of those, and
/// for a full rewrite (`$11`) removes their runs no longer listed. Returns the updated ids.
const SAVE_EXISTING: &str = "WITH v AS ( \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], \
         $6::int8[], $7::text[], $8::bool[], $9::text[], $10::text[]) \
         AS v(id, namespace, flow_id, state, start_date, end_date, parent_id, deleted, header, \
              labels)), \
     h AS ( \
       UPDATE executions e SET namespace = v.namespace, flow_id = v.flow_id, state = v.state, \
         start_date = v.start_date, end_date = v.end_date, parent_id = v.parent_id, \
         deleted = v.deleted, header = v.header, labels = v.labels::jsonb \
       FROM v WHERE e.id = v.id RETURNING e.id), \
     r AS ( \
       SELECT * FROM UNNEST($12::text[], $13::text[], $14::int8[], $15::text[]) \
         AS r(execution_id, id, position, value)), \
     stale AS ( \
       DELETE FROM task_runs t USING h \
       WHERE t.execution_id = h.id AND h.id = ANY($11::text[]) \
         AND NOT EXISTS (SELECT 1 FROM r WHERE r.execution_id = t.execution_id AND r.id = t.id)), \
     up AS ( \
       INSERT INTO task_runs (execution_id, id, position, value) \
       SELECT r.execution_id, r.id, r.position, r.value FROM r JOIN h ON h.id = r.execution_id \
       ON CONFLICT (execution_id, id) DO UPDATE SET position = excluded.position, \
         value = excluded.value) \
     SELECT id FROM h";

/// Inserts executions and all their task runs (the foreign key is checked at the end of the
/// statement, when both are in).
const SAVE_NEW: &str = "WITH e AS ( \
       INSERT INTO executions (id, namespace, flow_id, state, start_date, end_date, parent_id, \
         deleted, header, labels) \
       SELECT v.id, v.namespace, v.flow_id, v.state, v.start_date, v.end_date, v.parent_id, \
         v.deleted, v.header, v.labels::jsonb \
       FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
         $7::text[], $8::bool[], $9::text[], $10::text[]) \
         AS v(id, namespace, flow_id, state, start_date, end_date, parent_id, deleted, header, \
              labels)) \
     INSERT INTO task_runs (execution_id, id, position, value) \
     SELECT * FROM UNNEST($11::text[], $12::text[], $13::int8[], $14::text[])";

/// One execution to save, encoded before any statement runs.
struct Encoded<'a> {
    row: ExecutionRow,
    /// The label list as JSON for the `labels` column.
    labels: String,
    /// The runs to write: the changed ones, or all of them when `full`.
    runs: Vec<TaskRunRow>,
    full: bool,
    execution: &'a Execution,
}

impl<'a> Encoded<'a> {
    fn new(execution: &'a Execution, changed: &Changed) -> Result<Self> {
        let (runs, full) = match changed {
            Changed::All => (all_rows(execution)?, true),
            Changed::TaskRuns(ids) => (delta_rows(execution, ids)?, false),
        };
        // JSONB cannot hold NUL characters; the column only serves the label filter (the
        // header keeps the labels exactly).
        let labels: Vec<saker_core::Label> = execution
            .labels
            .iter()
            .map(|label| saker_core::Label::new(pg_text(&label.key), pg_text(&label.value)))
            .collect();
        Ok(Encoded {
            row: ExecutionRow::new(execution)?,
            labels: to_json(&labels)?,
            runs,
            full,
            execution,
        })
    }
}

/// Binds `$1`..`$10`: the header columns of `items` as arrays.
fn bind_headers<'q>(query: PgQuery<'q>, items: &[&'q Encoded<'q>]) -> PgQuery<'q> {
    let column = |f: fn(&'q Encoded<'q>) -> &'q str| items.iter().map(|e| f(e)).collect::<Vec<_>>();
    query
        .bind(column(|e| e.row.id.as_str()))
        .bind(column(|e| e.row.namespace.as_str()))
        .bind(column(|e| e.row.flow_id.as_str()))
        .bind(column(|e| e.row.state))
        .bind(items.iter().map(|e| e.row.start_date).collect::<Vec<_>>())
        .bind(items.iter().map(|e| e.row.end_date).collect::<Vec<_>>())
        .bind(
            items
                .iter()
                .map(|e| e.row.parent_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(items.iter().map(|e| e.row.deleted).collect::<Vec<_>>())
        .bind(column(|e| e.row.header.as_str()))
        .bind(column(|e| e.labels.as_str()))
}

/// Binds four arrays: the execution id, id, position and JSON of every run.
fn bind_runs<'q>(query: PgQuery<'q>, runs: &[(&'q str, &'q TaskRunRow)]) -> PgQuery<'q> {
    query
        .bind(runs.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(runs.iter().map(|(_, r)| r.id.as_str()).collect::<Vec<_>>())
        .bind(runs.iter().map(|(_, r)| r.position).collect::<Vec<_>>())
        .bind(
            runs.iter()
                .map(|(_, r)| r.value.as_str())
                .collect::<Vec<_>>(),
        )
}

/// Saves `items` (distinct executions) in at most two statements on `conn`.
async fn save_distinct(conn: &mut PgConnection, items: &[Encoded<'_>]) -> Result<()> {
    let all: Vec<&Encoded> = items.iter().collect();
    let full: Vec<&str> = items
        .iter()
        .filter(|e| e.full)
        .map(|e| e.row.id.as_str())
        .collect();
    let runs: Vec<(&str, &TaskRunRow)> = items
        .iter()
        .flat_map(|e| e.runs.iter().map(move |run| (e.row.id.as_str(), run)))
        .collect();
    let query = bind_headers(sqlx::query(SAVE_EXISTING), &all).bind(full);
    let updated: HashSet<String> = bind_runs(query, &runs)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_>>()?;
    if updated.len() == items.len() {
        return Ok(());
    }
    // Executions not stored yet (a delta on one writes it whole).
    let new: Vec<&Encoded> = items
        .iter()
        .filter(|e| !updated.contains(&e.row.id))
        .collect();
    let mut whole = Vec::with_capacity(new.len());
    for e in &new {
        whole.push(if e.full {
            None
        } else {
            Some(all_rows(e.execution)?)
        });
    }
    let runs: Vec<(&str, &TaskRunRow)> = new
        .iter()
        .zip(&whole)
        .flat_map(|(e, rows)| {
            rows.as_ref()
                .unwrap_or(&e.runs)
                .iter()
                .map(move |run| (e.row.id.as_str(), run))
        })
        .collect();
    bind_runs(bind_headers(sqlx::query(SAVE_NEW), &new), &runs)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Splits a batch where an execution comes again, so each part names an execution once (a
/// statement cannot update one row twice); parts are saved in order.
fn distinct_parts<'e, 'a>(items: &'e [Encoded<'a>]) -> Vec<&'e [Encoded<'a>]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        if !seen.insert(item.row.id.as_str()) {
            parts.push(&items[start..index]);
            start = index;
            seen.clear();
            seen.insert(item.row.id.as_str());
        }
    }
    parts.push(&items[start..]);
    parts
}

// ----- Reads

/// A read transaction: every statement in it sees one snapshot.
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// The task-run JSONs of the given executions, each in list order.
async fn runs_of(conn: &mut PgConnection, ids: &[String]) -> Result<HashMap<String, Vec<String>>> {
    let mut runs = HashMap::new();
    if ids.is_empty() {
        return Ok(runs);
    }
    let rows = sqlx::query(
        "SELECT execution_id, value FROM task_runs WHERE execution_id = ANY($1::text[]) \
         ORDER BY execution_id, position",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    runs_by_execution(&rows, &mut runs)?;
    Ok(runs)
}

/// Log lines in one statement, in order (`seq` follows the array order).
const LOGS_INSERT: &str = "INSERT INTO logs (namespace, flow_id, task_id, execution_id, \
     task_run_id, attempt_number, timestamp, level, thread, message) \
     SELECT namespace, flow_id, task_id, execution_id, task_run_id, attempt_number, timestamp, \
       level, thread, message \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
       $7::int8[], $8::int8[], $9::text[], $10::text[]) WITH ORDINALITY \
       AS l(namespace, flow_id, task_id, execution_id, task_run_id, attempt_number, timestamp, \
            level, thread, message, n) \
     ORDER BY n";

/// Serialises the revision numbering of one flow across processes until the transaction ends.
const FLOW_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))";

impl Store for PgStore {
    async fn put_flow(&self, namespace: &str, id: &str, source: &str) -> Result<FlowRecord> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(FLOW_LOCK)
            .bind(namespace)
            .bind(id)
            .execute(&mut *tx)
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
        crate::flow_changes::notify(&mut tx, namespace, id).await?;
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
                    .fetch_optional(&self.pool)
                    .await
            }
            Some(revision) => {
                sqlx::query(sql::FLOW_REVISION)
                    .bind(namespace)
                    .bind(id)
                    .bind(i64::from(revision))
                    .fetch_optional(&self.pool)
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
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(flow_record)
            .collect()
    }

    async fn save_execution(&self, execution: &Execution, changed: &Changed) -> Result<()> {
        self.save_executions(&[(execution, changed)]).await
    }

    /// One transaction for the whole batch; one statement per part of distinct executions
    /// (plus one when some are new).
    async fn save_executions(&self, items: &[(&Execution, &Changed)]) -> Result<()> {
        let encoded = items
            .iter()
            .map(|(execution, changed)| Encoded::new(execution, changed))
            .collect::<Result<Vec<_>>>()?;
        let parts = distinct_parts(&encoded);
        if let [part] = parts[..]
            && part.len() == 1
        {
            // One execution: the first statement is atomic on its own, and when the execution
            // is new it wrote nothing, so the second one is too.
            let mut conn = self.pool.acquire().await.map_err(db)?;
            return save_distinct(&mut conn, part).await;
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        for part in parts {
            save_distinct(&mut tx, part).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn get_execution(&self, id: &ExecutionId) -> Result<Option<Execution>> {
        let rows = sqlx::query(sql::EXECUTION_GET)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        execution_from_parts(&rows)
    }

    async fn append_logs(&self, entries: &[LogEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let text = |f: fn(&LogEntry) -> &str| entries.iter().map(f).collect::<Vec<_>>();
        let optional = |f: fn(&LogEntry) -> Option<&str>| entries.iter().map(f).collect::<Vec<_>>();
        let timestamps = entries
            .iter()
            .map(|e| instant_to_db(e.timestamp))
            .collect::<Result<Vec<_>>>()?;
        sqlx::query(LOGS_INSERT)
            .bind(text(|e| e.namespace.as_str()))
            .bind(text(|e| e.flow_id.as_str()))
            .bind(optional(|e| e.task_id.as_deref()))
            .bind(text(|e| e.execution_id.as_str()))
            .bind(optional(|e| e.task_run_id.as_deref()))
            .bind(
                entries
                    .iter()
                    .map(|e| e.attempt_number.map(i64::from))
                    .collect::<Vec<_>>(),
            )
            .bind(timestamps)
            .bind(
                entries
                    .iter()
                    .map(|e| level_to_db(e.level))
                    .collect::<Vec<_>>(),
            )
            .bind(
                entries
                    .iter()
                    .map(|e| pg_text(&e.thread))
                    .collect::<Vec<_>>(),
            )
            // Task output may carry NUL characters, which PostgreSQL text cannot hold.
            .bind(
                entries
                    .iter()
                    .map(|e| pg_text(&e.message))
                    .collect::<Vec<_>>(),
            )
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        let filter = sql::log_filter(filter);
        let text = format!(
            "SELECT {} FROM logs{} ORDER BY seq",
            sql::LOG_COLUMNS,
            filter.where_clause()
        );
        bind_params(sqlx::query(AssertSqlSafe(text)), &filter.params)
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(flow_record)
            .collect()
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(FLOW_LOCK)
            .bind(namespace)
            .bind(id)
            .execute(&mut *tx)
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
        crate::flow_changes::notify(&mut tx, namespace, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn search_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let filter = sql::execution_filter(query, &PgDialect)?;
        let where_clause = filter.where_clause();
        let mut tx = self.pool.begin_with(BEGIN_SNAPSHOT).await.map_err(db)?;
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
        let mut tx = self.pool.begin_with(BEGIN_SNAPSHOT).await.map_err(db)?;
        let headers = sqlx::query(AssertSqlSafe(format!(
            "SELECT e.id, e.header FROM executions e WHERE e.state IN ({states}) \
             ORDER BY e.start_date, e.id"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT r.execution_id, r.value FROM task_runs r \
             JOIN executions e ON e.id = r.execution_id \
             WHERE e.state IN ({states}) ORDER BY r.execution_id, r.position"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut runs = HashMap::new();
        runs_by_execution(&rows, &mut runs)?;
        assemble_all(&headers, runs)
    }

    async fn delete_execution(&self, id: &ExecutionId) -> Result<bool> {
        // One statement: the logs and metrics, then the header (its task runs go by cascade).
        let deleted = sqlx::query(
            "WITH l AS (DELETE FROM logs WHERE execution_id = $1), \
             m AS (DELETE FROM metrics WHERE execution_id = $1) \
             DELETE FROM executions WHERE id = $1",
        )
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(deleted > 0)
    }

    async fn search_logs(&self, search: &LogSearch) -> Result<Page<LogEntry>> {
        let filter = sql::log_search_filter(search, &PgDialect)?;
        self.page_by_seq("logs", sql::LOG_COLUMNS, &filter, search.paging, log_entry)
            .await
    }

    async fn delete_logs(&self, execution_id: &str) -> Result<u64> {
        Ok(sqlx::query(sql::LOGS_DELETE)
            .bind(execution_id)
            .execute(&self.pool)
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
        // Servers purging at the same time skip each other's rows instead of waiting.
        let select = format!("{select} FOR UPDATE OF e SKIP LOCKED");
        let mut tx = self.pool.begin().await.map_err(db)?;
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
            .execute(&self.pool)
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
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_trigger(&self, key: &TriggerKey) -> Result<Option<TriggerRecord>> {
        sqlx::query(sql::TRIGGER_GET)
            .bind(key.namespace.as_str())
            .bind(key.flow_id.as_str())
            .bind(key.trigger_id.as_str())
            .fetch_optional(&self.pool)
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
            .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected()
            > 0)
    }

    /// One UPDATE … WHERE (free, expired or ours) … RETURNING: a concurrent acquirer waits for
    /// the row and re-checks the condition on the new version (READ COMMITTED), so two
    /// processes never both get the lease.
    async fn append_metrics(&self, entries: &[MetricEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
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
        let rows = query.fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(|row| row.text(0)).collect()
    }

    async fn metric_tasks(&self, namespace: &str, flow_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(sql::METRIC_TASKS)
            .bind(namespace)
            .bind(flow_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(|row| row.text(0)).collect()
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|row| trigger_record(&row))
            .transpose()
    }

    async fn trigger_changed(&self, key: &TriggerKey) -> Result<()> {
        crate::flow_changes::notify_trigger(&self.pool, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_settings_are_taken_off_the_url() {
        let (url, settings) = PoolSettings::from_url(
            "postgres://u:p@h/db?max_connections=3&sslmode=disable&acquire_timeout=0.5",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:p@h/db?sslmode=disable");
        assert_eq!(
            settings,
            PoolSettings {
                max_connections: 3,
                acquire_timeout: Duration::from_millis(500)
            }
        );
        let (url, settings) = PoolSettings::from_url("postgres://h/db").unwrap();
        assert_eq!(
            (url.as_str(), settings),
            ("postgres://h/db", PoolSettings::default())
        );
        for bad in [
            "max_connections=0",
            "max_connections=x",
            "acquire_timeout=-1",
        ] {
            let error = PoolSettings::from_url(&format!("postgres://h/db?{bad}"))
                .unwrap_err()
                .to_string();
            let name = bad.split('=').next().unwrap();
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn a_batch_is_split_where_an_execution_comes_again() {
        let e = |id: &str| saker_storage::suite::execution(id, "ns", "f", 0);
        let (a, b) = (e("a"), e("b"));
        let items: Vec<Encoded> = [&a, &b, &a, &b, &b]
            .into_iter()
            .map(|e| Encoded::new(e, &Changed::All).unwrap())
            .collect();
        let ids: Vec<Vec<&str>> = distinct_parts(&items)
            .iter()
            .map(|part| part.iter().map(|e| e.row.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["a", "b"], vec!["b"]]);
    }
}

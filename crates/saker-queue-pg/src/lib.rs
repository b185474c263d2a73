//! The worker job queue on PostgreSQL ([`PgQueue`], a [`JobQueue`]).
//!
//! - Jobs are rows of `saker_queue_jobs`, claimed with `FOR UPDATE SKIP LOCKED` (concurrent
//!   claimers skip each other's rows instead of waiting); a claim sets the owner and a lease
//!   end, heartbeats push it back, and a job whose lease ended is claimable again.
//! - Completion deletes the job and inserts its final report in one statement, only while the
//!   completing worker still holds the claim.
//! - Triggers `pg_notify` on new jobs, reports and kills; one `PgListener` per process turns
//!   them into [`Signals`]. After a lost connection every signal fires (notifications sent
//!   meanwhile are gone), and the callers' slow poll covers the rest.
//! - The tables come from this crate's own migrations, recorded in `_saker_queue_migrations`
//!   (not the store's migration table), applied under an advisory lock so processes starting
//!   together do not race.

use std::time::Duration;

use saker_runtime::queue::{
    BoxFuture, Claim, JobQueue, QueueError, Report, SignalSenders, Signals, WorkerInfo, WorkerJob,
};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Row};

/// The embedded migrations, in order: (version, SQL).
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_queue.sql")),
    (2, include_str!("../migrations/0002_inbox.sql")),
    (
        3,
        include_str!("../migrations/0003_inbox_acks_and_slots.sql"),
    ),
];

/// How long the row of a worker that stopped heartbeating is kept (listed as dead meanwhile).
pub const FORGET_WORKERS_AFTER: Duration = Duration::from_secs(24 * 3600);

/// An arbitrary constant naming the advisory lock of the queue's migrations.
const MIGRATION_LOCK: i64 = 0x5a4b_5251_0001;

const CHANNELS: [&str; 3] = [
    "saker_queue_jobs",
    "saker_queue_reports",
    "saker_queue_kills",
];

pub(crate) fn err(error: impl std::fmt::Display) -> QueueError {
    QueueError(error.to_string())
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The PostgreSQL job queue.
pub struct PgQueue {
    pool: PgPool,
    signals: std::sync::Arc<SignalSenders>,
    listener: tokio::task::JoinHandle<()>,
    /// Rows of workers without a heartbeat for this long are deleted.
    forget_workers_after: Duration,
    /// Something that must live as long as the queue (a test database).
    kept: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Drop for PgQueue {
    fn drop(&mut self) {
        self.listener.abort();
        // A test database is dropped WITH (FORCE): open connections do not hold it.
        drop(self.kept.take());
    }
}

impl PgQueue {
    /// Connects to `url` (at most `max_connections` connections), applies the queue's
    /// migrations and starts listening for wake-ups.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, QueueError> {
        Self::with_pool(connect_pool(url, max_connections).await?).await
    }

    /// The queue on an existing pool (migrations applied here).
    pub async fn with_pool(pool: PgPool) -> Result<Self, QueueError> {
        migrate(&pool).await?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(err)?;
        listener.listen_all(CHANNELS).await.map_err(err)?;
        let signals = std::sync::Arc::new(SignalSenders::default());
        let listener = tokio::spawn(listen(listener, signals.clone()));
        Ok(PgQueue {
            pool,
            signals,
            listener,
            forget_workers_after: FORGET_WORKERS_AFTER,
            kept: None,
        })
    }

    /// Deletes the rows of workers without a heartbeat for `after` (default
    /// [`FORGET_WORKERS_AFTER`]) at each heartbeat of a live worker.
    #[must_use]
    pub fn forgetting_workers_after(mut self, after: Duration) -> Self {
        self.forget_workers_after = after;
        self
    }

    /// Keeps `value` alive as long as the queue (a test database dropped after it).
    #[must_use]
    pub fn keeping(mut self, value: impl std::any::Any + Send + Sync) -> Self {
        self.kept = Some(Box::new(value));
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A pool of at most `max_connections` (2 at least: one listens) on `url`.
pub(crate) async fn connect_pool(url: &str, max_connections: u32) -> Result<PgPool, QueueError> {
    PgPoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(|e| QueueError(format!("cannot connect to {}: {e}", redact(url))))
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), QueueError> {
    let mut conn = pool.acquire().await.map_err(err)?;
    let mut tx = conn.begin().await.map_err(err)?;
    // Held until commit: a second process starting now waits, then finds everything applied.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS _saker_queue_migrations (version INTEGER PRIMARY KEY, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT version FROM _saker_queue_migrations")
        .fetch_all(&mut *tx)
        .await
        .map_err(err)?;
    if let Some(newer) = applied.iter().find(|v| **v > MIGRATIONS.len() as i32) {
        return Err(QueueError(format!(
            "the queue tables are at version {newer}, written by a newer Saker: upgrade this one"
        )));
    }
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| QueueError(format!("queue migration {version}: {e}")))?;
        sqlx::query("INSERT INTO _saker_queue_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    Ok(())
}

/// Turns notifications into signals until the queue is dropped.
async fn listen(mut listener: PgListener, signals: std::sync::Arc<SignalSenders>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match notification.channel() {
                "saker_queue_jobs" => SignalSenders::bump(&signals.jobs),
                "saker_queue_reports" => SignalSenders::bump(&signals.reports),
                _ => SignalSenders::bump(&signals.kills),
            },
            // The connection dropped: what was notified meanwhile is lost, look now.
            Ok(None) => signals.bump_all(),
            Err(error) => {
                eprintln!("warning: queue notifications: {error} (retrying)");
                signals.bump_all();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, QueueError> {
    serde_json::from_str(text).map_err(|e| QueueError(format!("undecodable queue row: {e}")))
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<String, QueueError> {
    serde_json::to_string(value).map_err(err)
}

/// Report rows (id, payload) in id order; an undecodable row is dropped with a warning.
fn decode_reports(rows: Vec<sqlx::postgres::PgRow>) -> Result<Vec<Report>, QueueError> {
    let mut rows = rows
        .into_iter()
        .map(|row| {
            let id: i64 = row.try_get("id").map_err(err)?;
            let payload: String = row.try_get("payload").map_err(err)?;
            Ok((id, payload))
        })
        .collect::<Result<Vec<_>, QueueError>>()?;
    rows.sort_by_key(|(id, _)| *id);
    let mut reports = Vec::with_capacity(rows.len());
    for (id, payload) in rows {
        match decode(&payload) {
            Ok(report) => reports.push(report),
            // A row this version cannot read must not block the others.
            Err(error) => eprintln!("warning: queue report {id} dropped: {error}"),
        }
    }
    Ok(reports)
}

impl JobQueue for PgQueue {
    fn submit(&self, job: WorkerJob) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            let payload = encode(&job)?;
            sqlx::query(
                "INSERT INTO saker_queue_jobs (task_run_id, execution_id, payload) \
                 VALUES ($1, $2, $3) ON CONFLICT (task_run_id) DO NOTHING",
            )
            .bind(&job.task_run_id)
            .bind(&job.execution_id)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Claim>, QueueError>> {
        Box::pin(async move {
            // clock_timestamp(), not now(): a lease taken in this statement is compared with
            // the real time of later statements.
            let rows = sqlx::query(
                "WITH picked AS (SELECT id FROM saker_queue_jobs \
                   WHERE lease_until IS NULL OR lease_until <= clock_timestamp() \
                   ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 UPDATE saker_queue_jobs j SET owner = $1, claims = j.claims + 1, \
                   lease_until = clock_timestamp() + make_interval(secs => $3::float8 / 1000) \
                 FROM picked WHERE j.id = picked.id \
                 RETURNING j.id, j.payload, j.killed",
            )
            .bind(worker)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(millis(lease))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            let mut claims = Vec::with_capacity(rows.len());
            for row in rows {
                let payload: String = row.try_get("payload").map_err(err)?;
                claims.push(Claim {
                    id: row.try_get("id").map_err(err)?,
                    job: decode(&payload)?,
                    killed: row.try_get("killed").map_err(err)?,
                });
            }
            claims.sort_by_key(|c| c.id);
            Ok(claims)
        })
    }

    fn heartbeat<'a>(
        &'a self,
        worker: &'a str,
        jobs: &'a [i64],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<i64>, QueueError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "UPDATE saker_queue_jobs \
                 SET lease_until = clock_timestamp() + make_interval(secs => $3::float8 / 1000) \
                 WHERE owner = $1 AND id = ANY($2) AND lease_until > clock_timestamp() \
                 RETURNING id, killed",
            )
            .bind(worker)
            .bind(jobs)
            .bind(millis(lease))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            let mut held = std::collections::HashMap::new();
            for row in rows {
                let id: i64 = row.try_get("id").map_err(err)?;
                let killed: bool = row.try_get("killed").map_err(err)?;
                held.insert(id, killed);
            }
            Ok(jobs
                .iter()
                .copied()
                .filter(|id| held.get(id).is_none_or(|killed| *killed))
                .collect())
        })
    }

    fn report(&self, reports: Vec<Report>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            if reports.is_empty() {
                return Ok(());
            }
            let payloads = reports.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
            let executions: Vec<&str> = reports.iter().map(Report::execution_id).collect();
            // One statement for the batch, rows in order (ids follow unnest's order).
            sqlx::query(
                "INSERT INTO saker_queue_reports (payload, execution_id) \
                 SELECT p, e FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(p, e, n) \
                 ORDER BY n",
            )
            .bind(payloads)
            .bind(executions)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn complete<'a>(
        &'a self,
        worker: &'a str,
        job: i64,
        report: Report,
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            let payload = encode(&report)?;
            // The lease must still run: once it ended, another worker may hold the job (or
            // take it any moment) and its result is the one that counts.
            let inserted = sqlx::query(
                "WITH done AS (DELETE FROM saker_queue_jobs \
                   WHERE id = $1 AND owner = $2 AND lease_until > clock_timestamp() \
                   RETURNING id) \
                 INSERT INTO saker_queue_reports (payload, execution_id) SELECT $3, $4 FROM done",
            )
            .bind(job)
            .bind(worker)
            .bind(payload)
            .bind(report.execution_id())
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(inserted.rows_affected() == 1)
        })
    }

    fn kill<'a>(&'a self, task_run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            sqlx::query("UPDATE saker_queue_jobs SET killed = TRUE WHERE task_run_id = $1")
                .bind(task_run_id)
                .execute(&self.pool)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn take_reports(&self, max: usize) -> BoxFuture<'_, Result<Vec<Report>, QueueError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "DELETE FROM saker_queue_reports WHERE id IN (SELECT id FROM saker_queue_reports \
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, payload",
            )
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            decode_reports(rows)
        })
    }

    fn take_reports_for<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<Report>, QueueError>> {
        Box::pin(async move {
            // Reports of executions nobody owns (ended and released) are taken too: their log
            // lines are stored, their results ignored by the loop.
            let rows = sqlx::query(
                "DELETE FROM saker_queue_reports WHERE id IN (SELECT r.id \
                   FROM saker_queue_reports r \
                   LEFT JOIN saker_execution_owners o ON o.execution_id = r.execution_id \
                   WHERE o.executor_id = $2 OR o.execution_id IS NULL \
                   ORDER BY r.id LIMIT $1 FOR UPDATE OF r SKIP LOCKED) \
                 RETURNING id, payload",
            )
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(executor)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            decode_reports(rows)
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>> {
        Box::pin(async move {
            let (jobs, reports): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM saker_queue_jobs), \
                        (SELECT count(*) FROM saker_queue_reports)",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
            Ok((
                usize::try_from(jobs).unwrap_or(0),
                usize::try_from(reports).unwrap_or(0),
            ))
        })
    }

    fn worker_alive<'a>(&'a self, worker: &'a WorkerInfo) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            // Each heartbeat also forgets the workers gone for long (SIGKILLed or lost hosts
            // never delete their own row), so the table does not grow with every start.
            sqlx::query(
                "WITH gone AS (DELETE FROM saker_workers \
                   WHERE heartbeat_at < now() - make_interval(secs => $4::float8 / 1000) \
                   AND id <> $1) \
                 INSERT INTO saker_workers (id, hostname, threads) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            )
            .bind(&worker.id)
            .bind(&worker.hostname)
            .bind(i32::try_from(worker.threads).unwrap_or(i32::MAX))
            .bind(millis(self.forget_workers_after))
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn worker_gone<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM saker_workers WHERE id = $1")
                .bind(worker)
                .execute(&self.pool)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn live_workers(&self, within: Duration) -> BoxFuture<'_, Result<Vec<WorkerInfo>, QueueError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, hostname, threads, \
                   (extract(epoch FROM heartbeat_at) * 1000)::int8 AS heartbeat_ms \
                 FROM saker_workers \
                 WHERE heartbeat_at > now() - make_interval(secs => $1::float8 / 1000) \
                 ORDER BY id",
            )
            .bind(millis(within))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            rows.into_iter()
                .map(|row| {
                    let threads: i32 = row.try_get("threads").map_err(err)?;
                    Ok(WorkerInfo {
                        id: row.try_get("id").map_err(err)?,
                        hostname: row.try_get("hostname").map_err(err)?,
                        threads: u32::try_from(threads).unwrap_or(0),
                        heartbeat_at: row.try_get("heartbeat_ms").map_err(err)?,
                    })
                })
                .collect()
        })
    }

    fn signals(&self) -> Signals {
        self.signals.subscribe()
    }
}

pub mod inbox;
pub mod testdb;

pub use inbox::PgInbox;

#[cfg(test)]
mod tests;

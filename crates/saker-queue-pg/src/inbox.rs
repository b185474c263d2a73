//! The executors' inbox on PostgreSQL ([`PgInbox`], an [`ExecutorQueue`]).
//!
//! - `saker_execution_owners` holds one row per owned execution (executor, lease end). A claim
//!   is one statement: it picks the executions of the oldest inbox messages that are unowned,
//!   owned by the claimer or whose lease ended, upserts their ownership with a conditional
//!   `ON CONFLICT … DO UPDATE … WHERE` (the row lock serializes two claimers: the second one
//!   re-checks the condition against the first one's committed row and loses), then marks
//!   (`claimed_by`) and returns every message of the executions it won that it had not
//!   claimed yet. Owner rows are upserted in execution-id order so concurrent claims lock
//!   them in one order. An acknowledgement deletes the claimer's messages.
//! - Concurrency slots (`saker_concurrency_slots`) are taken and freed by two functions of
//!   migration 3, each one statement under a per-flow transaction-scoped advisory lock; freeing
//!   posts the `Dequeued` messages in the same transaction.
//! - A heartbeat renews every live lease of the executor in one `UPDATE`; a reaper takes over
//!   expired rows with `FOR UPDATE SKIP LOCKED`.
//! - A trigger notifies `saker_inbox` on new messages; notes travel on `saker_executions` as
//!   JSON notification payloads (under PostgreSQL's 8000-byte limit: long log messages are
//!   cut). One `PgListener` per inbox turns both into the wake signal and the notes broadcast;
//!   after a lost connection it wakes the claimers and sends [`Note::Resync`].

use std::sync::Arc;
use std::time::Duration;

use saker_runtime::inbox::{
    Delivery, ExecutorInfo, ExecutorQueue, FlowSlots, InboxMessage, Note, Slot, SlotMode,
};
use saker_runtime::queue::{BoxFuture, QueueError, SignalSenders};
use sqlx::Row;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{broadcast, watch};

use crate::{decode, encode, err, migrate, millis};

const INBOX_CHANNEL: &str = "saker_inbox";
const NOTES_CHANNEL: &str = "saker_executions";

/// A notification payload must stay under 8000 bytes.
const MAX_NOTE_BYTES: usize = 7900;

/// The PostgreSQL inbox.
pub struct PgInbox {
    pool: PgPool,
    wake: Arc<watch::Sender<u64>>,
    notes: broadcast::Sender<Note>,
    listener: tokio::task::JoinHandle<()>,
    /// Something that must live as long as the inbox (a test database).
    kept: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Drop for PgInbox {
    fn drop(&mut self) {
        self.listener.abort();
        drop(self.kept.take());
    }
}

impl PgInbox {
    /// Connects to `url` (at most `max_connections`), applies the queue's migrations and
    /// starts listening.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, QueueError> {
        Self::with_pool(crate::connect_pool(url, max_connections).await?).await
    }

    /// The inbox on an existing pool (migrations applied here).
    pub async fn with_pool(pool: PgPool) -> Result<Self, QueueError> {
        migrate(&pool).await?;
        let mut listener = PgListener::connect_with(&pool).await.map_err(err)?;
        listener
            .listen_all([INBOX_CHANNEL, NOTES_CHANNEL])
            .await
            .map_err(err)?;
        let wake = Arc::new(watch::channel(0).0);
        let notes = broadcast::channel(4096).0;
        let listener = tokio::spawn(listen(listener, wake.clone(), notes.clone()));
        Ok(PgInbox {
            pool,
            wake,
            notes,
            listener,
            kept: None,
        })
    }

    /// Keeps `value` alive as long as the inbox (a test database dropped after it).
    #[must_use]
    pub fn keeping(mut self, value: impl std::any::Any + Send + Sync) -> Self {
        self.kept = Some(Box::new(value));
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn listen(
    mut listener: PgListener,
    wake: Arc<watch::Sender<u64>>,
    notes: broadcast::Sender<Note>,
) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if notification.channel() == INBOX_CHANNEL {
                    SignalSenders::bump(&wake);
                } else if notes.receiver_count() > 0 {
                    // Executors listen too but do not read notes: decode only when wanted.
                    match serde_json::from_str::<Note>(notification.payload()) {
                        Ok(note) => {
                            let _ = notes.send(note);
                        }
                        Err(error) => eprintln!("warning: undecodable execution note: {error}"),
                    }
                }
            }
            // The connection dropped: what was notified meanwhile is lost.
            Ok(None) => {
                SignalSenders::bump(&wake);
                let _ = notes.send(Note::Resync);
            }
            Err(error) => {
                eprintln!("warning: inbox notifications: {error} (retrying)");
                SignalSenders::bump(&wake);
                let _ = notes.send(Note::Resync);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A note as a notification payload; a log line too long is cut further, then dropped.
fn note_payload(note: &Note) -> Option<String> {
    let text = encode(note).ok()?;
    if text.len() <= MAX_NOTE_BYTES {
        return Some(text);
    }
    let Note::Log { entry } = note else {
        return None;
    };
    let mut entry = entry.clone();
    let mut end = entry.message.len().min(500);
    while !entry.message.is_char_boundary(end) {
        end -= 1;
    }
    entry.message.truncate(end);
    let text = encode(&Note::Log { entry }).ok()?;
    (text.len() <= MAX_NOTE_BYTES).then_some(text)
}

fn lease_sql(param: u8) -> String {
    format!("clock_timestamp() + make_interval(secs => ${param}::float8 / 1000)")
}

fn strings(rows: Vec<sqlx::postgres::PgRow>, column: &str) -> Result<Vec<String>, QueueError> {
    let mut ids = rows
        .into_iter()
        .map(|row| row.try_get::<String, _>(column).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids)
}

impl ExecutorQueue for PgInbox {
    fn post(&self, messages: Vec<(String, InboxMessage)>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            if messages.is_empty() {
                return Ok(());
            }
            let ids: Vec<&str> = messages.iter().map(|(id, _)| id.as_str()).collect();
            let payloads = messages
                .iter()
                .map(|(_, m)| encode(m))
                .collect::<Result<Vec<_>, _>>()?;
            sqlx::query(
                "INSERT INTO saker_inbox (execution_id, payload) \
                 SELECT e, p FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(e, p, n) \
                 ORDER BY n",
            )
            .bind(ids)
            .bind(payloads)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, QueueError>> {
        Box::pin(async move {
            let sql = format!(
                "WITH ids AS ( \
                   SELECT m.execution_id, min(m.seq) AS first FROM saker_inbox m \
                   LEFT JOIN saker_execution_owners o ON o.execution_id = m.execution_id \
                   WHERE (o.execution_id IS NULL OR o.executor_id = $1 \
                     OR o.lease_until <= clock_timestamp()) \
                     AND m.claimed_by IS DISTINCT FROM $1 \
                   GROUP BY m.execution_id ORDER BY first LIMIT $2), \
                 won AS ( \
                   INSERT INTO saker_execution_owners AS o (execution_id, executor_id, lease_until) \
                   SELECT execution_id, $1, {lease} FROM ids ORDER BY execution_id \
                   ON CONFLICT (execution_id) DO UPDATE \
                     SET executor_id = EXCLUDED.executor_id, lease_until = EXCLUDED.lease_until \
                     WHERE o.executor_id = EXCLUDED.executor_id \
                       OR o.lease_until <= clock_timestamp() \
                   RETURNING o.execution_id), \
                 prev AS ( \
                   SELECT m.seq, m.claimed_by FROM saker_inbox m JOIN won USING (execution_id) \
                   WHERE m.claimed_by IS DISTINCT FROM $1) \
                 UPDATE saker_inbox m SET claimed_by = $1 FROM prev WHERE m.seq = prev.seq \
                 RETURNING m.seq, m.execution_id, m.payload, \
                   prev.claimed_by IS NOT NULL AS redelivered",
                lease = lease_sql(3)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(executor)
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .bind(millis(lease))
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
            let mut deliveries = Vec::with_capacity(rows.len());
            for row in rows {
                let seq: i64 = row.try_get("seq").map_err(err)?;
                let execution_id: String = row.try_get("execution_id").map_err(err)?;
                let payload: String = row.try_get("payload").map_err(err)?;
                let redelivered: bool = row.try_get("redelivered").map_err(err)?;
                match decode(&payload) {
                    Ok(message) => deliveries.push(Delivery {
                        seq,
                        execution_id,
                        message,
                        redelivered,
                    }),
                    Err(error) => {
                        // Never applicable: acknowledged at once so it is not claimed again.
                        eprintln!("warning: inbox message {seq} dropped: {error}");
                        sqlx::query("DELETE FROM saker_inbox WHERE seq = $1")
                            .bind(seq)
                            .execute(&self.pool)
                            .await
                            .map_err(err)?;
                    }
                }
            }
            deliveries.sort_by_key(|d| d.seq);
            Ok(deliveries)
        })
    }

    fn ack<'a>(
        &'a self,
        executor: &'a str,
        done: &'a [i64],
        retry: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            if done.is_empty() && retry.is_empty() {
                return Ok(());
            }
            sqlx::query(
                "WITH done AS ( \
                   DELETE FROM saker_inbox WHERE claimed_by = $1 AND seq = ANY($2)) \
                 UPDATE saker_inbox SET claimed_by = NULL \
                 WHERE claimed_by = $1 AND seq = ANY($3)",
            )
            .bind(executor)
            .bind(done)
            .bind(retry)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            if !retry.is_empty() {
                // No insert, so no notification: wake this process's claimers directly.
                SignalSenders::bump(&self.wake);
            }
            Ok(())
        })
    }

    fn take_slot<'a>(
        &'a self,
        flow: FlowSlots<'a>,
        execution_id: &'a str,
        mode: SlotMode,
    ) -> BoxFuture<'a, Result<Slot, QueueError>> {
        Box::pin(async move {
            let mode = match mode {
                SlotMode::Queue => "queue",
                SlotMode::Refuse => "refuse",
                SlotMode::Force => "force",
            };
            let slot: String = sqlx::query_scalar("SELECT saker_take_slot($1, $2, $3, $4, $5)")
                .bind(flow.namespace)
                .bind(flow.flow_id)
                .bind(execution_id)
                .bind(i32::try_from(flow.limit).unwrap_or(i32::MAX))
                .bind(mode)
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
            match slot.as_str() {
                "running" => Ok(Slot::Running),
                "queued" => Ok(Slot::Queued),
                "full" => Ok(Slot::Full),
                other => Err(QueueError(format!("unexpected slot answer {other}"))),
            }
        })
    }

    fn free_slot<'a>(
        &'a self,
        flow: FlowSlots<'a>,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let given: Vec<String> =
                sqlx::query_scalar("SELECT saker_free_slot($1, $2, $3, $4, $5)")
                    .bind(flow.namespace)
                    .bind(flow.flow_id)
                    .bind(execution_id)
                    .bind(i32::try_from(flow.limit).unwrap_or(i32::MAX))
                    .bind(encode(&InboxMessage::Dequeued)?)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(err)?;
            Ok(given)
        })
    }

    fn own<'a>(
        &'a self,
        executor: &'a str,
        ids: &'a [String],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO saker_execution_owners AS o (execution_id, executor_id, lease_until) \
                 SELECT id, $1, {lease} FROM unnest($2::text[]) AS t(id) ORDER BY id \
                 ON CONFLICT (execution_id) DO UPDATE \
                   SET executor_id = EXCLUDED.executor_id, lease_until = EXCLUDED.lease_until \
                   WHERE o.executor_id = EXCLUDED.executor_id \
                     OR o.lease_until <= clock_timestamp() \
                 RETURNING o.execution_id",
                lease = lease_sql(3)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(executor)
                .bind(ids)
                .bind(millis(lease))
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
            strings(rows, "execution_id")
        })
    }

    fn heartbeat<'a>(
        &'a self,
        executor: &'a ExecutorInfo,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            // An ended lease is renewed too as long as nobody took the execution over (a
            // reaper changes the owner, under the row lock this update waits for).
            let sql = format!(
                "WITH alive AS ( \
                   INSERT INTO saker_executors (id, hostname, pid) VALUES ($1, $3, $4) \
                   ON CONFLICT (id) DO UPDATE SET heartbeat_at = now() RETURNING id) \
                 UPDATE saker_execution_owners SET lease_until = {lease} \
                 WHERE executor_id = $1 \
                 RETURNING execution_id",
                lease = lease_sql(2)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&executor.id)
                .bind(millis(lease))
                .bind(&executor.hostname)
                .bind(i32::try_from(executor.pid).unwrap_or(i32::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
            strings(rows, "execution_id")
        })
    }

    fn release<'a>(
        &'a self,
        executor: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            sqlx::query(
                "DELETE FROM saker_execution_owners \
                 WHERE executor_id = $1 AND execution_id = ANY($2)",
            )
            .bind(executor)
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn reap<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let sql = format!(
                "UPDATE saker_execution_owners o SET executor_id = $1, lease_until = {lease} \
                 FROM (SELECT execution_id FROM saker_execution_owners \
                   WHERE lease_until <= clock_timestamp() \
                   ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED) e \
                 WHERE o.execution_id = e.execution_id \
                 RETURNING o.execution_id",
                lease = lease_sql(3)
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(executor)
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .bind(millis(lease))
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
            strings(rows, "execution_id")
        })
    }

    fn executor_gone<'a>(&'a self, executor: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            sqlx::query(
                "WITH gone AS (DELETE FROM saker_executors WHERE id = $1 RETURNING id) \
                 UPDATE saker_execution_owners SET lease_until = clock_timestamp() \
                 WHERE executor_id = $1",
            )
            .bind(executor)
            .execute(&self.pool)
            .await
            .map_err(err)?;
            Ok(())
        })
    }

    fn live_executors(
        &self,
        within: Duration,
    ) -> BoxFuture<'_, Result<Vec<ExecutorInfo>, QueueError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, hostname, pid, \
                   (extract(epoch FROM started_at) * 1000)::int8 AS started_ms, \
                   (extract(epoch FROM heartbeat_at) * 1000)::int8 AS heartbeat_ms \
                 FROM saker_executors \
                 WHERE heartbeat_at > now() - make_interval(secs => $1::float8 / 1000) \
                 ORDER BY id",
            )
            .bind(millis(within))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
            rows.into_iter()
                .map(|row| {
                    let pid: i32 = row.try_get("pid").map_err(err)?;
                    Ok(ExecutorInfo {
                        id: row.try_get("id").map_err(err)?,
                        hostname: row.try_get("hostname").map_err(err)?,
                        pid: u32::try_from(pid).unwrap_or(0),
                        started_at: row.try_get("started_ms").map_err(err)?,
                        heartbeat_at: row.try_get("heartbeat_ms").map_err(err)?,
                    })
                })
                .collect()
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>> {
        Box::pin(async move {
            let (messages, owners): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM saker_inbox), \
                        (SELECT count(*) FROM saker_execution_owners)",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
            Ok((
                usize::try_from(messages).unwrap_or(0),
                usize::try_from(owners).unwrap_or(0),
            ))
        })
    }

    fn publish(&self, notes: Vec<Note>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            let payloads: Vec<String> = notes.iter().filter_map(note_payload).collect();
            if payloads.is_empty() {
                return Ok(());
            }
            sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p)")
                .bind(NOTES_CHANNEL)
                .bind(payloads)
                .execute(&self.pool)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn notes(&self) -> broadcast::Receiver<Note> {
        self.notes.subscribe()
    }

    fn wake(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

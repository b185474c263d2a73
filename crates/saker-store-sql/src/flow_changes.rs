//! Flow changes told to other processes (PostgreSQL only): every transaction that saves a flow
//! revision (a create, an update, a disable, a delete) also sends `NOTIFY saker_flows` with the
//! flow's namespace and id, so the note is delivered when, and only if, the revision is
//! committed. [`PgStore::flow_changes`] listens: the scheduler component reloads just that flow.
//! A trigger state changed by the webserver component's API (a backfill, `disabled`, an
//! unlock...) is noted on the same channel once written (`Store::trigger_changed`), with the
//! trigger's id: the scheduler component reads that trigger's record again.
//!
//! Notes sent while the listening connection is down are lost: after it is back (listening
//! again) the stream says [`FlowChange::Resync`], and the listener reloads everything.

use std::time::Duration;

use saker_storage::{Result, TriggerKey};
use sqlx::PgConnection;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;

use crate::PgStore;
use crate::rows::db;

/// The notification channel of flow changes.
pub const FLOWS_CHANNEL: &str = "saker_flows";

/// A notification payload must stay under 8000 bytes.
const MAX_PAYLOAD_BYTES: usize = 7900;

/// What a process following flow changes hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowChange {
    /// A revision of this flow was committed (it may be deleted or disabled now).
    Saved { namespace: String, id: String },
    /// The state of this trigger of flow `(namespace, id)` was changed by a process that does
    /// not run the triggers (committed).
    Trigger {
        namespace: String,
        id: String,
        trigger_id: String,
    },
    /// Changes may have been missed (the connection was lost, or a name too long for a
    /// notification): reload every flow.
    Resync,
}

/// Sends the note of a change of flow `(namespace, id)` inside the transaction saving it.
pub(crate) async fn notify(conn: &mut PgConnection, namespace: &str, id: &str) -> Result<()> {
    send(conn, serde_json::json!({"namespace": namespace, "id": id})).await
}

/// Sends the note of a change of a trigger's state, already committed.
pub(crate) async fn notify_trigger(pool: &PgPool, key: &TriggerKey) -> Result<()> {
    let payload = serde_json::json!({
        "namespace": key.namespace,
        "id": key.flow_id,
        "trigger": key.trigger_id,
    });
    send(pool, payload).await
}

async fn send<'e>(executor: impl sqlx::PgExecutor<'e>, payload: serde_json::Value) -> Result<()> {
    let payload = payload.to_string();
    // An empty payload is a resync: still correct, only slower.
    let payload = if payload.len() <= MAX_PAYLOAD_BYTES {
        payload
    } else {
        String::new()
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(FLOWS_CHANNEL)
        .bind(payload)
        .execute(executor)
        .await
        .map_err(db)?;
    Ok(())
}

fn decode(payload: &str) -> FlowChange {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    match (
        value["namespace"].as_str(),
        value["id"].as_str(),
        value.get("trigger"),
    ) {
        (Some(namespace), Some(id), None) => FlowChange::Saved {
            namespace: namespace.to_owned(),
            id: id.to_owned(),
        },
        (Some(namespace), Some(id), Some(serde_json::Value::String(trigger_id))) => {
            FlowChange::Trigger {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
                trigger_id: trigger_id.clone(),
            }
        }
        _ => FlowChange::Resync,
    }
}

impl PgStore {
    /// Starts listening for flow changes (on a connection of its own, outside the store's
    /// pool): every change committed from now on, by any process, comes out of the receiver,
    /// in commit order. Listening stops when the receiver is dropped.
    pub async fn flow_changes(&self) -> Result<mpsc::UnboundedReceiver<FlowChange>> {
        let options = self.pool().connect_options().as_ref().clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options);
        let listener = listen(&pool).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(forward(pool, listener, tx));
        Ok(rx)
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.map_err(db)?;
    listener.listen(FLOWS_CHANNEL).await.map_err(db)?;
    Ok(listener)
}

async fn forward(pool: PgPool, first: PgListener, tx: mpsc::UnboundedSender<FlowChange>) {
    let mut next = Some(first);
    loop {
        let mut listener = match next.take() {
            Some(listener) => listener,
            None => {
                // Retried until it listens again; only then is a resync useful.
                let listener = loop {
                    tokio::select! {
                        () = tx.closed() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    match listen(&pool).await {
                        Ok(listener) => break listener,
                        Err(error) => eprintln!("warning: listening for flow changes: {error}"),
                    }
                };
                if tx.send(FlowChange::Resync).is_err() {
                    return;
                }
                listener
            }
        };
        loop {
            let received = tokio::select! {
                () = tx.closed() => return,
                received = listener.try_recv() => received,
            };
            let change = match received {
                Ok(Some(notification)) => decode(notification.payload()),
                // The connection dropped and was opened again, listening: what was sent
                // meanwhile is lost.
                Ok(None) => FlowChange::Resync,
                Err(error) => {
                    // A new listener (this one's connection goes back to the pool of one).
                    eprintln!("warning: flow change notifications: {error} (reconnecting)");
                    break;
                }
            };
            if tx.send(change).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_the_flow_or_ask_for_a_resync() {
        assert_eq!(
            decode(r#"{"namespace":"a.b","id":"c"}"#),
            FlowChange::Saved {
                namespace: "a.b".into(),
                id: "c".into()
            }
        );
        assert_eq!(
            decode(r#"{"namespace":"a.b","id":"c","trigger":"t"}"#),
            FlowChange::Trigger {
                namespace: "a.b".into(),
                id: "c".into(),
                trigger_id: "t".into()
            }
        );
        assert_eq!(decode(""), FlowChange::Resync);
        assert_eq!(
            decode(r#"{"namespace":"a","id":"c","trigger":1}"#),
            FlowChange::Resync
        );
        assert_eq!(decode(r#"{"id":"c"}"#), FlowChange::Resync);
    }
}

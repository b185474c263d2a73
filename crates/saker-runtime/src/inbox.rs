//! The executors' inbox: how several executor processes on one database share the executions,
//! each execution processed by exactly one of them at a time.
//!
//! - Every execution has at most one **owner** (an executor id and a lease end). Only the owner
//!   applies events to it; it renews all its leases with one heartbeat. An owner whose lease
//!   ended (a dead or stalled process) is taken over by another executor ([`ExecutorQueue::reap`]),
//!   which loads the execution from the store and resumes it as a restart would
//!   (runnable task runs re-dispatched: at-least-once; timers re-armed).
//! - Whoever wants something done to an execution (the API, the scheduler, an executor whose
//!   child execution ended) **posts** a message to the execution's inbox. A claim takes, in one
//!   transaction, the oldest messages of executions that are unowned, owned by the claimer, or
//!   whose owner's lease ended, wins their ownership, and marks the messages it won as its own:
//!   two claimers never both own one execution, and one execution's messages are applied in
//!   order. A message leaves the inbox only when its claimer **acknowledges** it, once the
//!   state change it caused is committed ([`ExecutorQueue::ack`]); the messages a dead
//!   executor claimed and never acknowledged are delivered again to the executor that takes
//!   its executions over, marked [`Delivery::redelivered`].
//! - Flow `concurrency` limits are counted here, for the whole cluster: an execution takes one
//!   of its flow's **slots** ([`ExecutorQueue::take_slot`]) before it starts, atomically (two
//!   executors admitting at the same moment cannot both pass the limit), or waits in the
//!   flow's queue; freeing a slot ([`ExecutorQueue::free_slot`]) gives it to the oldest queued
//!   execution and posts [`InboxMessage::Dequeued`] to that execution's inbox in the same
//!   commit, so its owner (whichever executor it is) starts it.
//! - Executors **publish** a small note after each commit (execution id and state, or a log
//!   line); processes without a loop (webserver, scheduler) turn them back into the service's
//!   broadcasts by re-reading the store ([`crate::service::Service::remote`]).
//!
//! [`MemoryInbox`] keeps it in memory (tests, one process); `saker-queue-pg` keeps it in
//! PostgreSQL. [`suite`] is the contract both run (`inbox_suite!`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saker_core::StateType;
use saker_storage::LogEntry;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::queue::{BoxFuture, QueueError, SignalSenders};
use crate::service::Control;

/// How long an executor owns its executions without a heartbeat, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How many notes a slow listener may fall behind before it is told it lagged.
const NOTES_CAPACITY: usize = 4096;

/// What can be asked of an execution's owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum InboxMessage {
    /// Start the execution, already saved CREATED in the store by the poster.
    Submit,
    /// Kill, pause, resume, restart, change a task run's state. `seen`: the length of the
    /// execution's state history when the poster checked the request, so a redelivered
    /// control that was already applied is not applied twice (see [`crate::cluster`]).
    Control {
        control: Control,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen: Option<usize>,
    },
    /// A child execution of task run `task_run_id` ended on another executor: read it from
    /// the store and complete the Subflow run.
    #[serde(rename_all = "camelCase")]
    ChildEnded { task_run_id: String },
    /// The execution, QUEUED by its flow's concurrency limit, was given a slot: start it.
    Dequeued,
}

/// A claimed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub seq: i64,
    pub execution_id: String,
    pub message: InboxMessage,
    /// Claimed before by an executor that never acknowledged it (it died, or stalled past its
    /// lease): its change may already be committed.
    pub redelivered: bool,
}

/// A flow's concurrency limit, as the slots count it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowSlots<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub limit: u32,
}

/// How an execution asks for a slot of its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotMode {
    /// Wait in the flow's queue when every slot is taken (`behavior: QUEUE`).
    Queue,
    /// Take nothing when every slot is taken (`CANCEL`, `FAIL`).
    Refuse,
    /// Take a slot whatever the limit (an unqueue into RUNNING, a force run, an execution
    /// found running at a take-over).
    Force,
}

/// What an execution holds after [`ExecutorQueue::take_slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Running,
    Queued,
    /// Every slot is taken and the execution did not queue.
    Full,
}

/// A live executor, as it reports itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorInfo {
    pub id: String,
    pub hostname: String,
    pub pid: u32,
    /// Milliseconds since the epoch (filled by the queue when listed).
    #[serde(default)]
    pub started_at: i64,
    #[serde(default)]
    pub heartbeat_at: i64,
}

impl ExecutorInfo {
    /// This process, with a fresh unique id.
    pub fn this_process() -> Self {
        let hostname = crate::queue::hostname();
        ExecutorInfo {
            id: format!("{hostname}-{}", uuid::Uuid::new_v4().simple()),
            hostname,
            pid: std::process::id(),
            started_at: 0,
            heartbeat_at: 0,
        }
    }
}

/// A change an executor committed, published for processes without a loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Note {
    /// Execution `id` was saved in state `state` (re-read it from the store).
    #[serde(rename_all = "camelCase")]
    Saved {
        execution_id: String,
        state: StateType,
    },
    /// A stored log line (its message may be cut: the store has it whole).
    Log { entry: Box<LogEntry> },
    /// Notes may have been lost (the listener reconnected): followers re-read the store.
    Resync,
}

/// The executors' inbox and execution ownership (see the module documentation).
pub trait ExecutorQueue: Send + Sync + 'static {
    /// Posts messages, each to the inbox of its execution, in order.
    fn post(&self, messages: Vec<(String, InboxMessage)>) -> BoxFuture<'_, Result<(), QueueError>>;

    /// Takes up to `max` messages (oldest first) of executions that are unowned, owned by
    /// `executor`, or whose owner's lease ended; `executor` owns them afterwards (lease
    /// `lease`). Only messages whose ownership was won are taken; they stay in the inbox,
    /// claimed by `executor` (not delivered to it again), until acknowledged. Messages another
    /// executor claimed without acknowledging them are delivered again (`redelivered`).
    fn claim<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, QueueError>>;

    /// Settles claimed messages: those of `done` leave the inbox (their change is committed);
    /// those of `retry` become claimable again (their change failed). Only messages claimed
    /// by `executor` are touched (an executor that lost an execution cannot settle its
    /// messages for the new owner).
    fn ack<'a>(
        &'a self,
        executor: &'a str,
        done: &'a [i64],
        retry: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Asks for one of `flow`'s concurrency slots for `execution_id` (see [`SlotMode`]).
    /// Atomic against every other slot operation of the flow; an execution that already
    /// holds a slot or a queue place gets the same answer again (a `Force` turns a queue
    /// place into a slot).
    fn take_slot<'a>(
        &'a self,
        flow: FlowSlots<'a>,
        execution_id: &'a str,
        mode: SlotMode,
    ) -> BoxFuture<'a, Result<Slot, QueueError>>;

    /// `execution_id` ended: frees its slot or queue place, then gives the free slots to the
    /// oldest queued executions of the flow, posting [`InboxMessage::Dequeued`] to each in the
    /// same commit. Returns those executions.
    fn free_slot<'a>(
        &'a self,
        flow: FlowSlots<'a>,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>>;

    /// Makes `executor` the owner of executions it creates itself (subflow children,
    /// replays); returns the ids it owns afterwards (not those another live owner holds).
    fn own<'a>(
        &'a self,
        executor: &'a str,
        ids: &'a [String],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>>;

    /// Renews every lease of `executor` (an ended one too, unless another executor took the
    /// execution over) and its liveness; returns the ids it still owns.
    fn heartbeat<'a>(
        &'a self,
        executor: &'a ExecutorInfo,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>>;

    /// Gives up the ownership of `ids` (ended executions leaving memory).
    fn release<'a>(
        &'a self,
        executor: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Takes over up to `max` executions whose owner's lease ended; returns their ids.
    fn reap<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>>;

    /// A clean stop: `executor` leaves the live list and its leases end now, so the others
    /// take its executions over at their next reap.
    fn executor_gone<'a>(&'a self, executor: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Executors whose heartbeat is younger than `within`.
    fn live_executors(
        &self,
        within: Duration,
    ) -> BoxFuture<'_, Result<Vec<ExecutorInfo>, QueueError>>;

    /// How many messages and owner rows the tables hold.
    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>>;

    /// Publishes notes to every process listening ([`ExecutorQueue::notes`]).
    fn publish(&self, notes: Vec<Note>) -> BoxFuture<'_, Result<(), QueueError>>;

    /// The notes published from now on.
    fn notes(&self) -> broadcast::Receiver<Note>;

    /// Moves when a message may be waiting.
    fn wake(&self) -> watch::Receiver<u64>;
}

/// The in-memory inbox (one process, tests).
pub struct MemoryInbox {
    inner: Mutex<MemoryInner>,
    wake: watch::Sender<u64>,
    notes: broadcast::Sender<Note>,
}

#[derive(Default)]
struct MemoryInner {
    next: i64,
    /// By seq: execution id, message, the executor that claimed it.
    messages: BTreeMap<i64, (String, InboxMessage, Option<String>)>,
    owners: HashMap<String, (String, tokio::time::Instant)>,
    executors: HashMap<String, (ExecutorInfo, tokio::time::Instant)>,
    /// By execution id: namespace, flow id, running (or queued), order of arrival.
    slots: HashMap<String, (String, String, bool, i64)>,
}

impl Default for MemoryInbox {
    fn default() -> Self {
        MemoryInbox {
            inner: Mutex::default(),
            wake: watch::channel(0).0,
            notes: broadcast::channel(NOTES_CAPACITY).0,
        }
    }
}

impl MemoryInbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MemoryInner {
    /// Whether `executor` may own `id` now (and takes it when so).
    fn take(&mut self, id: &str, executor: &str, lease: Duration) -> bool {
        let now = tokio::time::Instant::now();
        let free = match self.owners.get(id) {
            None => true,
            Some((owner, until)) => owner == executor || *until <= now,
        };
        if free {
            self.owners
                .insert(id.to_owned(), (executor.to_owned(), now + lease));
        }
        free
    }

    fn post(&mut self, execution_id: String, message: InboxMessage) {
        self.next += 1;
        let seq = self.next;
        self.messages.insert(seq, (execution_id, message, None));
    }

    fn running(&self, flow: FlowSlots<'_>) -> usize {
        self.slots
            .values()
            .filter(|(ns, id, running, _)| *running && ns == flow.namespace && id == flow.flow_id)
            .count()
    }
}

impl ExecutorQueue for MemoryInbox {
    fn post(&self, messages: Vec<(String, InboxMessage)>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            {
                let mut inner = self.lock();
                for (execution_id, message) in messages {
                    inner.post(execution_id, message);
                }
            }
            SignalSenders::bump(&self.wake);
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
            let mut inner = self.lock();
            let candidates: Vec<(i64, String)> = inner
                .messages
                .iter()
                .filter(|(_, (_, _, by))| by.as_deref() != Some(executor))
                .map(|(seq, (id, _, _))| (*seq, id.clone()))
                .collect();
            // Up to `max` executions, each with all its claimable messages (as PostgreSQL).
            let mut taken: Vec<String> = Vec::new();
            let mut refused: Vec<String> = Vec::new();
            let mut won = Vec::new();
            for (seq, id) in candidates {
                let mine = taken.contains(&id);
                if !mine {
                    if refused.contains(&id) || taken.len() >= max {
                        continue;
                    }
                    if !inner.take(&id, executor, lease) {
                        refused.push(id);
                        continue;
                    }
                    taken.push(id.clone());
                }
                if let Some((execution_id, message, by)) = inner.messages.get_mut(&seq) {
                    won.push(Delivery {
                        seq,
                        execution_id: execution_id.clone(),
                        message: message.clone(),
                        redelivered: by.is_some(),
                    });
                    *by = Some(executor.to_owned());
                }
            }
            Ok(won)
        })
    }

    fn ack<'a>(
        &'a self,
        executor: &'a str,
        done: &'a [i64],
        retry: &'a [i64],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            {
                let mut inner = self.lock();
                let mine =
                    |m: &(String, InboxMessage, Option<String>)| m.2.as_deref() == Some(executor);
                for seq in done {
                    if inner.messages.get(seq).is_some_and(mine) {
                        inner.messages.remove(seq);
                    }
                }
                for seq in retry {
                    if let Some(message) = inner.messages.get_mut(seq).filter(|m| mine(m)) {
                        message.2 = None;
                    }
                }
            }
            if !retry.is_empty() {
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
            let mut inner = self.lock();
            if let Some((_, _, running, _)) = inner.slots.get_mut(execution_id) {
                if mode == SlotMode::Force {
                    *running = true;
                }
                return Ok(if *running {
                    Slot::Running
                } else {
                    Slot::Queued
                });
            }
            let free = mode == SlotMode::Force || inner.running(flow) < flow.limit as usize;
            if !free && mode == SlotMode::Refuse {
                return Ok(Slot::Full);
            }
            inner.next += 1;
            let order = inner.next;
            let row = (
                flow.namespace.to_owned(),
                flow.flow_id.to_owned(),
                free,
                order,
            );
            inner.slots.insert(execution_id.to_owned(), row);
            Ok(if free { Slot::Running } else { Slot::Queued })
        })
    }

    fn free_slot<'a>(
        &'a self,
        flow: FlowSlots<'a>,
        execution_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let mut given = Vec::new();
            {
                let mut inner = self.lock();
                inner.slots.remove(execution_id);
                while inner.running(flow) < flow.limit as usize {
                    let oldest = inner
                        .slots
                        .iter()
                        .filter(|(_, (ns, id, running, _))| {
                            !running && ns == flow.namespace && id == flow.flow_id
                        })
                        .min_by_key(|(_, (_, _, _, order))| *order)
                        .map(|(id, _)| id.clone());
                    let Some(next) = oldest else {
                        break;
                    };
                    if let Some(row) = inner.slots.get_mut(&next) {
                        row.2 = true;
                    }
                    inner.post(next.clone(), InboxMessage::Dequeued);
                    given.push(next);
                }
            }
            if !given.is_empty() {
                SignalSenders::bump(&self.wake);
            }
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
            let mut inner = self.lock();
            Ok(ids
                .iter()
                .filter(|id| inner.take(id, executor, lease))
                .cloned()
                .collect())
        })
    }

    fn heartbeat<'a>(
        &'a self,
        executor: &'a ExecutorInfo,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, QueueError>> {
        Box::pin(async move {
            let now = tokio::time::Instant::now();
            let mut inner = self.lock();
            let mut info = executor.clone();
            info.heartbeat_at = crate::host::now().timestamp_millis();
            let started = inner
                .executors
                .get(&executor.id)
                .map_or(info.heartbeat_at, |(i, _)| i.started_at);
            info.started_at = started;
            inner.executors.insert(executor.id.clone(), (info, now));
            let mut owned = Vec::new();
            for (id, (owner, until)) in inner.owners.iter_mut() {
                // Still ours even when the lease ended, as long as nobody took it over.
                if *owner == executor.id {
                    *until = now + lease;
                    owned.push(id.clone());
                }
            }
            owned.sort();
            Ok(owned)
        })
    }

    fn release<'a>(
        &'a self,
        executor: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            for id in ids {
                if inner.owners.get(id).is_some_and(|(o, _)| o == executor) {
                    inner.owners.remove(id);
                }
            }
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
            let now = tokio::time::Instant::now();
            let mut inner = self.lock();
            let mut expired: Vec<String> = inner
                .owners
                .iter()
                .filter(|(_, (_, until))| *until <= now)
                .map(|(id, _)| id.clone())
                .collect();
            expired.sort();
            expired.truncate(max);
            for id in &expired {
                inner
                    .owners
                    .insert(id.clone(), (executor.to_owned(), now + lease));
            }
            Ok(expired)
        })
    }

    fn executor_gone<'a>(&'a self, executor: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let now = tokio::time::Instant::now();
            let mut inner = self.lock();
            inner.executors.remove(executor);
            for (owner, until) in inner.owners.values_mut() {
                if owner == executor {
                    *until = now;
                }
            }
            Ok(())
        })
    }

    fn live_executors(
        &self,
        within: Duration,
    ) -> BoxFuture<'_, Result<Vec<ExecutorInfo>, QueueError>> {
        Box::pin(async move {
            let inner = self.lock();
            let mut live: Vec<ExecutorInfo> = inner
                .executors
                .values()
                .filter(|(_, at)| at.elapsed() < within)
                .map(|(info, _)| info.clone())
                .collect();
            live.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(live)
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok((inner.messages.len(), inner.owners.len()))
        })
    }

    fn publish(&self, notes: Vec<Note>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            for note in notes {
                let _ = self.notes.send(note);
            }
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

/// The behaviours every [`ExecutorQueue`] must show; each backend runs them on a fresh inbox.
pub mod suite {
    use super::*;
    use crate::Runtime;
    use crate::service::ControlError;
    use saker_storage::Store;

    const LONG: Duration = Duration::from_secs(600);

    fn info(id: &str) -> ExecutorInfo {
        ExecutorInfo {
            id: id.to_owned(),
            hostname: "h".to_owned(),
            pid: 7,
            started_at: 0,
            heartbeat_at: 0,
        }
    }

    fn kill() -> InboxMessage {
        InboxMessage::Control {
            control: Control::Kill,
            seen: None,
        }
    }

    fn seqs(deliveries: &[Delivery]) -> Vec<i64> {
        deliveries.iter().map(|d| d.seq).collect()
    }

    fn ids(deliveries: &[Delivery]) -> Vec<(&str, &InboxMessage)> {
        deliveries
            .iter()
            .map(|d| (d.execution_id.as_str(), &d.message))
            .collect()
    }

    /// Messages are claimed in order by the owner; another executor gets none of an owned
    /// execution's messages; claimed messages are deleted.
    pub async fn ownership(inbox: Arc<dyn ExecutorQueue>) {
        let resume = InboxMessage::Control {
            control: Control::Resume {
                task_run_id: Some(saker_core::TaskRunId::new("r1")),
                inputs: serde_json::json!({"a": 1}).as_object().cloned().unwrap(),
            },
            seen: Some(3),
        };
        inbox
            .post(vec![
                ("e1".into(), InboxMessage::Submit),
                ("e1".into(), resume.clone()),
            ])
            .await
            .unwrap();
        let first = inbox.claim("a", 10, LONG).await.unwrap();
        assert_eq!(
            ids(&first),
            vec![("e1", &InboxMessage::Submit), ("e1", &resume)]
        );
        assert!(first[0].seq < first[1].seq);
        assert!(first.iter().all(|d| !d.redelivered));
        assert!(
            inbox.claim("a", 10, LONG).await.unwrap().is_empty(),
            "a claimed message is not delivered to its claimer twice"
        );
        inbox.ack("a", &seqs(&first), &[]).await.unwrap();
        inbox.post(vec![("e1".into(), kill())]).await.unwrap();
        assert!(
            inbox.claim("b", 10, LONG).await.unwrap().is_empty(),
            "another executor claimed an owned execution's message"
        );
        let child = InboxMessage::ChildEnded {
            task_run_id: "r2".into(),
        };
        inbox
            .post(vec![("e2".into(), child.clone())])
            .await
            .unwrap();
        let b = inbox.claim("b", 10, LONG).await.unwrap();
        assert_eq!(ids(&b), vec![("e2", &child)], "unowned executions are free");
        let a = inbox.claim("a", 10, LONG).await.unwrap();
        assert_eq!(ids(&a), vec![("e1", &kill())]);
        assert_eq!(
            inbox.depth().await.unwrap(),
            (2, 2),
            "kept until acknowledged"
        );
        inbox.ack("b", &seqs(&a), &[]).await.unwrap();
        assert_eq!(
            inbox.depth().await.unwrap(),
            (2, 2),
            "only the claimer acknowledges"
        );
        inbox.ack("a", &seqs(&a), &[]).await.unwrap();
        inbox.ack("b", &seqs(&b), &[]).await.unwrap();
        assert_eq!(inbox.depth().await.unwrap(), (0, 2));
    }

    /// Many claimers at once: every message is delivered once, all messages of one execution
    /// go to one executor, in the order they were posted.
    pub async fn concurrent_claims(inbox: Arc<dyn ExecutorQueue>) {
        let executions = 150;
        let mut messages = Vec::new();
        for round in 0..3 {
            for n in 0..executions {
                let message = if round == 0 {
                    InboxMessage::Submit
                } else {
                    InboxMessage::ChildEnded {
                        task_run_id: format!("r{round}"),
                    }
                };
                messages.push((format!("e{n}"), message));
            }
        }
        // Posted in a few batches, so claims and posts interleave.
        for chunk in messages.chunks(100) {
            inbox.post(chunk.to_vec()).await.unwrap();
        }
        let mut claimers = tokio::task::JoinSet::new();
        for c in 0..5 {
            let inbox = inbox.clone();
            claimers.spawn(async move {
                let me = format!("x{c}");
                let mut mine = Vec::new();
                let mut idle = 0;
                while idle < 3 {
                    let got = inbox.claim(&me, 7, LONG).await.unwrap();
                    inbox.ack(&me, &seqs(&got), &[]).await.unwrap();
                    if got.is_empty() {
                        idle += 1;
                    } else {
                        idle = 0;
                    }
                    mine.extend(got.into_iter().map(|d| (me.clone(), d)));
                    tokio::task::yield_now().await;
                }
                mine
            });
        }
        let mut all = Vec::new();
        while let Some(mine) = claimers.join_next().await {
            all.extend(mine.unwrap());
        }
        assert_eq!(all.len(), 3 * executions, "a message was lost or repeated");
        let mut by_execution: HashMap<String, Vec<(String, Delivery)>> = HashMap::new();
        for (who, delivery) in all {
            by_execution
                .entry(delivery.execution_id.clone())
                .or_default()
                .push((who, delivery));
        }
        for (id, mut got) in by_execution {
            got.sort_by_key(|(_, d)| d.seq);
            let owners: std::collections::HashSet<_> = got.iter().map(|(w, _)| w).collect();
            assert_eq!(owners.len(), 1, "{id} was processed by two executors");
            assert_eq!(got[0].1.message, InboxMessage::Submit, "{id} out of order");
        }
        assert_eq!(inbox.depth().await.unwrap(), (0, executions));
    }

    /// An owner whose lease ended loses its executions: a claimer or a reaper takes them over
    /// once, its heartbeat no longer lists them; a live owner keeps its own.
    pub async fn expired_leases(inbox: Arc<dyn ExecutorQueue>) {
        let (dead, alive) = (info("dead"), info("alive"));
        assert_eq!(
            inbox
                .own("dead", &["e1".into(), "e2".into()], Duration::ZERO)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            inbox.own("alive", &["e3".into()], LONG).await.unwrap(),
            vec!["e3".to_owned()]
        );
        assert!(
            inbox
                .own("other", &["e3".into()], LONG)
                .await
                .unwrap()
                .is_empty(),
            "a live owner's execution was taken"
        );
        inbox.post(vec![("e1".into(), kill())]).await.unwrap();
        let claimed = inbox.claim("alive", 10, LONG).await.unwrap();
        assert_eq!(ids(&claimed), vec![("e1", &kill())]);
        inbox.ack("alive", &seqs(&claimed), &[]).await.unwrap();
        assert_eq!(
            inbox.reap("reaper", 10, LONG).await.unwrap(),
            vec!["e2".to_owned()]
        );
        assert!(inbox.reap("late", 10, LONG).await.unwrap().is_empty());
        assert!(inbox.heartbeat(&dead, LONG).await.unwrap().is_empty());
        assert_eq!(
            inbox.heartbeat(&alive, LONG).await.unwrap(),
            vec!["e1".to_owned(), "e3".to_owned()]
        );
        inbox
            .release("alive", &["e1".into(), "e2".into()])
            .await
            .unwrap();
        assert_eq!(inbox.depth().await.unwrap(), (0, 2), "e2 is the reaper's");
        assert_eq!(
            inbox.own("other", &["e1".into()], LONG).await.unwrap(),
            vec!["e1".to_owned()],
            "a released execution is free"
        );
    }

    /// A message claimed by an executor that dies before acknowledging it is delivered again,
    /// in order and marked, to the executor that takes the execution over; a failed message
    /// is given back to be claimed again; a late acknowledgement of the dead one changes
    /// nothing.
    pub async fn redelivery(inbox: Arc<dyn ExecutorQueue>) {
        inbox
            .post(vec![
                ("e1".into(), InboxMessage::Submit),
                ("e1".into(), kill()),
            ])
            .await
            .unwrap();
        // "dead" claims both with a lease already over, and never acknowledges them.
        let lost = inbox.claim("dead", 10, Duration::ZERO).await.unwrap();
        assert_eq!(lost.len(), 2);
        inbox
            .post(vec![("e1".into(), InboxMessage::Dequeued)])
            .await
            .unwrap();
        let again = inbox.claim("heir", 10, LONG).await.unwrap();
        assert_eq!(
            ids(&again),
            vec![
                ("e1", &InboxMessage::Submit),
                ("e1", &kill()),
                ("e1", &InboxMessage::Dequeued)
            ]
        );
        assert_eq!(
            again.iter().map(|d| d.redelivered).collect::<Vec<_>>(),
            vec![true, true, false]
        );
        inbox.ack("dead", &seqs(&lost), &[]).await.unwrap();
        assert_eq!(inbox.depth().await.unwrap(), (3, 1));
        // The heir applied the first two; the third failed and is claimed again.
        inbox
            .ack("heir", &seqs(&again[..2]), &seqs(&again[2..]))
            .await
            .unwrap();
        assert!(inbox.claim("other", 10, LONG).await.unwrap().is_empty());
        let retried = inbox.claim("heir", 10, LONG).await.unwrap();
        assert_eq!(ids(&retried), vec![("e1", &InboxMessage::Dequeued)]);
        assert!(
            !retried[0].redelivered,
            "given back, not lost by a dead executor"
        );
        inbox.ack("heir", &seqs(&retried), &[]).await.unwrap();
        assert_eq!(inbox.depth().await.unwrap(), (0, 1));
    }

    /// Concurrency slots: many executions asking at once get exactly `limit` slots, the others
    /// a queue place (or nothing); asking again gives the same answer; a freed slot goes to
    /// the oldest queued execution with a `Dequeued` message; a forced one passes the limit.
    pub async fn concurrency_slots(inbox: Arc<dyn ExecutorQueue>) {
        let flow = FlowSlots {
            namespace: "n",
            flow_id: "f",
            limit: 2,
        };
        let mut askers = tokio::task::JoinSet::new();
        for n in 0..24 {
            let inbox = inbox.clone();
            askers.spawn(async move {
                let flow = FlowSlots {
                    namespace: "n",
                    flow_id: "f",
                    limit: 2,
                };
                let id = format!("q{n:02}");
                let slot = inbox.take_slot(flow, &id, SlotMode::Queue).await.unwrap();
                (id, slot)
            });
        }
        let mut running = Vec::new();
        let mut queued = 0;
        while let Some(answer) = askers.join_next().await {
            let (id, slot) = answer.unwrap();
            match slot {
                Slot::Running => running.push(id),
                Slot::Queued => queued += 1,
                Slot::Full => panic!("a queueing request was refused"),
            }
        }
        assert_eq!((running.len(), queued), (2, 22), "{running:?}");
        for id in &running {
            assert_eq!(
                inbox.take_slot(flow, id, SlotMode::Queue).await.unwrap(),
                Slot::Running
            );
        }
        let other = FlowSlots {
            flow_id: "g",
            ..flow
        };
        assert_eq!(
            inbox
                .take_slot(other, "g1", SlotMode::Refuse)
                .await
                .unwrap(),
            Slot::Running,
            "slots are counted per flow"
        );
        assert_eq!(
            inbox.take_slot(flow, "r1", SlotMode::Refuse).await.unwrap(),
            Slot::Full
        );
        // A freed slot goes to a queued execution, through its inbox.
        let given = inbox.free_slot(flow, &running[0]).await.unwrap();
        assert_eq!(given.len(), 1);
        assert!(!running.contains(&given[0]));
        let messages = inbox.claim("x", 100, LONG).await.unwrap();
        assert_eq!(
            ids(&messages),
            vec![(given[0].as_str(), &InboxMessage::Dequeued)]
        );
        assert_eq!(
            inbox
                .take_slot(flow, &given[0], SlotMode::Queue)
                .await
                .unwrap(),
            Slot::Running
        );
        // In order of arrival; a forced one runs over the limit; a queue place freed gives
        // nothing.
        let one = FlowSlots {
            flow_id: "h",
            limit: 1,
            ..flow
        };
        for (id, slot) in [
            ("h1", Slot::Running),
            ("h2", Slot::Queued),
            ("h3", Slot::Queued),
            ("h4", Slot::Queued),
        ] {
            assert_eq!(
                inbox.take_slot(one, id, SlotMode::Queue).await.unwrap(),
                slot
            );
        }
        assert_eq!(inbox.free_slot(one, "h1").await.unwrap(), vec!["h2"]);
        assert_eq!(
            inbox.take_slot(one, "h4", SlotMode::Force).await.unwrap(),
            Slot::Running
        );
        assert!(inbox.free_slot(one, "h2").await.unwrap().is_empty());
        assert!(inbox.free_slot(one, "h3").await.unwrap().is_empty());
        assert!(inbox.free_slot(one, "h4").await.unwrap().is_empty());
        assert_eq!(
            inbox.take_slot(one, "h5", SlotMode::Refuse).await.unwrap(),
            Slot::Running
        );
    }

    /// Live executors are listed; a clean stop removes one and ends its leases.
    pub async fn liveness(inbox: Arc<dyn ExecutorQueue>) {
        inbox.own("x1", &["e1".into()], LONG).await.unwrap();
        inbox.heartbeat(&info("x1"), LONG).await.unwrap();
        let live = inbox.live_executors(LONG).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].id.as_str(), live[0].pid), ("x1", 7));
        assert!(live[0].heartbeat_at > 0 && live[0].started_at > 0);
        assert!(inbox.reap("x2", 10, LONG).await.unwrap().is_empty());
        inbox.executor_gone("x1").await.unwrap();
        assert!(inbox.live_executors(LONG).await.unwrap().is_empty());
        assert_eq!(
            inbox.reap("x2", 10, LONG).await.unwrap(),
            vec!["e1".to_owned()]
        );
    }

    /// A posted message wakes the executors; a published note reaches every listener.
    pub async fn wake_ups_and_notes(inbox: Arc<dyn ExecutorQueue>) {
        let mut wake = inbox.wake();
        wake.mark_unchanged();
        let mut notes = inbox.notes();
        inbox
            .post(vec![("e1".into(), InboxMessage::Submit)])
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(60), wake.changed())
            .await
            .expect("a message wakes the executors")
            .unwrap();
        let saved = Note::Saved {
            execution_id: "e1".into(),
            state: StateType::Running,
        };
        inbox.publish(vec![saved.clone()]).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match notes.recv().await.unwrap() {
                    Note::Resync => continue,
                    note => return note,
                }
            }
        })
        .await
        .expect("a note reaches the listeners");
        assert_eq!(got, saved);
    }

    const CHILD: &str = "id: child\nnamespace: cluster\ntasks:\n  - id: c\n    type: io.kestra.plugin.core.debug.Return\n    format: child\n";

    const MIXED: &str = r#"
id: mixed
namespace: cluster
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: p1
        type: io.kestra.plugin.core.debug.Return
        format: one
      - id: p2
        type: io.kestra.plugin.core.debug.Return
        format: two
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: cluster
    flowId: child
    wait: true
"#;

    const SLEEPY: &str = r#"
id: sleepy
namespace: cluster
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: a
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: cluster
    flowId: child
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: b
"#;

    async fn stored<S: Store>(store: &S, source: &str) -> Arc<saker_flow::Flow> {
        let mut flow = saker_flow::parse_and_validate(source, None, saker_tasks::registry())
            .unwrap_or_else(|d| panic!("invalid test flow: {d:?}"));
        let record = store
            .put_flow(&flow.namespace, &flow.id, source)
            .await
            .unwrap();
        flow.revision = Some(record.revision);
        Arc::new(flow)
    }

    fn execution_of(flow: &saker_flow::Flow) -> saker_core::Execution {
        use saker_core::IdSource;
        saker_core::Execution::new(
            crate::host::RandomIds.execution_id(),
            &saker_core::FlowRef::new(
                flow.namespace.clone(),
                flow.id.clone(),
                flow.revision.unwrap_or(1),
            ),
            &[],
            Vec::new(),
            crate::host::now(),
        )
    }

    /// Waits (2 minutes at most: a loaded CI machine) until every execution of `ids` is
    /// terminated in the store; returns them.
    async fn all_ended<S: Store>(
        store: &S,
        ids: &[saker_core::ExecutionId],
    ) -> Vec<saker_core::Execution> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let mut done = Vec::new();
            let mut waiting = None;
            for id in ids {
                match store.get_execution(id).await.unwrap() {
                    Some(e) if e.state.is_terminated() => done.push(e),
                    other => {
                        waiting = Some(other);
                        break;
                    }
                }
            }
            if done.len() == ids.len() {
                return done;
            }
            let child = waiting
                .as_ref()
                .and_then(Option::as_ref)
                .and_then(|e| e.task_run_list.iter().find(|r| r.task_id == "sub"))
                .and_then(|r| {
                    r.outputs.as_ref()?["executionId"]
                        .as_str()
                        .map(str::to_owned)
                });
            let child = match child {
                Some(id) => store
                    .get_execution(&saker_core::ExecutionId::new(&id))
                    .await
                    .unwrap()
                    .map(|c| {
                        (
                            c.state.current(),
                            c.state.histories().len(),
                            c.task_run_list.len(),
                        )
                    }),
                None => None,
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {} executions ended; the next one: {:?} (child {child:?})",
                done.len(),
                ids.len(),
                waiting.flatten().map(|e| (
                    e.id.clone(),
                    e.state.current(),
                    e.task_run_list
                        .iter()
                        .map(|r| (r.task_id.clone(), r.state.current(), r.outputs.clone()))
                        .collect::<Vec<_>>()
                ))
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Processed once: the execution went through each state once and every task run reached
    /// one final state once (a second executor applying events would repeat them).
    fn processed_once(execution: &saker_core::Execution) {
        let states: Vec<StateType> = execution
            .state
            .histories()
            .iter()
            .map(|h| h.state)
            .collect();
        assert_eq!(
            states,
            vec![StateType::Created, StateType::Running, StateType::Success],
            "execution {} of {}",
            execution.id.as_str(),
            execution.flow_id
        );
        for run in &execution.task_run_list {
            let ends = run
                .state
                .histories()
                .iter()
                .filter(|h| h.state.is_terminated())
                .count();
            assert_eq!(ends, 1, "task run {} ended {ends} times", run.task_id);
            assert_eq!(run.state.current(), StateType::Success);
        }
    }

    /// The Subflow children of `parents`, checked like their parents.
    async fn children<S: Store>(store: &S, parents: &[saker_core::Execution]) -> usize {
        let mut count = 0;
        for parent in parents {
            let run = parent
                .task_run_list
                .iter()
                .find(|r| r.task_id == "sub")
                .expect("a Subflow run");
            let child_id = run.outputs.as_ref().unwrap()["executionId"]
                .as_str()
                .unwrap()
                .to_owned();
            let child = store
                .get_execution(&saker_core::ExecutionId::new(&child_id))
                .await
                .unwrap()
                .expect("the child is stored");
            processed_once(&child);
            count += 1;
        }
        count
    }

    /// Two executor services on one store and inbox, fed by a remote service: every execution
    /// (with its subflow child) ends SUCCESS, processed once; ended executions are released.
    /// Then one executor dies mid-run (aborted, nothing released): the other takes its
    /// executions over once its lease ends and finishes them.
    pub async fn two_executors<S: Store>(rt: Runtime<S>, inbox: Arc<dyn ExecutorQueue>) {
        use crate::service::Service;
        let lease = Duration::from_secs(1);
        let (a, _) = Service::start(rt.clone().with_inbox(
            inbox.clone(),
            ExecutorInfo::this_process(),
            lease,
        ))
        .await
        .unwrap();
        let (b, _) = Service::start(rt.clone().with_inbox(
            inbox.clone(),
            ExecutorInfo::this_process(),
            lease,
        ))
        .await
        .unwrap();
        let api = Service::remote(rt.clone(), inbox.clone());
        let store = rt.store().clone();
        stored(&*store, CHILD).await;
        let mixed = stored(&*store, MIXED).await;
        let mut ended = api.ended();
        let mut ids = Vec::new();
        for _ in 0..200 {
            let execution = execution_of(&mixed);
            ids.push(execution.id.clone());
            api.submit(mixed.clone(), execution).await.unwrap();
        }
        let done = all_ended(&*store, &ids).await;
        for execution in &done {
            processed_once(execution);
            assert_eq!(execution.task_run_list.len(), 5);
        }
        assert_eq!(children(&*store, &done).await, 200);
        // The remote side saw each end (children's included) once.
        let mut seen = HashMap::new();
        while seen.len() < 400 {
            let e = tokio::time::timeout(Duration::from_secs(60), ended.recv())
                .await
                .expect("the remote service hears of every end")
                .unwrap();
            *seen.entry(e.id.clone()).or_insert(0) += 1;
        }
        assert!(seen.values().all(|n| *n == 1));
        assert_eq!(inbox.live_executors(LONG).await.unwrap().len(), 2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while inbox.depth().await.unwrap() != (0, 0) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "ended executions keep owners: {:?}",
                inbox.depth().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // A remote kill reaches the owner.
        let sleepy = stored(&*store, SLEEPY).await;
        let victim = execution_of(&sleepy);
        let victim_id = victim.id.clone();
        api.submit(sleepy.clone(), victim).await.unwrap();
        let killed = api.control(&victim_id, Control::Kill).await;
        assert!(killed.is_ok(), "{killed:?}");
        let victim = all_ended(&*store, std::slice::from_ref(&victim_id)).await;
        assert_eq!(victim[0].state.current(), StateType::Killed);
        let refused = api.control(&victim_id, Control::Kill).await;
        assert!(
            matches!(refused, Err(ControlError::WrongState(_))),
            "{refused:?}"
        );

        // One executor dies while both hold sleeping executions.
        let mut ids = Vec::new();
        for _ in 0..40 {
            let execution = execution_of(&sleepy);
            ids.push(execution.id.clone());
            api.submit(sleepy.clone(), execution).await.unwrap();
        }
        // Once every one sleeps, the executor holding most of them dies.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let running = |s: &Service<S>| s.stats().running.load(std::sync::atomic::Ordering::Relaxed);
        loop {
            let mut sleeping = 0;
            for id in &ids {
                let e = store.get_execution(id).await.unwrap();
                if e.is_some_and(|e| e.task_run_list.iter().any(|r| r.task_id == "nap")) {
                    sleeping += 1;
                }
            }
            if sleeping == ids.len() && running(&a) + running(&b) >= ids.len() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the executions should all be sleeping"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (a, b) = if running(&a) >= running(&b) {
            (a, b)
        } else {
            (b, a)
        };
        assert!(running(&a) > 0);
        a.abort();
        let done = all_ended(&*store, &ids).await;
        for execution in &done {
            processed_once(execution);
        }
        assert_eq!(children(&*store, &done).await, 40);
        b.shutdown().await;
        api.shutdown().await;
    }

    const LIMITED: &str = r#"
id: limited
namespace: cluster
concurrency:
  limit: 2
  behavior: QUEUE
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
"#;

    /// A flow of one long Sleep with a concurrency limit of 1 and `behavior`.
    fn single(behavior: &str) -> String {
        format!(
            "id: single-{}\nnamespace: cluster\nconcurrency:\n  limit: 1\n  behavior: \
             {behavior}\ntasks:\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    \
             duration: PT5M\n",
            behavior.to_lowercase()
        )
    }

    /// Waits (2 minutes at most) until the stored execution `id` satisfies `ready`.
    async fn wait_for<S: Store>(
        store: &S,
        id: &saker_core::ExecutionId,
        what: &str,
        ready: impl Fn(&saker_core::Execution) -> bool,
    ) -> saker_core::Execution {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let execution = store.get_execution(id).await.unwrap();
            if let Some(execution) = execution.as_ref().filter(|e| ready(e)) {
                return execution.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "execution {} never became {what}: {:?}",
                id.as_str(),
                execution.map(|e| e.state.current())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn in_state(state: StateType) -> impl Fn(&saker_core::Execution) -> bool {
        move |e| e.state.current() == state
    }

    fn states(execution: &saker_core::Execution) -> Vec<StateType> {
        execution
            .state
            .histories()
            .iter()
            .map(|h| h.state)
            .collect()
    }

    /// The most executions running at once, from their stored state histories: each runs from
    /// its first RUNNING to its end (an end and a start at the same instant do not overlap:
    /// the slot was freed first).
    fn most_running_at_once(executions: &[saker_core::Execution]) -> usize {
        let mut edges = Vec::new();
        for execution in executions {
            let histories = execution.state.histories();
            let start = histories.iter().find(|h| h.state == StateType::Running);
            let end = histories.iter().rev().find(|h| h.state.is_terminated());
            if let (Some(start), Some(end)) = (start, end) {
                edges.push((start.date, 1i32));
                edges.push((end.date, -1));
            }
        }
        edges.sort();
        let (mut now, mut most) = (0i32, 0i32);
        for (_, step) in edges {
            now += step;
            most = most.max(now);
        }
        usize::try_from(most).unwrap_or(0)
    }

    /// Waits until `flow` has a free slot (the end of an execution is saved before its slot
    /// is freed): a probe takes it and gives it back.
    async fn slot_free(inbox: &Arc<dyn ExecutorQueue>, flow: &saker_flow::Flow) {
        let slots = FlowSlots {
            namespace: &flow.namespace,
            flow_id: &flow.id,
            limit: flow.concurrency.as_ref().map_or(1, |c| c.limit),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while inbox
            .take_slot(slots, "probe", SlotMode::Refuse)
            .await
            .unwrap()
            != Slot::Running
        {
            assert!(tokio::time::Instant::now() < deadline, "no slot freed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(inbox.free_slot(slots, "probe").await.unwrap().is_empty());
    }

    /// Every execution of the limited flow succeeded, never more than 2 at once.
    fn succeeded_two_at_a_time(done: &[saker_core::Execution]) {
        for execution in done {
            assert_eq!(
                execution.state.current(),
                StateType::Success,
                "{execution:?}"
            );
        }
        assert_eq!(most_running_at_once(done), 2);
    }

    /// Waits (2 minutes at most) until every message left the inbox.
    async fn all_acknowledged(inbox: &Arc<dyn ExecutorQueue>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while inbox.depth().await.unwrap().0 != 0 {
            assert!(tokio::time::Instant::now() < deadline, "messages left");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn executor<S: Store>(
        rt: &Runtime<S>,
        inbox: &Arc<dyn ExecutorQueue>,
        lease: Duration,
    ) -> crate::service::Service<S> {
        let rt = rt
            .clone()
            .with_inbox(inbox.clone(), ExecutorInfo::this_process(), lease);
        crate::service::Service::start(rt).await.unwrap().0
    }

    /// Flow `concurrency` counted for the whole cluster. A flow limited to 2 (QUEUE) gets 45
    /// executions, submitted to two executors and through the inbox: all end SUCCESS and
    /// never more than 2 ran at once. CANCEL and FAIL refuse an execution on one executor
    /// while the other runs one; a forced run passes the limit, unqueue cancels, and a freed
    /// slot starts the queued execution of the other executor. Then an executor dies holding
    /// running and queued executions: the other finishes them all, still within the limit.
    pub async fn global_concurrency<S: Store>(rt: Runtime<S>, inbox: Arc<dyn ExecutorQueue>) {
        use crate::service::Service;
        let lease = Duration::from_secs(1);
        let a = executor(&rt, &inbox, lease).await;
        let b = executor(&rt, &inbox, lease).await;
        let api = Service::remote(rt.clone(), inbox.clone());
        let store = rt.store().clone();
        let limited = stored(&*store, LIMITED).await;
        let mut ids = Vec::new();
        for n in 0..45 {
            let execution = execution_of(&limited);
            ids.push(execution.id.clone());
            let via = [&a, &b, &api][n % 3];
            via.submit(limited.clone(), execution).await.unwrap();
        }
        let done = all_ended(&*store, &ids).await;
        succeeded_two_at_a_time(&done);
        let queued = done
            .iter()
            .filter(|e| states(e).contains(&StateType::Queued))
            .count();
        assert!(queued > 0, "the limit never queued anything");

        // CANCEL and FAIL: one runs on `a`, the next one, on `b`, ends at once.
        for (behavior, refused) in [
            ("CANCEL", StateType::Cancelled),
            ("FAIL", StateType::Failed),
        ] {
            let flow = stored(&*store, &single(behavior)).await;
            let first = execution_of(&flow);
            let first_id = first.id.clone();
            a.submit(flow.clone(), first).await.unwrap();
            wait_for(&*store, &first_id, "RUNNING", in_state(StateType::Running)).await;
            let second = execution_of(&flow);
            let second_id = second.id.clone();
            b.submit(flow.clone(), second).await.unwrap();
            let second = wait_for(&*store, &second_id, "ended", |e| e.state.is_terminated()).await;
            assert_eq!(states(&second), vec![StateType::Created, refused]);
            assert!(second.task_run_list.is_empty());
            api.control(&first_id, Control::Kill).await.unwrap();
            wait_for(&*store, &first_id, "KILLED", in_state(StateType::Killed)).await;
            // The slot is free again, for the other executor.
            slot_free(&inbox, &flow).await;
            let third = execution_of(&flow);
            let third_id = third.id.clone();
            b.submit(flow.clone(), third).await.unwrap();
            wait_for(&*store, &third_id, "RUNNING", in_state(StateType::Running)).await;
            api.control(&third_id, Control::Kill).await.unwrap();
            wait_for(&*store, &third_id, "KILLED", in_state(StateType::Killed)).await;
        }

        // QUEUE with force run and unqueue, across the executors.
        let flow = stored(&*store, &single("QUEUE")).await;
        let mut x = Vec::new();
        for via in [&a, &b, &b, &a] {
            let execution = execution_of(&flow);
            x.push(execution.id.clone());
            via.submit(flow.clone(), execution).await.unwrap();
            let first = x.len() == 1;
            let expected = if first {
                StateType::Running
            } else {
                StateType::Queued
            };
            wait_for(&*store, x.last().unwrap(), "admitted", in_state(expected)).await;
        }
        api.control(&x[1], Control::ForceRun).await.unwrap();
        wait_for(&*store, &x[1], "RUNNING", in_state(StateType::Running)).await;
        api.control(
            &x[3],
            Control::Unqueue {
                state: StateType::Cancelled,
            },
        )
        .await
        .unwrap();
        wait_for(&*store, &x[3], "CANCELLED", in_state(StateType::Cancelled)).await;
        // x0 ends: x1 (forced) still holds the only slot, x2 waits.
        api.control(&x[0], Control::Kill).await.unwrap();
        wait_for(&*store, &x[0], "KILLED", in_state(StateType::Killed)).await;
        // x1 (on `b`) ends: x2 (on `b`) gets the slot.
        api.control(&x[1], Control::Kill).await.unwrap();
        let x2 = wait_for(&*store, &x[2], "RUNNING", in_state(StateType::Running)).await;
        let x1 = wait_for(&*store, &x[1], "KILLED", in_state(StateType::Killed)).await;
        let x0 = store.get_execution(&x[0]).await.unwrap().unwrap();
        assert_eq!(
            states(&x2),
            vec![StateType::Created, StateType::Queued, StateType::Running]
        );
        let killed_at = |e: &saker_core::Execution| e.state.histories().last().unwrap().date;
        let started_at = x2.state.histories().last().unwrap().date;
        assert!(started_at >= killed_at(&x1) && started_at >= killed_at(&x0));
        api.control(&x[2], Control::Kill).await.unwrap();
        wait_for(&*store, &x[2], "KILLED", in_state(StateType::Killed)).await;

        // `a` dies holding running and queued executions of the limited flow.
        let slow = stored(&*store, &LIMITED.replace("PT0.2S", "PT2S")).await;
        let mut ids = Vec::new();
        for via in [&a, &a, &a, &a, &b, &b, &b, &b] {
            let execution = execution_of(&slow);
            ids.push(execution.id.clone());
            via.submit(slow.clone(), execution).await.unwrap();
        }
        for id in &ids {
            wait_for(&*store, id, "admitted", |e| {
                matches!(e.state.current(), StateType::Running | StateType::Queued)
            })
            .await;
        }
        a.abort();
        let done = all_ended(&*store, &ids).await;
        succeeded_two_at_a_time(&done);
        b.shutdown().await;
        api.shutdown().await;
    }

    const PAUSER: &str = r#"
id: pauser
namespace: cluster
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: done
"#;

    /// Controls survive the death of the executor that claimed them. Executor `a` holds a
    /// sleeping execution and two paused ones; it dies, and the kill and resumes posted to
    /// them are claimed in its name (or by its dying pump) and never applied. Once its lease
    /// ended, `b` applies them: the kill and the first resume once; the second resume was
    /// already applied by `a` before it died (its execution moved on to its next Pause
    /// since), so `b` does not apply it again.
    pub async fn controls_survive_a_take_over<S: Store>(
        rt: Runtime<S>,
        inbox: Arc<dyn ExecutorQueue>,
    ) {
        use crate::service::Service;
        // Long enough for the claim in the dead executor's name to come before its lease ends.
        let lease = Duration::from_secs(3);
        let a = executor(&rt, &inbox, lease).await;
        let b = executor(&rt, &inbox, lease).await;
        let api = Service::remote(rt.clone(), inbox.clone());
        let store = rt.store().clone();
        let sleeper = stored(&*store, &single("QUEUE").replace("single-queue", "sleeper")).await;
        let pauser = stored(&*store, PAUSER).await;
        let twice = stored(
            &*store,
            &PAUSER.replace("id: pauser", "id: twice").replace(
                "  - id: done",
                "  - id: again\n    type: io.kestra.plugin.core.flow.Pause\n  - id: done",
            ),
        )
        .await;
        let mut ids = Vec::new();
        for flow in [&sleeper, &pauser, &twice] {
            let execution = execution_of(flow);
            ids.push(execution.id.clone());
            a.submit(flow.clone(), execution).await.unwrap();
        }
        let (killed, resumed, stale) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
        wait_for(&*store, &killed, "sleeping", |e| {
            e.task_run_list
                .first()
                .is_some_and(|r| r.state.current() == StateType::Running)
        })
        .await;
        let paused = wait_for(&*store, &resumed, "PAUSED", in_state(StateType::Paused)).await;
        let seen = paused.state.histories().len();
        wait_for(&*store, &stale, "PAUSED", in_state(StateType::Paused)).await;
        // `a` applies a resume of `stale` (it pauses again at its second Pause)...
        let resume = || Control::Resume {
            task_run_id: None,
            inputs: serde_json::Map::new(),
        };
        api.control(&stale, resume()).await.unwrap();
        let again = wait_for(&*store, &stale, "paused again", |e| {
            e.state.current() == StateType::Paused
                && e.task_run_list
                    .iter()
                    .any(|r| r.task_id == "again" && r.state.current() == StateType::Paused)
        })
        .await;
        // ... acknowledges it (the answer came once the change was saved, before that) ...
        all_acknowledged(&inbox).await;
        // ... and dies; the same resume is in the inbox again as if it had not acknowledged it.
        a.abort();
        let control = |control: Control| InboxMessage::Control {
            control,
            seen: Some(seen),
        };
        inbox
            .post(vec![
                (killed.as_str().to_owned(), control(Control::Kill)),
                (resumed.as_str().to_owned(), control(resume())),
                (stale.as_str().to_owned(), control(resume())),
            ])
            .await
            .unwrap();
        let dead = a.runtime().executor_id().unwrap().to_owned();
        inbox.claim(&dead, 10, lease).await.unwrap();
        assert_eq!(
            inbox.depth().await.unwrap().0,
            3,
            "claimed messages stay until acknowledged"
        );
        let done = all_ended(&*store, &[killed.clone(), resumed.clone()]).await;
        assert_eq!(done[0].state.current(), StateType::Killed);
        assert_eq!(
            states(&done[1]),
            vec![
                StateType::Created,
                StateType::Running,
                StateType::Paused,
                StateType::Restarted,
                StateType::Running,
                StateType::Success
            ]
        );
        // Once `b` settled every message, the stale resume was not applied.
        all_acknowledged(&inbox).await;
        let still = store.get_execution(&stale).await.unwrap().unwrap();
        assert_eq!(states(&still), states(&again));
        api.control(&stale, resume()).await.unwrap();
        let ended = all_ended(&*store, std::slice::from_ref(&stale)).await;
        assert_eq!(ended[0].state.current(), StateType::Success);
        // Resumed twice in all: once per Pause.
        let restarts = states(&ended[0])
            .iter()
            .filter(|s| **s == StateType::Restarted)
            .count();
        assert_eq!(restarts, 2, "{:?}", states(&ended[0]));
        b.shutdown().await;
        api.shutdown().await;
    }

    /// An executor died between the commit of a parent whose Subflow run started and the save
    /// of the child: the parent is stored RUNNING with the child's id, and the dead executor
    /// still owns both ids, the child's with a lease ending later (owned after its last
    /// renewal). The executor that takes the parent over cannot own the child id at first; it
    /// looks again a lease later, meanwhile takes the child id over itself once its lease ends
    /// (and gives it back: it is not in the store), then owns it and starts the child with the
    /// recorded id: the parent ends SUCCESS with the child's outputs, each run once.
    pub async fn a_child_never_saved_is_started_after_a_take_over<S: Store>(
        rt: Runtime<S>,
        inbox: Arc<dyn ExecutorQueue>,
    ) {
        let store = rt.store().clone();
        stored(
            &*store,
            "id: doubler\nnamespace: cluster\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.n * 2 }}\"\noutputs:\n  - id: doubled\n    type: INT\n    value: \"{{ outputs.r.value }}\"\n",
        )
        .await;
        let parent = stored(
            &*store,
            "id: caller\nnamespace: cluster\ntasks:\n  - id: sub\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: cluster\n    flowId: doubler\n    inputs:\n      n: 21\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.sub.outputs.doubled }}\"\n",
        )
        .await;
        // The parent as the dead executor committed it, before acting on StartSubflow.
        let mut execution = execution_of(&parent);
        let actions = saker_engine::apply(
            &parent,
            &mut execution,
            saker_engine::Event::Created,
            crate::host::now(),
            &mut crate::host::RandomIds,
            &*rt.services,
        );
        let child_id = actions
            .iter()
            .find_map(|action| match action {
                saker_engine::Action::StartSubflow(start) => Some(start.execution_id.clone()),
                _ => None,
            })
            .expect("the Subflow run started");
        store
            .save_execution(&execution, &saker_storage::Changed::All)
            .await
            .unwrap();
        let dead = "dead-executor";
        let own = |id: &saker_core::ExecutionId, lease| {
            let inbox = inbox.clone();
            let id = id.as_str().to_owned();
            async move { inbox.own(dead, &[id], lease).await.unwrap() }
        };
        assert_eq!(
            own(&execution.id, Duration::from_millis(100)).await.len(),
            1
        );
        assert_eq!(own(&child_id, Duration::from_millis(1500)).await.len(), 1);

        let b = executor(&rt, &inbox, Duration::from_secs(1)).await;
        let done = all_ended(&*store, std::slice::from_ref(&execution.id)).await;
        processed_once(&done[0]);
        let child = store
            .get_execution(&child_id)
            .await
            .unwrap()
            .expect("the child was started with the recorded id");
        processed_once(&child);
        assert_eq!(child.inputs["n"], serde_json::json!(21));
        let value = done[0]
            .task_run_list
            .iter()
            .find(|r| r.task_id == "after")
            .and_then(|r| r.outputs.as_ref()?.get("value").cloned());
        assert_eq!(value, Some(serde_json::json!("42")));
        b.shutdown().await;
    }

    /// Expands the suite for a backend: `$make` is an async expression giving a fresh
    /// `Arc<dyn ExecutorQueue>`.
    #[macro_export]
    macro_rules! inbox_suite {
        ($make:expr) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_ownership() {
                $crate::inbox::suite::ownership($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_concurrent_claims() {
                $crate::inbox::suite::concurrent_claims($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_expired_leases() {
                $crate::inbox::suite::expired_leases($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_redelivery() {
                $crate::inbox::suite::redelivery($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_concurrency_slots() {
                $crate::inbox::suite::concurrency_slots($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_liveness() {
                $crate::inbox::suite::liveness($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn inbox_wake_ups_and_notes() {
                $crate::inbox::suite::wake_ups_and_notes($make).await;
            }
        };
    }
}

#[cfg(test)]
mod memory_tests {
    use std::sync::Arc;

    use super::{ExecutorQueue, MemoryInbox};

    async fn fresh() -> Arc<dyn ExecutorQueue> {
        Arc::new(MemoryInbox::new())
    }

    crate::inbox_suite!(fresh().await);
}

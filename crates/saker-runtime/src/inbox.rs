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
//!   whose owner's lease ended, wins their ownership, and deletes only the messages it won: two
//!   claimers never both own one execution, and one execution's messages are applied in order.
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
    /// Kill, pause, resume, restart, change a task run's state.
    Control { control: Control },
    /// A child execution of task run `task_run_id` ended on another executor: read it from
    /// the store and complete the Subflow run.
    #[serde(rename_all = "camelCase")]
    ChildEnded { task_run_id: String },
}

/// A claimed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub seq: i64,
    pub execution_id: String,
    pub message: InboxMessage,
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
    /// `lease`). Only messages whose ownership was won are taken.
    fn claim<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, QueueError>>;

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
    messages: BTreeMap<i64, (String, InboxMessage)>,
    owners: HashMap<String, (String, tokio::time::Instant)>,
    executors: HashMap<String, (ExecutorInfo, tokio::time::Instant)>,
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
}

impl ExecutorQueue for MemoryInbox {
    fn post(&self, messages: Vec<(String, InboxMessage)>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            {
                let mut inner = self.lock();
                for message in messages {
                    inner.next += 1;
                    let seq = inner.next;
                    inner.messages.insert(seq, message);
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
                .map(|(seq, (id, _))| (*seq, id.clone()))
                .collect();
            let mut won = Vec::new();
            for (seq, id) in candidates {
                if won.len() >= max {
                    break;
                }
                if inner.take(&id, executor, lease)
                    && let Some((execution_id, message)) = inner.messages.remove(&seq)
                {
                    won.push(Delivery {
                        seq,
                        execution_id,
                        message,
                    });
                }
            }
            Ok(won)
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
        }
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

//! The long-lived executor loop behind the server: the same [`Driver`] as [`Runtime::run`],
//! kept alive in its own tokio task.
//!
//! - Callers [`Service::submit`] executions and [`Service::control`] them (kill, pause, resume
//!   with inputs, restart) at any time; commands travel on the loop's channel, so they are
//!   ordered with the events of the execution and applied by the engine like any event.
//! - Every saved execution (once per turn of the loop) and every stored log line is broadcast
//!   ([`Service::updates`], [`Service::logs`]): `wait=true` and the SSE follow endpoints listen
//!   to them. Each change of an execution's state is broadcast once
//!   ([`Service::transitions`]): the Flow triggers listen to those.
//!   [`Service::ended`] reports each execution once when it terminates: the hook for flow
//!   triggers and the scheduler.
//! - An ended execution leaves the loop's memory once nothing of it is in flight; a command
//!   for an execution not in memory loads it from the store first.
//! - At start, [`Service::start`] resumes every unfinished execution of the store (see
//!   [`Driver::recover`]): delivery to workers is at-least-once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use saker_core::{Execution, ExecutionId, JsonMap, StateType, TaskRun, TaskRunId};
use saker_engine::{Event, TaskRunResult, Timer};
use saker_flow::{Flow, TaskKind};
use saker_storage::{Changed, LogEntry, Store};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Driver, Live, Msg, NewExecution, ParentLink, Runtime, RuntimeError};

/// How many updates a slow listener may fall behind before it is told it lagged (it then
/// re-reads the store).
const BROADCAST_CAPACITY: usize = 4096;

/// A request on an existing execution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Control {
    Kill,
    Pause,
    /// Resume one Pause task run (or every paused one) with typed `onResume` inputs.
    #[serde(rename_all = "camelCase")]
    Resume {
        task_run_id: Option<TaskRunId>,
        inputs: JsonMap,
    },
    Restart,
    /// Set a task run to a final state and restart the execution from there (terminated or
    /// paused executions; Kestra's `POST /executions/{id}/state`).
    #[serde(rename_all = "camelCase")]
    ChangeTaskRunState {
        task_run_id: TaskRunId,
        state: StateType,
    },
    /// Take a QUEUED execution out of its flow's concurrency queue now, into `RUNNING` (it
    /// starts whatever the limit), `CANCELLED` or `FAILED` (it ends without any task run);
    /// Kestra's `POST /executions/{id}/unqueue?state=`.
    Unqueue {
        state: StateType,
    },
    /// Kestra's force run: a QUEUED execution starts now, a PAUSED one resumes; any other
    /// unfinished execution is left as it is.
    ForceRun,
}

/// Why a [`Control`] was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("Execution {0} not found")]
    NotFound(String),
    /// A task run named by the request is not in the execution (HTTP 404).
    #[error("{0}")]
    TaskRunNotFound(String),
    /// The execution is not in a state that allows the request (HTTP 409).
    #[error("{0}")]
    WrongState(String),
    /// The request itself is invalid (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the executor loop has stopped")]
    Stopped,
}

/// What the service's loop receives from its callers.
pub(crate) enum Command {
    Submit(Submitted),
    Control {
        id: ExecutionId,
        control: Control,
        reply: oneshot::Sender<Result<Execution, ControlError>>,
    },
    /// Stop dispatching task runs; answer once no worker attempt is running.
    Drain(oneshot::Sender<()>),
    Shutdown,
}

/// A new execution a caller submitted; answered once it is stored.
pub(crate) struct Submitted {
    flow: Arc<Flow>,
    execution: Box<Execution>,
    reply: oneshot::Sender<Result<(), RuntimeError>>,
}

/// Gauges of the loop, refreshed after each loop turn (`/metrics`).
#[derive(Debug, Default)]
pub struct LoopStats {
    /// Worker attempts running.
    pub workers: AtomicUsize,
    /// Messages (worker results, timers, commands, log lines) waiting for the loop.
    pub backlog: AtomicUsize,
    /// Executions in memory that have not ended and are not waiting for a concurrency slot.
    pub running: AtomicUsize,
    /// Executions waiting for their flow's concurrency limit (QUEUED).
    pub queued: AtomicUsize,
}

/// What a loop turn changed in one execution: its header (no task runs) and the task runs it
/// added or changed, so a consumer that follows every change (metrics) costs what changed, not
/// the size of the execution.
#[derive(Debug)]
pub struct ExecutionDelta {
    /// The execution without its task runs ([`Execution::header`]).
    pub header: Execution,
    /// The task runs added or changed this turn, in list order.
    pub runs: Vec<TaskRun>,
}

/// The broadcasts of the service (held by the loop).
pub(crate) struct Hub {
    updates: broadcast::Sender<Arc<Execution>>,
    deltas: broadcast::Sender<Arc<ExecutionDelta>>,
    transitions: broadcast::Sender<Arc<Execution>>,
    logs: broadcast::Sender<Arc<LogEntry>>,
    ended: broadcast::Sender<Arc<Execution>>,
    pub(crate) stats: LoopStats,
}

impl Hub {
    fn new() -> Self {
        Hub {
            updates: broadcast::channel(BROADCAST_CAPACITY).0,
            deltas: broadcast::channel(BROADCAST_CAPACITY).0,
            transitions: broadcast::channel(BROADCAST_CAPACITY).0,
            logs: broadcast::channel(BROADCAST_CAPACITY).0,
            ended: broadcast::channel(BROADCAST_CAPACITY).0,
            stats: LoopStats::default(),
        }
    }

    /// Whether a copy of the execution is wanted for [`Hub::transition`]: the copy is only
    /// paid when someone listens.
    pub(crate) fn wants_transitions(&self) -> bool {
        self.transitions.receiver_count() > 0
    }

    /// An execution whose state changed (`state.current` differs from the one saved before),
    /// once per change, in order.
    pub(crate) fn transition(&self, execution: Arc<Execution>) {
        let _ = self.transitions.send(execution);
    }

    /// The execution as saved at the end of a turn (not after every event of the turn). The
    /// copy is only made when someone listens (a waiting request, a follower), so the hot path
    /// of a big execution costs no clone.
    pub(crate) fn update(&self, execution: &Execution) {
        if self.updates.receiver_count() > 0 {
            let _ = self.updates.send(Arc::new(execution.clone()));
        }
    }

    /// What a turn changed in `execution` (only built when someone listens).
    pub(crate) fn delta(&self, execution: &Execution, changed: &Changed) {
        if self.deltas.receiver_count() == 0 {
            return;
        }
        let runs = match changed {
            Changed::All => execution.task_run_list.clone(),
            // Changed runs are recent ones: search from the end.
            Changed::TaskRuns(ids) => ids
                .iter()
                .filter_map(|id| execution.task_run_list.iter().rev().find(|r| r.id == *id))
                .cloned()
                .collect(),
        };
        let _ = self.deltas.send(Arc::new(ExecutionDelta {
            header: execution.header(),
            runs,
        }));
    }

    /// A saved execution whose state changed from `before` (`None`: just created), saved
    /// whole (`Changed::All`) or with no task-run change.
    pub(crate) fn saved(
        &self,
        before: Option<StateType>,
        execution: &Execution,
        changed: &Changed,
    ) {
        if before != Some(execution.state.current()) && self.wants_transitions() {
            self.transition(Arc::new(execution.clone()));
        }
        self.update(execution);
        self.delta(execution, changed);
    }

    pub(crate) fn log(&self, entry: LogEntry) {
        if self.logs.receiver_count() > 0 {
            let _ = self.logs.send(Arc::new(entry));
        }
    }

    pub(crate) fn deltas_receiver(&self) -> broadcast::Receiver<Arc<ExecutionDelta>> {
        self.deltas.subscribe()
    }

    pub(crate) fn logs_receiver(&self) -> broadcast::Receiver<Arc<LogEntry>> {
        self.logs.subscribe()
    }

    /// Whether anyone listens to saved executions (updates, transitions or ends).
    pub(crate) fn has_execution_listeners(&self) -> bool {
        self.updates.receiver_count() > 0
            || self.transitions.receiver_count() > 0
            || self.ended.receiver_count() > 0
    }

    pub(crate) fn ended(&self, execution: &Execution) {
        if self.ended.receiver_count() > 0 {
            let _ = self.ended.send(Arc::new(execution.clone()));
        }
    }
}

/// The running service: a handle on the loop.
pub struct Service<S: Store> {
    pub(crate) runtime: Runtime<S>,
    tx: mpsc::UnboundedSender<Msg>,
    pub(crate) hub: Arc<Hub>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Remote mode ([`Service::remote`]): no loop here, requests go to the executors' inbox.
    pub(crate) remote: Option<Arc<dyn crate::inbox::ExecutorQueue>>,
}

impl<S: Store> Service<S> {
    /// Starts the loop after resuming the store's unfinished executions; returns the service
    /// and how many executions were resumed.
    pub async fn start(runtime: Runtime<S>) -> Result<(Self, usize), RuntimeError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub::new());
        let mut driver = Driver::new(runtime.clone(), tx.clone(), rx, Some(hub.clone()));
        // An executor among several only resumes what it takes over (its inbox's reaper).
        let recovered = match &runtime.inbox {
            None => driver.recover().await?,
            Some(_) => 0,
        };
        let owner = runtime.inbox.as_ref().map(|m| m.info.id.clone());
        if let Some(queue) = runtime.queue.clone() {
            tokio::spawn(crate::queue::pump_reports(queue, tx.clone(), owner));
        }
        if let Some(membership) = runtime.inbox.clone() {
            crate::cluster::start_executor(membership, tx.clone(), &hub).await?;
        }
        let task = tokio::spawn(async move {
            // A store failure on one event must not stop the server: report it and go on with
            // the next message (the failed event's execution is resumed at the next start).
            loop {
                match driver.run().await {
                    Ok(()) => return,
                    Err(error) => eprintln!("error: executor loop: {error}"),
                }
            }
        });
        let service = Service {
            runtime,
            tx,
            hub,
            task: std::sync::Mutex::new(Some(task)),
            remote: None,
        };
        Ok((service, recovered))
    }

    pub fn runtime(&self) -> &Runtime<S> {
        &self.runtime
    }

    /// The executors' inbox, when several executor processes share the database (this
    /// service is one of them, or a remote one).
    pub fn inbox(&self) -> Option<&Arc<dyn crate::inbox::ExecutorQueue>> {
        self.remote
            .as_ref()
            .or_else(|| self.runtime.inbox.as_ref().map(|m| &m.queue))
    }

    /// Starts `execution` (state CREATED, inputs typed) of `flow`: returns once it is stored.
    pub async fn submit(&self, flow: Arc<Flow>, execution: Execution) -> Result<(), ControlError> {
        if let Some(inbox) = &self.remote {
            return crate::cluster::submit_remote(&self.runtime, inbox, execution).await;
        }
        let (reply, answer) = oneshot::channel();
        let command = Command::Submit(Submitted {
            flow,
            execution: Box::new(execution),
            reply,
        });
        self.tx
            .send(Msg::Command(command))
            .map_err(|_| ControlError::Stopped)?;
        Ok(answer.await.map_err(|_| ControlError::Stopped)??)
    }

    /// Applies `control` to execution `id`; returns the execution right after.
    pub async fn control(
        &self,
        id: &ExecutionId,
        control: Control,
    ) -> Result<Execution, ControlError> {
        if self.remote.is_some() {
            return crate::cluster::control_remote(self, id, control).await;
        }
        let (reply, answer) = oneshot::channel();
        let command = Command::Control {
            id: id.clone(),
            control,
            reply,
        };
        self.tx
            .send(Msg::Command(command))
            .map_err(|_| ControlError::Stopped)?;
        answer.await.map_err(|_| ControlError::Stopped)?
    }

    /// Every execution as saved at the end of each turn of the loop, from now on (a turn may
    /// apply several events: intermediate states are not all seen; use
    /// [`Service::transitions`] for those).
    pub fn updates(&self) -> broadcast::Receiver<Arc<Execution>> {
        self.hub.updates.subscribe()
    }

    /// What each loop turn changed in each execution (header and changed task runs), from now
    /// on: for consumers that follow every change of big executions cheaply (metrics).
    pub fn deltas(&self) -> broadcast::Receiver<Arc<ExecutionDelta>> {
        self.hub.deltas.subscribe()
    }

    /// Every state change of an execution, exactly once and in order, from now on (its
    /// creation included): the hook for Flow triggers. Only changes of `state.current` are
    /// sent, so an execution saved many times in one state is reported once.
    pub fn transitions(&self) -> broadcast::Receiver<Arc<Execution>> {
        self.hub.transitions.subscribe()
    }

    /// Every log line as stored, from now on.
    pub fn logs(&self) -> broadcast::Receiver<Arc<LogEntry>> {
        self.hub.logs.subscribe()
    }

    /// Each execution once, when it terminates (flow triggers, the scheduler).
    pub fn ended(&self) -> broadcast::Receiver<Arc<Execution>> {
        self.hub.ended.subscribe()
    }

    /// The loop's gauges.
    pub fn stats(&self) -> &LoopStats {
        &self.hub.stats
    }

    /// Graceful stop, first half: no task run is dispatched any more (those the engine starts
    /// from now on stay CREATED in the store and are dispatched at the next start); waits up to
    /// `grace` for the running worker attempts to finish and their results to be saved.
    /// Returns whether they all finished in time. Call [`Service::shutdown`] after.
    pub async fn drain(&self, grace: Duration) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Msg::Command(Command::Drain(reply))).is_err() {
            return true;
        }
        matches!(tokio::time::timeout(grace, answer).await, Ok(Ok(())))
    }

    /// Stops the loop (running attempts are abandoned; their executions stay unfinished in the
    /// store and are resumed at the next start).
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Msg::Command(Command::Shutdown));
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            if self.remote.is_some() {
                // The notes listener never ends by itself.
                task.abort();
            }
            let _ = task.await;
        }
        if let Some(membership) = &self.runtime.inbox {
            // Others take over what is left at once instead of after the lease.
            if let Err(error) = membership.queue.executor_gone(&membership.info.id).await {
                eprintln!("warning: leaving the executors: {error}");
            }
        }
    }

    /// Stops the loop at once, as if the process died: nothing is drained or released (an
    /// executor's executions are taken over by the others once its lease ends).
    pub fn abort(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
        }
    }

    /// A service without a loop (the webserver and scheduler components): submissions and
    /// controls are posted to the executors' `inbox` after checks against the store, and the
    /// broadcasts are rebuilt from the executors' notes by re-reading the store
    /// (see [`crate::cluster`]).
    pub fn remote(runtime: Runtime<S>, inbox: Arc<dyn crate::inbox::ExecutorQueue>) -> Self {
        // No loop reads this channel: a drain finds nothing to wait for.
        let (tx, _) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub::new());
        let task = tokio::spawn(crate::cluster::feed_remote(
            inbox.clone(),
            runtime.store.clone(),
            hub.clone(),
        ));
        Service {
            runtime,
            tx,
            hub,
            task: std::sync::Mutex::new(Some(task)),
            remote: Some(inbox),
        }
    }
}

/// The event `control` asks of `execution`, or why its state refuses it (Kestra's messages);
/// `true`: the execution will end again (its end must be handled again). `None`: no engine
/// event (an unqueue, a force-run of a QUEUED execution: the loop's concurrency queue; a
/// force-run of a running execution: nothing to do).
pub(crate) fn control_event(
    execution: &Execution,
    control: Control,
) -> Result<Option<(Event, bool)>, ControlError> {
    let state = execution.state.current();
    let mut again = false;
    let event = match control {
        Control::Unqueue { state: target } => {
            crate::concurrency::check_unqueue(state, target)?;
            return Ok(None);
        }
        Control::ForceRun => match state {
            StateType::Paused => Event::ResumeRequested {
                task_run_id: None,
                inputs: JsonMap::new(),
            },
            s if s.is_terminated() => {
                return Err(ControlError::WrongState(format!(
                    "Cannot force run execution: only non-terminated executions can be force \
                     run (state {s})"
                )));
            }
            _ => return Ok(None),
        },
        Control::Kill => {
            if state.is_terminated() {
                return Err(ControlError::WrongState(format!(
                    "Execution is already finished, can't kill it (state {state})"
                )));
            }
            Event::KillRequested
        }
        Control::Pause => {
            if state != StateType::Running && state != StateType::Created {
                return Err(ControlError::Invalid(format!(
                    "The execution is not running (state {state})"
                )));
            }
            Event::PauseRequested
        }
        Control::Resume {
            task_run_id,
            inputs,
        } => {
            if state != StateType::Paused {
                return Err(ControlError::WrongState(format!(
                    "Execution is not paused, can't resume it (state {state})"
                )));
            }
            Event::ResumeRequested {
                task_run_id,
                inputs,
            }
        }
        Control::Restart => {
            if !state.is_terminated() && state != StateType::Paused {
                return Err(ControlError::WrongState(format!(
                    "Execution must be terminated or paused to be restarted (state {state})"
                )));
            }
            // It will end again: `ended` must run again then.
            again = true;
            Event::RestartRequested
        }
        Control::ChangeTaskRunState { task_run_id, state } => {
            saker_engine::check_change_state(execution, task_run_id.as_str(), state).map_err(
                |e| match e {
                    saker_engine::ReplayError::UnknownTaskRun(_) => {
                        ControlError::TaskRunNotFound(e.to_string())
                    }
                    saker_engine::ReplayError::WrongState(m) => ControlError::WrongState(m),
                    saker_engine::ReplayError::Invalid(m) => ControlError::Invalid(m),
                },
            )?;
            // It will end again: `ended` must run again then.
            again = true;
            Event::TaskRunStateChanged { task_run_id, state }
        }
    };
    Ok(Some((event, again)))
}

/// Kestra answers a restart with the execution in RESTARTED, before the executor moves it on;
/// the engine did both in one step, so show the state at that point.
pub(crate) fn as_restarted(execution: &mut Execution) {
    let histories = execution.state.histories();
    if let Some(at) = histories
        .iter()
        .rposition(|h| h.state == StateType::Restarted)
        && let Ok(state) =
            saker_core::State::from_histories(StateType::Restarted, histories[..=at].to_vec())
    {
        execution.state = state;
    }
}

/// The parent task run of a child execution, from the child's `trigger` (Subflow, ForEachItem).
pub(crate) fn parent_of(execution: &Execution) -> Option<(ExecutionId, TaskRunId)> {
    let variables = execution.trigger.as_ref()?.variables.as_ref()?;
    let parent = variables.get("executionId")?.as_str()?;
    let run = variables.get("taskRunId")?.as_str()?;
    Some((ExecutionId::new(parent), TaskRunId::new(run)))
}

impl<S: Store> Driver<S> {
    /// Handles a caller's command; `false` stops the loop.
    pub(crate) async fn command(&mut self, command: Command) -> Result<bool, RuntimeError> {
        match command {
            // Stored with the others of this turn (`start_submitted`).
            Command::Submit(submitted) => self.submitted.push(submitted),
            Command::Control { id, control, reply } => {
                let result = self.apply_control(&id, control).await;
                let _ = reply.send(result);
            }
            Command::Drain(reply) => {
                self.draining = Some(reply);
                self.drained();
            }
            Command::Shutdown => return Ok(false),
        }
        Ok(true)
    }

    /// Stores the executions submitted during the last turn in one commit, answers their
    /// callers, then starts them: nothing is answered or acted on before the commit, and a
    /// failed commit fails every submit of the batch (none of them was stored).
    pub(crate) async fn start_submitted(&mut self) -> Result<(), RuntimeError> {
        if self.submitted.is_empty() {
            return Ok(());
        }
        let (new, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut self.submitted)
            .into_iter()
            .map(|s| {
                let new = NewExecution {
                    flow: s.flow,
                    execution: *s.execution,
                    parent: None,
                };
                (new, s.reply)
            })
            .unzip();
        // An executor owns what it is handed directly, as what it claims.
        if let Some(membership) = &self.rt.inbox {
            let ids: Vec<String> = new
                .iter()
                .map(|n| n.execution.id.as_str().to_owned())
                .collect();
            if let Err(error) = membership
                .queue
                .own(&membership.info.id, &ids, membership.lease)
                .await
            {
                let error = RuntimeError::from(error);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
                return Ok(());
            }
        }
        let stored = self.store_new(new).await;
        for reply in replies {
            let _ = reply.send(stored.as_ref().map(|_| ()).map_err(Clone::clone));
        }
        match stored {
            Ok(stored) => self.begin(stored).await,
            Err(_) => Ok(()),
        }
    }

    /// Answers a drain request once no worker attempt runs.
    pub(crate) fn drained(&mut self) {
        if self.workers.is_empty()
            && let Some(reply) = self.draining.take()
        {
            let _ = reply.send(());
            // Still draining: nothing may be dispatched until the loop stops.
            self.draining_done = true;
        }
    }

    /// Whether no task run may be dispatched (the server is stopping).
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.is_some() || self.draining_done
    }

    /// Refreshes the gauges of the service.
    pub(crate) fn refresh_stats(&self) {
        let Some(hub) = &self.hub else {
            return;
        };
        let stats = &hub.stats;
        stats.workers.store(self.workers.len(), Ordering::Relaxed);
        stats.backlog.store(self.rx.len(), Ordering::Relaxed);
        let queued: usize = self.queued.values().map(VecDeque::len).sum();
        stats.queued.store(queued, Ordering::Relaxed);
        let running = self
            .lives
            .values()
            .filter(|live| !live.ended && live.execution.state.current() != StateType::Queued)
            .count();
        stats.running.store(running, Ordering::Relaxed);
    }

    pub(crate) async fn apply_control(
        &mut self,
        id: &ExecutionId,
        control: Control,
    ) -> Result<Execution, ControlError> {
        if !self.lives.contains_key(id) {
            let found = self.rt.store.get_execution(id).await;
            let Some(execution) = found.map_err(RuntimeError::from)? else {
                return Err(ControlError::NotFound(id.as_str().to_owned()));
            };
            let flow = self
                .load_flow(
                    &execution.namespace,
                    &execution.flow_id,
                    Some(execution.flow_revision),
                )
                .await
                .map_err(ControlError::Invalid)?;
            self.insert_live(flow, execution);
        }
        let Some(live) = self.lives.get_mut(id) else {
            return Err(ControlError::NotFound(id.as_str().to_owned()));
        };
        // Leaving the concurrency queue is the loop's business, not the engine's.
        match (&control, live.execution.state.current()) {
            (Control::Unqueue { state: target }, _) => return self.unqueue(id, *target).await,
            (Control::ForceRun, StateType::Queued) => {
                return self.unqueue(id, StateType::Running).await;
            }
            _ => {}
        }
        let Some((event, again)) = control_event(&live.execution, control)? else {
            return Ok(live.execution.clone());
        };
        if again {
            live.ended = false;
            // Running again: it counts against its flow's limit until it ends again.
            self.hold_slot(id).await?;
        }
        let restart = matches!(event, Event::RestartRequested);
        // Through the same batch path as every event (pending is empty between turns).
        self.pending.push_back((id.clone(), event));
        self.handle_pending().await?;
        let mut execution = self.live_execution(id)?;
        if restart {
            as_restarted(&mut execution);
        }
        Ok(execution)
    }

    /// The execution as the loop holds it now.
    fn live_execution(&self, id: &ExecutionId) -> Result<Execution, ControlError> {
        self.lives
            .get(id)
            .map(|live| live.execution.clone())
            .ok_or_else(|| ControlError::NotFound(id.as_str().to_owned()))
    }

    /// Inserts an execution loaded from the store (already saved), linked to its parent task
    /// run when the parent is in memory and still waits for it.
    pub(crate) fn insert_live(&mut self, flow: Arc<Flow>, execution: Execution) {
        let parent = parent_of(&execution).and_then(|(parent_id, task_run_id)| {
            let parent = self.lives.get(&parent_id)?;
            let run = parent.execution.find_task_run(task_run_id.as_str())?;
            (!run.state.is_terminated()).then_some(ParentLink {
                execution_id: parent_id,
                task_run_id,
                wait: true,
                outputs_uri: None,
            })
        });
        let ended = execution.state.is_terminated();
        self.lives.insert(
            execution.id.clone(),
            Live {
                flow,
                execution,
                parent,
                timers: Vec::new(),
                ended,
            },
        );
    }

    /// Drops ended executions that have nothing in flight any more (no timer, no task run
    /// still running, such as an `afterExecution` task).
    pub(crate) fn evict_ended(&mut self) {
        let evicted: Vec<ExecutionId> = self
            .lives
            .iter()
            .filter(|(_, live)| {
                live.ended
                    && live.timers.is_empty()
                    && live
                        .execution
                        .task_run_list
                        .iter()
                        .all(|run| run.state.is_terminated())
            })
            .map(|(id, _)| id.clone())
            .collect();
        if evicted.is_empty() {
            return;
        }
        let mut error_logs = self.error_logs.lock().unwrap_or_else(|e| e.into_inner());
        for id in &evicted {
            self.lives.remove(id);
            error_logs.remove(id.as_str());
        }
        drop(error_logs);
        self.release(evicted);
    }

    /// Resumes every unfinished execution of the store: loads them with their flow revision,
    /// re-links children to their waiting parents, then re-dispatches runnable task runs that
    /// were CREATED or RUNNING (at-least-once), re-arms timers (schedule dates, Pause
    /// durations here; retries and LoopUntil intervals by the engine's [`Event::Recovered`],
    /// at the instants derived from the stored attempts and child runs),
    /// reports children that ended while nobody listened, and finishes kills in progress.
    pub(crate) async fn recover(&mut self) -> Result<usize, RuntimeError> {
        let executions = self.rt.store.unfinished_executions().await?;
        self.resume_loaded(executions).await
    }

    /// Takes `executions` (as loaded from the store) into memory and resumes the unfinished
    /// ones as [`Driver::recover`] describes: the start of a loop, or an executor taking over
    /// the executions of another whose lease ended. Returns how many were taken.
    pub(crate) async fn resume_loaded(
        &mut self,
        executions: Vec<Execution>,
    ) -> Result<usize, RuntimeError> {
        let mut ids = Vec::new();
        for execution in executions {
            let flow = self
                .load_flow(
                    &execution.namespace,
                    &execution.flow_id,
                    Some(execution.flow_revision),
                )
                .await;
            match flow {
                Ok(flow) => {
                    ids.push(execution.id.clone());
                    self.insert_live(flow, execution);
                }
                Err(message) => {
                    eprintln!(
                        "warning: cannot resume execution {}: {message}",
                        execution.id.as_str()
                    );
                }
            }
        }
        // Parents first in the list or not, every execution is in memory now: link children
        // (those just loaded, and those already here whose parent just arrived).
        let orphans: Vec<ExecutionId> = self
            .lives
            .iter()
            .filter(|(_, live)| live.parent.is_none() && !live.ended)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &orphans {
            let Some(child) = self.lives.get(id) else {
                continue;
            };
            let Some((parent_id, task_run_id)) = parent_of(&child.execution) else {
                continue;
            };
            let waiting = self.lives.get(&parent_id).is_some_and(|parent| {
                parent
                    .execution
                    .find_task_run(task_run_id.as_str())
                    .is_some_and(|run| !run.state.is_terminated())
            });
            if waiting && let Some(child) = self.lives.get_mut(id) {
                child.parent = Some(ParentLink {
                    execution_id: parent_id,
                    task_run_id,
                    wait: true,
                    outputs_uri: None,
                });
            }
        }
        if self.rt.inbox.is_some() {
            self.reclaim_slots(&ids).await?;
        }
        ids.retain(|id| self.lives.get(id).is_some_and(|live| !live.ended));
        for id in &ids {
            self.resume_one(id).await?;
        }
        // Queued executions wait again, oldest first (the store lists them so); start those
        // the limits allow now.
        let mut flows = Vec::new();
        for id in &ids {
            let Some(live) = self.lives.get(id) else {
                continue;
            };
            if live.execution.state.current() == StateType::Queued {
                let execution = live.execution.clone();
                self.enqueue(&execution);
                flows.push((execution.namespace, execution.flow_id));
            }
        }
        flows.dedup();
        for (namespace, flow_id) in flows {
            self.dequeue(&namespace, &flow_id).await?;
        }
        Ok(ids.len())
    }

    pub(crate) async fn resume_one(&mut self, id: &ExecutionId) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get(id) else {
            return Ok(());
        };
        let state = live.execution.state.current();
        if state == StateType::Created && live.execution.task_run_list.is_empty() {
            // Never started (or waiting for its schedule date): start it again.
            self.pending.push_back((id.clone(), Event::Created));
            return Ok(());
        }
        let flow = live.flow.clone();
        let runs: Vec<_> = live
            .execution
            .task_run_list
            .iter()
            .filter(|run| !run.state.is_terminated() || run.state.current() == StateType::Paused)
            .cloned()
            .collect();
        let killing = state == StateType::Killing;
        let mut rearm = false;
        for run in runs {
            let Some(task) = flow.find_task(&run.task_id) else {
                continue;
            };
            let run_state = run.state.current();
            match (task.kind, run_state) {
                (TaskKind::Runnable | TaskKind::WorkingDirectory, StateType::Created)
                | (TaskKind::Runnable | TaskKind::WorkingDirectory, StateType::Running) => {
                    if killing {
                        let result = TaskRunResult::ended(run.id.clone(), StateType::Killed, None);
                        self.pending
                            .push_back((id.clone(), Event::TaskRunResult(result)));
                    } else {
                        self.dispatch(id, run.id.clone(), run.task_id.clone());
                    }
                }
                (TaskKind::Executable, StateType::Running) => {
                    self.recover_child(id, &run).await?;
                }
                // The engine re-arms it at its due instant (from the stored attempts).
                (_, StateType::Retrying) => rearm = true,
                (TaskKind::Flowable, StateType::Paused) => {
                    if let Some((at, to)) = self.pause_due(id, &run) {
                        let timer = Timer::PauseDue {
                            task_run_id: run.id.clone(),
                            to,
                        };
                        self.arm_timer(id, at, timer);
                    }
                }
                // The pass re-arms its next iteration at the last child's end plus the interval.
                (TaskKind::Flowable, StateType::Running)
                    if task.canonical == "io.kestra.plugin.core.flow.LoopUntil" =>
                {
                    rearm = true;
                }
                _ => {}
            }
        }
        if rearm && !killing {
            self.pending.push_back((id.clone(), Event::Recovered));
        }
        Ok(())
    }

    /// A Subflow run waiting for its child: nothing to do when the child is in memory (it was
    /// linked), else report the child's end, or start it when it was never saved.
    ///
    /// ForEachItem's `_items` runs record no child ids (only counts), so nothing here finds
    /// their children: one never saved, or one that ended while its parent was not told, is
    /// not recovered yet.
    pub(crate) async fn recover_child(
        &mut self,
        id: &ExecutionId,
        run: &saker_core::TaskRun,
    ) -> Result<(), RuntimeError> {
        let Some(child_id) = run
            .outputs
            .as_ref()
            .and_then(|o| o.get("executionId"))
            .and_then(serde_json::Value::as_str)
            .map(ExecutionId::new)
        else {
            return Ok(());
        };
        if self.lives.contains_key(&child_id) {
            return Ok(());
        }
        match self.rt.store.get_execution(&child_id).await? {
            Some(child) if child.state.is_terminated() => {
                self.child_ended_in_store(id, &run.id, child);
                Ok(())
            }
            Some(_) => Ok(()),
            None => self.start_child_again(id, run, child_id).await,
        }
    }

    /// Reports the end of a stored child to its parent's Subflow run.
    fn child_ended_in_store(
        &mut self,
        id: &ExecutionId,
        task_run_id: &TaskRunId,
        child: Execution,
    ) {
        let event = Event::SubflowEnded {
            task_run_id: task_run_id.clone(),
            execution_id: child.id,
            state: child.state.current(),
            outputs: child.outputs,
        };
        self.pending.push_back((id.clone(), event));
    }

    /// The parent was saved with its Subflow run RUNNING but the child never was: the process
    /// (or the executor) that committed the parent died before acting on the change. The child
    /// is started now with the id the parent recorded, from the same rendered request
    /// (at-least-once, as a task run dispatched again).
    ///
    /// In executor mode the child id is owned first: the dead executor may still hold it (it
    /// owns a child before saving it), until its lease ends; another executor may have taken
    /// it over with the dead one's other executions and not released it yet. Both let it go
    /// soon, so the parent looks again a lease later, through its own inbox (whoever owns the
    /// parent then). A live creator that still saves the child reports its end the same way.
    async fn start_child_again(
        &mut self,
        id: &ExecutionId,
        run: &TaskRun,
        child_id: ExecutionId,
    ) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get_mut(id) else {
            return Ok(());
        };
        let killing = live.execution.state.current() == StateType::Killing;
        let start = if killing {
            Err("its execution is being killed".to_owned())
        } else {
            self.executor.subflow_start(
                &live.flow,
                &mut live.execution,
                &run.id,
                crate::host::now(),
                &mut self.ids,
                &*self.rt.services,
            )
        };
        let start = match start {
            Ok(start) => start,
            Err(reason) => {
                let message = format!(
                    "The subflow execution {} was never created and is not started again: {reason}",
                    child_id.as_str()
                );
                if let Some(entry) =
                    self.executor_log(id, saker_engine::LogLevel::Warn, Some(&run.id), message)
                {
                    self.log(entry).await?;
                }
                let state = if killing {
                    StateType::Killed
                } else {
                    StateType::Failed
                };
                let event = Event::SubflowEnded {
                    task_run_id: run.id.clone(),
                    execution_id: child_id,
                    state,
                    outputs: JsonMap::new(),
                };
                self.pending.push_back((id.clone(), event));
                return Ok(());
            }
        };
        if let Some(membership) = self.rt.inbox.clone() {
            let owned = membership
                .queue
                .own(
                    &membership.info.id,
                    &[child_id.as_str().to_owned()],
                    membership.lease,
                )
                .await?;
            if owned.is_empty() {
                self.look_for_child_later(id, &run.id);
                return Ok(());
            }
            // Saved by its creator between the read above and this executor owning it.
            if let Some(child) = self.rt.store.get_execution(&child_id).await? {
                if child.state.is_terminated() {
                    self.child_ended_in_store(id, &run.id, child);
                } else {
                    // Boxed: adopting resumes executions, which may come back here.
                    Box::pin(self.adopt(vec![child_id])).await?;
                }
                return Ok(());
            }
        }
        let message = format!(
            "The subflow execution {} was never saved (its executor stopped after saving this \
             task run): starting it now",
            child_id.as_str()
        );
        if let Some(entry) =
            self.executor_log(id, saker_engine::LogLevel::Warn, Some(&run.id), message)
        {
            self.log(entry).await?;
        }
        self.start_subflow(id, start).await
    }

    /// When a PAUSED Pause run with a duration (or timeout) is due, and into which state: its
    /// pause date plus the rendered duration.
    fn pause_due(
        &self,
        id: &ExecutionId,
        run: &saker_core::TaskRun,
    ) -> Option<(saker_core::Instant, StateType)> {
        let live = self.lives.get(id)?;
        let task = live.flow.find_task(&run.task_id)?;
        let duration = ["pauseDuration", "delay"]
            .iter()
            .find_map(|name| task.params.get(*name).and_then(serde_json::Value::as_str));
        let (text, to) = match (duration, &task.common.timeout) {
            (Some(text), _) => {
                let behavior = task
                    .params
                    .get("behavior")
                    .and_then(serde_json::Value::as_str);
                let to = match behavior {
                    Some("WARN") => StateType::Warning,
                    Some("FAIL") => StateType::Failed,
                    Some("CANCEL") => StateType::Cancelled,
                    _ => StateType::Running,
                };
                (text.to_owned(), to)
            }
            (None, Some(timeout)) => (
                timeout.clone(),
                StateType::fail(task.common.allow_failure, task.common.allow_warning),
            ),
            (None, None) => return None,
        };
        let services = &*self.rt.services;
        let ctx = saker_engine::render_context(
            &live.flow,
            &live.execution,
            Some(task),
            Some(run),
            services,
        );
        let rendered = self.rt.engine.render(&text, &ctx, services).ok()?;
        let delay = saker_core::parse_duration(&rendered).ok()?;
        let paused = run
            .state
            .histories()
            .iter()
            .rev()
            .find(|h| h.state == StateType::Paused)?
            .date;
        Some((paused + delay, to))
    }
}

#[cfg(test)]
mod tests;

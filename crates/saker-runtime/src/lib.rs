//! saker-runtime: the runtime around the pure executor. The only crate that reads the wall clock
//! and spawns tokio tasks.
//!
//! One executor loop serves an execution and everything it starts (subflows, replays): it
//! receives [`Msg`]s on a channel, applies the engine, saves the execution to the [`Store`]
//! (committed before acting, architecture invariant 2), then performs the actions:
//!
//! - `Dispatch` → a worker tokio task ([`worker`]) that reports RUNNING, then the final result;
//! - `ArmTimer` → a tokio sleep (an upsert keyed by the timer, generation-checked on delivery);
//! - `StartSubflow` → the child flow loaded from the store, a child execution run by this loop,
//!   `SubflowEnded` sent to the parent when it ends;
//! - `CreateReplay` → a new execution of the same flow; `Log` → the log store and the observer;
//!   `KillTaskRun` → the worker's cancellation token or the child execution's kill.
//!
//! Nothing polls: the loop sleeps on the channel. [`Runtime::run`] (`saker flow test`) stops
//! when nothing is in flight (no worker, no timer, no queued message): every execution ended,
//! or a flow left PAUSED with no timer ends the run in PAUSED. The same loop, kept alive, is
//! the server's [`service::Service`]: executions are submitted and controlled at any time,
//! ended ones leave its memory, and it resumes unfinished executions at start.
//!
//! Code map: [`host`] (clock, ids, secrets, envs, expression services), [`worker`] (one
//! attempt), [`inputs`] (execution inputs), [`service`] (the long-lived loop, its commands,
//! broadcasts and recovery).

mod cluster;
mod concurrency;
mod for_each_item;
pub mod host;
pub mod inbox;
pub mod inputs;
pub mod queue;
pub mod service;
mod worker;
mod working_dir;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use saker_core::{Execution, ExecutionId, FlowRef, JsonMap, StateType, TaskRunId};
use saker_engine::{
    Action, Event, Executor, LogLevel, RunChanges, StartSubflow, Timer, render_context,
    worker_context,
};
use saker_expr::Engine;
use saker_flow::Flow;
use saker_storage::{Changed, FileStore, LogEntry, Store, StoreLogSource};
use saker_task::{KvStore, Level, RunServices, TaskRunInfo};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::host::{HostServices, RandomIds, Secrets, SystemClock, mask};

pub use host::envs_from_vars;
pub use worker::{DEFAULT_MAX_OUTPUT_SIZE, parse_size};

/// Runtime failures (the execution itself failing is not one: it ends FAILED).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] saker_storage::Error),
    /// The executors' inbox (ownership of executions) failed.
    #[error(transparent)]
    Queue(#[from] queue::QueueError),
}

/// Receives every log line as it is stored (the CLI prints them).
pub trait LogObserver: Send + Sync {
    fn log(&self, entry: &LogEntry);
}

/// What the loop receives.
pub(crate) enum Msg {
    Event(ExecutionId, Event),
    /// A timer of `generation` is due; stale generations (re-armed timers) are ignored.
    Timer(ExecutionId, Timer, u64),
    Log(LogEntry),
    /// Metrics of a task run, to store.
    Metrics(Vec<saker_storage::MetricEntry>),
    /// A request of the service's callers (submit, kill, resume...).
    Command(service::Command),
    /// Executor mode: claimed inbox messages, ownership heartbeats and take-overs.
    Inbox(cluster::InboxMsg),
    /// A dispatched task run the loop runs itself ([`Driver::run_inline`]), queued behind the
    /// messages already waiting so a long chain of them does not starve the others.
    Inline(ExecutionId, TaskRunId, String),
}

impl Msg {
    /// Whether the message may join a turn of the loop (see [`Driver::run`]).
    fn joins_turn(&self) -> bool {
        matches!(
            self,
            Msg::Event(..)
                | Msg::Timer(..)
                | Msg::Inline(..)
                | Msg::Log(_)
                | Msg::Metrics(_)
                | Msg::Command(service::Command::Submit(_))
        )
    }
}

/// Shared configuration: stores and host services.
pub struct Runtime<S: Store> {
    store: Arc<S>,
    files: Arc<dyn FileStore>,
    kv: Arc<dyn KvStore>,
    services: Arc<HostServices>,
    engine: Arc<Engine>,
    observer: Option<Arc<dyn LogObserver>>,
    masks: Arc<Vec<String>>,
    max_subflow_depth: usize,
    max_output_size: usize,
    /// Legacy templates for the flows this runtime loads; `None`: templates disabled.
    templates: Option<Arc<Vec<saker_flow::template::Template>>>,
    /// Where runnable attempts go; `None`: this process runs them itself.
    queue: Option<Arc<dyn queue::JobQueue>>,
    /// Executor mode: the executions this loop runs come from the executors' inbox.
    inbox: Option<Arc<cluster::Membership>>,
}

impl<S: Store> Clone for Runtime<S> {
    fn clone(&self) -> Self {
        Runtime {
            store: self.store.clone(),
            files: self.files.clone(),
            kv: self.kv.clone(),
            services: self.services.clone(),
            engine: self.engine.clone(),
            observer: self.observer.clone(),
            masks: self.masks.clone(),
            max_subflow_depth: self.max_subflow_depth,
            max_output_size: self.max_output_size,
            templates: self.templates.clone(),
            queue: self.queue.clone(),
            inbox: self.inbox.clone(),
        }
    }
}

/// At most this many inline attempts ([`saker_task::RunnableTask::INLINE`]) are run before one
/// commit: a chain of them (a ForEach of Returns) is committed in steps of this size, and the
/// messages waiting in the channel (commands, other executions) are taken between two steps.
const INLINE_STEPS_PER_COMMIT: usize = 64;

/// How deep child executions (Subflow, ForEachItem) may nest by default: a flow calling itself
/// at run time (directly or A→B→A) would otherwise never end.
pub const DEFAULT_MAX_SUBFLOW_DEPTH: usize = 25;

impl<S: Store> Runtime<S> {
    pub fn new(store: Arc<S>, files: Arc<dyn FileStore>, kv: Arc<dyn KvStore>) -> Self {
        let services = Arc::new(HostServices {
            secrets: Secrets::default(),
            envs: JsonMap::new(),
            globals: JsonMap::new(),
            kv: kv.clone(),
            files: files.clone(),
            encryption_key: None,
        });
        Runtime {
            store,
            files,
            kv,
            services,
            engine: Arc::new(Engine::new()),
            observer: None,
            masks: Arc::new(Vec::new()),
            max_subflow_depth: DEFAULT_MAX_SUBFLOW_DEPTH,
            max_output_size: worker::DEFAULT_MAX_OUTPUT_SIZE,
            templates: None,
            queue: None,
            inbox: None,
        }
    }

    /// Runnable attempts go to `queue` (claimed by `saker server worker` processes or
    /// [`queue::run_worker`]) instead of running in this process. WorkingDirectory blocks still
    /// run here: their children share one directory.
    #[must_use]
    pub fn with_queue(mut self, queue: Arc<dyn queue::JobQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The job queue, when attempts run on workers.
    pub fn queue(&self) -> Option<&Arc<dyn queue::JobQueue>> {
        self.queue.as_ref()
    }

    /// The services of a worker attempt.
    pub(crate) fn run_services(&self) -> RunServices {
        RunServices {
            engine: self.engine.clone(),
            expr: self.services.clone(),
            kv: self.kv.clone(),
            storage: self.files.clone(),
            logs: Some(Arc::new(StoreLogSource(self.store.clone()))),
            purger: Some(Arc::new(saker_storage::StorePurger {
                store: self.store.clone(),
                files: self.files.clone(),
            })),
            // Replaced by the worker's own sink (it needs the task run's identity).
            log_sink: Arc::new(saker_task::log::MemoryLogSink::new()),
            clock: Arc::new(SystemClock),
        }
    }

    /// Secrets for `secret()` (their values are masked in every log line).
    #[must_use]
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.masks = Arc::new(secrets.values_for_masking());
        self.services = Arc::new(HostServices {
            secrets,
            ..(*self.services).clone()
        });
        self
    }

    /// The `envs` variable.
    #[must_use]
    pub fn with_envs(mut self, envs: JsonMap) -> Self {
        self.services = Arc::new(HostServices {
            envs,
            ..(*self.services).clone()
        });
        self
    }

    /// The `globals` variable (Kestra's `kestra.variables.globals`).
    #[must_use]
    pub fn with_globals(mut self, globals: JsonMap) -> Self {
        self.services = Arc::new(HostServices {
            globals,
            ..(*self.services).clone()
        });
        self
    }

    /// The AES key (base64, 16 or 32 bytes) SECRET inputs and outputs are encrypted with:
    /// Kestra's `kestra.encryption.secret-key`. Without one they are rejected.
    #[must_use]
    pub fn with_encryption_key(mut self, key: String) -> Self {
        self.services = Arc::new(HostServices {
            encryption_key: Some(key),
            ..(*self.services).clone()
        });
        self
    }

    /// The deepest chain of child executions allowed (the root execution is depth 0); a child
    /// beyond it is not created and its parent task run fails.
    #[must_use]
    pub fn with_max_subflow_depth(mut self, depth: usize) -> Self {
        self.max_subflow_depth = depth;
        self
    }

    /// Task-run outputs over `bytes` (as JSON) are moved to internal storage, each moved value
    /// replaced by its `kestra://` URI (0: no limit). Default [`DEFAULT_MAX_OUTPUT_SIZE`].
    #[must_use]
    pub fn with_max_output_size(mut self, bytes: usize) -> Self {
        self.max_output_size = bytes;
        self
    }

    /// Enables legacy templates: Template tasks of the flows loaded from the store (subflows)
    /// include these (`saker_flow::template::expand_templates`).
    #[must_use]
    pub fn with_templates(mut self, templates: Vec<saker_flow::template::Template>) -> Self {
        self.templates = Some(Arc::new(templates));
        self
    }

    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn LogObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The legacy templates; `None`: templates are disabled.
    pub fn templates(&self) -> Option<&[saker_flow::template::Template]> {
        self.templates.as_deref().map(|t| &t[..])
    }

    /// Internal storage.
    pub fn files(&self) -> &Arc<dyn FileStore> {
        &self.files
    }

    /// The namespace KV store.
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.kv
    }

    /// The expression engine and this runtime's services (the API's `eval`).
    pub fn expressions(&self) -> (&Arc<Engine>, &Arc<HostServices>) {
        (&self.engine, &self.services)
    }

    /// Stores (and shows the observer) an execution-level log line of `execution`, such as a
    /// warning about the flow found before it runs; secrets are masked.
    pub async fn log_execution(
        &self,
        execution: &Execution,
        level: Level,
        message: String,
    ) -> Result<(), RuntimeError> {
        let entry = LogEntry {
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            task_id: None,
            execution_id: execution.id.as_str().to_owned(),
            task_run_id: None,
            attempt_number: None,
            timestamp: host::now(),
            level,
            thread: "executor".to_owned(),
            message: mask(message, &self.masks),
        };
        self.store.append_logs(std::slice::from_ref(&entry)).await?;
        if let Some(observer) = &self.observer {
            observer.log(&entry);
        }
        Ok(())
    }

    /// Types `flow`'s execution inputs from raw values with this runtime's services
    /// (Kestra's message for the first rejected input).
    pub fn resolve_inputs(
        &self,
        flow: &Flow,
        raw: &[(String, inputs::Raw)],
    ) -> Result<JsonMap, String> {
        inputs::resolve(flow, raw, &self.engine, &*self.services)
    }

    /// Types the `onResume` inputs of the Pause task `pause` of `flow`.
    pub fn resolve_pause_inputs(
        &self,
        flow: &Flow,
        pause: &saker_flow::Task,
        raw: &[(String, inputs::Raw)],
    ) -> Result<JsonMap, String> {
        inputs::resolve_pause(flow, pause, raw, &self.engine, &*self.services)
    }

    /// Runs `execution` (state CREATED, inputs resolved) of `flow` and everything it starts,
    /// and returns it as it ended (or as it stays, e.g. PAUSED with nothing left to wait for).
    pub async fn run(
        &self,
        flow: Arc<Flow>,
        execution: Execution,
    ) -> Result<Execution, RuntimeError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let root = execution.id.clone();
        let mut driver = Driver::new(self.clone(), tx, rx, None);
        driver.start(flow, execution, None).await?;
        driver.run().await?;
        let live = driver.lives.remove(&root);
        match live {
            Some(live) => Ok(live.execution),
            None => unreachable_root(&root),
        }
    }
}

/// The root is inserted by `start` and never removed before the end of `run`.
fn unreachable_root(root: &ExecutionId) -> Result<Execution, RuntimeError> {
    Err(RuntimeError::Store(saker_storage::Error::NotFound(
        format!("execution {}", root.as_str()),
    )))
}

/// The parent task run waiting for a child execution.
struct ParentLink {
    execution_id: ExecutionId,
    task_run_id: TaskRunId,
    wait: bool,
    /// Where the child's flow outputs go when it ends (ForEachItem).
    outputs_uri: Option<String>,
}

/// An execution to store and start ([`Driver::store_new`]).
pub(crate) struct NewExecution {
    flow: Arc<Flow>,
    execution: Execution,
    parent: Option<ParentLink>,
}

/// An execution this loop runs.
pub(crate) struct Live {
    flow: Arc<Flow>,
    execution: Execution,
    parent: Option<ParentLink>,
    timers: Vec<(Timer, u64, AbortHandle)>,
    ended: bool,
}

/// The executor loop: the state of one [`Runtime::run`], or of the long-lived
/// [`service::Service`] when it has a `hub`.
pub(crate) struct Driver<S: Store> {
    rt: Runtime<S>,
    /// The service's broadcasts; `None` for a [`Runtime::run`], which also stops when idle.
    hub: Option<Arc<service::Hub>>,
    tx: UnboundedSender<Msg>,
    rx: UnboundedReceiver<Msg>,
    lives: HashMap<ExecutionId, Live>,
    /// Running worker attempts, removed when their final result is handled.
    workers: HashMap<TaskRunId, CancellationToken>,
    /// Events produced by the loop itself, handled before the channel.
    pending: VecDeque<(ExecutionId, Event)>,
    executor: Executor,
    ids: RandomIds,
    flows: HashMap<(String, String, Option<u32>), Arc<Flow>>,
    timer_generation: u64,
    /// Executions waiting for their flow's concurrency limit, oldest first, by flow.
    queued: HashMap<(String, String), VecDeque<ExecutionId>>,
    /// ERROR log lines per execution id, as `errorLogs()` returns them (shared with the attempts
    /// dispatched since; a new line makes a new list).
    error_logs: std::sync::Mutex<HashMap<String, Arc<Vec<serde_json::Value>>>>,
    /// A command (other than a submit) taken from the channel while batching a turn, handled
    /// once the messages before it are.
    held: Option<Msg>,
    /// A graceful stop waits for the running attempts: no dispatch any more.
    draining: Option<tokio::sync::oneshot::Sender<()>>,
    draining_done: bool,
    /// Executions submitted during this turn, stored together at the start of the next one.
    submitted: Vec<service::Submitted>,
    /// Log lines and metrics the workers sent during this turn, stored the same way.
    turn_logs: Vec<LogEntry>,
    turn_metrics: Vec<saker_storage::MetricEntry>,
}

impl<S: Store> Driver<S> {
    pub(crate) fn new(
        rt: Runtime<S>,
        tx: UnboundedSender<Msg>,
        rx: UnboundedReceiver<Msg>,
        hub: Option<Arc<service::Hub>>,
    ) -> Self {
        Driver {
            rt,
            hub,
            tx,
            rx,
            lives: HashMap::new(),
            workers: HashMap::new(),
            pending: VecDeque::new(),
            executor: Executor::new(),
            ids: RandomIds,
            flows: HashMap::new(),
            timer_generation: 0,
            queued: HashMap::new(),
            error_logs: std::sync::Mutex::default(),
            held: None,
            draining: None,
            draining_done: false,
            submitted: Vec::new(),
            turn_logs: Vec::new(),
            turn_metrics: Vec::new(),
        }
    }

    async fn start(
        &mut self,
        flow: Arc<Flow>,
        execution: Execution,
        parent: Option<ParentLink>,
    ) -> Result<(), RuntimeError> {
        let new = NewExecution {
            flow,
            execution,
            parent,
        };
        let stored = self.store_new(vec![new]).await?;
        self.begin(stored).await
    }

    /// Admits new executions in order and saves them in one commit. Each is in memory from its
    /// admission on, so the next admission of the batch counts it against the flow's
    /// concurrency limit; when the save fails, none stays in memory (nothing was stored).
    async fn store_new(
        &mut self,
        new: Vec<NewExecution>,
    ) -> Result<Vec<(ExecutionId, concurrency::Admission)>, RuntimeError> {
        let mut admitted = Vec::with_capacity(new.len());
        // Slots taken in executor mode, given back when the batch is not stored.
        let mut slotted: Vec<(Arc<Flow>, ExecutionId)> = Vec::new();
        for NewExecution {
            flow,
            mut execution,
            parent,
        } in new
        {
            let admission = match self.admit(&flow, &mut execution).await {
                Ok(admission) => admission,
                Err(error) => {
                    for (id, _) in &admitted {
                        self.lives.remove(id);
                    }
                    self.forget_slots(&slotted).await;
                    return Err(error);
                }
            };
            if flow.concurrency.is_some() && self.rt.inbox.is_some() {
                slotted.push((flow.clone(), execution.id.clone()));
            }
            let id = execution.id.clone();
            let live = Live {
                flow,
                execution,
                parent,
                timers: Vec::new(),
                ended: false,
            };
            self.lives.insert(id.clone(), live);
            admitted.push((id, admission));
        }
        let all = Changed::All;
        let items: Vec<(&Execution, &Changed)> = admitted
            .iter()
            .filter_map(|(id, _)| Some((&self.lives.get(id)?.execution, &all)))
            .collect();
        if let Err(error) = self.rt.store.save_executions(&items).await {
            for (id, _) in &admitted {
                self.lives.remove(id);
            }
            self.forget_slots(&slotted).await;
            return Err(error.into());
        }
        Ok(admitted)
    }

    /// After the commit of [`Driver::store_new`]: broadcasts each new execution, then starts,
    /// queues or ends it as admitted.
    async fn begin(
        &mut self,
        stored: Vec<(ExecutionId, concurrency::Admission)>,
    ) -> Result<(), RuntimeError> {
        for (id, admission) in stored {
            let Some(live) = self.lives.get(&id) else {
                continue;
            };
            if let Some(hub) = &self.hub {
                hub.saved(None, &live.execution, &Changed::All);
            }
            match admission {
                concurrency::Admission::Start => self.pending.push_back((id, Event::Created)),
                concurrency::Admission::Queued => {
                    let execution = live.execution.header();
                    self.enqueue(&execution);
                }
                concurrency::Admission::Refused(state) => self.ended(&id, state).await?,
            }
        }
        Ok(())
    }

    fn in_flight(&self) -> bool {
        !self.workers.is_empty() || self.lives.values().any(|live| !live.timers.is_empty())
    }

    async fn run(&mut self) -> Result<(), RuntimeError> {
        loop {
            self.store_turn_logs().await?;
            self.start_submitted().await?;
            self.handle_pending().await?;
            if let Some(msg) = self.held.take() {
                if !self.accept(msg).await? {
                    return Ok(());
                }
                continue;
            }
            if self.hub.is_some() {
                self.evict_ended();
                self.drained();
                self.refresh_stats();
            } else if !self.in_flight() && self.rx.is_empty() {
                // Nothing can ever arrive: every execution ended (afterExecution tasks run after
                // the end, so an ended execution may still have workers) or waits for a human.
                return Ok(());
            }
            let Some(msg) = self.rx.recv().await else {
                return Ok(());
            };
            if !self.accept(msg).await? {
                return Ok(());
            }
            // Every event, submitted execution, log line and metric already waiting joins
            // this turn, so their saves share a commit per kind. Another command waits for the
            // messages before it (the order is kept).
            while let Ok(msg) = self.rx.try_recv() {
                if msg.joins_turn() {
                    self.accept(msg).await?;
                } else {
                    self.held = Some(msg);
                    break;
                }
            }
        }
    }

    /// Takes one message from the channel; `false` when the loop must stop.
    async fn accept(&mut self, msg: Msg) -> Result<bool, RuntimeError> {
        match msg {
            Msg::Event(id, event) => {
                if let Event::TaskRunResult(result) = &event
                    && result.state != StateType::Running
                {
                    self.workers.remove(&result.task_run_id);
                }
                if let Event::WorkerTaskRuns(report) = &event
                    && report.released.is_some()
                {
                    self.workers.remove(&report.task_run_id);
                }
                self.pending.push_back((id, event));
            }
            Msg::Timer(id, timer, generation) => {
                let Some(live) = self.lives.get_mut(&id) else {
                    return Ok(true);
                };
                let due = live
                    .timers
                    .iter()
                    .position(|(t, g, _)| *t == timer && *g == generation);
                if let Some(index) = due {
                    live.timers.swap_remove(index);
                    self.pending.push_back((id, Event::TimerFired(timer)));
                }
            }
            // Stored together at the start of the next turn (`store_turn_logs`).
            Msg::Log(entry) => self.turn_logs.push(entry),
            Msg::Metrics(entries) => self.turn_metrics.extend(entries),
            Msg::Command(command) => {
                if !self.command(command).await? {
                    return Ok(false);
                }
            }
            Msg::Inbox(message) => self.inbox_message(message).await?,
            Msg::Inline(id, task_run_id, task_id) => {
                match self.run_inline(&id, &task_run_id, &task_id).await {
                    Some(events) => self
                        .pending
                        .extend(events.into_iter().map(|event| (id.clone(), event))),
                    // Things changed since (a drain began): the usual dispatch decides.
                    None => self.dispatch_attempt(&id, task_run_id, &task_id),
                }
            }
        }
        Ok(true)
    }

    /// Applies every pending event, saves the executions they changed in one batch, then
    /// performs their actions in order: nothing is acted on before it is committed.
    async fn handle_pending(&mut self) -> Result<(), RuntimeError> {
        while !self.pending.is_empty() {
            let mut batch: VecDeque<(ExecutionId, Event)> = self.pending.drain(..).collect();
            let mut inline_left = INLINE_STEPS_PER_COMMIT;
            let mut order: Vec<ExecutionId> = Vec::new();
            let mut changes: HashMap<ExecutionId, Changed> = HashMap::new();
            let mut actions: Vec<(ExecutionId, Action)> = Vec::new();
            // Each change of state, not only the last of the batch, is broadcast (triggers see
            // them all); a copy is made only for those, and only when someone listens.
            let mut transitions: Vec<Arc<Execution>> = Vec::new();
            let wants = self.hub.as_ref().is_some_and(|hub| hub.wants_transitions());
            while let Some((id, event)) = batch.pop_front() {
                let Some(live) = self.lives.get_mut(&id) else {
                    continue;
                };
                let before = live.execution.state.current();
                let applied = self.executor.apply_tracked(
                    &live.flow,
                    &mut live.execution,
                    event,
                    host::now(),
                    &mut self.ids,
                    &*self.rt.services,
                );
                let changed = match applied.changed {
                    RunChanges::All => Changed::All,
                    RunChanges::Runs(ids) => Changed::TaskRuns(ids),
                };
                match changes.get_mut(&id) {
                    None => {
                        order.push(id.clone());
                        changes.insert(id.clone(), changed);
                    }
                    Some(merged) => merge_changed(merged, changed),
                }
                if wants && live.execution.state.current() != before {
                    transitions.push(Arc::new(live.execution.clone()));
                }
                for action in applied.actions {
                    // A task the loop runs itself is run now and its results applied in this
                    // batch: a chain of them shares one commit (at most INLINE_STEPS_PER_COMMIT
                    // attempts; the next ones go through the channel after the commit).
                    if inline_left > 0
                        && let Action::Dispatch {
                            task_run_id,
                            task_id,
                        } = &action
                        && let Some(events) = self.run_inline(&id, task_run_id, task_id).await
                    {
                        inline_left -= 1;
                        batch.extend(events.into_iter().map(|event| (id.clone(), event)));
                        continue;
                    }
                    actions.push((id.clone(), action));
                }
            }
            // The inline attempts' log lines and metrics, stored before the state ending them.
            self.store_turn_logs().await?;
            let items: Vec<(&Execution, &Changed)> = order
                .iter()
                .filter_map(|id| Some((&self.lives.get(id)?.execution, changes.get(id)?)))
                .collect();
            if !items.is_empty() {
                self.rt.store.save_executions(&items).await?;
            }
            if let Some(hub) = &self.hub {
                for transition in transitions {
                    hub.transition(transition);
                }
                for id in &order {
                    if let Some(live) = self.lives.get(id) {
                        hub.update(&live.execution);
                        if let Some(changed) = changes.get(id) {
                            hub.delta(&live.execution, changed);
                        }
                    }
                }
            }
            for (id, action) in actions {
                self.perform(&id, action).await?;
            }
        }
        Ok(())
    }

    async fn log(&self, entry: LogEntry) -> Result<(), RuntimeError> {
        self.store_logs(vec![entry]).await
    }

    /// Stores log lines in one commit (in order), then shows and broadcasts them.
    async fn store_logs(&self, entries: Vec<LogEntry>) -> Result<(), RuntimeError> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries.iter().filter(|e| e.level == Level::Error) {
            if let Ok(line) = serde_json::to_value(entry) {
                let mut logs = self.error_logs.lock().unwrap_or_else(|e| e.into_inner());
                let list = logs.entry(entry.execution_id.clone()).or_default();
                Arc::make_mut(list).push(line);
            }
        }
        self.rt.store.append_logs(&entries).await?;
        for entry in entries {
            if let Some(observer) = &self.rt.observer {
                observer.log(&entry);
            }
            if let Some(hub) = &self.hub {
                hub.log(entry);
            }
        }
        Ok(())
    }

    /// Stores the log lines and metrics the workers sent during the last turn, each kind in
    /// one commit, before the turn's events are applied: a task's lines and metrics are stored
    /// before its end is (they are sent before it), and an ERROR line is in `errorLogs()` for
    /// the tasks the turn dispatches.
    async fn store_turn_logs(&mut self) -> Result<(), RuntimeError> {
        let metrics = std::mem::take(&mut self.turn_metrics);
        if !metrics.is_empty()
            && let Err(error) = self.rt.store.append_metrics(&metrics).await
        {
            // Metrics are not worth stopping the loop for (a store may not keep them): each
            // task run that lost some says so in its log.
            let mut runs: Vec<&saker_storage::MetricEntry> = Vec::new();
            for entry in &metrics {
                if !runs.iter().any(|r| r.task_run_id == entry.task_run_id) {
                    runs.push(entry);
                }
            }
            self.turn_logs
                .extend(runs.into_iter().map(|first| LogEntry {
                    namespace: first.namespace.clone(),
                    flow_id: first.flow_id.clone(),
                    task_id: Some(first.task_id.clone()),
                    execution_id: first.execution_id.clone(),
                    task_run_id: Some(first.task_run_id.clone()),
                    attempt_number: None,
                    timestamp: host::now(),
                    level: Level::Warn,
                    thread: "executor".to_owned(),
                    message: format!("The metrics of this task run were not stored: {error}"),
                }));
        }
        let logs = std::mem::take(&mut self.turn_logs);
        self.store_logs(logs).await
    }

    async fn perform(&mut self, id: &ExecutionId, action: Action) -> Result<(), RuntimeError> {
        match action {
            Action::Dispatch {
                task_run_id,
                task_id,
            } => self.dispatch(id, task_run_id, task_id),
            Action::StartSubflow(start) => self.start_subflow(id, *start).await?,
            Action::ArmTimer { at, timer } => self.arm_timer(id, at, timer),
            Action::Log {
                level,
                task_run_id,
                message,
            } => {
                let entry = self.executor_log(id, level, task_run_id.as_ref(), message);
                if let Some(entry) = entry {
                    self.log(entry).await?;
                }
            }
            Action::KillTaskRun { task_run_id } => {
                if let Some(cancel) = self.workers.get(&task_run_id) {
                    cancel.cancel();
                    // A queued attempt runs elsewhere: the kill travels through the queue.
                    if let Some(queue) = self.rt.queue.clone() {
                        let task_run_id = task_run_id.as_str().to_owned();
                        tokio::spawn(async move {
                            if let Err(error) = queue.kill(&task_run_id).await {
                                eprintln!("error: killing task run {task_run_id}: {error}");
                            }
                        });
                    }
                }
                let children: Vec<ExecutionId> = self
                    .lives
                    .iter()
                    .filter(|(_, live)| {
                        !live.ended
                            && live.parent.as_ref().is_some_and(|p| {
                                p.execution_id == *id && p.task_run_id == task_run_id
                            })
                    })
                    .map(|(child, _)| child.clone())
                    .collect();
                for child in children {
                    self.pending.push_back((child, Event::KillRequested));
                }
                self.kill_child_elsewhere(id, &task_run_id);
            }
            Action::CreateReplay { at } => self.create_replay(id, at).await?,
            Action::Ended { state } => self.ended(id, state).await?,
        }
        Ok(())
    }

    fn executor_log(
        &self,
        id: &ExecutionId,
        level: LogLevel,
        task_run_id: Option<&TaskRunId>,
        message: String,
    ) -> Option<LogEntry> {
        let live = self.lives.get(id)?;
        let run = task_run_id.and_then(|r| live.execution.find_task_run(r.as_str()));
        let level = match level {
            LogLevel::Trace => Level::Trace,
            LogLevel::Debug => Level::Debug,
            LogLevel::Info => Level::Info,
            LogLevel::Warn => Level::Warn,
            LogLevel::Error => Level::Error,
        };
        Some(LogEntry {
            namespace: live.execution.namespace.clone(),
            flow_id: live.execution.flow_id.clone(),
            task_id: run.map(|r| r.task_id.clone()),
            execution_id: id.as_str().to_owned(),
            task_run_id: task_run_id.map(|r| r.as_str().to_owned()),
            attempt_number: run.map(|r| r.attempts.len().max(1) as u32),
            timestamp: host::now(),
            level,
            thread: "executor".to_owned(),
            message: mask(message, &self.rt.masks),
        })
    }

    /// Starts an attempt of a dispatched task run: a task the loop runs itself goes through the
    /// channel ([`Msg::Inline`]), any other to a worker.
    fn dispatch(&mut self, id: &ExecutionId, task_run_id: TaskRunId, task_id: String) {
        if self.inline_task(id, &task_id).is_some() {
            let _ = self.tx.send(Msg::Inline(id.clone(), task_run_id, task_id));
        } else {
            self.dispatch_attempt(id, task_run_id, &task_id);
        }
    }

    /// The task `task_id` of execution `id` when the loop runs it itself: an inline task
    /// ([`saker_task::RunnableTask::INLINE`]), when attempts run in this process (not on queue
    /// workers, which may be configured differently) and no drain is under way.
    fn inline_task(&self, id: &ExecutionId, task_id: &str) -> Option<&saker_flow::Task> {
        if self.is_draining() || self.rt.queue.is_some() {
            return None;
        }
        let task = self.lives.get(id)?.flow.find_task(task_id)?;
        let inline = task.kind == saker_flow::TaskKind::Runnable
            && saker_task::Registry::global()
                .runnable(task.canonical)
                .is_some_and(|runnable| runnable.inline());
        inline.then_some(task)
    }

    /// Runs one attempt of an inline task here and returns the events reporting it (RUNNING,
    /// then its end), as a worker would send them; its log lines and metrics join the turn's,
    /// stored before those events are. `None` when the task is not run inline.
    async fn run_inline(
        &mut self,
        id: &ExecutionId,
        task_run_id: &TaskRunId,
        task_id: &str,
    ) -> Option<Vec<Event>> {
        let task = self.inline_task(id, task_id)?;
        let live = self.lives.get(id)?;
        let run = live
            .execution
            .task_run_list
            .iter()
            .rev()
            .find(|r| r.id == *task_run_id)?;
        let running =
            Event::TaskRunResult(saker_engine::TaskRunResult::running(task_run_id.clone()));
        if run.state.is_terminated() {
            // Ended while it waited in the channel (a kill): nothing to run.
            return Some(Vec::new());
        }
        let killed = matches!(
            live.execution.state.current(),
            StateType::Killing | StateType::Killed
        );
        if killed && run.force_execution != Some(true) {
            // Killed before it ran (the engine asked for it with `KillTaskRun`, which finds no
            // worker to cancel): reported like a worker's cancelled attempt.
            let killed =
                saker_engine::TaskRunResult::ended(task_run_id.clone(), StateType::Killed, None);
            return Some(vec![running, Event::TaskRunResult(killed)]);
        }
        let (job, services, masks) = self.local_attempt(id, &live.flow, &live.execution, task, run);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (state, outputs) = worker::attempt(
            job,
            id,
            services,
            masks,
            CancellationToken::new(),
            &tx,
            None,
        )
        .await;
        drop(tx);
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Msg::Log(entry) => self.turn_logs.push(entry),
                Msg::Metrics(entries) => self.turn_metrics.extend(entries),
                _ => {}
            }
        }
        Some(vec![
            running,
            Event::TaskRunResult(saker_engine::TaskRunResult::ended(
                task_run_id.clone(),
                state,
                outputs,
            )),
        ])
    }

    fn dispatch_attempt(&mut self, id: &ExecutionId, task_run_id: TaskRunId, task_id: &str) {
        if self.is_draining() {
            // Stopping: the run stays unfinished in the store and is dispatched at next start.
            return;
        }
        let Some(live) = self.lives.get(id) else {
            return;
        };
        let flow = &live.flow;
        let execution = &live.execution;
        // Dispatched runs are recent: search from the end.
        let run = execution
            .task_run_list
            .iter()
            .rev()
            .find(|r| r.id == task_run_id);
        let (Some(run), Some(task)) = (run, flow.find_task(task_id)) else {
            // The engine only dispatches task runs of its own flow; answer anyway so the
            // execution cannot hang on a run nobody works on.
            let result = saker_engine::TaskRunResult::ended(task_run_id, StateType::Failed, None);
            self.pending
                .push_back((id.clone(), Event::TaskRunResult(result)));
            return;
        };
        if task.kind == saker_flow::TaskKind::WorkingDirectory {
            let block = working_dir::Block {
                flow: flow.clone(),
                execution: execution.clone(),
                task_run_id: task_run_id.clone(),
                services: self.run_services(),
                host: self.rt.services.clone(),
                secrets: self.rt.masks.clone(),
                max_output_size: self.rt.max_output_size,
            };
            let cancel = CancellationToken::new();
            self.workers.insert(task_run_id, cancel.clone());
            tokio::spawn(working_dir::run(block, cancel, self.tx.clone()));
            return;
        }
        if let Some(queue) = self.rt.queue.clone() {
            let error_logs = self.error_logs_of(id);
            let job = self.job(id, flow, execution, task, run);
            let cancel =
                self.dispatch_to_queue(queue, id, flow, execution, job, error_logs.as_ref());
            self.workers.insert(task_run_id, cancel);
            return;
        }
        let (job, services, masks) = self.local_attempt(id, flow, execution, task, run);
        let cancel = CancellationToken::new();
        self.workers.insert(task_run_id, cancel.clone());
        tokio::spawn(worker::run(
            job,
            id.clone(),
            services,
            masks,
            cancel,
            self.tx.clone(),
        ));
    }

    /// The ERROR lines `errorLogs()` returns to the attempts of execution `id`.
    fn error_logs_of(&self, id: &ExecutionId) -> Option<Arc<Vec<serde_json::Value>>> {
        self.error_logs
            .lock()
            .ok()
            .and_then(|l| l.get(id.as_str()).cloned())
    }

    /// The job of one attempt of `run`.
    fn job(
        &self,
        id: &ExecutionId,
        flow: &Flow,
        execution: &Execution,
        task: &saker_flow::Task,
        run: &saker_core::TaskRun,
    ) -> worker::Job {
        // ForEachItem's merge step reads its sibling's outputs from the variables, not through
        // a template of its own: it needs them all.
        let variables = if task.canonical == saker_flow::for_each_item::MERGE {
            render_context(flow, execution, Some(task), Some(run), &*self.rt.services)
        } else {
            worker_context(flow, execution, task, run, &*self.rt.services)
        };
        let info = TaskRunInfo {
            execution_id: id.clone(),
            task_run_id: run.id.clone(),
            task_id: task.id.clone(),
            task_type: task.canonical.to_owned(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            value: run.value.clone(),
            attempt: run.attempts.len() as u32 + 1,
        };
        worker::Job {
            info,
            params: task.params.clone(),
            timeout: task.common.timeout.clone(),
            variables,
            task_runner: saker_task::TaskRunnerDef::of(task),
            max_output_size: self.rt.max_output_size,
        }
    }

    /// The job, services and secrets to mask of an attempt of `run` in this process.
    fn local_attempt(
        &self,
        id: &ExecutionId,
        flow: &Flow,
        execution: &Execution,
        task: &saker_flow::Task,
        run: &saker_core::TaskRun,
    ) -> (worker::Job, RunServices, Arc<Vec<String>>) {
        let job = self.job(id, flow, execution, task, run);
        let error_logs = self.error_logs_of(id);
        let mut services = self.run_services();
        if let Some(error_logs) = error_logs {
            services.expr = Arc::new(host::AttemptServices {
                host: self.rt.services.clone(),
                error_logs,
            });
        }
        // Decrypted SECRET inputs are masked like secrets (Kestra's `RunVariables`).
        let mut masks = self.rt.masks.clone();
        if flow
            .inputs
            .iter()
            .any(|i| i.type_ == saker_flow::InputType::Secret)
        {
            let (_, secrets) =
                saker_engine::inputs::inputs_variable(flow, &execution.inputs, &*self.rt.services);
            if !secrets.is_empty() {
                let mut all = masks.as_ref().clone();
                all.extend(secrets);
                all.sort_by_key(|v| std::cmp::Reverse(v.len()));
                masks = Arc::new(all);
            }
        }
        (job, services, masks)
    }

    /// Queues one attempt for the workers; a job that cannot be queued fails its task run
    /// (with the reason in the log) rather than leaving the execution waiting.
    fn dispatch_to_queue(
        &self,
        queue: Arc<dyn queue::JobQueue>,
        id: &ExecutionId,
        flow: &Flow,
        execution: &Execution,
        job: worker::Job,
        error_logs: Option<&Arc<Vec<serde_json::Value>>>,
    ) -> CancellationToken {
        let secret_inputs = if flow
            .inputs
            .iter()
            .any(|i| i.type_ == saker_flow::InputType::Secret)
        {
            saker_engine::inputs::inputs_variable(flow, &execution.inputs, &*self.rt.services).1
        } else {
            Vec::new()
        };
        let payload = queue::job_payload(
            &job,
            error_logs,
            &secret_inputs,
            self.rt.services.encryption_key.as_deref(),
        );
        let tx = self.tx.clone();
        let (execution_id, task_run_id) = (id.clone(), job.info.task_run_id.clone());
        let template = LogEntry {
            namespace: job.info.namespace.clone(),
            flow_id: job.info.flow_id.clone(),
            task_id: Some(job.info.task_id.clone()),
            execution_id: id.as_str().to_owned(),
            task_run_id: Some(task_run_id.as_str().to_owned()),
            attempt_number: Some(job.info.attempt),
            timestamp: host::now(),
            level: Level::Error,
            thread: "executor".to_owned(),
            message: String::new(),
        };
        let cancel = CancellationToken::new();
        let killed = cancel.clone();
        tokio::spawn(async move {
            let queued = match payload {
                Ok(payload) => queue.submit(payload).await.map_err(|e| e.to_string()),
                Err(message) => Err(message),
            };
            // A kill that came before the job was in the queue found nothing to mark: send it
            // again now that the job is there (a kill is idempotent).
            if queued.is_ok() && killed.is_cancelled() {
                let task_run_id = task_run_id.as_str().to_owned();
                if let Err(error) = queue.kill(&task_run_id).await {
                    eprintln!("error: killing task run {task_run_id}: {error}");
                }
            }
            if let Err(message) = queued {
                let entry = LogEntry {
                    message: format!("cannot queue the task run for the workers: {message}"),
                    ..template
                };
                let _ = tx.send(Msg::Log(entry));
                let result =
                    saker_engine::TaskRunResult::ended(task_run_id, StateType::Failed, None);
                let _ = tx.send(Msg::Event(execution_id, Event::TaskRunResult(result)));
            }
        });
        cancel
    }

    /// The services of a worker attempt.
    fn run_services(&self) -> RunServices {
        self.rt.run_services()
    }

    fn arm_timer(&mut self, id: &ExecutionId, at: saker_core::Instant, timer: Timer) {
        let Some(live) = self.lives.get_mut(id) else {
            return;
        };
        if let Some(index) = live.timers.iter().position(|(t, _, _)| *t == timer) {
            let (_, _, handle) = live.timers.swap_remove(index);
            handle.abort();
        }
        self.timer_generation += 1;
        let generation = self.timer_generation;
        let delay = (at - host::now()).to_std().unwrap_or_default();
        let tx = self.tx.clone();
        let (execution_id, fired) = (id.clone(), timer.clone());
        let handle = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Msg::Timer(execution_id, fired, generation));
        });
        live.timers.push((timer, generation, handle.abort_handle()));
    }

    async fn ended(&mut self, id: &ExecutionId, state: StateType) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get_mut(id) else {
            return Ok(());
        };
        live.ended = true;
        for (_, _, handle) in live.timers.drain(..) {
            handle.abort();
        }
        if let Some(hub) = &self.hub {
            hub.ended(&live.execution);
        }
        if live.flow.concurrency.is_some() {
            self.slot_freed(id).await?;
        }
        let parent_here = self
            .lives
            .get(id)
            .and_then(|live| live.parent.as_ref())
            .is_some_and(|parent| self.lives.contains_key(&parent.execution_id));
        if !parent_here {
            // Its parent may run on another executor: tell it through the inbox.
            self.child_ended_elsewhere(id);
        }
        let Some(live) = self.lives.get_mut(id) else {
            return Ok(());
        };
        let Some(parent) = live.parent.as_ref().filter(|p| p.wait) else {
            return Ok(());
        };
        let mut state = state;
        let mut failure = None;
        // A ForEachItem child leaves its flow outputs (one ION line) for the merge step; Kestra
        // only writes them for flows that declare outputs.
        if let Some(uri) = &parent.outputs_uri
            && !live.flow.outputs.is_empty()
        {
            let mut line = serde_json::to_string(&live.execution.outputs).unwrap_or_default();
            line.push('\n');
            if let Err(error) = self.rt.files.put(uri, line.into_bytes()).await {
                failure = Some(format!("Failed to store the subflow outputs: {error}"));
                state = StateType::Failed;
            }
        }
        let (parent_id, task_run_id) = (parent.execution_id.clone(), parent.task_run_id.clone());
        let outputs = match self.subflow_outputs(id, &parent_id, &task_run_id) {
            Ok(outputs) => outputs,
            Err(message) => {
                // Kestra fails the Subflow run (the child keeps its own state).
                failure = Some(format!(
                    "Failed to extract outputs with the error: '{message}'"
                ));
                state = StateType::Failed;
                JsonMap::new()
            }
        };
        let event = Event::SubflowEnded {
            task_run_id: task_run_id.clone(),
            execution_id: id.clone(),
            state,
            outputs,
        };
        self.pending.push_back((parent_id.clone(), event));
        if let Some(message) = failure
            && let Some(entry) =
                self.executor_log(&parent_id, LogLevel::Warn, Some(&task_run_id), message)
        {
            self.log(entry).await?;
        }
        Ok(())
    }

    /// The `outputs` a Subflow run gets from its ended child `id` (spec §4.1): the child's flow
    /// outputs when its flow declares some, else the Subflow task's own (deprecated) `outputs`
    /// property rendered in the child's context, as Kestra does.
    fn subflow_outputs(
        &self,
        id: &ExecutionId,
        parent_id: &ExecutionId,
        task_run_id: &TaskRunId,
    ) -> Result<JsonMap, String> {
        let Some(child) = self.lives.get(id) else {
            return Ok(JsonMap::new());
        };
        if !child.flow.outputs.is_empty() {
            return Ok(child.execution.outputs.clone());
        }
        let property = self.lives.get(parent_id).and_then(|parent| {
            let run = parent.execution.find_task_run(task_run_id.as_str())?;
            parent.flow.find_task(&run.task_id)?.params.get("outputs")
        });
        let Some(property @ serde_json::Value::Object(_)) = property else {
            return Ok(child.execution.outputs.clone());
        };
        let services = &*self.rt.services;
        let ctx = render_context(&child.flow, &child.execution, None, None, services);
        match self.rt.engine.render_value(property, &ctx, services) {
            Ok(serde_json::Value::Object(outputs)) => Ok(outputs),
            Ok(_) => Ok(JsonMap::new()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// `namespace.flowId` of `id` and of each execution above it, root first.
    fn chain(&self, id: &ExecutionId) -> Vec<String> {
        let mut chain = Vec::new();
        let mut current = self.lives.get(id);
        while let Some(live) = current {
            chain.push(format!(
                "{}.{}",
                live.execution.namespace, live.execution.flow_id
            ));
            current = live
                .parent
                .as_ref()
                .and_then(|p| self.lives.get(&p.execution_id));
        }
        chain.reverse();
        chain
    }

    /// The parsed flow `(namespace, id[, revision])` from the store (cached per run).
    async fn load_flow(
        &mut self,
        namespace: &str,
        flow_id: &str,
        revision: Option<u32>,
    ) -> Result<Arc<Flow>, String> {
        // Only exact revisions are cached: "the latest" changes when a flow is updated.
        if let Some(flow) = revision.and_then(|r| {
            self.flows
                .get(&(namespace.to_owned(), flow_id.to_owned(), Some(r)))
        }) {
            return Ok(flow.clone());
        }
        let record = self
            .rt
            .store
            .get_flow(namespace, flow_id, revision)
            .await
            .map_err(|e| e.to_string())?;
        let Some(record) = record else {
            let revision = revision
                .map(|r| format!(" revision {r}"))
                .unwrap_or_default();
            return Err(format!(
                "Unable to find flow '{namespace}'.'{flow_id}'{revision}"
            ));
        };
        let key = (
            namespace.to_owned(),
            flow_id.to_owned(),
            Some(record.revision),
        );
        if let Some(flow) = self.flows.get(&key) {
            return Ok(flow.clone());
        }
        let mut flow =
            saker_flow::parse_and_validate(&record.source, None, saker_tasks::registry()).map_err(
                |diagnostics| {
                    let first = diagnostics
                        .first()
                        .map(|d| d.message.clone())
                        .unwrap_or_default();
                    format!("flow '{namespace}'.'{flow_id}' is invalid: {first}")
                },
            )?;
        flow.revision = Some(record.revision);
        saker_flow::template::expand_templates(
            &mut flow,
            self.rt.templates.as_deref().map(|t| &t[..]),
        );
        let flow = Arc::new(flow);
        self.flows.insert(key, flow.clone());
        Ok(flow)
    }

    async fn start_subflow(
        &mut self,
        parent_id: &ExecutionId,
        start: StartSubflow,
    ) -> Result<(), RuntimeError> {
        let chain = self.chain(parent_id);
        let child = if chain.len() > self.rt.max_subflow_depth {
            Err(format!(
                "Subflow depth limit ({}) reached: {} → {}.{} was not started (a flow that calls \
                 itself, directly or through other flows, never ends)",
                self.rt.max_subflow_depth,
                chain.join(" → "),
                start.namespace,
                start.flow_id
            ))
        } else {
            self.load_flow(&start.namespace, &start.flow_id, start.revision)
                .await
        };
        let child = match child {
            Ok(flow) => {
                let raw = inputs::raw_from_json(&start.inputs);
                inputs::resolve(&flow, &raw, &self.rt.engine, &*self.rt.services)
                    .map(|inputs| (flow, inputs))
            }
            Err(message) => Err(message),
        };
        let (flow, inputs) = match child {
            Ok(child) => child,
            Err(message) => {
                let entry = self.executor_log(
                    parent_id,
                    LogLevel::Error,
                    Some(&start.task_run_id),
                    message,
                );
                if let Some(entry) = entry {
                    self.log(entry).await?;
                }
                if start.wait {
                    let event = Event::SubflowEnded {
                        task_run_id: start.task_run_id,
                        execution_id: start.execution_id,
                        state: StateType::Failed,
                        outputs: JsonMap::new(),
                    };
                    self.pending.push_back((parent_id.clone(), event));
                }
                return Ok(());
            }
        };
        let flow_ref = FlowRef::new(
            flow.namespace.clone(),
            flow.id.clone(),
            flow.revision.unwrap_or(1),
        );
        let mut execution = Execution::new(
            start.execution_id,
            &flow_ref,
            &flow.labels_as_core(),
            start.labels,
            host::now(),
        );
        execution.inputs = inputs;
        execution.trigger = Some(start.trigger);
        execution.schedule_date = start.schedule_date;
        self.own_new(&execution.id).await?;
        let parent = ParentLink {
            execution_id: parent_id.clone(),
            task_run_id: start.task_run_id,
            wait: start.wait,
            outputs_uri: start.outputs_uri,
        };
        self.start(flow, execution, Some(parent)).await
    }

    async fn create_replay(
        &mut self,
        id: &ExecutionId,
        at: saker_core::Instant,
    ) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get(id) else {
            return Ok(());
        };
        let old = &live.execution;
        let new_id = saker_core::IdSource::execution_id(&mut self.ids);
        let mut execution = Execution::new(
            new_id,
            &old.flow_ref(),
            &[],
            old.labels.clone(),
            host::now(),
        );
        execution.inputs = old.inputs.clone();
        execution.trigger = old.trigger.clone();
        execution.parent_id = Some(old.id.clone());
        execution.original_id = old.original_id.clone().or_else(|| Some(old.id.clone()));
        execution.metadata = old.metadata.next_attempt();
        execution.schedule_date = Some(at);
        let flow = live.flow.clone();
        self.own_new(&execution.id).await?;
        self.start(flow, execution, None).await
    }
}

/// Flow labels in saker-core's form.
trait FlowLabels {
    fn labels_as_core(&self) -> Vec<saker_core::Label>;
}

impl FlowLabels for Flow {
    fn labels_as_core(&self) -> Vec<saker_core::Label> {
        self.labels
            .iter()
            .map(|l| saker_core::Label::new(&l.key, &l.value))
            .collect()
    }
}

#[cfg(test)]
mod tests;

/// Adds `more` to what a batch saves of one execution.
fn merge_changed(merged: &mut Changed, more: Changed) {
    match (&mut *merged, more) {
        (Changed::All, _) => {}
        (_, Changed::All) => *merged = Changed::All,
        (Changed::TaskRuns(ids), Changed::TaskRuns(more)) => {
            for id in more {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
}

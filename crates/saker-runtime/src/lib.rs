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
//! Nothing polls: the loop sleeps on the channel. It stops when nothing is in flight (no
//! worker, no timer, no queued message): every execution ended, or a flow left PAUSED with no
//! timer ends the run in PAUSED.
//!
//! Code map: [`host`] (clock, ids, secrets, envs, expression services), [`worker`] (one
//! attempt), [`inputs`] (execution inputs).

pub mod host;
pub mod inputs;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use saker_core::{Execution, ExecutionId, FlowRef, JsonMap, StateType, TaskRunId};
use saker_engine::{Action, Event, Executor, LogLevel, StartSubflow, Timer, render_context};
use saker_expr::Engine;
use saker_flow::Flow;
use saker_storage::{Changed, FileStore, LogEntry, Store, StoreLogSource};
use saker_task::{KvStore, Level, RunServices, TaskRunInfo};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::host::{HostServices, RandomIds, Secrets, SystemClock, mask};

pub use host::envs_from_vars;

/// Runtime failures (the execution itself failing is not one: it ends FAILED).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] saker_storage::Error),
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
}

impl<S: Store> Runtime<S> {
    pub fn new(store: Arc<S>, files: Arc<dyn FileStore>, kv: Arc<dyn KvStore>) -> Self {
        let services = Arc::new(HostServices {
            secrets: Secrets::default(),
            envs: JsonMap::new(),
            kv: kv.clone(),
            files: files.clone(),
        });
        Runtime {
            store,
            files,
            kv,
            services,
            engine: Arc::new(Engine::new()),
            observer: None,
            masks: Arc::new(Vec::new()),
        }
    }

    /// Secrets for `secret()` (their values are masked in every log line).
    #[must_use]
    pub fn with_secrets(mut self, secrets: Secrets) -> Self {
        self.masks = Arc::new(secrets.values_for_masking());
        self.services = Arc::new(HostServices {
            secrets,
            envs: self.services.envs.clone(),
            kv: self.kv.clone(),
            files: self.files.clone(),
        });
        self
    }

    /// The `envs` variable.
    #[must_use]
    pub fn with_envs(mut self, envs: JsonMap) -> Self {
        self.services = Arc::new(HostServices {
            secrets: self.services.secrets.clone(),
            envs,
            kv: self.kv.clone(),
            files: self.files.clone(),
        });
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

    /// Types `flow`'s execution inputs from raw values with this runtime's services
    /// (Kestra's message for the first rejected input).
    pub fn resolve_inputs(
        &self,
        flow: &Flow,
        raw: &[(String, inputs::Raw)],
    ) -> Result<JsonMap, String> {
        inputs::resolve(flow, raw, &self.engine, &*self.services)
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
        let mut driver = Driver {
            rt: self,
            tx,
            rx,
            lives: HashMap::new(),
            workers: HashMap::new(),
            pending: VecDeque::new(),
            executor: Executor::new(),
            ids: RandomIds,
            flows: HashMap::new(),
            timer_generation: 0,
        };
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
}

/// An execution this loop runs.
struct Live {
    flow: Arc<Flow>,
    execution: Execution,
    parent: Option<ParentLink>,
    timers: Vec<(Timer, u64, AbortHandle)>,
    ended: bool,
}

/// The state of one [`Runtime::run`].
struct Driver<'r, S: Store> {
    rt: &'r Runtime<S>,
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
}

impl<S: Store> Driver<'_, S> {
    async fn start(
        &mut self,
        flow: Arc<Flow>,
        execution: Execution,
        parent: Option<ParentLink>,
    ) -> Result<(), RuntimeError> {
        let id = execution.id.clone();
        self.rt
            .store
            .save_execution(&execution, &Changed::All)
            .await?;
        self.lives.insert(
            id.clone(),
            Live {
                flow,
                execution,
                parent,
                timers: Vec::new(),
                ended: false,
            },
        );
        self.pending.push_back((id, Event::Created));
        Ok(())
    }

    fn in_flight(&self) -> bool {
        !self.workers.is_empty() || self.lives.values().any(|live| !live.timers.is_empty())
    }

    async fn run(&mut self) -> Result<(), RuntimeError> {
        loop {
            while let Some((id, event)) = self.pending.pop_front() {
                self.handle(id, event).await?;
            }
            if !self.in_flight() && self.rx.is_empty() {
                // Nothing can ever arrive: every execution ended (afterExecution tasks run after
                // the end, so an ended execution may still have workers) or waits for a human.
                return Ok(());
            }
            let Some(msg) = self.rx.recv().await else {
                return Ok(());
            };
            match msg {
                Msg::Event(id, event) => {
                    if let Event::TaskRunResult(result) = &event
                        && result.state != StateType::Running
                    {
                        self.workers.remove(&result.task_run_id);
                    }
                    self.pending.push_back((id, event));
                }
                Msg::Timer(id, timer, generation) => {
                    let Some(live) = self.lives.get_mut(&id) else {
                        continue;
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
                Msg::Log(entry) => self.log(entry).await?,
            }
        }
    }

    async fn log(&self, entry: LogEntry) -> Result<(), RuntimeError> {
        self.rt
            .store
            .append_logs(std::slice::from_ref(&entry))
            .await?;
        if let Some(observer) = &self.rt.observer {
            observer.log(&entry);
        }
        Ok(())
    }

    /// Applies one event, saves, then acts.
    async fn handle(&mut self, id: ExecutionId, event: Event) -> Result<(), RuntimeError> {
        let Some(live) = self.lives.get_mut(&id) else {
            return Ok(());
        };
        let now = host::now();
        let before = live.execution.task_run_list.clone();
        let actions = self.executor.apply(
            &live.flow,
            &mut live.execution,
            event,
            now,
            &mut self.ids,
            &*self.rt.services,
        );
        let changed = Changed::between(&before, &live.execution.task_run_list);
        self.rt
            .store
            .save_execution(&live.execution, &changed)
            .await?;
        for action in actions {
            self.perform(&id, action).await?;
        }
        Ok(())
    }

    async fn perform(&mut self, id: &ExecutionId, action: Action) -> Result<(), RuntimeError> {
        match action {
            Action::Dispatch {
                task_run_id,
                task_id,
            } => self.dispatch(id, task_run_id, &task_id),
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
            }
            Action::CreateReplay { at } => self.create_replay(id, at).await?,
            Action::Ended { state } => self.ended(id, state),
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

    fn dispatch(&mut self, id: &ExecutionId, task_run_id: TaskRunId, task_id: &str) {
        let Some(live) = self.lives.get(id) else {
            return;
        };
        let flow = &live.flow;
        let execution = &live.execution;
        let (Some(run), Some(task)) = (
            execution.find_task_run(task_run_id.as_str()),
            flow.find_task(task_id),
        ) else {
            // The engine only dispatches task runs of its own flow; answer anyway so the
            // execution cannot hang on a run nobody works on.
            let result = saker_engine::TaskRunResult::ended(task_run_id, StateType::Failed, None);
            self.pending
                .push_back((id.clone(), Event::TaskRunResult(result)));
            return;
        };
        let variables = render_context(flow, execution, Some(task), Some(run), &*self.rt.services);
        let info = TaskRunInfo {
            execution_id: id.clone(),
            task_run_id: task_run_id.clone(),
            task_id: task.id.clone(),
            task_type: task.canonical.to_owned(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            value: run.value.clone(),
            attempt: run.attempts.len() as u32 + 1,
        };
        let job = worker::Job {
            info,
            params: task.params.clone(),
            timeout: task.common.timeout.clone(),
            variables,
        };
        let services = RunServices {
            engine: self.rt.engine.clone(),
            expr: self.rt.services.clone(),
            kv: self.rt.kv.clone(),
            storage: self.rt.files.clone(),
            logs: Some(Arc::new(StoreLogSource(self.rt.store.clone()))),
            // Replaced by the worker's own sink (it needs the task run's identity).
            log_sink: Arc::new(saker_task::log::MemoryLogSink::new()),
            clock: Arc::new(SystemClock),
        };
        let cancel = CancellationToken::new();
        self.workers.insert(task_run_id, cancel.clone());
        tokio::spawn(worker::run(
            job,
            id.clone(),
            services,
            self.rt.masks.clone(),
            cancel,
            self.tx.clone(),
        ));
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

    fn ended(&mut self, id: &ExecutionId, state: StateType) {
        let Some(live) = self.lives.get_mut(id) else {
            return;
        };
        live.ended = true;
        for (_, _, handle) in live.timers.drain(..) {
            handle.abort();
        }
        if let Some(parent) = &live.parent
            && parent.wait
        {
            let event = Event::SubflowEnded {
                task_run_id: parent.task_run_id.clone(),
                execution_id: id.clone(),
                state,
                outputs: live.execution.outputs.clone(),
            };
            self.pending.push_back((parent.execution_id.clone(), event));
        }
    }

    /// The parsed flow `(namespace, id[, revision])` from the store (cached per run).
    async fn load_flow(
        &mut self,
        namespace: &str,
        flow_id: &str,
        revision: Option<u32>,
    ) -> Result<Arc<Flow>, String> {
        let key = (namespace.to_owned(), flow_id.to_owned(), revision);
        if let Some(flow) = self.flows.get(&key) {
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
        let flow = Arc::new(flow);
        self.flows.insert(key, flow.clone());
        Ok(flow)
    }

    async fn start_subflow(
        &mut self,
        parent_id: &ExecutionId,
        start: StartSubflow,
    ) -> Result<(), RuntimeError> {
        let child = match self
            .load_flow(&start.namespace, &start.flow_id, start.revision)
            .await
        {
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
        let parent = ParentLink {
            execution_id: parent_id.clone(),
            task_run_id: start.task_run_id,
            wait: start.wait,
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

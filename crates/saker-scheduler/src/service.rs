//! The async part: [`Scheduler`] keeps the triggers of every flow, sleeps until the next due
//! date (or until told something changed), evaluates due Schedule triggers under their store
//! lease, launches executions through the server's [`ExecutionLauncher`], and reacts to
//! execution state changes (unblocking schedules, `stopAfter`, Flow triggers) and webhook calls.
//!
//! Ordering: every trigger-state change is committed to the store before the execution is
//! launched (with the tick marked `launching`), and the launch is recorded right after. After a
//! crash between the two, the next start looks the execution up and launches it only if absent.
//!
//! A process that runs no triggers (the webserver component) still serves the API operations on
//! trigger states: it checks them against the stored flow, writes the record under its lease
//! and tells the store ([`Store::trigger_changed`]); the process that runs the trigger reads
//! the record again ([`Scheduler::trigger_changed`]). Records are only ever changed under their
//! lease, read when it is taken; what a scheduler keeps in memory is only when to look next.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use saker_core::{Execution, Instant, Label};
use saker_engine::EngineServices;
use saker_expr::Engine;
use saker_flow::Flow;
use saker_storage::{ExecutionQuery, Paging, Store, TriggerKey, TriggerRecord};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, Notify, mpsc};

use crate::conditions::{self, CondCx};
use crate::flow_trigger::{self, FlowTriggerSpec, WindowState};
use crate::schedule::{Backfill, Recover, ScheduleSpec, ScheduleState, Step};
use crate::webhook::{self, WebhookRequest};
use crate::{FLOW, SCHEDULE, TriggerError, WEBHOOK};

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Utc::now()
    }
}

/// A clock that follows tokio's (pausable) time from a starting instant: tests advance it with
/// `tokio::time::advance`.
pub struct TokioClock {
    origin: Instant,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(origin: Instant) -> TokioClock {
        TokioClock {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.origin + TimeDelta::from_std(elapsed).unwrap_or_default()
    }
}

/// An execution a trigger asks the server to create.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    pub flow: Arc<Flow>,
    pub trigger_id: String,
    /// Canonical type of the trigger (`execution.trigger.type`).
    pub trigger_type: &'static str,
    /// `execution.trigger.variables` (`{{ trigger.* }}`).
    pub variables: Map<String, Value>,
    /// Rendered inputs; flow input defaults still apply.
    pub inputs: Map<String, Value>,
    /// Added to the flow's labels.
    pub labels: Vec<Label>,
    /// `execution.scheduleDate` (Schedule triggers: the tick).
    pub schedule_date: Option<Instant>,
    /// Whether missing required inputs reject the execution. Kestra does not check the inputs
    /// of executions created by Flow triggers (they run with what they got).
    pub validate_inputs: bool,
}

/// What the server provides: creating executions, and a place for trigger warnings.
pub trait ExecutionLauncher: Send + Sync + 'static {
    /// Creates (saves and starts) the execution; returns it as created.
    fn launch(
        &self,
        request: LaunchRequest,
    ) -> impl Future<Output = Result<Execution, String>> + Send;

    /// A warning about a trigger (Kestra logs these on the trigger's logger), e.g. "Failed to
    /// trigger flow ns.id for trigger t, invalid inputs".
    fn warn(&self, namespace: &str, flow_id: &str, trigger_id: &str, message: &str);

    /// The latest stored revision of a flow, parsed (`None`: no such flow, or deleted): what
    /// the API operations on trigger states are checked against in a process that runs no
    /// triggers ([`Scheduler::load`] never called). The default knows no stored flow.
    fn stored_flow(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> impl Future<Output = Result<Option<Arc<Flow>>, String>> + Send {
        let _ = (namespace, flow_id);
        std::future::ready(Ok(None))
    }
}

/// Settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// This scheduler's name in trigger leases.
    pub owner: String,
    /// How long a lease protects an evaluation; a crashed holder loses it after this.
    pub lease: Duration,
    /// `recoverMissedSchedules` when a trigger does not say (Kestra: `ALL`).
    pub default_recover: Recover,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            owner: "saker".into(),
            lease: Duration::from_secs(30),
            default_recover: Recover::All,
        }
    }
}

/// The answer to a webhook call.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookOutcome {
    /// 404 `Flow not found`.
    FlowNotFound,
    /// 404 `Webhook not found` (no enabled webhook trigger with that key).
    WebhookNotFound,
    /// 204: conditions were false, no execution.
    ConditionsFalse,
    /// 200 with the execution (or, when `wait`, the ended execution / its outputs).
    Created {
        execution: Box<Execution>,
        wait: bool,
        return_outputs: bool,
    },
}

#[derive(Default)]
struct Registry {
    /// Whether this process runs the triggers ([`Scheduler::load`] or a flow change was told).
    loaded: bool,
    flows: BTreeMap<(String, String), Arc<Flow>>,
    /// The flows with an enabled Flow trigger (scanned on every execution change).
    listeners: BTreeMap<(String, String), Arc<Flow>>,
    schedules: BTreeMap<TriggerKey, (Arc<Flow>, Arc<ScheduleSpec>)>,
    /// When each schedule needs attention next (absent: blocked, disabled or never).
    wake: BTreeMap<TriggerKey, Instant>,
}

struct Inner<S, L> {
    store: Arc<S>,
    launcher: Arc<L>,
    clock: Arc<dyn Clock>,
    services: Arc<dyn EngineServices + Send + Sync>,
    engine: Engine,
    config: SchedulerConfig,
    reg: StdMutex<Registry>,
    /// One evaluation at a time in this process (leases cover other processes).
    op: Mutex<()>,
    notify: Notify,
    ended_tx: mpsc::UnboundedSender<Heard>,
    ended_rx: Mutex<mpsc::UnboundedReceiver<Heard>>,
}

/// What the loop is told about executions.
enum Heard {
    /// A change of state ([`Scheduler::execution_changed`]).
    Changed(Arc<Execution>),
    /// The end of a trigger's execution whose record another process held when it was first
    /// heard: only that is applied again (the Flow triggers saw the change the first time).
    EndAgain(Arc<Execution>),
}

/// How long after a missed lease the end of a trigger's execution is applied again.
const END_RETRY: Duration = Duration::from_secs(1);

/// How long an API operation waits for a trigger's lease held by another process (a
/// scheduler's evaluation takes milliseconds) before answering "try again", and how often it
/// looks meanwhile.
const API_LEASE_WAIT: Duration = Duration::from_secs(2);
const API_LEASE_RETRY: Duration = Duration::from_millis(50);

/// The trigger service. Cheap to clone; spawn [`Scheduler::run`] once.
pub struct Scheduler<S: Store, L: ExecutionLauncher> {
    inner: Arc<Inner<S, L>>,
}

impl<S: Store, L: ExecutionLauncher> Clone for Scheduler<S, L> {
    fn clone(&self) -> Self {
        Scheduler {
            inner: self.inner.clone(),
        }
    }
}

fn key(flow: &Flow, trigger_id: &str) -> TriggerKey {
    TriggerKey {
        namespace: flow.namespace.clone(),
        flow_id: flow.id.clone(),
        trigger_id: trigger_id.to_owned(),
    }
}

impl<S: Store, L: ExecutionLauncher> Scheduler<S, L> {
    pub fn new(
        store: Arc<S>,
        launcher: Arc<L>,
        clock: Arc<dyn Clock>,
        services: Arc<dyn EngineServices + Send + Sync>,
        config: SchedulerConfig,
    ) -> Self {
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        Scheduler {
            inner: Arc::new(Inner {
                store,
                launcher,
                clock,
                services,
                engine: Engine::new(),
                config,
                reg: StdMutex::new(Registry::default()),
                op: Mutex::new(()),
                notify: Notify::new(),
                ended_tx,
                ended_rx: Mutex::new(ended_rx),
            }),
        }
    }

    fn reg(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads every flow at start-up: schedules resume per `recoverMissedSchedules`, launches
    /// interrupted by a crash are completed. Call before [`Scheduler::run`].
    pub async fn load(&self, flows: Vec<Arc<Flow>>) -> Result<(), TriggerError> {
        self.reg().loaded = true;
        for flow in flows {
            self.flow_changed(flow).await?;
        }
        Ok(())
    }

    /// A flow was created or updated: its triggers replace the previous ones.
    pub async fn flow_changed(&self, flow: Arc<Flow>) -> Result<(), TriggerError> {
        let _op = self.inner.op.lock().await;
        let now = self.inner.clock.now();
        let fkey = (flow.namespace.clone(), flow.id.clone());
        let mut warnings = Vec::new();
        let specs: Vec<ScheduleSpec> = flow
            .triggers
            .iter()
            .filter(|t| t.canonical == SCHEDULE)
            .filter_map(|t| {
                match ScheduleSpec::from_trigger(t, self.inner.config.default_recover) {
                    Ok(spec) => Some(spec),
                    Err(e) => {
                        warnings.push((t.id.clone(), e.to_string()));
                        None
                    }
                }
            })
            .collect();
        for (trigger_id, message) in warnings {
            self.inner
                .launcher
                .warn(&flow.namespace, &flow.id, &trigger_id, &message);
        }
        // Records of triggers that no longer exist go.
        let keep: HashSet<String> = flow.triggers.iter().map(|t| t.id.clone()).collect();
        for record in self
            .inner
            .store
            .list_triggers(Some(&flow.namespace))
            .await?
        {
            if record.key.namespace == flow.namespace
                && record.key.flow_id == flow.id
                && (!keep.contains(&record.key.trigger_id) || flow.disabled)
            {
                self.inner.store.delete_trigger(&record.key).await?;
            }
        }
        {
            let mut reg = self.reg();
            reg.loaded = true;
            reg.schedules.retain(|k, _| {
                (k.namespace.as_str(), k.flow_id.as_str()) != (fkey.0.as_str(), fkey.1.as_str())
            });
            reg.wake.retain(|k, _| {
                (k.namespace.as_str(), k.flow_id.as_str()) != (fkey.0.as_str(), fkey.1.as_str())
            });
            reg.listeners.remove(&fkey);
            if flow.disabled || flow.deleted {
                reg.flows.remove(&fkey);
            } else {
                if flow
                    .triggers
                    .iter()
                    .any(|t| t.canonical == FLOW && !t.disabled)
                {
                    reg.listeners.insert(fkey.clone(), flow.clone());
                }
                reg.flows.insert(fkey, flow.clone());
            }
        }
        if flow.disabled || flow.deleted {
            self.inner.notify.notify_one();
            return Ok(());
        }
        // Other triggers get a record too (enable/disable through the API, windows).
        for t in flow.triggers.iter().filter(|t| t.canonical != SCHEDULE) {
            let k = key(&flow, &t.id);
            if self.inner.store.get_trigger(&k).await?.is_none() {
                self.inner
                    .store
                    .put_trigger(&TriggerRecord {
                        key: k,
                        next_execution_date: None,
                        disabled: t.disabled,
                        context: Value::Object(Map::new()),
                        lease_owner: None,
                        lease_until: None,
                        updated: now,
                    })
                    .await?;
            }
        }
        for spec in specs {
            let k = key(&flow, &spec.trigger_id);
            self.sync_schedule(&k, &flow, &spec, now).await?;
            self.reg()
                .schedules
                .insert(k, (flow.clone(), Arc::new(spec)));
        }
        self.inner.notify.notify_one();
        Ok(())
    }

    /// A flow was deleted: its triggers and their state go.
    pub async fn flow_deleted(&self, namespace: &str, flow_id: &str) -> Result<(), TriggerError> {
        let _op = self.inner.op.lock().await;
        {
            let mut reg = self.reg();
            let fkey = (namespace.to_owned(), flow_id.to_owned());
            reg.flows.remove(&fkey);
            reg.listeners.remove(&fkey);
            reg.schedules
                .retain(|k, _| !(k.namespace == namespace && k.flow_id == flow_id));
            reg.wake
                .retain(|k, _| !(k.namespace == namespace && k.flow_id == flow_id));
        }
        for record in self.inner.store.list_triggers(Some(namespace)).await? {
            if record.key.namespace == namespace && record.key.flow_id == flow_id {
                self.inner.store.delete_trigger(&record.key).await?;
            }
        }
        self.inner.notify.notify_one();
        Ok(())
    }

    /// Tells the scheduler an execution changed state: call it once per change of
    /// `state.current` that is saved (Flow triggers may listen to `RUNNING` or `PAUSED`, and
    /// fire once per change, not per save). Never blocks; handled by the loop in order.
    pub fn execution_changed(&self, execution: impl Into<Arc<Execution>>) {
        // The receiver lives as long as `inner`, so sending cannot fail.
        let _ = self.inner.ended_tx.send(Heard::Changed(execution.into()));
        self.inner.notify.notify_one();
    }

    /// Trigger `k`'s record was changed by a process that does not run the triggers (the API
    /// of the webserver component, told through [`Store::trigger_changed`]). When this process
    /// runs that schedule, when to look at it is read again from the store: a backfill starts,
    /// and a trigger enabled, unpaused or unlocked fires again, without waiting for the date
    /// this process had in mind. A record deleted and not made again starts over, as on a load.
    pub async fn trigger_changed(&self, k: &TriggerKey) -> Result<(), TriggerError> {
        let _op = self.inner.op.lock().await;
        let entry = self.reg().schedules.get(k).cloned();
        let Some((flow, spec)) = entry else {
            // Other triggers keep nothing in memory: they read their record when they fire.
            return Ok(());
        };
        let now = self.inner.clock.now();
        match self.inner.store.get_trigger(k).await? {
            Some(record) => self.set_wake(k, &record, now),
            None => self.sync_schedule(k, &flow, &spec, now).await?,
        }
        self.inner.notify.notify_one();
        Ok(())
    }

    /// [`Scheduler::trigger_changed`] for every schedule: the notes of changes may have been
    /// missed (a lost connection), so the records are all read again (one query).
    pub async fn triggers_changed(&self) -> Result<(), TriggerError> {
        let _op = self.inner.op.lock().await;
        let records: BTreeMap<TriggerKey, TriggerRecord> = self
            .inner
            .store
            .list_triggers(None)
            .await?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        let schedules: Vec<_> = self
            .reg()
            .schedules
            .iter()
            .map(|(k, entry)| (k.clone(), entry.clone()))
            .collect();
        let now = self.inner.clock.now();
        for (k, (flow, spec)) in schedules {
            match records.get(&k) {
                Some(record) => self.set_wake(&k, record, now),
                None => self.sync_schedule(&k, &flow, &spec, now).await?,
            }
        }
        self.inner.notify.notify_one();
        Ok(())
    }

    /// Runs until `shutdown` resolves: evaluates due triggers and handles execution changes,
    /// sleeping until the next due date in between.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Register interest before working, so a notification sent meanwhile is kept.
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.drain_execution_changes().await;
            let wake = self.tick().await;
            let now = self.inner.clock.now();
            let sleep = match wake {
                Some(at) if at > now => (at - now).to_std().unwrap_or_default(),
                Some(_) => Duration::ZERO,
                None => Duration::from_secs(3600 * 24),
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = notified => {}
                _ = &mut shutdown => return,
            }
        }
    }

    async fn drain_execution_changes(&self) {
        loop {
            let next = self.inner.ended_rx.lock().await.try_recv();
            let Ok(heard) = next else { return };
            let _op = self.inner.op.lock().await;
            let (execution, result) = match heard {
                Heard::Changed(execution) => {
                    let result = self.handle_execution(&execution).await;
                    (execution, result)
                }
                Heard::EndAgain(execution) => {
                    let now = self.inner.clock.now();
                    let trigger_id = execution.trigger.as_ref().map(|t| t.id.clone());
                    let result = match trigger_id {
                        Some(id) => self.trigger_execution_ended(&execution, &id, now).await,
                        None => Ok(()),
                    };
                    (execution, result)
                }
            };
            if let Err(e) = result {
                self.inner.launcher.warn(
                    &execution.namespace,
                    &execution.flow_id,
                    "",
                    &e.to_string(),
                );
            }
        }
    }

    /// Evaluates the due schedules once; returns when the next one is due.
    async fn tick(&self) -> Option<Instant> {
        let now = self.inner.clock.now();
        let due: Vec<TriggerKey> = self
            .reg()
            .wake
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            let _op = self.inner.op.lock().await;
            let entry = self.reg().schedules.get(&k).cloned();
            let Some((flow, spec)) = entry else { continue };
            if let Err(e) = self.evaluate_schedule(&k, &flow, &spec, now).await {
                self.inner
                    .launcher
                    .warn(&k.namespace, &k.flow_id, &k.trigger_id, &e.to_string());
                // Retry a failed evaluation (store down) a little later rather than spin.
                self.reg().wake.insert(k, now + TimeDelta::seconds(1));
            }
        }
        self.reg().wake.values().min().copied()
    }

    /// The condition check of a schedule for a candidate tick.
    fn accepts<'a>(
        &'a self,
        flow: &'a Flow,
        spec: &'a ScheduleSpec,
    ) -> impl Fn(Instant) -> Result<bool, TriggerError> + 'a {
        move |tick| {
            let mut trigger = Map::new();
            trigger.insert("date".into(), Value::String(spec.cron.zoned(tick)));
            let vars = conditions::with_trigger(&webhook::flow_vars(flow), &trigger);
            let cx = CondCx {
                engine: &self.inner.engine,
                services: self.inner.services.as_ref(),
                vars: &vars,
                flow_namespace: &flow.namespace,
                flow_id: &flow.id,
                execution: None,
            };
            conditions::all(&spec.conditions, &cx)
        }
    }

    async fn lease(
        &self,
        k: &TriggerKey,
        now: Instant,
    ) -> Result<Option<TriggerRecord>, TriggerError> {
        let until = now + TimeDelta::from_std(self.inner.config.lease).unwrap_or_default();
        Ok(self
            .inner
            .store
            .acquire_trigger_lease(k, &self.inner.config.owner, until, now)
            .await?)
    }

    async fn release(&self, mut record: TriggerRecord, now: Instant) -> Result<(), TriggerError> {
        record.lease_owner = None;
        record.lease_until = None;
        record.updated = now;
        self.inner.store.put_trigger(&record).await?;
        Ok(())
    }

    /// Applies the end of `execution` to its trigger again after [`END_RETRY`].
    fn hear_end_again(&self, execution: Arc<Execution>) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(END_RETRY).await;
            if let Some(inner) = inner.upgrade() {
                let _ = inner.ended_tx.send(Heard::EndAgain(execution));
                inner.notify.notify_one();
            }
        });
    }

    fn set_wake(&self, k: &TriggerKey, record: &TriggerRecord, now: Instant) {
        let state = ScheduleState::from_context(&record.context);
        let wake = if record.disabled || state.execution_id.is_some() || state.launching.is_some() {
            None
        } else if let Some(b) = &state.backfill {
            (!b.paused).then_some(now)
        } else {
            record.next_execution_date
        };
        let mut reg = self.reg();
        match wake {
            // A process that runs no triggers (whose API changed this one) looks at none.
            Some(at) if reg.loaded => reg.wake.insert(k.clone(), at),
            _ => reg.wake.remove(k),
        };
    }

    /// Brings a schedule's record in line with its definition and the store after a (re)load.
    async fn sync_schedule(
        &self,
        k: &TriggerKey,
        flow: &Arc<Flow>,
        spec: &ScheduleSpec,
        now: Instant,
    ) -> Result<(), TriggerError> {
        let ok = self.accepts(flow, spec);
        if self.inner.store.get_trigger(k).await?.is_none() {
            let mut context = Value::Object(Map::new());
            ScheduleState {
                fingerprint: Some(spec.fingerprint.clone()),
                ..Default::default()
            }
            .write(&mut context);
            let record = TriggerRecord {
                key: k.clone(),
                next_execution_date: spec.next_valid(now, &ok)?,
                disabled: spec.disabled,
                context,
                lease_owner: None,
                lease_until: None,
                updated: now,
            };
            self.inner.store.put_trigger(&record).await?;
            self.set_wake(k, &record, now);
            return Ok(());
        }
        let Some(mut record) = self.lease(k, now).await? else {
            // Another scheduler holds it; it will be looked at once due.
            self.reg()
                .wake
                .insert(k.clone(), now + TimeDelta::seconds(1));
            return Ok(());
        };
        let mut state = ScheduleState::from_context(&record.context);
        if state.fingerprint.as_deref() != Some(spec.fingerprint.as_str()) {
            // New timing: start over from now, and the YAML `disabled` applies again.
            state.fingerprint = Some(spec.fingerprint.clone());
            record.next_execution_date = spec.next_valid(now, &ok)?;
            record.disabled = spec.disabled;
        }
        if let Some(tick) = state.launching {
            // A crash between commit and launch: launch again only if it is not there.
            match self.find_launched(k, tick, record.updated).await? {
                Some(e) if !e.state.current().is_terminated() => {
                    state.execution_id = Some(e.id.as_str().to_owned())
                }
                Some(_) => {}
                None => match state.backfill.as_mut() {
                    Some(b) => b.current_date = tick,
                    None => record.next_execution_date = Some(tick),
                },
            }
            state.launching = None;
        }
        if let Some(id) = state.execution_id.clone() {
            let e = self
                .inner
                .store
                .get_execution(&saker_core::ExecutionId::new(id))
                .await?;
            if e.is_none_or(|e| e.state.current().is_terminated()) {
                state.execution_id = None;
            }
        }
        if state.execution_id.is_none() && state.backfill.is_none() {
            record.next_execution_date = spec.recover(record.next_execution_date, now, &ok)?;
        }
        state.write(&mut record.context);
        self.set_wake(k, &record, now);
        self.release(record, now).await
    }

    async fn find_launched(
        &self,
        k: &TriggerKey,
        tick: Instant,
        since: Instant,
    ) -> Result<Option<Execution>, TriggerError> {
        let query = ExecutionQuery {
            namespace: Some(k.namespace.clone()),
            flow_id: Some(k.flow_id.clone()),
            start_from: Some(since - TimeDelta::minutes(5)),
            paging: Paging { page: 1, size: 0 },
            ..Default::default()
        };
        let page = self.inner.store.search_executions(&query).await?;
        Ok(page.results.into_iter().find(|e| {
            e.namespace == k.namespace
                && e.trigger.as_ref().is_some_and(|t| t.id == k.trigger_id)
                && e.schedule_date == Some(tick)
        }))
    }

    async fn evaluate_schedule(
        &self,
        k: &TriggerKey,
        flow: &Arc<Flow>,
        spec: &ScheduleSpec,
        now: Instant,
    ) -> Result<(), TriggerError> {
        let Some(mut record) = self.lease(k, now).await? else {
            self.reg()
                .wake
                .insert(k.clone(), now + TimeDelta::seconds(1));
            return Ok(());
        };
        if record.disabled {
            self.set_wake(k, &record, now);
            return self.release(record, now).await;
        }
        let state = ScheduleState::from_context(&record.context);
        let ok = self.accepts(flow, spec);
        let step = match spec.evaluate(record.next_execution_date, &state, now, &ok) {
            Ok(step) => step,
            Err(e) => {
                // Like Kestra: report, then move on to the next tick without conditions.
                self.inner.launcher.warn(
                    &k.namespace,
                    &k.flow_id,
                    &k.trigger_id,
                    &format!(
                        "Unable to evaluate the Schedule trigger '{}': {e}",
                        k.trigger_id
                    ),
                );
                let from = record.next_execution_date.unwrap_or(now).max(now);
                record.next_execution_date = spec.cron.next_after(from);
                self.set_wake(k, &record, now);
                return self.release(record, now).await;
            }
        };
        match step {
            Step::Wait => {}
            Step::Skip { next, state } => {
                record.next_execution_date = next;
                state.write(&mut record.context);
            }
            Step::Fire(fire) => {
                record.next_execution_date = fire.next;
                fire.state.write(&mut record.context);
                record.updated = now;
                // Commit before acting (the lease is still ours).
                self.inner.store.put_trigger(&record).await?;
                let mut state = fire.state.clone();
                state.launching = None;
                let vars = webhook::flow_vars(flow);
                let inputs = flow_trigger::render_inputs(
                    &fire.inputs,
                    &self.inner.engine,
                    &vars,
                    self.inner.services.as_ref(),
                );
                let launched = match inputs {
                    Ok(inputs) => self
                        .inner
                        .launcher
                        .launch(LaunchRequest {
                            flow: flow.clone(),
                            trigger_id: k.trigger_id.clone(),
                            trigger_type: SCHEDULE,
                            variables: fire.variables.clone(),
                            inputs,
                            labels: fire.labels.clone(),
                            schedule_date: Some(fire.date),
                            validate_inputs: true,
                        })
                        .await
                        .map_err(TriggerError::Launch),
                    Err(e) => Err(e),
                };
                match launched {
                    Ok(execution) if !execution.state.current().is_terminated() => {
                        state.execution_id = Some(execution.id.as_str().to_owned());
                    }
                    Ok(_) => {}
                    Err(e) => self.inner.launcher.warn(
                        &k.namespace,
                        &k.flow_id,
                        &k.trigger_id,
                        &format!(
                            "Failed to trigger flow {}.{} for trigger {}: {e}",
                            k.namespace, k.flow_id, k.trigger_id
                        ),
                    ),
                }
                state.write(&mut record.context);
            }
        }
        self.set_wake(k, &record, now);
        self.release(record, now).await
    }

    async fn handle_execution(&self, execution: &Arc<Execution>) -> Result<(), TriggerError> {
        let now = self.inner.clock.now();
        let terminated = execution.state.current().is_terminated();
        if terminated && let Some(t) = &execution.trigger {
            self.trigger_execution_ended(execution, &t.id, now).await?;
        }
        self.fire_flow_triggers(execution, now).await
    }

    /// An execution started by a trigger ended: unblock the schedule, apply `stopAfter`.
    async fn trigger_execution_ended(
        &self,
        execution: &Arc<Execution>,
        trigger_id: &str,
        now: Instant,
    ) -> Result<(), TriggerError> {
        let flow = self
            .reg()
            .flows
            .get(&(execution.namespace.clone(), execution.flow_id.clone()))
            .cloned();
        let Some(flow) = flow else { return Ok(()) };
        let Some(trigger) = flow.triggers.iter().find(|t| t.id == trigger_id) else {
            return Ok(());
        };
        let k = key(&flow, trigger_id);
        let stop = trigger
            .stop_after
            .iter()
            .any(|s| s == execution.state.current().as_str());
        let Some(mut record) = self.lease(&k, now).await? else {
            // Another process holds the record (the webserver's API, another scheduler): this
            // end must not be lost, or the schedule would wait for its execution for ever.
            if self.inner.store.get_trigger(&k).await?.is_some() {
                self.hear_end_again(execution.clone());
            }
            return Ok(());
        };
        let mut state = ScheduleState::from_context(&record.context);
        if state.execution_id.as_deref() == Some(execution.id.as_str()) {
            state.execution_id = None;
            let entry = self.reg().schedules.get(&k).cloned();
            if let Some((flow, spec)) = entry
                && state.backfill.is_none()
            {
                // A long run may have blocked ticks: recover them per the trigger's setting.
                let ok = self.accepts(&flow, &spec);
                record.next_execution_date = spec.recover(record.next_execution_date, now, &ok)?;
            }
            state.write(&mut record.context);
        }
        if stop {
            record.disabled = true;
        }
        if trigger.canonical == SCHEDULE {
            self.set_wake(&k, &record, now);
        }
        self.release(record, now).await
    }

    async fn fire_flow_triggers(
        &self,
        upstream: &Execution,
        now: Instant,
    ) -> Result<(), TriggerError> {
        let flows: Vec<Arc<Flow>> = self.reg().listeners.values().cloned().collect();
        if flows.is_empty() {
            return Ok(());
        }
        let upstream_flow = self
            .reg()
            .flows
            .get(&(upstream.namespace.clone(), upstream.flow_id.clone()))
            .cloned();
        // The upstream execution's own variables (execution, outputs, labels, inputs, flow).
        let base = match &upstream_flow {
            Some(f) => {
                saker_engine::render_context(f, upstream, None, None, self.inner.services.as_ref())
            }
            None => serde_json::json!({
                "execution": {"id": upstream.id.as_str()},
                "labels": saker_core::label::labels_to_nested_map(&upstream.labels),
            }),
        };
        for flow in flows {
            for trigger in flow
                .triggers
                .iter()
                .filter(|t| t.canonical == FLOW && !t.disabled)
            {
                let k = key(&flow, &trigger.id);
                if let Err(e) = self
                    .fire_one(&flow, trigger, &k, upstream, &base, now)
                    .await
                {
                    self.inner.launcher.warn(
                        &k.namespace,
                        &k.flow_id,
                        &k.trigger_id,
                        &e.to_string(),
                    );
                }
            }
        }
        Ok(())
    }

    async fn fire_one(
        &self,
        flow: &Arc<Flow>,
        trigger: &saker_flow::Trigger,
        k: &TriggerKey,
        upstream: &Execution,
        base: &Value,
        now: Instant,
    ) -> Result<(), TriggerError> {
        let spec = FlowTriggerSpec::from_trigger(trigger)?;
        // Cheap checks first: most executions concern no trigger.
        if !spec.states.contains(&upstream.state.current())
            || (upstream.namespace == flow.namespace && upstream.flow_id == flow.id)
        {
            return Ok(());
        }
        if spec.multiples.is_empty() {
            // Stateless: no lease, no write unless it fires.
            if self
                .inner
                .store
                .get_trigger(k)
                .await?
                .is_some_and(|r| r.disabled)
            {
                return Ok(());
            }
            let cx = CondCx {
                engine: &self.inner.engine,
                services: self.inner.services.as_ref(),
                vars: base,
                flow_namespace: &flow.namespace,
                flow_id: &flow.id,
                execution: Some(upstream),
            };
            let fired = spec.evaluate(&cx, &mut BTreeMap::new(), now)?;
            return match fired {
                Some(variables) => {
                    self.launch_flow_trigger(flow, trigger, &spec, k, upstream, base, variables)
                        .await
                }
                None => Ok(()),
            };
        }
        let record = match self.lease(k, now).await? {
            Some(r) => r,
            None if self.inner.store.get_trigger(k).await?.is_none() => {
                let record = TriggerRecord {
                    key: k.clone(),
                    next_execution_date: None,
                    disabled: spec.disabled,
                    context: Value::Object(Map::new()),
                    lease_owner: None,
                    lease_until: None,
                    updated: now,
                };
                self.inner.store.put_trigger(&record).await?;
                match self.lease(k, now).await? {
                    Some(r) => r,
                    None => return Ok(()),
                }
            }
            None => {
                return Err(TriggerError::Storage(format!(
                    "trigger {} is leased by another scheduler",
                    k.trigger_id
                )));
            }
        };
        let mut record = record;
        if record.disabled {
            return self.release(record, now).await;
        }
        let mut windows: BTreeMap<String, WindowState> = record
            .context
            .get("windows")
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default();
        let cx = CondCx {
            engine: &self.inner.engine,
            services: self.inner.services.as_ref(),
            vars: base,
            flow_namespace: &flow.namespace,
            flow_id: &flow.id,
            execution: Some(upstream),
        };
        let fired = spec.evaluate(&cx, &mut windows, now);
        if let Value::Object(ctx) = &mut record.context {
            ctx.insert(
                "windows".into(),
                serde_json::to_value(&windows).unwrap_or_default(),
            );
        }
        // Commit the windows before acting.
        self.release(record, now).await?;
        match fired? {
            Some(variables) => {
                self.launch_flow_trigger(flow, trigger, &spec, k, upstream, base, variables)
                    .await
            }
            None => Ok(()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn launch_flow_trigger(
        &self,
        flow: &Arc<Flow>,
        trigger: &saker_flow::Trigger,
        spec: &FlowTriggerSpec,
        k: &TriggerKey,
        upstream: &Execution,
        base: &Value,
        variables: Map<String, Value>,
    ) -> Result<(), TriggerError> {
        let vars = conditions::with_trigger(base, &variables);
        let Ok(inputs) = flow_trigger::render_inputs(
            &spec.inputs,
            &self.inner.engine,
            &vars,
            self.inner.services.as_ref(),
        ) else {
            self.inner.launcher.warn(
                &k.namespace,
                &k.flow_id,
                &k.trigger_id,
                &format!(
                    "Failed to trigger flow {}.{} for trigger {}, invalid inputs",
                    flow.namespace, flow.id, trigger.id
                ),
            );
            return Ok(());
        };
        self.inner
            .launcher
            .launch(LaunchRequest {
                flow: flow.clone(),
                trigger_id: trigger.id.clone(),
                trigger_type: FLOW,
                variables,
                inputs,
                labels: flow_trigger::created_labels(&spec.labels, upstream),
                schedule_date: None,
                validate_inputs: false,
            })
            .await
            .map(drop)
            .map_err(TriggerError::Launch)
    }

    /// Handles a webhook call to a flow this scheduler has loaded.
    pub async fn webhook(
        &self,
        namespace: &str,
        flow_id: &str,
        key_text: &str,
        request: &WebhookRequest,
    ) -> Result<WebhookOutcome, TriggerError> {
        let flow = self
            .reg()
            .flows
            .get(&(namespace.to_owned(), flow_id.to_owned()))
            .cloned();
        self.webhook_of(flow, key_text, request).await
    }

    /// Handles a webhook call to `flow`, the latest revision of the flow the call names
    /// (`None`: no such flow, or deleted), wherever it was read: the server reads it from the
    /// store, so a process that runs no triggers (the webserver component) answers as one that
    /// does. A disabled flow is not found, as a flow the scheduler has not loaded.
    pub async fn webhook_of(
        &self,
        flow: Option<Arc<Flow>>,
        key_text: &str,
        request: &WebhookRequest,
    ) -> Result<WebhookOutcome, TriggerError> {
        let Some(flow) = flow.filter(|f| !f.disabled && !f.deleted) else {
            return Ok(WebhookOutcome::FlowNotFound);
        };
        let Some(trigger) = webhook::find_trigger(
            &flow,
            key_text,
            &self.inner.engine,
            self.inner.services.as_ref(),
        )?
        else {
            return Ok(WebhookOutcome::WebhookNotFound);
        };
        let k = key(&flow, &trigger.id);
        if self
            .inner
            .store
            .get_trigger(&k)
            .await?
            .is_some_and(|r| r.disabled)
        {
            return Ok(WebhookOutcome::WebhookNotFound);
        }
        let variables = request.variables();
        let vars = conditions::with_trigger(&webhook::flow_vars(&flow), &variables);
        let cx = CondCx {
            engine: &self.inner.engine,
            services: self.inner.services.as_ref(),
            vars: &vars,
            flow_namespace: &flow.namespace,
            flow_id: &flow.id,
            execution: None,
        };
        if !conditions::all(&trigger.conditions, &cx)? {
            return Ok(WebhookOutcome::ConditionsFalse);
        }
        let raw_inputs = trigger
            .params
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let inputs = flow_trigger::render_inputs(
            &raw_inputs,
            &self.inner.engine,
            &vars,
            self.inner.services.as_ref(),
        )?;
        let (wait, return_outputs) = webhook::reply_mode(trigger);
        let execution = self
            .inner
            .launcher
            .launch(LaunchRequest {
                flow: flow.clone(),
                trigger_id: trigger.id.clone(),
                trigger_type: WEBHOOK,
                variables,
                inputs,
                labels: trigger
                    .labels
                    .iter()
                    .map(|l| Label::new(&l.key, &l.value))
                    .collect(),
                schedule_date: None,
                validate_inputs: true,
            })
            .await
            .map_err(TriggerError::Launch)?;
        Ok(WebhookOutcome::Created {
            execution: Box::new(execution),
            wait,
            return_outputs,
        })
    }

    /// The flow of trigger `k` and, for a Schedule, its definition: as loaded when this process
    /// runs the triggers; otherwise (the webserver component: the scheduler component runs
    /// them) from the latest stored revision, as a scheduler loading it would read it.
    async fn definition(
        &self,
        k: &TriggerKey,
    ) -> Result<(Option<Arc<Flow>>, Option<Arc<ScheduleSpec>>), TriggerError> {
        {
            let reg = self.reg();
            if reg.loaded {
                let flow = reg
                    .flows
                    .get(&(k.namespace.clone(), k.flow_id.clone()))
                    .cloned();
                let spec = reg.schedules.get(k).map(|(_, spec)| spec.clone());
                return Ok((flow, spec));
            }
        }
        let flow = self
            .inner
            .launcher
            .stored_flow(&k.namespace, &k.flow_id)
            .await
            .map_err(TriggerError::Storage)?
            .filter(|f| !f.disabled && !f.deleted);
        let spec = flow
            .as_ref()
            .and_then(|f| {
                f.triggers
                    .iter()
                    .find(|t| t.id == k.trigger_id && t.canonical == SCHEDULE)
            })
            .and_then(|t| ScheduleSpec::from_trigger(t, self.inner.config.default_recover).ok())
            .map(Arc::new);
        Ok((flow, spec))
    }

    /// Takes trigger `k`'s lease for an API operation, this process's evaluations kept out
    /// (the guard). Another process may hold it for an evaluation (the scheduler component,
    /// when this is the webserver's API): waits [`API_LEASE_WAIT`] at most. `None`: the trigger
    /// has no record.
    async fn lease_for_api(
        &self,
        k: &TriggerKey,
    ) -> Result<Option<(tokio::sync::MutexGuard<'_, ()>, TriggerRecord, Instant)>, TriggerError>
    {
        let deadline = tokio::time::Instant::now() + API_LEASE_WAIT;
        loop {
            let op = self.inner.op.lock().await;
            let now = self.inner.clock.now();
            if let Some(record) = self.lease(k, now).await? {
                return Ok(Some((op, record, now)));
            }
            drop(op);
            if self.inner.store.get_trigger(k).await?.is_none() {
                return Ok(None);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TriggerError::Storage(format!(
                    "trigger {} is being evaluated, try again",
                    k.trigger_id
                )));
            }
            tokio::time::sleep(API_LEASE_RETRY).await;
        }
    }

    /// After an API operation changed trigger `k`'s record in a process that does not run the
    /// triggers: the store tells the one that does, which reads the record again (a backfill to
    /// start, a trigger enabled or unlocked must not wait for the date it had in mind).
    async fn tell_runner(&self, k: &TriggerKey) {
        if self.reg().loaded {
            return;
        }
        if let Err(e) = self.inner.store.trigger_changed(k).await {
            self.inner.launcher.warn(
                &k.namespace,
                &k.flow_id,
                &k.trigger_id,
                &format!(
                    "the scheduler was not told of this change ({e}): it sees it at its next \
                     look at every trigger"
                ),
            );
        }
    }

    /// Runs `change` on a trigger's record under its lease (API operations).
    async fn with_record(
        &self,
        k: &TriggerKey,
        change: impl FnOnce(&mut TriggerRecord, Instant) -> Result<(), TriggerError>,
    ) -> Result<TriggerRecord, TriggerError> {
        let Some((op, mut record, now)) = self.lease_for_api(k).await? else {
            return Err(TriggerError::Invalid(format!(
                "trigger {}.{}.{} not found",
                k.namespace, k.flow_id, k.trigger_id
            )));
        };
        let result = change(&mut record, now);
        self.set_wake(k, &record, now);
        let out = record.clone();
        self.release(record, now).await?;
        drop(op);
        result?;
        self.inner.notify.notify_one();
        self.tell_runner(k).await;
        Ok(TriggerRecord {
            lease_owner: None,
            lease_until: None,
            updated: now,
            ..out
        })
    }

    /// Starts a backfill (Kestra refuses a second one while one is running).
    pub async fn set_backfill(
        &self,
        k: &TriggerKey,
        start: Instant,
        end: Option<Instant>,
        inputs: Map<String, Value>,
        labels: Option<&Value>,
    ) -> Result<TriggerRecord, TriggerError> {
        if self.definition(k).await?.1.is_none() {
            return Err(TriggerError::Invalid(format!(
                "trigger {} is not a Schedule trigger",
                k.trigger_id
            )));
        }
        let labels = labels.cloned();
        self.with_record(k, move |record, now| {
            let mut state = ScheduleState::from_context(&record.context);
            if state.backfill.is_some() {
                return Err(TriggerError::Invalid(
                    "a backfill is already running for this trigger".into(),
                ));
            }
            state.backfill = Some(Backfill::new(start, end, inputs, labels.as_ref(), now)?);
            state.write(&mut record.context);
            Ok(())
        })
        .await
    }

    /// Pauses (`true`) or resumes a backfill.
    pub async fn pause_backfill(
        &self,
        k: &TriggerKey,
        paused: bool,
    ) -> Result<TriggerRecord, TriggerError> {
        self.with_record(k, move |record, _| {
            let mut state = ScheduleState::from_context(&record.context);
            let b = state
                .backfill
                .as_mut()
                .ok_or_else(|| TriggerError::Invalid("no backfill on this trigger".into()))?;
            b.paused = paused;
            state.write(&mut record.context);
            Ok(())
        })
        .await
    }

    /// Deletes a backfill; normal scheduling resumes from now.
    pub async fn delete_backfill(&self, k: &TriggerKey) -> Result<TriggerRecord, TriggerError> {
        let spec = self.definition(k).await?.1;
        self.with_record(k, move |record, now| {
            let mut state = ScheduleState::from_context(&record.context);
            if state.backfill.take().is_none() {
                return Err(TriggerError::Invalid("no backfill on this trigger".into()));
            }
            if let Some(spec) = &spec {
                record.next_execution_date = spec.cron.next_after(now);
            }
            state.write(&mut record.context);
            Ok(())
        })
        .await
    }

    /// Enables or disables a trigger (overrides the YAML until the schedule's timing changes).
    /// Re-enabling a schedule applies `recoverMissedSchedules`.
    pub async fn set_disabled(
        &self,
        k: &TriggerKey,
        disabled: bool,
    ) -> Result<TriggerRecord, TriggerError> {
        let entry = match self.definition(k).await? {
            (Some(flow), Some(spec)) => Some((flow, spec)),
            _ => None,
        };
        let this = self.clone();
        self.with_record(k, move |record, now| {
            let was = record.disabled;
            record.disabled = disabled;
            if was
                && !disabled
                && let Some((flow, spec)) = &entry
            {
                let ok = this.accepts(flow, spec);
                record.next_execution_date = spec.recover(record.next_execution_date, now, &ok)?;
            }
            Ok(())
        })
        .await
    }

    /// Deletes a trigger's state (Kestra's trigger delete): the trigger of a loaded flow starts
    /// over from now, as when its flow is first saved (its last date, running execution and
    /// backfill are forgotten). `false` when it had no state.
    pub async fn delete_trigger(&self, k: &TriggerKey) -> Result<bool, TriggerError> {
        // Not while another scheduler evaluates it: its write would bring the state back.
        let Some((op, record, now)) = self.lease_for_api(k).await? else {
            return Ok(false);
        };
        let (flow, spec) = match self.definition(k).await {
            Ok(definition) => definition,
            Err(e) => {
                self.release(record, now).await?;
                return Err(e);
            }
        };
        self.inner.store.delete_trigger(k).await?;
        self.reg().wake.remove(k);
        match (&flow, spec) {
            (Some(flow), Some(spec)) => self.sync_schedule(k, flow, &spec, now).await?,
            (Some(flow), None) => {
                if let Some(trigger) = flow.triggers.iter().find(|t| t.id == k.trigger_id) {
                    self.inner
                        .store
                        .put_trigger(&TriggerRecord {
                            key: k.clone(),
                            next_execution_date: None,
                            disabled: trigger.disabled,
                            context: Value::Object(Map::new()),
                            lease_owner: None,
                            lease_until: None,
                            updated: now,
                        })
                        .await?;
                }
            }
            (None, _) => {}
        }
        drop(op);
        self.inner.notify.notify_one();
        self.tell_runner(k).await;
        Ok(true)
    }

    /// Forgets the running execution of a trigger (Kestra's "unlock").
    pub async fn unlock(&self, k: &TriggerKey) -> Result<TriggerRecord, TriggerError> {
        self.with_record(k, |record, _| {
            let mut state = ScheduleState::from_context(&record.context);
            state.execution_id = None;
            state.launching = None;
            state.write(&mut record.context);
            Ok(())
        })
        .await
    }
}

//! The worker job queue: how the executor hands runnable attempts to workers that may live in
//! other processes, and how their reports (RUNNING, log lines, the final state) come back.
//!
//! - [`JobQueue`] is the contract; [`MemoryQueue`] keeps it in memory (one process, tests),
//!   `saker-queue-pg` keeps it in PostgreSQL (`FOR UPDATE SKIP LOCKED` claims, `LISTEN/NOTIFY`
//!   wake-ups). Without a queue the executor spawns attempts itself (no queue at all, the
//!   lowest latency), which is what `saker flow test` and a single `server local` do.
//! - A claim carries a lease (owner, expiry) the worker renews while the attempt runs; a job
//!   whose lease expired is claimable again: delivery is at-least-once. Only the holder of the
//!   current lease can complete a job, and the engine ignores a result for a task run that
//!   already ended, so no task run is completed twice.
//! - A job row is deleted when its final report is queued, a report row when the executor
//!   takes it: the queue only holds work in flight.
//! - [`run_worker`] is the worker: it claims jobs up to its thread count, runs each attempt
//!   exactly as the in-process path does ([`crate::worker::attempt`]), renews leases, stops an
//!   attempt whose kill was requested or whose lease was lost.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saker_core::{ExecutionId, JsonMap, StateType, TaskRunId};
use saker_engine::{Event, TaskRunResult};
use saker_storage::{LogEntry, Store};
use saker_task::{Level, TaskRunInfo, TaskRunnerDef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::{Msg, Runtime, host};

/// A boxed future: the queue is used as `Arc<dyn JobQueue>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long a claim lasts without a heartbeat, by default (`--lease`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How often idle workers and the executor look at the queue when no notification came (a
/// fallback for lost notifications and expired leases, not the normal path).
pub const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// A queue failure (the database is unreachable, a payload does not decode...).
#[derive(Debug, Clone, thiserror::Error)]
#[error("job queue: {0}")]
pub struct QueueError(pub String);

/// Everything a worker needs to run one attempt: the payload is self-contained, so a worker
/// needs neither the flow nor the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerJob {
    pub execution_id: String,
    pub task_run_id: String,
    pub task_id: String,
    pub task_type: String,
    pub namespace: String,
    pub flow_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub attempt: u32,
    /// The task's raw properties (rendered by the worker).
    pub params: JsonMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// The render context of the task, in clear when the flow has no SECRET input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
    /// The render context and the decrypted SECRET input values (to mask), as the JSON
    /// `[variables, [secret...]]` encrypted with the server's encryption key: decrypted SECRET
    /// inputs are never written in clear into the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_runner: Option<(String, JsonMap)>,
    pub max_output_size: usize,
    /// The execution's ERROR log lines so far (`errorLogs()`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_logs: Vec<Value>,
}

/// What a worker sends back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Report {
    #[serde(rename_all = "camelCase")]
    Running {
        execution_id: String,
        task_run_id: String,
        worker_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Ended {
        execution_id: String,
        task_run_id: String,
        state: StateType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outputs: Option<JsonMap>,
    },
    Log {
        entry: LogEntry,
    },
}

impl Report {
    /// The execution the report is about.
    pub fn execution_id(&self) -> &str {
        match self {
            Report::Running { execution_id, .. } | Report::Ended { execution_id, .. } => {
                execution_id
            }
            Report::Log { entry } => &entry.execution_id,
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The job's id in the queue (what heartbeats and completion name).
    pub id: i64,
    pub job: WorkerJob,
    /// A kill was requested before the claim: the worker reports KILLED without running it.
    pub killed: bool,
}

/// A live worker, as it reports itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    pub id: String,
    pub hostname: String,
    pub threads: u32,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub heartbeat_at: i64,
}

/// Wake-ups of a queue: each counter moves when something may be waiting. A `watch`
/// receiver never misses a change made between two looks.
#[derive(Clone)]
pub struct Signals {
    pub jobs: watch::Receiver<u64>,
    pub reports: watch::Receiver<u64>,
    pub kills: watch::Receiver<u64>,
}

/// The senders behind [`Signals`], for implementations.
pub struct SignalSenders {
    pub jobs: watch::Sender<u64>,
    pub reports: watch::Sender<u64>,
    pub kills: watch::Sender<u64>,
}

impl Default for SignalSenders {
    fn default() -> Self {
        SignalSenders {
            jobs: watch::channel(0).0,
            reports: watch::channel(0).0,
            kills: watch::channel(0).0,
        }
    }
}

impl SignalSenders {
    pub fn subscribe(&self) -> Signals {
        Signals {
            jobs: self.jobs.subscribe(),
            reports: self.reports.subscribe(),
            kills: self.kills.subscribe(),
        }
    }

    pub fn bump(sender: &watch::Sender<u64>) {
        sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn bump_all(&self) {
        Self::bump(&self.jobs);
        Self::bump(&self.reports);
        Self::bump(&self.kills);
    }
}

/// The worker job queue (see the module documentation).
pub trait JobQueue: Send + Sync + 'static {
    /// Queues a job; a job for a task run already queued is not added twice (an executor that
    /// restarts re-dispatches its running task runs).
    fn submit(&self, job: WorkerJob) -> BoxFuture<'_, Result<(), QueueError>>;

    /// Claims up to `max` jobs for `worker`, oldest first: unclaimed ones and ones whose lease
    /// expired. Concurrent claimers never get the same job.
    fn claim<'a>(
        &'a self,
        worker: &'a str,
        max: usize,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<Claim>, QueueError>>;

    /// Extends the leases of `jobs` held by `worker`; returns those to stop: killed, or no
    /// longer held (the lease expired and another worker took the job).
    fn heartbeat<'a>(
        &'a self,
        worker: &'a str,
        jobs: &'a [i64],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Vec<i64>, QueueError>>;

    /// Queues reports of running jobs (RUNNING, log lines).
    fn report(&self, reports: Vec<Report>) -> BoxFuture<'_, Result<(), QueueError>>;

    /// Ends job `job`: deletes it and queues its final `report` atomically, only while `worker`
    /// still holds it. `false`: the lease was lost, the report is dropped.
    fn complete<'a>(
        &'a self,
        worker: &'a str,
        job: i64,
        report: Report,
    ) -> BoxFuture<'a, Result<bool, QueueError>>;

    /// Requests the kill of the job of `task_run_id` (nothing when it is done).
    fn kill<'a>(&'a self, task_run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Takes (deletes) up to `max` reports, oldest first.
    fn take_reports(&self, max: usize) -> BoxFuture<'_, Result<Vec<Report>, QueueError>>;

    /// Takes (deletes) up to `max` reports, oldest first, of the executions `executor` owns
    /// or nobody owns (several executors share the queue: a report goes to the owner of its
    /// execution, see [`crate::inbox`]). A queue that knows no owners takes every report.
    fn take_reports_for<'a>(
        &'a self,
        executor: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<Vec<Report>, QueueError>> {
        let _ = executor;
        self.take_reports(max)
    }

    /// How many job rows and report rows the queue holds.
    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>>;

    /// Records that `worker` is alive (its heartbeat).
    fn worker_alive<'a>(&'a self, worker: &'a WorkerInfo) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Removes `worker` from the live workers (a clean stop).
    fn worker_gone<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), QueueError>>;

    /// Workers whose heartbeat is younger than `within`.
    fn live_workers(&self, within: Duration) -> BoxFuture<'_, Result<Vec<WorkerInfo>, QueueError>>;

    /// The wake-ups of this queue.
    fn signals(&self) -> Signals;
}

/// The in-memory queue (one process).
#[derive(Default)]
pub struct MemoryQueue {
    inner: Mutex<MemoryInner>,
    signals: SignalSenders,
}

#[derive(Default)]
struct MemoryInner {
    next: i64,
    jobs: std::collections::BTreeMap<i64, MemoryJob>,
    reports: std::collections::VecDeque<Report>,
    workers: HashMap<String, (WorkerInfo, tokio::time::Instant)>,
}

struct MemoryJob {
    job: WorkerJob,
    owner: Option<String>,
    until: tokio::time::Instant,
    killed: bool,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl JobQueue for MemoryQueue {
    fn submit(&self, job: WorkerJob) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            {
                let mut inner = self.lock();
                if inner
                    .jobs
                    .values()
                    .any(|j| j.job.task_run_id == job.task_run_id)
                {
                    return Ok(());
                }
                inner.next += 1;
                let id = inner.next;
                let until = tokio::time::Instant::now();
                inner.jobs.insert(
                    id,
                    MemoryJob {
                        job,
                        owner: None,
                        until,
                        killed: false,
                    },
                );
            }
            SignalSenders::bump(&self.signals.jobs);
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
            let now = tokio::time::Instant::now();
            let mut inner = self.lock();
            let mut claims = Vec::new();
            for (id, row) in inner.jobs.iter_mut() {
                if claims.len() >= max {
                    break;
                }
                if row.owner.is_some() && row.until > now {
                    continue;
                }
                row.owner = Some(worker.to_owned());
                row.until = now + lease;
                claims.push(Claim {
                    id: *id,
                    job: row.job.clone(),
                    killed: row.killed,
                });
            }
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
            let now = tokio::time::Instant::now();
            let mut inner = self.lock();
            let mut stop = Vec::new();
            for id in jobs {
                match inner.jobs.get_mut(id) {
                    Some(row) if row.owner.as_deref() == Some(worker) => {
                        row.until = now + lease;
                        if row.killed {
                            stop.push(*id);
                        }
                    }
                    _ => stop.push(*id),
                }
            }
            Ok(stop)
        })
    }

    fn report(&self, reports: Vec<Report>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            if reports.is_empty() {
                return Ok(());
            }
            self.lock().reports.extend(reports);
            SignalSenders::bump(&self.signals.reports);
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
            {
                let mut inner = self.lock();
                let held = inner
                    .jobs
                    .get(&job)
                    .is_some_and(|row| row.owner.as_deref() == Some(worker));
                if !held {
                    return Ok(false);
                }
                inner.jobs.remove(&job);
                inner.reports.push_back(report);
            }
            SignalSenders::bump(&self.signals.reports);
            Ok(true)
        })
    }

    fn kill<'a>(&'a self, task_run_id: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            for row in inner.jobs.values_mut() {
                if row.job.task_run_id == task_run_id {
                    row.killed = true;
                }
            }
            drop(inner);
            SignalSenders::bump(&self.signals.kills);
            Ok(())
        })
    }

    fn take_reports(&self, max: usize) -> BoxFuture<'_, Result<Vec<Report>, QueueError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            let n = max.min(inner.reports.len());
            Ok(inner.reports.drain(..n).collect())
        })
    }

    fn depth(&self) -> BoxFuture<'_, Result<(usize, usize), QueueError>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok((inner.jobs.len(), inner.reports.len()))
        })
    }

    fn worker_alive<'a>(&'a self, worker: &'a WorkerInfo) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            let mut info = worker.clone();
            info.heartbeat_at = host::now().timestamp_millis();
            self.lock()
                .workers
                .insert(worker.id.clone(), (info, tokio::time::Instant::now()));
            Ok(())
        })
    }

    fn worker_gone<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), QueueError>> {
        Box::pin(async move {
            self.lock().workers.remove(worker);
            Ok(())
        })
    }

    fn live_workers(&self, within: Duration) -> BoxFuture<'_, Result<Vec<WorkerInfo>, QueueError>> {
        Box::pin(async move {
            let inner = self.lock();
            let mut live: Vec<WorkerInfo> = inner
                .workers
                .values()
                .filter(|(_, at)| at.elapsed() < within)
                .map(|(info, _)| info.clone())
                .collect();
            live.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(live)
        })
    }

    fn signals(&self) -> Signals {
        self.signals.subscribe()
    }
}

/// Builds the queue payload of one attempt; `secret_inputs` are the decrypted SECRET input
/// values in `variables` (the payload is then sealed with `encryption_key`).
pub(crate) fn job_payload(
    job: &crate::worker::Job,
    error_logs: Option<&Arc<Vec<Value>>>,
    secret_inputs: &[String],
    encryption_key: Option<&str>,
) -> Result<WorkerJob, String> {
    let (variables, sealed) = if secret_inputs.is_empty() {
        (Some(job.variables.clone()), None)
    } else {
        let key = encryption_key.ok_or_else(|| {
            "a flow with SECRET inputs needs an encryption key to run on remote workers".to_owned()
        })?;
        let text =
            serde_json::to_string(&(&job.variables, secret_inputs)).map_err(|e| e.to_string())?;
        (None, Some(saker_expr::crypto::encrypt(key, &text)?))
    };
    Ok(WorkerJob {
        execution_id: job.info.execution_id.as_str().to_owned(),
        task_run_id: job.info.task_run_id.as_str().to_owned(),
        task_id: job.info.task_id.clone(),
        task_type: job.info.task_type.clone(),
        namespace: job.info.namespace.clone(),
        flow_id: job.info.flow_id.clone(),
        value: job.info.value.clone(),
        attempt: job.info.attempt,
        params: job.params.clone(),
        timeout: job.timeout.clone(),
        variables,
        sealed,
        task_runner: job
            .task_runner
            .as_ref()
            .map(|r| (r.type_name.clone(), r.params.clone())),
        max_output_size: job.max_output_size,
        error_logs: error_logs.map(|l| l.as_ref().clone()).unwrap_or_default(),
    })
}

/// The attempt of a payload, with the secret input values to mask; `Err`: the payload cannot
/// be opened here (no or another encryption key).
fn open_payload(
    job: WorkerJob,
    encryption_key: Option<&str>,
) -> Result<(crate::worker::Job, Vec<String>), String> {
    let (variables, secrets) = match (job.variables, job.sealed) {
        (_, Some(sealed)) => {
            let key = encryption_key.ok_or_else(|| {
                "this job carries SECRET inputs: the worker needs the server's encryption key"
                    .to_owned()
            })?;
            let text = saker_expr::crypto::decrypt(key, &sealed).map_err(|e| {
                format!("cannot open the job (is the worker's encryption key the server's?): {e}")
            })?;
            serde_json::from_str::<(Value, Vec<String>)>(&text).map_err(|e| e.to_string())?
        }
        (Some(variables), None) => (variables, Vec::new()),
        (None, None) => (Value::Object(JsonMap::new()), Vec::new()),
    };
    let info = TaskRunInfo {
        execution_id: ExecutionId::from(job.execution_id),
        task_run_id: TaskRunId::from(job.task_run_id),
        task_id: job.task_id,
        task_type: job.task_type,
        namespace: job.namespace,
        flow_id: job.flow_id,
        value: job.value,
        attempt: job.attempt,
    };
    let attempt = crate::worker::Job {
        info,
        params: job.params,
        timeout: job.timeout,
        variables,
        task_runner: job
            .task_runner
            .map(|(type_name, params)| TaskRunnerDef { type_name, params }),
        max_output_size: job.max_output_size,
    };
    Ok((attempt, secrets))
}

/// Turns queue reports into the loop's messages until the loop stops: the executor side.
/// With an `owner` (an executor among several), only the reports of its executions.
pub(crate) async fn pump_reports(
    queue: Arc<dyn JobQueue>,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    owner: Option<String>,
) {
    let mut signals = queue.signals();
    let mut failing = false;
    loop {
        let taken = match &owner {
            Some(owner) => queue.take_reports_for(owner, 512).await,
            None => queue.take_reports(512).await,
        };
        match taken {
            Ok(reports) if !reports.is_empty() => {
                failing = false;
                for report in reports {
                    let msg = match report {
                        Report::Running {
                            execution_id,
                            task_run_id,
                            worker_id,
                        } => {
                            let mut result = TaskRunResult::running(TaskRunId::from(task_run_id));
                            result.worker_id = Some(worker_id);
                            Msg::Event(
                                ExecutionId::from(execution_id),
                                Event::TaskRunResult(result),
                            )
                        }
                        Report::Ended {
                            execution_id,
                            task_run_id,
                            state,
                            outputs,
                        } => Msg::Event(
                            ExecutionId::from(execution_id),
                            Event::TaskRunResult(TaskRunResult::ended(
                                TaskRunId::from(task_run_id),
                                state,
                                outputs,
                            )),
                        ),
                        Report::Log { entry } => Msg::Log(entry),
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                continue;
            }
            Ok(_) => failing = false,
            Err(error) => {
                // Reported once per outage; the poll below retries.
                if !failing {
                    eprintln!("error: taking worker reports: {error}");
                }
                failing = true;
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::select! {
            _ = signals.reports.changed() => {}
            () = tokio::time::sleep(FALLBACK_POLL) => {}
            () = tx.closed() => return,
        }
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's id (unique per process).
    pub id: String,
    /// How many attempts run at once.
    pub threads: usize,
    /// How long a claim lasts without a heartbeat; heartbeats go every third of it.
    pub lease: Duration,
}

impl WorkerConfig {
    pub fn new(threads: usize) -> Self {
        let host = hostname();
        WorkerConfig {
            id: format!("{host}-{}", uuid::Uuid::new_v4().simple()),
            threads: threads.max(1),
            lease: DEFAULT_LEASE,
        }
    }
}

pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Claims and runs jobs of `queue` until `stop` is cancelled (running attempts are then
/// finished first). The attempts use `rt`'s storage, KV store, secrets and encryption key:
/// the worker must share the server's configuration.
pub async fn run_worker<S: Store>(
    rt: Runtime<S>,
    queue: Arc<dyn JobQueue>,
    config: WorkerConfig,
    stop: CancellationToken,
) -> Result<(), QueueError> {
    let running: Arc<Mutex<HashMap<i64, CancellationToken>>> = Arc::default();
    let freed = Arc::new(Notify::new());
    let info = WorkerInfo {
        id: config.id.clone(),
        hostname: hostname(),
        threads: config.threads as u32,
        heartbeat_at: 0,
    };
    queue.worker_alive(&info).await?;
    let beats = tokio::spawn(heartbeats(
        queue.clone(),
        info.clone(),
        config.lease,
        running.clone(),
        stop.clone(),
    ));
    let mut signals = queue.signals();
    let mut tasks = tokio::task::JoinSet::new();
    let mut failing = false;
    while !stop.is_cancelled() {
        while tasks.try_join_next().is_some() {}
        let free = config
            .threads
            .saturating_sub(running.lock().map_or(0, |r| r.len()));
        let mut full_batch = false;
        if free > 0 {
            match queue.claim(&config.id, free, config.lease).await {
                Ok(claims) => {
                    failing = false;
                    full_batch = claims.len() == free;
                    for claim in claims {
                        let cancel = CancellationToken::new();
                        if claim.killed {
                            cancel.cancel();
                        }
                        if let Ok(mut r) = running.lock() {
                            r.insert(claim.id, cancel.clone());
                        }
                        let (rt, queue, id) = (rt.clone(), queue.clone(), config.id.clone());
                        let (running, freed) = (running.clone(), freed.clone());
                        tasks.spawn(async move {
                            let job = claim.id;
                            run_claim(rt, queue, id, claim, cancel).await;
                            if let Ok(mut r) = running.lock() {
                                r.remove(&job);
                            }
                            freed.notify_one();
                        });
                    }
                }
                Err(error) => {
                    if !failing {
                        eprintln!("error: claiming jobs: {error}");
                    }
                    failing = true;
                }
            }
        }
        if full_batch {
            continue;
        }
        tokio::select! {
            _ = signals.jobs.changed(), if free > 0 => {}
            () = freed.notified() => {}
            () = tokio::time::sleep(FALLBACK_POLL) => {}
            () = stop.cancelled() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
    beats.abort();
    let _ = queue.worker_gone(&config.id).await;
    Ok(())
}

/// Renews the leases of the running jobs every third of the lease (and right away when a kill
/// is signalled), cancels those to stop, and keeps the worker's liveness row fresh.
async fn heartbeats(
    queue: Arc<dyn JobQueue>,
    info: WorkerInfo,
    lease: Duration,
    running: Arc<Mutex<HashMap<i64, CancellationToken>>>,
    stop: CancellationToken,
) {
    let mut signals = queue.signals();
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        let ids: Vec<i64> = running
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        if !ids.is_empty() {
            match queue.heartbeat(&info.id, &ids, lease).await {
                Ok(stopped) => {
                    if let Ok(r) = running.lock() {
                        for id in stopped {
                            if let Some(cancel) = r.get(&id) {
                                cancel.cancel();
                            }
                        }
                    }
                }
                Err(error) => eprintln!("error: renewing job leases: {error}"),
            }
        }
        if let Err(error) = queue.worker_alive(&info).await {
            eprintln!("error: worker heartbeat: {error}");
        }
        tokio::select! {
            _ = signals.kills.changed() => {}
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => {
                if running.lock().map_or(true, |r| r.is_empty()) {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
    }
}

/// Runs one claimed job and completes it.
async fn run_claim<S: Store>(
    rt: Runtime<S>,
    queue: Arc<dyn JobQueue>,
    worker: String,
    claim: Claim,
    cancel: CancellationToken,
) {
    let execution_id = claim.job.execution_id.clone();
    let task_run_id = claim.job.task_run_id.clone();
    let ended = |state: StateType, outputs: Option<JsonMap>| Report::Ended {
        execution_id: execution_id.clone(),
        task_run_id: task_run_id.clone(),
        state,
        outputs,
    };
    let final_report = if claim.killed {
        ended(StateType::Killed, None)
    } else {
        let running = Report::Running {
            execution_id: execution_id.clone(),
            task_run_id: task_run_id.clone(),
            worker_id: worker.clone(),
        };
        if let Err(error) = queue.report(vec![running]).await {
            eprintln!("error: reporting a running job: {error}");
        }
        let log_template = LogEntry {
            namespace: claim.job.namespace.clone(),
            flow_id: claim.job.flow_id.clone(),
            task_id: Some(claim.job.task_id.clone()),
            execution_id: execution_id.clone(),
            task_run_id: Some(task_run_id.clone()),
            attempt_number: Some(claim.job.attempt),
            timestamp: host::now(),
            level: Level::Error,
            thread: "worker".to_owned(),
            message: String::new(),
        };
        let error_logs = Arc::new(claim.job.error_logs.clone());
        match open_payload(claim.job, rt.services.encryption_key.as_deref()) {
            Err(message) => {
                let entry = LogEntry {
                    message,
                    ..log_template
                };
                let _ = queue.report(vec![Report::Log { entry }]).await;
                ended(StateType::Failed, None)
            }
            Ok((job, secret_inputs)) => {
                let mut masks = rt.masks.clone();
                if !secret_inputs.is_empty() {
                    let mut all = masks.as_ref().clone();
                    all.extend(secret_inputs);
                    all.sort_by_key(|v| std::cmp::Reverse(v.len()));
                    masks = Arc::new(all);
                }
                let mut services = rt.run_services();
                if !error_logs.is_empty() {
                    services.expr = Arc::new(host::AttemptServices {
                        host: rt.services.clone(),
                        error_logs,
                    });
                }
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let forward = tokio::spawn(forward_logs(queue.clone(), rx));
                let id = ExecutionId::from(execution_id.clone());
                let (state, outputs) =
                    crate::worker::attempt(job, &id, services, masks, cancel, &tx, None).await;
                drop(tx);
                // Every log line of the attempt is queued before its final report.
                let _ = forward.await;
                ended(state, outputs)
            }
        }
    };
    match queue.complete(&worker, claim.id, final_report).await {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "warning: the lease of task run {task_run_id} was lost (another worker runs it): \
             its result is dropped"
        ),
        Err(error) => eprintln!("error: completing task run {task_run_id}: {error}"),
    }
}

/// Sends the attempt's log lines to the queue, in batches of what is waiting.
async fn forward_logs(queue: Arc<dyn JobQueue>, mut rx: tokio::sync::mpsc::UnboundedReceiver<Msg>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let reports: Vec<Report> = batch
            .drain(..)
            .filter_map(|msg| match msg {
                Msg::Log(entry) => Some(Report::Log { entry }),
                _ => None,
            })
            .collect();
        if let Err(error) = queue.report(reports).await {
            eprintln!("error: sending log lines: {error}");
        }
    }
}

/// The behaviours every [`JobQueue`] must show; each backend runs them on a fresh queue.
pub mod suite {
    use super::*;

    fn job(n: usize) -> WorkerJob {
        WorkerJob {
            execution_id: format!("exec{n}"),
            task_run_id: format!("run{n}"),
            task_id: "t".into(),
            task_type: "io.kestra.plugin.core.debug.Return".into(),
            namespace: "ns".into(),
            flow_id: "f".into(),
            value: None,
            attempt: 1,
            params: JsonMap::new(),
            timeout: None,
            variables: Some(serde_json::json!({"n": n})),
            sealed: None,
            task_runner: None,
            max_output_size: 0,
            error_logs: Vec::new(),
        }
    }

    fn ended(n: usize) -> Report {
        Report::Ended {
            execution_id: format!("exec{n}"),
            task_run_id: format!("run{n}"),
            state: StateType::Success,
            outputs: None,
        }
    }

    const LONG: Duration = Duration::from_secs(600);

    /// A job round-trips: claimed with its payload, completed, its report taken once, and
    /// nothing stays in the queue.
    pub async fn round_trip(queue: Arc<dyn JobQueue>) {
        queue.submit(job(1)).await.unwrap();
        queue.submit(job(1)).await.unwrap();
        assert_eq!(
            queue.depth().await.unwrap(),
            (1, 0),
            "a task run is queued once"
        );
        let claims = queue.claim("w1", 10, LONG).await.unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].job, job(1));
        assert!(!claims[0].killed);
        assert!(queue.claim("w2", 10, LONG).await.unwrap().is_empty());
        let log = Report::Log {
            entry: LogEntry {
                namespace: "ns".into(),
                flow_id: "f".into(),
                task_id: Some("t".into()),
                execution_id: "exec1".into(),
                task_run_id: Some("run1".into()),
                attempt_number: Some(1),
                timestamp: host::now(),
                level: Level::Info,
                thread: "worker".into(),
                message: "hello".into(),
            },
        };
        queue.report(vec![log.clone()]).await.unwrap();
        assert!(queue.complete("w1", claims[0].id, ended(1)).await.unwrap());
        assert_eq!(queue.take_reports(10).await.unwrap(), vec![log, ended(1)]);
        assert!(queue.take_reports(10).await.unwrap().is_empty());
        assert_eq!(
            queue.depth().await.unwrap(),
            (0, 0),
            "done rows are deleted"
        );
    }

    /// Many claimers at once never get the same job, and every job is claimed.
    pub async fn concurrent_claims(queue: Arc<dyn JobQueue>) {
        let total = 200;
        for n in 0..total {
            queue.submit(job(n)).await.unwrap();
        }
        let mut claimers = tokio::task::JoinSet::new();
        for w in 0..6 {
            let queue = queue.clone();
            claimers.spawn(async move {
                let worker = format!("w{w}");
                let mut mine = Vec::new();
                loop {
                    let claims = queue.claim(&worker, 3, LONG).await.unwrap();
                    if claims.is_empty() {
                        return mine;
                    }
                    for claim in claims {
                        assert!(queue.complete(&worker, claim.id, ended(0)).await.unwrap());
                        mine.push(claim.job.task_run_id);
                    }
                    tokio::task::yield_now().await;
                }
            });
        }
        let mut all = Vec::new();
        while let Some(mine) = claimers.join_next().await {
            all.extend(mine.unwrap());
        }
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!(claimed, all.len(), "a job was claimed twice");
        assert_eq!(all.len(), total);
        assert_eq!(queue.take_reports(1000).await.unwrap().len(), total);
        assert_eq!(queue.depth().await.unwrap(), (0, 0));
    }

    /// An expired lease makes the job claimable again; the old holder can no longer renew or
    /// complete it; a live lease is kept.
    pub async fn expired_leases(queue: Arc<dyn JobQueue>) {
        queue.submit(job(1)).await.unwrap();
        queue.submit(job(2)).await.unwrap();
        let kept = queue.claim("alive", 1, LONG).await.unwrap();
        let first = queue.claim("dead", 1, Duration::ZERO).await.unwrap();
        assert_eq!((first.len(), kept.len()), (1, 1));
        assert_eq!(kept[0].job.task_run_id, "run1");
        assert_eq!(first[0].job.task_run_id, "run2");
        // The zero lease is over as soon as it is taken.
        let again = queue.claim("other", 10, LONG).await.unwrap();
        assert_eq!(again.len(), 1, "only the expired job is claimable");
        assert_eq!(again[0].job.task_run_id, "run2");
        assert_eq!(
            queue.heartbeat("dead", &[first[0].id], LONG).await.unwrap(),
            vec![first[0].id],
            "the old holder is told to stop"
        );
        assert!(
            queue
                .heartbeat("alive", &[kept[0].id], LONG)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(!queue.complete("dead", first[0].id, ended(2)).await.unwrap());
        assert!(
            queue
                .complete("other", again[0].id, ended(2))
                .await
                .unwrap()
        );
        assert!(queue.complete("alive", kept[0].id, ended(1)).await.unwrap());
        assert_eq!(
            queue.take_reports(10).await.unwrap(),
            vec![ended(2), ended(1)]
        );
        assert_eq!(queue.depth().await.unwrap(), (0, 0));
    }

    /// A kill reaches the holder through its heartbeat (and a signal); a job killed before
    /// its claim comes out marked killed.
    pub async fn kills(queue: Arc<dyn JobQueue>) {
        queue.submit(job(1)).await.unwrap();
        let claims = queue.claim("w", 1, LONG).await.unwrap();
        let mut signals = queue.signals();
        signals.kills.mark_unchanged();
        queue.kill("run1").await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), signals.kills.changed())
            .await
            .expect("a kill wakes the workers")
            .unwrap();
        assert_eq!(
            queue.heartbeat("w", &[claims[0].id], LONG).await.unwrap(),
            vec![claims[0].id]
        );
        queue.submit(job(2)).await.unwrap();
        queue.kill("run2").await.unwrap();
        let claims = queue.claim("w", 1, LONG).await.unwrap();
        assert_eq!(claims.len(), 1);
        assert!(claims[0].killed);
    }

    /// A submitted job and a queued report wake the listeners.
    pub async fn wake_ups(queue: Arc<dyn JobQueue>) {
        let mut signals = queue.signals();
        signals.jobs.mark_unchanged();
        signals.reports.mark_unchanged();
        queue.submit(job(1)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), signals.jobs.changed())
            .await
            .expect("a new job wakes the workers")
            .unwrap();
        queue.report(vec![ended(1)]).await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), signals.reports.changed())
            .await
            .expect("a report wakes the executor")
            .unwrap();
    }

    /// Live workers are listed; a stopped one is not.
    pub async fn workers(queue: Arc<dyn JobQueue>) {
        let info = WorkerInfo {
            id: "w1".into(),
            hostname: "h".into(),
            threads: 4,
            heartbeat_at: 0,
        };
        queue.worker_alive(&info).await.unwrap();
        let live = queue.live_workers(LONG).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].id.as_str(), live[0].threads), ("w1", 4));
        assert!(live[0].heartbeat_at > 0);
        queue.worker_gone("w1").await.unwrap();
        assert!(queue.live_workers(LONG).await.unwrap().is_empty());
    }

    /// Expands the suite for a backend: `$make` is an async expression giving a fresh
    /// `Arc<dyn JobQueue>`.
    #[macro_export]
    macro_rules! queue_suite {
        ($make:expr) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn round_trip() {
                $crate::queue::suite::round_trip($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_claims() {
                $crate::queue::suite::concurrent_claims($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn expired_leases() {
                $crate::queue::suite::expired_leases($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn kills() {
                $crate::queue::suite::kills($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn wake_ups() {
                $crate::queue::suite::wake_ups($make).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn workers() {
                $crate::queue::suite::workers($make).await;
            }
        };
    }
}

#[cfg(test)]
mod memory_tests {
    use std::sync::Arc;

    use super::{JobQueue, MemoryQueue};

    async fn fresh() -> Arc<dyn JobQueue> {
        Arc::new(MemoryQueue::new())
    }

    crate::queue_suite!(fresh().await);
}

//! `/metrics`: Prometheus text format, rendered on our own route.
//!
//! Names follow Kestra's (its Micrometer registry exports them with the `kestra_` prefix, so
//! dashboards written for Kestra keep working); what Kestra has no name for is `saker_…`:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `kestra_executor_execution_started_count_total` | counter | `namespace_id`, `flow_id` |
//! | `kestra_executor_execution_end_count_total` | counter | `namespace_id`, `flow_id`, `state` |
//! | `kestra_executor_execution_duration_seconds` | histogram | `namespace_id`, `flow_id`, `state` |
//! | `kestra_executor_taskrun_ended_count_total` | counter | `namespace_id`, `flow_id`, `task_type`, `state` |
//! | `kestra_executor_taskrun_ended_duration_seconds` | histogram | same |
//! | `kestra_worker_job_running` | gauge | |
//! | `saker_executor_queue_depth` | gauge | |
//! | `saker_executions_running` | gauge | |
//! | `saker_executions_queued` | gauge | |
//! | `http_server_requests_seconds` | histogram | `method`, `uri` (the route template), `status` |
//!
//! Counters come from the changes the service broadcasts ([`watch`]: each loop turn's header and
//! changed task runs, never the whole execution, so a 10,000-run ForEach costs what changed):
//! each change is compared with the previous state seen, so a task run or an execution is counted once
//! when it reaches a terminal state. Executions resumed at start are counted from their next
//! change on. The recorder belongs to the [`crate::App`] (no global recorder): several servers
//! in one process (tests) keep their own figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use saker_core::{Execution, StateType, TaskRun};
use saker_runtime::service::ExecutionDelta;
use saker_storage::Store;
use tokio::sync::broadcast::error::RecvError;

use crate::Shared;

const METADATA: Metadata<'static> = Metadata::new("saker", Level::INFO, Some("saker_server"));

/// Bucket bounds of every `_seconds` histogram: from 5 ms to an hour.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

pub const EXECUTION_STARTED: &str = "kestra_executor_execution_started_count_total";
pub const EXECUTION_ENDED: &str = "kestra_executor_execution_end_count_total";
pub const EXECUTION_DURATION: &str = "kestra_executor_execution_duration_seconds";
pub const TASKRUN_ENDED: &str = "kestra_executor_taskrun_ended_count_total";
pub const TASKRUN_DURATION: &str = "kestra_executor_taskrun_ended_duration_seconds";
pub const WORKER_JOBS_RUNNING: &str = "kestra_worker_job_running";
pub const QUEUE_DEPTH: &str = "saker_executor_queue_depth";
pub const EXECUTIONS_RUNNING: &str = "saker_executions_running";
pub const EXECUTIONS_QUEUED: &str = "saker_executions_queued";
pub const HTTP_REQUESTS: &str = "http_server_requests_seconds";

/// The recorder of one server.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // The bucket list is a non-empty constant: the builder cannot refuse it (if it did,
        // durations would be summaries instead of histograms).
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics { recorder, handle };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        let counters = [
            (EXECUTION_STARTED, "Executions created"),
            (EXECUTION_ENDED, "Executions ended, by final state"),
            (
                TASKRUN_ENDED,
                "Task runs ended, by task type and final state",
            ),
        ];
        for (name, help) in counters {
            self.recorder
                .describe_counter(KeyName::from(name), None, SharedString::from(help));
        }
        let histograms = [
            (EXECUTION_DURATION, "Duration of ended executions"),
            (TASKRUN_DURATION, "Duration of ended task runs"),
            (HTTP_REQUESTS, "HTTP requests served"),
        ];
        for (name, help) in histograms {
            self.recorder.describe_histogram(
                KeyName::from(name),
                Some(Unit::Seconds),
                SharedString::from(help),
            );
        }
        let gauges = [
            (WORKER_JOBS_RUNNING, "Worker attempts running"),
            (
                QUEUE_DEPTH,
                "Messages (worker results, timers, commands) waiting for the executor loop",
            ),
            (EXECUTIONS_RUNNING, "Executions started and not ended"),
            (
                EXECUTIONS_QUEUED,
                "Executions waiting for their flow's concurrency limit",
            ),
        ];
        for (name, help) in gauges {
            self.recorder
                .describe_gauge(KeyName::from(name), None, SharedString::from(help));
        }
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        Key::from_parts(name, labels)
    }

    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.recorder
            .register_counter(&Self::key(name, labels), &METADATA)
            .increment(1);
    }

    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.recorder
            .register_histogram(&Self::key(name, labels), &METADATA)
            .record(value);
    }

    pub fn gauge(&self, name: &'static str, value: usize) {
        self.recorder
            .register_gauge(&Self::key(name, &[]), &METADATA)
            .set(value as f64);
    }

    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// `GET /metrics`.
pub async fn render<S: Store>(State(app): State<Shared<S>>) -> Response {
    let stats = app.service.stats();
    let metrics = &app.metrics;
    metrics.gauge(WORKER_JOBS_RUNNING, stats.workers.load(Ordering::Relaxed));
    metrics.gauge(QUEUE_DEPTH, stats.backlog.load(Ordering::Relaxed));
    metrics.gauge(EXECUTIONS_RUNNING, stats.running.load(Ordering::Relaxed));
    metrics.gauge(EXECUTIONS_QUEUED, stats.queued.load(Ordering::Relaxed));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Middleware timing every request by route template (unmatched paths share one label, so a
/// scan of random URLs cannot blow up the series count).
pub async fn track<S: Store>(
    State(app): State<Shared<S>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let uri = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "UNMATCHED".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    app.metrics.observe(
        HTTP_REQUESTS,
        &[("method", &method), ("uri", &uri), ("status", &status)],
        start.elapsed().as_secs_f64(),
    );
    response
}

/// What was last seen of an execution.
struct Seen {
    state: StateType,
    runs: HashMap<String, StateType>,
}

/// Counts execution and task-run ends from the service's broadcasts until the server stops.
/// Subscribes before returning the future, so nothing saved after this call is missed.
pub(crate) fn watch<S: Store>(app: Shared<S>) -> impl Future<Output = ()> + Send + 'static {
    let deltas = app.service.deltas();
    watch_from(app, deltas)
}

async fn watch_from<S: Store>(
    app: Shared<S>,
    mut updates: tokio::sync::broadcast::Receiver<Arc<ExecutionDelta>>,
) {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    loop {
        let execution = tokio::select! {
            _ = app.stopping.cancelled() => return,
            update = updates.recv() => match update {
                Ok(execution) => execution,
                Err(RecvError::Lagged(n)) => {
                    eprintln!("warning: metrics missed {n} execution changes");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        observe_execution(&app, &mut seen, &execution.header, &execution.runs).await;
    }
}

fn seconds(state: &saker_core::State) -> Option<f64> {
    let histories = state.histories();
    let (first, last) = (histories.first()?, histories.last()?);
    Some((last.date - first.date).as_seconds_f64().max(0.0))
}

async fn observe_execution<S: Store>(
    app: &Shared<S>,
    seen: &mut HashMap<String, Seen>,
    execution: &Execution,
    changed_runs: &[TaskRun],
) {
    let id = execution.id.as_str();
    let state = execution.state.current();
    let namespace = execution.namespace.as_str();
    let flow_id = execution.flow_id.as_str();
    let metrics = &app.metrics;
    let previous = seen.remove(id);
    let fresh = previous.is_none()
        && execution
            .state
            .histories()
            .iter()
            .all(|h| !h.state.is_terminated());
    if fresh && changed_runs.is_empty() {
        metrics.count(
            EXECUTION_STARTED,
            &[("namespace_id", namespace), ("flow_id", flow_id)],
        );
    }
    // Runs and an end are only counted against a known previous state: an execution first seen
    // mid-way (resumed at start) is counted from its next change on.
    let known = previous.is_some() || fresh;
    // Only the runs this turn changed are looked at: a big execution costs what changed.
    let was_ended = previous.as_ref().is_some_and(|p| p.state.is_terminated());
    let mut runs = previous.map(|p| p.runs).unwrap_or_default();
    let mut flow = None;
    for run in changed_runs {
        let run_state = run.state.current();
        let before = runs.insert(run.id.as_str().to_owned(), run_state);
        let ended_now = run_state.is_terminated() && before.is_none_or(|b| !b.is_terminated());
        if !(known && ended_now) {
            continue;
        }
        if flow.is_none() {
            flow = app
                .flow(namespace, flow_id, Some(execution.flow_revision))
                .await
                .ok();
        }
        let task_type = flow
            .as_ref()
            .and_then(|f| f.find_task(&run.task_id))
            .map_or("unknown", |t| t.canonical);
        let state_name = run_state.to_string();
        let labels = [
            ("namespace_id", namespace),
            ("flow_id", flow_id),
            ("task_type", task_type),
            ("state", state_name.as_str()),
        ];
        metrics.count(TASKRUN_ENDED, &labels);
        if let Some(duration) = seconds(&run.state) {
            metrics.observe(TASKRUN_DURATION, &labels, duration);
        }
    }
    if known && state.is_terminated() && !was_ended {
        let state_name = state.to_string();
        let labels = [
            ("namespace_id", namespace),
            ("flow_id", flow_id),
            ("state", state_name.as_str()),
        ];
        metrics.count(EXECUTION_ENDED, &labels);
        if let Some(duration) = seconds(&execution.state) {
            metrics.observe(EXECUTION_DURATION, &labels, duration);
        }
    }
    // An ended execution is forgotten; if it is restarted, its next broadcast (RESTARTED, not
    // fresh) is known again only from then on, so its earlier ends are not counted twice.
    if state.is_terminated() {
        return;
    }
    seen.insert(id.to_owned(), Seen { state, runs });
}

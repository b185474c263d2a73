//! The run-time side of a runnable task: [`RunnableTask`] (typed, implemented by each task file),
//! its erased form [`ErasedRunnable`] (what the worker calls through the registry), and the
//! result types [`TaskOutcome`], [`Metric`] and [`TaskError`].

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use saker_core::StateType;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::context::RunContext;
use crate::duration::IsoDuration;
use crate::property::de_value;

/// A boxed, `Send` future: the shape of every object-safe async method in this crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a task attempt did not succeed. The worker maps `Failed` and `Timeout` to a FAILED
/// attempt and `Killed` to KILLED; the message is logged at ERROR on the task run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The task failed; the message says why, in words a flow author can act on.
    #[error("{0}")]
    Failed(String),
    /// The task's `timeout` elapsed (set by the worker, which owns the timer).
    #[error("Timeout after {}", IsoDuration(*.0))]
    Timeout(Duration),
    /// The task was cancelled (execution killed or worker shutting down).
    #[error("Task killed")]
    Killed,
}

impl TaskError {
    /// A [`TaskError::Failed`] from anything printable.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        TaskError::Failed(message.to_string())
    }
}

/// What a successful attempt produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOutcome {
    /// The task run's outputs (`outputs.<taskId>.*`).
    pub outputs: Map<String, Value>,
    /// An explicit final state (e.g. `WARNING`); `None` means SUCCESS.
    pub state: Option<StateType>,
    /// Metrics emitted by the attempt.
    pub metrics: Vec<Metric>,
}

impl TaskOutcome {
    /// No outputs, SUCCESS.
    pub fn empty() -> Self {
        TaskOutcome::default()
    }

    /// Adds one output.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.outputs.insert(key.to_owned(), value.into());
        self
    }

    /// Adds one metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metrics.push(metric);
        self
    }

    /// Ends the attempt in `state` instead of SUCCESS.
    pub fn with_state(mut self, state: StateType) -> Self {
        self.state = Some(state);
        self
    }
}

/// One metric point (Kestra's `Counter`, `Timer` and `Gauge`).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: MetricValue,
    /// Extra tags (`Counter.of(name, value, tags...)`).
    pub tags: Map<String, Value>,
}

/// The kind and value of a [`Metric`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// A count (Kestra stores counters as doubles).
    Counter(f64),
    /// A duration.
    Timer(Duration),
    /// A sampled value (Kestra 2.0's `gauge`, sent by newer client libraries).
    Gauge(f64),
}

impl MetricValue {
    /// Kestra's metric `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetricValue::Counter(_) => "counter",
            MetricValue::Timer(_) => "timer",
            MetricValue::Gauge(_) => "gauge",
        }
    }
}

impl Metric {
    pub fn counter(name: &str, value: f64) -> Self {
        Metric {
            name: name.to_owned(),
            value: MetricValue::Counter(value),
            tags: Map::new(),
        }
    }

    pub fn timer(name: &str, value: Duration) -> Self {
        Metric {
            name: name.to_owned(),
            value: MetricValue::Timer(value),
            tags: Map::new(),
        }
    }

    pub fn gauge(name: &str, value: f64) -> Self {
        Metric {
            name: name.to_owned(),
            value: MetricValue::Gauge(value),
            tags: Map::new(),
        }
    }

    /// Replaces the tags.
    pub fn with_tags(mut self, tags: Map<String, Value>) -> Self {
        self.tags = tags;
        self
    }

    /// Kestra's `MetricEntry` JSON (what `/api/v1/metrics` returns): the task run's identity,
    /// `type`, `name`, `value` as a double (a timer in milliseconds), `timestamp` and `tags`
    /// (string values).
    pub fn entry(&self, info: &crate::TaskRunInfo, timestamp: saker_core::Instant) -> Value {
        let value = match self.value {
            MetricValue::Counter(v) | MetricValue::Gauge(v) => v,
            MetricValue::Timer(d) => d.as_secs_f64() * 1000.0,
        };
        let tags: Map<String, Value> = self
            .tags
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(text))
            })
            .collect();
        let mut entry = serde_json::json!({
            "namespace": info.namespace,
            "flowId": info.flow_id,
            "taskId": info.task_id,
            "executionId": info.execution_id.as_str(),
            "taskRunId": info.task_run_id.as_str(),
            "type": self.value.type_name(),
            "name": self.name,
            "value": value,
            "timestamp": saker_core::time::format_instant(&timestamp),
        });
        if !tags.is_empty() {
            entry["tags"] = Value::Object(tags);
        }
        entry
    }
}

/// A task type that a worker can run. Implemented on a unit struct in the task's file and
/// registered with `runnable:` in [`crate::register_plugin!`].
///
/// Implementations may simply write `async fn run(...)`; the future must be `Send` because the
/// worker runs it on a multi-threaded runtime.
pub trait RunnableTask: Send + Sync + 'static {
    /// The task's typed properties (the same struct the registration validates with).
    type Params: DeserializeOwned + Send;

    /// Whether the executor may run the task itself, in the turn that created it, instead of
    /// handing it to a worker: only for tasks that render their properties into outputs, log
    /// lines and metrics, and touch nothing else (no process, no network, no storage write, no
    /// waiting), so running one is as cheap as the executor's own rendering and running it again
    /// after a crash is harmless (Return, Log, OutputValues).
    const INLINE: bool = false;

    /// Runs one attempt. Expressions inside `params` are still unrendered: render them with
    /// [`RunContext::render_property`] and friends.
    fn run(
        params: Self::Params,
        ctx: &mut RunContext,
    ) -> impl Future<Output = Result<TaskOutcome, TaskError>> + Send;
}

/// The object-safe form of a [`RunnableTask`], looked up with
/// [`crate::Registry::runnable`].
pub trait ErasedRunnable: Send + Sync {
    /// Deserializes `params` (the task's raw properties, common properties and slots removed)
    /// into the typed `Params`, then runs the task.
    fn run<'a>(
        &'a self,
        params: &'a Map<String, Value>,
        ctx: &'a mut RunContext,
    ) -> BoxFuture<'a, Result<TaskOutcome, TaskError>>;

    /// [`RunnableTask::INLINE`].
    fn inline(&self) -> bool {
        false
    }
}

/// Adapts a [`RunnableTask`] to [`ErasedRunnable`]; built by `register_plugin!`.
pub struct Erased<T>(PhantomData<fn() -> T>);

impl<T> Erased<T> {
    pub const NEW: Erased<T> = Erased(PhantomData);
}

impl<T: RunnableTask> ErasedRunnable for Erased<T> {
    fn run<'a>(
        &'a self,
        params: &'a Map<String, Value>,
        ctx: &'a mut RunContext,
    ) -> BoxFuture<'a, Result<TaskOutcome, TaskError>> {
        Box::pin(async move {
            let params = parse_params::<T::Params>(params)?;
            T::run(params, ctx).await
        })
    }

    fn inline(&self) -> bool {
        T::INLINE
    }
}

/// Deserializes raw task properties; flow validation normally caught any error already, so one
/// here means the caller passed unvalidated properties.
pub fn parse_params<P: DeserializeOwned>(params: &Map<String, Value>) -> Result<P, TaskError> {
    de_value::<P>(Value::Object(params.clone())).map_err(|message| {
        let (path, message) = crate::property::split_path(&message);
        if path.is_empty() {
            TaskError::Failed(format!("invalid task properties: {message}"))
        } else {
            TaskError::Failed(format!("invalid task property `{path}`: {message}"))
        }
    })
}

#[doc(hidden)]
pub fn assert_params<T: RunnableTask<Params = P>, P>() {}

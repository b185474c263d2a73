//! One attempt of a runnable task run (spec §6.10): report the RUNNING attempt, render the
//! `timeout`, run the registry's runnable in its own tokio task (so a panic is caught as a
//! `JoinError` and a timeout or kill can abort it), stream its logs, report the final state and
//! outputs. Every path ends with exactly one final [`TaskRunResult`].

use std::sync::Arc;
use std::time::Duration;

use saker_core::{ExecutionId, StateType};
use saker_engine::{Event, TaskRunResult};
use saker_expr::Value;
use saker_storage::LogEntry;
use saker_task::log::{LogLine, LogSink};
use saker_task::{Level, Registry, RunContext, RunServices, TaskError, TaskRunInfo};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::Msg;
use crate::host::mask;

/// Everything a worker needs to run one attempt, prepared by the executor loop.
pub(crate) struct Job {
    pub info: TaskRunInfo,
    /// The task's raw properties (unrendered).
    pub params: serde_json::Map<String, Value>,
    /// The task's `timeout` (ISO-8601 duration or expression).
    pub timeout: Option<String>,
    pub variables: Value,
    /// The task's `taskRunner` (script tasks).
    pub task_runner: Option<saker_task::TaskRunnerDef>,
    /// Outputs over this many bytes (as JSON) go to internal storage; 0: no limit.
    pub max_output_size: usize,
}

/// Default of [`Job::max_output_size`]: 1 MiB (`SAKER_MAX_OUTPUT_SIZE`, `--max-output-size`).
pub const DEFAULT_MAX_OUTPUT_SIZE: usize = 1024 * 1024;

/// Parses a size: bytes, or a number with a `KB`, `MB` or `GB` suffix (binary multiples,
/// case-insensitive, `K`/`M`/`G` also accepted). `0` means no limit.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let factor: usize = match unit.trim_end_matches('B') {
        "" if unit.is_empty() || unit == "B" => 1,
        "K" => 1024,
        "M" => 1024 * 1024,
        "G" => 1024 * 1024 * 1024,
        _ => {
            return Err(format!(
                "invalid size `{text}`: expected bytes or a KB/MB/GB suffix"
            ));
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("invalid size `{text}`: expected bytes or a KB/MB/GB suffix"))
}

/// Moves the largest outputs of a task run to internal storage until the outputs fit in
/// `limit` bytes of JSON: each moved value is replaced by the `kestra://` URI of a file under
/// the task run's prefix (`<prefix>output-<name>.txt` holding a string as is, `.json` the JSON
/// text of any other value), so `read()` gives the text back. Returns one log line per move.
async fn offload_outputs(
    outputs: &mut serde_json::Map<String, Value>,
    limit: usize,
    storage: &dyn saker_task::Storage,
    prefix: &str,
) -> Result<Vec<String>, String> {
    let size_of = |v: &Value| serde_json::to_vec(v).map_or(0, |b| b.len());
    let mut total = serde_json::to_vec(&*outputs).map_or(0, |b| b.len());
    if limit == 0 || total <= limit {
        return Ok(Vec::new());
    }
    let mut sizes: Vec<(String, usize)> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), size_of(v)))
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut lines = Vec::new();
    for (key, size) in sizes {
        if total <= limit {
            break;
        }
        let Some(value) = outputs.get(&key) else {
            continue;
        };
        let (content, extension) = match value {
            Value::String(text) => (text.clone().into_bytes(), "txt"),
            other => (
                serde_json::to_vec_pretty(other).map_err(|e| e.to_string())?,
                "json",
            ),
        };
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let uri = format!("{prefix}output-{name}.{extension}");
        storage
            .put(&uri, content)
            .await
            .map_err(|e| format!("cannot store the output `{key}` in internal storage: {e}"))?;
        total = total - size + size_of(&Value::String(uri.clone()));
        lines.push(format!(
            "The output `{key}` ({size} bytes) is over the output size limit ({limit} bytes): \
             stored as {uri}"
        ));
        outputs.insert(key, Value::String(uri));
    }
    Ok(lines)
}

/// Forwards task log lines, with the task run's identity and secrets masked, to the loop.
struct TaskSink {
    tx: UnboundedSender<Msg>,
    template: LogEntry,
    secrets: Arc<Vec<String>>,
}

impl TaskSink {
    fn entry(&self, level: Level, message: String, timestamp: saker_core::Instant) -> LogEntry {
        LogEntry {
            level,
            message: mask(message, &self.secrets),
            timestamp,
            ..self.template.clone()
        }
    }
}

impl LogSink for TaskSink {
    fn emit(&self, line: LogLine) {
        let entry = self.entry(line.level, line.message, line.timestamp);
        // A closed loop means the run is over; the task may still finish quietly.
        let _ = self.tx.send(Msg::Log(entry));
    }
}

/// A log sink filing lines under the task run of `info` (secrets masked).
pub(crate) fn sink_for(
    tx: UnboundedSender<Msg>,
    info: &TaskRunInfo,
    secrets: Arc<Vec<String>>,
) -> Arc<dyn LogSink> {
    Arc::new(TaskSink {
        tx,
        template: LogEntry {
            namespace: info.namespace.clone(),
            flow_id: info.flow_id.clone(),
            task_id: Some(info.task_id.clone()),
            execution_id: info.execution_id.as_str().to_owned(),
            task_run_id: Some(info.task_run_id.as_str().to_owned()),
            attempt_number: Some(info.attempt),
            timestamp: crate::host::now(),
            level: Level::Info,
            thread: "worker".to_owned(),
            message: String::new(),
        },
        secrets,
    })
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned())
}

/// Reads the task `timeout`: an ISO-8601 duration, or an expression rendering to one.
fn timeout_of(ctx: &RunContext, timeout: Option<&str>) -> Result<Option<Duration>, TaskError> {
    let Some(text) = timeout else { return Ok(None) };
    let rendered = ctx.render(text)?;
    let delta = saker_core::parse_duration(rendered.trim())
        .map_err(|e| TaskError::Failed(format!("invalid task timeout `{rendered}`: {e}")))?;
    delta
        .to_std()
        .map(Some)
        .map_err(|_| TaskError::Failed(format!("invalid task timeout `{rendered}`: negative")))
}

/// How long an attempt runs before its start is reported on its own (shorter ones report it with
/// their end). Long enough for a short shell step, short enough not to be seen in the UI.
const RUNNING_REPORT_DELAY: Duration = Duration::from_millis(20);

/// Runs one attempt and reports it on `tx`.
pub(crate) async fn run(
    job: Job,
    execution_id: ExecutionId,
    services: RunServices,
    secrets: Arc<Vec<String>>,
    cancel: CancellationToken,
    tx: UnboundedSender<Msg>,
) {
    let task_run_id = job.info.task_run_id.clone();
    let send = |event: Event| {
        let _ = tx.send(Msg::Event(execution_id.clone(), event));
    };
    // The start is reported with its instant once the attempt has run for a moment, or with
    // its end when it ends first: a short task then costs the loop one commit, not two.
    let started = crate::host::now();
    let running =
        || Event::TaskRunResult(TaskRunResult::running_since(task_run_id.clone(), started));
    let attempt = attempt(job, &execution_id, services, secrets, cancel, &tx, None);
    tokio::pin!(attempt);
    let (state, outputs) = tokio::select! {
        biased;
        ended = &mut attempt => {
            send(running());
            ended
        }
        () = tokio::time::sleep(RUNNING_REPORT_DELAY) => {
            send(running());
            attempt.await
        }
    };
    send(Event::TaskRunResult(TaskRunResult::ended(
        task_run_id,
        state,
        outputs,
    )));
}

/// Runs one attempt (in `working_dir` when given, the directory of a WorkingDirectory block)
/// and returns its final state and outputs; its log lines go to `tx`.
pub(crate) async fn attempt(
    job: Job,
    execution_id: &ExecutionId,
    mut services: RunServices,
    secrets: Arc<Vec<String>>,
    cancel: CancellationToken,
    tx: &UnboundedSender<Msg>,
    working_dir: Option<&std::path::Path>,
) -> (StateType, Option<serde_json::Map<String, Value>>) {
    let task_run_id = job.info.task_run_id.clone();
    let sink = Arc::new(TaskSink {
        tx: tx.clone(),
        template: LogEntry {
            namespace: job.info.namespace.clone(),
            flow_id: job.info.flow_id.clone(),
            task_id: Some(job.info.task_id.clone()),
            execution_id: execution_id.as_str().to_owned(),
            task_run_id: Some(task_run_id.as_str().to_owned()),
            attempt_number: Some(job.info.attempt),
            timestamp: crate::host::now(),
            level: Level::Info,
            thread: "worker".to_owned(),
            message: String::new(),
        },
        secrets,
    });
    services.log_sink = sink.clone();
    let storage = services.storage.clone();
    let prefix = saker_task::storage::task_run_prefix(
        &job.info.namespace,
        &job.info.flow_id,
        execution_id.as_str(),
        &job.info.task_id,
        task_run_id.as_str(),
    );
    let max_output_size = job.max_output_size;
    let task_type = job.info.task_type.clone();
    let info = job.info.clone();
    let mut ctx = RunContext::new(job.info, job.variables, services, cancel.clone())
        .with_task_runner(job.task_runner);
    if let Some(dir) = working_dir {
        ctx = ctx.with_working_dir(dir);
    }
    let result = match timeout_of(&ctx, job.timeout.as_deref()) {
        Err(error) => Err(error),
        Ok(timeout) => match Registry::global()
            .runnable(&task_type)
            .or_else(|| crate::for_each_item::runnable(&task_type))
        {
            None => Err(TaskError::Failed(format!(
                "task type {task_type} cannot run in this version of saker yet"
            ))),
            Some(runnable) => {
                let params = job.params;
                let mut handle = tokio::spawn(async move {
                    let result = runnable.run(&params, &mut ctx).await;
                    drop(ctx);
                    result
                });
                let sleep = async {
                    match timeout {
                        Some(timeout) => tokio::time::sleep(timeout).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    joined = &mut handle => match joined {
                        Ok(result) => result,
                        Err(error) if error.is_panic() => Err(TaskError::Failed(format!(
                            "the task panicked (a bug in saker, please report it): {}",
                            panic_message(&*error.into_panic())
                        ))),
                        Err(_) => Err(TaskError::Killed),
                    },
                    () = cancel.cancelled() => {
                        handle.abort();
                        Err(TaskError::Killed)
                    }
                    () = sleep => {
                        // Tell the task first so it can stop child work, then drop it.
                        cancel.cancel();
                        handle.abort();
                        Err(TaskError::Timeout(timeout.unwrap_or_default()))
                    }
                }
            }
        },
    };
    match result {
        Ok(mut outcome) => {
            if !outcome.metrics.is_empty() {
                let now = crate::host::now();
                let entries = outcome
                    .metrics
                    .iter()
                    .map(|metric| saker_storage::MetricEntry::of(metric, &info, now))
                    .collect();
                // Sent before the task run's end, so they are stored when the run is seen ended.
                let _ = tx.send(Msg::Metrics(entries));
            }
            let state = outcome.state.unwrap_or(StateType::Success);
            let moved =
                offload_outputs(&mut outcome.outputs, max_output_size, &*storage, &prefix).await;
            let (level, lines, state) = match moved {
                Ok(lines) => (Level::Info, lines, state),
                Err(message) => (Level::Error, vec![message], StateType::Failed),
            };
            for message in lines {
                sink.emit(LogLine {
                    level,
                    message,
                    timestamp: crate::host::now(),
                });
            }
            let outputs = (!outcome.outputs.is_empty()).then_some(outcome.outputs);
            (state, outputs)
        }
        Err(TaskError::Killed) => (StateType::Killed, None),
        Err(error) => {
            sink.emit(LogLine {
                level: Level::Error,
                message: error.to_string(),
                timestamp: crate::host::now(),
            });
            (StateType::Failed, None)
        }
    }
}

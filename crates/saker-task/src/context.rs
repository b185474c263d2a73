//! [`RunContext`]: everything a running task sees — its identity, the render context and the
//! expression engine, the logger, the KV store, internal storage, the clock and a cancellation
//! signal. The worker (or the local runner) builds one per attempt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use saker_core::{ExecutionId, Instant, TaskRunId};
use saker_expr::{Engine, Services};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::kv::KvStore;
use crate::log::{LogSink, LogSource, TaskLogger};
use crate::property::{Property, from_value_coerced};
use crate::purge::Purger;
use crate::storage::{self, Storage};
use crate::task::TaskError;

/// The current time, injected (nothing in tasks reads the system clock).
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// A clock that only moves when told to (tests, replay).
#[derive(Debug)]
pub struct FixedClock(Mutex<Instant>);

impl FixedClock {
    pub fn new(now: Instant) -> Self {
        FixedClock(Mutex::new(now))
    }

    pub fn set(&self, now: Instant) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who is running: the task run's identity.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunInfo {
    pub execution_id: ExecutionId,
    pub task_run_id: TaskRunId,
    pub task_id: String,
    /// The task's canonical type name.
    pub task_type: String,
    pub namespace: String,
    pub flow_id: String,
    /// `taskrun.value` inside `ForEach` and friends.
    pub value: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
}

/// The shared services a worker hands to every task run (cheap to clone).
#[derive(Clone)]
pub struct RunServices {
    pub engine: Arc<Engine>,
    /// Secrets, `kv()`, `read()`, `now()`, `uuid()` for expressions.
    pub expr: Arc<dyn Services + Send + Sync>,
    pub kv: Arc<dyn KvStore>,
    pub storage: Arc<dyn Storage>,
    /// Stored logs, for `log.Fetch`; `None` where no log store exists.
    pub logs: Option<Arc<dyn LogSource>>,
    /// The store's deletions, for `PurgeExecutions` and `PurgeLogs`; `None` where no store exists.
    pub purger: Option<Arc<dyn Purger>>,
    pub log_sink: Arc<dyn LogSink>,
    pub clock: Arc<dyn Clock>,
}

/// The context of one task attempt.
pub struct RunContext {
    info: TaskRunInfo,
    variables: Value,
    engine: Arc<Engine>,
    expr: ContextServices,
    kv: Arc<dyn KvStore>,
    storage: Arc<dyn Storage>,
    logs: Option<Arc<dyn LogSource>>,
    purger: Option<Arc<dyn Purger>>,
    logger: TaskLogger,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    files_written: u32,
    working_dir: Option<PathBuf>,
    task_runner: Option<TaskRunnerDef>,
}

/// The `taskRunner` of a script task as written in the flow: its canonical type name and raw
/// properties. Nested plugins are not part of a task's own properties, so the worker hands it
/// over separately ([`RunContext::with_task_runner`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRunnerDef {
    pub type_name: String,
    pub params: Map<String, Value>,
}

impl TaskRunnerDef {
    /// The `taskRunner` of `task`, if it has one.
    pub fn of(task: &saker_flow::Task) -> Option<TaskRunnerDef> {
        task.plugins
            .iter()
            .find(|(prop, _)| prop == "taskRunner")
            .and_then(|(_, plugins)| plugins.first())
            .map(|plugin| TaskRunnerDef {
                type_name: plugin.canonical.to_owned(),
                params: plugin.params.clone(),
            })
    }
}

impl RunContext {
    /// `variables` is the render context built by the caller (`flow`, `execution`, `task`,
    /// `taskrun`, `inputs`, `outputs`, `vars`, `parents`, `labels`, `envs`, `globals`…).
    pub fn new(
        info: TaskRunInfo,
        variables: Value,
        services: RunServices,
        cancel: CancellationToken,
    ) -> Self {
        let secrets = Arc::new(Mutex::new(Vec::new()));
        let logger = TaskLogger::new(services.log_sink, services.clock.clone(), secrets.clone());
        RunContext {
            expr: ContextServices {
                inner: services.expr,
                namespace: info.namespace.clone(),
                secrets,
            },
            info,
            variables,
            engine: services.engine,
            kv: services.kv,
            storage: services.storage,
            logs: services.logs,
            purger: services.purger,
            logger,
            clock: services.clock,
            cancel,
            files_written: 0,
            working_dir: None,
            task_runner: None,
        }
    }

    /// Sets the task's `taskRunner` (set by the worker from the flow).
    pub fn with_task_runner(mut self, runner: Option<TaskRunnerDef>) -> Self {
        self.task_runner = runner;
        self
    }

    /// The task's `taskRunner`, when the flow gives one.
    pub fn task_runner(&self) -> Option<&TaskRunnerDef> {
        self.task_runner.as_ref()
    }

    /// Adds (or replaces) a top-level render variable for the rest of this attempt (Kestra's
    /// "additional variables": `workingDir`, `outputDir` of script tasks).
    pub fn set_variable(&mut self, key: &str, value: Value) {
        if let Value::Object(variables) = &mut self.variables {
            variables.insert(key.to_owned(), value);
        }
    }

    /// Sets the local directory shared by the tasks of a `WorkingDirectory` block (set by the
    /// worker). Tasks that need one and find none use a temporary directory of their own.
    pub fn with_working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// The working directory set by the worker, if any.
    pub fn working_dir(&self) -> Option<&Path> {
        self.working_dir.as_deref()
    }

    pub fn info(&self) -> &TaskRunInfo {
        &self.info
    }

    /// The render context.
    pub fn variables(&self) -> &Value {
        &self.variables
    }

    pub fn logger(&self) -> &TaskLogger {
        &self.logger
    }

    pub fn kv(&self) -> &dyn KvStore {
        &*self.kv
    }

    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// Stored logs, or an error a user can act on when this runner keeps none.
    pub fn log_source(&self) -> Result<&dyn LogSource, TaskError> {
        self.logs
            .as_deref()
            .ok_or_else(|| TaskError::failed("no log store is available to this runner"))
    }

    /// The store's deletions, or an error a user can act on when this runner keeps no store.
    pub fn purger(&self) -> Result<&dyn Purger, TaskError> {
        self.purger
            .as_deref()
            .ok_or_else(|| TaskError::failed("no store is available to this runner to purge"))
    }

    /// The expression services (with secrets recorded for log masking).
    pub fn services(&self) -> &dyn Services {
        &self.expr
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Cancelled when the execution is killed or the worker stops; long tasks select on it.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Renders a template to a string (Kestra's `runContext.render(String)`).
    pub fn render(&self, template: &str) -> Result<String, TaskError> {
        self.render_in(template, &self.variables)
    }

    /// Renders with another root context (per-item expressions of `FilterItems` and the like).
    pub fn render_in(&self, template: &str, variables: &Value) -> Result<String, TaskError> {
        self.engine
            .render(template, variables, &self.expr)
            .map_err(|error| render_error(template, &error))
    }

    /// Typed rendering: a template that is exactly one `{{ expr }}` keeps the value's type.
    pub fn render_typed(&self, template: &str) -> Result<Value, TaskError> {
        self.engine
            .render_typed(template, &self.variables, &self.expr)
            .map_err(|error| render_error(template, &error))
    }

    /// Renders every string of `value`, map keys included (Kestra's `renderMap`/`render(List)`).
    pub fn render_value(&self, value: &Value) -> Result<Value, TaskError> {
        self.engine
            .render_value(value, &self.variables, &self.expr)
            .map_err(TaskError::failed)
    }

    /// Renders a property and converts it to `T` as Jackson would: an expression renders to a
    /// string which is read as `T` (scalars coerced, JSON text parsed for lists and maps); a
    /// literal has its nested strings rendered.
    pub fn render_property<T: DeserializeOwned + Serialize>(
        &self,
        property: &Property<T>,
    ) -> Result<T, TaskError> {
        match property {
            Property::Expr(template) => {
                let rendered = self.render(template)?;
                convert_rendered(&rendered).map_err(|message| {
                    TaskError::Failed(format!(
                        "invalid value for `{template}` (rendered as `{rendered}`): {message}"
                    ))
                })
            }
            Property::Value(literal) => {
                let value = serde_json::to_value(literal).map_err(TaskError::failed)?;
                let rendered = self.render_value(&value)?;
                from_value_coerced(rendered).map_err(|message| {
                    TaskError::Failed(format!("invalid value after rendering: {message}"))
                })
            }
        }
    }

    /// [`Self::render_property`] for an optional property.
    pub fn render_opt<T: DeserializeOwned + Serialize>(
        &self,
        property: &Option<Property<T>>,
    ) -> Result<Option<T>, TaskError> {
        property
            .as_ref()
            .map(|property| self.render_property(property))
            .transpose()
    }

    /// `kestra:///<ns>/<flow>/executions/<id>/tasks/<task>/<taskRunId>/`.
    pub fn storage_prefix(&self) -> String {
        storage::task_run_prefix(
            &self.info.namespace,
            &self.info.flow_id,
            self.info.execution_id.as_str(),
            &self.info.task_id,
            self.info.task_run_id.as_str(),
        )
    }

    /// `kestra:///<ns>/<flow>/executions/<id>/`: every file of this execution.
    pub fn execution_prefix(&self) -> String {
        storage::execution_prefix(
            &self.info.namespace,
            &self.info.flow_id,
            self.info.execution_id.as_str(),
        )
    }

    /// Stores `content` as a new file of this task run and returns its URI. `extension`
    /// includes the dot (`.txt`) or is empty. Names come from the expression services' `uuid()`
    /// plus a per-attempt counter, so they stay unique even with a deterministic uuid source.
    pub async fn put_file(
        &mut self,
        extension: &str,
        content: Vec<u8>,
    ) -> Result<String, TaskError> {
        let uri = self.new_file_uri(extension);
        self.storage
            .put(&uri, content)
            .await
            .map_err(TaskError::failed)?;
        Ok(uri)
    }

    /// Like [`put_file`](Self::put_file), streaming from `reader` (bounded memory whatever the
    /// size, on backends that stream).
    pub async fn put_reader(
        &mut self,
        extension: &str,
        reader: storage::Reader,
    ) -> Result<String, TaskError> {
        let uri = self.new_file_uri(extension);
        self.storage
            .put_stream(&uri, reader)
            .await
            .map_err(TaskError::failed)?;
        Ok(uri)
    }

    /// The URI a new file of this task run gets (what [`put_file`](Self::put_file) uses), for
    /// tasks that stream into [`Storage::put_stream`] themselves.
    pub fn new_file_uri(&mut self, extension: &str) -> String {
        self.files_written += 1;
        let name = match self.files_written {
            1 => format!("{}{extension}", self.expr.uuid()),
            n => format!("{}-{n}{extension}", self.expr.uuid()),
        };
        format!("{}{name}", self.storage_prefix())
    }

    /// Stores `content` as the file `name` (one path segment) of this task run and returns its
    /// URI; for outputs whose file name matters (`outputFiles`, `LocalFiles`). An existing file of
    /// that name is replaced.
    pub async fn put_file_as(&self, name: &str, content: Vec<u8>) -> Result<String, TaskError> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(TaskError::Failed(format!(
                "invalid internal storage file name '{name}': expected one path segment"
            )));
        }
        let uri = format!("{}{name}", self.storage_prefix());
        self.storage
            .put(&uri, content)
            .await
            .map_err(TaskError::failed)?;
        Ok(uri)
    }

    /// Reads an internal-storage file as text (UTF-8).
    pub async fn read_text(&self, uri: &str) -> Result<String, TaskError> {
        storage::check_uri(uri).map_err(TaskError::failed)?;
        let bytes = self.storage.get(uri).await.map_err(TaskError::failed)?;
        String::from_utf8(bytes)
            .map_err(|_| TaskError::Failed(format!("file '{uri}' is not valid UTF-8 text")))
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn render_error(template: &str, error: &saker_expr::Error) -> TaskError {
    // Kestra's wording, which names the template (see `saker_expr::Error`'s `Display`).
    match &error.template {
        Some(_) => TaskError::failed(error),
        None => TaskError::Failed(format!("{error} in `{template}`")),
    }
}

/// Reads a rendered string as `T`: first as a string (with scalar coercion), then as JSON text
/// (lists, maps, numbers rendered from expressions).
pub fn convert_rendered<T: DeserializeOwned>(rendered: &str) -> Result<T, String> {
    match from_value_coerced::<T>(Value::String(rendered.to_owned())) {
        Ok(value) => Ok(value),
        Err(first) => match serde_json::from_str::<Value>(rendered.trim()) {
            Ok(json) if !json.is_string() => from_value_coerced(json).map_err(|_| first),
            _ => Err(first),
        },
    }
}

/// The expression services of one run: delegates to the worker's, records secret values for
/// log masking, and resolves `kv('key')` without a namespace to the flow namespace and then its
/// parents (spec §8.1).
struct ContextServices {
    inner: Arc<dyn Services + Send + Sync>,
    namespace: String,
    secrets: Arc<Mutex<Vec<String>>>,
}

impl Services for ContextServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        let value = self.inner.secret(key)?;
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if !secrets.contains(&value) {
            secrets.push(value.clone());
        }
        Ok(value)
    }

    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        if namespace.is_some() {
            return self.inner.kv(namespace, key);
        }
        let mut current = Some(self.namespace.as_str());
        while let Some(ns) = current {
            if let Some(value) = self.inner.kv(Some(ns), key)? {
                return Ok(Some(value));
            }
            current = ns.rsplit_once('.').map(|(parent, _)| parent);
        }
        Ok(None)
    }

    fn read(&self, path: &str) -> Result<String, String> {
        // Kestra's read(): a path without a scheme is a namespace file of the flow's namespace.
        if path.contains("://") {
            return self.inner.read(path);
        }
        let uri =
            crate::namespace_files::uri_of(&self.namespace, path).map_err(|e| e.to_string())?;
        self.inner.read(&uri)
    }

    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        self.inner.file_size(uri)
    }

    fn error_logs(&self) -> Result<Value, String> {
        self.inner.error_logs()
    }

    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.inner.now()
    }

    fn uuid(&self) -> String {
        self.inner.uuid()
    }
}

/// The standard task-level variables (`flow`, `execution`, `task`, `taskrun`) of `info`, for
/// callers and tests that have no execution document at hand. Real workers build the full
/// context from the execution (saker-core's `variables`).
pub fn base_variables(info: &TaskRunInfo, start: Instant) -> Map<String, Value> {
    let date = saker_core::time::format_instant(&start);
    let mut taskrun = serde_json::json!({
        "id": info.task_run_id.as_str(),
        "startDate": date,
        "attemptsCount": info.attempt.saturating_sub(1),
    });
    if let Some(value) = &info.value {
        taskrun["value"] = Value::from(value.as_str());
    }
    let mut vars = Map::new();
    vars.insert(
        "flow".into(),
        serde_json::json!({"id": info.flow_id, "namespace": info.namespace}),
    );
    vars.insert(
        "execution".into(),
        serde_json::json!({"id": info.execution_id.as_str(), "startDate": date, "state": "RUNNING"}),
    );
    vars.insert(
        "task".into(),
        serde_json::json!({"id": info.task_id, "type": info.task_type}),
    );
    vars.insert("taskrun".into(), taskrun);
    vars
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::OneOrMany;
    use crate::kv::{KvPut, KvValue};
    use crate::memory::{MemoryEnv, test_info};

    fn env() -> MemoryEnv {
        MemoryEnv::new(saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap())
    }

    #[test]
    fn render_property_converts_like_jackson() {
        let env = env();
        let ctx = env.context(
            test_info("t", "x"),
            json!({"inputs": {"n": 3, "list": ["a", "b"], "map": {"k": 1}}}),
        );
        let n: u32 = ctx
            .render_property(&Property::Expr("{{ inputs.n + 1 }}".into()))
            .unwrap();
        assert_eq!(n, 4);
        let list: Vec<String> = ctx
            .render_property(&Property::Expr("{{ inputs.list }}".into()))
            .unwrap();
        assert_eq!(list, ["a", "b"]);
        let map: Map<String, Value> = ctx
            .render_property(&Property::Expr("{{ inputs.map }}".into()))
            .unwrap();
        assert_eq!(Value::Object(map), json!({"k": 1}));
        // A literal list has each element rendered; an expression stays one string.
        let many: OneOrMany<String> = ctx
            .render_property(&Property::Value(OneOrMany::Many(vec![
                "{{ inputs.n }}".into(),
            ])))
            .unwrap();
        assert_eq!(many, OneOrMany::Many(vec!["3".into()]));
        let error = ctx
            .render_property::<u32>(&Property::Expr("{{ inputs.list }}".into()))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid value for `{{ inputs.list }}`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn kv_function_inherits_parent_namespaces() {
        let env = env();
        let put = KvPut {
            value: KvValue::new(json!("v")),
            description: None,
            expiration: None,
            overwrite: true,
        };
        env.kv
            .put("company", "k", put, env.clock.now())
            .await
            .unwrap();
        let ctx = env.context(test_info("t", "x"), json!({}));
        assert_eq!(ctx.render("{{ kv('k') }}").unwrap(), "v");
        assert!(ctx.render("{{ kv('k', 'company.other') }}").is_err());
    }

    #[tokio::test]
    async fn put_file_names_are_unique_per_attempt() {
        let env = env();
        let mut ctx = env.context(test_info("t", "x"), json!({}));
        let first = ctx.put_file(".txt", b"1".to_vec()).await.unwrap();
        let second = ctx.put_file(".txt", b"2".to_vec()).await.unwrap();
        assert_ne!(first, second);
        assert!(first.starts_with(&ctx.storage_prefix()));
        assert_eq!(ctx.read_text(&second).await.unwrap(), "2");
        assert!(ctx.read_text("kestra:///missing").await.is_err());
    }

    #[tokio::test]
    async fn named_files_and_working_dir() {
        let env = env();
        let ctx = env.context(test_info("t", "x"), json!({}));
        assert_eq!(ctx.working_dir(), None);
        let uri = ctx.put_file_as("a b.txt", b"x".to_vec()).await.unwrap();
        assert_eq!(uri, format!("{}a b.txt", ctx.storage_prefix()));
        assert_eq!(ctx.read_text(&uri).await.unwrap(), "x");
        for bad in ["", "a/b", ".."] {
            assert!(ctx.put_file_as(bad, vec![]).await.is_err(), "{bad}");
        }
        let ctx = ctx.with_working_dir("/tmp/wd");
        assert_eq!(ctx.working_dir(), Some(Path::new("/tmp/wd")));
    }

    #[tokio::test]
    async fn erased_run_reports_bad_params_with_their_path() {
        let env = env();
        let mut ctx = env.context(test_info("t", "x"), json!({}));
        let params = json!({"duration": [1]});
        let error = crate::Registry::global()
            .runnable("test.Sleep")
            .expect("test.Sleep is runnable")
            .run(params.as_object().unwrap(), &mut ctx)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid task property `duration`")
                || error.to_string().starts_with("invalid task properties"),
            "{error}"
        );
    }
}

//! Property types shared by several plugin files (enums, nested objects, value shapes).
//!
//! These are not plugins: the guard test counts only the files under `tasks/`, `triggers/`,
//! `conditions/` and `runners/`.

mod glob;
pub(crate) mod http;
mod ion;
pub(crate) mod legacy_script;
mod lines;
mod param_groups;
mod params;
pub(crate) mod process;
pub(crate) mod python_env;
pub(crate) mod python_fork;
pub(crate) mod script;
pub(crate) mod script_protocol;
pub(crate) mod shell_fork;
mod values;

pub use glob::Glob;
pub use ion::{ion_item, to_ion_line};
pub use lines::{Lines, Sink, stream_into, write_parts};

pub use values::{Labels, ValuesSource};

pub(crate) use param_groups::*;
pub(crate) use params::plugin_params;

use saker_task::prelude::*;

/// Log level, as Kestra names it (shared with the run-time logger).
pub use saker_task::Level;

/// An execution or task-run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Created, not started yet.
    Created,
    /// Submitted to a worker.
    Submitted,
    /// Running.
    Running,
    /// Paused, waiting for a resume.
    Paused,
    /// Restarted after a pause or a failure.
    Restarted,
    /// Being killed.
    Killing,
    /// Ended successfully.
    Success,
    /// Ended with warnings.
    Warning,
    /// Failed.
    Failed,
    /// Killed.
    Killed,
    /// Cancelled (e.g. by concurrency limits or `Exit`).
    Cancelled,
    /// Queued by concurrency limits.
    Queued,
    /// Waiting for a retry.
    Retrying,
    /// Replaced by a retry.
    Retried,
    /// Skipped (`runIf` false).
    Skipped,
    /// Stopped at a breakpoint.
    Breakpoint,
    /// Resubmitted after a worker loss.
    Resubmitted,
}

/// What a parent does with a subflow execution when it restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestartBehavior {
    /// Restart the failed child execution (default).
    RetryFailed,
    /// Start a new child execution.
    NewExecution,
}

/// Namespace files copied into a working directory.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NamespaceFiles {
    /// Whether namespace files are copied (true when the block is present).
    pub enabled: Option<Property<bool>>,
    /// Glob patterns of files to include.
    pub include: Option<Property<Vec<String>>>,
    /// Glob patterns of files to exclude.
    pub exclude: Option<Property<Vec<String>>>,
    /// Namespaces to copy from (default: the flow namespace).
    pub namespaces: Option<Property<Vec<String>>>,
    /// What to do when a file already exists: `OVERWRITE` (default), `FAIL`, `WARN`, `IGNORE`.
    pub if_exists: Option<Property<String>>,
    /// Put each namespace's files in a folder named after it.
    pub folder_per_namespace: Option<Property<bool>>,
}

/// Files written into the working directory before the task runs: a map from relative path to
/// content or URI (`kestra://`, `nsfile://`, `file://`), or an expression rendering to one.
pub type InputFiles = Property<Map<String, Value>>;

/// A `{namespace, flowId}` pair.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowRef {
    /// Namespace of the flow.
    pub namespace: Property<String>,
    /// Id of the flow (`id` is accepted as a legacy spelling).
    #[serde(alias = "id")]
    pub flow_id: Property<String>,
}

/// How to split a file into batches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Batch {
    /// Number of rows per batch.
    pub rows: Option<Property<u64>>,
    /// Size per batch, e.g. `10MB`.
    pub bytes: Option<Property<String>>,
    /// Number of batches.
    pub partitions: Option<Property<u64>>,
    /// Row separator (default `\n`).
    pub separator: Option<Property<String>>,
}

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DayOfWeek {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

/// How a recurring trigger catches up on missed ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecoverMissedSchedules {
    /// One execution per missed tick.
    All,
    /// Only the most recent missed tick.
    Last,
    /// Skip to the next future tick.
    None,
}

/// The time window of a `MultipleCondition` or of Flow trigger preconditions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimeWindow {
    /// Window kind (default `DURATION_WINDOW`).
    pub r#type: Option<TimeWindowType>,
    /// Window length (`DURATION_WINDOW`, `SLIDING_WINDOW`).
    pub window: Option<IsoDuration>,
    /// Shift of the window start (`DURATION_WINDOW`).
    pub window_advance: Option<IsoDuration>,
    /// Deadline time of day (`DAILY_TIME_DEADLINE`), e.g. `09:00:00`.
    pub deadline: Option<String>,
    /// Window start time of day (`DAILY_TIME_WINDOW`).
    pub start_time: Option<String>,
    /// Window end time of day (`DAILY_TIME_WINDOW`).
    pub end_time: Option<String>,
}

/// Kinds of [`TimeWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeWindowType {
    /// Fixed windows of `window` length aligned on midnight, shifted by `windowAdvance`.
    DurationWindow,
    /// A window of `window` length ending now.
    SlidingWindow,
    /// From midnight until `deadline`.
    DailyTimeDeadline,
    /// Between `startTime` and `endTime` every day.
    DailyTimeWindow,
}

/// Fetch mode of query tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FetchType {
    /// Store all rows in an internal-storage file.
    Store,
    /// Output all rows.
    Fetch,
    /// Output the first row.
    FetchOne,
    /// Output nothing (default).
    None,
}

/// File format of PostgreSQL `COPY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CopyFormat {
    /// Tab-separated text.
    Text,
    /// CSV.
    Csv,
    /// PostgreSQL binary format.
    Binary,
}

/// Authentication of SSH tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SshAuthMethod {
    /// Username and password (default).
    Password,
    /// A private key.
    PublicKey,
    /// The local OpenSSH configuration.
    OpenSsh,
}

/// Image pull policy of container runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PullPolicy {
    /// Pull only when the image is missing (default).
    IfNotPresent,
    /// Always pull.
    Always,
    /// Never pull.
    Never,
}

/// The runner of pre-`taskRunner` script tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LegacyRunner {
    /// A process on the worker host.
    Process,
    /// A Docker container.
    Docker,
}

/// Target operating system of script tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetOs {
    /// Linux line separators and `set -e`.
    Linux,
    /// Windows conventions.
    Windows,
    /// Detect (default).
    Auto,
}

/// A rendered `namespace` property, defaulting to the flow's namespace (KV tasks).
pub fn namespace_or_flow(
    ctx: &RunContext,
    namespace: &Option<Property<String>>,
) -> Result<String, TaskError> {
    Ok(ctx
        .render_opt(namespace)?
        .unwrap_or_else(|| ctx.info().namespace.clone()))
}

/// The extension of a storage URI's file name, dot included (`.csv`), or empty.
pub fn extension_of(uri: &str) -> &str {
    let name = uri.rsplit('/').next().unwrap_or(uri);
    name.rfind('.').map_or("", |dot| &name[dot..])
}

/// The KV key of a legacy `state.*` task's state (spec §4.4):
/// `[<flowIdSlug>_]states_tasks-states_<name>[_<hash(taskrun.value)>]`, stored in the flow's
/// namespace. `shared` drops the flow part; `per_value` isolates iterations.
pub fn state_key(ctx: &RunContext, name: &str, shared: bool, per_value: bool) -> String {
    let mut key = String::new();
    if !shared {
        key.push_str(&saker_task::storage::slugify(&ctx.info().flow_id));
        key.push('_');
    }
    key.push_str("states_tasks-states_");
    key.push_str(name);
    if per_value && let Some(value) = &ctx.info().value {
        key.push('_');
        key.push_str(&stable_hash(value).to_string());
    }
    key
}

/// FNV-1a: a stable, dependency-free hash for state keys (Kestra's own hash is not needed:
/// states are only read back by this implementation).
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The parameters every legacy state task shares, rendered.
pub struct StateRef {
    /// KV key of the state.
    pub key: String,
    /// Namespace holding it (the flow's).
    pub namespace: String,
}

impl StateRef {
    /// Renders `name` (default `default`), `namespace` (shared, default false) and
    /// `taskrunValue` (default true).
    pub fn resolve(
        ctx: &RunContext,
        name: &Option<Property<String>>,
        shared: &Option<Property<bool>>,
        per_value: &Option<Property<bool>>,
    ) -> Result<StateRef, TaskError> {
        let name = ctx
            .render_opt(name)?
            .unwrap_or_else(|| "default".to_owned());
        let shared = ctx.render_opt(shared)?.unwrap_or(false);
        let per_value = ctx.render_opt(per_value)?.unwrap_or(true);
        Ok(StateRef {
            key: state_key(ctx, &name, shared, per_value),
            namespace: ctx.info().namespace.clone(),
        })
    }

    /// The stored state map, `None` when there is none.
    pub async fn get(&self, ctx: &RunContext) -> Result<Option<Map<String, Value>>, TaskError> {
        let entry = ctx
            .kv()
            .get(&self.namespace, &self.key, ctx.now())
            .await
            .map_err(TaskError::failed)?;
        Ok(entry.map(|entry| match entry.value.value {
            Value::Object(map) => map,
            // Only state tasks write these keys; anything else is treated as an empty state.
            _ => Map::new(),
        }))
    }
}

/// The unrendered source of a per-item expression (`DeduplicateItems.expr`,
/// `FilterItems.filterCondition`): it is rendered once per item, never against the task alone.
pub fn raw_template(property: &Property<String>) -> &str {
    match property {
        Property::Expr(template) => template,
        Property::Value(text) => text,
    }
}

/// Renders per-item templates with the item's fields on top of the task's variables, as
/// Kestra's `runContext.render(expr, item)` merges them. The variables are copied once; each
/// item's fields are put in for one render and the shadowed entries restored afterwards.
pub struct ItemRenderer {
    variables: Value,
}

impl ItemRenderer {
    /// Starts from the variables of `ctx`.
    pub fn new(ctx: &RunContext) -> Self {
        let variables = ctx.variables().as_object().cloned().unwrap_or_default();
        ItemRenderer {
            variables: Value::Object(variables),
        }
    }

    /// Renders `template` with `item` merged into the variables.
    pub fn render(
        &mut self,
        ctx: &RunContext,
        template: &str,
        item: Map<String, Value>,
    ) -> Result<String, TaskError> {
        let mut shadowed = Vec::with_capacity(item.len());
        if let Value::Object(variables) = &mut self.variables {
            for (key, value) in item {
                let previous = variables.insert(key.clone(), value);
                shadowed.push((key, previous));
            }
        }
        let rendered = ctx.render_in(template, &self.variables);
        if let Value::Object(variables) = &mut self.variables {
            // Newly added keys sit at the end of the map: removing them last-first is cheap.
            for (key, previous) in shadowed.into_iter().rev() {
                match previous {
                    Some(value) => variables.insert(key, value),
                    None => variables.remove(&key),
                };
            }
        }
        rendered
    }
}

#[cfg(test)]
mod tests {
    use super::ItemRenderer;
    use saker_task::memory::test_info;
    use serde_json::json;

    #[test]
    fn item_fields_shadow_variables_for_one_render_only() {
        let env = crate::test_support::env();
        let ctx = env.context(test_info("t", "x"), json!({}));
        let mut renderer = ItemRenderer::new(&ctx);
        let item = json!({"flow": {"id": "shadow"}, "k": 1});
        let rendered = renderer.render(
            &ctx,
            "{{ flow.id }}-{{ k }}",
            item.as_object().unwrap().clone(),
        );
        assert_eq!(rendered.unwrap(), "shadow-1");
        let empty = serde_json::Map::new();
        assert_eq!(
            renderer
                .render(&ctx, "{{ flow.id }}", empty.clone())
                .unwrap(),
            "flow"
        );
        assert!(renderer.render(&ctx, "{{ k }}", empty).is_err());
    }
}

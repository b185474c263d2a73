//! The contract between flow validation and the plugin registry.
//!
//! `saker-flow` knows the shape of a flow document but not the properties of each task,
//! trigger or condition type. Those live with the plugin (one file per type in `saker-tasks`),
//! which describes itself with a [`PluginInfo`]; the registry in `saker-task` collects them and
//! implements [`Catalog`]. Validation takes a `&dyn Catalog`, so this crate never depends on the
//! plugins.

use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// What a plugin is, which decides where it may appear and who runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum PluginKind {
    Task(TaskKind),
    Trigger,
    Condition,
    /// `taskRunner:` of script tasks.
    TaskRunner,
}

/// Who executes a task (spec §4.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum TaskKind {
    /// Run by a worker, has attempts.
    Runnable,
    /// Run by the executor: decides which children run and derives its state from them.
    Flowable,
    /// The executor starts child executions (Subflow).
    Executable,
    /// The executor mutates the execution directly (Labels, Exit, SetVariables...).
    ExecutionUpdating,
    /// Flowable in YAML, but the whole block runs on one worker.
    WorkingDirectory,
}

/// A property of a plugin that holds nested plugins. Flow validation walks these itself (ids,
/// types, paths, positions), and removes them from the map given to [`PluginInfo::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A list of tasks (`tasks`, `then`, `else`, `errors`, `finally`, `defaults`).
    Tasks(&'static str),
    /// A map from a key to a list of tasks (Switch `cases`).
    TaskMap(&'static str),
    /// Dag `tasks`: a list of `{task: <Task>, dependsOn: [ids]}`.
    DagTasks(&'static str),
    /// A single task (`task:`), e.g. the body of some wrappers.
    Task(&'static str),
    /// Nested typed objects of another kind, a list or a single map (`conditions`,
    /// `taskRunner`).
    Typed {
        prop: &'static str,
        kind: PluginKind,
        many: bool,
    },
}

impl Slot {
    /// The property name this slot occupies.
    pub fn prop(&self) -> &'static str {
        match self {
            Slot::Tasks(p) | Slot::TaskMap(p) | Slot::DagTasks(p) | Slot::Task(p) => p,
            Slot::Typed { prop, .. } => prop,
        }
    }
}

/// A problem in a plugin's own properties. `path` is relative to the plugin object, in the
/// flow path syntax (`headers.accept`, `values[2]`); empty for the object itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub path: String,
    pub message: String,
}

/// A plugin type as the registry describes it.
pub struct PluginInfo {
    /// The current type name (`io.kestra.plugin.core.log.Log`).
    pub type_name: &'static str,
    /// Every other accepted `type:` value (legacy names, aliases).
    pub aliases: &'static [&'static str],
    pub kind: PluginKind,
    /// One-line description (used in schema and docs).
    pub title: &'static str,
    /// Properties holding nested plugins.
    pub slots: &'static [Slot],
    /// Checks the plugin's own properties. `props` excludes `type`, the common task properties
    /// (id, description, retry, timeout, disabled, runIf, allowFailure, ...) and every slot
    /// property. Expression strings are accepted wherever a value may be dynamic.
    pub check: fn(&Map<String, Value>) -> Vec<ParamError>,
    /// JSON Schema of the plugin's own properties (for `saker flow schema`).
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

impl std::fmt::Debug for PluginInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInfo")
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// Looks plugin types up by any accepted name.
pub trait Catalog: Sync {
    /// The plugin registered under `type_name` (current name or alias).
    fn get(&self, type_name: &str) -> Option<&PluginInfo>;
    /// Every registered plugin, once each.
    fn plugins(&self) -> Vec<&PluginInfo>;
}

/// Properties every task accepts (spec §3.1). Flow validation checks these itself and strips
/// them, with `type` and the slot properties, before calling [`PluginInfo::check`].
/// `errors` and `finally` are accepted by every flowable as [`Slot::Tasks`], declared by the
/// plugin.
pub const TASK_COMMON_PROPS: &[&str] = &[
    "id",
    "type",
    "description",
    "version",
    "retry",
    "timeout",
    "disabled",
    "runIf",
    "allowFailure",
    "allowWarning",
    "logLevel",
    "logToFile",
    "workerGroup",
    "taskCache",
];

/// Properties every trigger accepts (spec §5.1), stripped likewise. `conditions` is a slot that
/// flow validation walks itself for every trigger.
pub const TRIGGER_COMMON_PROPS: &[&str] = &[
    "id",
    "type",
    "description",
    "conditions",
    "disabled",
    "stopAfter",
    "labels",
    "logLevel",
    "logToFile",
    "workerGroup",
    "failOnTriggerError",
];

/// Properties every condition accepts (just its discriminator).
pub const CONDITION_COMMON_PROPS: &[&str] = &["type"];

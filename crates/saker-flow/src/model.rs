//! The typed flow model the engine runs. Built by [`crate::parse_and_validate`] after plugin
//! defaults are applied; plugin-specific properties stay raw JSON (`params`) so expressions are
//! kept as written and rendered at run time.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalog::{PluginKind, Slot, TaskKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    pub revision: Option<u32>,
    pub description: Option<String>,
    pub labels: Vec<Label>,
    pub inputs: Vec<Input>,
    pub variables: Map<String, Value>,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    #[serde(rename = "finally")]
    pub finally: Vec<Task>,
    pub after_execution: Vec<Task>,
    pub listeners: Vec<Listener>,
    pub triggers: Vec<Trigger>,
    /// As written (`taskDefaults` included); already applied to tasks/triggers/conditions.
    pub plugin_defaults: Vec<PluginDefault>,
    pub concurrency: Option<Concurrency>,
    pub outputs: Vec<FlowOutput>,
    pub retry: Option<Retry>,
    /// Flow-level SLAs (spec §1.9), in document order.
    pub sla: Vec<Sla>,
    /// Raw checks list (validated for shape only).
    pub checks: Vec<Value>,
    pub disabled: bool,
    pub deleted: bool,
    pub worker_group: Option<Value>,
    /// The document text as loaded (Kestra stores and shows the source).
    #[serde(skip)]
    pub source: String,
}

impl Flow {
    /// `namespace.id`, how the CLI names a flow.
    pub fn qualified_id(&self) -> String {
        format!("{}.{}", self.namespace, self.id)
    }

    /// Every task of the flow, depth first, in document order (tasks, errors, finally,
    /// afterExecution, listeners).
    pub fn all_tasks(&self) -> Vec<&Task> {
        let mut out = Vec::new();
        let roots = self
            .tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
            .chain(self.listeners.iter().flat_map(|l| &l.tasks));
        for t in roots {
            t.walk(&mut |t| out.push(t));
        }
        out
    }

    /// The task with this id anywhere in the flow.
    pub fn find_task(&self, id: &str) -> Option<&Task> {
        self.all_tasks().into_iter().find(|t| t.id == id)
    }
}

/// One flow-level SLA (spec §1.9): a maximum duration or an assertion on the execution, and
/// what a violation does. Serialized in Kestra's shape (`type` beside the other properties).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sla {
    /// Not unique: Kestra accepts several SLAs with the same id.
    pub id: String,
    #[serde(flatten)]
    pub kind: SlaKind,
    pub behavior: SlaBehavior,
    /// Added to the execution on a violation (whatever the behavior).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaKind {
    /// Violated when the execution still runs `duration` (ISO-8601, as written) after it
    /// started.
    MaxDuration { duration: String },
    /// Violated when the template renders falsy (spec §7.5) on a change of a running execution.
    ExecutionAssertion {
        #[serde(rename = "assert")]
        assertion: String,
    },
}

/// What a violated SLA does to the execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SlaBehavior {
    /// The execution (and its last unfinished task run) ends FAILED; running work is killed.
    Fail,
    /// The same with CANCELLED.
    Cancel,
    /// Only the log line and the labels.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listener {
    pub description: Option<String>,
    pub conditions: Vec<Plugin>,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    /// The `type` as written (may be a legacy alias).
    pub type_name: String,
    /// The registry's current name for that type.
    pub canonical: &'static str,
    pub kind: TaskKind,
    pub common: TaskCommon,
    /// Type-specific properties (slots and common properties removed), raw.
    pub params: Map<String, Value>,
    /// Child task lists, in the plugin's slot order.
    pub branches: Vec<Branch>,
    /// Nested typed plugins that are not tasks (`taskRunner`, conditions of a task...).
    pub plugins: Vec<(String, Vec<Plugin>)>,
    /// Flow path of the task (`tasks[2].then[0]`).
    pub path: String,
    /// Why the executor cannot run this task, found when the flow was prepared for a run (a
    /// Template task whose template is missing or disabled): its task run fails with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

impl Task {
    /// The branch named `name` (`then`, `else`, `errors`, `finally`, `cases.<key>`...).
    pub fn branch(&self, name: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.name == name)
    }

    /// The tasks of a branch, empty when the branch is absent.
    pub fn branch_tasks(&self, name: &str) -> &[Task] {
        self.branch(name).map(|b| b.tasks.as_slice()).unwrap_or(&[])
    }

    pub fn is_flowable(&self) -> bool {
        matches!(self.kind, TaskKind::Flowable | TaskKind::WorkingDirectory)
    }

    /// Calls `f` on this task and every descendant, depth first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Task)) {
        f(self);
        for b in &self.branches {
            for t in &b.tasks {
                t.walk(f);
            }
        }
    }
}

/// ForEachItem's hidden steps. Kestra runs a ForEachItem as a sequential flowable over three
/// derived tasks (`<id>_split`, `<id>_items`, `<id>_merge`, its `getTasks()`); the model holds
/// them as the task's `tasks` branch so the executor and the workers find them like any task.
pub mod for_each_item {
    use serde_json::Map;

    use super::{Branch, Task, TaskCommon};
    use crate::catalog::{Slot, TaskKind};

    pub const TYPE: &str = "io.kestra.plugin.core.flow.ForEachItem";
    /// Runnable: splits `items` into batch files; outputs `splits` (a file listing the batch
    /// URIs) and `uris` (the same list, read by the executor).
    pub const SPLIT: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit";
    /// Executable: one subflow execution per batch; outputs `iterations`, `numberOfBatches`,
    /// `subflowOutputsBaseUri`.
    pub const ITEMS: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable";
    /// Runnable: concatenates the subflows' outputs files; outputs `subflowOutputs`.
    pub const MERGE: &str = "io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs";
    pub const SPLIT_SUFFIX: &str = "_split";
    pub const ITEMS_SUFFIX: &str = "_items";
    pub const MERGE_SUFFIX: &str = "_merge";

    /// The hidden `tasks` branch of a ForEachItem task.
    pub(crate) fn steps(task: &Task) -> Branch {
        let pick = |keep: &dyn Fn(&str) -> bool| -> Map<String, serde_json::Value> {
            task.params
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let step = |suffix: &str, canonical: &'static str, kind, params| Task {
            id: format!("{}{suffix}", task.id),
            type_name: canonical.to_owned(),
            canonical,
            kind,
            common: TaskCommon::default(),
            params,
            branches: Vec::new(),
            plugins: Vec::new(),
            path: task.path.clone(),
            unresolved: None,
        };
        let split_props = |k: &str| k == "items" || k == "batch";
        Branch {
            name: "tasks".into(),
            slot: Slot::Tasks("tasks"),
            case: None,
            tasks: vec![
                step(SPLIT_SUFFIX, SPLIT, TaskKind::Runnable, pick(&split_props)),
                step(
                    ITEMS_SUFFIX,
                    ITEMS,
                    TaskKind::Executable,
                    pick(&|k| !split_props(k)),
                ),
                step(MERGE_SUFFIX, MERGE, TaskKind::Runnable, Map::new()),
            ],
            depends_on: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Branch {
    /// `tasks`, `then`, `else`, `errors`, `finally`, `defaults`, `task`, or `cases.<key>`.
    pub name: String,
    #[serde(skip)]
    pub slot: Slot,
    /// For [`Slot::TaskMap`], the case key.
    pub case: Option<String>,
    pub tasks: Vec<Task>,
    /// For [`Slot::DagTasks`]: `depends_on[i]` lists the ids `tasks[i]` waits for.
    pub depends_on: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCommon {
    pub description: Option<String>,
    pub version: Option<String>,
    pub retry: Option<Retry>,
    /// ISO-8601 duration or an expression, as written.
    pub timeout: Option<String>,
    pub disabled: bool,
    pub run_if: Option<String>,
    pub allow_failure: bool,
    pub allow_warning: bool,
    pub log_level: Option<LogLevel>,
    pub log_to_file: bool,
    pub worker_group: Option<Value>,
    pub task_cache: Option<TaskCache>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCache {
    pub enabled: bool,
    pub ttl: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "WARN" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            _ => return None,
        })
    }
}

/// A nested non-task plugin (condition, task runner).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plugin {
    pub type_name: String,
    pub canonical: &'static str,
    #[serde(skip)]
    pub kind: PluginKind,
    pub params: Map<String, Value>,
    /// Nested plugins (e.g. `conditions` of `Not`/`Or`).
    pub plugins: Vec<(String, Vec<Plugin>)>,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub id: String,
    pub type_name: String,
    pub canonical: &'static str,
    pub description: Option<String>,
    pub disabled: bool,
    pub stop_after: Vec<String>,
    pub labels: Vec<Label>,
    pub log_level: Option<LogLevel>,
    pub log_to_file: bool,
    pub worker_group: Option<Value>,
    pub fail_on_trigger_error: bool,
    pub conditions: Vec<Plugin>,
    pub params: Map<String, Value>,
    pub plugins: Vec<(String, Vec<Plugin>)>,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginDefault {
    #[serde(rename = "type")]
    pub type_: String,
    pub forced: bool,
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConcurrencyBehavior {
    Queue,
    Cancel,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowOutput {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: InputType,
    pub value: Value,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryType {
    Constant,
    Exponential,
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryBehavior {
    RetryFailedTask,
    CreateNewExecution,
}

/// Task or flow retry policy (spec §3.2). Durations are kept as written (ISO-8601).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    #[serde(rename = "type")]
    pub type_: RetryType,
    pub interval: Option<String>,
    pub max_interval: Option<String>,
    pub min_interval: Option<String>,
    pub delay_factor: Option<f64>,
    /// `maxAttempts` (or legacy `maxAttempt`): total attempts including the first.
    pub max_attempts: Option<u32>,
    pub max_duration: Option<String>,
    pub warning_on_retry: bool,
    pub behavior: RetryBehavior,
}

/// Input types of spec §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InputType {
    String,
    Enum,
    Select,
    Multiselect,
    Int,
    Float,
    Boolean,
    Bool,
    Datetime,
    Date,
    Time,
    Duration,
    File,
    Json,
    Uri,
    Secret,
    Array,
    Yaml,
    Email,
}

impl InputType {
    pub const ALL: &'static [InputType] = &[
        InputType::String,
        InputType::Enum,
        InputType::Select,
        InputType::Multiselect,
        InputType::Int,
        InputType::Float,
        InputType::Boolean,
        InputType::Bool,
        InputType::Datetime,
        InputType::Date,
        InputType::Time,
        InputType::Duration,
        InputType::File,
        InputType::Json,
        InputType::Uri,
        InputType::Secret,
        InputType::Array,
        InputType::Yaml,
        InputType::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "STRING",
            InputType::Enum => "ENUM",
            InputType::Select => "SELECT",
            InputType::Multiselect => "MULTISELECT",
            InputType::Int => "INT",
            InputType::Float => "FLOAT",
            InputType::Boolean => "BOOLEAN",
            InputType::Bool => "BOOL",
            InputType::Datetime => "DATETIME",
            InputType::Date => "DATE",
            InputType::Time => "TIME",
            InputType::Duration => "DURATION",
            InputType::File => "FILE",
            InputType::Json => "JSON",
            InputType::Uri => "URI",
            InputType::Secret => "SECRET",
            InputType::Array => "ARRAY",
            InputType::Yaml => "YAML",
            InputType::Email => "EMAIL",
        }
    }

    pub fn parse(s: &str) -> Option<InputType> {
        InputType::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// Properties this type accepts besides the common ones.
    pub fn extra_props(self) -> &'static [&'static str] {
        match self {
            InputType::String | InputType::Secret => &["validator"],
            InputType::Enum => &["values"],
            InputType::Select => &[
                "values",
                "expression",
                "allowCustomValue",
                "isRadio",
                "autoSelectFirst",
            ],
            InputType::Multiselect => &[
                "values",
                "options",
                "expression",
                "itemType",
                "allowCustomValue",
                "autoSelectFirst",
            ],
            InputType::Int | InputType::Float | InputType::Duration => &["min", "max"],
            InputType::Datetime | InputType::Date | InputType::Time => &["after", "before"],
            InputType::File => &["extension", "allowedFileExtensions"],
            InputType::Json => &["jsonSchema"],
            InputType::Array => &["itemType"],
            InputType::Boolean
            | InputType::Bool
            | InputType::Uri
            | InputType::Yaml
            | InputType::Email => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputDependsOn {
    pub inputs: Vec<String>,
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: InputType,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub required: bool,
    pub defaults: Option<Value>,
    pub prefill: Option<Value>,
    pub depends_on: Option<InputDependsOn>,
    /// STRING/SECRET regex (Java syntax, full match).
    pub validator: Option<String>,
    /// INT/FLOAT numbers, DURATION strings.
    pub min: Option<Value>,
    pub max: Option<Value>,
    /// DATETIME/DATE/TIME bounds.
    pub after: Option<String>,
    pub before: Option<String>,
    /// ENUM/SELECT/MULTISELECT values (MULTISELECT legacy `options` folded in).
    pub values: Option<Vec<String>>,
    pub expression: Option<String>,
    pub item_type: Option<InputType>,
    pub allow_custom_value: bool,
    pub is_radio: bool,
    pub auto_select_first: bool,
    pub extension: Option<String>,
    /// Anything else of the type's own properties, raw.
    pub extra: Map<String, Value>,
}

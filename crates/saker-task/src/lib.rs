//! The plugin API shared by every built-in plugin type.
//!
//! A plugin (task, trigger, condition or task runner) is one file in `saker-tasks` that declares a
//! serde `Params` struct and registers itself with [`register_plugin!`]. From the struct this
//! crate derives, for free, the property check used by flow validation ([`check_params`]) and the
//! JSON Schema of the properties ([`schema_of`]). Dynamic properties are typed [`Property<T>`]
//! (a literal `T` or a Pebble expression); durations are [`IsoDuration`].
//!
//! [`Registry`] collects every registration (through `inventory`) and implements
//! [`saker_flow::Catalog`].
//!
//! The run-time side: a runnable task implements [`RunnableTask`] and adds `runnable: Type` to
//! its registration; the worker looks it up with [`Registry::runnable`] and calls
//! [`ErasedRunnable::run`] with a [`RunContext`] (rendering, logger, KV store, internal storage,
//! clock, cancellation). [`memory`] has in-memory services for the local runner and tests.

pub mod context;
pub mod duration;
pub mod kv;
pub mod log;
pub mod memory;
pub mod namespace_files;
pub mod params;
pub mod path;
pub mod plugin;
pub mod property;
pub mod purge;
pub mod registry;
pub mod storage;
pub mod task;

pub use context::{Clock, FixedClock, RunContext, RunServices, TaskRunInfo, TaskRunnerDef};
pub use duration::IsoDuration;
pub use kv::{KvError, KvStore, KvType};
pub use log::{Level, LogSink, LogSource, TaskLogger};
pub use params::{check_params, check_plugin_params, schema_of};
pub use path::{ParamPath, Segment};
pub use plugin::{__private, Registration};
pub use property::{OneOrMany, Property, is_expression};
pub use registry::{Registry, RegistryError};
pub use saker_flow::catalog::{Catalog, ParamError, PluginInfo, PluginKind, Slot, TaskKind};
pub use storage::{FileInfo, Storage, StorageError};
pub use task::{ErasedRunnable, Metric, MetricValue, RunnableTask, TaskError, TaskOutcome};

// Re-exported so `register_plugin!` works in crates that do not depend on inventory.
#[doc(hidden)]
pub use inventory;

/// Everything a plugin file needs.
pub mod prelude {
    pub use crate::{
        IsoDuration, Level, Metric, OneOrMany, ParamError, PluginInfo, PluginKind, Property,
        RunContext, RunnableTask, Slot, TaskError, TaskKind, TaskOutcome, check_params,
        register_plugin, schema_of,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Map, Value};
}

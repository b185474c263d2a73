//! The plugin API shared by every built-in plugin type.
//!
//! A plugin (task, trigger, condition or task runner) is one file in `saker-tasks` that declares a
//! serde `Params` struct and registers itself with [`register_plugin!`]. From the struct this
//! crate derives, for free, the property check used by flow validation ([`check_params`]) and the
//! JSON Schema of the properties ([`schema_of`]). Dynamic properties are typed [`Property<T>`]
//! (a literal `T` or a Pebble expression); durations are [`IsoDuration`].
//!
//! [`Registry`] collects every registration (through `inventory`) and implements
//! [`saker_flow::Catalog`]. The run-time side (a `Task` trait with `run`) will live next to
//! [`plugin`] in a `task` module.

pub mod duration;
pub mod params;
pub mod path;
pub mod plugin;
pub mod property;
pub mod registry;

pub use duration::IsoDuration;
pub use params::{check_params, check_plugin_params, schema_of};
pub use path::{ParamPath, Segment};
pub use plugin::{__private, Registration};
pub use property::{OneOrMany, Property, is_expression};
pub use registry::{Registry, RegistryError};
pub use saker_flow::catalog::{Catalog, ParamError, PluginInfo, PluginKind, Slot, TaskKind};

// Re-exported so `register_plugin!` works in crates that do not depend on inventory.
#[doc(hidden)]
pub use inventory;

/// Everything a plugin file needs.
pub mod prelude {
    pub use crate::{
        IsoDuration, OneOrMany, ParamError, PluginInfo, PluginKind, Property, Slot, TaskKind,
        check_params, register_plugin, schema_of,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Map, Value};
}

//! `io.kestra.plugin.scripts.python.Commands`: runs commands in a Python environment with a task runner.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Commands`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Commands, joined with newlines and passed to the interpreter.
        pub commands: Property<Vec<String>>,
        common: script_exec;
        /// pip requirement specifiers installed before the run.
        pub dependencies: Option<Property<Vec<String>>>,
        /// Python version used to install dependencies.
        pub python_version: Option<Property<String>>,
        /// Package manager: `UV` (default) or `PIP`.
        pub package_manager: Option<Property<String>>,
        /// Cache installed dependencies (default true).
        pub dependency_cache_enabled: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.python.Commands",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run Python commands.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

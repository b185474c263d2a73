//! `io.kestra.plugin.scripts.shell.Script`: runs an inline shell script with a task runner.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Script`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Script source.
        pub script: Property<String>,
        common: script_exec;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.shell.Script",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run a shell script.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

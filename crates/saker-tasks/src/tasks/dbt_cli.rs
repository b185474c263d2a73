//! `io.kestra.plugin.dbt.cli.DbtCLI`: runs dbt CLI commands with a task runner.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `DbtCLI`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// dbt commands to run.
        pub commands: Property<Vec<String>>,
        /// dbt log format: `JSON` (default), `TEXT`, `DEFAULT`.
        pub log_format: Option<Property<String>>,
        /// Store `manifest.json` in the KV store (`key`, `namespace`).
        pub store_manifest: Option<Property<Map<String, Value>>>,
        /// Load a stored `manifest.json` for state selection.
        pub load_manifest: Option<Property<Map<String, Value>>>,
        common: dbt_image;
        /// Stop at the first failing command (`set -e`, default true).
        pub fail_fast: Option<Property<bool>>,
        common: dbt_exec;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.dbt.cli.DbtCLI",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run dbt CLI commands.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

//! `io.kestra.plugin.dbt.cli.Test`: invokes `dbt test`.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Test`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: dbt_command;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.dbt.cli.Test",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run `dbt test`.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

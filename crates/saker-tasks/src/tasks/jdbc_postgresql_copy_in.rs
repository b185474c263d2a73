//! `io.kestra.plugin.jdbc.postgresql.CopyIn`: loads an internal-storage file into a table with `COPY FROM`.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `CopyIn`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: postgres_connection;
        common: postgres_copy;
        /// URI of the file to load.
        pub from: Property<String>,
        /// Load with `FREEZE`.
        pub freeze: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.CopyIn",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Load a file into a PostgreSQL table.",
    slots: [],
    params: Params,
}

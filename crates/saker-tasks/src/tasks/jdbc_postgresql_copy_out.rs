//! `io.kestra.plugin.jdbc.postgresql.CopyOut`: exports a table or query result to an internal-storage file with `COPY TO`.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `CopyOut`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: postgres_connection;
        common: postgres_copy;
        /// Query to export instead of `table`.
        pub sql: Option<Property<String>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.CopyOut",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Export a PostgreSQL table or query to a file.",
    slots: [],
    params: Params,
}

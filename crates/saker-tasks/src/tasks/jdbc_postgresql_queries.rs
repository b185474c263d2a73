//! `io.kestra.plugin.jdbc.postgresql.Queries`: runs several `;`-separated SQL statements on PostgreSQL.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Queries`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: postgres_connection;
        /// The SQL statements.
        pub sql: Property<String>,
        /// Run all statements in one transaction (default true).
        pub transaction: Option<Property<bool>>,
        common: jdbc_fetch;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.Queries",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run several SQL statements on PostgreSQL.",
    slots: [],
    params: Params,
}

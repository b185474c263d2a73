//! `io.kestra.plugin.jdbc.postgresql.Trigger`: runs a query periodically and starts an execution when it returns rows.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Trigger`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: postgres_connection;
        /// The query.
        pub sql: Property<String>,
        /// Polling period (default `PT60S`).
        pub interval: Option<Property<IsoDuration>>,
        common: jdbc_fetch;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.Trigger",
    aliases: [],
    kind: PluginKind::Trigger,
    title: "Poll a PostgreSQL query and start an execution when it returns rows.",
    slots: [],
    params: Params,
}

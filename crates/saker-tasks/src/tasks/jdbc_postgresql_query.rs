//! `io.kestra.plugin.jdbc.postgresql.Query`: runs one SQL statement on PostgreSQL.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Query`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: postgres_connection;
        /// The SQL statement.
        pub sql: Property<String>,
        /// Auto-commit mode (default true).
        pub auto_commit: Option<Property<bool>>,
        common: jdbc_fetch;
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.Query",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run a SQL query on PostgreSQL.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn query_props() {
        let ty = "io.kestra.plugin.jdbc.postgresql.Query";
        assert_valid(
            ty,
            json!({"url": "jdbc:postgresql://h/db", "username": "{{ secret('U') }}", "sql": "select 1", "fetchType": "FETCH_ONE"}),
        );
        assert_invalid(
            ty,
            json!({"url": "jdbc:postgresql://h/db", "sql": "x", "fetchType": "ALL"}),
            "fetchType",
            "unknown variant",
        );
        assert_invalid(
            ty,
            json!({"sql": "x"}),
            "",
            "missing required property \"url\"",
        );
    }
}

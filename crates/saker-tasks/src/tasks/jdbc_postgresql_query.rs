//! `io.kestra.plugin.jdbc.postgresql.Query`: runs one SQL statement on PostgreSQL.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::FetchType;
use saker_task::prelude::*;

/// Properties of `Query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// JDBC URL (`jdbc:postgresql://host:5432/db`).
    pub url: Property<String>,
    /// Database user.
    pub username: Option<Property<String>>,
    /// Database password.
    pub password: Option<Property<String>>,
    /// Use TLS (default false).
    pub ssl: Option<Property<bool>>,
    /// TLS mode: `DISABLE`, `ALLOW`, `PREFER`, `REQUIRE`, `VERIFY_CA`, `VERIFY_FULL`.
    pub ssl_mode: Option<Property<String>>,
    /// CA certificate (PEM).
    pub ssl_root_cert: Option<Property<String>>,
    /// Client certificate (PEM).
    pub ssl_cert: Option<Property<String>>,
    /// Client key (PEM).
    pub ssl_key: Option<Property<String>>,
    /// Password of the client key.
    pub ssl_key_password: Option<Property<String>>,
    /// Time zone used for dates without zone.
    pub time_zone_id: Option<Property<String>>,
    /// The SQL statement.
    pub sql: Property<String>,
    /// Auto-commit mode (default true).
    pub auto_commit: Option<Property<bool>>,
    /// What to do with the result rows (default `NONE`).
    pub fetch_type: Option<Property<FetchType>>,
    /// Deprecated: `fetchType: FETCH`.
    pub fetch: Option<Property<bool>>,
    /// Deprecated: `fetchType: FETCH_ONE`.
    pub fetch_one: Option<Property<bool>>,
    /// Deprecated: `fetchType: STORE`.
    pub store: Option<Property<bool>>,
    /// JDBC fetch size hint (default 10000).
    pub fetch_size: Option<Property<u32>>,
    /// Named parameters bound in the SQL.
    pub parameters: Option<Property<Map<String, Value>>>,
    /// SQL run in the same transaction after the query.
    #[serde(rename = "afterSQL")]
    pub after_sql: Option<Property<String>>,
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

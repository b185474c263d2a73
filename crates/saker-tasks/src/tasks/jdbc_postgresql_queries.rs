//! `io.kestra.plugin.jdbc.postgresql.Queries`: runs several `;`-separated SQL statements on PostgreSQL.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::FetchType;
use saker_task::prelude::*;

/// Properties of `Queries`.
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
    /// The SQL statements.
    pub sql: Property<String>,
    /// Run all statements in one transaction (default true).
    pub transaction: Option<Property<bool>>,
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
    type_name: "io.kestra.plugin.jdbc.postgresql.Queries",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run several SQL statements on PostgreSQL.",
    slots: [],
    params: Params,
}

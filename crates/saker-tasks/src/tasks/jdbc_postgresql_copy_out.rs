//! `io.kestra.plugin.jdbc.postgresql.CopyOut`: exports a table or query result to an internal-storage file with `COPY TO`.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use saker_task::prelude::*;

/// Properties of `CopyOut`.
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
    /// Table to copy.
    pub table: Option<Property<String>>,
    /// Columns to copy (default all).
    pub columns: Option<Property<Vec<String>>>,
    /// File format (default `TEXT`).
    pub format: Option<Property<CopyFormat>>,
    /// Copy OIDs.
    pub oids: Option<Property<bool>>,
    /// Column delimiter (default tab in TEXT, comma in CSV).
    pub delimiter: Option<Property<String>>,
    /// String representing NULL.
    pub null_string: Option<Property<String>>,
    /// The file has a header line (CSV).
    pub header: Option<Property<bool>>,
    /// Quote character (CSV).
    pub quote: Option<Property<String>>,
    /// Escape character (CSV).
    pub escape: Option<Property<String>>,
    /// Columns always quoted (CSV out).
    pub force_quote: Option<Property<Vec<String>>>,
    /// Columns never matched against the null string (CSV in).
    pub force_not_null: Option<Property<Vec<String>>>,
    /// Columns matched against the null string even when quoted (CSV in).
    pub force_null: Option<Property<Vec<String>>>,
    /// File encoding.
    pub encoding: Option<Property<String>>,
    /// Query to export instead of `table`.
    pub sql: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.jdbc.postgresql.CopyOut",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Export a PostgreSQL table or query to a file.",
    slots: [],
    params: Params,
}

/// File format of PostgreSQL `COPY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CopyFormat {
    /// Tab-separated text.
    Text,
    /// CSV.
    Csv,
    /// PostgreSQL binary format.
    Binary,
}

//! `io.kestra.plugin.dbt.cli.DbtCLI`: runs dbt CLI commands with a task runner.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::{InputFiles, LegacyRunner, NamespaceFiles};
use saker_task::prelude::*;

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
    /// Image used by container task runners (default `ghcr.io/kestra-io/dbt`).
    pub container_image: Option<Property<String>>,
    /// Commands run before the main ones.
    pub before_commands: Option<Property<Vec<String>>>,
    /// Stop at the first failing command (`set -e`, default true).
    pub fail_fast: Option<Property<bool>>,
    /// Environment variables (rendered).
    pub env: Option<Property<Map<String, Value>>>,
    /// Namespace files copied into the working directory.
    pub namespace_files: Option<NamespaceFiles>,
    /// Files written into the working directory.
    pub input_files: Option<InputFiles>,
    /// Glob patterns of files uploaded after the run.
    pub output_files: Option<Property<Vec<String>>>,
    /// Deprecated and ignored.
    pub warning_on_std_err: Option<Property<bool>>,
    /// Deprecated: `PROCESS` or `DOCKER` (use `taskRunner`).
    pub runner: Option<Property<LegacyRunner>>,
    /// Deprecated: Docker options for `runner: DOCKER`.
    pub docker: Option<Property<Map<String, Value>>>,
    /// Deprecated: Docker options (use `taskRunner`).
    pub docker_options: Option<Property<Map<String, Value>>>,
    /// Content of `profiles.yml`.
    pub profiles: Option<Property<String>>,
    /// Directory of `dbt_project.yml` in the working directory.
    pub project_dir: Option<Property<String>>,
    /// Parse `run_results.json` into outputs and metrics (default true).
    pub parse_run_results: Option<Property<bool>>,
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

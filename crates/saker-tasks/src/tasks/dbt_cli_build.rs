//! `io.kestra.plugin.dbt.cli.Build`: invokes `dbt build`.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::{InputFiles, LegacyRunner, NamespaceFiles};
use saker_task::prelude::*;

/// Properties of `Build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Path of the dbt binary (default `./bin/dbt`).
    pub dbt_path: Option<Property<String>>,
    /// Debug logging.
    pub debug: Option<Property<bool>>,
    /// Stop at the first failure.
    pub fail_fast: Option<Property<bool>>,
    /// Treat warnings as errors.
    pub warn_error: Option<Property<bool>>,
    /// Rebuild incremental models from scratch.
    pub full_refresh: Option<Property<bool>>,
    /// Number of threads.
    pub thread: Option<Property<u32>>,
    /// Profile target.
    pub target: Option<Property<String>>,
    /// Nodes to include.
    pub select: Option<Property<Vec<String>>>,
    /// Named selector.
    pub selector: Option<Property<String>>,
    /// Nodes to exclude.
    pub exclude: Option<Property<Vec<String>>>,
    /// Image used by container task runners (default `ghcr.io/kestra-io/dbt`).
    pub container_image: Option<Property<String>>,
    /// Commands run before the main ones.
    pub before_commands: Option<Property<Vec<String>>>,
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
    type_name: "io.kestra.plugin.dbt.cli.Build",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run `dbt build`.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

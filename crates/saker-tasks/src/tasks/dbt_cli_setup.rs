//! `io.kestra.plugin.dbt.cli.Setup`: legacy: installs dbt and its adapters in a Python virtualenv.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::{InputFiles, LegacyRunner};
use saker_task::prelude::*;

/// Properties of `Setup`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// pip requirements (dbt and adapters).
    pub requirements: Property<Vec<String>>,
    /// Content of `profiles.yml` as a map.
    pub profiles: Option<Property<Map<String, Value>>>,
    /// Python binary (default `python`).
    pub python_path: Option<Property<String>>,
    /// Create a virtualenv (default true).
    pub virtual_env: Option<Property<bool>>,
    /// Stop at the first failing command (default true).
    pub exit_on_failed: Option<Property<bool>>,
    /// Where the setup runs (default `PROCESS`).
    pub runner: Option<Property<LegacyRunner>>,
    /// Docker options for `runner: DOCKER`.
    pub docker_options: Option<Property<Map<String, Value>>>,
    /// Files written into the working directory.
    pub input_files: Option<InputFiles>,
    /// Environment variables.
    pub env: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.dbt.cli.Setup",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Install dbt in a virtualenv (legacy).",
    slots: [],
    params: Params,
}

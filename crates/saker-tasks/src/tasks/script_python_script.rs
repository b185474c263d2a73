//! `io.kestra.plugin.scripts.python.Script`: runs an inline Python script with a task runner.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::{InputFiles, LegacyRunner, NamespaceFiles, TargetOs};
use saker_task::prelude::*;

/// Properties of `Script`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Script source.
    pub script: Property<String>,
    /// Image used by container task runners.
    pub container_image: Option<Property<String>>,
    /// Commands run before the main ones.
    pub before_commands: Option<Property<Vec<String>>>,
    /// Interpreter and its arguments (default `["/bin/sh", "-c"]`).
    pub interpreter: Option<Property<Vec<String>>>,
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
    /// Target operating system (default `AUTO`).
    #[serde(rename = "targetOS")]
    pub target_os: Option<Property<TargetOs>>,
    /// Deprecated and ignored.
    pub warning_on_std_err: Option<Property<bool>>,
    /// Deprecated: enables `{{ outputDir }}`.
    pub output_directory: Option<Property<bool>>,
    /// Deprecated: `PROCESS` or `DOCKER` (use `taskRunner`).
    pub runner: Option<Property<LegacyRunner>>,
    /// Deprecated: Docker options for `runner: DOCKER`.
    pub docker: Option<Property<Map<String, Value>>>,
    /// pip requirement specifiers installed before the run.
    pub dependencies: Option<Property<Vec<String>>>,
    /// Python version used to install dependencies.
    pub python_version: Option<Property<String>>,
    /// Package manager: `UV` (default) or `PIP`.
    pub package_manager: Option<Property<String>>,
    /// Cache installed dependencies (default true).
    pub dependency_cache_enabled: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.python.Script",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run a Python script.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
}

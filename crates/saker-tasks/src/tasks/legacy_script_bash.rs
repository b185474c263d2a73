//! `io.kestra.core.tasks.scripts.Bash`: deprecated shell script task of Kestra < 0.10.

use crate::shared::{InputFiles, LegacyRunner};
use saker_task::prelude::*;

/// Properties of `Bash`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Commands, joined with newlines.
    pub commands: Property<Vec<String>>,
    /// Interpreter (default `/bin/sh`), run as `interpreter -c "<script>"`.
    pub interpreter: Option<Property<String>>,
    /// Interpreter arguments (default `["-c"]`).
    pub interpreter_args: Option<Property<Vec<String>>>,
    /// Stop at the first failing command (default true).
    pub exit_on_failed: Option<Property<bool>>,
    /// Where the script runs (default `PROCESS`).
    pub runner: Option<Property<LegacyRunner>>,
    /// Docker options for `runner: DOCKER`.
    pub docker_options: Option<Property<Map<String, Value>>>,
    /// Files written into the working directory.
    pub input_files: Option<InputFiles>,
    /// Names of output files exposed as `{{ outputFiles.<name> }}`.
    pub output_files: Option<Property<Vec<String>>>,
    /// Deprecated: names of output directories.
    pub output_dirs: Option<Property<Vec<String>>>,
    /// Deprecated alias of `outputFiles`.
    pub outputs_files: Option<Property<Vec<String>>>,
    /// Deprecated alias of `outputFiles`.
    pub files: Option<Property<Vec<String>>>,
    /// Environment variables.
    pub env: Option<Property<Map<String, Value>>>,
    /// Deprecated and ignored.
    pub warning_on_std_err: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.core.tasks.scripts.Bash",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run shell commands (deprecated).",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn legacy_bash() {
        let ty = "io.kestra.core.tasks.scripts.Bash";
        assert_valid(
            ty,
            json!({"commands": ["echo {{ outputFiles.out }}"], "outputFiles": ["out"], "runner": "DOCKER", "dockerOptions": {"image": "ubuntu"}}),
        );
        assert_invalid(
            ty,
            json!({"commands": ["x"], "runner": "K8S"}),
            "runner",
            "unknown variant `K8S`",
        );
    }
}

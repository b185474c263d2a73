//! `io.kestra.plugin.scripts.shell.Commands`: runs shell commands with a task runner.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Commands`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Commands, joined with newlines and passed to the interpreter.
        pub commands: Property<Vec<String>>,
        common: script_exec;
    }
}

/// Runs the task as a local process (see `shared::script`).
pub struct ShellCommands;

impl RunnableTask for ShellCommands {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        crate::shared::script::run_exec(
            ctx,
            crate::shared::script::exec_props!(params),
            crate::shared::script::Lang::Shell,
            crate::shared::script::Body::Commands(&params.commands),
            None,
        )
        .await
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.shell.Commands",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run shell commands.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
    runnable: ShellCommands,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn commands_and_exec_props() {
        let ty = "io.kestra.plugin.scripts.shell.Commands";
        assert_valid(
            ty,
            json!({"commands": ["echo 1"], "containerImage": "ubuntu", "env": {"A": "1"},
            "namespaceFiles": {"enabled": true, "include": ["*.sh"]}, "outputFiles": ["*.csv"], "targetOS": "LINUX"}),
        );
        assert_invalid(
            ty,
            json!({"commands": "echo 1"}),
            "commands",
            "expected a sequence",
        );
        assert_invalid(
            ty,
            json!({"commands": [], "namespaceFiles": {"enable": true}}),
            "namespaceFiles.enable",
            "Unrecognized field",
        );
    }
}

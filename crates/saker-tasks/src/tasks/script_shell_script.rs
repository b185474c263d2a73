//! `io.kestra.plugin.scripts.shell.Script`: runs an inline shell script with a task runner.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `taskRunner`.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Script`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Script source.
        pub script: Property<String>,
        common: script_exec;
    }
}

/// Runs the task as a local process (see `shared::script`).
pub struct ShellScript;

impl RunnableTask for ShellScript {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        crate::shared::script::run_exec(
            ctx,
            crate::shared::script::exec_props!(params),
            crate::shared::script::Lang::Shell,
            crate::shared::script::Body::Script(&params.script),
            None,
        )
        .await
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.shell.Script",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run a shell script.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
    runnable: ShellScript,
}

//! `io.kestra.plugin.scripts.node.Commands`: runs commands in a Node.js environment with a task runner.
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
pub struct NodeCommands;

impl RunnableTask for NodeCommands {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        crate::shared::script::run_exec(
            ctx,
            crate::shared::script::exec_props!(params),
            crate::shared::script::Lang::Node,
            crate::shared::script::Body::Commands(&params.commands),
            None,
        )
        .await
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.node.Commands",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run Node.js commands.",
    slots: [
        Slot::Typed { prop: "taskRunner", kind: PluginKind::TaskRunner, many: false },
    ],
    params: Params,
    runnable: NodeCommands,
}

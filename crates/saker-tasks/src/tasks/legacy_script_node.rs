//! `io.kestra.core.tasks.scripts.Node`: deprecated Node.js script task of Kestra < 0.10.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Node`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Commands (default `node main.js`).
        pub commands: Option<Property<Vec<String>>>,
        /// Node binary (default `node`).
        pub node_path: Option<Property<String>>,
        /// npm binary (default `npm`).
        pub npm_path: Option<Property<String>>,
        /// Arguments passed to the script.
        pub args: Option<Property<Vec<String>>>,
        common: legacy_script;
    }
}

/// Runs the task as a local process (see `shared::legacy_script`).
pub struct LegacyNode;

impl RunnableTask for LegacyNode {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        use crate::shared::legacy_script::{Flavor, legacy_props, run_legacy};
        run_legacy(ctx, legacy_props!(params), Flavor::Node {
                commands: &params.commands,
                node_path: &params.node_path,
                npm_path: &params.npm_path,
                args: &params.args,
            }).await
    }
}

register_plugin! {
    type_name: "io.kestra.core.tasks.scripts.Node",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run Node.js (deprecated).",
    slots: [],
    params: Params,
    runnable: LegacyNode,
}

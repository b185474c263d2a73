//! `io.kestra.core.tasks.scripts.Python`: deprecated Python script task of Kestra < 0.10.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Python`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Commands (default `./bin/python main.py`).
        pub commands: Option<Property<Vec<String>>>,
        /// Python binary (default `python`).
        pub python_path: Option<Property<String>>,
        /// Arguments passed to the script.
        pub args: Option<Property<Vec<String>>>,
        /// pip requirements installed in the virtualenv.
        pub requirements: Option<Property<Vec<String>>>,
        /// Create a virtualenv (default true).
        pub virtual_env: Option<Property<bool>>,
        common: legacy_script;
    }
}

/// Runs the task as a local process (see `shared::legacy_script`).
pub struct LegacyPython;

impl RunnableTask for LegacyPython {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        use crate::shared::legacy_script::{Flavor, legacy_props, run_legacy};
        run_legacy(ctx, legacy_props!(params), Flavor::Python {
                commands: &params.commands,
                python_path: &params.python_path,
                args: &params.args,
                requirements: &params.requirements,
                virtual_env: &params.virtual_env,
            }).await
    }
}

register_plugin! {
    type_name: "io.kestra.core.tasks.scripts.Python",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run Python (deprecated).",
    slots: [],
    params: Params,
    runnable: LegacyPython,
}

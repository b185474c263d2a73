//! `io.kestra.plugin.scripts.python.Script`: runs an inline Python script with a task runner.
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
        /// pip requirement specifiers installed before the run.
        pub dependencies: Option<Property<Vec<String>>>,
        /// Python version used to install dependencies.
        pub python_version: Option<Property<String>>,
        /// Package manager: `UV` (default) or `PIP`.
        pub package_manager: Option<Property<String>>,
        /// Cache installed dependencies (default true).
        pub dependency_cache_enabled: Option<Property<bool>>,
    }
}

/// Runs the task as a local process (see `shared::script`).
pub struct PythonScript;

impl RunnableTask for PythonScript {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        crate::shared::script::run_exec(
            ctx,
            crate::shared::script::exec_props!(params),
            crate::shared::script::Lang::Python,
            crate::shared::script::Body::Script(&params.script),
            Some(crate::shared::script::PythonDeps {
                dependencies: &params.dependencies,
                python_version: &params.python_version,
                package_manager: &params.package_manager,
                dependency_cache_enabled: &params.dependency_cache_enabled,
            }),
        )
        .await
    }
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
    runnable: PythonScript,
}

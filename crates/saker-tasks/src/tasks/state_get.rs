//! `io.kestra.plugin.core.state.Get`: deprecated: reads a named state.

use saker_task::prelude::*;

use crate::shared::{StateRef, plugin_params};

plugin_params! {
    /// Properties of `Get`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: state_ref;
        /// Fail when the state is missing (default false).
        pub error_on_missing: Option<Property<bool>>,
    }
}

/// Runs `state.Get`.
pub struct Get;

impl RunnableTask for Get {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let state = StateRef::resolve(ctx, &params.name, &params.namespace, &params.taskrun_value)?;
        let data = match state.get(ctx).await? {
            Some(data) => data,
            None if ctx.render_opt(&params.error_on_missing)?.unwrap_or(false) => {
                return Err(TaskError::Failed(format!(
                    "Unable to find the state '{}' (no state stored yet) and `errorOnMissing` is set to true",
                    state.key
                )));
            }
            None => Map::new(),
        };
        Ok(TaskOutcome::empty()
            .with("count", data.len())
            .with("data", Value::Object(data)))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.state.Get",
    aliases: [
        "io.kestra.core.tasks.states.Get",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Read a flow state (deprecated).",
    slots: [],
    params: Params,
    runnable: Get,
}

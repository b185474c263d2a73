//! `io.kestra.plugin.core.state.Delete`: deprecated: deletes a named state.

use saker_task::prelude::*;

use crate::shared::{StateRef, plugin_params};

plugin_params! {
    /// Properties of `Delete`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: state_ref;
        /// Fail when the state is missing (default false).
        pub error_on_missing: Option<Property<bool>>,
    }
}

/// Runs `state.Delete`.
pub struct Delete;

impl RunnableTask for Delete {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let state = StateRef::resolve(ctx, &params.name, &params.namespace, &params.taskrun_value)?;
        let deleted = ctx
            .kv()
            .delete(&state.namespace, &state.key)
            .await
            .map_err(TaskError::failed)?;
        if !deleted && ctx.render_opt(&params.error_on_missing)?.unwrap_or(false) {
            return Err(TaskError::Failed(format!(
                "Unable to find the state '{}' to delete and `errorOnMissing` is set to true",
                state.key
            )));
        }
        Ok(TaskOutcome::empty().with("deleted", deleted))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.state.Delete",
    aliases: [
        "io.kestra.core.tasks.states.Delete",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a flow state (deprecated).",
    slots: [],
    params: Params,
    runnable: Delete,
}

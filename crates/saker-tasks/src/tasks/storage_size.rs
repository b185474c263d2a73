//! `io.kestra.plugin.core.storage.Size`: returns the size in bytes of an internal-storage file.

use saker_task::prelude::*;
use saker_task::storage::check_uri;

/// Properties of `Size`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub uri: Property<String>,
}

/// Runs `storage.Size`.
pub struct Size;

impl RunnableTask for Size {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let uri = ctx.render_property(&params.uri)?;
        check_uri(&uri).map_err(TaskError::failed)?;
        let size = ctx.storage().size(&uri).await.map_err(TaskError::failed)?;
        Ok(TaskOutcome::empty().with("size", size))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Size",
    aliases: [
        "io.kestra.core.tasks.storages.Size",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Get the size of a file.",
    slots: [],
    params: Params,
    runnable: Size,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::TaskError;
    use serde_json::json;

    #[tokio::test]
    async fn reports_bytes_or_a_missing_file() {
        let env = env();
        let write = run(&env, "io.kestra.plugin.core.storage.Write", json!({"content": "héllo"}), json!({}))
            .await
            .unwrap();
        let ty = "io.kestra.plugin.core.storage.Size";
        let size = run(&env, ty, json!({"uri": "{{ outputs.w.uri }}"}), json!({"outputs": {"w": write.outputs}}))
            .await
            .unwrap();
        assert_eq!(size.outputs["size"], json!(6));
        let error = run(&env, ty, json!({"uri": "kestra:///nope.txt"}), json!({})).await.unwrap_err();
        assert_eq!(error, TaskError::Failed("Unable to find file 'kestra:///nope.txt'".into()));
    }
}

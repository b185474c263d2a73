//! `io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles`: deletes the current execution's internal-storage files.

use saker_task::prelude::*;

/// Properties of `PurgeCurrentExecutionFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {}

/// Runs `storage.PurgeCurrentExecutionFiles`.
pub struct PurgeCurrentExecutionFiles;

impl RunnableTask for PurgeCurrentExecutionFiles {
    type Params = Params;

    async fn run(_: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let uris: Vec<Value> = ctx
            .storage()
            .delete_by_prefix(&ctx.execution_prefix())
            .await
            .map_err(TaskError::failed)?
            .into_iter()
            .map(Value::String)
            .collect();
        Ok(TaskOutcome::empty().with("uris", uris))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    aliases: [
        "io.kestra.core.tasks.storages.PurgeExecution",
        "io.kestra.plugin.core.storage.PurgeExecution",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete the current execution's storage files.",
    slots: [],
    params: Params,
    runnable: PurgeCurrentExecutionFiles,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    #[tokio::test]
    async fn deletes_only_this_execution_files() {
        let env = env();
        let write = run(&env, "io.kestra.plugin.core.storage.Write", json!({"content": "x"}), json!({}))
            .await
            .unwrap();
        let other = "kestra:///company/team/flow/executions/exec2/tasks/t/r/f.txt";
        env.storage.put(other, b"y".to_vec()).await.unwrap();
        let outcome = run(&env, "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles", json!({}), json!({}))
            .await
            .unwrap();
        assert_eq!(outcome.outputs["uris"], json!([write.outputs["uri"]]));
        assert_eq!(env.storage.uris(), [other]);
    }
}

//! `io.kestra.plugin.core.storage.Delete`: deletes an internal-storage file.

use saker_task::prelude::*;
use saker_task::storage::check_uri;

/// Properties of `Delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub uri: Property<String>,
    /// Fail when the file is missing (default false).
    pub error_on_missing: Option<Property<bool>>,
}

/// Runs `storage.Delete`.
pub struct Delete;

impl RunnableTask for Delete {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let uri = ctx.render_property(&params.uri)?;
        check_uri(&uri).map_err(TaskError::failed)?;
        let deleted = ctx.storage().delete(&uri).await.map_err(TaskError::failed)?;
        if !deleted && ctx.render_opt(&params.error_on_missing)?.unwrap_or(false) {
            return Err(TaskError::Failed(format!("Unable to find file '{uri}'")));
        }
        Ok(TaskOutcome::empty()
            .with("uri", uri)
            .with("deleted", deleted))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Delete",
    aliases: [
        "io.kestra.core.tasks.storages.Delete",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a file from internal storage.",
    slots: [],
    params: Params,
    runnable: Delete,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    #[tokio::test]
    async fn deletes_and_reports() {
        let env = env();
        let write = run(&env, "io.kestra.plugin.core.storage.Write", json!({"content": "x"}), json!({}))
            .await
            .unwrap();
        let uri = write.outputs["uri"].clone();
        let ty = "io.kestra.plugin.core.storage.Delete";
        let first = run(&env, ty, json!({"uri": uri}), json!({})).await.unwrap();
        assert_eq!(first.outputs["deleted"], json!(true));
        assert_eq!(first.outputs["uri"], uri);
        let again = run(&env, ty, json!({"uri": uri}), json!({})).await.unwrap();
        assert_eq!(again.outputs["deleted"], json!(false));
        assert!(run(&env, ty, json!({"uri": uri, "errorOnMissing": true}), json!({})).await.is_err());
        assert!(env.storage.uris().is_empty());
    }
}

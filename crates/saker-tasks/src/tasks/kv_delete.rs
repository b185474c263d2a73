//! `io.kestra.plugin.core.kv.Delete`: deletes a key of the namespace KV store.

use saker_task::prelude::*;

use crate::shared::{namespace_or_flow, plugin_params};

plugin_params! {
    /// Properties of `Delete`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: kv_key;
    }
}

/// Runs `kv.Delete`.
pub struct Delete;

impl RunnableTask for Delete {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = namespace_or_flow(ctx, &params.namespace)?;
        let key = ctx.render_property(&params.key)?;
        let deleted = ctx
            .kv()
            .delete(&namespace, &key)
            .await
            .map_err(TaskError::failed)?;
        if !deleted && ctx.render_opt(&params.error_on_missing)?.unwrap_or(false) {
            return Err(TaskError::Failed(format!(
                "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
            )));
        }
        Ok(TaskOutcome::empty().with("deleted", deleted))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.Delete",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete a key from the namespace KV store.",
    slots: [],
    params: Params,
    runnable: Delete,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    const SET: &str = "io.kestra.plugin.core.kv.Set";
    const DELETE: &str = "io.kestra.plugin.core.kv.Delete";

    #[tokio::test]
    async fn deletes_once() {
        let env = env();
        run(&env, SET, json!({"key": "k", "value": 1}), json!({})).await.unwrap();
        let first = run(&env, DELETE, json!({"key": "k"}), json!({})).await.unwrap();
        assert_eq!(first.outputs["deleted"], json!(true));
        let second = run(&env, DELETE, json!({"key": "k"}), json!({})).await.unwrap();
        assert_eq!(second.outputs["deleted"], json!(false));
        let error = run(&env, DELETE, json!({"key": "k", "errorOnMissing": true}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().starts_with("No value found for key 'k'"), "{error}");
    }
}

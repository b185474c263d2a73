//! `io.kestra.plugin.core.kv.Get`: reads the value of a key of the namespace KV store.

use saker_task::prelude::*;
use saker_task::kv::get_inherited;

use crate::shared::{namespace_or_flow, plugin_params};

plugin_params! {
    /// Properties of `Get`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: kv_key;
    }
}

/// Runs `kv.Get`.
pub struct Get;

impl RunnableTask for Get {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = namespace_or_flow(ctx, &params.namespace)?;
        let key = ctx.render_property(&params.key)?;
        let now = ctx.now();
        // The flow's own namespace falls back to its parents (spec §8.1); another one does not.
        let found = if namespace == ctx.info().namespace {
            get_inherited(ctx.kv(), &namespace, &key, now)
                .await
                .map(|found| found.map(|(_, entry)| entry))
        } else {
            ctx.kv().get(&namespace, &key, now).await
        }
        .map_err(TaskError::failed)?;
        match found {
            Some(entry) => Ok(TaskOutcome::empty().with("value", entry.value.value)),
            None if ctx.render_opt(&params.error_on_missing)?.unwrap_or(false) => {
                Err(TaskError::Failed(format!(
                    "No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
                )))
            }
            // Kestra omits a null `value` output.
            None => Ok(TaskOutcome::empty()),
        }
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.Get",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Read a key from the namespace KV store.",
    slots: [],
    params: Params,
    runnable: Get,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::TaskError;
    use serde_json::json;

    const SET: &str = "io.kestra.plugin.core.kv.Set";
    const GET: &str = "io.kestra.plugin.core.kv.Get";

    #[tokio::test]
    async fn inherits_from_parent_namespaces_only_for_the_flow_namespace() {
        let env = env();
        run(&env, SET, json!({"key": "k", "value": "top", "namespace": "company"}), json!({}))
            .await
            .unwrap();
        let got = run(&env, GET, json!({"key": "k"}), json!({})).await.unwrap();
        assert_eq!(got.outputs["value"], json!("top"));
        let other = run(&env, GET, json!({"key": "k", "namespace": "company.other"}), json!({}))
            .await
            .unwrap();
        assert!(other.outputs.is_empty());
        let error = run(&env, GET, json!({"key": "zz", "errorOnMissing": true}), json!({}))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            TaskError::Failed(
                "No value found for key 'zz' in namespace 'company.team' and `errorOnMissing` is set to true".into()
            )
        );
    }
}

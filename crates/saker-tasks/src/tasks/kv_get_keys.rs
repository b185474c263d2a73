//! `io.kestra.plugin.core.kv.GetKeys`: lists the keys of the namespace KV store, optionally by prefix.

use saker_task::prelude::*;

use crate::shared::namespace_or_flow;

/// Properties of `GetKeys`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only keys starting with this prefix.
    pub prefix: Option<Property<String>>,
    /// Namespace of the KV store (default: the flow namespace).
    pub namespace: Option<Property<String>>,
}

/// Runs `kv.GetKeys`.
pub struct GetKeys;

impl RunnableTask for GetKeys {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = namespace_or_flow(ctx, &params.namespace)?;
        let prefix = ctx.render_opt(&params.prefix)?.unwrap_or_default();
        let keys: Vec<Value> = ctx
            .kv()
            .list(&namespace, ctx.now())
            .await
            .map_err(TaskError::failed)?
            .into_iter()
            .filter(|meta| meta.key.starts_with(&prefix))
            .map(|meta| Value::String(meta.key))
            .collect();
        Ok(TaskOutcome::empty().with("keys", keys))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.kv.GetKeys",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "List the keys of the namespace KV store.",
    slots: [],
    params: Params,
    runnable: GetKeys,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    const SET: &str = "io.kestra.plugin.core.kv.Set";
    const KEYS: &str = "io.kestra.plugin.core.kv.GetKeys";

    #[tokio::test]
    async fn lists_live_keys_by_prefix() {
        let env = env();
        for key in ["a1", "a2", "b1"] {
            run(&env, SET, json!({"key": key, "value": 1}), json!({})).await.unwrap();
        }
        run(&env, SET, json!({"key": "a3", "value": 1, "ttl": "PT1S"}), json!({})).await.unwrap();
        env.clock.advance(chrono::TimeDelta::seconds(5));
        let keys = run(&env, KEYS, json!({"prefix": "a"}), json!({})).await.unwrap();
        assert_eq!(keys.outputs["keys"], json!(["a1", "a2"]));
        let none = run(&env, KEYS, json!({"namespace": "empty"}), json!({})).await.unwrap();
        assert_eq!(none.outputs["keys"], json!([]));
    }
}

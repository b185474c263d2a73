//! `io.kestra.plugin.core.state.Set`: deprecated: deep-merges data into a named state stored in the KV store.

use saker_task::prelude::*;
use saker_task::kv::{KvPut, KvValue};

use crate::shared::{StateRef, plugin_params};

plugin_params! {
    /// Properties of `Set`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: state_ref;
        /// Data merged into the state.
        pub data: Option<Property<Map<String, Value>>>,
    }
}

/// Runs `state.Set`.
pub struct Set;

impl RunnableTask for Set {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let state = StateRef::resolve(ctx, &params.name, &params.namespace, &params.taskrun_value)?;
        let mut merged = state.get(ctx).await?.unwrap_or_default();
        let data = ctx.render_opt(&params.data)?.unwrap_or_default();
        saker_core::variables::merge(&mut merged, data);
        let count = merged.len();
        let entry = KvPut {
            value: KvValue::new(Value::Object(merged)),
            description: None,
            expiration: None,
            overwrite: true,
        };
        ctx.kv()
            .put(&state.namespace, &state.key, entry, ctx.now())
            .await
            .map_err(TaskError::failed)?;
        Ok(TaskOutcome::empty()
            .with("count", count)
            .with("key", state.key))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.state.Set",
    aliases: [
        "io.kestra.core.tasks.states.Set",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Merge data into a flow state (deprecated).",
    slots: [],
    params: Params,
    runnable: Set,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run, run_in};
    use saker_task::memory::test_info;
    use serde_json::json;

    const SET: &str = "io.kestra.plugin.core.state.Set";
    const GET: &str = "io.kestra.plugin.core.state.Get";
    const DELETE: &str = "io.kestra.plugin.core.state.Delete";

    #[tokio::test]
    async fn deep_merges_and_reads_back() {
        let env = env();
        let first = run(&env, SET, json!({"data": {"a": {"x": 1}, "n": "{{ 1 + 1 }}"}}), json!({}))
            .await
            .unwrap();
        assert_eq!(first.outputs["count"], json!(2));
        assert_eq!(first.outputs["key"], json!("flow_states_tasks-states_default"));
        run(&env, SET, json!({"data": {"a": {"y": 2}}}), json!({})).await.unwrap();
        let got = run(&env, GET, json!({}), json!({})).await.unwrap();
        assert_eq!(got.outputs["data"], json!({"a": {"x": 1, "y": 2}, "n": "2"}));
        assert_eq!(got.outputs["count"], json!(2));
        let deleted = run(&env, DELETE, json!({}), json!({})).await.unwrap();
        assert_eq!(deleted.outputs["deleted"], json!(true));
        let empty = run(&env, GET, json!({}), json!({})).await.unwrap();
        assert_eq!(empty.outputs["data"], json!({}));
        assert_eq!(empty.outputs["count"], json!(0));
        let error = run(&env, GET, json!({"errorOnMissing": true}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("default"), "{error}");
    }

    #[tokio::test]
    async fn iterations_are_isolated_unless_disabled() {
        let env = env();
        let mut info = test_info("t", SET);
        info.value = Some("v1".into());
        let mut ctx = env.context(info.clone(), json!({}));
        run_in(&mut ctx, SET, json!({"name": "s", "data": {"k": 1}})).await.unwrap();
        let got = run(&env, GET, json!({"name": "s"}), json!({})).await.unwrap();
        assert_eq!(got.outputs["count"], json!(0));
        let mut ctx = env.context(info, json!({}));
        run_in(&mut ctx, SET, json!({"name": "s", "taskrunValue": false, "namespace": true, "data": {"k": 2}}))
            .await
            .unwrap();
        let shared = run(&env, GET, json!({"name": "s", "namespace": true}), json!({})).await.unwrap();
        assert_eq!(shared.outputs["data"], json!({"k": 2}));
    }
}

//! `io.kestra.plugin.core.storage.DeduplicateItems`: keeps the last item of each key computed by an expression.

use std::collections::HashMap;

use saker_task::prelude::*;

use crate::shared::{ItemRenderer, ion_items, raw_template};

/// Properties of `DeduplicateItems`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the ION file.
    pub from: Property<String>,
    /// Expression computing the key of an item.
    pub expr: Property<String>,
}

/// Runs `storage.DeduplicateItems`.
pub struct DeduplicateItems;

impl RunnableTask for DeduplicateItems {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let from = ctx.render_property(&params.from)?;
        let expr = raw_template(&params.expr);
        let text = ctx.read_text(&from).await?;
        let mut renderer = ItemRenderer::new(ctx);
        let mut keys = Vec::new();
        let mut last_of_key: HashMap<String, usize> = HashMap::new();
        for (offset, item) in ion_items(&text).enumerate() {
            let (line, item) = item.map_err(TaskError::Failed)?;
            let key = renderer.render(ctx, expr, item)?;
            last_of_key.insert(key.clone(), offset);
            keys.push((line, key));
        }
        // Lines are copied verbatim, not re-serialized, as Kestra does.
        let mut out = String::with_capacity(text.len());
        let mut dropped = 0u64;
        for (offset, (line, key)) in keys.iter().enumerate() {
            if last_of_key.get(key) == Some(&offset) {
                out.push_str(line);
                out.push('\n');
            } else {
                dropped += 1;
            }
        }
        let uri = ctx.put_file(".ion", out.into_bytes()).await?;
        Ok(TaskOutcome::empty()
            .with("uri", uri)
            .with("numKeys", last_of_key.len() as u64)
            .with("processedItemsTotal", keys.len() as u64)
            .with("droppedItemsTotal", dropped))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.DeduplicateItems",
    aliases: [
        "io.kestra.core.tasks.storages.DeduplicateItems",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Remove duplicate items of an ION file.",
    slots: [],
    params: Params,
    runnable: DeduplicateItems,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    const TYPE: &str = "io.kestra.plugin.core.storage.DeduplicateItems";

    #[tokio::test]
    async fn keeps_the_last_item_of_each_key_in_order() {
        let env = env();
        let rows = "{id:1,email:\"a\"}\n{id:2,email:\"b\"}\n{id:3,email:\"a\"}\n{id:4,email:\"c\"}\n{id:5,email:\"b\"}\n";
        env.storage.put("kestra:///x/in.ion", rows.into()).await.unwrap();
        let outcome = run(
            &env,
            TYPE,
            json!({"from": "{{ inputs.file }}", "expr": "{{ email }}-{{ flow.id }}"}),
            json!({"inputs": {"file": "kestra:///x/in.ion"}}),
        )
        .await
        .unwrap();
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with(".ion"), "{uri}");
        assert_eq!(
            String::from_utf8(env.storage.get_now(uri).unwrap()).unwrap(),
            "{id:3,email:\"a\"}\n{id:4,email:\"c\"}\n{id:5,email:\"b\"}\n"
        );
        assert_eq!(outcome.outputs["numKeys"], 3);
        assert_eq!(outcome.outputs["processedItemsTotal"], 5);
        assert_eq!(outcome.outputs["droppedItemsTotal"], 2);
    }

    #[tokio::test]
    async fn fails_on_a_missing_field_or_a_bad_line() {
        let env = env();
        env.storage.put("kestra:///x/in.ion", b"{id:1}\nnope nope\n".to_vec()).await.unwrap();
        let error = run(&env, TYPE, json!({"from": "kestra:///x/in.ion", "expr": "{{ email }}"}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("email"), "{error}");
        let error = run(&env, TYPE, json!({"from": "kestra:///x/in.ion", "expr": "{{ id }}"}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}

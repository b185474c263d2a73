//! `io.kestra.plugin.core.storage.DeduplicateItems`: keeps the last item of each key computed by an expression.

use std::collections::HashMap;

use saker_task::prelude::*;

use crate::shared::{ItemRenderer, Lines, ion_item, raw_template, stream_into, write_parts};

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
        // Two passes over the file, as Kestra does, so only the keys stay in memory: the first
        // renders each item's key and marks the last item of each key in a bit set (one bit
        // per item, so the second pass renders nothing); the second copies the marked lines
        // verbatim, in order.
        let mut renderer = ItemRenderer::new(ctx);
        let mut last_of_key: HashMap<String, u64> = HashMap::new();
        let mut kept = BitSet::default();
        let mut lines = Lines::open(ctx, &from).await?;
        let mut line = Vec::new();
        let mut index = 0u64;
        while lines.next_into(&mut line).await? {
            let item = ion_item(lines.text(&line)?, lines.number()).map_err(TaskError::Failed)?;
            let key = renderer.render(ctx, expr, item)?;
            if let Some(previous) = last_of_key.insert(key, index) {
                kept.set(previous, false);
            }
            kept.set(index, true);
            index += 1;
        }
        let processed = index;
        let mut lines = Lines::open(ctx, &from).await?;
        let uri = ctx.new_file_uri(".ion");
        let ctx = &*ctx;
        stream_into(ctx.storage(), &uri, async |out| {
            let mut index = 0u64;
            while lines.next_into(&mut line).await? {
                if kept.get(index) {
                    write_parts(out, &[&line, b"\n"]).await?;
                }
                index += 1;
            }
            Ok(())
        })
        .await?;
        let num_keys = last_of_key.len() as u64;
        Ok(TaskOutcome::empty()
            .with("uri", uri)
            .with("numKeys", num_keys)
            .with("processedItemsTotal", processed)
            .with("droppedItemsTotal", processed - num_keys))
    }
}

/// One bit per item, growing as items come.
#[derive(Default)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn set(&mut self, index: u64, value: bool) {
        let (word, bit) = ((index / 64) as usize, index % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        if value {
            self.0[word] |= 1 << bit;
        } else {
            self.0[word] &= !(1 << bit);
        }
    }

    fn get(&self, index: u64) -> bool {
        self.0
            .get((index / 64) as usize)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
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

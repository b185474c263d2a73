//! `io.kestra.plugin.core.storage.FilterItems`: keeps or drops items of an ION file depending on a condition.

use saker_task::prelude::*;

use crate::shared::{ItemRenderer, Lines, ion_item, raw_template, stream_into, write_parts};

/// Properties of `FilterItems`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the ION file.
    pub from: Property<String>,
    /// Expression evaluated per item (item fields are the context).
    pub filter_condition: Property<String>,
    /// Keep (`INCLUDE`, default) or drop (`EXCLUDE`) matching items.
    pub filter_type: Option<Property<FilterType>>,
    /// What to do when the condition fails or is null (default `FAIL`).
    pub error_or_null_behavior: Option<Property<ErrorOrNullBehavior>>,
}

/// Runs `storage.FilterItems`.
pub struct FilterItems;

impl RunnableTask for FilterItems {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let from = ctx.render_property(&params.from)?;
        let condition = raw_template(&params.filter_condition);
        let filter_type = ctx
            .render_opt(&params.filter_type)?
            .unwrap_or(FilterType::Include);
        let on_error = ctx
            .render_opt(&params.error_or_null_behavior)?
            .unwrap_or(ErrorOrNullBehavior::Fail);
        let mut lines = Lines::open(ctx, &from).await?;
        let mut renderer = ItemRenderer::new(ctx);
        let uri = ctx.new_file_uri(".ion");
        let ctx = &*ctx;
        // One item at a time, kept lines copied verbatim (not re-serialized), as Kestra does.
        let (processed, dropped) = stream_into(ctx.storage(), &uri, async |out| {
            let (mut processed, mut dropped) = (0u64, 0u64);
            let mut line = Vec::new();
            while lines.next_into(&mut line).await? {
                let text = lines.text(&line)?;
                let item = ion_item(text, lines.number()).map_err(TaskError::Failed)?;
                let keep = match renderer.render(ctx, condition, item) {
                    Ok(rendered) => {
                        saker_expr::is_truthy_string(&rendered)
                            == (filter_type == FilterType::Include)
                    }
                    // Only a failed evaluation reaches here: Pebble renders null as "" (falsy).
                    Err(error) => match on_error {
                        ErrorOrNullBehavior::Fail => {
                            return Err(TaskError::Failed(format!("{error} on item `{text}`")));
                        }
                        ErrorOrNullBehavior::Include => true,
                        ErrorOrNullBehavior::Exclude => false,
                    },
                };
                if keep {
                    write_parts(out, &[&line, b"\n"]).await?;
                } else {
                    dropped += 1;
                }
                processed += 1;
            }
            Ok((processed, dropped))
        })
        .await?;
        Ok(TaskOutcome::empty()
            .with("uri", uri)
            .with("processedItemsTotal", processed)
            .with("droppedItemsTotal", dropped))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.FilterItems",
    aliases: [
        "io.kestra.core.tasks.storages.FilterItems",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Filter the items of an ION file.",
    slots: [],
    params: Params,
    runnable: FilterItems,
}

/// Whether matching items are kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterType {
    /// Keep matching items.
    Include,
    /// Drop matching items.
    Exclude,
}

/// What happens to an item whose condition fails or renders null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ErrorOrNullBehavior {
    /// Fail the task.
    Fail,
    /// Keep the item.
    Include,
    /// Drop the item.
    Exclude,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::memory::MemoryEnv;
    use saker_task::storage::Storage;
    use serde_json::{Value, json};

    const TYPE: &str = "io.kestra.plugin.core.storage.FilterItems";
    const ROWS: &str = "{id:1,p:20}\n{id:2,p:14}\n{id:3}\n{id:4,p:20}\n";

    async fn filter(env: &MemoryEnv, extra: Value) -> Result<(String, Value), String> {
        let mut props = json!({"from": "kestra:///x/in.ion", "filterCondition": "{{ p == 20 }}"});
        props.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let outcome = run(env, TYPE, props, json!({})).await.map_err(|e| e.to_string())?;
        let uri = outcome.outputs["uri"].as_str().unwrap();
        let text = String::from_utf8(env.storage.get_now(uri).unwrap()).unwrap();
        let ids: Vec<&str> = text
            .lines()
            .map(|line| line.split(['{', ',', '}']).nth(1).unwrap())
            .collect();
        let counts = json!([outcome.outputs["processedItemsTotal"], outcome.outputs["droppedItemsTotal"]]);
        Ok((ids.join(" "), counts))
    }

    #[tokio::test]
    async fn includes_excludes_and_handles_failed_conditions() {
        let env = env();
        env.storage.put("kestra:///x/in.ion", ROWS.into()).await.unwrap();
        // Item 3 has no `p`: the condition fails on it, which fails the task by default.
        let error = filter(&env, json!({})).await.unwrap_err();
        assert!(error.contains("on item `{id:3}`"), "{error}");
        let include = json!({"errorOrNullBehavior": "EXCLUDE"});
        assert_eq!(
            filter(&env, include).await.unwrap(),
            ("id:1 id:4".into(), json!([4, 2]))
        );
        let exclude = json!({"filterType": "EXCLUDE", "errorOrNullBehavior": "EXCLUDE"});
        assert_eq!(filter(&env, exclude).await.unwrap(), ("id:2".into(), json!([4, 3])));
        // INCLUDE on error keeps the item whatever the filter type.
        let exclude = json!({"filterType": "EXCLUDE", "errorOrNullBehavior": "INCLUDE"});
        assert_eq!(
            filter(&env, exclude).await.unwrap(),
            ("id:2 id:3".into(), json!([4, 2]))
        );
    }

    #[tokio::test]
    async fn truthiness_is_kestras_on_the_rendered_text() {
        let env = env();
        env.storage.put("kestra:///x/in.ion", b"{v:\"0\"}\n{v:\" false \"}\n{v:\"no\"}\n{v:\"\"}\n".to_vec()).await.unwrap();
        let (kept, counts) = filter(&env, json!({"filterCondition": "{{ v }}"})).await.unwrap();
        assert_eq!(kept, "v:\"no\"");
        assert_eq!(counts, json!([4, 3]));
    }
}

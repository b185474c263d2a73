//! ForEachItem's worker-side steps (they read and write internal storage, so the pure engine
//! only sees their outputs): `<id>_split` cuts `items` into batch files, `<id>_merge`
//! concatenates the outputs files the runtime wrote for each child execution
//! (see `StartSubflow::outputs_uri`). The executable `<id>_items` step is in saker-engine.

use saker_flow::for_each_item::{ITEMS_SUFFIX, MERGE, MERGE_SUFFIX, SPLIT};
use saker_task::task::Erased;
use saker_task::{ErasedRunnable, Property, RunContext, RunnableTask, StorageError, TaskError};
use saker_task::{TaskOutcome, storage::SCHEME};
use saker_tasks::shared::{Batch, extension_of};
use saker_tasks::tasks::storage_split::{By, parse_bytes, split_file};
use serde::Deserialize;
use serde_json::Value;

/// The worker implementation of a hidden ForEachItem step type.
pub(crate) fn runnable(type_name: &str) -> Option<&'static dyn ErasedRunnable> {
    static SPLIT_STEP: Erased<Split> = Erased::NEW;
    static MERGE_STEP: Erased<Merge> = Erased::NEW;
    match type_name {
        SPLIT => Some(&SPLIT_STEP),
        MERGE => Some(&MERGE_STEP),
        _ => None,
    }
}

/// The ForEachItem properties the split step reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SplitParams {
    items: Property<String>,
    batch: Option<Batch>,
}

pub(crate) struct Split;

impl RunnableTask for Split {
    type Params = SplitParams;

    async fn run(params: SplitParams, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let items = ctx.render_property(&params.items)?;
        if !items.starts_with(SCHEME) {
            return Err(TaskError::Failed(format!(
                "Unable to split the items from {items}, this is not an internal storage URI!"
            )));
        }
        let how = match &params.batch {
            None => By::Rows(1),
            Some(batch) => batch_rule(ctx, batch)?,
        };
        let separator = match &params.batch {
            Some(batch) => ctx.render_opt(&batch.separator)?,
            None => None,
        }
        .unwrap_or_else(|| "\n".to_owned());
        let extension = match extension_of(&items) {
            "" => ".tmp",
            ext => ext,
        };
        let uris = split_file(ctx, &items, &separator, how, extension).await?;
        let splits = ctx
            .put_file_as("splits.txt", uris.join("\n").into_bytes())
            .await?;
        Ok(TaskOutcome::empty().with("splits", splits).with(
            "uris",
            uris.into_iter().map(Value::String).collect::<Vec<_>>(),
        ))
    }
}

/// Kestra's precedence: `bytes`, then `partitions`, then `rows` (default 1).
fn batch_rule(ctx: &RunContext, batch: &Batch) -> Result<By, TaskError> {
    if let Some(bytes) = ctx.render_opt(&batch.bytes)? {
        return Ok(By::Bytes(parse_bytes(&bytes)?));
    }
    if let Some(partitions) = ctx.render_opt(&batch.partitions)? {
        return match usize::try_from(partitions) {
            Ok(n) if n > 0 => Ok(By::Partitions(n)),
            _ => Err(TaskError::failed("`batch.partitions` must be positive")),
        };
    }
    match ctx.render_opt(&batch.rows)?.unwrap_or(1) {
        0 => Err(TaskError::failed("`batch.rows` must be positive")),
        rows => Ok(By::Rows(usize::try_from(rows).unwrap_or(usize::MAX))),
    }
}

/// The merge step has no properties of its own.
#[derive(Debug, Deserialize)]
pub(crate) struct MergeParams {}

pub(crate) struct Merge;

impl RunnableTask for Merge {
    type Params = MergeParams;

    async fn run(_: MergeParams, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let Some((base, batches)) = items_outputs(ctx) else {
            // No child execution was started (empty file): nothing to merge.
            return Ok(TaskOutcome::empty());
        };
        let mut merged = Vec::new();
        let mut found = false;
        for iteration in 0..batches {
            let uri = format!("{SCHEME}{base}/{iteration}/outputs.ion");
            match ctx.storage().get(&uri).await {
                Ok(mut content) => {
                    if !content.is_empty() && !content.ends_with(b"\n") {
                        content.push(b'\n');
                    }
                    merged.extend(content);
                    found = true;
                }
                // Children of a flow without outputs (or not waited for) write nothing.
                Err(StorageError::NotFound { .. }) => {}
                Err(error) => return Err(TaskError::failed(error)),
            }
        }
        if !found {
            return Ok(TaskOutcome::empty());
        }
        let uri = ctx.put_file_as("outputs.ion", merged).await?;
        Ok(TaskOutcome::empty().with("subflowOutputs", uri))
    }
}

/// `subflowOutputsBaseUri` and `numberOfBatches` of the sibling `<id>_items` run, from the
/// `outputs` variable (keyed by the parent's value when the ForEachItem runs inside a loop).
fn items_outputs(ctx: &RunContext) -> Option<(String, u64)> {
    let own = &ctx.info().task_id;
    let items_id = format!("{}{ITEMS_SUFFIX}", own.strip_suffix(MERGE_SUFFIX)?);
    let variables = ctx.variables();
    let mut outputs = variables.get("outputs")?.get(&items_id)?;
    if outputs.get("numberOfBatches").is_none() {
        let value = variables
            .get("parent")
            .and_then(|p| p.get("taskrun"))
            .and_then(|t| t.get("value"))
            .and_then(Value::as_str)?;
        outputs = outputs.get(value)?;
    }
    let base = outputs.get("subflowOutputsBaseUri")?.as_str()?.to_owned();
    let batches = outputs.get("numberOfBatches")?.as_u64()?;
    Some((base, batches))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use saker_core::{Execution, FlowRef, IdSource, StateType};
    use saker_storage::{MemoryStore, Store};
    use saker_task::Storage;
    use saker_task::memory::{MemoryKvStore, MemoryStorage};
    use saker_task::storage::execution_prefix;

    use super::*;
    use crate::Runtime;
    use crate::host::RandomIds;

    #[test]
    fn only_hidden_steps_have_a_runnable() {
        assert!(runnable(SPLIT).is_some());
        assert!(runnable(MERGE).is_some());
        assert!(runnable(saker_flow::for_each_item::ITEMS).is_none());
        assert!(runnable("io.kestra.plugin.core.log.Log").is_none());
    }

    const CHILD: &str = r#"
id: child
namespace: demo
inputs:
  - id: items
    type: STRING
  - id: n
    type: INT
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.items) | trim }}"
outputs:
  - id: got
    type: STRING
    value: "{{ outputs.read.value }}#{{ inputs.n }}"
"#;

    const PARENT: &str = r#"
id: parent
namespace: demo
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "ITEMS_URI"
    batch:
      rows: 2
    namespace: demo
    flowId: child
    inputs:
      items: "{{ taskrun.items }}"
      n: "{{ taskrun.iteration }}"
  - id: merged
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.each_merge.subflowOutputs) }}"
"#;

    fn parse(source: &str) -> Arc<saker_flow::Flow> {
        Arc::new(
            saker_flow::parse_and_validate(source, None, saker_tasks::registry())
                .unwrap_or_else(|d| panic!("invalid test flow: {d:?}")),
        )
    }

    #[tokio::test]
    async fn batches_run_as_children_and_their_outputs_are_merged() {
        let files = Arc::new(MemoryStorage::new());
        let rt = Runtime::new(
            Arc::new(MemoryStore::new()),
            files.clone(),
            Arc::new(MemoryKvStore::new()),
        );
        rt.store().put_flow("demo", "child", CHILD).await.unwrap();
        let execution_id = RandomIds.execution_id();
        // The items file belongs to the parent execution, as a FILE input would.
        let items = format!(
            "{}inputs/file/data.txt",
            execution_prefix("demo", "parent", execution_id.as_str())
        );
        files
            .put(&items, b"a\nb\nc\nd\ne\n".to_vec())
            .await
            .unwrap();
        let flow = parse(&PARENT.replace("ITEMS_URI", &items));
        let execution = Execution::new(
            execution_id,
            &FlowRef::new("demo", "parent", 1),
            &[],
            Vec::new(),
            chrono::Utc::now(),
        );
        let done = rt.run(flow, execution).await.unwrap();
        assert_eq!(done.state.current(), StateType::Success);
        let outputs = |task: &str| {
            let run = done.task_runs_by_task_id(task).next().unwrap();
            serde_json::Value::Object(run.outputs.clone().unwrap_or_default())
        };
        let uris = outputs("each_split")["uris"].clone();
        let contents: Vec<String> = uris
            .as_array()
            .unwrap()
            .iter()
            .map(|u| String::from_utf8(files.get_now(u.as_str().unwrap()).unwrap()).unwrap())
            .collect();
        assert_eq!(contents, ["a\nb\n", "c\nd\n", "e\n"]);
        assert!(uris[0].as_str().unwrap().contains("/tasks/each-split/"));
        assert!(uris[0].as_str().unwrap().ends_with(".txt"));
        let items_out = outputs("each_items");
        assert_eq!(items_out["numberOfBatches"], 3);
        assert_eq!(items_out["iterations"]["SUCCESS"], 3);
        // One line per child, in batch order, each the child's flow outputs.
        let merged = outputs("merged")["value"].as_str().unwrap().to_owned();
        let lines: Vec<serde_json::Value> = merged
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                serde_json::json!({"got": "a\nb#0"}),
                serde_json::json!({"got": "c\nd#1"}),
                serde_json::json!({"got": "e#2"}),
            ]
        );
    }

    #[tokio::test]
    async fn a_split_of_a_non_storage_uri_fails() {
        let rt = Runtime::new(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryStorage::new()),
            Arc::new(MemoryKvStore::new()),
        );
        let flow = parse(&PARENT.replace("ITEMS_URI", "/tmp/data.txt"));
        let execution = Execution::new(
            RandomIds.execution_id(),
            &FlowRef::new("demo", "parent", 1),
            &[],
            Vec::new(),
            chrono::Utc::now(),
        );
        let done = rt.run(flow, execution).await.unwrap();
        assert_eq!(done.state.current(), StateType::Failed);
        let split = done.task_runs_by_task_id("each_split").next().unwrap();
        assert_eq!(split.state.current(), StateType::Failed);
        assert!(done.task_runs_by_task_id("each_items").next().is_none());
    }
}

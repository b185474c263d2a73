//! `io.kestra.plugin.core.log.Fetch`: fetches the logs of an execution into an ION file.

use crate::shared::Level;
use saker_task::prelude::*;
use saker_task::log::LogQuery;

use crate::shared::to_ion_line;

/// Properties of `Fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the execution (default: current).
    pub namespace: Option<Property<String>>,
    /// Flow of the execution (default: current).
    pub flow_id: Option<Property<String>>,
    /// Execution whose logs are fetched (default: current).
    pub execution_id: Option<Property<String>>,
    /// Only the logs of these task ids.
    pub tasks_id: Option<Property<Vec<String>>>,
    /// Minimum level fetched (default `INFO`).
    pub level: Option<Property<Level>>,
}

/// Runs `log.Fetch`.
pub struct Fetch;

impl RunnableTask for Fetch {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let info = ctx.info();
        let query = LogQuery {
            namespace: ctx
                .render_opt(&params.namespace)?
                .unwrap_or_else(|| info.namespace.clone()),
            flow_id: ctx
                .render_opt(&params.flow_id)?
                .unwrap_or_else(|| info.flow_id.clone()),
            execution_id: ctx
                .render_opt(&params.execution_id)?
                .unwrap_or_else(|| info.execution_id.to_string()),
            task_ids: ctx.render_opt(&params.tasks_id)?.unwrap_or_default(),
            min_level: ctx.render_opt(&params.level)?.unwrap_or(Level::Info),
        };
        let entries = ctx
            .log_source()?
            .fetch(query)
            .await
            .map_err(|error| TaskError::Failed(format!("failed to fetch logs: {error}")))?;
        let mut content = String::new();
        for entry in &entries {
            content.push_str(&to_ion_line(entry));
            content.push('\n');
        }
        let uri = ctx.put_file(".ion", content.into_bytes()).await?;
        Ok(TaskOutcome::empty()
            .with("size", entries.len())
            .with("uri", uri))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.Fetch",
    aliases: [
        "io.kestra.core.tasks.log.Fetch",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fetch execution logs into an internal-storage file.",
    slots: [],
    params: Params,
    runnable: Fetch,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    #[tokio::test]
    async fn writes_matching_entries_as_ion() {
        let env = env();
        let entry = |task: &str, level: &str, message: &str| {
            json!({
                "namespace": "company.team", "flowId": "flow", "executionId": "exec1",
                "taskId": task, "level": level, "message": message,
            })
        };
        env.log_source.push(entry("a", "INFO", "one"));
        env.log_source.push(entry("a", "DEBUG", "hidden"));
        env.log_source.push(entry("b", "WARN", "two"));
        let ty = "io.kestra.plugin.core.log.Fetch";
        let outcome = run(&env, ty, json!({"tasksId": ["a"]}), json!({})).await.unwrap();
        assert_eq!(outcome.outputs["size"], json!(1));
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert_eq!(
            String::from_utf8(env.storage.get_now(uri).unwrap()).unwrap(),
            "{namespace:\"company.team\",flowId:\"flow\",executionId:\"exec1\",taskId:\"a\",level:\"INFO\",message:\"one\"}\n"
        );
        let all = run(&env, ty, json!({"level": "WARN"}), json!({})).await.unwrap();
        assert_eq!(all.outputs["size"], json!(1));
    }
}

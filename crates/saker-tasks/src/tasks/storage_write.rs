//! `io.kestra.plugin.core.storage.Write`: writes a string to a new internal-storage file.

use saker_task::prelude::*;

/// Properties of `Write`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Content of the file.
    pub content: Property<String>,
    /// Extension of the file (default `.ion`).
    pub extension: Option<Property<String>>,
}

/// Runs `storage.Write`.
pub struct Write;

impl RunnableTask for Write {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let content = ctx.render_property(&params.content)?;
        let extension = ctx
            .render_opt(&params.extension)?
            .unwrap_or_else(|| ".ion".to_owned());
        let uri = ctx.put_file(&extension, content.into_bytes()).await?;
        Ok(TaskOutcome::empty().with("uri", uri))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Write",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Write content to a file.",
    slots: [],
    params: Params,
    runnable: Write,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    #[tokio::test]
    async fn writes_the_rendered_content_under_the_task_run_prefix() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.core.storage.Write",
            json!({"content": "id={{ flow.id }}", "extension": ".txt"}),
            json!({}),
        )
        .await
        .unwrap();
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("kestra:///company/team/flow/executions/exec1/tasks/task1/run1/")
                && uri.ends_with(".txt"),
            "{uri}"
        );
        assert_eq!(env.storage.get_now(uri).unwrap(), b"id=flow");
    }
}

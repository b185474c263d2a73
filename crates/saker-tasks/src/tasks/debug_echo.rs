//! `io.kestra.plugin.core.debug.Echo`: deprecated: logs a rendered message, like `Log`.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `Echo`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Template rendered and logged.
    pub format: Property<String>,
    /// Log level (default `INFO`).
    pub level: Option<Property<Level>>,
}

/// Runs `Echo`.
pub struct Echo;

impl RunnableTask for Echo {
    type Params = Params;
    // Renders and returns: the executor runs it in the turn that created it.
    const INLINE: bool = true;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let level = ctx.render_opt(&params.level)?.unwrap_or(Level::Info);
        let message = ctx.render_property(&params.format)?;
        ctx.logger().log(level, message);
        Ok(TaskOutcome::empty())
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.debug.Echo",
    aliases: [
        "io.kestra.core.tasks.debugs.Echo",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Log a rendered message (deprecated).",
    slots: [],
    params: Params,
    runnable: Echo,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    #[tokio::test]
    async fn logs_the_rendered_format() {
        let env = env();
        run(
            &env,
            "io.kestra.plugin.core.debug.Echo",
            json!({"format": "{{ task.id }} ran", "level": "ERROR"}),
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(env.logs.texts(), ["ERROR task1 ran"]);
    }
}

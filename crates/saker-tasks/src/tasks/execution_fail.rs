//! `io.kestra.plugin.core.execution.Fail`: fails the task, always or when `condition` renders truthy.

use saker_task::prelude::*;

/// Properties of `Fail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Fail only when this renders truthy.
    pub condition: Option<Property<String>>,
    /// Failure message (default `Task failure`).
    pub error_message: Option<Property<String>>,
}

/// Runs `Fail`.
pub struct Fail;

impl RunnableTask for Fail {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let message = ctx
            .render_opt(&params.error_message)?
            .unwrap_or_else(|| "Task failure".to_owned());
        let Some(condition) = &params.condition else {
            return Err(TaskError::Failed(message));
        };
        if saker_expr::is_truthy_string(&ctx.render_property(condition)?) {
            ctx.logger().error(message);
            return Err(TaskError::failed("Fail on a condition"));
        }
        Ok(TaskOutcome::empty())
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Fail",
    aliases: [
        "io.kestra.core.tasks.executions.Fail",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fail the task, optionally on a condition.",
    slots: [],
    params: Params,
    runnable: Fail,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::TaskError;
    use serde_json::json;

    const TY: &str = "io.kestra.plugin.core.execution.Fail";

    #[tokio::test]
    async fn fails_with_the_message() {
        let env = env();
        assert_eq!(
            run(&env, TY, json!({}), json!({})).await,
            Err(TaskError::Failed("Task failure".into()))
        );
        assert_eq!(
            run(&env, TY, json!({"errorMessage": "bad {{ inputs.x }}"}), json!({"inputs": {"x": 1}})).await,
            Err(TaskError::Failed("bad 1".into()))
        );
    }

    #[tokio::test]
    async fn condition_decides() {
        let env = env();
        let props = |condition: &str| json!({"condition": condition, "errorMessage": "boom"});
        assert!(run(&env, TY, props("{{ 1 > 2 }}"), json!({})).await.is_ok());
        assert!(run(&env, TY, props("0"), json!({})).await.is_ok());
        assert_eq!(
            run(&env, TY, props("{{ 1 < 2 }}"), json!({})).await,
            Err(TaskError::Failed("Fail on a condition".into()))
        );
        assert_eq!(env.logs.texts(), ["ERROR boom"]);
    }
}

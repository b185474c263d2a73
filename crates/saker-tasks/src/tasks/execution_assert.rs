//! `io.kestra.plugin.core.execution.Assert`: renders each condition and fails when any of them is falsy.

use saker_task::prelude::*;

/// Properties of `Assert`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Expressions that must all render truthy.
    pub conditions: Property<Vec<String>>,
    /// Message added to the failure.
    pub error_message: Option<Property<String>>,
}

/// Runs `Assert`.
pub struct Assert;

impl RunnableTask for Assert {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        // Each literal condition is rendered on its own so that one render error counts as one
        // failed assertion instead of failing the task outright.
        let conditions = match &params.conditions {
            Property::Value(conditions) => conditions.clone(),
            Property::Expr(_) => ctx.render_property(&params.conditions)?,
        };
        let (mut success, mut failed) = (0u32, 0u32);
        for condition in &conditions {
            match ctx.render(condition) {
                Ok(rendered) if saker_expr::is_truthy_string(&rendered) => success += 1,
                Ok(_) => {
                    ctx.logger().error(format!("Assertion `{condition}` failed!"));
                    failed += 1;
                }
                Err(error) => {
                    ctx.logger().error(format!(
                        "Assertion `{condition}` failed, failed to render `{error}`"
                    ));
                    failed += 1;
                }
            }
        }
        let metrics = vec![
            Metric::counter("success", f64::from(success)),
            Metric::counter("failed", f64::from(failed)),
        ];
        if failed > 0 {
            let plural = if failed > 1 { "s" } else { "" };
            let mut message = format!("{failed} assertion{plural} failed!");
            if let Some(extra) = ctx.render_opt(&params.error_message)? {
                message.push('\n');
                message.push_str(&extra);
            }
            return Err(TaskError::Failed(message));
        }
        Ok(TaskOutcome {
            metrics,
            ..TaskOutcome::empty()
        })
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.Assert",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Fail when any condition is falsy.",
    slots: [],
    params: Params,
    runnable: Assert,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::TaskError;
    use serde_json::json;

    const TY: &str = "io.kestra.plugin.core.execution.Assert";

    #[tokio::test]
    async fn all_true_succeeds_with_metrics() {
        let env = env();
        let outcome = run(
            &env,
            TY,
            json!({"conditions": ["{{ inputs.a == 'ok' }}", "yes"]}),
            json!({"inputs": {"a": "ok"}}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.metrics[0], saker_task::Metric::counter("success", 2.0));
        assert_eq!(outcome.metrics[1], saker_task::Metric::counter("failed", 0.0));
    }

    #[tokio::test]
    async fn failures_are_counted_and_listed() {
        let env = env();
        let error = run(
            &env,
            TY,
            json!({
                "conditions": ["{{ 1 + 1 == 3 }}", "{{ missing.var }}", "{{ true }}"],
                "errorMessage": "check {{ flow.id }}",
            }),
            json!({}),
        )
        .await
        .unwrap_err();
        assert_eq!(error, TaskError::Failed("2 assertions failed!\ncheck flow".into()));
        let logs = env.logs.texts();
        assert_eq!(logs[0], "ERROR Assertion `{{ 1 + 1 == 3 }}` failed!");
        assert!(logs[1].starts_with("ERROR Assertion `{{ missing.var }}` failed, failed to render"), "{logs:?}");
        assert_eq!(logs.len(), 2);
    }
}

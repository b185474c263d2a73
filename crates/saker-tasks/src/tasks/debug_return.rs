//! `io.kestra.plugin.core.debug.Return`: renders `format` and returns it as the `value` output.

use saker_task::prelude::*;

/// Properties of `Return`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Template rendered into the `value` output.
    pub format: Option<Property<String>>,
}

/// Runs `Return`.
pub struct Return;

impl RunnableTask for Return {
    type Params = Params;
    // Renders and returns: the executor runs it in the turn that created it.
    const INLINE: bool = true;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        // Monotonic time only measures the render, it is not a wall-clock read.
        let start = std::time::Instant::now();
        let value = ctx.render_opt(&params.format)?;
        if let Some(value) = &value {
            ctx.logger().debug(value.clone());
        }
        let length = value.as_ref().map_or(0, |value| value.chars().count());
        let mut outcome = TaskOutcome::empty()
            .metric(Metric::counter("length", length as f64))
            .metric(Metric::timer("duration", start.elapsed()));
        // Kestra omits null outputs.
        if let Some(value) = value {
            outcome = outcome.with("value", value);
        }
        Ok(outcome)
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.debug.Return",
    aliases: [
        "io.kestra.core.tasks.debugs.Return",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Return a rendered value as output.",
    slots: [],
    params: Params,
    runnable: Return,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn unknown_property_is_rejected_like_kestra() {
        assert_valid(
            "io.kestra.plugin.core.debug.Return",
            json!({"format": "{{ task.id }}"}),
        );
        assert_invalid(
            "io.kestra.plugin.core.debug.Return",
            json!({"invalid": "{{taskrun.startDate}}"}),
            "invalid",
            "Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable (",
        );
    }

    use crate::test_support::{env, run};
    use saker_task::MetricValue;

    #[tokio::test]
    async fn outputs_the_rendered_value_and_metrics() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.core.debug.Return",
            json!({"format": "{{ task.id }} > {{ 2 * 3 }}"}),
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.outputs["value"], json!("task1 > 6"));
        assert_eq!(outcome.metrics[0].name, "length");
        assert_eq!(outcome.metrics[0].value, MetricValue::Counter(9.0));
        assert_eq!(outcome.metrics[1].name, "duration");
        assert_eq!(env.logs.texts(), ["DEBUG task1 > 6"]);
        let empty = run(&env, "io.kestra.plugin.core.debug.Return", json!({}), json!({}))
            .await
            .unwrap();
        assert!(empty.outputs.is_empty());
    }
}

//! `io.kestra.plugin.core.output.OutputValues`: renders each value of a map and returns them as outputs.

use saker_task::prelude::*;

/// Properties of `OutputValues`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Values to output; strings are rendered, other values keep their structure.
    pub values: Option<Property<Map<String, Value>>>,
}

/// Runs `OutputValues`.
pub struct OutputValues;

impl RunnableTask for OutputValues {
    type Params = Params;
    // Renders and returns: the executor runs it in the turn that created it.
    const INLINE: bool = true;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let values = ctx.render_opt(&params.values)?.unwrap_or_default();
        Ok(TaskOutcome::empty().with("values", Value::Object(values)))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.output.OutputValues",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Output rendered values.",
    slots: [],
    params: Params,
    runnable: OutputValues,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    #[tokio::test]
    async fn renders_strings_recursively_and_keeps_structure() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.core.output.OutputValues",
            json!({"values": {
                "sum": "{{ 1 + 1 }}",
                "n": 3,
                "nested": {"id": "{{ flow.id }}", "list": ["{{ inputs.a }}", true]},
            }}),
            json!({"inputs": {"a": "x"}}),
        )
        .await
        .unwrap();
        assert_eq!(
            outcome.outputs["values"],
            json!({"sum": "2", "n": 3, "nested": {"id": "flow", "list": ["x", true]}})
        );
    }
}

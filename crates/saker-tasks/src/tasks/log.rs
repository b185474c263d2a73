//! `io.kestra.plugin.core.log.Log`: writes one or several rendered messages to the task logs.

use crate::shared::Level;
use saker_task::prelude::*;

/// Properties of `Log`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Message, or list of messages each rendered and logged separately.
    pub message: Property<OneOrMany<String>>,
    /// Log level (default `INFO`).
    pub level: Option<Property<Level>>,
}

/// Runs `Log`.
pub struct Log;

impl RunnableTask for Log {
    type Params = Params;
    // Renders and returns: the executor runs it in the turn that created it.
    const INLINE: bool = true;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let level = ctx.render_opt(&params.level)?.unwrap_or(Level::Info);
        // An expression is one message even if it renders to JSON text; only a literal list
        // gives several (Kestra renders a String message once).
        for message in ctx.render_property(&params.message)?.into_vec() {
            ctx.logger().log(level, message);
        }
        Ok(TaskOutcome::empty())
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.Log",
    aliases: [
        "io.kestra.core.tasks.log.Log",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Write messages to the task logs.",
    slots: [],
    params: Params,
    runnable: Log,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn message_is_a_string_or_a_list() {
        let ty = "io.kestra.plugin.core.log.Log";
        assert_valid(
            ty,
            json!({"message": "hello {{ flow.id }}", "level": "WARN"}),
        );
        assert_valid(ty, json!({"message": ["a", "b"]}));
        assert_invalid(
            ty,
            json!({"message": "a", "level": "LOUD"}),
            "level",
            "unknown variant `LOUD`",
        );
        assert_invalid(
            ty,
            json!({"message": "a", "unknownProp": 1}),
            "unknownProp",
            "Unrecognized field \"unknownProp\" (class io.kestra.plugin.core.log.Log), not marked as ignorable",
        );
    }

    use crate::test_support::{env, run};

    #[tokio::test]
    async fn logs_each_rendered_message_at_its_level() {
        let env = env();
        let ty = "io.kestra.plugin.core.log.Log";
        let outcome = run(
            &env,
            ty,
            json!({"message": ["hello {{ flow.id }}", "{{ inputs.n + 1 }}"], "level": "WARN"}),
            json!({"inputs": {"n": 1}}),
        )
        .await
        .unwrap();
        assert!(outcome.outputs.is_empty());
        let one = run(&env, ty, json!({"message": "{{ ['a', 'b'] }}"}), json!({}))
            .await
            .unwrap();
        assert_eq!(one, saker_task::TaskOutcome::empty());
        assert_eq!(
            env.logs.texts(),
            ["WARN hello flow", "WARN 2", r#"INFO ["a","b"]"#]
        );
    }

    #[tokio::test]
    async fn missing_variable_fails_with_the_engine_message() {
        let env = env();
        let error = run(
            &env,
            "io.kestra.core.tasks.log.Log",
            json!({"message": "{{ inputs.nope }}"}),
            json!({"inputs": {}}),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }

    #[tokio::test]
    async fn secrets_are_masked() {
        let mut env = env();
        env.secrets.insert("TOKEN".into(), "s3cr3t".into());
        run(
            &env,
            "io.kestra.plugin.core.log.Log",
            json!({"message": "token={{ secret('TOKEN') }}"}),
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(env.logs.texts(), ["INFO token=******"]);
    }
}

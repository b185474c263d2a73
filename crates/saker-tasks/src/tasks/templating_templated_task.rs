//! `io.kestra.plugin.core.templating.TemplatedTask`: renders `spec` into a runnable task definition and runs it.

use saker_flow::catalog::TASK_COMMON_PROPS;
use saker_flow::yaml::{LoadOptions, load};
use saker_task::{Catalog, Registry};
use saker_task::prelude::*;

/// Properties of `TemplatedTask`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// YAML of the task to run, rendered first.
    pub spec: Property<String>,
}

const TYPE_NAME: &str = "io.kestra.plugin.core.templating.TemplatedTask";

/// Runs `templating.TemplatedTask`: the generated task runs in this task run's context, so its
/// outputs, logs and files are this task run's.
pub struct TemplatedTask;

impl RunnableTask for TemplatedTask {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let spec = ctx.render_property(&params.spec)?;
        let mut props = parse_spec(&spec)?;
        let type_name = match props.get("type") {
            Some(Value::String(type_name)) => type_name.clone(),
            _ => return Err(TaskError::failed("the templated task has no `type`")),
        };
        let registry = Registry::global();
        let info = registry
            .get(&type_name)
            .ok_or_else(|| TaskError::Failed(format!("Invalid type: {type_name}")))?;
        if info.type_name == TYPE_NAME {
            return Err(TaskError::Failed(format!(
                "The templated task cannot be of type '{TYPE_NAME}'"
            )));
        }
        if info.kind != PluginKind::Task(TaskKind::Runnable) {
            return Err(TaskError::failed(
                "The templated task must be a runnable task",
            ));
        }
        let runnable = registry.runnable(&type_name).ok_or_else(|| {
            TaskError::Failed(format!(
                "the templated task type {type_name} cannot run in Saker yet"
            ))
        })?;
        // Kestra runs only the task's own logic: `id`, `retry`, `timeout`… have no effect here.
        for common in TASK_COMMON_PROPS {
            props.remove(*common);
        }
        let errors = (info.check)(&props);
        if !errors.is_empty() {
            let errors: Vec<String> = errors
                .into_iter()
                .map(|error| match error.path.as_str() {
                    "" => error.message,
                    path => format!("`{path}`: {}", error.message),
                })
                .collect();
            return Err(TaskError::Failed(format!(
                "invalid templated task ({type_name}): {}",
                errors.join("; ")
            )));
        }
        runnable.run(&props, ctx).await
    }
}

/// The rendered spec as a map of properties (one YAML document).
fn parse_spec(spec: &str) -> Result<Map<String, Value>, TaskError> {
    let invalid = |message: String| TaskError::Failed(format!("invalid templated task spec: {message}"));
    let mut documents = load(spec, &LoadOptions::default()).map_err(|error| {
        invalid(format!(
            "{} ({}:{})",
            error.message, error.pos.line, error.pos.column
        ))
    })?;
    if documents.len() != 1 {
        return Err(invalid(format!(
            "expected one YAML document, got {}",
            documents.len()
        )));
    }
    let document = documents.remove(0);
    if let Some(error) = document.errors.first() {
        return Err(invalid(format!(
            "{} ({}:{})",
            error.message, error.pos.line, error.pos.column
        )));
    }
    match document.root.to_json() {
        Value::Object(props) => Ok(props),
        other => Err(invalid(format!("expected a map, got `{other}`"))),
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.templating.TemplatedTask",
    aliases: [
        "io.kestra.core.tasks.templating.TemplatedTask",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Render a task definition and run it.",
    slots: [],
    params: Params,
    runnable: TemplatedTask,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use serde_json::json;

    const TYPE: &str = "io.kestra.plugin.core.templating.TemplatedTask";

    #[tokio::test]
    async fn renders_the_spec_then_runs_the_task() {
        let env = env();
        let spec = "id: inner\ntype: io.kestra.plugin.core.debug.Return\nretry: {type: constant, maxAttempt: 2, interval: PT1S}\n{{ inputs.prop }}: \"{{ '{{' }} flow.id {{ '}}' }}-{{ inputs.value }}\"\n";
        let outcome = run(
            &env,
            TYPE,
            json!({"spec": spec}),
            json!({"inputs": {"prop": "format", "value": 42}}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.outputs["value"], "flow-42");
    }

    #[tokio::test]
    async fn rejects_what_cannot_run() {
        let env = env();
        let cases = [
            ("type: io.kestra.plugin.core.debug.Nope", "Invalid type: io.kestra.plugin.core.debug.Nope"),
            ("type: io.kestra.core.tasks.templating.TemplatedTask\nspec: x", "cannot be of type"),
            ("type: io.kestra.plugin.core.flow.Sequential\ntasks: []", "must be a runnable task"),
            ("format: x", "has no `type`"),
            ("type: io.kestra.plugin.core.debug.Return\nformat: x\nbad: 1", "`bad`"),
            ("[1, 2]", "expected a map"),
            ("a: [", "invalid templated task spec"),
        ];
        for (spec, message) in cases {
            let error = run(&env, TYPE, json!({"spec": spec}), json!({})).await.unwrap_err();
            assert!(error.to_string().contains(message), "{spec}: {error}");
        }
        // A runnable type without an implementation yet, while some remain.
        let registry = crate::registry();
        let pending = registry.registrations().iter().find(|r| {
            r.runnable.is_none()
                && r.info.kind == saker_task::PluginKind::Task(saker_task::TaskKind::Runnable)
        });
        if let Some(pending) = pending {
            let spec = format!("type: {}", pending.info.type_name);
            let error = run(&env, TYPE, json!({"spec": spec}), json!({})).await.unwrap_err();
            assert!(error.to_string().contains("cannot run in Saker yet"), "{error}");
        }
    }
}

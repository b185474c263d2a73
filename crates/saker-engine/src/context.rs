//! Expression variables for renders done by the executor (and by workers, through
//! [`render_context`]), spec §7.3, built with saker-core's builders.

use saker_core::{Execution, JsonMap, TaskRun};
use saker_expr::Value;
use saker_flow::{Flow, Task};

use crate::services::EngineServices;

/// The variables visible when rendering `task` for `task_run` (both optional: flow outputs are
/// rendered at execution level).
pub fn render_context(
    flow: &Flow,
    execution: &Execution,
    task: Option<&Task>,
    task_run: Option<&TaskRun>,
    services: &dyn EngineServices,
) -> Value {
    let mut ctx = JsonMap::new();
    let mut flow_var = JsonMap::new();
    flow_var.insert("id".into(), Value::String(flow.id.clone()));
    flow_var.insert("namespace".into(), Value::String(flow.namespace.clone()));
    flow_var.insert("revision".into(), Value::from(execution.flow_revision));
    if let Some(tenant) = &execution.tenant_id {
        flow_var.insert("tenantId".into(), Value::String(tenant.clone()));
    }
    ctx.insert("flow".into(), Value::Object(flow_var));
    ctx.insert(
        "execution".into(),
        Value::Object(execution.execution_variable()),
    );
    ctx.insert("inputs".into(), Value::Object(execution.inputs.clone()));
    let vars = execution
        .variables
        .clone()
        .unwrap_or_else(|| flow.variables.clone());
    ctx.insert("vars".into(), Value::Object(vars));
    ctx.insert(
        "outputs".into(),
        Value::Object(execution.outputs_variable()),
    );
    ctx.insert("tasks".into(), Value::Object(execution.tasks_variable()));
    ctx.insert("labels".into(), Value::Object(execution.labels_variable()));
    ctx.insert("envs".into(), Value::Object(services.envs()));
    ctx.insert("globals".into(), Value::Object(services.globals()));
    if let Some(trigger) = &execution.trigger {
        let vars = trigger.variables.clone().unwrap_or_default();
        ctx.insert("trigger".into(), Value::Object(vars));
    }
    if let Some(task) = task {
        let mut task_var = JsonMap::new();
        task_var.insert("id".into(), Value::String(task.id.clone()));
        task_var.insert("type".into(), Value::String(task.type_name.clone()));
        ctx.insert("task".into(), Value::Object(task_var));
    }
    if let Some(run) = task_run {
        ctx.insert("taskrun".into(), Value::Object(run.variables()));
        let parents = execution.parents_variable(run);
        if let Some(first) = parents.first() {
            ctx.insert("parent".into(), first.clone());
        }
        ctx.insert("parents".into(), Value::Array(parents));
    }
    Value::Object(ctx)
}

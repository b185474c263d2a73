//! Expression variables for renders done by the executor (and by workers, through
//! [`render_context`]), spec §7.3, built with saker-core's builders.

use saker_core::{Execution, JsonMap, TaskRun};
use saker_expr::Value;
use saker_flow::{Flow, Task};

use crate::runs::Runs;
use crate::services::EngineServices;

/// Which of the variables derived from every task run a set of templates may read. Building
/// them costs O(task runs), so doing it for every render made large executions quadratic.
///
/// A template reaches a variable by naming it, through `render`/`renderOnce` of a string from
/// elsewhere, or through the functions that read the scope (`printContext`/`fetchContext`:
/// everything; `currentEachOutput`: `parents`; `tasksWithState` names `tasks`). The check is
/// on the text, conservative on every count; a new scope-reading function must be added here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub outputs: bool,
    pub tasks: bool,
    pub parents: bool,
}

impl Needs {
    pub const ALL: Needs = Needs {
        outputs: true,
        tasks: true,
        parents: true,
    };
    pub const NONE: Needs = Needs {
        outputs: false,
        tasks: false,
        parents: false,
    };

    /// What `template` may read.
    pub fn of_str(template: &str) -> Needs {
        if !saker_expr::is_template(template) {
            return Needs::NONE;
        }
        if template.contains("render") || template.contains("Context") {
            return Needs::ALL;
        }
        Needs {
            outputs: template.contains("outputs"),
            tasks: template.contains("tasks"),
            // `parent` and `parents`.
            parents: template.contains("parent") || template.contains("currentEachOutput"),
        }
    }

    /// What the strings (and keys) inside `value` may read.
    pub fn of_value(value: &Value) -> Needs {
        let mut needs = Needs::NONE;
        needs.add_value(value);
        needs
    }

    fn add_value(&mut self, value: &Value) {
        if *self == Needs::ALL {
            return;
        }
        match value {
            Value::String(text) => self.add(Needs::of_str(text)),
            Value::Array(items) => items.iter().for_each(|item| self.add_value(item)),
            Value::Object(map) => {
                for (key, item) in map {
                    self.add(Needs::of_str(key));
                    self.add_value(item);
                }
            }
            _ => {}
        }
    }

    pub fn add(&mut self, other: Needs) {
        self.outputs |= other.outputs;
        self.tasks |= other.tasks;
        self.parents |= other.parents;
    }
}

/// The variables visible when rendering `task` for `task_run` (both optional: flow outputs are
/// rendered at execution level).
pub fn render_context(
    flow: &Flow,
    execution: &Execution,
    task: Option<&Task>,
    task_run: Option<&TaskRun>,
    services: &dyn EngineServices,
) -> Value {
    render_context_for(
        flow,
        Runs::from(execution),
        task,
        task_run,
        services,
        Needs::ALL,
    )
}

/// [`render_context`] for a worker running `task`: the task-run-derived variables are built
/// only when the task's properties may read them (workers render only their properties).
pub fn worker_context(
    flow: &Flow,
    execution: &Execution,
    task: &Task,
    task_run: &TaskRun,
    services: &dyn EngineServices,
) -> Value {
    let mut needs = Needs::NONE;
    for (key, value) in &task.params {
        needs.add(Needs::of_str(key));
        needs.add_value(value);
    }
    if let Some(timeout) = &task.common.timeout {
        needs.add(Needs::of_str(timeout));
    }
    render_context_for(
        flow,
        Runs::from(execution),
        Some(task),
        Some(task_run),
        services,
        needs,
    )
}

/// [`render_context`] with only the `needs` task-run-derived variables (the others are absent,
/// which no template that passed the [`Needs`] check can observe).
pub(crate) fn render_context_for(
    flow: &Flow,
    runs: Runs<'_>,
    task: Option<&Task>,
    task_run: Option<&TaskRun>,
    services: &dyn EngineServices,
    needs: Needs,
) -> Value {
    let execution = runs.exec;
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
    if let (Some(inputs), _) = crate::inputs::inputs_variable(flow, &execution.inputs, services) {
        ctx.insert("inputs".into(), Value::Object(inputs));
    }
    let vars = execution
        .variables
        .clone()
        .unwrap_or_else(|| flow.variables.clone());
    ctx.insert("vars".into(), Value::Object(vars));
    if needs.outputs {
        ctx.insert(
            "outputs".into(),
            Value::Object(execution.outputs_variable()),
        );
    }
    if needs.tasks {
        ctx.insert("tasks".into(), Value::Object(execution.tasks_variable()));
    }
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
        if needs.parents {
            let parents = saker_core::variables::parents(&runs.parents(run));
            if let Some(first) = parents.first() {
                ctx.insert("parent".into(), first.clone());
            }
            ctx.insert("parents".into(), Value::Array(parents));
        }
    }
    Value::Object(ctx)
}

/// The variables of `child`, a task of the WorkingDirectory block run `block`, rendered by the
/// worker holding the block (Kestra's `forWorkingDirectory`): everything is the block's
/// (`parents`, `parent`), with `task`/`taskrun` of the child, the block's `taskrun` as
/// `workerTaskrun`, and the block's `value` as `taskrun.value` (children carry none
/// themselves). `execution` holds the children reported so far, so `outputs` has theirs.
pub fn working_directory_context(
    flow: &Flow,
    execution: &Execution,
    block: &TaskRun,
    child_task: &Task,
    child: &TaskRun,
    services: &dyn EngineServices,
) -> Value {
    let mut ctx = render_context(flow, execution, Some(child_task), Some(block), services);
    if let Value::Object(map) = &mut ctx {
        let block_vars = block.variables();
        let mut taskrun = child.variables();
        if let Some(value) = block_vars.get("value") {
            taskrun.insert("value".into(), value.clone());
        }
        map.insert("workerTaskrun".into(), Value::Object(block_vars));
        map.insert("taskrun".into(), Value::Object(taskrun));
    }
    ctx
}

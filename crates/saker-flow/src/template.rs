//! Legacy templates (Kestra's deprecated `Template` task, behind `kestra.templates.enabled`):
//! a template is a stored list of tasks (and `errors`) that a Template task includes as its
//! children. Kestra injects them when the executor loads the flow; here [`expand_templates`]
//! does it on the typed model before a run, outside the pure engine. The Template task stays a
//! flowable whose `tasks` branch holds the template's tasks (its outputs, `args`, are rendered
//! by the executor and read as `{{ parent.outputs.args.<name> }}`).

use std::collections::HashSet;

use serde_json::Value;

use crate::catalog::Slot;
use crate::model::{Branch, Flow, Task};

/// The Template task type (its legacy alias resolves to it).
pub const TEMPLATE_TASK: &str = "io.kestra.plugin.core.flow.Template";

/// Kestra's message when a Template task runs while templates are disabled.
pub const DISABLED: &str = "Templates are disabled, please check your configuration";

/// Templates including templates: deeper than this is taken for a cycle.
const MAX_DEPTH: usize = 10;

/// One template: `namespace`, `id`, `tasks` and `errors` (Kestra's `Template` model).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub namespace: String,
    pub id: String,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
}

impl Template {
    /// The template a document describes, when it only has a template's properties (`id`,
    /// `namespace`, `description`, `tasks`, `errors`): Kestra's templates are flow-like documents
    /// without inputs, triggers or any other flow property.
    pub fn from_flow(flow: &Flow) -> Option<Template> {
        let template_like = flow.labels.is_empty()
            && flow.inputs.is_empty()
            && flow.variables.is_empty()
            && flow.finally.is_empty()
            && flow.after_execution.is_empty()
            && flow.listeners.is_empty()
            && flow.triggers.is_empty()
            && flow.plugin_defaults.is_empty()
            && flow.concurrency.is_none()
            && flow.outputs.is_empty()
            && flow.retry.is_none()
            && flow.sla.is_empty()
            && flow.checks.is_empty()
            && !flow.disabled
            && flow.worker_group.is_none();
        template_like.then(|| Template {
            namespace: flow.namespace.clone(),
            id: flow.id.clone(),
            tasks: flow.tasks.clone(),
            errors: flow.errors.clone(),
        })
    }
}

/// Includes the templates of every Template task of `flow`. `templates` is `None` when
/// templates are disabled. A Template task that cannot be expanded (disabled, unknown template,
/// task ids already used in the flow, templates including each other) keeps no children and
/// gets an [`Task::unresolved`] reason, so its task run fails with Kestra's message.
pub fn expand_templates(flow: &mut Flow, templates: Option<&[Template]>) {
    if !flow
        .all_tasks()
        .iter()
        .any(|t| t.canonical == TEMPLATE_TASK)
    {
        return;
    }
    let mut ids: HashSet<String> = flow.all_tasks().iter().map(|t| t.id.clone()).collect();
    let roots = flow
        .tasks
        .iter_mut()
        .chain(flow.errors.iter_mut())
        .chain(flow.finally.iter_mut())
        .chain(flow.after_execution.iter_mut())
        .chain(flow.listeners.iter_mut().flat_map(|l| l.tasks.iter_mut()));
    for task in roots {
        expand_task(task, templates, &mut ids, 0);
    }
}

fn expand_task(
    task: &mut Task,
    templates: Option<&[Template]>,
    ids: &mut HashSet<String>,
    depth: usize,
) {
    if task.canonical == TEMPLATE_TASK && task.branch("tasks").is_none() {
        match include(task, templates, ids, depth) {
            Ok(()) => {}
            Err(reason) => task.unresolved = Some(reason),
        }
        return;
    }
    for branch in &mut task.branches {
        for child in &mut branch.tasks {
            expand_task(child, templates, ids, depth);
        }
    }
}

fn include(
    task: &mut Task,
    templates: Option<&[Template]>,
    ids: &mut HashSet<String>,
    depth: usize,
) -> Result<(), String> {
    let templates = templates.ok_or_else(|| DISABLED.to_owned())?;
    let text = |key: &str| match task.params.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let (namespace, template_id) = (text("namespace"), text("templateId"));
    let template = templates
        .iter()
        .find(|t| t.namespace == namespace && t.id == template_id)
        .ok_or_else(|| format!("Can't find flow template '{namespace}.{template_id}'"))?;
    if depth >= MAX_DEPTH {
        return Err(format!(
            "Template '{namespace}.{template_id}' includes templates more than {MAX_DEPTH} levels \
             deep (templates including each other never end)"
        ));
    }
    let mut tasks = template.tasks.clone();
    let mut errors = template.errors.clone();
    // Task ids are unique in an execution's flow: a template cannot reuse the flow's.
    let mut added: Vec<String> = Vec::new();
    for t in tasks.iter().chain(&errors) {
        t.walk(&mut |t| added.push(t.id.clone()));
    }
    if let Some(taken) = added.iter().find(|id| ids.contains(*id)) {
        return Err(format!(
            "Template '{namespace}.{template_id}' cannot be included: its task id '{taken}' is \
             already used in the flow"
        ));
    }
    ids.extend(added);
    for child in tasks.iter_mut().chain(errors.iter_mut()) {
        child.path = format!("{}.template.{}", task.path, child.path);
        expand_task(child, Some(templates), ids, depth + 1);
    }
    task.branches.insert(
        0,
        Branch {
            name: "tasks".into(),
            slot: Slot::Tasks("tasks"),
            case: None,
            tasks,
            depends_on: Vec::new(),
        },
    );
    // Kestra schedules the template's `errors`; the task's own, if any, come after them.
    if !errors.is_empty() {
        match task.branches.iter_mut().find(|b| b.name == "errors") {
            Some(own) => {
                errors.append(&mut own.tasks);
                own.tasks = errors;
            }
            None => task.branches.push(Branch {
                name: "errors".into(),
                slot: Slot::Tasks("errors"),
                case: None,
                tasks: errors,
                depends_on: Vec::new(),
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCatalog;

    fn parse(yaml: &str) -> Flow {
        crate::parse_and_validate(yaml, None, &TestCatalog).expect("valid test document")
    }

    fn template() -> Template {
        let doc = parse(
            "id: shared\nnamespace: company.team\ntasks:\n  - id: inner\n    type: io.kestra.plugin.core.log.Log\n    \
             message: \"{{ parent.outputs.args.x }}\"\nerrors:\n  - id: inner_error\n    \
             type: io.kestra.plugin.core.log.Log\n    message: oops\n",
        );
        Template::from_flow(&doc).expect("a template document")
    }

    const FLOW: &str = "id: main\nnamespace: company.team\ntasks:\n  - id: before\n    type: io.kestra.plugin.core.log.Log\n    \
         message: hi\n  - id: tpl\n    type: io.kestra.plugin.core.flow.Template\n    namespace: company.team\n    \
         templateId: shared\n    args:\n      x: \"{{ flow.id }}\"\n";

    #[test]
    fn includes_the_template_tasks_and_errors() {
        let mut flow = parse(FLOW);
        expand_templates(&mut flow, Some(&[template()]));
        let tpl = flow.find_task("tpl").expect("template task");
        assert_eq!(tpl.unresolved, None);
        let ids = |name: &str| -> Vec<&str> {
            tpl.branch_tasks(name)
                .iter()
                .map(|t| t.id.as_str())
                .collect()
        };
        assert_eq!(ids("tasks"), ["inner"]);
        assert_eq!(ids("errors"), ["inner_error"]);
        assert!(flow.find_task("inner").is_some());
    }

    #[test]
    fn missing_or_disabled_templates_leave_a_reason() {
        let mut flow = parse(FLOW);
        expand_templates(&mut flow, Some(&[]));
        let tpl = flow.find_task("tpl").expect("template task");
        assert_eq!(
            tpl.unresolved.as_deref(),
            Some("Can't find flow template 'company.team.shared'")
        );
        assert!(tpl.branch("tasks").is_none());

        let mut flow = parse(FLOW);
        expand_templates(&mut flow, None);
        let tpl = flow.find_task("tpl").expect("template task");
        assert_eq!(tpl.unresolved.as_deref(), Some(DISABLED));
    }

    #[test]
    fn clashing_ids_and_cycles_are_refused() {
        let mut flow = parse(&FLOW.replace("id: before", "id: inner"));
        expand_templates(&mut flow, Some(&[template()]));
        let reason = flow.find_task("tpl").and_then(|t| t.unresolved.clone());
        assert!(
            reason.is_some_and(|r| r.contains("task id 'inner' is already used")),
            "{flow:?}"
        );

        let looping = parse(
            "id: shared\nnamespace: company.team\ntasks:\n  - id: again\n    type: io.kestra.plugin.core.flow.Template\n    \
             namespace: company.team\n    templateId: shared\n",
        );
        let looping = Template::from_flow(&looping).expect("a template document");
        let mut flow = parse(FLOW);
        expand_templates(&mut flow, Some(&[looping]));
        // The first inclusion works; including `again` a second time reuses its id.
        let again = flow.find_task("again").expect("included once");
        assert!(again.unresolved.is_some());
    }

    #[test]
    fn only_template_shaped_documents_are_templates() {
        assert!(Template::from_flow(&parse(FLOW)).is_some());
        let with_inputs = parse(
            "id: f\nnamespace: company.team\ninputs:\n  - id: x\n    type: STRING\ntasks:\n  \
             - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        );
        assert!(Template::from_flow(&with_inputs).is_none());
    }
}

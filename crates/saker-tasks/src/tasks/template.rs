//! `io.kestra.plugin.core.flow.Template`: deprecated: inlines the tasks of a stored template.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `errors`, `finally`.

use saker_task::prelude::*;

/// Properties of `Template`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the template.
    pub namespace: Property<String>,
    /// Id of the template.
    pub template_id: Property<String>,
    /// Tenant of the template (hidden).
    pub tenant_id: Option<Property<String>>,
    /// Arguments, read by the template as `{{ parent.outputs.args.<name> }}`.
    pub args: Option<Property<Map<String, Value>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Template",
    aliases: [
        "io.kestra.core.tasks.flows.Template",
    ],
    kind: PluginKind::Task(TaskKind::Flowable),
    title: "Inline the tasks of a stored template (deprecated).",
    slots: [
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}

//! `io.kestra.plugin.core.templating.TemplatedTask`: renders `spec` into a runnable task definition and runs it.

use saker_task::prelude::*;

/// Properties of `TemplatedTask`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// YAML of the task to run, rendered first.
    pub spec: Property<String>,
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
}

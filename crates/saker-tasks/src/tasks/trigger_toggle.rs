//! `io.kestra.plugin.core.trigger.Toggle`: enables or disables a trigger of a flow.

use saker_task::prelude::*;

/// Properties of `Toggle`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the flow (default: current).
    pub namespace: Option<Property<String>>,
    /// Flow of the trigger (default: current).
    pub flow_id: Option<Property<String>>,
    /// Id of the trigger.
    pub trigger: Property<String>,
    /// Enable (true) or disable (false, default) the trigger.
    pub enabled: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.trigger.Toggle",
    aliases: [
        "io.kestra.core.tasks.trigger.Toggle",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Enable or disable a trigger.",
    slots: [],
    params: Params,
}

//! `io.kestra.plugin.core.trigger.Webhook`: starts an execution when `/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}` is called.

use saker_task::prelude::*;

/// Properties of `Webhook`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Secret part of the webhook URL (max 256 chars, may be an expression).
    pub key: Property<String>,
    /// Answer once the execution has ended (default false).
    pub wait: Option<Property<bool>>,
    /// With `wait`, answer with the flow outputs only (default false).
    pub return_outputs: Option<Property<bool>>,
    /// Execution inputs (rendered with `trigger.*`).
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Content type of the response.
    pub response_content_type: Option<Property<String>>,
    /// Status code of the response.
    pub response_code: Option<Property<u16>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.trigger.Webhook",
    aliases: [
        "io.kestra.core.models.triggers.types.Webhook",
    ],
    kind: PluginKind::Trigger,
    title: "Start an execution on an HTTP call.",
    slots: [],
    params: Params,
}

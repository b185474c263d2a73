//! `io.kestra.plugin.core.http.Trigger`: polls an HTTP endpoint and starts an execution when `responseCondition` is truthy.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Trigger`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: http_request;
        /// Expression on `response` (default `{{ response.statusCode < 400 }}`).
        pub response_condition: Option<Property<String>>,
        /// Polling period (default `PT60S`).
        pub interval: Option<Property<IsoDuration>>,
        /// Store the body encrypted in the trigger variables (default false).
        pub encrypt_body: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Trigger",
    aliases: [
        "io.kestra.plugin.fs.http.Trigger",
    ],
    kind: PluginKind::Trigger,
    title: "Poll an HTTP endpoint and start an execution when the response matches.",
    slots: [],
    params: Params,
}

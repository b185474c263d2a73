//! `io.kestra.plugin.core.http.Download`: downloads a URL into an internal-storage file.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Download`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: http_request;
        /// Fail when the response is empty (default true).
        pub fail_on_empty_response: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Download",
    aliases: [
        "io.kestra.plugin.fs.http.Download",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Download a file over HTTP.",
    slots: [],
    params: Params,
}

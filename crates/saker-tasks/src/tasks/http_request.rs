//! `io.kestra.plugin.core.http.Request`: sends one HTTP request and returns its status, headers and body.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Request`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: http_request;
        /// Store the body encrypted in the outputs (default false).
        pub encrypt_body: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.http.Request",
    aliases: [
        "io.kestra.plugin.fs.http.Request",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Send an HTTP request.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn request_props() {
        let ty = "io.kestra.plugin.fs.http.Request";
        assert_valid(
            ty,
            json!({"uri": "https://x", "method": "POST", "headers": {"a": "b"}, "options": {"allowFailed": true}}),
        );
        assert_invalid(
            ty,
            json!({"url": "https://x"}),
            "url",
            "Unrecognized field \"url\"",
        );
    }
}

//! `io.kestra.plugin.git.Clone`: clones a Git repository into the working directory.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Clone`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Repository URL (HTTP(S) or SSH).
        pub url: Property<String>,
        common: git_connection;
        /// Branch to check out.
        pub branch: Option<Property<String>>,
        /// Commit to check out.
        pub commit: Option<Property<String>>,
        /// Tag to check out.
        pub tag: Option<Property<String>>,
        /// Clone depth (default 1).
        pub depth: Option<Property<u32>>,
        /// Destination directory inside the working directory.
        pub directory: Option<Property<String>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.git.Clone",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Clone a Git repository.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn clone_props() {
        let ty = "io.kestra.plugin.git.Clone";
        assert_valid(
            ty,
            json!({"url": "https://github.com/kestra-io/examples", "branch": "main", "depth": "1"}),
        );
        assert_invalid(
            ty,
            json!({"branch": "main"}),
            "",
            "missing required property \"url\"",
        );
    }
}

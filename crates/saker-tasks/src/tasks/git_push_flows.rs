//! `io.kestra.plugin.git.PushFlows`: commits saved flows of a namespace and pushes them to a Git branch.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `PushFlows`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Repository URL (HTTP(S) or SSH).
        pub url: Option<Property<String>>,
        common: git_connection;
        /// Commit author name.
        pub author_name: Option<Property<String>>,
        /// Commit author email.
        pub author_email: Option<Property<String>>,
        /// Branch, created when missing (default `main`).
        pub branch: Option<Property<String>>,
        /// Namespace of the flows (default: the flow namespace).
        pub source_namespace: Option<Property<String>>,
        /// Namespace written into the pushed flows.
        pub target_namespace: Option<Property<String>>,
        /// Flow ids or glob patterns (default all).
        pub flows: Option<Property<OneOrMany<String>>>,
        /// Also push child namespaces (default false).
        pub include_child_namespaces: Option<Property<bool>>,
        /// Directory of the flows in the repository (default `_flows`).
        pub git_directory: Option<Property<String>>,
        /// Commit message.
        pub commit_message: Option<Property<String>>,
        /// Delete flows from Git that no longer exist (default true).
        pub delete: Option<Property<bool>>,
        /// Only compute the diff (default false).
        pub dry_run: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.git.PushFlows",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Push flows to Git.",
    slots: [],
    params: Params,
}

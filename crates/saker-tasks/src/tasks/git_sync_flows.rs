//! `io.kestra.plugin.git.SyncFlows`: imports flows from a Git branch into a namespace.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `SyncFlows`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Repository URL (HTTP(S) or SSH).
        pub url: Option<Property<String>>,
        common: git_connection;
        /// Branch (default `main`).
        pub branch: Option<Property<String>>,
        /// Namespace the flows are synced into (default: the flow namespace).
        pub target_namespace: Option<Property<String>>,
        /// Directory of the flows in the repository (default `_flows`).
        pub git_directory: Option<Property<String>>,
        /// Also sync child namespaces (default false).
        pub include_child_namespaces: Option<Property<bool>>,
        /// Delete flows missing from Git (default false).
        pub delete: Option<Property<bool>>,
        /// Only compute the diff (default false).
        pub dry_run: Option<Property<bool>>,
        /// Skip invalid flows instead of failing (default false).
        pub ignore_invalid_flows: Option<Property<bool>>,
        /// Fail when `gitDirectory` is missing (default true).
        pub fail_on_missing_directory: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.git.SyncFlows",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Sync flows from Git.",
    slots: [],
    params: Params,
}

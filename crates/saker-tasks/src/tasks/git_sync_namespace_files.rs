//! `io.kestra.plugin.git.SyncNamespaceFiles`: imports namespace files from a Git branch.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `SyncNamespaceFiles`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Repository URL (HTTP(S) or SSH).
        pub url: Option<Property<String>>,
        common: git_connection;
        /// Branch (default `main`).
        pub branch: Option<Property<String>>,
        /// Target namespace (default: the flow namespace).
        pub namespace: Option<Property<String>>,
        /// Directory of the files in the repository (default `_files`).
        pub git_directory: Option<Property<String>>,
        /// Delete namespace files missing from Git (default false).
        pub delete: Option<Property<bool>>,
        /// Only compute the diff (default false).
        pub dry_run: Option<Property<bool>>,
        /// Fail when `gitDirectory` is missing (default true).
        pub fail_on_missing_directory: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.git.SyncNamespaceFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Sync namespace files from Git.",
    slots: [],
    params: Params,
}

//! `io.kestra.plugin.fs.ssh.Upload`: uploads an internal-storage file to a remote host.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Upload`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: ssh_connection;
        /// URI of the file to upload.
        pub from: Property<String>,
        /// Remote destination path.
        pub to: Property<String>,
        /// Overwrite an existing remote file (default false).
        pub overwrite: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.fs.ssh.Upload",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Upload a file over SSH (SFTP).",
    slots: [],
    params: Params,
}

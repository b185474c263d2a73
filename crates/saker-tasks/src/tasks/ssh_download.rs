//! `io.kestra.plugin.fs.ssh.Download`: downloads a remote file into internal storage.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Download`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: ssh_connection;
        /// Remote path of the file.
        pub from: Property<String>,
        /// Name of the downloaded file.
        pub to: Option<Property<String>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.fs.ssh.Download",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Download a file over SSH (SFTP).",
    slots: [],
    params: Params,
}

//! `io.kestra.plugin.core.namespace.DownloadFiles`: downloads namespace files into internal storage.

use saker_task::prelude::*;

/// Properties of `DownloadFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Source namespace.
    pub namespace: Property<String>,
    /// Paths or glob/regex patterns of the files.
    pub files: Property<OneOrMany<String>>,
    /// Destination folder (default empty).
    pub destination: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.DownloadFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Download namespace files.",
    slots: [],
    params: Params,
}

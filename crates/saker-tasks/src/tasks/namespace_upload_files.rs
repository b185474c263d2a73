//! `io.kestra.plugin.core.namespace.UploadFiles`: uploads files of the working directory or internal storage to namespace files.

use saker_task::prelude::*;

/// Properties of `UploadFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Destination namespace.
    pub namespace: Property<String>,
    /// Regex or `glob:` patterns of working-directory files to upload.
    pub files: Option<Property<OneOrMany<String>>>,
    /// Destination path → URI or content.
    pub files_map: Option<Property<Map<String, Value>>>,
    /// Destination folder (default `/`).
    pub destination: Option<Property<String>>,
    /// What to do when a file exists (default `OVERWRITE`).
    pub conflict: Option<Property<Conflict>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.UploadFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Upload files to namespace files.",
    slots: [],
    params: Params,
}

/// What `UploadFiles` does when the destination file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Conflict {
    /// Replace it.
    Overwrite,
    /// Fail.
    Error,
    /// Keep it.
    Skip,
}

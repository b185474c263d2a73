//! `io.kestra.plugin.core.namespace.DeleteFiles`: deletes namespace files.

use saker_task::prelude::*;

/// Properties of `DeleteFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the files.
    pub namespace: Property<String>,
    /// Paths or glob/regex patterns of the files.
    pub files: Property<OneOrMany<String>>,
    /// Also delete folders left empty (default false).
    pub delete_parent_folder: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.DeleteFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete namespace files.",
    slots: [],
    params: Params,
}

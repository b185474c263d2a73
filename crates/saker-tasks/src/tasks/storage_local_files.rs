//! `io.kestra.plugin.core.storage.LocalFiles`: deprecated: writes input files into the working directory and uploads output files.

use saker_task::prelude::*;

/// Properties of `LocalFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Files to create: name → content or URI.
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Glob patterns of files to upload.
    pub outputs: Option<Property<Vec<String>>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.LocalFiles",
    aliases: [
        "io.kestra.core.tasks.storages.LocalFiles",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Create and collect local files (deprecated).",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn inputs_and_outputs() {
        let ty = "io.kestra.plugin.core.storage.LocalFiles";
        assert_valid(ty, json!({"inputs": {"a.txt": "x"}, "outputs": ["*.txt"]}));
        assert_invalid(
            ty,
            json!({"outputs": "*.txt"}),
            "outputs",
            "expected a sequence",
        );
    }
}

//! `io.kestra.plugin.core.flow.WorkingDirectory`: runs its children on one worker, in one shared temporary directory.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use crate::shared::{InputFiles, NamespaceFiles};
use saker_task::prelude::*;

/// Properties of `WorkingDirectory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace files copied into the directory.
    pub namespace_files: Option<NamespaceFiles>,
    /// Files written into the directory before the children run.
    pub input_files: Option<InputFiles>,
    /// Glob patterns of files uploaded to internal storage at the end.
    pub output_files: Option<Property<Vec<String>>>,
    /// Cache of files between executions.
    pub cache: Option<Cache>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.WorkingDirectory",
    aliases: [
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.core.tasks.flows.Worker",
    ],
    kind: PluginKind::Task(TaskKind::WorkingDirectory),
    title: "Run tasks sequentially in one working directory on one worker.",
    slots: [
        Slot::Tasks("tasks"),
        Slot::Tasks("errors"),
        Slot::Tasks("finally"),
    ],
    params: Params,
}

/// Files cached between executions of a `WorkingDirectory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cache {
    /// Glob patterns of the cached files.
    pub patterns: Vec<String>,
    /// How long the cache is kept.
    pub ttl: Option<IsoDuration>,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn cache_needs_patterns() {
        let ty = "io.kestra.plugin.core.flow.WorkingDirectory";
        assert_valid(
            ty,
            json!({"cache": {"ttl": "PT5m", "patterns": ["*.txt"]}, "inputFiles": {"a.txt": "x"}}),
        );
        assert_invalid(
            ty,
            json!({"cache": {"ttl": "PT5M"}}),
            "cache",
            "missing required property \"patterns\"",
        );
    }
}

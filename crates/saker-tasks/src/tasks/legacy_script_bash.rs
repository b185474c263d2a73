//! `io.kestra.core.tasks.scripts.Bash`: deprecated shell script task of Kestra < 0.10.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Bash`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        /// Commands, joined with newlines.
        pub commands: Property<Vec<String>>,
        common: legacy_script;
    }
}

/// Runs the task as a local process (see `shared::legacy_script`).
pub struct LegacyBash;

impl RunnableTask for LegacyBash {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        use crate::shared::legacy_script::{Flavor, legacy_props, run_legacy};
        run_legacy(ctx, legacy_props!(params), Flavor::Bash(&params.commands)).await
    }
}

register_plugin! {
    type_name: "io.kestra.core.tasks.scripts.Bash",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run shell commands (deprecated).",
    slots: [],
    params: Params,
    runnable: LegacyBash,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn legacy_bash() {
        let ty = "io.kestra.core.tasks.scripts.Bash";
        assert_valid(
            ty,
            json!({"commands": ["echo {{ outputFiles.out }}"], "outputFiles": ["out"], "runner": "DOCKER", "dockerOptions": {"image": "ubuntu"}}),
        );
        assert_invalid(
            ty,
            json!({"commands": ["x"], "runner": "K8S"}),
            "runner",
            "unknown variant `K8S`",
        );
    }
}

//! `io.kestra.plugin.core.storage.Concat`: concatenates internal-storage files into one.

use saker_task::prelude::*;
use saker_task::storage::{Reader, check_uri};
use tokio::io::AsyncReadExt;

/// Properties of `Concat`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URIs of the files, or an expression rendering to a JSON list.
    pub files: Property<Vec<String>>,
    /// Written between files.
    pub separator: Option<Property<String>>,
    /// Extension of the result (default `.tmp`).
    pub extension: Option<Property<String>>,
}

/// Runs `storage.Concat`.
pub struct Concat;

impl RunnableTask for Concat {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let files = ctx.render_property(&params.files)?;
        let separator = ctx.render_opt(&params.separator)?;
        let extension = ctx
            .render_opt(&params.extension)?
            .unwrap_or_else(|| ".tmp".to_owned());
        // One chained reader streamed into the new file: memory stays flat whatever the sizes.
        let mut content: Reader = Box::new(tokio::io::empty());
        for (i, uri) in files.iter().enumerate() {
            check_uri(uri).map_err(TaskError::failed)?;
            let file = ctx.storage().open(uri).await.map_err(TaskError::failed)?;
            content = Box::new(content.chain(file));
            if let Some(separator) = &separator
                && i + 1 < files.len()
            {
                let bytes = std::io::Cursor::new(separator.clone().into_bytes());
                content = Box::new(content.chain(bytes));
            }
        }
        let uri = ctx.put_reader(&extension, content).await?;
        Ok(TaskOutcome::empty().with("uri", uri))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Concat",
    aliases: [
        "io.kestra.core.tasks.storages.Concat",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Concatenate files.",
    slots: [],
    params: Params,
    runnable: Concat,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    #[tokio::test]
    async fn concatenates_with_separator() {
        let env = env();
        for (name, text) in [("a", "1\n2"), ("b", "3")] {
            env.storage.put(&format!("kestra:///x/{name}.txt"), text.as_bytes().to_vec()).await.unwrap();
        }
        let outcome = run(
            &env,
            "io.kestra.plugin.core.storage.Concat",
            json!({"files": "{{ inputs.files }}", "separator": "\n", "extension": ".txt"}),
            json!({"inputs": {"files": ["kestra:///x/a.txt", "kestra:///x/b.txt"]}}),
        )
        .await
        .unwrap();
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with(".txt"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"1\n2\n3");
    }
}

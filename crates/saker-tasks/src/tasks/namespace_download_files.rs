//! `io.kestra.plugin.core.namespace.DownloadFiles`: downloads namespace files into internal storage.

use saker_task::namespace_files;
use saker_task::prelude::*;

use crate::shared::script::{namespace_glob, namespace_match};

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

/// Runs `namespace.DownloadFiles`: copies the matching namespace files into the task run's
/// internal storage; `files` maps each namespace path (`/a/b.txt`) to its new URI.
pub struct DownloadFiles;

impl RunnableTask for DownloadFiles {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = ctx.render_property(&params.namespace)?;
        let patterns = ctx.render_property(&params.files)?.into_vec();
        let globs = patterns
            .iter()
            .map(|p| namespace_glob(p))
            .collect::<Result<Vec<_>, _>>()?;
        let destination = match ctx.render_opt(&params.destination)? {
            Some(dest) if !dest.trim_matches('/').is_empty() => {
                format!("{}/", namespace_files::clean_path(&dest).map_err(TaskError::failed)?)
            }
            _ => String::new(),
        };
        let listed = namespace_files::list(ctx.storage(), &namespace, "")
            .await
            .map_err(TaskError::failed)?;
        let mut files = Map::new();
        for file in listed {
            if !namespace_match(&globs, &file.path) {
                continue;
            }
            let rooted = format!("/{}", file.path);
            let uri = format!("{}{destination}{}", ctx.storage_prefix(), file.path);
            let reader = ctx.storage().open(&file.uri).await.map_err(TaskError::failed)?;
            ctx.storage()
                .put_stream(&uri, reader)
                .await
                .map_err(TaskError::failed)?;
            files.insert(rooted, Value::String(uri));
        }
        ctx.logger().info(format!(
            "Downloaded {} file(s) from namespace '{namespace}'",
            files.len()
        ));
        Ok(TaskOutcome::empty().with("files", Value::Object(files)))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.DownloadFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Download namespace files.",
    slots: [],
    params: Params,
    runnable: DownloadFiles,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::namespace_files;
    use serde_json::json;

    #[tokio::test]
    async fn copies_matching_files_to_execution_storage() {
        let env = env();
        for (path, content) in [("input.txt", "a"), ("dir/input.txt", "b"), ("other.csv", "c")] {
            namespace_files::put(&*env.storage, "tutorial", path, content.into())
                .await
                .unwrap();
        }
        let ty = "io.kestra.plugin.core.namespace.DownloadFiles";
        let out = run(&env, ty, json!({"namespace": "tutorial", "files": ["**input.txt"]}), json!({}))
            .await
            .unwrap();
        let files = out.outputs["files"].as_object().unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["/dir/input.txt", "/input.txt"]);
        let uri = files["/dir/input.txt"].as_str().unwrap();
        assert!(uri.ends_with("/dir/input.txt") && uri.contains("/executions/"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"b");
        let bad = run(&env, ty, json!({"namespace": "tutorial", "files": "**", "destination": "../x"}), json!({}))
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("invalid namespace file path"), "{bad}");
    }
}

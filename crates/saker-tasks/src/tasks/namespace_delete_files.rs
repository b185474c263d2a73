//! `io.kestra.plugin.core.namespace.DeleteFiles`: deletes namespace files.

use saker_task::namespace_files;
use saker_task::prelude::*;

use crate::shared::script::{namespace_glob, namespace_match};

/// Properties of `DeleteFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Namespace of the files.
    pub namespace: Property<String>,
    /// Paths or glob/regex patterns of the files.
    pub files: Property<OneOrMany<String>>,
    /// Also delete folders left empty (default false). Internal storage has no folders of its
    /// own (a folder exists while it holds a file), so they always go with their last file.
    pub delete_parent_folder: Option<Property<bool>>,
}

/// Runs `namespace.DeleteFiles`: deletes the matching namespace files.
pub struct DeleteFiles;

impl RunnableTask for DeleteFiles {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = ctx.render_property(&params.namespace)?;
        let patterns = ctx.render_property(&params.files)?.into_vec();
        let globs = patterns
            .iter()
            .map(|p| namespace_glob(p))
            .collect::<Result<Vec<_>, _>>()?;
        // Rendered for its errors only: see the property's documentation.
        ctx.render_opt(&params.delete_parent_folder)?;
        let listed = namespace_files::list(ctx.storage(), &namespace, "")
            .await
            .map_err(TaskError::failed)?;
        let mut deleted = Vec::new();
        for file in listed {
            if namespace_match(&globs, &file.path) {
                ctx.storage()
                    .delete(&file.uri)
                    .await
                    .map_err(TaskError::failed)?;
                ctx.logger().debug(format!("Deleted namespace file '/{}'", file.path));
                deleted.push(Value::String(format!("/{}", file.path)));
            }
        }
        ctx.logger().info(format!(
            "Deleted {} file(s) from namespace '{namespace}'",
            deleted.len()
        ));
        Ok(TaskOutcome::empty().with("files", Value::Array(deleted)))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.DeleteFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete namespace files.",
    slots: [],
    params: Params,
    runnable: DeleteFiles,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::namespace_files;
    use serde_json::json;

    #[tokio::test]
    async fn deletes_only_matching_files_of_the_namespace() {
        let env = env();
        for (ns, path) in [("ns", "a.sql"), ("ns", "sub/b.sql"), ("ns", "c.py"), ("other", "a.sql")] {
            namespace_files::put(&*env.storage, ns, path, b"x".to_vec())
                .await
                .unwrap();
        }
        let out = run(&env, "io.kestra.plugin.core.namespace.DeleteFiles", json!({"namespace": "ns", "files": ["*.sql"]}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["files"], json!(["/a.sql"]));
        let left: Vec<_> = namespace_files::list(&*env.storage, "ns", "")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(left, ["c.py", "sub/b.sql"]);
        let out = run(&env, "io.kestra.plugin.core.namespace.DeleteFiles", json!({"namespace": "ns", "files": "**.sql"}), json!({}))
            .await
            .unwrap();
        assert_eq!(out.outputs["files"], json!(["/sub/b.sql"]));
        assert_eq!(namespace_files::list(&*env.storage, "other", "").await.unwrap().len(), 1);
    }
}

//! `io.kestra.plugin.core.namespace.UploadFiles`: uploads files of the working directory or internal storage to namespace files.

use std::path::{Path, PathBuf};

use saker_task::namespace_files;
use saker_task::prelude::*;

use crate::tasks::storage_local_files::{Matcher, regular_files};

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

/// Runs `namespace.UploadFiles`: `files` picks working-directory files (their relative path is
/// kept under `destination`), `filesMap` names each destination and its source (an internal
/// storage URI or a working-directory file).
pub struct UploadFiles;

/// Where an uploaded file comes from.
enum Source {
    Local(PathBuf),
    Stored(String),
}

impl RunnableTask for UploadFiles {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let namespace = ctx.render_property(&params.namespace)?;
        let destination = ctx
            .render_opt(&params.destination)?
            .unwrap_or_else(|| "/".to_owned());
        let conflict = ctx.render_opt(&params.conflict)?.unwrap_or(Conflict::Overwrite);
        let dir = ctx.working_dir().map(Path::to_path_buf);
        let mut uploads: Vec<(String, Source)> = Vec::new();

        if let Some(patterns) = ctx.render_opt(&params.files)? {
            let matchers = patterns
                .into_vec()
                .iter()
                .map(|p| Matcher::new(p))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(dir) = &dir {
                let walked = dir.clone();
                let files = tokio::task::spawn_blocking(move || regular_files(&walked))
                    .await
                    .map_err(TaskError::failed)?
                    .map_err(|e| {
                        TaskError::Failed(format!("cannot list the working directory: {e}"))
                    })?;
                for relative in files {
                    let absolute = dir.join(&relative);
                    if matchers.iter().any(|m| m.matches(&relative, &absolute)) {
                        let target = format!("{}/{relative}", destination.trim_end_matches('/'));
                        uploads.push((target, Source::Local(absolute)));
                    }
                }
            }
        }
        if let Some(map) = ctx.render_opt(&params.files_map)? {
            for (target, source) in map {
                let Value::String(source) = source else {
                    return Err(TaskError::Failed(format!(
                        "filesMap: the source of '{target}' must be a URI or a file path"
                    )));
                };
                let source = if source.starts_with("kestra://") {
                    Source::Stored(source)
                } else {
                    let dir = dir.as_deref().ok_or_else(|| {
                        TaskError::Failed(format!(
                            "filesMap: '{source}' is not an internal storage URI and the task has no working directory"
                        ))
                    })?;
                    let relative = source.strip_prefix("file://").unwrap_or(&source);
                    let relative = Path::new(relative)
                        .strip_prefix(dir)
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| relative.to_owned());
                    Source::Local(crate::tasks::storage_local_files::inside(dir, &relative)?)
                };
                let target = if destination.trim_matches('/').is_empty() {
                    target
                } else {
                    format!("{}/{}", destination.trim_end_matches('/'), target.trim_start_matches('/'))
                };
                uploads.push((target, source));
            }
        }

        let mut done = Vec::new();
        for (target, source) in uploads {
            let uri = namespace_files::uri_of(&namespace, &target).map_err(TaskError::failed)?;
            let exists = ctx.storage().exists(&uri).await.map_err(TaskError::failed)?;
            if exists {
                match conflict {
                    Conflict::Error => {
                        return Err(TaskError::Failed(format!(
                            "namespace file '{target}' already exists in namespace '{namespace}'"
                        )));
                    }
                    Conflict::Skip => {
                        ctx.logger().debug(format!("'{target}' exists, skipped"));
                        continue;
                    }
                    Conflict::Overwrite => {}
                }
            }
            match source {
                Source::Local(path) => ctx.storage().put_file(&uri, &path).await,
                Source::Stored(from) => {
                    let reader = ctx.storage().open(&from).await.map_err(TaskError::failed)?;
                    ctx.storage().put_stream(&uri, reader).await
                }
            }
            .map_err(TaskError::failed)?;
            done.push(Value::String(format!("/{}", target.trim_start_matches('/'))));
        }
        ctx.logger().info(format!(
            "Uploaded {} file(s) to namespace '{namespace}'",
            done.len()
        ));
        Ok(TaskOutcome::empty().with("files", Value::Array(done)))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.namespace.UploadFiles",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Upload files to namespace files.",
    slots: [],
    params: Params,
    runnable: UploadFiles,
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

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run_in};
    use saker_task::Storage;
    use saker_task::namespace_files;
    use serde_json::json;

    #[tokio::test]
    async fn uploads_working_dir_files_and_stored_uris_with_conflicts() {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dbt/models")).unwrap();
        std::fs::write(dir.path().join("dbt/models/a.sql"), "select 1").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "n").unwrap();
        env.storage
            .put("kestra:///ns/f/executions/e/x.csv", b"1,2".to_vec())
            .await
            .unwrap();
        let ty = "io.kestra.plugin.core.namespace.UploadFiles";
        let info = saker_task::memory::test_info("up", ty);
        let mut ctx = env.context(info, json!({})).with_working_dir(dir.path());
        let out = run_in(&mut ctx, ty, json!({
            "namespace": "company.team",
            "files": ["glob:**/dbt/**"],
            "filesMap": {"data/x.csv": "kestra:///ns/f/executions/e/x.csv"},
            "destination": "/project"
        }))
        .await
        .unwrap();
        assert_eq!(out.outputs["files"], json!(["/project/dbt/models/a.sql", "/project/data/x.csv"]));
        let paths: Vec<_> = namespace_files::list(&*env.storage, "company.team", "")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(paths, ["project/data/x.csv", "project/dbt/models/a.sql"]);
        let again = json!({"namespace": "company.team", "filesMap": {"project/data/x.csv": "notes.txt"}, "conflict": "ERROR"});
        let error = run_in(&mut ctx, ty, again).await.unwrap_err();
        assert!(error.to_string().contains("already exists"), "{error}");
        let escape = json!({"namespace": "company.team", "filesMap": {"../../x": "notes.txt"}});
        assert!(run_in(&mut ctx, ty, escape).await.is_err());
        let escape = json!({"namespace": "company.team", "filesMap": {"x": "../../etc/passwd"}});
        assert!(run_in(&mut ctx, ty, escape).await.is_err());
    }
}

//! `io.kestra.plugin.core.flow.WorkingDirectory`: runs its children on one worker, in one shared temporary directory.
//!
//! Nested plugins (walked by flow validation, not part of [`Params`]): `tasks`, `errors`, `finally`.

use std::path::Path;

use crate::shared::{InputFiles, NamespaceFiles};
use crate::tasks::storage_local_files::{Matcher, fetch, inside, regular_files, stored_name};
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

/// What [`finish`] needs from [`prepare`]: the cache to refresh, and when it was restored.
pub struct Prepared {
    cache: Option<(String, Vec<Matcher>, Option<std::time::SystemTime>)>,
}

/// Prepares the block's directory `dir` before its children run (run by the worker holding
/// the block, with the block's context): restores the cache when present and not expired, then
/// copies the selected namespace files, then writes `inputFiles`.
pub async fn prepare(
    params: &Map<String, Value>,
    ctx: &mut RunContext,
    dir: &Path,
) -> Result<Prepared, TaskError> {
    let params: Params = saker_task::task::parse_params(params)?;
    let mut prepared = Prepared { cache: None };
    if let Some(cache) = &params.cache {
        let uri = cache_uri(ctx);
        let matchers = cache
            .patterns
            .iter()
            .map(|pattern| Matcher::new(pattern))
            .collect::<Result<Vec<_>, _>>()?;
        let mut restored = None;
        if ctx
            .storage()
            .exists(&uri)
            .await
            .map_err(TaskError::failed)?
        {
            let bytes = ctx.storage().get(&uri).await.map_err(TaskError::failed)?;
            match decode_cache(&bytes) {
                Some((created, files)) if !expired(ctx, created, cache) => {
                    ctx.logger().debug("Cache exists, restoring it".to_owned());
                    for (name, content) in files {
                        let path = inside(dir, &name)?;
                        if let Some(parent) = path.parent() {
                            tokio::fs::create_dir_all(parent)
                                .await
                                .map_err(TaskError::failed)?;
                        }
                        tokio::fs::write(&path, content)
                            .await
                            .map_err(TaskError::failed)?;
                    }
                    restored = Some(std::time::SystemTime::now());
                }
                // Expired or unreadable: as if absent; the end of the block writes a new one.
                _ => {
                    ctx.storage()
                        .delete(&uri)
                        .await
                        .map_err(TaskError::failed)?;
                }
            }
        }
        prepared.cache = Some((uri, matchers, restored));
    }
    if let Some(files) = &params.namespace_files {
        crate::shared::script::copy_namespace_files(ctx, dir, files).await?;
    }
    let inputs: Map<String, Value> = ctx.render_opt(&params.input_files)?.unwrap_or_default();
    for (name, content) in inputs {
        let content = match content {
            Value::Null => continue,
            Value::String(text) => text,
            other => other.to_string(),
        };
        let path = inside(dir, &name)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(TaskError::failed)?;
        }
        if content.starts_with("kestra://") {
            // Streamed to disk: stored files may be big.
            saker_task::storage::check_uri(&content).map_err(TaskError::failed)?;
            ctx.storage()
                .get_file(&content, &path)
                .await
                .map_err(TaskError::failed)?;
            continue;
        }
        let bytes = fetch(ctx, dir, &content).await?;
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| TaskError::Failed(format!("cannot write input file '{name}': {e}")))?;
    }
    Ok(prepared)
}

/// Finishes the block after its children: uploads `outputFiles` (returned as the block's
/// `outputFiles` output, relative path → URI) and saves the cache when a cached file changed.
pub async fn finish(
    params: &Map<String, Value>,
    ctx: &mut RunContext,
    dir: &Path,
    prepared: Prepared,
) -> Result<Option<Map<String, Value>>, TaskError> {
    let params: Params = saker_task::task::parse_params(params)?;
    let walked = dir.to_path_buf();
    let files = tokio::task::spawn_blocking(move || regular_files(&walked))
        .await
        .map_err(TaskError::failed)?
        .map_err(|e| TaskError::Failed(format!("cannot list the working directory: {e}")))?;
    let mut outputs = None;
    let patterns = ctx.render_opt(&params.output_files)?.unwrap_or_default();
    if !patterns.is_empty() {
        let matchers = patterns
            .iter()
            .filter(|pattern| !pattern.trim().is_empty())
            .map(|pattern| Matcher::new(pattern))
            .collect::<Result<Vec<_>, _>>()?;
        let mut uris = Map::new();
        for relative in &files {
            let absolute = dir.join(relative);
            if !matchers.iter().any(|m| m.matches(relative, &absolute)) {
                continue;
            }
            let bytes = tokio::fs::read(&absolute)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot read '{relative}': {e}")))?;
            let uri = ctx.put_file_as(&stored_name(relative), bytes).await?;
            uris.insert(relative.clone(), Value::String(uri));
        }
        // Like Kestra, no output at all when nothing matched.
        if !uris.is_empty() {
            let mut map = Map::new();
            map.insert("outputFiles".into(), Value::Object(uris));
            outputs = Some(map);
        }
    }
    if let Some((uri, matchers, restored)) = prepared.cache {
        let cached: Vec<&String> = files
            .iter()
            .filter(|relative| {
                matchers
                    .iter()
                    .any(|m| m.matches(relative, &dir.join(relative)))
            })
            .collect();
        // Kestra refreshes the cache only when a cached file is newer than the restore.
        let changed = cached.iter().any(|relative| {
            let modified = std::fs::metadata(dir.join(relative)).and_then(|m| m.modified());
            match (restored, modified) {
                (Some(restored), Ok(modified)) => modified > restored,
                _ => true,
            }
        });
        if changed {
            let mut entries = Vec::with_capacity(cached.len());
            for relative in cached {
                let bytes = tokio::fs::read(dir.join(relative))
                    .await
                    .map_err(|e| TaskError::Failed(format!("cannot read '{relative}': {e}")))?;
                entries.push((relative.clone(), bytes));
            }
            let archive = encode_cache(ctx.now(), &entries);
            ctx.storage()
                .put(&uri, archive)
                .await
                .map_err(TaskError::failed)?;
            ctx.logger().debug(format!("Caching in {uri}"));
        }
    }
    Ok(outputs)
}

/// `kestra:///<ns>/<flow>/<task>/cache/[<value>/]cache.bin`: one cache per task (and value),
/// shared by the executions of the flow.
fn cache_uri(ctx: &RunContext) -> String {
    let info = ctx.info();
    let value = info
        .value
        .as_deref()
        .map(|v| format!("{}/", saker_task::storage::slugify(v)))
        .unwrap_or_default();
    format!(
        "{}/{}/{}/{}/cache/{value}cache.bin",
        saker_task::storage::SCHEME,
        info.namespace.replace('.', "/"),
        saker_task::storage::slugify(&info.flow_id),
        saker_task::storage::slugify(&info.task_id),
    )
}

fn expired(ctx: &RunContext, created: chrono::DateTime<chrono::Utc>, cache: &Cache) -> bool {
    cache.ttl.as_ref().is_some_and(|ttl| {
        chrono::TimeDelta::from_std(ttl.as_duration()).is_ok_and(|ttl| ctx.now() - created > ttl)
    })
}

const CACHE_MAGIC: &str = "saker-cache-1";

/// The cache archive: a header line (magic, creation instant), then per file its path line, its
/// length line and its bytes.
fn encode_cache(created: chrono::DateTime<chrono::Utc>, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = format!("{CACHE_MAGIC} {}\n", created.to_rfc3339()).into_bytes();
    for (path, bytes) in files {
        out.extend_from_slice(format!("{path}\n{}\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

type CacheFiles = Vec<(String, Vec<u8>)>;

fn decode_cache(mut bytes: &[u8]) -> Option<(chrono::DateTime<chrono::Utc>, CacheFiles)> {
    fn line<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
        let end = bytes.iter().position(|b| *b == b'\n')?;
        let text = std::str::from_utf8(&bytes[..end]).ok()?;
        *bytes = &bytes[end + 1..];
        Some(text)
    }
    let created = line(&mut bytes)?.strip_prefix(CACHE_MAGIC)?.trim();
    let created = chrono::DateTime::parse_from_rfc3339(created)
        .ok()?
        .with_timezone(&chrono::Utc);
    let mut files = Vec::new();
    while !bytes.is_empty() {
        let path = line(&mut bytes)?.to_owned();
        let len: usize = line(&mut bytes)?.parse().ok()?;
        if bytes.len() < len {
            return None;
        }
        files.push((path, bytes[..len].to_vec()));
        bytes = &bytes[len..];
    }
    Some((created, files))
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

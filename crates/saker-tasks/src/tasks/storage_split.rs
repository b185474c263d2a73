//! `io.kestra.plugin.core.storage.Split`: splits an internal-storage file by size, rows or number of partitions.

use saker_task::prelude::*;

use tokio::io::{AsyncWriteExt, BufWriter};

use crate::shared::{Lines, extension_of, stream_into, write_parts};

/// Properties of `Split`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub from: Property<String>,
    /// Size of each part, e.g. `10MB`.
    pub bytes: Option<Property<String>>,
    /// Number of parts.
    pub partitions: Option<Property<u32>>,
    /// Rows per part.
    pub rows: Option<Property<u64>>,
    /// Row separator (default `\n`).
    pub separator: Option<Property<String>>,
}

/// Runs `storage.Split`.
pub struct Split;

impl RunnableTask for Split {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let from = ctx.render_property(&params.from)?;
        let separator = ctx
            .render_opt(&params.separator)?
            .unwrap_or_else(|| "\n".to_owned());
        let how = match (
            ctx.render_opt(&params.bytes)?,
            ctx.render_opt(&params.partitions)?,
            ctx.render_opt(&params.rows)?,
        ) {
            (Some(bytes), None, None) => By::Bytes(parse_bytes(&bytes)?),
            (None, Some(partitions), None) if partitions > 0 => By::Partitions(partitions as usize),
            (None, None, Some(rows)) if rows > 0 => By::Rows(rows as usize),
            _ => {
                return Err(TaskError::failed(
                    "set exactly one of `bytes`, `partitions` or `rows` (a positive value)",
                ));
            }
        };
        let uris = split_file(ctx, &from, &separator, how, extension_of(&from)).await?;
        Ok(TaskOutcome::empty().with("uris", uris))
    }
}

/// How to cut a file (also used by ForEachItem's split step, which batches like `Split`).
#[derive(Debug, Clone, Copy)]
pub enum By {
    /// Parts of at least this many bytes (the last one may be smaller).
    Bytes(u64),
    /// This many parts, rows dealt round-robin (empty parts dropped).
    Partitions(usize),
    /// Parts of this many rows.
    Rows(usize),
}

/// Cuts the file `from` into new files of this task run (extension `extension`) and returns
/// their URIs, as Kestra's `StorageService.split`: rows are the file's lines (any line ending)
/// and each is written followed by `separator`; `Bytes` starts a new part once the current one
/// reached the size, `Partitions` deals rows round-robin. An empty file gives no part. Rows
/// are streamed one at a time, so memory does not grow with the file.
pub async fn split_file(
    ctx: &mut RunContext,
    from: &str,
    separator: &str,
    how: By,
    extension: &str,
) -> Result<Vec<String>, TaskError> {
    let mut lines = Lines::open(ctx, from).await?;
    let (limit_bytes, limit_rows) = match how {
        By::Partitions(count) => {
            return partition(ctx, &mut lines, separator, count, extension).await;
        }
        By::Bytes(bytes) => (bytes, u64::MAX),
        By::Rows(rows) => (u64::MAX, rows as u64),
    };
    // Parts follow each other: each is streamed into storage while it is being cut.
    let mut uris = Vec::new();
    let mut row = Vec::new();
    let mut more = lines.next_into(&mut row).await?;
    while more {
        let uri = ctx.new_file_uri(extension);
        more = stream_into(ctx.storage(), &uri, async |out| {
            let (mut bytes, mut rows) = (0u64, 0u64);
            loop {
                write_parts(out, &[&row, separator.as_bytes()]).await?;
                bytes += (row.len() + separator.len()) as u64;
                rows += 1;
                let more = lines.next_into(&mut row).await?;
                if !more || bytes >= limit_bytes || rows >= limit_rows {
                    return Ok(more);
                }
            }
        })
        .await?;
        uris.push(uri);
    }
    Ok(uris)
}

/// `Split` by partitions: every part grows at once, so rows are dealt into local temporary
/// files (bounded memory, one write buffer per part) that are stored once the input is read.
async fn partition(
    ctx: &mut RunContext,
    lines: &mut Lines,
    separator: &str,
    count: usize,
    extension: &str,
) -> Result<Vec<String>, TaskError> {
    let local = |error: std::io::Error| {
        TaskError::Failed(format!("failed to use a local temporary file: {error}"))
    };
    let dir = tempfile::tempdir().map_err(local)?;
    let mut parts = Vec::new();
    let mut row = Vec::new();
    let mut index = 0;
    while lines.next_into(&mut row).await? {
        if index == parts.len() {
            // Parts are created as rows come, so a small file opens no more files than rows.
            let path = dir.path().join(format!("part-{index}"));
            let file = tokio::fs::File::create(&path).await.map_err(local)?;
            parts.push((path, BufWriter::new(file)));
        }
        let part = &mut parts[index].1;
        part.write_all(&row).await.map_err(local)?;
        part.write_all(separator.as_bytes()).await.map_err(local)?;
        index = (index + 1) % count;
    }
    let mut uris = Vec::with_capacity(parts.len());
    for (path, mut part) in parts {
        part.flush().await.map_err(local)?;
        drop(part);
        let uri = ctx.new_file_uri(extension);
        ctx.storage()
            .put_file(&uri, &path)
            .await
            .map_err(TaskError::failed)?;
        uris.push(uri);
    }
    Ok(uris)
}

/// `10MB`, `512KB`, `1GB` (1024-based, case-insensitive) or a plain number of bytes.
pub fn parse_bytes(text: &str) -> Result<u64, TaskError> {
    let upper = text.trim().to_ascii_uppercase();
    let (number, factor) = [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
        .iter()
        .find_map(|(unit, factor)| upper.strip_suffix(unit).map(|n| (n.trim().to_owned(), *factor)))
        .unwrap_or((upper.clone(), 1));
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            TaskError::Failed(format!("invalid `bytes` \"{text}\": expected e.g. 10MB, 512KB or 1024"))
        })
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Split",
    aliases: [
        "io.kestra.core.tasks.storages.Split",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Split a file into several.",
    slots: [],
    params: Params,
    runnable: Split,
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::{Value, json};

    const TYPE: &str = "io.kestra.plugin.core.storage.Split";

    /// The contents of the parts `Split` cuts `content` into.
    async fn split(content: &str, mut props: Value) -> Vec<String> {
        let env = env();
        env.storage.put("kestra:///x/a.txt", content.into()).await.unwrap();
        props["from"] = json!("kestra:///x/a.txt");
        let outcome = run(&env, TYPE, props, json!({})).await.unwrap();
        let uris = outcome.outputs["uris"].as_array().unwrap();
        uris.iter()
            .map(|uri| String::from_utf8(env.storage.get_now(uri.as_str().unwrap()).unwrap()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn splitting_rules() {
        let rows = "a\nb\nc\nd\ne\n";
        assert_eq!(split(rows, json!({"rows": 2})).await, ["a\nb\n", "c\nd\n", "e\n"]);
        assert_eq!(split(rows, json!({"partitions": 2})).await, ["a\nc\ne\n", "b\nd\n"]);
        assert_eq!(split(rows, json!({"bytes": "4", "separator": ";"})).await, ["a;b;", "c;d;", "e;"]);
        // Rows are lines (any line ending, as Java's readLine); the separator ends written rows.
        assert_eq!(split("a\r\nb\rc", json!({"rows": 5, "separator": "|"})).await, ["a|b|c|"]);
        // No empty part: fewer rows than partitions, or an empty file.
        assert_eq!(split("a\n", json!({"partitions": 3})).await, ["a\n"]);
        assert!(split("", json!({"rows": 1})).await.is_empty());
        assert!(split("", json!({"partitions": 2})).await.is_empty());
        assert_eq!(parse_bytes("10MB").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("ten").is_err());
    }

    #[tokio::test]
    async fn splits_a_file_into_parts() {
        let env = env();
        env.storage.put("kestra:///x/a.csv", b"1\n2\n3\n".to_vec()).await.unwrap();
        let outcome = run(&env, TYPE, json!({"from": "kestra:///x/a.csv", "rows": 2}), json!({}))
            .await
            .unwrap();
        let uris = outcome.outputs["uris"].as_array().unwrap();
        assert_eq!(uris.len(), 2);
        assert_eq!(env.storage.get_now(uris[1].as_str().unwrap()).unwrap(), b"3\n");
        assert!(uris[0].as_str().unwrap().ends_with(".csv"));
        let error = run(&env, TYPE, json!({"from": "kestra:///x/a.csv"}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("exactly one of"), "{error}");
    }
}

//! `io.kestra.plugin.core.storage.Split`: splits an internal-storage file by size, rows or number of partitions.

use saker_task::prelude::*;

use crate::shared::extension_of;

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
        let text = ctx.read_text(&from).await?;
        let mut rows: Vec<&str> = text.split(separator.as_str()).collect();
        if rows.last() == Some(&"") {
            rows.pop();
        }
        let parts = split_rows(&rows, &separator, how);
        let mut uris = Vec::with_capacity(parts.len());
        for part in parts {
            let uri = ctx.put_file(extension_of(&from), part.into_bytes()).await?;
            uris.push(Value::String(uri));
        }
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

/// Each row is written followed by the separator. `Partitions` deals rows round-robin;
/// `Bytes` starts a new part once the current one reached the size.
pub fn split_rows(rows: &[&str], separator: &str, how: By) -> Vec<String> {
    let row = |text: &str| format!("{text}{separator}");
    match how {
        By::Rows(n) => rows.chunks(n).map(|chunk| chunk.iter().map(|r| row(r)).collect()).collect(),
        By::Partitions(n) => {
            let mut parts = vec![String::new(); n.min(rows.len().max(1))];
            let count = parts.len();
            for (i, text) in rows.iter().enumerate() {
                parts[i % count].push_str(&row(text));
            }
            parts.retain(|part| !part.is_empty());
            parts
        }
        By::Bytes(limit) => {
            let mut parts = vec![String::new()];
            for text in rows {
                let current = parts.last_mut().expect("parts starts non-empty");
                current.push_str(&row(text));
                if current.len() as u64 >= limit {
                    parts.push(String::new());
                }
            }
            parts.retain(|part| !part.is_empty());
            parts
        }
    }
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
    use super::{By, parse_bytes, split_rows};
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    #[test]
    fn splitting_rules() {
        let rows = ["a", "b", "c", "d", "e"];
        assert_eq!(split_rows(&rows, "\n", By::Rows(2)), ["a\nb\n", "c\nd\n", "e\n"]);
        assert_eq!(split_rows(&rows, "\n", By::Partitions(2)), ["a\nc\ne\n", "b\nd\n"]);
        assert_eq!(split_rows(&rows, ";", By::Bytes(4)), ["a;b;", "c;d;", "e;"]);
        assert_eq!(parse_bytes("10MB").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("ten").is_err());
    }

    #[tokio::test]
    async fn splits_a_file_into_parts() {
        let env = env();
        env.storage.put("kestra:///x/a.csv", b"1\n2\n3\n".to_vec()).await.unwrap();
        let ty = "io.kestra.plugin.core.storage.Split";
        let outcome = run(&env, ty, json!({"from": "kestra:///x/a.csv", "rows": 2}), json!({}))
            .await
            .unwrap();
        let uris = outcome.outputs["uris"].as_array().unwrap();
        assert_eq!(uris.len(), 2);
        assert_eq!(env.storage.get_now(uris[1].as_str().unwrap()).unwrap(), b"3\n");
        assert!(uris[0].as_str().unwrap().ends_with(".csv"));
        let error = run(&env, ty, json!({"from": "kestra:///x/a.csv"}), json!({})).await.unwrap_err();
        assert!(error.to_string().contains("exactly one of"), "{error}");
    }
}

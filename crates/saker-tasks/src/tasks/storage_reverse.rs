//! `io.kestra.plugin.core.storage.Reverse`: writes the lines of a file in reverse order.

use saker_task::prelude::*;

use std::io::SeekFrom;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::shared::{Lines, extension_of, stream_into, write_parts};

/// Properties of `Reverse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub from: Property<String>,
    /// Line separator (default `\n`).
    pub separator: Option<Property<String>>,
    /// Charset (default `UTF-8`).
    pub charset: Option<Property<String>>,
}

/// Runs `storage.Reverse`.
pub struct Reverse;

impl RunnableTask for Reverse {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let from = ctx.render_property(&params.from)?;
        let separator = ctx
            .render_opt(&params.separator)?
            .unwrap_or_else(|| "\n".to_owned());
        check_charset(ctx.render_opt(&params.charset)?)?;
        // Storage can only be read forwards, so the lines are spilled to an anonymous local
        // file, each followed by its length, then read back from the end in blocks: memory
        // stays at one block plus the longest line however big the file. (Keeping the lengths
        // instead of searching the separators backwards reads the lines exactly as the forward
        // pass cut them.)
        let mut lines = Lines::open(ctx, &from).await?;
        let spill = tempfile::tempfile().map_err(spill_error)?;
        let mut spill = BufWriter::with_capacity(BLOCK, tokio::fs::File::from_std(spill));
        let mut line = Vec::new();
        while lines.next_into(&mut line).await? {
            spill.write_all(&line).await.map_err(spill_error)?;
            spill
                .write_all(&(line.len() as u64).to_le_bytes())
                .await
                .map_err(spill_error)?;
        }
        spill.flush().await.map_err(spill_error)?;
        let mut backwards = Backwards::new(spill.into_inner()).await?;
        let uri = ctx.new_file_uri(extension_of(&from));
        stream_into(ctx.storage(), &uri, async |out| {
            let mut length = Vec::new();
            while backwards.remaining() > 0 {
                backwards.take(8, &mut length).await?;
                let length = u64::from_le_bytes(length.as_slice().try_into().expect("8 bytes"));
                backwards.take(length, &mut line).await?;
                write_parts(out, &[&line, separator.as_bytes()]).await?;
            }
            Ok(())
        })
        .await?;
        Ok(TaskOutcome::empty().with("uri", uri))
    }
}

/// Size of the blocks read backwards from the spill file (and of its write buffer).
const BLOCK: usize = 64 * 1024;

fn spill_error(error: std::io::Error) -> TaskError {
    TaskError::Failed(format!("failed to use a local temporary file: {error}"))
}

/// Reads a local file from its end towards its start.
struct Backwards {
    file: tokio::fs::File,
    /// File offset of `buf[0]`; everything from there on was read into `buf` or taken.
    start: u64,
    /// Bytes read but not taken yet, in file order.
    buf: Vec<u8>,
}

impl Backwards {
    async fn new(mut file: tokio::fs::File) -> Result<Self, TaskError> {
        let start = file.seek(SeekFrom::End(0)).await.map_err(spill_error)?;
        Ok(Backwards {
            file,
            start,
            buf: Vec::new(),
        })
    }

    /// Bytes not taken yet.
    fn remaining(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Takes the last `n` bytes not taken yet into `out` (replaced), reading blocks from the
    /// file as needed.
    async fn take(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), TaskError> {
        if n > self.remaining() {
            return Err(TaskError::failed("the temporary file of `Reverse` is truncated"));
        }
        let n = n as usize;
        if self.buf.len() < n {
            let missing = n - self.buf.len();
            let want = (missing.max(BLOCK) as u64).min(self.start);
            self.start -= want;
            let mut block = vec![0; want as usize];
            self.file
                .seek(SeekFrom::Start(self.start))
                .await
                .map_err(spill_error)?;
            self.file.read_exact(&mut block).await.map_err(spill_error)?;
            block.extend_from_slice(&self.buf);
            self.buf = block;
        }
        let at = self.buf.len() - n;
        out.clear();
        out.extend_from_slice(&self.buf[at..]);
        self.buf.truncate(at);
        Ok(())
    }
}

/// Only UTF-8 is supported; other charsets fail clearly instead of corrupting text.
fn check_charset(charset: Option<String>) -> Result<(), TaskError> {
    match charset {
        Some(charset) if !matches!(charset.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8") => {
            Err(TaskError::Failed(format!(
                "unsupported charset '{charset}': only UTF-8 is supported"
            )))
        }
        _ => Ok(()),
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Reverse",
    aliases: [
        "io.kestra.core.tasks.storages.Reverse",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Reverse the lines of a file.",
    slots: [],
    params: Params,
    runnable: Reverse,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    #[tokio::test]
    async fn reverses_lines_and_keeps_the_extension() {
        let env = env();
        env.storage.put("kestra:///x/a.csv", b"1\n2\n3\n".to_vec()).await.unwrap();
        let ty = "io.kestra.plugin.core.storage.Reverse";
        let outcome = run(&env, ty, json!({"from": "kestra:///x/a.csv"}), json!({})).await.unwrap();
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with(".csv"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"3\n2\n1\n");
        let error = run(&env, ty, json!({"from": "kestra:///x/a.csv", "charset": "latin1"}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("latin1"), "{error}");
    }

    #[tokio::test]
    async fn lines_longer_than_a_block_and_any_line_ending() {
        let env = env();
        // A line longer than the blocks read backwards, between `\r\n`, `\r` and `\n` endings.
        let long = "x".repeat(super::BLOCK * 2 + 3);
        let input = format!("a\r\n{long}\rb\n\nc");
        env.storage.put("kestra:///x/in", input.into_bytes()).await.unwrap();
        let ty = "io.kestra.plugin.core.storage.Reverse";
        let props = json!({"from": "kestra:///x/in", "separator": ";"});
        let outcome = run(&env, ty, props, json!({})).await.unwrap();
        let reversed = env.storage.get_now(outcome.outputs["uri"].as_str().unwrap()).unwrap();
        assert_eq!(String::from_utf8(reversed).unwrap(), format!("c;;b;{long};a;"));
    }
}

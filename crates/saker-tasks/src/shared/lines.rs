//! Streaming line files for the storage tasks (`Split`, `Reverse`, `FilterItems`,
//! `DeduplicateItems`, ForEachItem's split step): the input is read one line at a time from
//! internal storage and the output streamed into new storage files as it is produced, so memory
//! is bounded by a few buffers and the longest line, whatever the file size.

use saker_task::prelude::*;
use saker_task::storage::{Reader, Storage, check_uri};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter, DuplexStream};

/// Size of the read buffer, of the in-memory pipe to storage and of the write buffer.
const BUFFER: usize = 64 * 1024;

/// The lines of an internal-storage file, read as Java's `BufferedReader.readLine` (which
/// Kestra's storage tasks use) reads them: `\n`, `\r\n` or a lone `\r` ends a line, and a
/// last line without terminator still counts.
pub struct Lines {
    reader: BufReader<Reader>,
    uri: String,
    number: u64,
    /// The previous line ended with `\r`: a `\n` right after belongs to it.
    skip_lf: bool,
}

impl Lines {
    /// Opens the file `uri` ([`check_uri`] first, so a bad URI is a clear error).
    pub async fn open(ctx: &RunContext, uri: &str) -> Result<Lines, TaskError> {
        check_uri(uri).map_err(TaskError::failed)?;
        let reader = ctx.storage().open(uri).await.map_err(TaskError::failed)?;
        Ok(Lines {
            reader: BufReader::with_capacity(BUFFER, reader),
            uri: uri.to_owned(),
            number: 0,
            skip_lf: false,
        })
    }

    /// Reads the next line, without its terminator, into `line` (cleared first); `false` at
    /// the end of the file.
    pub async fn next_into(&mut self, line: &mut Vec<u8>) -> Result<bool, TaskError> {
        line.clear();
        let mut started = false;
        loop {
            let uri = &self.uri;
            let buf =
                self.reader.fill_buf().await.map_err(|error| {
                    TaskError::Failed(format!("failed to read '{uri}': {error}"))
                })?;
            if buf.is_empty() {
                if started {
                    self.number += 1;
                }
                return Ok(started);
            }
            if std::mem::take(&mut self.skip_lf) && buf[0] == b'\n' {
                self.reader.consume(1);
                continue;
            }
            match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    line.extend_from_slice(&buf[..end]);
                    self.skip_lf = buf[end] == b'\r';
                    self.reader.consume(end + 1);
                    self.number += 1;
                    return Ok(true);
                }
                None => {
                    line.extend_from_slice(buf);
                    let len = buf.len();
                    self.reader.consume(len);
                    started = true;
                }
            }
        }
    }

    /// The 1-based number of the line last read.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// `line` (the one last read) as text; invalid UTF-8 is an error naming the line.
    pub fn text<'l>(&self, line: &'l [u8]) -> Result<&'l str, TaskError> {
        std::str::from_utf8(line).map_err(|_| {
            TaskError::Failed(format!(
                "line {} of '{}' is not valid UTF-8 text",
                self.number, self.uri
            ))
        })
    }
}

/// Where a task writes a file being streamed into storage (see [`stream_into`]).
pub type Sink = BufWriter<DuplexStream>;

/// Writes `parts` one after the other into `sink`.
pub async fn write_parts(sink: &mut Sink, parts: &[&[u8]]) -> Result<(), TaskError> {
    for part in parts {
        sink.write_all(part).await.map_err(write_error)?;
    }
    Ok(())
}

fn write_error(error: std::io::Error) -> TaskError {
    TaskError::Failed(format!("failed to write to internal storage: {error}"))
}

/// Runs `produce`, streaming what it writes into its sink to the new storage file `uri` while
/// it runs (an in-memory pipe of [`BUFFER`] bytes between the two, so neither side ever holds
/// the file). When `produce` fails the partial file is deleted and its error returned; when
/// storage fails, its error wins (the producer then only saw a closed pipe).
pub async fn stream_into<T>(
    storage: &dyn Storage,
    uri: &str,
    produce: impl AsyncFnOnce(&mut Sink) -> Result<T, TaskError>,
) -> Result<T, TaskError> {
    let (writer, reader) = tokio::io::duplex(BUFFER);
    let producing = async move {
        let mut sink = BufWriter::with_capacity(BUFFER, writer);
        let value = produce(&mut sink).await?;
        // Flushes the buffer and closes the pipe: storage then sees the end of the file.
        sink.shutdown().await.map_err(write_error)?;
        Ok(value)
    };
    let (produced, stored) = tokio::join!(producing, storage.put_stream(uri, Box::new(reader)));
    match (produced, stored) {
        (_, Err(error)) => Err(TaskError::failed(error)),
        (Err(error), Ok(_)) => {
            // Best effort: the task fails with `error` either way.
            let _ = storage.delete(uri).await;
            Err(error)
        }
        (Ok(value), Ok(_)) => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_task::memory::test_info;
    use serde_json::json;

    async fn lines_of(content: &[u8]) -> Vec<String> {
        let env = crate::test_support::env();
        env.storage
            .put("kestra:///x/in.txt", content.to_vec())
            .await
            .unwrap();
        let ctx = env.context(test_info("t", "x"), json!({}));
        let mut lines = Lines::open(&ctx, "kestra:///x/in.txt").await.unwrap();
        let (mut line, mut out) = (Vec::new(), Vec::new());
        while lines.next_into(&mut line).await.unwrap() {
            out.push(format!("{}:{}", lines.number(), lines.text(&line).unwrap()));
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_like_java_read_line() {
        assert_eq!(
            lines_of(b"a\nb\r\nc\rd").await,
            ["1:a", "2:b", "3:c", "4:d"]
        );
        assert_eq!(lines_of(b"\n\nx\n").await, ["1:", "2:", "3:x"]);
        assert_eq!(lines_of(b"a\r\r\nb").await, ["1:a", "2:", "3:b"]);
        assert!(lines_of(b"").await.is_empty());
        // A line longer than the read buffer, and `\r\n` cut across two buffer fills.
        let mut long = vec![b'x'; BUFFER - 1];
        long.extend_from_slice(b"\r\ny");
        let lines = lines_of(&long).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), BUFFER + 1);
        assert_eq!(lines[1], "2:y");
    }

    #[tokio::test]
    async fn a_failed_producer_leaves_no_file() {
        let env = crate::test_support::env();
        let result: Result<(), TaskError> =
            stream_into(&*env.storage, "kestra:///x/out.txt", async |sink| {
                write_parts(sink, &[b"partial"]).await?;
                Err(TaskError::failed("bad item"))
            })
            .await;
        assert_eq!(result.unwrap_err().to_string(), "bad item");
        assert!(env.storage.uris().is_empty());
        let size = stream_into(&*env.storage, "kestra:///x/out.txt", async |sink| {
            write_parts(sink, &[b"a", b"b"]).await.map(|()| 2)
        })
        .await;
        assert_eq!(size.unwrap(), 2);
        assert_eq!(env.storage.get_now("kestra:///x/out.txt").unwrap(), b"ab");
    }
}

//! The storage tasks stream: their peak memory stays far below the size of the files they
//! read and write. `Concat` runs on local internal storage; `Split`, `Reverse`, `FilterItems`
//! and `DeduplicateItems` run on [`Generated`] storage, whose input files are produced on the
//! fly and whose output files are only checksummed, so the process's peak RSS (`VmHWM`) grows
//! only by what the task itself holds, and which refuses whole-file reads and writes. The tests
//! of this binary take turns (a lock) so each growth is its own.
//!
//! `one_gib_through_the_storage_tasks` (ignored: a few minutes in a debug build) does the same
//! over 1 GiB inputs; run it with `cargo nextest run -p saker-tasks --run-ignored only
//! one_gib` and see the growths it prints.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use saker_task::RunContext;
use saker_task::memory::{MemoryEnv, test_info};
use saker_task::storage::{FileInfo, Reader, Storage, StorageError};
use saker_task::task::BoxFuture;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Only one test of this binary measures at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs the task `ty` with `params` on `storage`; returns its outputs and the growth of the
/// peak RSS meanwhile, in MiB.
async fn run_measured(storage: Arc<dyn Storage>, ty: &str, params: Value) -> (Value, u64) {
    let now = saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap();
    let env = MemoryEnv::new(now);
    let mut services = env.services();
    services.storage = storage;
    let info = test_info("task", ty);
    let variables = Value::Object(saker_task::context::base_variables(&info, now));
    let mut ctx = RunContext::new(info, variables, services, Default::default());
    let before = peak_rss_kb();
    let outcome = saker_tasks::registry()
        .runnable(ty)
        .unwrap()
        .run(params.as_object().unwrap(), &mut ctx)
        .await
        .unwrap_or_else(|error| panic!("{ty} failed: {error}"));
    let growth_mb = (peak_rss_kb() - before) / 1024;
    (Value::Object(outcome.outputs), growth_mb)
}

/// Size and FNV-1a hash of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest {
    size: u64,
    hash: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            size: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Digest {
    fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        for byte in bytes {
            self.hash = (self.hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Adds everything `reader` yields.
    async fn add_stream(&mut self, mut reader: impl AsyncRead + Unpin) -> std::io::Result<()> {
        let mut buf = vec![0; 64 << 10];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            self.update(&buf[..n]);
        }
    }

    /// The digest of `lines`, each followed by `\n`.
    fn of_lines(lines: impl Iterator<Item = String>) -> Digest {
        let mut digest = Digest::default();
        for line in lines {
            digest.update(line.as_bytes());
            digest.update(b"\n");
        }
        digest
    }
}

/// The content of a generated file: `count` lines, line `i` being `line(i)` then `\n`.
#[derive(Clone, Copy)]
struct Lines {
    count: u64,
    line: fn(u64) -> String,
}

/// Generates the bytes of [`Lines`] as they are read.
struct LinesReader {
    lines: Lines,
    next: u64,
    pending: Vec<u8>,
    offset: usize,
}

impl AsyncRead for LinesReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while buf.remaining() > 0 {
            if this.offset == this.pending.len() {
                if this.next == this.lines.count {
                    break;
                }
                this.pending = (this.lines.line)(this.next).into_bytes();
                this.pending.push(b'\n');
                this.offset = 0;
                this.next += 1;
            }
            let n = buf.remaining().min(this.pending.len() - this.offset);
            buf.put_slice(&this.pending[this.offset..this.offset + n]);
            this.offset += n;
        }
        Poll::Ready(Ok(()))
    }
}

/// Internal storage whose inputs are generated and whose outputs are only digested: nothing
/// it holds grows with the files. `get` and `put` (whole files in memory) are refused.
#[derive(Default)]
struct Generated {
    inputs: Mutex<BTreeMap<String, Lines>>,
    outputs: Mutex<BTreeMap<String, Digest>>,
}

impl Generated {
    fn with_input(uri: &str, lines: Lines) -> Arc<Generated> {
        let storage = Generated::default();
        storage.inputs.lock().unwrap().insert(uri.to_owned(), lines);
        Arc::new(storage)
    }

    fn digest(&self, uri: &Value) -> Digest {
        let uri = uri.as_str().unwrap();
        self.outputs.lock().unwrap()[uri]
    }

    async fn digest_stream(reader: impl AsyncRead + Unpin) -> std::io::Result<Digest> {
        let mut digest = Digest::default();
        digest.add_stream(reader).await?;
        Ok(digest)
    }
}

fn refused(what: &str) -> StorageError {
    StorageError::Backend(format!("{what} refused: this test storage only streams"))
}

fn backend(error: std::io::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl Storage for Generated {
    fn put<'a>(&'a self, _: &'a str, _: Vec<u8>) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Err(refused("put")) })
    }

    fn get<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async { Err(refused("get")) })
    }

    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            Ok(self.inputs.lock().unwrap().contains_key(uri)
                || self.outputs.lock().unwrap().contains_key(uri))
        })
    }

    fn size<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let outputs = self.outputs.lock().unwrap();
            let digest = outputs.get(uri).ok_or_else(|| StorageError::NotFound {
                uri: uri.to_owned(),
            })?;
            Ok(digest.size)
        })
    }

    fn delete<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move { Ok(self.outputs.lock().unwrap().remove(uri).is_some()) })
    }

    fn delete_by_prefix<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async { Err(refused("delete_by_prefix")) })
    }

    fn list<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<FileInfo>, StorageError>> {
        Box::pin(async { Err(refused("list")) })
    }

    fn put_file<'a>(
        &'a self,
        uri: &'a str,
        source: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(source).await.map_err(backend)?;
            let digest = Self::digest_stream(file).await.map_err(backend)?;
            self.outputs.lock().unwrap().insert(uri.to_owned(), digest);
            Ok(digest.size)
        })
    }

    fn put_stream<'a>(
        &'a self,
        uri: &'a str,
        reader: Reader,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let digest = Self::digest_stream(reader).await.map_err(backend)?;
            self.outputs.lock().unwrap().insert(uri.to_owned(), digest);
            Ok(digest.size)
        })
    }

    fn open<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Reader, StorageError>> {
        Box::pin(async move {
            let lines =
                *self
                    .inputs
                    .lock()
                    .unwrap()
                    .get(uri)
                    .ok_or_else(|| StorageError::NotFound {
                        uri: uri.to_owned(),
                    })?;
            let reader = LinesReader {
                lines,
                next: 0,
                pending: Vec::new(),
                offset: 0,
            };
            Ok(Box::new(reader) as Reader)
        })
    }
}

/// How much the tasks may grow the peak RSS, in MiB; every input is several times bigger.
const BOUND_MB: u64 = 16;

const INPUT: &str = "kestra:///big/input.ion";

/// About 1 KiB per line.
fn text_line(i: u64) -> String {
    format!("{i:>10} {}", "abcdefghijklmnopqrstuvwxyz".repeat(39))
}

/// An ION item of about 1 KiB: 64 distinct keys, one item in three kept by `{{ keep }}`.
fn item_line(i: u64) -> String {
    format!(
        "{{id:{i},key:\"k{}\",keep:{},pad:\"{}\"}}",
        i % 64,
        i.is_multiple_of(3),
        "x".repeat(1000)
    )
}

/// Lines of about 1 KiB: `mib` MiB.
fn lines_of(mib: u64, line: fn(u64) -> String) -> Lines {
    Lines {
        count: mib << 10,
        line,
    }
}

fn check_bound(task: &str, size_mb: u64, growth_mb: u64) {
    eprintln!("{task} over {size_mb} MiB: peak RSS growth {growth_mb} MiB");
    assert!(
        growth_mb < BOUND_MB,
        "{task}: peak RSS grew by {growth_mb} MiB"
    );
}

async fn split_by_rows(mib: u64) {
    let input = lines_of(mib, text_line);
    let storage = Generated::with_input(INPUT, input);
    let rows = input.count / 4 + 1;
    let ty = "io.kestra.plugin.core.storage.Split";
    let (outputs, growth) =
        run_measured(storage.clone(), ty, json!({"from": INPUT, "rows": rows})).await;
    let uris = outputs["uris"].as_array().unwrap();
    assert_eq!(uris.len(), 4);
    for (part, uri) in uris.iter().enumerate() {
        let first = part as u64 * rows;
        let expected = Digest::of_lines((first..(first + rows).min(input.count)).map(text_line));
        assert_eq!(storage.digest(uri), expected, "part {part}");
    }
    check_bound("Split (rows)", mib, growth);
}

async fn split_by_partitions(mib: u64) {
    let input = lines_of(mib, text_line);
    let storage = Generated::with_input(INPUT, input);
    let ty = "io.kestra.plugin.core.storage.Split";
    let (outputs, growth) =
        run_measured(storage.clone(), ty, json!({"from": INPUT, "partitions": 3})).await;
    let uris = outputs["uris"].as_array().unwrap();
    assert_eq!(uris.len(), 3);
    for (part, uri) in uris.iter().enumerate() {
        let rows = (part as u64..input.count).step_by(3);
        assert_eq!(
            storage.digest(uri),
            Digest::of_lines(rows.map(text_line)),
            "part {part}"
        );
    }
    check_bound("Split (partitions)", mib, growth);
}

async fn reverse(mib: u64) {
    let input = lines_of(mib, text_line);
    let storage = Generated::with_input(INPUT, input);
    let ty = "io.kestra.plugin.core.storage.Reverse";
    let (outputs, growth) = run_measured(storage.clone(), ty, json!({"from": INPUT})).await;
    let expected = Digest::of_lines((0..input.count).rev().map(text_line));
    assert_eq!(storage.digest(&outputs["uri"]), expected);
    check_bound("Reverse", mib, growth);
}

async fn filter_items(mib: u64) {
    let input = lines_of(mib, item_line);
    let storage = Generated::with_input(INPUT, input);
    let ty = "io.kestra.plugin.core.storage.FilterItems";
    let params = json!({"from": INPUT, "filterCondition": "{{ keep }}"});
    let (outputs, growth) = run_measured(storage.clone(), ty, params).await;
    let kept = (0..input.count).filter(|i| i.is_multiple_of(3));
    assert_eq!(
        storage.digest(&outputs["uri"]),
        Digest::of_lines(kept.map(item_line))
    );
    assert_eq!(outputs["processedItemsTotal"], input.count);
    assert_eq!(
        outputs["droppedItemsTotal"],
        input.count - input.count.div_ceil(3)
    );
    check_bound("FilterItems", mib, growth);
}

async fn deduplicate_items(mib: u64) {
    let input = lines_of(mib, item_line);
    let storage = Generated::with_input(INPUT, input);
    let ty = "io.kestra.plugin.core.storage.DeduplicateItems";
    let params = json!({"from": INPUT, "expr": "{{ key }}"});
    let (outputs, growth) = run_measured(storage.clone(), ty, params).await;
    // The last item of each of the 64 keys: the last 64 items.
    let last = (input.count - 64)..input.count;
    assert_eq!(
        storage.digest(&outputs["uri"]),
        Digest::of_lines(last.map(item_line))
    );
    assert_eq!(outputs["numKeys"], 64);
    assert_eq!(outputs["droppedItemsTotal"], input.count - 64);
    check_bound("DeduplicateItems", mib, growth);
}

/// Inputs of the CI tests: several times [`BOUND_MB`], small enough for a debug build (items
/// are parsed and rendered one by one, which is slower than cutting lines).
const CI_MIB: u64 = 128;
const CI_ITEMS_MIB: u64 = 64;

#[tokio::test]
async fn split_by_rows_streams() {
    let _turn = TURN.lock().await;
    split_by_rows(CI_MIB).await;
}

#[tokio::test]
async fn split_by_partitions_streams() {
    let _turn = TURN.lock().await;
    split_by_partitions(CI_MIB).await;
}

#[tokio::test]
async fn reverse_streams() {
    let _turn = TURN.lock().await;
    reverse(CI_MIB).await;
}

#[tokio::test]
async fn filter_items_streams() {
    let _turn = TURN.lock().await;
    filter_items(CI_ITEMS_MIB).await;
}

#[tokio::test]
async fn deduplicate_items_streams() {
    let _turn = TURN.lock().await;
    deduplicate_items(CI_ITEMS_MIB).await;
}

#[tokio::test]
#[ignore = "1 GiB per task: minutes in a debug build"]
async fn one_gib_through_the_storage_tasks() {
    let _turn = TURN.lock().await;
    split_by_rows(1 << 10).await;
    split_by_partitions(1 << 10).await;
    reverse(1 << 10).await;
    filter_items(1 << 10).await;
    deduplicate_items(1 << 10).await;
}

/// The tasks on S3 (moto): the producer and the multipart upload run side by side through
/// `put_stream`. 24 MiB of items: several 8 MiB parts in and out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_tasks_stream_on_s3() {
    let _turn = TURN.lock().await;
    let moto = saker_storage::moto::Moto::start();
    let s3 = saker_storage::S3Storage::new(moto.bucket("saker-tasks", None)).unwrap();
    let storage = Arc::new(s3);
    let input = lines_of(24, item_line);
    let reader = LinesReader {
        lines: input,
        next: 0,
        pending: Vec::new(),
        offset: 0,
    };
    storage.put_stream(INPUT, Box::new(reader)).await.unwrap();
    let digest = async |uri: &Value| {
        let reader = storage.open(uri.as_str().unwrap()).await.unwrap();
        Generated::digest_stream(reader).await.unwrap()
    };

    let ty = "io.kestra.plugin.core.storage.FilterItems";
    let params = json!({"from": INPUT, "filterCondition": "{{ keep }}"});
    let (outputs, growth) = run_measured(storage.clone(), ty, params).await;
    let kept = (0..input.count).filter(|i| i.is_multiple_of(3));
    assert_eq!(
        digest(&outputs["uri"]).await,
        Digest::of_lines(kept.map(item_line))
    );
    eprintln!("FilterItems over 24 MiB on S3: peak RSS growth {growth} MiB");

    let ty = "io.kestra.plugin.core.storage.Reverse";
    let (outputs, growth) = run_measured(storage.clone(), ty, json!({"from": INPUT})).await;
    let reversed = (0..input.count).rev().map(item_line);
    assert_eq!(digest(&outputs["uri"]).await, Digest::of_lines(reversed));
    eprintln!("Reverse over 24 MiB on S3: peak RSS growth {growth} MiB");

    let ty = "io.kestra.plugin.core.storage.Split";
    let params = json!({"from": INPUT, "bytes": "10MB"});
    let (outputs, _) = run_measured(storage.clone(), ty, params).await;
    let uris = outputs["uris"].as_array().unwrap();
    assert_eq!(uris.len(), 3, "{uris:?}");
    let mut whole = Digest::default();
    for uri in uris {
        let reader = storage.open(uri.as_str().unwrap()).await.unwrap();
        whole.add_stream(reader).await.unwrap();
    }
    assert_eq!(whole, Digest::of_lines((0..input.count).map(item_line)));
}

#[tokio::test]
async fn concat_streams_big_files_with_flat_memory() {
    use tokio::io::AsyncWriteExt;
    let _turn = TURN.lock().await;
    const SIZE: u64 = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(saker_storage::LocalStorage::new(dir.path().join("storage")));
    let source = dir.path().join("part.txt");
    {
        // Lines of varying bytes, written 1 MiB at a time.
        let mut file = tokio::fs::File::create(&source).await.unwrap();
        let mut block = vec![b'x'; 1 << 20];
        for i in 0..SIZE >> 20 {
            for (j, byte) in block.iter_mut().enumerate() {
                *byte = if j % 100 == 99 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                };
            }
            file.write_all(&block).await.unwrap();
        }
        file.flush().await.unwrap();
    }
    for name in ["a", "b"] {
        let uri = format!("kestra:///big/{name}.txt");
        assert_eq!(storage.put_file(&uri, &source).await.unwrap(), SIZE);
    }
    std::fs::remove_file(&source).unwrap();
    let params = json!({
        "files": ["kestra:///big/a.txt", "kestra:///big/b.txt"],
        "separator": "--\n",
        "extension": ".txt",
    });
    let ty = "io.kestra.plugin.core.storage.Concat";
    let (outputs, growth_mb) = run_measured(storage.clone(), ty, params).await;
    let uri = outputs["uri"].as_str().unwrap();
    assert_eq!(storage.size(uri).await.unwrap(), 2 * SIZE + 3);
    eprintln!("Concat of 2 × 200 MiB: peak RSS growth {growth_mb} MiB");
    // Holding the files would add 400 MiB; streaming needs a few buffers.
    assert!(growth_mb < 64, "peak RSS grew by {growth_mb} MiB");
}

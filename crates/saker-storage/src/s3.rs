//! Internal storage in an S3-compatible bucket (AWS S3, MinIO, moto...) through `object_store`:
//! `kestra:///a/b/c.txt` is the object `<prefix>/a/b/c.txt`.
//!
//! URIs are checked segment by segment like on local disk (no `..`, `.` or empty segments), so
//! the key space outside the prefix is unreachable. Big files move in 8 MiB parts (multipart
//! upload, streamed download), never whole in memory.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use saker_task::storage::{FileInfo, Reader, SCHEME, check_uri};
use saker_task::task::BoxFuture;
use saker_task::{Storage, StorageError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::local::FileStore;

/// Part size of uploads: files smaller than this are sent in one request.
const PART: usize = 8 * 1024 * 1024;

/// How to reach the bucket (see `docs/storage.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Config {
    pub bucket: String,
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); AWS when absent.
    pub endpoint: Option<String>,
    /// Static credentials; without them the usual AWS chain applies (environment, profile
    /// web identity, instance metadata).
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), needed by MinIO and moto (default: true when
    /// an endpoint is given, else false).
    pub path_style: Option<bool>,
    /// Key prefix inside the bucket (default: none).
    pub prefix: Option<String>,
}

/// Files in an S3 bucket.
#[derive(Clone)]
pub struct S3Storage {
    config: S3Config,
    store: Arc<AmazonS3>,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.config.bucket)
            .field("endpoint", &self.config.endpoint)
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

fn io_backend(error: std::io::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

/// Undoes `object_store`'s percent-encoding of characters it does not allow in keys.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && text.is_char_boundary(i + 3)
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl S3Storage {
    /// Connects lazily: nothing is sent until the first call.
    pub fn new(config: S3Config) -> Result<Self, StorageError> {
        let store = Arc::new(Self::build(&config)?);
        Ok(S3Storage { config, store })
    }

    fn build(config: &S3Config) -> Result<AmazonS3, StorageError> {
        if config.bucket.is_empty() {
            return Err(StorageError::Backend(
                "S3 storage needs a bucket".to_owned(),
            ));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"));
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let path_style = config.path_style.unwrap_or(config.endpoint.is_some());
        builder = builder.with_virtual_hosted_style_request(!path_style);
        if let Some(key) = &config.access_key {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        builder
            .build()
            .map_err(|e| StorageError::Backend(format!("invalid S3 configuration: {e}")))
    }

    fn prefix(&self) -> String {
        self.config
            .prefix
            .as_deref()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
            .unwrap_or_default()
    }

    /// The key of `uri`, or [`StorageError::InvalidUri`] for anything but a plain relative path.
    pub fn key_of(&self, uri: &str) -> Result<Key, StorageError> {
        check_uri(uri)?;
        let rest = &uri[SCHEME.len() + 1..];
        for segment in rest.split('/') {
            if segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.contains(['\\', '\0'])
            {
                return Err(StorageError::InvalidUri {
                    uri: uri.to_owned(),
                });
            }
        }
        Ok(Key::from(format!("{}{rest}", self.prefix())))
    }

    fn uri_of(&self, key: &Key) -> String {
        let raw: &str = key.as_ref();
        let rest = raw.strip_prefix(&self.prefix()).unwrap_or(raw);
        format!("{SCHEME}/{}", decode(rest))
    }

    fn error(uri: &str, error: object_store::Error) -> StorageError {
        match error {
            object_store::Error::NotFound { .. } => StorageError::NotFound {
                uri: uri.to_owned(),
            },
            other => backend(other),
        }
    }

    /// The objects whose URI starts with `prefix` (a text prefix, as on local disk).
    async fn matching(&self, prefix: &str) -> Result<Vec<object_store::ObjectMeta>, StorageError> {
        check_uri(prefix)?;
        let dir = match prefix.rfind('/') {
            Some(slash) => &prefix[..=slash],
            None => prefix,
        };
        let listed_under = if dir.len() <= SCHEME.len() + 1 {
            let root = self.prefix();
            (!root.is_empty()).then(|| Key::from(root.trim_end_matches('/')))
        } else {
            Some(self.key_of(dir.trim_end_matches('/'))?)
        };
        let mut stream = self.store.list(listed_under.as_ref());
        let mut found = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(backend)?;
            if self.uri_of(&meta.location).starts_with(prefix) {
                found.push(meta);
            }
        }
        found.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(found)
    }

    async fn upload(&self, uri: &str, mut reader: Reader) -> Result<u64, StorageError> {
        let key = self.key_of(uri)?;
        let mut first = Vec::with_capacity(PART.min(64 * 1024));
        (&mut reader)
            .take(PART as u64)
            .read_to_end(&mut first)
            .await
            .map_err(io_backend)?;
        if first.len() < PART {
            let size = first.len() as u64;
            self.store
                .put(&key, PutPayload::from(first))
                .await
                .map_err(backend)?;
            return Ok(size);
        }
        let upload = self.store.put_multipart(&key).await.map_err(backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut size = first.len() as u64;
        writer.put(Bytes::from(first));
        let mut buffer = vec![0u8; 1024 * 1024];
        let result = async {
            loop {
                let read = reader.read(&mut buffer).await.map_err(io_backend)?;
                if read == 0 {
                    break;
                }
                // At most two parts in flight: bounded memory.
                writer.wait_for_capacity(2).await.map_err(backend)?;
                writer.write(&buffer[..read]);
                size += read as u64;
            }
            Ok::<_, StorageError>(())
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await.map_err(backend)?;
                Ok(size)
            }
            Err(error) => {
                let _ = writer.abort().await;
                Err(error)
            }
        }
    }

    async fn read_blocking_free(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        let key = self.key_of(uri)?;
        let result = self
            .store
            .get(&key)
            .await
            .map_err(|e| Self::error(uri, e))?;
        result
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| Self::error(uri, e))
    }
}

/// An `AsyncRead` over the chunks of an object.
struct ChunkReader {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.current.is_empty() {
            match self.stream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(error))) => {
                    return Poll::Ready(Err(std::io::Error::other(error)));
                }
                Poll::Ready(Some(Ok(bytes))) => self.current = bytes,
            }
        }
        let n = self.current.len().min(buf.remaining());
        let chunk = self.current.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl S3Storage {
    /// Runs `call` to completion from synchronous code (expression functions). On the
    /// multi-threaded runtime the current worker may block; elsewhere a private runtime and a
    /// fresh client do the call (a client's connections belong to the runtime that opened them).
    fn blocking<T: Send + 'static>(
        &self,
        uri: &str,
        call: for<'a> fn(&'a S3Storage, &'a str) -> BoxFuture<'a, Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(call(self, uri)))
            }
            _ => {
                let config = self.config.clone();
                let uri = uri.to_owned();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(io_backend)?;
                    let storage = S3Storage::new(config)?;
                    runtime.block_on(call(&storage, &uri))
                })
                .join()
                .map_err(|_| StorageError::Backend("S3 read thread panicked".to_owned()))?
            }
        }
    }
}

impl FileStore for S3Storage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        self.blocking(uri, |storage, uri| {
            Box::pin(storage.read_blocking_free(uri))
        })
    }

    fn size_now(&self, uri: &str) -> Result<u64, StorageError> {
        self.blocking(uri, |storage, uri| storage.size(uri))
    }
}

impl Storage for S3Storage {
    fn put<'a>(
        &'a self,
        uri: &'a str,
        content: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            if content.len() < PART {
                let key = self.key_of(uri)?;
                self.store
                    .put(&key, PutPayload::from(content))
                    .await
                    .map_err(backend)?;
                return Ok(());
            }
            self.upload(uri, Box::new(std::io::Cursor::new(content)))
                .await
                .map(drop)
        })
    }

    fn get<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(self.read_blocking_free(uri))
    }

    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let key = self.key_of(uri)?;
            match self.store.head(&key).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(error) => Err(backend(error)),
            }
        })
    }

    fn size<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let key = self.key_of(uri)?;
            self.store
                .head(&key)
                .await
                .map(|meta| meta.size)
                .map_err(|e| Self::error(uri, e))
        })
    }

    fn delete<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let key = self.key_of(uri)?;
            // S3 deletes are idempotent and say nothing about existence: ask first.
            match self.store.head(&key).await {
                Ok(_) => {}
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(backend(error)),
            }
            self.store.delete(&key).await.map_err(backend)?;
            Ok(true)
        })
    }

    fn delete_by_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let mut deleted = Vec::new();
            for meta in self.matching(prefix).await? {
                self.store.delete(&meta.location).await.map_err(backend)?;
                deleted.push(self.uri_of(&meta.location));
            }
            deleted.sort();
            Ok(deleted)
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<FileInfo>, StorageError>> {
        Box::pin(async move {
            let mut files: Vec<FileInfo> = self
                .matching(prefix)
                .await?
                .into_iter()
                .map(|meta| FileInfo {
                    uri: self.uri_of(&meta.location),
                    size: meta.size,
                    modified: Some(meta.last_modified),
                })
                .collect();
            files.sort_by(|a, b| a.uri.cmp(&b.uri));
            Ok(files)
        })
    }

    fn put_file<'a>(
        &'a self,
        uri: &'a str,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(source).await.map_err(io_backend)?;
            self.upload(uri, Box::new(file)).await
        })
    }

    fn put_stream<'a>(
        &'a self,
        uri: &'a str,
        reader: Reader,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(self.upload(uri, reader))
    }

    fn get_file<'a>(
        &'a self,
        uri: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let key = self.key_of(uri)?;
            let result = self
                .store
                .get(&key)
                .await
                .map_err(|e| Self::error(uri, e))?;
            let mut stream = result.into_stream();
            let mut file = tokio::fs::File::create(dest).await.map_err(io_backend)?;
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(backend)?;
                size += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(io_backend)?;
            }
            file.flush().await.map_err(io_backend)?;
            Ok(size)
        })
    }

    fn open<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Reader, StorageError>> {
        Box::pin(async move {
            let key = self.key_of(uri)?;
            let result = self
                .store
                .get(&key)
                .await
                .map_err(|e| Self::error(uri, e))?;
            Ok(Box::new(ChunkReader {
                stream: result.into_stream(),
                current: Bytes::new(),
            }) as Reader)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_uris_under_the_prefix_and_refuse_traversal() {
        let storage = S3Storage::new(S3Config {
            bucket: "b".into(),
            endpoint: Some("http://127.0.0.1:1".into()),
            prefix: Some("/saker/".into()),
            ..S3Config::default()
        })
        .unwrap();
        let key = storage.key_of("kestra:///ns/f/é x%.txt").unwrap();
        assert!(key.as_ref().starts_with("saker/ns/f/"));
        assert_eq!(storage.uri_of(&key), "kestra:///ns/f/é x%.txt");
        for bad in [
            "kestra:///../x",
            "kestra:///a//b",
            "kestra:///a/./b",
            "s3://b/x",
        ] {
            assert!(storage.key_of(bad).is_err(), "{bad}");
        }
        assert!(S3Storage::new(S3Config::default()).is_err());
    }
}

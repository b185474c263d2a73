//! Internal storage seen by tasks (spec §9): the [`Storage`] trait over `kestra:///…` URIs and
//! the URI layout helpers.

use std::path::Path;

use saker_core::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::task::BoxFuture;

/// The URI scheme prefix of internal-storage files (empty authority).
pub const SCHEME: &str = "kestra://";

/// Storage failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("Unable to find file '{uri}'")]
    NotFound { uri: String },
    #[error("invalid internal storage URI '{uri}': expected kestra:///…")]
    InvalidUri { uri: String },
    /// A problem of the backend.
    #[error("failed to access internal storage: {0}")]
    Backend(String),
}

/// One file listed by [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub uri: String,
    pub size: u64,
    /// Last modification, when the backend records one.
    pub modified: Option<Instant>,
}

/// A byte stream read from storage.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;

fn io_error(error: std::io::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

/// Access to internal storage by `kestra:///…` URI. The whole-file methods suit small files;
/// anything that may be big (script output files, downloads, uploads through the API) goes
/// through the streaming ones, which the disk and object-store backends implement without
/// holding the file in memory. Their default bodies buffer, which is right for in-memory
/// storage only.
pub trait Storage: Send + Sync {
    /// Writes (or replaces) a file.
    fn put<'a>(&'a self, uri: &'a str, content: Vec<u8>)
    -> BoxFuture<'a, Result<(), StorageError>>;

    /// Reads a file ([`StorageError::NotFound`] when absent).
    fn get<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StorageError>>;

    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Size in bytes ([`StorageError::NotFound`] when absent).
    fn size<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<u64, StorageError>>;

    /// Deletes a file; `true` if it existed.
    fn delete<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Deletes every file whose URI starts with `prefix`; returns their URIs, sorted.
    fn delete_by_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StorageError>>;

    /// Every file whose URI starts with `prefix`, sorted by URI.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<FileInfo>, StorageError>>;

    /// Stores the local file `source` under `uri`; returns its size.
    fn put_file<'a>(
        &'a self,
        uri: &'a str,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let bytes = tokio::fs::read(source).await.map_err(io_error)?;
            let size = bytes.len() as u64;
            self.put(uri, bytes).await?;
            Ok(size)
        })
    }

    /// Stores everything `reader` yields under `uri`; returns the size.
    fn put_stream<'a>(
        &'a self,
        uri: &'a str,
        mut reader: Reader,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).await.map_err(io_error)?;
            let size = bytes.len() as u64;
            self.put(uri, bytes).await?;
            Ok(size)
        })
    }

    /// Writes the file `uri` to the local path `dest` (replaced); returns its size.
    fn get_file<'a>(
        &'a self,
        uri: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let mut reader = self.open(uri).await?;
            let mut file = tokio::fs::File::create(dest).await.map_err(io_error)?;
            let size = tokio::io::copy(&mut reader, &mut file)
                .await
                .map_err(io_error)?;
            file.flush().await.map_err(io_error)?;
            Ok(size)
        })
    }

    /// A reader over the file `uri` ([`StorageError::NotFound`] when absent).
    fn open<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Reader, StorageError>> {
        Box::pin(async move {
            let bytes = self.get(uri).await?;
            Ok(Box::new(std::io::Cursor::new(bytes)) as Reader)
        })
    }
}

/// Checks that `uri` is an internal-storage URI (`kestra:///…`).
pub fn check_uri(uri: &str) -> Result<(), StorageError> {
    match uri.strip_prefix(SCHEME) {
        Some(path) if path.starts_with('/') && path.len() > 1 => Ok(()),
        _ => Err(StorageError::InvalidUri {
            uri: uri.to_owned(),
        }),
    }
}

/// Kestra's `Slugify.of`: lower-case ASCII letters and digits, every other run of characters
/// becomes one `-`, no leading or trailing `-`.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// `kestra:///<ns path>/<flow slug>/executions/<executionId>/` (trailing slash included).
pub fn execution_prefix(namespace: &str, flow_id: &str, execution_id: &str) -> String {
    format!(
        "{SCHEME}/{}/{}/executions/{execution_id}/",
        namespace.replace('.', "/"),
        slugify(flow_id)
    )
}

/// `…/executions/<executionId>/tasks/<task slug>/<taskRunId>/` (trailing slash included).
pub fn task_run_prefix(
    namespace: &str,
    flow_id: &str,
    execution_id: &str,
    task_id: &str,
    task_run_id: &str,
) -> String {
    format!(
        "{}tasks/{}/{task_run_id}/",
        execution_prefix(namespace, flow_id, execution_id),
        slugify(task_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(slugify("My_Flow id"), "my-flow-id");
        assert_eq!(
            task_run_prefix("company.team", "hello_world", "E1", "write_1", "T1"),
            "kestra:///company/team/hello-world/executions/E1/tasks/write-1/T1/"
        );
        assert!(check_uri("kestra:///a/b").is_ok());
        assert!(check_uri("file:///a").is_err());
        assert!(check_uri("kestra://").is_err());
    }
}

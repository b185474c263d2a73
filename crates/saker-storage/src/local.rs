//! Internal storage on local disk: `kestra:///a/b/c.txt` is the file `<base>/a/b/c.txt`.
//!
//! URIs are mapped segment by segment and any segment that could leave the base directory
//! (`..`, `.`, empty, or holding a path separator or NUL) is refused, so a URI taken from a flow
//! can never read or write outside the base.

use std::path::{Path, PathBuf};

use saker_task::memory::MemoryStorage;
use saker_task::storage::{SCHEME, check_uri};
use saker_task::task::BoxFuture;
use saker_task::{Storage, StorageError};

/// Internal storage that can also be read synchronously: expression functions (`read()`,
/// `fileSize()`) are synchronous and read small files in place.
pub trait FileStore: Storage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError>;
}

impl FileStore for MemoryStorage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        self.get_now(uri)
    }
}

/// Files under a base directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    base: PathBuf,
}

fn backend(error: std::io::Error) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl LocalStorage {
    /// Files live under `base` (created on first write).
    pub fn new(base: impl Into<PathBuf>) -> Self {
        LocalStorage { base: base.into() }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The file of `uri`, or [`StorageError::InvalidUri`] for anything that is not a plain
    /// relative path under the base.
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, StorageError> {
        check_uri(uri)?;
        let invalid = || StorageError::InvalidUri {
            uri: uri.to_owned(),
        };
        let rest = &uri[SCHEME.len() + 1..];
        let mut path = self.base.clone();
        for segment in rest.split('/') {
            if segment.is_empty()
                || segment == "."
                || segment == ".."
                || segment.contains(['\\', '\0'])
            {
                return Err(invalid());
            }
            path.push(segment);
        }
        Ok(path)
    }

    fn not_found(uri: &str, error: std::io::Error) -> StorageError {
        if error.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound {
                uri: uri.to_owned(),
            }
        } else {
            backend(error)
        }
    }

    /// Every file under `dir` as `(uri, path)`, where `uri_dir` is the URI of `dir` (ending
    /// with `/`).
    fn walk(dir: &Path, uri_dir: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let kind = entry.file_type()?;
            if kind.is_dir() {
                Self::walk(&entry.path(), &format!("{uri_dir}{name}/"), out)?;
            } else if kind.is_file() {
                out.push((format!("{uri_dir}{name}"), entry.path()));
            }
        }
        Ok(())
    }

    fn delete_by_prefix_now(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        check_uri(prefix)?;
        // Walk the deepest directory the prefix names completely, then match on the URI text.
        let uri_dir = match prefix.rfind('/') {
            Some(slash) => &prefix[..=slash],
            None => prefix,
        };
        let dir = if uri_dir.len() <= SCHEME.len() + 1 {
            self.base.clone()
        } else {
            self.path_of(uri_dir.trim_end_matches('/'))?
        };
        let mut files = Vec::new();
        Self::walk(&dir, uri_dir, &mut files).map_err(backend)?;
        let mut deleted = Vec::new();
        for (uri, path) in files {
            if uri.starts_with(prefix) {
                std::fs::remove_file(&path).map_err(backend)?;
                deleted.push(uri);
            }
        }
        deleted.sort();
        Ok(deleted)
    }
}

impl FileStore for LocalStorage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        std::fs::read(self.path_of(uri)?).map_err(|e| Self::not_found(uri, e))
    }
}

impl Storage for LocalStorage {
    fn put<'a>(
        &'a self,
        uri: &'a str,
        content: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(backend)?;
            }
            tokio::fs::write(&path, content).await.map_err(backend)
        })
    }

    fn get<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            tokio::fs::read(&path)
                .await
                .map_err(|e| Self::not_found(uri, e))
        })
    }

    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            match tokio::fs::metadata(&path).await {
                Ok(meta) => Ok(meta.is_file()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(backend(error)),
            }
        })
    }

    fn size<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            tokio::fs::metadata(&path)
                .await
                .map(|meta| meta.len())
                .map_err(|e| Self::not_found(uri, e))
        })
    }

    fn delete<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(backend(error)),
            }
        })
    }

    fn delete_by_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let this = self.clone();
            let prefix = prefix.to_owned();
            // Directory walks are blocking IO of unbounded length.
            tokio::task::spawn_blocking(move || this.delete_by_prefix_now(&prefix))
                .await
                .map_err(|e| StorageError::Backend(e.to_string()))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn files_round_trip_under_the_base() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        block(async {
            let uri = "kestra:///company/team/flow/executions/E1/tasks/t/R1/out.txt";
            storage.put(uri, b"hello".to_vec()).await.unwrap();
            assert!(
                dir.path()
                    .join("company/team/flow/executions/E1/tasks/t/R1/out.txt")
                    .is_file()
            );
            assert_eq!(storage.get(uri).await.unwrap(), b"hello");
            assert_eq!(storage.read_now(uri).unwrap(), b"hello");
            assert_eq!(storage.size(uri).await.unwrap(), 5);
            assert!(storage.exists(uri).await.unwrap());
            assert!(storage.delete(uri).await.unwrap());
            assert!(!storage.delete(uri).await.unwrap());
            assert_eq!(
                storage.get(uri).await.unwrap_err(),
                StorageError::NotFound { uri: uri.into() }
            );
        });
    }

    #[test]
    fn traversal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path().join("base"));
        for uri in [
            "kestra:///../escape.txt",
            "kestra:///a/../../escape.txt",
            "kestra:///a/./b",
            "kestra:///a//b",
            "kestra:///a\\..\\b",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(storage.path_of(uri), Err(StorageError::InvalidUri { .. })),
                "{uri}"
            );
        }
        block(async {
            assert!(storage.put("kestra:///../x", b"x".to_vec()).await.is_err());
        });
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn delete_by_prefix_matches_uri_text() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        block(async {
            for uri in [
                "kestra:///ns/f/executions/E1/a.txt",
                "kestra:///ns/f/executions/E1/tasks/t/R/b.txt",
                "kestra:///ns/f/executions/E10/c.txt",
                "kestra:///ns/f/executions/E2/d.txt",
            ] {
                storage.put(uri, Vec::new()).await.unwrap();
            }
            let deleted = storage
                .delete_by_prefix("kestra:///ns/f/executions/E1/")
                .await
                .unwrap();
            assert_eq!(
                deleted,
                [
                    "kestra:///ns/f/executions/E1/a.txt",
                    "kestra:///ns/f/executions/E1/tasks/t/R/b.txt"
                ]
            );
            let deleted = storage
                .delete_by_prefix("kestra:///ns/f/executions/E")
                .await
                .unwrap();
            assert_eq!(deleted.len(), 2);
            assert!(
                storage
                    .delete_by_prefix("kestra:///missing/")
                    .await
                    .unwrap()
                    .is_empty()
            );
        });
    }
}

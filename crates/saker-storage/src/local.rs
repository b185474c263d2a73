//! Internal storage on local disk: `kestra:///a/b/c.txt` is the file `<base>/a/b/c.txt`.
//!
//! URIs are mapped segment by segment and any segment that could leave the base directory
//! (`..`, `.`, empty, or holding a path separator or NUL) is refused, so a URI taken from a flow
//! can never read or write outside the base.

use std::path::{Path, PathBuf};

use saker_task::memory::MemoryStorage;
use saker_task::storage::{FileInfo, Reader, SCHEME, check_uri};
use saker_task::task::BoxFuture;
use saker_task::{Storage, StorageError};

/// Internal storage that can also be read synchronously: expression functions (`read()`,
/// `fileSize()`) are synchronous and read small files in place.
pub trait FileStore: Storage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError>;

    /// The size of `uri` ([`StorageError::NotFound`] when absent), for `fileSize()`; backends
    /// override it so that a big file is not read to be measured.
    fn size_now(&self, uri: &str) -> Result<u64, StorageError> {
        self.read_now(uri).map(|bytes| bytes.len() as u64)
    }
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
            if name.starts_with('.') && name.ends_with(".part") {
                // A file being written (see `staging`).
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                Self::walk(&entry.path(), &format!("{uri_dir}{name}/"), out)?;
            } else if kind.is_file() {
                out.push((format!("{uri_dir}{name}"), entry.path()));
            }
        }
        Ok(())
    }

    /// The files whose URI starts with `prefix`, as `(uri, path)`.
    fn matching(&self, prefix: &str) -> Result<Vec<(String, PathBuf)>, StorageError> {
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
        files.retain(|(uri, _)| uri.starts_with(prefix));
        files.sort();
        Ok(files)
    }

    fn delete_by_prefix_now(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut deleted = Vec::new();
        for (uri, path) in self.matching(prefix)? {
            std::fs::remove_file(&path).map_err(backend)?;
            deleted.push(uri);
        }
        Ok(deleted)
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<FileInfo>, StorageError> {
        let mut files = Vec::new();
        for (uri, path) in self.matching(prefix)? {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Deleted while listing.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(backend(error)),
            };
            files.push(FileInfo {
                uri,
                size: meta.len(),
                modified: meta.modified().ok().map(chrono::DateTime::from),
            });
        }
        Ok(files)
    }

    /// A temporary file beside `path`, renamed over it once complete, so a reader never sees
    /// half a file.
    async fn staging(path: &Path) -> Result<PathBuf, StorageError> {
        let parent = path
            .parent()
            .ok_or_else(|| StorageError::Backend(format!("no folder for {}", path.display())))?;
        tokio::fs::create_dir_all(parent).await.map_err(backend)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(parent.join(format!(".{name}.{}.{unique}.part", std::process::id())))
    }

    async fn finish(staged: &Path, path: &Path) -> Result<(), StorageError> {
        if let Err(error) = tokio::fs::rename(staged, path).await {
            let _ = tokio::fs::remove_file(staged).await;
            return Err(backend(error));
        }
        Ok(())
    }
}

impl FileStore for LocalStorage {
    fn read_now(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        std::fs::read(self.path_of(uri)?).map_err(|e| Self::not_found(uri, e))
    }

    fn size_now(&self, uri: &str) -> Result<u64, StorageError> {
        match std::fs::metadata(self.path_of(uri)?) {
            Ok(meta) if meta.is_file() => Ok(meta.len()),
            Ok(_) => Err(StorageError::NotFound {
                uri: uri.to_owned(),
            }),
            Err(error) => Err(Self::not_found(uri, error)),
        }
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

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<FileInfo>, StorageError>> {
        Box::pin(async move {
            let this = self.clone();
            let prefix = prefix.to_owned();
            tokio::task::spawn_blocking(move || this.list_now(&prefix))
                .await
                .map_err(|e| StorageError::Backend(e.to_string()))?
        })
    }

    fn put_file<'a>(
        &'a self,
        uri: &'a str,
        source: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            let staged = Self::staging(&path).await?;
            // `copy` streams in the kernel (copy_file_range/sendfile): no user-space buffer.
            let size = match tokio::fs::copy(source, &staged).await {
                Ok(size) => size,
                Err(error) => {
                    let _ = tokio::fs::remove_file(&staged).await;
                    return Err(backend(error));
                }
            };
            Self::finish(&staged, &path).await?;
            Ok(size)
        })
    }

    fn put_stream<'a>(
        &'a self,
        uri: &'a str,
        mut reader: Reader,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let path = self.path_of(uri)?;
            let staged = Self::staging(&path).await?;
            let written = async {
                let mut file = tokio::fs::File::create(&staged).await?;
                let size = tokio::io::copy(&mut reader, &mut file).await?;
                file.flush().await?;
                Ok::<_, std::io::Error>(size)
            }
            .await;
            match written {
                Ok(size) => {
                    Self::finish(&staged, &path).await?;
                    Ok(size)
                }
                Err(error) => {
                    let _ = tokio::fs::remove_file(&staged).await;
                    Err(backend(error))
                }
            }
        })
    }

    fn get_file<'a>(
        &'a self,
        uri: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            match tokio::fs::metadata(&path).await {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => {
                    return Err(StorageError::NotFound {
                        uri: uri.to_owned(),
                    });
                }
                Err(error) => return Err(Self::not_found(uri, error)),
            }
            tokio::fs::copy(&path, dest)
                .await
                .map_err(|e| Self::not_found(uri, e))
        })
    }

    fn open<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Reader, StorageError>> {
        Box::pin(async move {
            let path = self.path_of(uri)?;
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| Self::not_found(uri, e))?;
            Ok(Box::new(file) as Reader)
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
            assert_eq!(storage.size_now(uri).unwrap(), 5);
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
    fn meets_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        block(crate::files_suite::contract(&storage, "suite"));
        let listed = block(storage.list("kestra:///suite/")).unwrap();
        assert!(listed.is_empty(), "{listed:?}");
    }

    #[test]
    fn list_reports_modification_dates_and_skips_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        block(storage.put("kestra:///a/b.txt", b"b".to_vec())).unwrap();
        std::fs::write(dir.path().join("a/.b.txt.1.2.part"), "half").unwrap();
        let listed = block(storage.list("kestra:///a/")).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].modified.is_some());
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

//! Namespace files (spec §8.2): files attached to a namespace, kept in internal storage under
//! Kestra's layout `kestra:///<namespace with / for .>/_files/<path>`. Tasks, `read()`, script
//! `namespaceFiles` and the server's `/namespaces/{ns}/files` API all go through these
//! functions, so path checks live in one place.

use crate::storage::{FileInfo, SCHEME, Storage, StorageError};

/// The object that keeps a folder created empty (`POST /namespaces/{ns}/files/directory`):
/// storages hold files only. Hidden from every listing; refused as a file name.
pub const FOLDER_MARKER: &str = ".saker-folder";

/// `kestra:///company/team/_files/` for `company.team` (trailing slash included).
pub fn prefix(namespace: &str) -> String {
    format!("{SCHEME}/{}/_files/", namespace.replace('.', "/"))
}

/// Normalises a namespace-file path (`/a/b.txt`, `a/b.txt`) to `a/b.txt`, refusing anything
/// that could leave the namespace's folder (`..`, `.`, empty segments, backslashes, NUL).
pub fn clean_path(path: &str) -> Result<String, StorageError> {
    let invalid = || {
        StorageError::Backend(format!(
            "invalid namespace file path '{path}': use a relative path without '..'"
        ))
    };
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Err(invalid());
    }
    for segment in trimmed.split('/') {
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || segment == FOLDER_MARKER
            || segment.contains(['\\', '\0'])
        {
            return Err(invalid());
        }
    }
    Ok(trimmed.to_owned())
}

/// The internal-storage URI of `path` in `namespace`.
pub fn uri_of(namespace: &str, path: &str) -> Result<String, StorageError> {
    Ok(format!("{}{}", prefix(namespace), clean_path(path)?))
}

/// A namespace file as listed: its path relative to the namespace (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceFile {
    pub path: String,
    pub uri: String,
    pub size: u64,
    pub modified: Option<saker_core::Instant>,
}

/// Every file of `namespace` under the folder `dir` (`""` or `/` for all), sorted by path.
pub async fn list(
    storage: &dyn Storage,
    namespace: &str,
    dir: &str,
) -> Result<Vec<NamespaceFile>, StorageError> {
    let mut files = stored(storage, namespace, dir).await?;
    files.retain(|f| !is_marker(&f.path));
    Ok(files)
}

/// The folders of `namespace` created explicitly (they may be empty), sorted, as `a/b`.
pub async fn directories(
    storage: &dyn Storage,
    namespace: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(stored(storage, namespace, "")
        .await?
        .into_iter()
        .filter_map(|f| {
            f.path
                .strip_suffix(FOLDER_MARKER)?
                .strip_suffix('/')
                .map(str::to_owned)
        })
        .collect())
}

/// Creates the folder `path` (nothing changes when it exists).
pub async fn create_directory(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
) -> Result<(), StorageError> {
    let uri = uri_of(namespace, path)?;
    storage
        .put(&format!("{uri}/{FOLDER_MARKER}"), Vec::new())
        .await
}

/// Forgets that the folder `path` was created explicitly (its files stay).
pub async fn remove_directory(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
) -> Result<(), StorageError> {
    let uri = uri_of(namespace, path)?;
    storage.delete(&format!("{uri}/{FOLDER_MARKER}")).await?;
    Ok(())
}

fn is_marker(path: &str) -> bool {
    path.rsplit('/').next() == Some(FOLDER_MARKER)
}

/// What the storage holds under `dir`, folder markers included.
async fn stored(
    storage: &dyn Storage,
    namespace: &str,
    dir: &str,
) -> Result<Vec<NamespaceFile>, StorageError> {
    let root = prefix(namespace);
    let under = match dir.trim_matches('/') {
        "" => root.clone(),
        dir => format!("{}/", uri_of(namespace, dir)?),
    };
    let files = storage.list(&under).await?;
    Ok(files
        .into_iter()
        .map(
            |FileInfo {
                 uri,
                 size,
                 modified,
             }| NamespaceFile {
                path: uri[root.len()..].to_owned(),
                uri,
                size,
                modified,
            },
        )
        .collect())
}

/// The content of `path` ([`StorageError::NotFound`] when absent).
pub async fn get(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
) -> Result<Vec<u8>, StorageError> {
    storage.get(&uri_of(namespace, path)?).await
}

/// Writes (or replaces) `path`; returns its URI.
pub async fn put(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
    content: Vec<u8>,
) -> Result<String, StorageError> {
    let uri = uri_of(namespace, path)?;
    storage.put(&uri, content).await?;
    Ok(uri)
}

/// Deletes `path`, or every file under it when it names a folder; returns the deleted paths.
pub async fn delete(
    storage: &dyn Storage,
    namespace: &str,
    path: &str,
) -> Result<Vec<String>, StorageError> {
    let uri = uri_of(namespace, path)?;
    let root_len = prefix(namespace).len();
    let mut deleted = Vec::new();
    if storage.delete(&uri).await? {
        deleted.push(uri[root_len..].to_owned());
    }
    for gone in storage.delete_by_prefix(&format!("{uri}/")).await? {
        if !is_marker(&gone) {
            deleted.push(gone[root_len..].to_owned());
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStorage;

    #[tokio::test]
    async fn layout_listing_and_traversal() {
        assert_eq!(prefix("company.team"), "kestra:///company/team/_files/");
        assert_eq!(
            uri_of("company.team", "/scripts/a.py").unwrap(),
            "kestra:///company/team/_files/scripts/a.py"
        );
        for bad in ["../x", "a/../../x", "a//b", "./a", "", "/", "a\\..\\b"] {
            assert!(uri_of("ns", bad).is_err(), "{bad}");
        }
        let storage = MemoryStorage::new();
        put(&storage, "ns", "a.txt", b"a".to_vec()).await.unwrap();
        put(&storage, "ns", "dir/b.txt", b"bb".to_vec())
            .await
            .unwrap();
        put(&storage, "ns.child", "c.txt", b"c".to_vec())
            .await
            .unwrap();
        let all: Vec<_> = list(&storage, "ns", "/")
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.size))
            .collect();
        assert_eq!(all, [("a.txt".to_owned(), 1), ("dir/b.txt".to_owned(), 2)]);
        assert_eq!(list(&storage, "ns", "dir").await.unwrap().len(), 1);
        assert_eq!(get(&storage, "ns", "dir/b.txt").await.unwrap(), b"bb");
        assert_eq!(delete(&storage, "ns", "dir").await.unwrap(), ["dir/b.txt"]);
        assert!(matches!(
            get(&storage, "ns", "dir/b.txt").await,
            Err(StorageError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn folders_created_empty_are_listed_apart_from_files() {
        let storage = MemoryStorage::new();
        create_directory(&storage, "ns", "/empty/inner")
            .await
            .unwrap();
        put(&storage, "ns", "empty/a.txt", b"a".to_vec())
            .await
            .unwrap();
        assert_eq!(directories(&storage, "ns").await.unwrap(), ["empty/inner"]);
        let files: Vec<_> = list(&storage, "ns", "")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(files, ["empty/a.txt"]);
        assert!(uri_of("ns", &format!("x/{FOLDER_MARKER}")).is_err());
        assert_eq!(
            delete(&storage, "ns", "empty").await.unwrap(),
            ["empty/a.txt"]
        );
        assert!(directories(&storage, "ns").await.unwrap().is_empty());
        create_directory(&storage, "ns", "d").await.unwrap();
        remove_directory(&storage, "ns", "d").await.unwrap();
        assert!(directories(&storage, "ns").await.unwrap().is_empty());
    }
}

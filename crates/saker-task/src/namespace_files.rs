//! Namespace files (spec §8.2): files attached to a namespace, kept in internal storage under
//! Kestra's layout `kestra:///<namespace with / for .>/_files/<path>`. Tasks, `read()`, script
//! `namespaceFiles` and the server's `/namespaces/{ns}/files` API all go through these
//! functions, so path checks live in one place.

use crate::storage::{FileInfo, SCHEME, Storage, StorageError};

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
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains(['\\', '\0'])
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
        deleted.push(gone[root_len..].to_owned());
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
}

//! The behaviour every internal-storage backend must have, as async checks that panic on a
//! difference: run by the local-disk tests and by the S3 tests against a real S3-compatible
//! server, so both backends are held to the same contract.

use saker_task::{Storage, StorageError};
use tokio::io::AsyncReadExt;

/// Round trips, listing, prefixes, streaming and traversal refusal under `root`
/// (`kestra:///<root>/...`).
pub async fn contract(storage: &dyn Storage, root: &str) {
    let uri = |rest: &str| format!("kestra:///{root}/{rest}");
    let a = uri("ns/f/executions/E1/a.txt");
    storage.put(&a, b"hello".to_vec()).await.unwrap();
    assert_eq!(storage.get(&a).await.unwrap(), b"hello");
    assert!(storage.exists(&a).await.unwrap());
    assert_eq!(storage.size(&a).await.unwrap(), 5);
    storage.put(&a, b"replaced".to_vec()).await.unwrap();
    assert_eq!(storage.get(&a).await.unwrap(), b"replaced");

    let odd = uri("ns/f/executions/E1/tasks/t/R/b é+%.txt");
    storage.put(&odd, Vec::new()).await.unwrap();
    assert_eq!(storage.get(&odd).await.unwrap(), b"");
    storage
        .put(&uri("ns/f/executions/E10/c.txt"), b"c".to_vec())
        .await
        .unwrap();

    let listed = storage.list(&uri("ns/f/executions/E1")).await.unwrap();
    let uris: Vec<&str> = listed.iter().map(|f| f.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            a.as_str(),
            odd.as_str(),
            uri("ns/f/executions/E10/c.txt").as_str()
        ]
    );
    assert_eq!(listed[0].size, 8);
    let listed = storage.list(&uri("ns/f/executions/E1/")).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(storage.list(&uri("missing/")).await.unwrap().is_empty());

    // Streaming forms.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("in.bin");
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &content).unwrap();
    let streamed = uri("ns/f/executions/E2/in.bin");
    assert_eq!(storage.put_file(&streamed, &local).await.unwrap(), 100_000);
    let out = dir.path().join("out.bin");
    assert_eq!(storage.get_file(&streamed, &out).await.unwrap(), 100_000);
    assert_eq!(std::fs::read(&out).unwrap(), content);
    let mut reader = storage.open(&streamed).await.unwrap();
    let mut read = Vec::new();
    reader.read_to_end(&mut read).await.unwrap();
    assert_eq!(read, content);
    let copied = uri("ns/f/executions/E2/copy.bin");
    let reader = storage.open(&streamed).await.unwrap();
    assert_eq!(storage.put_stream(&copied, reader).await.unwrap(), 100_000);
    assert_eq!(storage.get(&copied).await.unwrap(), content);

    // Absent files.
    let missing = uri("nope.txt");
    let not_found = StorageError::NotFound {
        uri: missing.clone(),
    };
    assert_eq!(storage.get(&missing).await.unwrap_err(), not_found);
    assert_eq!(storage.size(&missing).await.unwrap_err(), not_found);
    assert!(matches!(
        storage.open(&missing).await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(
        storage
            .get_file(&missing, &dir.path().join("x"))
            .await
            .unwrap_err(),
        not_found
    );
    assert!(!storage.exists(&missing).await.unwrap());
    assert!(!storage.delete(&missing).await.unwrap());

    // Traversal and foreign schemes.
    for bad in [
        format!("kestra:///{root}/../escape.txt"),
        format!("kestra:///{root}/a//b"),
        format!("kestra:///{root}/./b"),
        "file:///etc/passwd".to_owned(),
    ] {
        assert!(storage.put(&bad, b"x".to_vec()).await.is_err(), "{bad}");
        assert!(storage.get(&bad).await.is_err(), "{bad}");
        assert!(storage.put_file(&bad, &local).await.is_err(), "{bad}");
    }

    // Deletion.
    assert!(storage.delete(&a).await.unwrap());
    assert!(!storage.exists(&a).await.unwrap());
    let deleted = storage
        .delete_by_prefix(&uri("ns/f/executions/E"))
        .await
        .unwrap();
    assert_eq!(deleted.len(), 4, "{deleted:?}");
    assert!(storage.list(&uri("")).await.unwrap().is_empty());
}

/// The peak resident memory of this process (`VmHWM`), in bytes.
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .expect("VmHWM in /proc/self/status")
}

/// Sends a `size`-byte file through `storage` (upload from disk, download to disk, and a
/// streamed copy) and returns how much the peak resident memory grew meanwhile.
pub async fn big_file_peak_growth(storage: &dyn Storage, root: &str, size: u64) -> u64 {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("big.bin");
    {
        // Written in 1 MiB blocks of varying bytes (a sparse file could be copied without
        // reading it).
        let mut file = tokio::fs::File::create(&source).await.unwrap();
        let mut block = vec![0u8; 1024 * 1024];
        for i in 0..size.div_ceil(block.len() as u64) {
            block.fill((i % 251) as u8);
            let left = (size - i * block.len() as u64).min(block.len() as u64) as usize;
            file.write_all(&block[..left]).await.unwrap();
        }
        file.flush().await.unwrap();
    }
    let before = peak_rss();
    let uri = format!("kestra:///{root}/big/big.bin");
    assert_eq!(storage.put_file(&uri, &source).await.unwrap(), size);
    assert_eq!(storage.size(&uri).await.unwrap(), size);
    let back = dir.path().join("back.bin");
    assert_eq!(storage.get_file(&uri, &back).await.unwrap(), size);
    let copy = format!("kestra:///{root}/big/copy.bin");
    let reader = storage.open(&uri).await.unwrap();
    assert_eq!(storage.put_stream(&copy, reader).await.unwrap(), size);
    let growth = peak_rss().saturating_sub(before);
    assert_eq!(std::fs::metadata(&back).unwrap().len(), size);
    assert!(same_content(&source, &back), "downloaded file differs");
    storage
        .delete_by_prefix(&format!("kestra:///{root}/big/"))
        .await
        .unwrap();
    growth
}

fn same_content(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).unwrap();
        let mut m = 0;
        while m < n {
            let r = b.read(&mut y[m..n]).unwrap();
            if r == 0 {
                return false;
            }
            m += r;
        }
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if x[..n] != y[..n] {
            return false;
        }
    }
}

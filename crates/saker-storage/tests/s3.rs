//! The internal-storage contract and big-file streaming against a real S3-compatible server:
//! `moto_server` from PyPI, installed into a virtual environment under the cache directory and
//! started on a free port. The tests fail (never skip) when it cannot start.

use saker_storage::files_suite::{big_file_peak_growth, contract};
use saker_storage::moto::Moto;
use saker_storage::{FileStore, S3Storage};
use saker_task::Storage;

fn bucket(moto: &Moto, name: &str, prefix: Option<&str>) -> S3Storage {
    S3Storage::new(moto.bucket(name, prefix)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_meets_the_storage_contract() {
    let moto = Moto::start();
    let storage = bucket(&moto, "saker-contract", None);
    contract(&storage, "suite").await;

    // Under a key prefix, nothing escapes it, and synchronous reads work for expressions.
    let prefixed = bucket(&moto, "saker-prefixed", Some("tenant/a"));
    contract(&prefixed, "suite").await;
    prefixed
        .put("kestra:///ns/_files/x.txt", b"x".to_vec())
        .await
        .unwrap();
    assert_eq!(
        prefixed.read_now("kestra:///ns/_files/x.txt").unwrap(),
        b"x"
    );
    assert_eq!(prefixed.size_now("kestra:///ns/_files/x.txt").unwrap(), 1);
    assert!(matches!(
        prefixed.size_now("kestra:///ns/_files/none"),
        Err(saker_task::StorageError::NotFound { .. })
    ));
    let files = prefixed.list("kestra:///ns/").await.unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0].modified.is_some());
    // The same bucket seen without the prefix holds the object under it.
    let raw = bucket(&moto, "saker-prefixed", None);
    assert!(
        raw.exists("kestra:///tenant/a/ns/_files/x.txt")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_streams_a_big_file_with_flat_memory() {
    let moto = Moto::start();
    let storage = bucket(&moto, "saker-big", None);
    let size = 256 << 20;
    let growth = big_file_peak_growth(&storage, "s3", size).await;
    eprintln!(
        "peak RSS growth for 256 MiB through S3: {} KiB",
        growth / 1024
    );
    // Multipart parts of 8 MiB, two in flight: far below the file's size.
    assert!(growth < 96 << 20, "peak RSS grew by {growth} bytes");
}

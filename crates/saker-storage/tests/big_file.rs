//! A 1 GiB file goes through local internal storage (upload from disk, download to disk, a
//! streamed copy) while the peak memory of the process stays flat. Alone in its test binary so
//! no other test moves the peak.

use saker_storage::LocalStorage;
use saker_storage::files_suite::big_file_peak_growth;

#[tokio::test]
async fn one_gib_streams_through_local_storage_with_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path());
    let growth = big_file_peak_growth(&storage, "local", 1 << 30).await;
    eprintln!("peak RSS growth for 1 GiB: {} KiB", growth / 1024);
    // Holding the file would add 1 GiB; streaming needs a few buffers.
    assert!(growth < 64 << 20, "peak RSS grew by {growth} bytes");
}

//! `saker flow test` in S3 mode (`SAKER_STORAGE_*` variables) against a local `moto_server`
//! started by the test: flows passing files between tasks (a Python script's output file read
//! by a shell task through its `kestra://` URI, the storage tasks) run unchanged, and their
//! files land in the bucket under the configured prefix.

use std::process::Command;

use saker_storage::S3Storage;
use saker_storage::moto::Moto;
use saker_task::Storage;
use serde_json::Value;

#[tokio::test]
async fn flows_pass_files_through_s3() {
    let moto = Moto::start();
    let config = moto.bucket("saker-cli", Some("runs"));
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for example in ["storage-items.yaml", "python-etl.yaml"] {
        let out = Command::new(env!("CARGO_BIN_EXE_saker"))
            .args(["flow", "test", &format!("{examples}/{example}"), "--json"])
            .env("SAKER_STORAGE_TYPE", "s3")
            .env("SAKER_STORAGE_S3_BUCKET", "saker-cli")
            .env("SAKER_STORAGE_S3_ENDPOINT", moto.endpoint())
            .env("SAKER_STORAGE_S3_ACCESS_KEY", "test")
            .env("SAKER_STORAGE_S3_SECRET_KEY", "test")
            .env("SAKER_STORAGE_S3_PREFIX", "runs")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{example}: {stderr}");
        let execution: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            execution["state"]["current"], "SUCCESS",
            "{example}: {stderr}"
        );
    }
    // Each storage task's file is in the bucket: Write, FilterItems, DeduplicateItems, Reverse
    // and the two parts of Split.
    let storage = S3Storage::new(config).unwrap();
    let files = storage
        .list("kestra:///company/team/storage-items/")
        .await
        .unwrap();
    assert_eq!(files.len(), 6, "{files:#?}");
    let etl = storage
        .list("kestra:///company/team/python-etl/")
        .await
        .unwrap();
    assert!(
        etl.iter().any(|file| file.uri.ends_with(".csv")),
        "{etl:#?}"
    );
}

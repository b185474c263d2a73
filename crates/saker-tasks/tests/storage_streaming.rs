//! `storage.Concat` of two 200 MiB files on local internal storage streams them: the process's
//! peak memory grows far less than the 400 MiB written. Alone in its test binary so the peak is
//! this test's.

use std::sync::Arc;

use saker_task::RunContext;
use saker_task::memory::{MemoryEnv, test_info};
use saker_task::storage::Storage;
use serde_json::json;

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn concat_streams_big_files_with_flat_memory() {
    use tokio::io::AsyncWriteExt;
    const SIZE: u64 = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(saker_storage::LocalStorage::new(dir.path().join("storage")));
    let source = dir.path().join("part.txt");
    {
        // Lines of varying bytes, written 1 MiB at a time.
        let mut file = tokio::fs::File::create(&source).await.unwrap();
        let mut block = vec![b'x'; 1 << 20];
        for i in 0..SIZE >> 20 {
            for (j, byte) in block.iter_mut().enumerate() {
                *byte = if j % 100 == 99 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                };
            }
            file.write_all(&block).await.unwrap();
        }
        file.flush().await.unwrap();
    }
    for name in ["a", "b"] {
        let uri = format!("kestra:///big/{name}.txt");
        assert_eq!(storage.put_file(&uri, &source).await.unwrap(), SIZE);
    }
    std::fs::remove_file(&source).unwrap();

    let env = MemoryEnv::new(saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap());
    let mut services = env.services();
    services.storage = storage.clone();
    let ty = "io.kestra.plugin.core.storage.Concat";
    let info = test_info("concat", ty);
    let variables = serde_json::Value::Object(saker_task::context::base_variables(
        &info,
        saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap(),
    ));
    let mut ctx = RunContext::new(info, variables, services, Default::default());
    let before = peak_rss_kb();
    let params = json!({
        "files": ["kestra:///big/a.txt", "kestra:///big/b.txt"],
        "separator": "--\n",
        "extension": ".txt",
    });
    let outcome = saker_tasks::registry()
        .runnable(ty)
        .unwrap()
        .run(params.as_object().unwrap(), &mut ctx)
        .await
        .unwrap();
    let growth_mb = (peak_rss_kb() - before) / 1024;
    let uri = outcome.outputs["uri"].as_str().unwrap();
    assert_eq!(storage.size(uri).await.unwrap(), 2 * SIZE + 3);
    eprintln!("Concat of 2 × 200 MiB: peak RSS growth {growth_mb} MiB");
    // Holding the files would add 400 MiB; streaming needs a few buffers.
    assert!(growth_mb < 64, "peak RSS grew by {growth_mb} MiB");
}

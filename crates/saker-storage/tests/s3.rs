//! The internal-storage contract and big-file streaming against a real S3-compatible server:
//! `moto_server` from PyPI, installed into a virtual environment under the cache directory and
//! started on a free port. The tests fail (never skip) when it cannot start.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use saker_storage::files_suite::{big_file_peak_growth, contract};
use saker_storage::{FileStore, S3Config, S3Storage};
use saker_task::Storage;

/// `$XDG_CACHE_HOME` or `~/.cache`, then `saker-tests/moto-venv`.
fn venv_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("saker-tests").join("moto-venv")
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `moto_server` executable, installing it on first use. A virtual environment cannot be
/// moved once built, so concurrent test processes take turns through a lock directory and the
/// finished environment is marked by `.ready`.
fn moto_server() -> PathBuf {
    static LOCAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = venv_dir();
    let server = venv.join("bin").join("moto_server");
    let ready = venv.join(".ready");
    let lock = venv.with_extension("lock");
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let started = Instant::now();
    while !ready.is_file() {
        match std::fs::create_dir(&lock) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(&venv);
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                run(Command::new(venv.join("bin").join("pip")).args([
                    "install",
                    "--quiet",
                    "moto[server]>=5,<6",
                ]));
                std::fs::write(&ready, "").unwrap();
                std::fs::remove_dir(&lock).unwrap();
            }
            Err(_) => {
                // Another process is installing; a lock older than 10 minutes is stale.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at.elapsed().unwrap_or_default() > Duration::from_secs(600));
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(900),
                    "timed out waiting for another test to install moto"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    assert!(server.is_file(), "no moto_server in {}", venv.display());
    server
}

/// A running `moto_server`, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let server = moto_server();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
    let mut moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = moto.child.try_wait().unwrap() {
            panic!("moto_server exited with {status} before listening");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    moto
}

async fn bucket(moto: &Moto, name: &str, prefix: Option<&str>) -> S3Storage {
    // moto does not check signatures: a plain PUT creates the bucket.
    let response = reqwest::Client::new()
        .put(format!("{}/{name}", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
    S3Storage::new(S3Config {
        bucket: name.to_owned(),
        region: Some("us-east-1".into()),
        endpoint: Some(moto.endpoint.clone()),
        access_key: Some("test".into()),
        secret_key: Some("test".into()),
        path_style: Some(true),
        prefix: prefix.map(str::to_owned),
        ..S3Config::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_meets_the_storage_contract() {
    let moto = start_moto();
    let storage = bucket(&moto, "saker-contract", None).await;
    contract(&storage, "suite").await;

    // Under a key prefix, nothing escapes it, and synchronous reads work for expressions.
    let prefixed = bucket(&moto, "saker-prefixed", Some("tenant/a")).await;
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
    let raw = bucket(&moto, "saker-prefixed", None).await;
    assert!(
        raw.exists("kestra:///tenant/a/ns/_files/x.txt")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_streams_a_big_file_with_flat_memory() {
    let moto = start_moto();
    let storage = bucket(&moto, "saker-big", None).await;
    let size = 256 << 20;
    let growth = big_file_peak_growth(&storage, "s3", size).await;
    eprintln!(
        "peak RSS growth for 256 MiB through S3: {} KiB",
        growth / 1024
    );
    // Multipart parts of 8 MiB, two in flight: far below the file's size.
    assert!(growth < 96 << 20, "peak RSS grew by {growth} bytes");
}

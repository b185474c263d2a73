//! Test support: a local S3-compatible server (`moto_server` from PyPI, installed into a
//! virtual environment under the cache directory on first use) for the tests of the S3
//! backend, of the storage tasks on S3 and of the binary in S3 mode. Starting fails loudly
//! (a panic), never skips.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::S3Config;

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
pub struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Installs (first time) and starts a server on a free port; returns once it listens.
    pub fn start() -> Moto {
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
        let mut moto = Moto { child, port };
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

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates the bucket `name` (moto does not check signatures: a plain `PUT` does it) and
    /// returns the configuration of an [`S3Storage`](crate::S3Storage) on it.
    pub fn bucket(&self, name: &str, prefix: Option<&str>) -> S3Config {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.lines().next().unwrap_or_default();
        assert!(status.contains(" 200 "), "creating bucket {name}: {status}");
        S3Config {
            bucket: name.to_owned(),
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint()),
            access_key: Some("test".into()),
            secret_key: Some("test".into()),
            path_style: Some(true),
            prefix: prefix.map(str::to_owned),
            ..S3Config::default()
        }
    }
}

//! Starting the components (`saker server webserver|scheduler|executor|worker`) as real
//! processes on one PostgreSQL database.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Proc, request};

/// One key for every process (each would otherwise create its own in the data directory).
pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn saker(dir: &Path, args: &[&str], log: &str) -> Proc {
    let log = std::fs::File::create(dir.join(log)).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env("SAKER_ENCRYPTION_KEY", KEY)
        .env("SAKER_DATA_DIR", "data")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the process starts");
    Proc(child)
}

/// Whether `path` answers 200 on `port` within a minute.
fn answers(port: u16, path: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", path, b"", None) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Every `*.log` of `dir` (the processes' stderr), for the message of a failed test.
pub fn logs(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            format!("== {}\n{text}", path.display())
        })
        .collect()
}

pub fn executor(dir: &Path, url: &str, log: &str) -> Proc {
    saker(
        dir,
        &["server", "executor", "--database-url", url, "--lease", "3"],
        log,
    )
}

pub fn worker(dir: &Path, url: &str, log: &str) -> Proc {
    saker(
        dir,
        &[
            "server",
            "worker",
            "--threads",
            "2",
            "--queue-url",
            url,
            "--database-url",
            url,
            "--lease",
            "3",
        ],
        log,
    )
}

/// A webserver on a free port, once it answers: the process and the port.
pub fn webserver(dir: &Path, url: &str) -> (Proc, u16) {
    let port = super::free_port();
    let port_text = port.to_string();
    let process = saker(
        dir,
        &[
            "server",
            "webserver",
            "--database-url",
            url,
            "--port",
            &port_text,
        ],
        "webserver.log",
    );
    assert!(
        answers(port, "/ping"),
        "the webserver does not answer\n{}",
        logs(dir)
    );
    (process, port)
}

/// A scheduler (with the flags `extra` too) on a free port, once its `/health` answers: the
/// process and the port.
pub fn scheduler(dir: &Path, url: &str, extra: &[&str]) -> (Proc, u16) {
    let port = super::free_port();
    let port_text = port.to_string();
    let mut args = vec![
        "server",
        "scheduler",
        "--database-url",
        url,
        "--port",
        &port_text,
    ];
    args.extend_from_slice(extra);
    let process = saker(dir, &args, "scheduler.log");
    assert!(
        answers(port, "/health"),
        "the scheduler does not answer\n{}",
        logs(dir)
    );
    (process, port)
}

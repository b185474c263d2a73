//! The Python fork server: Python's start-up (≈ 100 ms of `site` imports on a loaded machine,
//! far more than the script of a typical task) is paid once per interpreter, not per task. A
//! long-lived `python -c <fork_server.py>` is started lazily for each interpreter path; each
//! eligible task sends it one request (script path, working directory, full environment, and
//! the write ends of its stdout/stderr pipes) and the server forks a child that becomes the
//! script's process: its own process group, the task's cwd, environment and argv, `/dev/null`
//! as stdin. The runtime reads the pipes, kills the group and learns the exit code exactly as
//! for a spawned process (see `process.rs`).
//!
//! Eligibility (decided in `script.rs`): a `python.Script` body with no `interpreter`, no
//! `beforeCommands`, and no variable in `env` that Python reads while starting
//! ([`reads_at_start`]); `SAKER_PYTHON_FORK_SERVER=false` turns it off. Anything that goes
//! wrong before the child exists (server not startable, too old a Python, request refused)
//! falls back to spawning the interpreter, so the fork server never changes what runs.

use std::collections::HashMap;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, sendmsg, socketpair,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

use super::process::{ExitReport, Forked};

const SERVER: &str = include_str!("fork_server.py");

/// What the fork server runs: `python script` in the task's process spec.
#[derive(Debug, Clone)]
pub struct ForkPlan {
    /// The interpreter (an absolute path, the server's key).
    pub python: String,
    /// The script file.
    pub script: PathBuf,
}

/// Whether the fork server is enabled (`SAKER_PYTHON_FORK_SERVER`, default on).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| !super::process::switched_off("SAKER_PYTHON_FORK_SERVER"))
}

/// Variables Python reads while starting (before a forked child could apply the task's
/// environment): a task setting one runs in a fresh interpreter. `PYTHONUNBUFFERED` is the one
/// the runtime sets itself, and the server is started with it.
pub fn reads_at_start(name: &str) -> bool {
    (name.starts_with("PYTHON") && name != "PYTHONUNBUFFERED")
        || name.starts_with("LC_")
        || matches!(name, "LANG" | "LANGUAGE" | "HOME" | "TZ")
}

struct Server {
    control: OwnedFd,
    _process: std::process::Child,
}

/// Interpreter path → its server; `None` once it failed (that interpreter always spawns).
fn servers() -> &'static Mutex<HashMap<String, Option<Arc<Server>>>> {
    static SERVERS: OnceLock<Mutex<HashMap<String, Option<Arc<Server>>>>> = OnceLock::new();
    SERVERS.get_or_init(Default::default)
}

fn server(python: &str) -> Option<Arc<Server>> {
    let mut servers = servers().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = servers.get(python) {
        return known.clone();
    }
    let started = start(python).map(Arc::new);
    servers.insert(python.to_owned(), started.clone());
    started
}

fn forget(python: &str) {
    let mut servers = servers().lock().unwrap_or_else(|e| e.into_inner());
    servers.insert(python.to_owned(), None);
}

fn start(python: &str) -> Option<Server> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ok()?;
    let process = std::process::Command::new(python)
        .args(["-c", SERVER])
        .env("PYTHONUNBUFFERED", "true")
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of Saker's group: a Ctrl-C in a terminal must not end it under running tasks.
        .process_group(0)
        .spawn()
        .ok()?;
    Some(Server {
        control: ours,
        _process: process,
    })
}

/// Starts `plan` in a forked child with `env` (the whole environment) in `cwd`. `None` when
/// the fork server cannot do it: the caller spawns the interpreter instead (nothing ran).
pub async fn fork(plan: &ForkPlan, cwd: &Path, env: Vec<(String, String)>) -> Option<Forked> {
    let server = server(&plan.python)?;
    let request = serde_json::json!({
        "script": plan.script.to_str()?,
        "cwd": cwd.to_str()?,
        "env": env
            .into_iter()
            .map(|(key, value)| (key, serde_json::Value::String(value)))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
    })
    .to_string();
    let (reply_ours, reply_theirs) = StdUnixStream::pair().ok()?;
    let (stdout_w, stdout_r) = pipe::pipe().ok()?;
    let (stderr_w, stderr_r) = pipe::pipe().ok()?;
    let stdout_w = stdout_w.into_blocking_fd().ok()?;
    let stderr_w = stderr_w.into_blocking_fd().ok()?;
    let fds = [
        reply_theirs.as_raw_fd(),
        stdout_w.as_raw_fd(),
        stderr_w.as_raw_fd(),
    ];
    let sent = sendmsg::<()>(
        server.control.as_raw_fd(),
        &[IoSlice::new(request.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    );
    // The server holds its own copies now (or never will): ours would keep the pipes open.
    drop((reply_theirs, stdout_w, stderr_w));
    match sent {
        Ok(_) => {}
        // Too big an environment for one record: this task spawns, the server stays.
        Err(nix::errno::Errno::EMSGSIZE) => return None,
        Err(_) => {
            forget(&plan.python);
            return None;
        }
    }
    reply_ours.set_nonblocking(true).ok()?;
    let mut reply = BufReader::new(UnixStream::from_std(reply_ours).ok()?);
    let mut line = String::new();
    let pid = match reply.read_line(&mut line).await {
        Ok(_) => line
            .strip_prefix("P ")
            .and_then(|pid| pid.trim().parse::<i32>().ok()),
        Err(_) => None,
    };
    let Some(pid) = pid.filter(|pid| *pid > 0) else {
        // Dead server (EOF) or a refused request: the script did not start.
        if line.is_empty() {
            forget(&plan.python);
        }
        return None;
    };
    let exit = ExitReport::new(async move {
        let mut line = String::new();
        reply.read_line(&mut line).await?;
        line.strip_prefix("E ")
            .and_then(|code| code.trim().parse().ok())
            .ok_or_else(|| {
                std::io::Error::other(
                    "the Python fork server stopped before the script ended (its exit code is unknown)",
                )
            })
    });
    Some(Forked {
        pid,
        stdout: stdout_r,
        stderr: stderr_r,
        exit,
    })
}

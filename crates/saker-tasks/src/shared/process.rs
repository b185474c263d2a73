//! Local processes for script tasks: each command runs in its own process group, its stdout and
//! stderr are read line by line as they come (bounded memory whatever the output size), and
//! whatever ends the run early — a timeout, a kill, the task future being dropped — terminates
//! the whole group: SIGTERM, a grace period, then SIGKILL.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use saker_task::TaskError;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;

use super::python_fork::{self, ForkPlan};
use super::shell_fork;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes of one output line kept in memory; the rest of a longer line is dropped (counted).
/// Large enough for `::{...}::` messages carrying big outputs.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Time a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables added to (or replacing) the worker's environment, which the process inherits
    /// like Kestra's Process runner.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Run `python script` through the Python fork server when it can (see `python_fork.rs`);
    /// `argv` is what runs otherwise, and must run the same script.
    pub fork: Option<ForkPlan>,
}

/// A child started by a fork server (`python_fork`, `shell_fork`), not by this process: its
/// pid leads its own process group, its output comes on two pipes, its exit code from the
/// server.
pub struct Forked {
    pub pid: i32,
    pub stdout: tokio::net::unix::pipe::Receiver,
    pub stderr: tokio::net::unix::pipe::Receiver,
    pub exit: ExitReport,
}

/// Where a forked child's exit code comes from (`128 + signal` for a signal).
pub struct ExitReport(Pin<Box<dyn Future<Output = std::io::Result<i32>> + Send>>);

impl ExitReport {
    pub fn new(wait: impl Future<Output = std::io::Result<i32>> + Send + 'static) -> Self {
        ExitReport(Box::pin(wait))
    }

    /// Waits for the child's end.
    pub async fn wait(&mut self) -> std::io::Result<i32> {
        (&mut self.0).await
    }
}

/// Whether the environment switch `name` is turned off (`0`, `false`, `off`, `no`); the fork
/// servers are on unless it is.
pub fn switched_off(name: &str) -> bool {
    matches!(
        std::env::var(name)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str(),
        "0" | "false" | "off" | "no"
    )
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of output (without its line terminator), decoded as lossy UTF-8.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
    /// Bytes of the line beyond [`MAX_LINE_BYTES`] that were dropped.
    pub dropped: usize,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code; `128 + signal` when a signal ended it (the shell's convention, and what
    /// Java reports).
    pub code: i32,
    /// Background processes of the group were still running after the main one ended (they
    /// were terminated).
    pub leftovers: bool,
}

/// Runs `spec` to completion, calling `on_line` for every line of stdout and stderr in the
/// order they are read. Returns early with [`TaskError::Killed`] when `cancel` fires; in that
/// case, and whenever the returned future is dropped before the end, the process group is
/// terminated.
pub async fn run(
    spec: &ProcessSpec,
    cancel: Option<&CancellationToken>,
    mut on_line: impl FnMut(Line),
) -> Result<Exit, TaskError> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| TaskError::failed("nothing to run: the command line is empty"))?;
    let forked = match &spec.fork {
        Some(plan) if python_fork::enabled() => match full_env(spec) {
            Some(env) => python_fork::fork(plan, &spec.cwd, env).await,
            None => None,
        },
        _ => match shell_fork::eligible(spec) {
            Some(script) => shell_fork::fork(script, spec).await,
            None => None,
        },
    };
    type Output = Box<dyn AsyncRead + Unpin + Send>;
    let (mut group, stdout, stderr, mut forked): (Group, Option<Output>, Option<Output>, _) =
        match forked {
            Some(Forked {
                pid,
                stdout,
                stderr,
                exit,
            }) => {
                let group = Group {
                    pgid: Pid::from_raw(pid),
                    child: None,
                    done: false,
                };
                (
                    group,
                    Some(Box::new(stdout) as Output),
                    Some(Box::new(stderr) as Output),
                    Some(exit),
                )
            }
            None => {
                let mut command = tokio::process::Command::new(program);
                command
                    .args(args)
                    .current_dir(&spec.cwd)
                    // The worker's own PWD would be inherited otherwise, and some shells trust it.
                    .env("PWD", &spec.cwd)
                    .envs(spec.env.iter().map(|(k, v)| (k, v)))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    // Its own group, so that signals reach every process the script starts.
                    .process_group(0);
                let mut child = command.spawn().map_err(|error| {
                    let hint = if error.kind() == std::io::ErrorKind::NotFound {
                        " (is it installed and on PATH? set `interpreter` or the task's command to change it)"
                    } else {
                        ""
                    };
                    TaskError::Failed(format!("cannot start '{program}': {error}{hint}"))
                })?;
                let pid = child.id().map(|id| id as i32).unwrap_or_default();
                let stdout = child.stdout.take().map(|s| Box::new(s) as Output);
                let stderr = child.stderr.take().map(|s| Box::new(s) as Output);
                let group = Group {
                    pgid: Pid::from_raw(pid),
                    child: Some(child),
                    done: false,
                };
                (group, stdout, stderr, None)
            }
        };

    // Small: with lines up to 1 MiB, the buffered lines bound the memory a chatty script costs.
    let (tx, mut rx) = mpsc::channel::<Line>(16);
    let readers = async {
        tokio::join!(
            read_lines(stdout, Stream::Stdout, tx.clone()),
            read_lines(stderr, Stream::Stderr, tx),
        );
    };
    let consume = async {
        while let Some(line) = rx.recv().await {
            on_line(line);
        }
    };
    let pgid = group.pgid;
    let child = group.child.as_mut();
    let wait = async {
        let status = match (child, forked.as_mut()) {
            (Some(child), _) => child.wait().await.map(|status| {
                use std::os::unix::process::ExitStatusExt;
                status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
            }),
            (None, Some(exit)) => exit.wait().await,
            (None, None) => Err(std::io::Error::other("no process to wait for")),
        };
        // The main process is gone; anything left in its group would hold the pipes open (and
        // outlive the task): terminate it.
        let leftovers = group_alive(pgid);
        if leftovers {
            terminate(pgid).await;
        }
        (status, leftovers)
    };
    let all = async { tokio::join!(wait, readers, consume).0 };
    let (status, leftovers) = tokio::select! {
        ended = all => ended,
        () = cancelled(cancel) => return Err(TaskError::Killed),
    };
    group.done = true;
    let code =
        status.map_err(|e| TaskError::Failed(format!("cannot wait for '{program}': {e}")))?;
    Ok(Exit { code, leftovers })
}

/// Reads `stream` line by line into `tx`, keeping at most [`MAX_LINE_BYTES`] of each line.
async fn read_lines(stream: Option<impl AsyncRead + Unpin>, kind: Stream, tx: mpsc::Sender<Line>) {
    let Some(mut stream) = stream else { return };
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut dropped = 0usize;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => {
                let text = format!("cannot read the process output: {error}");
                let _ = tx
                    .send(Line {
                        stream: Stream::Stderr,
                        text,
                        dropped: 0,
                    })
                    .await;
                break;
            }
        };
        let mut chunk = &buf[..n];
        while let Some(end) = chunk.iter().position(|b| *b == b'\n') {
            keep(&mut line, &mut dropped, &chunk[..end]);
            if tx
                .send(finish(kind, &mut line, &mut dropped))
                .await
                .is_err()
            {
                return;
            }
            chunk = &chunk[end + 1..];
        }
        keep(&mut line, &mut dropped, chunk);
    }
    if !line.is_empty() || dropped > 0 {
        let _ = tx.send(finish(kind, &mut line, &mut dropped)).await;
    }
}

fn keep(line: &mut Vec<u8>, dropped: &mut usize, bytes: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(line.len());
    let taken = room.min(bytes.len());
    line.extend_from_slice(&bytes[..taken]);
    *dropped += bytes.len() - taken;
}

fn finish(stream: Stream, line: &mut Vec<u8>, dropped: &mut usize) -> Line {
    if *dropped == 0 && line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = String::from_utf8_lossy(line).into_owned();
    line.clear();
    Line {
        stream,
        text,
        dropped: std::mem::take(dropped),
    }
}

/// The whole environment of a forked child: the worker's, then the task's, then `PWD` (as a
/// spawned process gets it). `None` when a variable is not UTF-8 (the request is JSON).
fn full_env(spec: &ProcessSpec) -> Option<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = Vec::new();
    for (key, value) in std::env::vars_os() {
        env.push((key.into_string().ok()?, value.into_string().ok()?));
    }
    env.extend(spec.env.iter().cloned());
    env.push(("PWD".into(), spec.cwd.to_str()?.to_owned()));
    Some(env)
}

async fn cancelled(cancel: Option<&CancellationToken>) {
    match cancel {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

fn group_alive(pgid: Pid) -> bool {
    pgid.as_raw() > 0 && killpg(pgid, None).is_ok()
}

/// SIGTERM to the group, then SIGKILL after [`KILL_GRACE`] if anything is left.
async fn terminate(pgid: Pid) {
    let _ = killpg(pgid, Signal::SIGTERM);
    let start = Instant::now();
    while group_alive(pgid) {
        if start.elapsed() >= KILL_GRACE {
            let _ = killpg(pgid, Signal::SIGKILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The process group of a running command. Dropped before the end (timeout, kill, task
/// aborted), it terminates the group from a helper thread, since a drop cannot wait: SIGTERM
/// now, SIGKILL after the grace period, and the main process reaped so no zombie is left.
struct Group {
    pgid: Pid,
    child: Option<Child>,
    done: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.done || self.pgid.as_raw() <= 0 {
            return;
        }
        let pgid = self.pgid;
        let mut child = self.child.take();
        let _ = killpg(pgid, Signal::SIGTERM);
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut killed = false;
            loop {
                if let Some(child) = child.as_mut() {
                    let _ = child.try_wait();
                }
                if !group_alive(pgid) {
                    break;
                }
                if !killed && start.elapsed() >= KILL_GRACE {
                    let _ = killpg(pgid, Signal::SIGKILL);
                    killed = true;
                }
                if start.elapsed() >= KILL_GRACE + Duration::from_secs(5) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn spec(script: &str) -> ProcessSpec {
        ProcessSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![("SAKER_TEST_VAR".into(), "v".into())],
            cwd: std::env::temp_dir(),
            fork: None,
        }
    }

    async fn collect(script: &str) -> (Exit, Vec<Line>) {
        let mut lines = Vec::new();
        let exit = run(&spec(script), None, |l| lines.push(l)).await.unwrap();
        (exit, lines)
    }

    #[tokio::test]
    async fn streams_both_outputs_and_reports_the_exit_code() {
        let (exit, lines) = collect("echo out; echo err >&2; printf 'a\\r\\nlast'; exit 3").await;
        assert_eq!(
            exit,
            Exit {
                code: 3,
                leftovers: false
            }
        );
        let texts: Vec<_> = lines.iter().map(|l| (l.stream, l.text.as_str())).collect();
        assert!(texts.contains(&(Stream::Stdout, "out")));
        assert!(texts.contains(&(Stream::Stderr, "err")));
        assert!(texts.contains(&(Stream::Stdout, "a")));
        assert!(texts.contains(&(Stream::Stdout, "last")));
        let (_, lines) = collect("echo $SAKER_TEST_VAR").await;
        assert_eq!(lines[0].text, "v");
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_binary_is_decoded_lossily() {
        let (exit, lines) =
            collect("head -c 3000000 /dev/zero | tr '\\0' x; echo; printf '\\377\\376ok\\n'").await;
        assert_eq!(exit.code, 0);
        assert_eq!(lines[0].text.len(), MAX_LINE_BYTES);
        assert_eq!(lines[0].dropped, 3_000_000 - MAX_LINE_BYTES);
        assert_eq!(lines[1].text, "\u{fffd}\u{fffd}ok");
    }

    #[tokio::test]
    async fn a_signal_gives_128_plus_its_number_and_leftovers_are_killed() {
        let (exit, _) = collect("kill -9 $$").await;
        assert_eq!(exit.code, 137);
        let start = Instant::now();
        let (exit, _) = collect("sleep 30 & echo started").await;
        assert!(exit.leftovers);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn missing_program_is_a_clear_error() {
        let mut spec = spec("");
        spec.argv = vec!["/no/such/interpreter".into(), "-c".into(), "true".into()];
        let error = run(&spec, None, |_| {}).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("cannot start '/no/such/interpreter'"),
            "{text}"
        );
        assert!(text.contains("No such file"), "{text}");
    }

    #[tokio::test]
    async fn dropping_the_run_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let script = format!(
            "sleep 100 & echo $! > {p}; echo $$ >> {p}; wait",
            p = pidfile.display()
        );
        dropped_run_leaves_nothing(&spec(&script), &pidfile).await;
    }

    /// Drops a run of `spec` after 500 ms and checks that the two pids its script wrote to
    /// `pidfile` (a background process and the shell) are gone within 2 s.
    pub(crate) async fn dropped_run_leaves_nothing(spec: &ProcessSpec, pidfile: &std::path::Path) {
        let timed = tokio::time::timeout(Duration::from_millis(500), run(spec, None, |_| {})).await;
        assert!(timed.is_err(), "the script should still be running");
        let pids: Vec<i32> = std::fs::read_to_string(pidfile)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        let start = Instant::now();
        while pids.iter().any(|pid| process_exists(*pid)) {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "processes left: {pids:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A live (not zombie) process with this pid exists.
    pub(crate) fn process_exists(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }
}

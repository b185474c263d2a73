//! The shell fork server. Starting any dynamically linked program costs ~0.7 ms on the virtual
//! machines Saker is measured on (the dynamic loader and glibc's start-up, whose CPUID
//! instructions each exit to the hypervisor), more than a short shell command's own work. A warm
//! `/bin/sh` forks a subshell in ~0.1 ms, so `/bin/sh -c SCRIPT` runs in a subshell of a
//! long-lived shell when it can; nothing else about the run changes (see `process.rs`).
//!
//! A server is a `/bin/sh -s` reading requests on its stdin and answering on its stdout. It runs
//! one task at a time (a pool keeps the idle ones), with job control (`set -m`), so each task's
//! subshell leads its own process group: kills and leftover detection work on it as on a spawned
//! process. Job control needs a controlling terminal when it is turned on: the server is started
//! as a session leader on a pseudo-terminal that is closed right after, so the tasks have no
//! controlling terminal (as under a service manager) and the server ignores that hang-up.
//!
//! A request is shell code built here, every value single-quoted: open the two FIFOs the runtime
//! reads (stdout, stderr), start the subshell in the background (stdin `/dev/null`, the options
//! and SIGHUP a fresh `sh -c` has, the task's directory and environment, then `eval` of the
//! script), answer `P <pid>`, wait for it, answer `E <status>` (`128 + signal` when a signal
//! ended it, like a spawned process).
//!
//! What differs from a spawned `sh -c` (docs/scripts.md): the shell's own error messages name
//! `eval` after the line number (`/bin/sh: 2: eval: foo: not found`). `$$` would be the server's
//! pid, so a script mentioning `$$` or `${$}` is spawned, as is a task whose environment names a
//! variable the shell treats specially or that is not a shell name. `SAKER_SHELL_FORK_SERVER=false`
//! turns the server off; anything failing before the subshell exists falls back to spawning.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::process::{ExitReport, Forked, ProcessSpec};

/// Idle servers kept for the next tasks; one more is started when all are busy.
const MAX_IDLE: usize = 8;

/// Variables the shell reads or sets itself: a task setting one is spawned, where the shell
/// takes it from its environment at start-up.
const SPECIAL: &[&str] = &[
    "IFS", "PS1", "PS2", "PS4", "PPID", "OPTIND", "OPTARG", "PWD", "OLDPWD", "ENV", "LINENO",
];

/// Whether the server is enabled (`SAKER_SHELL_FORK_SERVER`, default on, Linux only).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        cfg!(target_os = "linux") && !super::process::switched_off("SAKER_SHELL_FORK_SERVER")
    })
}

/// The script of `spec` when a server can run it: exactly `/bin/sh -c SCRIPT`.
pub fn eligible(spec: &ProcessSpec) -> Option<&str> {
    let [shell, flag, script] = spec.argv.as_slice() else {
        return None;
    };
    let names_ok = spec.env.iter().all(|(name, _)| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
            && !SPECIAL.contains(&name.as_str())
    });
    let ok = shell == "/bin/sh"
        && flag == "-c"
        && spec.fork.is_none()
        && names_ok
        && !script.contains("$$")
        && !script.contains("${$}")
        && !script.contains('\0')
        && !spec.env.iter().any(|(_, value)| value.contains('\0'))
        && enabled()
        && !BROKEN.load(Ordering::Relaxed);
    ok.then_some(script.as_str())
}

/// Set once a server could not turn job control on: this host always spawns.
static BROKEN: AtomicBool = AtomicBool::new(false);

struct Server {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn pool() -> &'static Mutex<Vec<Server>> {
    static POOL: OnceLock<Mutex<Vec<Server>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

fn give_back(server: Server) {
    let mut idle = pool().lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < MAX_IDLE {
        idle.push(server);
    }
    // Otherwise dropped: its stdin closes and it exits.
}

/// Single quotes for the shell (a quote inside becomes `'\''`).
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Starts a server: a session leader (`setsid`) that opens a new pseudo-terminal, which
/// becomes its controlling terminal, turns job control on, then loses the terminal when it is
/// closed here. `None` when it cannot be done on this host.
async fn start() -> Option<Server> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).ok()?;
    grantpt(&master).ok()?;
    unlockpt(&master).ok()?;
    let terminal = ptsname_r(&master).ok()?;
    // setsid(1) rather than a pre-exec hook: this crate has no unsafe code. It execs the shell
    // in place, the spawned process not leading a group.
    let spawned = Command::new("setsid")
        .args(["/bin/sh", "-s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = spawned else {
        BROKEN.store(true, Ordering::Relaxed);
        return None;
    };
    let stdin = child.stdin.take()?;
    let stdout = BufReader::new(child.stdout.take()?);
    let mut server = Server {
        _child: child,
        stdin,
        stdout,
    };
    // A session leader's first terminal opened without O_NOCTTY becomes its controlling one.
    // The hang-up when it is closed must not end the server (the subshells restore SIGHUP).
    let init = format!(
        "trap '' HUP; exec 9<>{}; set -m; exec 9>&-; case $- in *m*) echo R;; *) echo N;; esac\n",
        quote(&terminal)
    );
    let ready = match server.stdin.write_all(init.as_bytes()).await {
        Ok(()) => read_line(&mut server.stdout).await,
        Err(_) => None,
    };
    drop(master);
    if ready.as_deref() != Some("R") {
        BROKEN.store(true, Ordering::Relaxed);
        return None;
    }
    Some(server)
}

async fn read_line(stdout: &mut BufReader<ChildStdout>) -> Option<String> {
    let mut line = String::new();
    match stdout.read_line(&mut line).await {
        Ok(n) if n > 0 => Some(line.trim_end().to_owned()),
        _ => None,
    }
}

/// The request running `script` as `spec` says, its output going to the FIFOs `out`, `err`.
fn request(script: &str, spec: &ProcessSpec, out: &Path, err: &Path) -> Option<String> {
    let cwd = quote(spec.cwd.to_str()?);
    let mut exports = String::new();
    for (name, value) in &spec.env {
        exports.push(' ');
        exports.push_str(&quote(&format!("{name}={value}")));
    }
    // `cd` sets OLDPWD, which a fresh shell has only from its environment.
    let oldpwd = match std::env::var("OLDPWD") {
        Ok(value) => format!("export OLDPWD={}", quote(&value)),
        Err(_) => "unset OLDPWD".to_owned(),
    };
    // One line, so one command for the server: between two, a shell with job control reports
    // and forgets the jobs that ended, and `wait` would not know the subshell any more.
    Some(format!(
        "exec 3>{out} 4>{err}; \
         ( exec 1>&3 2>&4 3>&- 4>&- </dev/null; set +ms; trap - HUP; cd -- {cwd} || exit 126; \
         {oldpwd}; export{exports} PWD={cwd}; eval {script} ) & \
         exec 3>&- 4>&-; echo \"P $!\"; wait $!; echo \"E $?\"\n",
        out = quote(out.to_str()?),
        err = quote(err.to_str()?),
        script = quote(script),
    ))
}

/// The two FIFOs of one request, removed when dropped (the ends opened stay usable).
struct Fifos {
    out: PathBuf,
    err: PathBuf,
}

impl Fifos {
    fn create() -> Option<Fifos> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!(".saker-sh-{}-{n}", std::process::id()));
        let fifos = Fifos {
            out: base.with_extension("out"),
            err: base.with_extension("err"),
        };
        for path in [&fifos.out, &fifos.err] {
            nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).ok()?;
        }
        Some(fifos)
    }
}

impl Drop for Fifos {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

/// A request on its way: what must outlive it when its caller goes away before the pid is
/// known (a timeout, a kill). Dropped armed, it closes the server's stdin (a partial request is
/// then a syntax error that runs nothing; a whole one still answers) and, from a task, waits
/// for the pid and kills the subshell's group; the FIFOs' read ends stay open until then, since
/// the server's opening for writing waits for a reader.
struct Launch {
    server: Server,
    stdout: pipe::Receiver,
    stderr: pipe::Receiver,
    fifos: Fifos,
}

struct Armed(Option<Launch>);

impl Drop for Armed {
    fn drop(&mut self) {
        let Some(launch) = self.0.take() else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Launch {
            server,
            stdout,
            stderr,
            fifos,
        } = launch;
        let Server {
            _child: child,
            stdin,
            stdout: mut replies,
        } = server;
        drop(stdin);
        handle.spawn(async move {
            if let Some(pid) = read_pid(&mut replies).await {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            drop((child, stdout, stderr, fifos));
        });
    }
}

async fn read_pid(replies: &mut BufReader<ChildStdout>) -> Option<i32> {
    read_line(replies)
        .await
        .and_then(|line| line.strip_prefix("P ")?.parse::<i32>().ok())
        .filter(|pid| *pid > 0)
}

/// Writes `request` to the idle server: at once when it fits in one atomic pipe write (the
/// usual case: no await, so no partial request), else with awaits.
async fn send(stdin: &mut ChildStdin, request: &[u8]) -> io::Result<()> {
    if request.len() <= PIPE_BUF {
        match nix::unistd::write(&*stdin, request) {
            Ok(n) if n == request.len() => return Ok(()),
            Ok(_) => return Err(io::Error::other("short atomic write")),
            Err(nix::errno::Errno::EAGAIN) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    stdin.write_all(request).await
}

/// Bytes a pipe write is atomic up to (POSIX `PIPE_BUF`, 4096 on Linux).
const PIPE_BUF: usize = 4096;

/// Starts `script` in a subshell of a server. `None` when no server can run it: the caller
/// spawns the shell instead (nothing ran).
pub async fn fork(script: &str, spec: &ProcessSpec) -> Option<Forked> {
    let taken = pool().lock().unwrap_or_else(|e| e.into_inner()).pop();
    let server = match taken {
        Some(server) => server,
        None => start().await?,
    };
    let fifos = Fifos::create()?;
    // Open before the request: the server's opening for writing waits for a reader.
    let stdout = pipe::OpenOptions::new().open_receiver(&fifos.out).ok()?;
    let stderr = pipe::OpenOptions::new().open_receiver(&fifos.err).ok()?;
    let request = request(script, spec, &fifos.out, &fifos.err)?;
    let mut armed = Armed(Some(Launch {
        server,
        stdout,
        stderr,
        fifos,
    }));
    let launch = armed.0.as_mut()?;
    if send(&mut launch.server.stdin, request.as_bytes())
        .await
        .is_err()
    {
        // A dead server: nothing started (dropped unarmed).
        armed.0 = None;
        return None;
    }
    let pid = read_pid(&mut launch.server.stdout).await;
    let Launch {
        mut server,
        stdout,
        stderr,
        fifos,
    } = armed.0.take()?;
    // Both ends of each FIFO are open (or the server is lost): the names can go.
    drop(fifos);
    let pid = pid?;
    let exit = ExitReport::new(async move {
        let line = read_line(&mut server.stdout).await;
        let code = line
            .as_deref()
            .and_then(|line| line.strip_prefix("E ")?.parse::<i32>().ok())
            .ok_or_else(|| {
                io::Error::other(
                    "the shell fork server stopped before the script ended (its exit code is unknown)",
                )
            })?;
        give_back(server);
        Ok(code)
    });
    Some(Forked {
        pid,
        stdout,
        stderr,
        exit,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::process::tests::{dropped_run_leaves_nothing, process_exists};
    use super::super::process::{Line, Stream, run};
    use super::*;

    fn spec(shell: &str, script: &str, env: &[(&str, &str)]) -> ProcessSpec {
        ProcessSpec {
            argv: vec![shell.into(), "-c".into(), script.into()],
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: std::env::temp_dir(),
            fork: None,
        }
    }

    async fn output(spec: &ProcessSpec) -> (i32, Vec<Line>) {
        let mut lines = Vec::new();
        let exit = run(spec, None, |l| lines.push(l)).await.unwrap();
        (exit.code, lines)
    }

    fn texts(lines: &[Line], stream: Stream) -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text.clone())
            .collect()
    }

    /// What a script sees of its process: options, directory, environment, signal dispositions,
    /// whether it leads its own process group and has no terminal; and who its parent is.
    const PROBE: &str = r#"echo "opts=[$-] pwd=$PWD here=$(pwd) var=$SAKER_T quote=$SAKER_Q"
while read -r key value; do case $key in SigIgn:|SigBlk:) echo "$key $value";; esac; done </proc/self/status
read -r stat </proc/self/stat; pid=${stat%% *}; set -- ${stat##*) }
echo "state=$1 own-group=$([ "$3" = "$pid" ] && echo yes || echo no) tty=$5"
echo "parent=$(tr '\0' ' ' </proc/$2/cmdline)"
echo err >&2; exit 3"#;

    #[tokio::test]
    async fn a_forked_shell_sees_what_a_spawned_one_sees() {
        let env = [("SAKER_T", "v w"), ("SAKER_Q", "it's")];
        let forked = spec("/bin/sh", PROBE, &env);
        assert_eq!(eligible(&forked), Some(PROBE));
        let (code, lines) = output(&forked).await;
        let (spawned_code, spawned_lines) = output(&spec("sh", PROBE, &env)).await;
        assert_eq!((code, spawned_code), (3, 3));
        let out = texts(&lines, Stream::Stdout);
        let spawned = texts(&spawned_lines, Stream::Stdout);
        // Everything but the parent (and the terminal, which the test runner may have) is equal.
        assert_eq!(out[..3], spawned[..3], "{out:?} {spawned:?}");
        let dir = std::env::temp_dir().display().to_string();
        assert_eq!(
            out[0],
            format!("opts=[] pwd={dir} here={dir} var=v w quote=it's")
        );
        assert!(
            out[3].contains("own-group=yes") && out[3].ends_with("tty=0"),
            "{out:?}"
        );
        assert_eq!(out[4], "parent=/bin/sh -s ", "{out:?}");
        assert!(spawned[4] != out[4], "{spawned:?}");
        assert_eq!(texts(&lines, Stream::Stderr), vec!["err"]);
    }

    #[tokio::test]
    async fn exit_codes_signals_and_errors_are_a_spawned_shells() {
        let cases = [
            ("true", 0),
            ("set -e\nfalse\necho no", 1),
            ("no_such_command_here", 127),
            ("echo 'unterminated", 2),
            // The subshell itself killed by a signal: 128 + 9.
            ("kill -9 $(exec sh -c 'echo $PPID')", 137),
        ];
        for (script, expected) in cases {
            let (code, lines) = output(&spec("/bin/sh", script, &[])).await;
            assert_eq!(code, expected, "{script}: {lines:?}");
        }
        let (_, lines) = output(&spec("/bin/sh", "no_such_command_here", &[])).await;
        assert_eq!(
            texts(&lines, Stream::Stderr),
            vec!["/bin/sh: 1: eval: no_such_command_here: not found"]
        );
    }

    #[test]
    fn scripts_the_server_would_change_are_spawned() {
        let plain = spec("/bin/sh", "echo hi", &[]);
        assert!(eligible(&plain).is_some());
        assert!(eligible(&spec("/bin/sh", "echo $$", &[])).is_none());
        assert!(eligible(&spec("/bin/sh", "echo ${$}", &[])).is_none());
        assert!(eligible(&spec("/bin/bash", "echo hi", &[])).is_none());
        assert!(eligible(&spec("/bin/sh", "echo hi", &[("IFS", ":")])).is_none());
        assert!(eligible(&spec("/bin/sh", "echo hi", &[("A-B", "1")])).is_none());
        assert!(eligible(&spec("/bin/sh", "echo hi", &[("_OK1", "1")])).is_some());
        let mut three = plain.clone();
        three.argv.push("arg".into());
        assert!(eligible(&three).is_none());
    }

    #[tokio::test]
    async fn concurrent_scripts_each_get_their_own_server_and_output() {
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..12 {
            runs.spawn(async move {
                let value = format!("value-{i}");
                let spec = spec(
                    "/bin/sh",
                    "sleep 0.2; echo \"$SAKER_T\"; echo \"e-$SAKER_T\" >&2",
                    &[("SAKER_T", &value)],
                );
                let (code, lines) = output(&spec).await;
                (i, code, lines)
            });
        }
        for (i, code, lines) in runs.join_all().await {
            assert_eq!(code, 0);
            assert_eq!(texts(&lines, Stream::Stdout), vec![format!("value-{i}")]);
            assert_eq!(texts(&lines, Stream::Stderr), vec![format!("e-value-{i}")]);
        }
        let idle = pool().lock().unwrap().len();
        assert!((1..=MAX_IDLE).contains(&idle), "{idle}");
    }

    #[tokio::test]
    async fn a_request_abandoned_before_its_pid_is_read_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let script = format!(
            "sleep 100 & echo $! > {p}; sh -c 'echo $PPID' >> {p}; wait",
            p = pidfile.display()
        );
        let spec = spec("/bin/sh", &script, &[]);
        let fifos = Fifos::create().unwrap();
        let mut launch = Launch {
            server: start().await.unwrap(),
            stdout: pipe::OpenOptions::new().open_receiver(&fifos.out).unwrap(),
            stderr: pipe::OpenOptions::new().open_receiver(&fifos.err).unwrap(),
            fifos,
        };
        let request = request(&script, &spec, &launch.fifos.out, &launch.fifos.err).unwrap();
        send(&mut launch.server.stdin, request.as_bytes())
            .await
            .unwrap();
        // The caller goes away without reading the pid.
        drop(Armed(Some(launch)));
        let start = Instant::now();
        let pids = loop {
            let pids: Vec<i32> = std::fs::read_to_string(&pidfile)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            if pids.len() == 2 || start.elapsed() > Duration::from_secs(2) {
                break pids;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Killed at once, or before it even wrote both pids.
        while pids.iter().any(|pid| process_exists(*pid)) {
            assert!(start.elapsed() < Duration::from_secs(3), "left: {pids:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn leftovers_and_a_dropped_run_end_the_subshells_group() {
        let start = Instant::now();
        let (exit_code, lines) = output(&spec("/bin/sh", "sleep 30 & echo started", &[])).await;
        assert_eq!(
            (exit_code, texts(&lines, Stream::Stdout)),
            (0, vec!["started".to_owned()])
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let script = format!(
            "sleep 100 & echo $! > {p}; sh -c 'echo $PPID' >> {p}",
            p = pidfile.display()
        );
        let spec = spec("/bin/sh", &format!("{script}; wait"), &[]);
        assert!(eligible(&spec).is_some());
        dropped_run_leaves_nothing(&spec, &pidfile).await;
    }
}

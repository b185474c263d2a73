//! PostgreSQL restarted during a run: a server (store and queue on PostgreSQL, no in-process
//! workers) and a worker process run executions while the database restarts; both reconnect,
//! every execution ends SUCCESS and no task run ends twice.
//!
//! The machine's PostgreSQL is shared, so the test starts a private throw-away cluster
//! (`initdb` + `pg_ctl` in a temporary directory, on a free port) and restarts that one. It is
//! skipped, with a message, when the PostgreSQL server binaries are not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Proc, free_port, json_request, wait_for_ping};
use serde_json::{Value, json};

/// The directory of `initdb`/`pg_ctl`: `SAKER_TEST_PG_BIN`, else `pg_config --bindir`, else
/// the Debian layout.
fn pg_bin() -> Option<PathBuf> {
    let candidates = std::env::var("SAKER_TEST_PG_BIN")
        .ok()
        .into_iter()
        .chain(
            Command::new("pg_config")
                .arg("--bindir")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        )
        .chain(
            ["17", "16", "15", "14", "13"]
                .iter()
                .map(|v| format!("/usr/lib/postgresql/{v}/bin")),
        );
    candidates
        .map(PathBuf::from)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// A private PostgreSQL cluster, stopped and deleted on drop. PostgreSQL refuses to run as
/// root, so as root its commands run as the `postgres` user (`runuser`).
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn start(bin: PathBuf) -> Result<Cluster, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let data = dir.path().join("pg");
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err("cannot give the cluster directory to the postgres user".into());
            }
        }
        let cluster = Cluster {
            bin,
            data,
            port: free_port(),
            as_postgres,
            _dir: dir,
        };
        let out = cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&cluster.data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        cluster.pg_ctl("start")?;
        Ok(cluster)
    }

    fn pg_ctl(&self, action: &str) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let out = self
            .command("pg_ctl")
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.join("server.log"))
            .arg(action)
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl {action}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {action} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl("stop");
    }
}

fn spawn_server(dir: &Path, url: &str) -> (Proc, u16) {
    let port = free_port();
    let log = std::fs::File::create(dir.join("server.log")).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .args(["--database-url", url, "--queue-url", url, "--workers", "0"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let child = Proc(child);
    wait_for_ping(port);
    (child, port)
}

fn spawn_worker(dir: &Path, url: &str) -> Proc {
    let log = std::fs::File::create(dir.join("worker.log")).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "worker", "--threads", "4"])
        .args(["--queue-url", url, "--database-url", url])
        .args(["--data-dir", "data", "--lease", "5"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the worker starts");
    Proc(child)
}

const FLOW: &str = r#"id: steps
namespace: qa
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - sleep 1
      - echo {{ outputs.first.value }}
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "done {{ outputs.first.value }}"
"#;

fn terminal_states(state: &Value) -> Vec<String> {
    const TERMINAL: [&str; 6] = [
        "SUCCESS",
        "WARNING",
        "FAILED",
        "KILLED",
        "CANCELLED",
        "SKIPPED",
    ];
    state["histories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["state"].as_str())
        .filter(|s| TERMINAL.contains(s))
        .map(str::to_owned)
        .collect()
}

/// The execution, or `None` while the server cannot read it (the database is down).
fn execution(port: u16, id: &str) -> Option<Value> {
    match json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None) {
        (200, execution) => Some(execution),
        _ => None,
    }
}

#[test]
fn executions_survive_a_postgresql_restart() {
    let Some(bin) = pg_bin() else {
        eprintln!(
            "skipped: no PostgreSQL server binaries (initdb, pg_ctl) found; set SAKER_TEST_PG_BIN"
        );
        return;
    };
    let cluster = match Cluster::start(bin) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("skipped: cannot start a private PostgreSQL cluster: {e}");
            return;
        }
    };
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = spawn_server(dir.path(), &url);
    let _worker = spawn_worker(dir.path(), &url);
    let (status, created) = json_request(
        port,
        "POST",
        "/api/v1/flows",
        FLOW.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{created}");
    let total = 24;
    let mut ids = Vec::new();
    for _ in 0..total {
        let (status, execution) =
            json_request(port, "POST", "/api/v1/executions/qa/steps", b"", None);
        assert_eq!(status, 200, "{execution}");
        ids.push(execution["id"].as_str().unwrap().to_owned());
    }
    let ended = |ids: &[String]| -> Vec<Value> {
        ids.iter()
            .filter_map(|id| execution(port, id))
            .filter(|e| terminal_states(&e["state"]).len() == 1)
            .collect()
    };
    // Restart once some executions are through and others are running.
    let deadline = Instant::now() + Duration::from_secs(120);
    while ended(&ids).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "no execution ended before the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.pg_ctl("stop").expect("PostgreSQL stops");
    std::thread::sleep(Duration::from_secs(2));
    cluster.pg_ctl("start").expect("PostgreSQL starts again");

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut finished = Vec::new();
    while Instant::now() < deadline {
        finished = ended(&ids);
        if finished.len() == total {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    assert_eq!(
        finished.len(),
        total,
        "every execution ended\nserver:\n{}\nworker:\n{}",
        log("server.log"),
        log("worker.log")
    );
    for execution in &finished {
        let id = execution["id"].as_str().unwrap();
        assert_eq!(
            execution["state"]["current"],
            json!("SUCCESS"),
            "{execution}"
        );
        let runs = execution["taskRunList"].as_array().unwrap();
        assert_eq!(runs.len(), 3, "{id}");
        for run in runs {
            assert_eq!(
                terminal_states(&run["state"]),
                vec!["SUCCESS".to_owned()],
                "task run {} of {id} ended once",
                run["taskId"]
            );
        }
        let last = runs.iter().find(|r| r["taskId"] == "last").unwrap();
        assert_eq!(last["outputs"]["value"], json!(format!("done {id}")));
    }
    // The server still takes new work after the restart.
    let (status, execution) = json_request(port, "POST", "/api/v1/executions/qa/steps", b"", None);
    assert_eq!(status, 200, "{execution}");
}

//! Retention for real: `server local` with `SAKER_RETENTION_*` deletes ended executions with
//! their files, and a flow running `PurgeExecutions` / `PurgeLogs` (Kestra's way) deletes
//! through the server's store.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Proc, free_port, json_request, post_flow, wait_for_ping};
use serde_json::{Value, json};

fn spawn_server(dir: &Path, vars: &[(&str, &str)]) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .envs(vars.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let child = Proc(child);
    wait_for_ping(port);
    (child, port)
}

/// A flow writing a file into its execution's storage.
const WRITER: &str = r#"id: writer
namespace: qa
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "hello"
    extension: .txt
"#;

/// Runs `namespace.flow` and waits for its end (`?wait=true`).
fn run(port: u16, namespace: &str, flow: &str) -> Value {
    let (status, execution) = json_request(
        port,
        "POST",
        &format!("/api/v1/executions/{namespace}/{flow}?wait=true"),
        b"",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(
        execution["state"]["current"],
        json!("SUCCESS"),
        "{execution}"
    );
    execution
}

fn status_of(port: u16, id: &str) -> u16 {
    json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None).0
}

/// How many files are under `dir` (0 when it does not exist).
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        files_under(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn the_server_deletes_ended_executions_and_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = spawn_server(
        dir.path(),
        &[
            ("SAKER_RETENTION_EXECUTIONS", "PT1S"),
            ("SAKER_RETENTION_INTERVAL", "1s"),
        ],
    );
    post_flow(port, WRITER);
    let execution = run(port, "qa", "writer");
    let id = execution["id"].as_str().unwrap();
    let executions_dir = dir
        .path()
        .join("data/storage/qa/writer/executions")
        .join(id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while status_of(port, id) != 404 {
        assert!(Instant::now() < deadline, "the execution was not purged");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(files_under(&executions_dir), 0, "its files are gone");
    // The flow itself stays.
    let (status, _) = json_request(port, "GET", "/api/v1/flows/qa/writer", b"", None);
    assert_eq!(status, 200);
}

#[test]
fn purge_tasks_delete_through_the_servers_store() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = spawn_server(dir.path(), &[]);
    post_flow(port, WRITER);
    let old = run(port, "qa", "writer");
    let old_id = old["id"].as_str().unwrap().to_owned();
    post_flow(
        port,
        r#"id: purge
namespace: system
tasks:
  - id: executions
    type: io.kestra.plugin.core.execution.PurgeExecutions
    namespace: qa
    endDate: "{{ now() }}"
    purgeLog: false
  - id: logs
    type: io.kestra.plugin.core.log.PurgeLogs
    namespace: qa
    endDate: "{{ now() }}"
"#,
    );
    let purge = run(port, "system", "purge");
    let outputs = |task: &str| {
        purge["taskRunList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["taskId"] == task)
            .unwrap()["outputs"]
            .clone()
    };
    assert_eq!(outputs("executions")["executionsCount"], json!(1));
    assert_eq!(outputs("executions")["storagesCount"], json!(1));
    assert_eq!(status_of(port, &old_id), 404);
    // The purge flow's own execution was running: it is kept.
    assert_eq!(status_of(port, purge["id"].as_str().unwrap()), 200);
}

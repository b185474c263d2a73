//! Remote workers for real: one server (executor + API, no in-process workers) and worker
//! processes on one PostgreSQL queue (a fresh database per test, from `SAKER_TEST_PG_URL`).
//! A worker is SIGKILLed mid-run: its leased jobs run again on the other worker, every
//! execution ends SUCCESS and no task run ends twice.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Proc, free_port, json_request, request, terminal_states};
use saker_queue_pg::testdb::TestDb;
use serde_json::{Value, json};

fn spawn_server(dir: &Path, queue_url: &str) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .args(["--queue-url", queue_url, "--workers", "0"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let child = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", b"", None) {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not answer /ping");
}

fn spawn_worker(dir: &Path, queue_url: &str, threads: usize, log: &str) -> Proc {
    let log = std::fs::File::create(dir.join(log)).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "worker", "--threads", &threads.to_string()])
        .args([
            "--queue-url",
            queue_url,
            "--data-dir",
            "data",
            "--lease",
            "3",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the worker starts");
    Proc(child)
}

const FLOW: &str = r#"id: mixed
namespace: qa
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: slow
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - sleep 1
          - echo slow {{ outputs.first.value }}
      - id: fast
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - echo fast
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "done {{ outputs.first.value }}"
"#;

fn execution(port: u16, id: &str) -> Value {
    let (status, execution) =
        json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
    assert_eq!(status, 200, "{execution}");
    execution
}

#[test]
fn a_killed_workers_task_runs_run_again_elsewhere() {
    let db = {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime
            .block_on(TestDb::create("e2e_workers"))
            .expect("a test database")
    };
    let url = db.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = spawn_server(dir.path(), &url);
    let mut doomed = Some(spawn_worker(dir.path(), &url, 4, "doomed.log"));
    let _survivor = spawn_worker(dir.path(), &url, 4, "survivor.log");

    let (status, created) = json_request(
        port,
        "POST",
        "/api/v1/flows",
        FLOW.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{created}");
    // Both workers report themselves live.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut workers = Value::Null;
    while Instant::now() < deadline {
        workers = json_request(port, "GET", "/api/v1/workers", b"", None).1;
        if workers.as_array().is_some_and(|w| w.len() == 2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(workers.as_array().map(Vec::len), Some(2), "{workers}");
    assert_eq!(workers[0]["threads"], json!(4));
    // "Saker worker <id> started (...)"
    let started = std::fs::read_to_string(dir.path().join("doomed.log")).unwrap();
    let doomed_id = started
        .lines()
        .find_map(|l| l.strip_prefix("Saker worker "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the worker prints its id")
        .to_owned();
    let mut killed_at = None;
    let total = 60;
    let mut ids = Vec::new();
    for _ in 0..total {
        let (status, execution) =
            json_request(port, "POST", "/api/v1/executions/qa/mixed", b"", None);
        assert_eq!(status, 200, "{execution}");
        ids.push(execution["id"].as_str().unwrap().to_owned());
    }

    // Kill one worker once some executions are through (so both workers are busy mid-run).
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut finished = Vec::new();
    while Instant::now() < deadline {
        finished = ids
            .iter()
            .map(|id| execution(port, id))
            .filter(|e| terminal_states(&e["state"]).len() == 1)
            .collect::<Vec<_>>();
        if doomed.is_some() && finished.len() >= 10 {
            let mut worker = doomed.take().unwrap();
            worker.0.kill().expect("SIGKILL the worker");
            let _ = worker.0.wait();
            killed_at = Some(chrono::Utc::now());
        }
        if finished.len() == total {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(doomed.is_none(), "the worker was killed mid-run");
    assert_eq!(finished.len(), total, "every execution ended");
    // Task runs the killed worker had started ended after its death: another worker ran them.
    let killed_at = killed_at.unwrap();
    let rerun = finished
        .iter()
        .flat_map(|e| e["taskRunList"].as_array().cloned().unwrap_or_default())
        .filter(|run| run["attempts"][0]["workerId"] == json!(doomed_id))
        .filter(|run| {
            let ended = run["state"]["histories"]
                .as_array()
                .and_then(|h| h.last())
                .and_then(|h| h["date"].as_str())
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok());
            ended.is_some_and(|ended| ended > killed_at)
        })
        .count();
    assert!(rerun > 0, "no task run of the killed worker was run again");
    for execution in &finished {
        let id = &execution["id"];
        assert_eq!(
            execution["state"]["current"],
            json!("SUCCESS"),
            "{execution}"
        );
        let runs = execution["taskRunList"].as_array().unwrap();
        assert_eq!(runs.len(), 5, "{id}");
        for run in runs {
            assert_eq!(
                terminal_states(&run["state"]),
                vec!["SUCCESS".to_owned()],
                "task run {} of {id} ended once",
                run["taskId"]
            );
            let attempts = run["attempts"].as_array().map_or(0, Vec::len);
            assert!(
                attempts <= 1,
                "task run {} of {id}: {attempts} attempts",
                run["taskId"]
            );
        }
        let last = runs.iter().find(|r| r["taskId"] == "last").unwrap();
        assert_eq!(
            last["outputs"]["value"],
            json!(format!("done {}", id.as_str().unwrap()))
        );
    }

    // Done rows are gone: the queue only holds work in flight.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (jobs, reports): (i64, i64) = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM saker_queue_jobs), \
                    (SELECT count(*) FROM saker_queue_reports)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    });
    assert_eq!((jobs, reports), (0, 0));
}

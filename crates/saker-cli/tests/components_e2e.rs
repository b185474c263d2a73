//! The components for real, on one PostgreSQL database (a fresh one per test, from
//! `SAKER_TEST_PG_URL`): 1 webserver, 2 executors, 3 workers, 1 scheduler. Executions of a
//! mixed flow (Return, shell, Parallel, Subflow) are posted over HTTP; mid-run one worker is
//! SIGKILLed and one executor is SIGKILLed and started again. Every execution ends SUCCESS and
//! no task run ends twice.

mod common;

use std::time::{Duration, Instant};

use common::components::{executor, scheduler, webserver, worker};
use common::{json_request, post_flow, request, terminal_states};
use saker_queue_pg::testdb::TestDb;
use serde_json::{Value, json};

const CHILD: &str = r#"id: child
namespace: qa
tasks:
  - id: hello
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo child
"#;

const FLOW: &str = r#"id: mixed
namespace: qa
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: shell
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - sleep 0.5
          - echo shell {{ outputs.first.value }}
      - id: fast
        type: io.kestra.plugin.core.debug.Return
        format: fast
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: qa
    flowId: child
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "done {{ outputs.first.value }}"
"#;

/// How many executions each executor process (by pid) owns now.
fn owned_by_pid(url: &str) -> std::collections::HashMap<u32, i64> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let rows: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT e.pid, count(o.execution_id) FROM saker_executors e \
             LEFT JOIN saker_execution_owners o ON o.executor_id = e.id GROUP BY e.pid",
        )
        .fetch_all(&pool)
        .await
        .expect("owners");
        pool.close().await;
        rows.into_iter()
            .map(|(pid, count)| (u32::try_from(pid).unwrap_or_default(), count))
            .collect()
    })
}

fn execution(port: u16, id: &str) -> Value {
    let (status, execution) =
        json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
    assert_eq!(status, 200, "{execution}");
    execution
}

/// Processed once: ended SUCCESS once, and so did every task run.
fn check_once(execution: &Value, runs: usize) {
    let id = &execution["id"];
    assert_eq!(
        terminal_states(&execution["state"]),
        vec!["SUCCESS".to_owned()],
        "{execution}"
    );
    let list = execution["taskRunList"].as_array().unwrap();
    assert_eq!(list.len(), runs, "{id}");
    for run in list {
        assert_eq!(
            terminal_states(&run["state"]),
            vec!["SUCCESS".to_owned()],
            "task run {} of {id} ended once",
            run["taskId"]
        );
    }
}

#[test]
fn components_survive_a_killed_worker_and_a_restarted_executor() {
    run(100);
}

/// The issue's full size (a few minutes on a debug build): `cargo nextest run --run-ignored
/// only -p saker-cli components`.
#[test]
#[ignore = "1,000 executions: minutes"]
fn a_thousand_executions_on_the_components() {
    run(1000);
}

fn run(total: usize) {
    let db = {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime
            .block_on(TestDb::create("e2e_components"))
            .expect("a test database")
    };
    // Small pools: seven processes share the test server's connection limit.
    let url = format!("{}?max_connections=3", db.url());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    // The webserver migrates the database first; the others start beside it.
    let (_web, port) = webserver(path, &url);
    let mut executors = [
        Some(executor(path, &url, "executor1.log")),
        Some(executor(path, &url, "executor2.log")),
    ];
    let mut doomed_worker = Some(worker(path, &url, "worker1.log"));
    let _worker2 = worker(path, &url, "worker2.log");
    let _worker3 = worker(path, &url, "worker3.log");
    let (_scheduler, health_port) = scheduler(path, &url, &[]);
    let (status, _) = request(health_port, "GET", "/api/v1/flows/search", b"", None).unwrap();
    assert_eq!(status, 404, "the scheduler serves no API");

    for source in [CHILD, FLOW] {
        post_flow(port, source);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut live = (Value::Null, Value::Null);
    while Instant::now() < deadline {
        live = (
            json_request(port, "GET", "/api/v1/executors", b"", None).1,
            json_request(port, "GET", "/api/v1/workers", b"", None).1,
        );
        if live.0.as_array().is_some_and(|e| e.len() == 2)
            && live.1.as_array().is_some_and(|w| w.len() == 3)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(live.0.as_array().map(Vec::len), Some(2), "{live:?}");
    assert_eq!(live.1.as_array().map(Vec::len), Some(3), "{live:?}");

    // `wait=true` through the webserver: the end comes back from an executor's notes.
    let (status, waited) = json_request(
        port,
        "POST",
        "/api/v1/executions/qa/mixed?wait=true",
        b"",
        None,
    );
    assert_eq!(status, 200, "{waited}");
    assert_eq!(waited["state"]["current"], json!("SUCCESS"), "{waited}");

    // The worker and the executor owning the most unfinished executions die mid-run: while
    // executions are still being posted (they run about as fast as they are posted), once a
    // third is posted and that executor owns some (one claim may take them all).
    let mut ids = Vec::new();
    let mut restarted = None;
    let mut killed_log = String::new();
    for posted in 0..total {
        let (status, execution) =
            json_request(port, "POST", "/api/v1/executions/qa/mixed", b"", None);
        assert_eq!(status, 200, "{execution}");
        ids.push(execution["id"].as_str().unwrap().to_owned());
        if restarted.is_some() || posted < total / 3 {
            continue;
        }
        let owned = owned_by_pid(db.url());
        let (doomed, count) = executors
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let pid = e.as_ref().map(|e| e.0.id()).unwrap_or_default();
                (i, owned.get(&pid).copied().unwrap_or(0))
            })
            .max_by_key(|(_, count)| *count)
            .unwrap();
        if count > 0 {
            let mut worker = doomed_worker.take().unwrap();
            worker.0.kill().expect("SIGKILL the worker");
            let _ = worker.0.wait();
            let mut old = executors[doomed].take().unwrap();
            old.0.kill().expect("SIGKILL the executor");
            let _ = old.0.wait();
            killed_log = format!("executor{}.log", doomed + 1);
            restarted = Some(executor(path, &url, "executor3.log"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut finished = Vec::new();
    while Instant::now() < deadline {
        finished = ids
            .iter()
            .map(|id| execution(port, id))
            .filter(|e| !terminal_states(&e["state"]).is_empty())
            .collect::<Vec<_>>();
        if finished.len() == total {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        restarted.is_some(),
        "the worker and the executor died mid-run"
    );
    assert_eq!(finished.len(), total, "every execution ended");
    for execution in &finished {
        check_once(execution, 6);
        let runs = execution["taskRunList"].as_array().unwrap();
        let last = runs.iter().find(|r| r["taskId"] == "last").unwrap();
        assert_eq!(
            last["outputs"]["value"],
            json!(format!("done {}", execution["id"].as_str().unwrap()))
        );
        let sub = runs.iter().find(|r| r["taskId"] == "sub").unwrap();
        let child = self::execution(port, sub["outputs"]["executionId"].as_str().unwrap());
        check_once(&child, 1);
    }
    // The killed executor's executions were taken over by the others.
    let logs: String = ["executor1.log", "executor2.log", "executor3.log"]
        .iter()
        .filter(|log| **log != killed_log)
        .map(|log| std::fs::read_to_string(path.join(log)).unwrap_or_default())
        .collect();
    assert!(logs.contains("took over "), "{logs}");
    drop(restarted);
    drop(db);
}

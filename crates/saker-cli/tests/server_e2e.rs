//! Starts the real binary (`saker server local --port <free>` in a temporary directory) and
//! drives it over HTTP with a minimal HTTP/1.1 client; then stops it with SIGTERM.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, json_request, request};
use serde_json::{Value, json};

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (child, port) = spawn_in(dir.path(), None);
    Server {
        child,
        port,
        _dir: dir,
    }
}

/// Starts the binary with `dir` as working directory (so data lives in `dir/data`), on the
/// store of `database_url` when given, and waits until it answers.
fn spawn_in(dir: &std::path::Path, database_url: Option<&str>) -> (Child, u16) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command.args(["server", "local", "--port", &port.to_string()]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", b"", None) {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not answer /ping");
}

#[test]
fn the_binary_serves_the_api_and_stops_on_sigterm() {
    let mut server = start();
    let port = server.port;
    assert!(
        server._dir.path().join("data/storage").is_dir(),
        "data lives under ./data"
    );
    let flow = "id: e2e\nnamespace: test\ninputs:\n  - id: who\n    type: STRING\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.debug.Return\n    format: \"hi {{ inputs.who }}\"\n";
    let (status, created) = json_request(
        port,
        "POST",
        "/api/v1/flows",
        flow.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{created}");
    let body = "--B\r\nContent-Disposition: form-data; name=\"who\"\r\n\r\nthere\r\n--B--\r\n";
    let (status, execution) = json_request(
        port,
        "POST",
        "/api/v1/main/executions/test/e2e?wait=true",
        body.as_bytes(),
        Some("multipart/form-data; boundary=B"),
    );
    assert_eq!(status, 200, "{execution}");
    assert_eq!(execution["state"]["current"], json!("SUCCESS"));
    assert_eq!(
        execution["taskRunList"][0]["outputs"]["value"],
        json!("hi there")
    );
    let id = execution["id"].as_str().unwrap();
    let (status, fetched) =
        json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
    assert_eq!(status, 200);
    assert_eq!(fetched["id"], execution["id"]);
    let (status, error) = json_request(port, "GET", "/api/v1/executions/nope", b"", None);
    assert_eq!(status, 404);
    assert!(error["message"].is_string(), "{error}");

    // A follower that never hangs up must not hold the shutdown.
    let follow_path = format!("/api/v1/logs/{id}/follow");
    let follower = std::thread::spawn(move || request(port, "GET", &follow_path, b"", None));
    std::thread::sleep(Duration::from_millis(300));

    // Graceful stop on SIGTERM.
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = follower
        .join()
        .unwrap()
        .expect("the follow stream ends cleanly");
    assert_eq!(status, 200);
}

/// A server killed with SIGKILL mid-run and restarted on the same data directory finishes
/// every execution, and no task run is recorded twice.
#[test]
fn executions_survive_a_kill_9_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    survive_a_kill_9(dir.path(), None);
    assert!(
        dir.path().join("data/saker.db").is_file(),
        "the store lives in ./data/saker.db"
    );
}

/// The same on PostgreSQL (`--database-url`): nothing of the store is in the data directory.
#[test]
fn executions_survive_a_kill_9_of_the_server_on_postgres() {
    let database = saker_store_sql::testing::TestDatabase::create_blocking();
    let dir = tempfile::tempdir().unwrap();
    survive_a_kill_9(dir.path(), Some(database.url()));
    assert!(!dir.path().join("data/saker.db").exists());
}

fn survive_a_kill_9(dir: &std::path::Path, database_url: Option<&str>) {
    let (mut child, port) = spawn_in(dir, database_url);
    let flow = "id: crash\nnamespace: test\ntasks:\n  - id: first\n    type: io.kestra.plugin.core.debug.Return\n    format: \"one {{ execution.id }}\"\n  - id: nap\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT2S\n  - id: second\n    type: io.kestra.plugin.core.debug.Return\n    format: \"two {{ outputs.first.value }}\"\n";
    let (status, created) = json_request(
        port,
        "POST",
        "/api/v1/flows",
        flow.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{created}");
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (status, execution) =
            json_request(port, "POST", "/api/v1/executions/test/crash", b"", None);
        assert_eq!(status, 200, "{execution}");
        ids.push(execution["id"].as_str().unwrap().to_owned());
    }
    // Let every execution reach its Sleep, then kill the server without a chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in &ids {
        loop {
            let (_, execution) =
                json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
            let runs = execution["taskRunList"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if runs.iter().any(|run| run["taskId"] == json!("nap")) {
                break;
            }
            assert!(Instant::now() < deadline, "{id} never reached its Sleep");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (child, port) = spawn_in(dir, database_url);
    let _server = Server {
        child,
        port,
        _dir: tempfile::tempdir().unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in &ids {
        let execution = loop {
            let (status, execution) =
                json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
            assert_eq!(
                status, 200,
                "{id} is still known after the restart: {execution}"
            );
            let state = execution["state"]["current"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if !matches!(state.as_str(), "CREATED" | "RUNNING" | "QUEUED") {
                break execution;
            }
            assert!(Instant::now() < deadline, "{id} did not end: {execution}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(
            execution["state"]["current"],
            json!("SUCCESS"),
            "{execution}"
        );
        let runs = execution["taskRunList"].as_array().unwrap();
        for task in ["first", "nap", "second"] {
            let of_task: Vec<&Value> = runs.iter().filter(|r| r["taskId"] == json!(task)).collect();
            assert_eq!(of_task.len(), 1, "one run of {task}: {execution}");
            let run = of_task[0];
            assert_eq!(run["state"]["current"], json!("SUCCESS"), "{execution}");
            let successes = run["state"]["histories"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["state"] == json!("SUCCESS"))
                .count();
            assert_eq!(successes, 1, "{task} completed once: {execution}");
        }
        let second = runs
            .iter()
            .find(|r| r["taskId"] == json!("second"))
            .unwrap();
        assert_eq!(
            second["outputs"]["value"],
            json!(format!("two one {id}")),
            "outputs from before the crash are kept"
        );
    }
}

/// Polls execution `id` until `done` holds for it (generous deadline: the machine may be busy).
fn wait_execution(port: u16, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, execution) =
            json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
        if status == 200 && done(&execution) {
            return execution;
        }
        assert!(Instant::now() < deadline, "{id}: {what}: {execution}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("not a date: {value}"))
}

/// Date of the first and last entries of a `state.histories`.
fn span(state: &Value) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let histories = state["histories"].as_array().expect("histories");
    (
        instant(&histories.first().expect("a history")["date"]),
        instant(&histories.last().expect("a history")["date"]),
    )
}

/// A retry interval and a LoopUntil interval that are pending when the server is killed with
/// SIGKILL still wait their full time after the restart (their due instants are derived from
/// the stored execution, not from timers that died with the process).
#[test]
fn pending_retries_and_loop_intervals_keep_their_due_time_across_a_kill_9() {
    const WAIT: i64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = spawn_in(dir.path(), None);
    let flows = [
        format!(
            "id: retried\nnamespace: test\ntasks:\n  - id: flaky\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{{{ taskrun.attemptsCount == 1 ? 'ok' : ko }}}}\"\n    retry:\n      type: constant\n      interval: PT{WAIT}S\n      maxAttempt: 3\n"
        ),
        format!(
            "id: looped\nnamespace: test\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.LoopUntil\n    condition: \"{{{{ false }}}}\"\n    failOnMaxReached: false\n    checkFrequency:\n      interval: PT{WAIT}S\n      maxIterations: 2\n    tasks:\n      - id: tick\n        type: io.kestra.plugin.core.debug.Return\n        format: tick\n"
        ),
    ];
    for flow in &flows {
        let (status, created) = json_request(
            port,
            "POST",
            "/api/v1/flows",
            flow.as_bytes(),
            Some("application/x-yaml"),
        );
        assert_eq!(status, 200, "{created}");
    }
    let start = |flow: &str| {
        let (status, execution) = json_request(
            port,
            "POST",
            &format!("/api/v1/executions/test/{flow}"),
            b"",
            None,
        );
        assert_eq!(status, 200, "{execution}");
        execution["id"].as_str().unwrap().to_owned()
    };
    let (retried, looped) = (start("retried"), start("looped"));
    let run_of = |execution: &Value, task: &str| -> Option<Value> {
        execution["taskRunList"]
            .as_array()?
            .iter()
            .find(|r| r["taskId"] == json!(task))
            .cloned()
    };
    let before = wait_execution(port, &retried, "the retry is pending", |e| {
        run_of(e, "flaky").is_some_and(|r| r["state"]["current"] == json!("RETRYING"))
    });
    let first_attempt_end = span(&run_of(&before, "flaky").unwrap()["attempts"][0]["state"]).1;
    let before = wait_execution(port, &looped, "the first iteration ended", |e| {
        run_of(e, "tick").is_some_and(|r| r["state"]["current"] == json!("SUCCESS"))
    });
    let first_tick_end = span(&run_of(&before, "tick").unwrap()["state"]).1;
    child.kill().unwrap();
    child.wait().unwrap();

    let (child, port) = spawn_in(dir.path(), None);
    let _server = Server {
        child,
        port,
        _dir: tempfile::tempdir().unwrap(),
    };
    let ended = |e: &Value| {
        !matches!(
            e["state"]["current"].as_str(),
            Some("CREATED" | "RUNNING" | "RETRYING" | "QUEUED")
        )
    };
    let after = wait_execution(port, &retried, "ends", ended);
    assert_eq!(after["state"]["current"], json!("SUCCESS"), "{after}");
    let flaky = run_of(&after, "flaky").unwrap();
    let attempts = flaky["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{after}");
    let second_attempt_start = span(&attempts[1]["state"]).0;
    assert!(
        second_attempt_start >= first_attempt_end + chrono::TimeDelta::seconds(WAIT),
        "the retry waited its interval: attempt 1 ended {first_attempt_end}, attempt 2 \
         started {second_attempt_start}"
    );
    let after = wait_execution(port, &looped, "ends", ended);
    assert_eq!(after["state"]["current"], json!("SUCCESS"), "{after}");
    let tick = run_of(&after, "tick").unwrap();
    assert_eq!(
        tick["iteration"],
        json!(1),
        "the second iteration ran: {after}"
    );
    let second_tick_start = span(&tick["state"]).0;
    assert!(
        second_tick_start >= first_tick_end + chrono::TimeDelta::seconds(WAIT),
        "the loop waited its interval: iteration 0 ended {first_tick_end}, iteration 1 \
         started {second_tick_start}"
    );
}

/// A Flow trigger listening to RUNNING, PAUSED and SUCCESS fires once per transition of the
/// upstream execution (RUNNING, PAUSED, RUNNING again after the delay, SUCCESS: 4, as Kestra's
/// `FlowTriggerCaseTest#triggerWithPause` asserts), not once per save of it.
#[test]
fn a_flow_trigger_fires_once_per_state_transition() {
    let server = start();
    let port = server.port;
    let upstream = "id: paused\nnamespace: test.transitions\ntasks:\n  - id: before\n    type: io.kestra.plugin.core.log.Log\n    message: one\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n    delay: PT0.5S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: two\n  - id: last\n    type: io.kestra.plugin.core.log.Log\n    message: three\n";
    let listener = "id: listener\nnamespace: test.transitions\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ trigger.state }}\"\ntriggers:\n  - id: on-state\n    type: io.kestra.plugin.core.trigger.Flow\n    states: [RUNNING, PAUSED, SUCCESS]\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: test.transitions\n        flowId: paused\n";
    for flow in [upstream, listener] {
        let (status, created) = json_request(
            port,
            "POST",
            "/api/v1/flows",
            flow.as_bytes(),
            Some("application/x-yaml"),
        );
        assert_eq!(status, 200, "{created}");
    }
    let (status, execution) = json_request(
        port,
        "POST",
        "/api/v1/executions/test.transitions/paused",
        b"",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    let done = wait_execution(port, &id, "ends", |e| {
        e["state"]["current"] == json!("SUCCESS")
    });
    // The executions are created in the order of the transitions: once the one for SUCCESS
    // exists, every earlier one does.
    let deadline = Instant::now() + Duration::from_secs(60);
    let states = loop {
        let (_, page) = json_request(
            port,
            "GET",
            "/api/v1/executions/search?namespace=test.transitions&flowId=listener&size=100",
            b"",
            None,
        );
        let mut states: Vec<String> = page["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                e["trigger"]["variables"]["state"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        if states.iter().any(|s| s == "SUCCESS") {
            states.sort();
            break states;
        }
        assert!(
            Instant::now() < deadline,
            "no listener execution for SUCCESS: {page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        states,
        ["PAUSED", "RUNNING", "RUNNING", "SUCCESS"],
        "one listener execution per transition of {done}"
    );
}

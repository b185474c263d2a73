//! Script tasks through the REST API of the real binary (`saker server local`, SQLite store):
//! - a kill stops a running script: the execution ends KILLED and no process of the script is
//!   left (a shell task with a background `sleep`, and a Python task run by the fork server with
//!   a `sleep` child). The time from KILLING to KILLED in the state history is printed
//!   (`--nocapture`), never asserted;
//! - metrics sent with the `::{...}::` protocol are stored and served by `/api/v1/metrics`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(port: u16, method: &str, path: &str, body: &[u8], ctype: Option<&str>) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ctype) = ctype {
        head.push_str(&format!("Content-Type: {ctype}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut body = response[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut data = &body[..];
        let mut out = Vec::new();
        while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&data[end + 2..end + 2 + size]);
            data = &data[end + 4 + size..];
        }
        body = out;
    }
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn start(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && request(port, "GET", "/ping", b"", None).0 == 200
        {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn millis(history: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(history["date"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Deploys `task` (YAML lines indented under `tasks:`), starts it, waits until `pids` lists
/// two pids, kills the execution through the API; returns (execution, pids).
fn run_and_kill(server: &Server, id: &str, task: &str, pids: &Path) -> (Value, Vec<i32>) {
    let flow = format!("id: {id}\nnamespace: test.kill\ntasks:\n{task}");
    let (status, body) = request(
        server.port,
        "POST",
        "/api/v1/flows",
        flow.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{body}");
    let (status, execution) = request(
        server.port,
        "POST",
        &format!("/api/v1/executions/test.kill/{id}"),
        b"",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let execution_id = execution["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid_list = loop {
        let listed: Vec<i32> = std::fs::read_to_string(pids)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if listed.len() == 2 {
            break listed;
        }
        assert!(Instant::now() < deadline, "the script never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (status, body) = request(
        server.port,
        "POST",
        &format!("/api/v1/executions/{execution_id}/kill"),
        b"",
        None,
    );
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let execution = loop {
        let (_, execution) = request(
            server.port,
            "GET",
            &format!("/api/v1/executions/{execution_id}"),
            b"",
            None,
        );
        // The execution may be KILLED before the worker's report of its task run arrives.
        if execution["state"]["current"] == "KILLED"
            && execution["taskRunList"][0]["state"]["current"] == "KILLED"
        {
            break execution;
        }
        assert!(Instant::now() < deadline, "not killed: {execution}");
        std::thread::sleep(Duration::from_millis(20));
    };
    (execution, pid_list)
}

fn check(execution: &Value, pids: &[i32], label: &str) {
    let histories = execution["state"]["histories"].as_array().unwrap();
    let killing = histories
        .iter()
        .find(|h| h["state"] == "KILLING")
        .unwrap_or_else(|| panic!("no KILLING state: {execution}"));
    let killed = histories.last().unwrap();
    assert_eq!(killed["state"], "KILLED");
    let task = &execution["taskRunList"][0];
    assert_eq!(task["state"]["current"], "KILLED", "{execution}");
    // Killed processes are gone at once; the bound only keeps a broken kill from hanging.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|pid| alive(*pid)) {
        assert!(
            Instant::now() < deadline,
            "{label}: processes left: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "{label}: KILLING → KILLED in {} ms (execution), task run ended {} ms after KILLING",
        millis(killed) - millis(killing),
        millis(
            task["state"]["histories"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
        ) - millis(killing),
    );
}

#[test]
fn a_kill_through_the_api_stops_shell_and_python_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());

    let pids = dir.path().join("shell-pids");
    let task = format!(
        "  - id: sleepy\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 100 & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; wait\n",
        p = pids.display()
    );
    let (execution, listed) = run_and_kill(&server, "shell", &task, &pids);
    check(&execution, &listed, "shell");

    let pids = dir.path().join("python-pids");
    let task = format!(
        "  - id: sleepy\n    type: io.kestra.plugin.scripts.python.Script\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    script: |\n      import os, subprocess, time\n      child = subprocess.Popen(['sleep', '100'])\n      with open('{p}.tmp', 'w') as f:\n          f.write('%d\\n%d\\n' % (child.pid, os.getpid()))\n      os.rename('{p}.tmp', '{p}')\n      time.sleep(100)\n",
        p = pids.display()
    );
    let (execution, listed) = run_and_kill(&server, "python", &task, &pids);
    check(&execution, &listed, "python");
}

#[test]
fn metrics_of_a_script_are_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let flow = r#"id: measured
namespace: test.metrics
tasks:
  - id: count
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo '::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{"table":"people"}},{"name":"load","type":"timer","value":1.5}]}::'
  - id: again
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    script: |
      import json
      print("::" + json.dumps({"metrics": [{"name": "rows", "type": "counter", "value": 7}]}) + "::")
"#;
    let (status, body) = request(
        server.port,
        "POST",
        "/api/v1/flows",
        flow.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{body}");
    let (status, execution) = request(
        server.port,
        "POST",
        "/api/v1/executions/test.metrics/measured",
        b"",
        None,
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let execution = loop {
        let (_, execution) = request(
            server.port,
            "GET",
            &format!("/api/v1/executions/{id}"),
            b"",
            None,
        );
        let state = execution["state"]["current"].as_str().unwrap_or("");
        if matches!(state, "SUCCESS" | "FAILED" | "WARNING" | "KILLED") {
            break execution;
        }
        assert!(Instant::now() < deadline, "did not end: {execution}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
    let count_run = execution["taskRunList"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, page) = request(
        server.port,
        "GET",
        &format!("/api/v1/metrics/{id}"),
        b"",
        None,
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 3, "{page}");
    let first = &page["results"][0];
    for (key, value) in [
        ("namespace", json!("test.metrics")),
        ("flowId", json!("measured")),
        ("taskId", json!("count")),
        ("executionId", json!(id)),
        ("taskRunId", json!(count_run)),
        ("type", json!("counter")),
        ("name", json!("rows")),
        ("value", json!(3.0)),
        ("tags", json!({"table": "people"})),
    ] {
        assert_eq!(first[key], value, "{key}: {page}");
    }
    assert!(first["timestamp"].as_str().is_some(), "{page}");
    assert_eq!(page["results"][1]["type"], "timer", "{page}");
    assert_eq!(
        page["results"][1]["value"],
        json!(1500.0),
        "timers are in ms: {page}"
    );
    assert_eq!(page["results"][2]["taskId"], "again", "{page}");
    assert_eq!(page["results"][2]["value"], json!(7.0), "{page}");

    let (_, page) = request(
        server.port,
        "GET",
        &format!("/api/v1/metrics/{id}?taskId=again"),
        b"",
        None,
    );
    assert_eq!(page["total"], 1, "{page}");
    let (_, page) = request(
        server.port,
        "GET",
        &format!("/api/v1/metrics/{id}?taskRunId={count_run}&page=2&size=1"),
        b"",
        None,
    );
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(page["results"][0]["name"], "load", "{page}");
    let (_, names) = request(
        server.port,
        "GET",
        "/api/v1/metrics/names/test.metrics/measured",
        b"",
        None,
    );
    assert_eq!(names, json!(["load", "rows"]));
    let (_, names) = request(
        server.port,
        "GET",
        "/api/v1/metrics/names/test.metrics/measured/again",
        b"",
        None,
    );
    assert_eq!(names, json!(["rows"]));
    let (_, tasks) = request(
        server.port,
        "GET",
        "/api/v1/metrics/tasks/test.metrics/measured",
        b"",
        None,
    );
    assert_eq!(tasks, json!(["again", "count"]));
    let (status, page) = request(server.port, "GET", "/api/v1/metrics/unknown", b"", None);
    assert_eq!((status, page["total"].clone()), (200, json!(0)));
}

//! Starts the real binary (`saker server local --port <free>` in a temporary directory) and
//! drives it over HTTP with a minimal HTTP/1.1 client; then stops it with SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request on a fresh connection (`Connection: close`): status and body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    ctype: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ctype) = ctype {
        head.push_str(&format!("Content-Type: {ctype}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Ok((status, body))
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

fn json_request(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    ctype: Option<&str>,
) -> (u16, Value) {
    let (status, body) = request(port, method, path, body, ctype).expect("the server answers");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
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

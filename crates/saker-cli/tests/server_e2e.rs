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
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", b"", None) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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

//! What the end-to-end tests share: free ports and a minimal HTTP/1.1 client (one request per
//! connection), so the tests drive the real binary with nothing between them and it.
#![allow(dead_code)] // each test binary uses its own part

pub mod components;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use serde_json::Value;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request on a fresh connection (`Connection: close`): status and body.
pub fn request(
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

pub fn unchunk(mut data: &[u8]) -> Vec<u8> {
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

pub fn json_request(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    ctype: Option<&str>,
) -> (u16, Value) {
    let (status, body) = request(port, method, path, body, ctype).expect("the server answers");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Creates a flow through the API (a YAML body); panics unless it is created.
pub fn post_flow(port: u16, source: &str) {
    let (status, created) = json_request(
        port,
        "POST",
        "/api/v1/flows",
        source.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{created}");
}

/// A child process killed when the test ends, whatever happens.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the server on `port` answers `/ping`; panics after a minute.
pub fn wait_for_ping(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", b"", None) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not answer /ping");
}

/// Terminal states an execution or a task run went through, from its state history.
pub fn terminal_states(state: &Value) -> Vec<String> {
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

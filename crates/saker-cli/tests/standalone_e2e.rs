//! `saker server standalone --config FILE` as an operator runs it: the real binary, a YAML
//! configuration with basic auth and environment overrides, driven over HTTP; graceful stop on
//! SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USER: &str = "admin@example.com";
const PASSWORD: &str = "Str0ng-pass";

struct Server {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, then the exit status and what the server printed.
    fn terminate(&mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status.code(), stderr)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn saker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_saker"))
}

/// The argon2 hash `saker server hash-password` prints for `password` given on stdin.
fn hash(password: &str) -> String {
    use std::io::Write;
    let mut child = saker()
        .args(["server", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

/// Starts `server standalone --config <dir>/saker.yml` with `env`, waits for `/ping`.
fn start(dir: &Path, env: &[(&str, String)]) -> Server {
    let stderr = dir.join(format!("stderr-{}.log", free_port()));
    let mut command = saker();
    command
        .args(["server", "standalone", "--config"])
        .arg(dir.join("saker.yml"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (key, value) in env {
        command.env(key, value);
    }
    let port = env
        .iter()
        .find(|(k, _)| *k == "SAKER_SERVER_PORT")
        .map(|(_, v)| v.clone())
        .expect("tests set the port through the environment");
    let mut server = Server {
        child: command.spawn().expect("the binary starts"),
        base: format!("http://127.0.0.1:{port}"),
        stderr,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ping = std::net::TcpStream::connect(format!("127.0.0.1:{port}"));
        if ping.is_ok() {
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(&server.stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

async fn get_json(server: &Server, path: &str) -> Value {
    let response = client()
        .get(format!("{}{path}", server.base))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    json(response).await
}

async fn create_flow(server: &Server, yaml: &str) {
    let response = client()
        .post(format!("{}/api/v1/flows", server.base))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/x-yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_with_basic_auth_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"# an operator's file
data-dir: ./state
server:
  port: 1  # overridden by SAKER_SERVER_PORT
  basic-auth:
    username: {USER}
    password: "{}"
variables:
  globals:
    region: eu-west
secrets:
  API_TOKEN: from-config
"#,
        hash(PASSWORD)
    );
    std::fs::write(dir.path().join("saker.yml"), config).unwrap();
    let port = free_port().to_string();
    let server = start(dir.path(), &[("SAKER_SERVER_PORT", port)]);
    assert!(
        dir.path().join("state/saker.db").is_file(),
        "data-dir holds the store"
    );

    // Open routes answer without credentials.
    for path in ["/ping", "/health"] {
        let response = client()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Everything else wants them.
    for (user, password) in [
        (None, None),
        (Some(USER), Some("wrong")),
        (Some("x"), Some(PASSWORD)),
    ] {
        let mut request = client().get(format!("{}/api/v1/flows/search", server.base));
        if let Some(user) = user {
            request = request.basic_auth(user, password);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"Saker\""
        );
        let body: Value = json(response).await;
        assert_eq!(
            body["message"],
            json!("Unauthorized: missing or invalid credentials")
        );
    }
    let search = get_json(&server, "/api/v1/flows/search").await;
    assert_eq!(search["total"], json!(0));
    let configs = get_json(&server, "/api/v1/configs").await;
    assert_eq!(configs["isBasicAuthEnabled"], json!(true));

    // Globals and configured secrets reach the flows.
    create_flow(
        &server,
        "id: conf\nnamespace: ops\ntasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ globals.region }} {{ secret('API_TOKEN') | length }}\"\n",
    )
    .await;
    let response = client()
        .post(format!(
            "{}/api/v1/executions/ops/conf?wait=true",
            server.base
        ))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let execution: Value = json(response).await;
    assert_eq!(
        execution["state"]["current"],
        json!("SUCCESS"),
        "{execution}"
    );
    assert_eq!(
        execution["taskRunList"][0]["outputs"]["value"],
        json!("eu-west 11")
    );

    // /metrics is guarded too, and counts what ran.
    let response = client()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = client()
            .get(format!("{}/metrics", server.base))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains(
            "kestra_executor_execution_end_count_total{namespace_id=\"ops\",flow_id=\"conf\",state=\"SUCCESS\"} 1",
        ) {
            break;
        }
        assert!(Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut server = server;
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn a_bad_configuration_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("saker.yml");
    std::fs::write(
        &file,
        "server:\n  port: 8080\n  basic-auth:\n    usename: admin\n",
    )
    .unwrap();
    let out = saker()
        .args(["server", "standalone", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:4:5: server.basic-auth.usename: unknown field `usename`",
            file.display()
        )),
        "{stderr}"
    );
    let out = saker()
        .args(["server", "standalone", "--config"])
        .arg(&file)
        .env("SAKER_SERVER_PORT", "http")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SAKER_SERVER_PORT"), "{stderr}");
}

/// SIGTERM while a task runs: the server stops taking requests, lets the running attempt
/// finish (its result saved), dispatches nothing new; the next start runs the rest, and the
/// finished task is not run again.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_running_tasks_finish_and_the_rest_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("saker.yml"),
        format!(
            "server:\n  termination-grace-period: PT2M\n  basic-auth:\n    username: {USER}\n    password: {PASSWORD}\n"
        ),
    )
    .unwrap();
    let release = dir.path().join("release");
    let marker = dir.path().join("marker");
    let flow = format!(
        r#"id: slow
namespace: ops
tasks:
  - id: long
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo started >> {marker}
      - "while [ ! -e {release} ]; do sleep 0.05; done"
      - echo finished >> {marker}
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"#,
        marker = marker.display(),
        release = release.display()
    );
    let port = free_port().to_string();
    let mut server = start(dir.path(), &[("SAKER_SERVER_PORT", port.clone())]);
    // A plain password is accepted (hashed at start) with a warning.
    let stderr_log = std::fs::read_to_string(&server.stderr).unwrap_or_default();
    assert!(stderr_log.contains("is in plain text"), "{stderr_log}");
    create_flow(&server, &flow).await;
    let response = client()
        .post(format!("{}/api/v1/executions/ops/slow", server.base))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let execution: Value = json(response).await;
    let id = execution["id"].as_str().unwrap().to_owned();
    // The task is running once its process wrote the marker.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&marker).is_ok_and(|m| m.contains("started")) {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGTERM while it runs; the server must wait for it, so it is still alive until released.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(&server.stderr).unwrap_or_default();
        if log.contains("waiting up to 120s for 1 running task attempts") {
            break;
        }
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server stopped without waiting for the running task: {log}"
        );
        assert!(Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // No new request is served meanwhile.
    let refused = client().get(format!("{}/ping", server.base)).send().await;
    assert!(refused.is_err(), "the listener is closed while draining");
    std::fs::write(&release, "").unwrap();
    let (code, log) = server.terminate_wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("abandoned"), "{log}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "started\nfinished\n",
        "the attempt ran to its end"
    );

    // The next start finishes the execution without running `long` again.
    let server = start(dir.path(), &[("SAKER_SERVER_PORT", port)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let execution = loop {
        let execution = get_json(&server, &format!("/api/v1/executions/{id}")).await;
        if execution["state"]["current"] == json!("SUCCESS") {
            break execution;
        }
        assert!(Instant::now() < deadline, "{execution}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let runs = execution["taskRunList"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{execution}");
    assert_eq!(runs[0]["taskId"], json!("long"));
    assert_eq!(
        runs[0]["attempts"].as_array().unwrap().len(),
        1,
        "{execution}"
    );
    assert_eq!(runs[1]["outputs"]["value"], json!("done"));
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "started\nfinished\n",
        "the finished task did not run again"
    );
}

impl Server {
    /// Waits for an exit already requested.
    fn terminate_wait(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status.code(), stderr)
    }
}

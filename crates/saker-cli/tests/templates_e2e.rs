//! Legacy templates (`io.kestra.core.tasks.flows.Template`) in executions started by triggers:
//! the real binary with `SAKER_TEMPLATES_ENABLED=true`, a webhook with `wait` and a schedule.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, json_request, post_flow, request};
use serde_json::{Value, json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `saker server local` in `dir` with templates enabled, once it answers.
fn spawn(dir: &Path) -> (Server, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["server", "local", "--port", &port.to_string()])
        .env("SAKER_TEMPLATES_ENABLED", "true")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = request(port, "GET", "/ping", b"", None) {
            return (server, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not answer /ping");
}

/// The template included, its task run ended SUCCESS.
fn ran_the_template(execution: &Value) -> bool {
    execution["state"]["current"] == json!("SUCCESS")
        && execution["taskRunList"]
            .as_array()
            .is_some_and(|runs| runs.iter().any(|r| r["taskId"] == json!("hello")))
}

const TEMPLATE: &str = "id: greet\nnamespace: company.team\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"hello {{ parent.outputs.args.who }}\"\n";

const MAIN: &str = "id: main\nnamespace: company.team\ntasks:\n  - id: tpl\n    type: io.kestra.core.tasks.flows.Template\n    namespace: company.team\n    templateId: greet\n    args:\n      who: \"{{ flow.id }}\"\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: k3y\n    wait: true\n  - id: tick\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"*/2 * * * * *\"\n    withSeconds: true\n    recoverMissedSchedules: NONE\n";

#[test]
fn templates_are_expanded_for_webhook_and_schedule_executions() {
    let dir = tempfile::tempdir().unwrap();
    // Templates are read from the stored flows when the server starts.
    {
        let (_server, port) = spawn(dir.path());
        post_flow(port, TEMPLATE);
    }
    let (_server, port) = spawn(dir.path());
    post_flow(port, MAIN);

    let (status, execution) = json_request(
        port,
        "POST",
        "/api/v1/executions/webhook/company.team/main/k3y",
        b"{}",
        Some("application/json"),
    );
    assert_eq!(status, 200, "{execution}");
    assert!(ran_the_template(&execution), "webhook: {execution}");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = json_request(
            port,
            "GET",
            "/api/v1/executions/search?namespace=company.team&flowId=main&size=100",
            b"",
            None,
        );
        let scheduled: Vec<&Value> = page["results"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|e| e["trigger"]["id"] == json!("tick"))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(done) = scheduled.iter().find(|e| ran_the_template(e)) {
            assert_eq!(
                done["trigger"]["type"],
                "io.kestra.plugin.core.trigger.Schedule"
            );
            break;
        }
        // A scheduled execution that ended otherwise did not get the template.
        if let Some(failed) = scheduled
            .iter()
            .find(|e| e["state"]["current"] == json!("FAILED"))
        {
            panic!("schedule: {failed}");
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled execution ended: {page}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

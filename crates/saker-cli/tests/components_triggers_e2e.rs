//! Triggers on the components for real (one PostgreSQL database per test, from
//! `SAKER_TEST_PG_URL`): webhooks served by the webserver component, and flow changes made
//! through the webserver reaching the scheduler component at once (its fallback poll is set to
//! an hour, so only the store's notes can tell it).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DurationRound, SecondsFormat};

use common::components::{executor, logs, scheduler, webserver, worker};
use common::{Proc, json_request, post_flow, terminal_states};
use saker_queue_pg::testdb::TestDb;
use serde_json::{Value, json};

/// A fresh database and its URL with a small pool (several processes share the test server's
/// connection limit).
fn database(name: &str) -> (TestDb, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime
        .block_on(TestDb::create(name))
        .expect("a test database");
    let url = format!("{}?max_connections=3", db.url());
    (db, url)
}

fn put_flow(port: u16, namespace: &str, id: &str, source: &str) {
    let (status, updated) = json_request(
        port,
        "PUT",
        &format!("/api/v1/flows/{namespace}/{id}"),
        source.as_bytes(),
        Some("application/x-yaml"),
    );
    assert_eq!(status, 200, "{updated}");
}

fn delete_flow(port: u16, namespace: &str, id: &str) {
    let (status, deleted) = json_request(
        port,
        "DELETE",
        &format!("/api/v1/flows/{namespace}/{id}"),
        b"",
        None,
    );
    assert_eq!(status, 204, "{deleted}");
}

/// Polls `look` every 100 ms until it gives something; after two minutes, panics with `what`
/// and the logs of the processes started in `dir`.
fn eventually<T>(dir: &Path, what: &str, mut look: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(found) = look() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "never happened: {what}\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const HOOKED: &str = r#"id: hooked
namespace: qa
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.who }}"
outputs:
  - id: who
    type: STRING
    value: "{{ outputs.echo.value }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cret
  - id: waits
    type: io.kestra.plugin.core.trigger.Webhook
    key: w4it
    wait: true
    returnOutputs: true
"#;

fn webhook(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    json_request(
        port,
        method,
        path,
        body.as_bytes(),
        Some("application/json"),
    )
}

/// A webhook posted to the webserver component runs the flow (on an executor and a worker)
/// with the body as `trigger.body`; `wait` answers with the outputs; a wrong key, a disabled
/// flow and a deleted flow get standalone's 404s.
#[test]
fn webhooks_are_served_by_the_webserver_component() {
    let (db, url) = database("e2e_webhooks");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let (_web, port) = webserver(path, &url);
    let _executor = executor(path, &url, "executor.log");
    let _worker = worker(path, &url, "worker.log");
    post_flow(port, HOOKED);

    let (status, created) = webhook(
        port,
        "POST",
        "/api/v1/executions/webhook/qa/hooked/s3cret",
        r#"{"who": "webhook"}"#,
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["state"]["current"], json!("CREATED"), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let ended = eventually(path, "the webhook's execution ends", || {
        let (_, execution) =
            json_request(port, "GET", &format!("/api/v1/executions/{id}"), b"", None);
        (!terminal_states(&execution["state"]).is_empty()).then_some(execution)
    });
    assert_eq!(terminal_states(&ended["state"]), ["SUCCESS"], "{ended}");
    assert_eq!(ended["trigger"]["id"], json!("hook"));
    assert_eq!(
        ended["trigger"]["variables"]["body"],
        json!({"who": "webhook"})
    );
    assert_eq!(
        ended["taskRunList"][0]["outputs"]["value"],
        json!("webhook"),
        "{ended}"
    );

    // `wait`: the end comes back through the executor's notes; the `main` tenant form.
    let (status, outputs) = webhook(
        port,
        "POST",
        "/api/v1/main/executions/webhook/qa/hooked/w4it",
        r#"{"who": "waiting"}"#,
    );
    assert_eq!((status, outputs), (200, json!({"who": "waiting"})));

    let not_found = |path: &str, message: &str| {
        let (status, error) = webhook(port, "POST", path, "");
        assert_eq!(
            (status, &error["message"]),
            (404, &json!(message)),
            "{path}"
        );
    };
    not_found(
        "/api/v1/executions/webhook/qa/hooked/nope",
        "Webhook not found",
    );
    not_found(
        "/api/v1/executions/webhook/qa/other/s3cret",
        "Flow not found",
    );
    let disabled = HOOKED.replace("tasks:", "disabled: true\ntasks:");
    put_flow(port, "qa", "hooked", &disabled);
    not_found(
        "/api/v1/executions/webhook/qa/hooked/s3cret",
        "Flow not found",
    );
    put_flow(port, "qa", "hooked", HOOKED);
    let (status, again) = webhook(
        port,
        "GET",
        "/api/v1/executions/webhook/qa/hooked/s3cret",
        "",
    );
    assert_eq!(status, 200, "enabled again: {again}");
    delete_flow(port, "qa", "hooked");
    not_found(
        "/api/v1/executions/webhook/qa/hooked/s3cret",
        "Flow not found",
    );
    drop(db);
}

/// A flow running every second.
fn ticking(id: &str) -> String {
    format!(
        "id: {id}\nnamespace: qa\ntasks:\n  - id: tick\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ trigger.date }}}}\"\ntriggers:\n  - id: every-second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n    recoverMissedSchedules: NONE\n"
    )
}

/// How many executions flow `qa.{id}` has.
fn executions(port: u16, id: &str) -> u64 {
    let (status, found) = json_request(
        port,
        "GET",
        &format!("/api/v1/executions/search?namespace=qa&flowId={id}&size=1"),
        b"",
        None,
    );
    assert_eq!(status, 200, "{found}");
    found["total"].as_u64().unwrap()
}

fn scheduler_config(dir: &Path) -> String {
    let file = dir.join("saker.yml");
    // Only the store's notes can tell the scheduler of a change within the test.
    std::fs::write(&file, "scheduler:\n  flow-poll: 1h\n").unwrap();
    file.display().to_string()
}

/// Webserver, executor, worker and scheduler on a fresh database, the scheduler's own look for
/// flow changes an hour apart (`scheduler_config`): what reaches it sooner came through the
/// store's notes. Dropped in field order: the processes first, then the database and the
/// directory of their logs.
struct Cluster {
    _procs: Vec<Proc>,
    _db: TestDb,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let (db, url) = database(name);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let config = scheduler_config(path);
        let (web, port) = webserver(path, &url);
        let executor = executor(path, &url, "executor.log");
        let worker = worker(path, &url, "worker.log");
        let (scheduler, _) = scheduler(path, &url, &["--config", &config]);
        Cluster {
            _procs: vec![web, executor, worker, scheduler],
            _db: db,
            dir,
            port,
        }
    }
}

/// Flows created, disabled and deleted through the webserver reach the scheduler at once: a
/// schedule created after the scheduler started fires; once a flow is disabled and another
/// deleted, neither fires again (checked against a third flow created after both changes:
/// the scheduler hears changes in commit order, so once the third fires the first two are
/// off, and they stay quiet while it fires three more times).
#[test]
fn flow_changes_reach_the_scheduler_component_at_once() {
    let cluster = Cluster::start("e2e_flow_changes");
    let (path, port) = (cluster.dir.path(), cluster.port);

    post_flow(port, &ticking("disabled"));
    post_flow(port, &ticking("deleted"));
    for id in ["disabled", "deleted"] {
        eventually(path, &format!("flow {id} fires"), || {
            (executions(port, id) > 0).then_some(())
        });
    }
    put_flow(
        port,
        "qa",
        "disabled",
        &ticking("disabled").replace("tasks:", "disabled: true\ntasks:"),
    );
    delete_flow(port, "qa", "deleted");
    post_flow(port, &ticking("sentinel"));
    eventually(path, "flow sentinel fires", || {
        (executions(port, "sentinel") > 0).then_some(())
    });
    let quiet = (executions(port, "disabled"), executions(port, "deleted"));
    let fired = executions(port, "sentinel");
    eventually(path, "flow sentinel fires three more times", || {
        (executions(port, "sentinel") >= fired + 3).then_some(())
    });
    assert_eq!(
        (executions(port, "disabled"), executions(port, "deleted")),
        quiet,
        "a disabled or deleted flow fires no more"
    );
    drop(cluster);
}

const HOURLY: &str = r#"id: hourly
namespace: qa
tasks:
  - id: tick
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every-hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    recoverMissedSchedules: NONE
"#;

/// `{namespace, flowId, triggerId}` of the hourly flow's trigger, with `extra` fields.
fn every_hour(extra: Value) -> Value {
    let mut body = json!({"namespace": "qa", "flowId": "hourly", "triggerId": "every-hour"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// A trigger request to the webserver; panics unless it answers 200.
fn triggers(port: u16, method: &str, path: &str, body: &Value) -> Value {
    let (status, answer) = json_request(
        port,
        method,
        &format!("/api/v1/triggers{path}"),
        body.to_string().as_bytes(),
        Some("application/json"),
    );
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// The hourly trigger's `triggerContext`, once the scheduler has made it.
fn context(port: u16) -> Option<Value> {
    let (status, found) = json_request(
        port,
        "GET",
        "/api/v1/triggers/search?namespace=qa&flowId=hourly",
        b"",
        None,
    );
    assert_eq!(status, 200, "{found}");
    found["results"]
        .as_array()?
        .iter()
        .find(|r| r["triggerContext"]["triggerId"] == "every-hour")
        .map(|r| r["triggerContext"].clone())
}

/// The executions of the hourly flow labelled `origin: {origin}`.
fn labelled(port: u16, origin: &str) -> Vec<Value> {
    let (status, found) = json_request(
        port,
        "GET",
        &format!(
            "/api/v1/executions/search?namespace=qa&flowId=hourly&labels=origin:{origin}&size=1000"
        ),
        b"",
        None,
    );
    assert_eq!(status, 200, "{found}");
    found["results"].as_array().unwrap().clone()
}

/// The schedule dates of `executions`, sorted; panics if one comes twice.
fn schedule_dates(executions: &[Value]) -> Vec<String> {
    let mut dates: Vec<String> = executions
        .iter()
        .map(|e| {
            e["scheduleDate"]
                .as_str()
                .expect("a schedule date")
                .to_owned()
        })
        .collect();
    dates.sort();
    let distinct = dates.len();
    let mut unique = dates.clone();
    unique.dedup();
    assert_eq!(unique.len(), distinct, "a tick ran twice: {dates:?}");
    dates
}

/// Waits until the trigger runs no execution and has no backfill underway (paused or
/// deleted), then checks the executions labelled `origin` stay as they are for a while.
fn stays_still(dir: &Path, port: u16, origin: &str) -> usize {
    eventually(dir, "the trigger's running execution ends", || {
        context(port).filter(|c| c.get("executionId").is_none())
    });
    let before = labelled(port, origin).len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(labelled(port, origin).len(), before, "{origin} went on");
    before
}

/// Backfills started, paused, unpaused and deleted through the webserver component, and the
/// trigger disabled and enabled there (`PUT /triggers`, the bulk form), are run by the scheduler
/// component at once (its fallback look is an hour away): a backfill over three past hours
/// creates exactly its three executions, each once, labelled as asked (as a single server
/// does: no other label), and each ends.
#[test]
fn backfills_through_the_webserver_component_run_on_the_scheduler() {
    let cluster = Cluster::start("e2e_backfills");
    let (path, port) = (cluster.dir.path(), cluster.port);
    post_flow(port, HOURLY);
    eventually(path, "the scheduler makes the trigger's state", || {
        context(port)
    });

    let hour = chrono::Utc::now()
        .duration_trunc(chrono::TimeDelta::hours(1))
        .unwrap();
    let at = |hours_ago: i64| {
        (hour - chrono::TimeDelta::hours(hours_ago)).to_rfc3339_opts(SecondsFormat::Secs, true)
    };
    let started = triggers(
        port,
        "PUT",
        "",
        &every_hour(json!({"backfill": {
            "start": at(3),
            "end": at(1),
            "labels": [{"key": "origin", "value": "backfill"}],
        }})),
    );
    assert_eq!(started["backfill"]["start"], json!(at(3)), "{started}");
    let ran = eventually(path, "the three backfill executions end", || {
        let found = labelled(port, "backfill");
        (found.len() == 3
            && found
                .iter()
                .all(|e| !terminal_states(&e["state"]).is_empty()))
        .then_some(found)
    });
    assert_eq!(schedule_dates(&ran), [at(3), at(2), at(1)]);
    for execution in &ran {
        assert_eq!(
            terminal_states(&execution["state"]),
            ["SUCCESS"],
            "{execution}"
        );
        // The backfill's labels, and no label of its own (a single server adds none either).
        let labels: Vec<&Value> = execution["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| !l["key"].as_str().unwrap().starts_with("system."))
            .collect();
        assert_eq!(
            labels,
            [&json!({"key": "origin", "value": "backfill"})],
            "{execution}"
        );
        assert_eq!(execution["trigger"]["id"], json!("every-hour"));
    }
    eventually(path, "the backfill is over", || {
        context(port).filter(|c| c.get("backfill").is_none())
    });
    stays_still(path, port, "backfill");

    // A long one, paused at once, unpaused, deleted: each told to the scheduler.
    let long = every_hour(json!({"backfill": {
        "start": at(200),
        "end": at(10),
        "labels": [{"key": "origin", "value": "long"}],
    }}));
    triggers(port, "PUT", "", &long);
    let key = every_hour(json!({}));
    let paused = triggers(port, "PUT", "/backfill/pause", &key);
    assert_eq!(paused["backfill"]["paused"], json!(true), "{paused}");
    let before = stays_still(path, port, "long");
    let unpaused = triggers(port, "PUT", "/backfill/unpause", &key);
    assert_eq!(unpaused["backfill"]["paused"], json!(false), "{unpaused}");
    eventually(path, "the unpaused backfill goes on", || {
        (labelled(port, "long").len() >= before + 3).then_some(())
    });
    let deleted = triggers(port, "POST", "/backfill/delete", &key);
    assert!(deleted.get("backfill").is_none(), "{deleted}");
    let ran = stays_still(path, port, "long");
    assert!(ran < 191, "deleted before its end: {ran} of 191 ran");
    let dates = schedule_dates(&labelled(port, "long"));
    assert_eq!(dates[0], at(200), "in order from its start");

    // Disabled (the bulk form): a backfill waits; enabled (`PUT /triggers`): it runs.
    let (status, count) = json_request(
        port,
        "POST",
        "/api/v1/triggers/set-disabled/by-triggers",
        json!({"triggers": [key], "disabled": true})
            .to_string()
            .as_bytes(),
        Some("application/json"),
    );
    assert_eq!((status, count), (200, json!({"count": 1})));
    triggers(
        port,
        "PUT",
        "",
        &every_hour(json!({"backfill": {
            "start": at(30),
            "end": at(28),
            "labels": [{"key": "origin", "value": "disabled"}],
        }})),
    );
    assert_eq!(stays_still(path, port, "disabled"), 0);
    let enabled = triggers(port, "PUT", "", &every_hour(json!({"disabled": false})));
    assert_eq!(enabled["disabled"], json!(false), "{enabled}");
    let ran = eventually(path, "the backfill of the enabled trigger ends", || {
        let found = labelled(port, "disabled");
        (found.len() == 3
            && found
                .iter()
                .all(|e| !terminal_states(&e["state"]).is_empty()))
        .then_some(found)
    });
    assert_eq!(schedule_dates(&ran), [at(30), at(29), at(28)]);
    drop(cluster);
}

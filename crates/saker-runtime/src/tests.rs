//! End-to-end runs of small flows through the runtime on in-memory stores.

use std::sync::{Arc, Mutex};

use saker_core::{Execution, ExecutionId, FlowRef, StateType};
use saker_storage::{LogEntry, LogFilter, MemoryStore, Store};
use saker_task::memory::{MemoryKvStore, MemoryStorage};
use saker_task::prelude::*;
use serde_json::json;

use super::*;

/// A task that panics, to check that a panic fails the task run instead of the worker.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PanicParams {}

struct PanicTask;

impl RunnableTask for PanicTask {
    type Params = PanicParams;

    async fn run(_: PanicParams, _: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        panic!("boom in the task")
    }
}

register_plugin! {
    type_name: "test.runtime.Panic",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Panics.",
    slots: [],
    params: PanicParams,
    runnable: PanicTask,
}

#[derive(Default)]
struct Collect(Mutex<Vec<LogEntry>>);

impl LogObserver for Collect {
    fn log(&self, entry: &LogEntry) {
        self.0.lock().unwrap().push(entry.clone());
    }
}

fn runtime() -> Runtime<MemoryStore> {
    Runtime::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    )
}

fn parse(source: &str) -> Arc<Flow> {
    match saker_flow::parse_and_validate(source, None, saker_tasks::registry()) {
        Ok(flow) => Arc::new(flow),
        Err(diagnostics) => panic!("invalid test flow: {diagnostics:?}"),
    }
}

fn new_execution(flow: &Flow) -> Execution {
    let mut ids = RandomIds;
    Execution::new(
        saker_core::IdSource::execution_id(&mut ids),
        &FlowRef::new(flow.namespace.clone(), flow.id.clone(), 1),
        &[],
        Vec::new(),
        chrono::Utc::now(),
    )
}

async fn run(rt: &Runtime<MemoryStore>, source: &str) -> Execution {
    let flow = parse(source);
    let execution = new_execution(&flow);
    rt.run(flow, execution).await.expect("the run completes")
}

fn states(execution: &Execution) -> Vec<(String, StateType)> {
    execution
        .task_run_list
        .iter()
        .map(|r| (r.task_id.clone(), r.state.current()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_returns_pass_outputs_and_are_persisted() {
    let rt = runtime();
    let execution = run(
        &rt,
        r#"
id: seq
namespace: test
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "one"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }}-two"
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Success);
    let second = &execution.task_run_list[1];
    assert_eq!(
        second.outputs.as_ref().unwrap().get("value"),
        Some(&json!("one-two"))
    );
    assert_eq!(second.attempts.len(), 1);
    let stored = rt.store().get_execution(&execution.id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&execution));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_fails_the_task_run() {
    let rt = runtime();
    let execution = run(
        &rt,
        r#"
id: slow
namespace: test
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
    timeout: "{{ 'PT0.05S' }}"
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Failed);
    let logs = rt
        .store()
        .logs(&LogFilter::execution(execution.id.as_str()))
        .await
        .unwrap();
    assert!(
        logs.iter()
            .any(|l| l.level == Level::Error && l.message.contains("Timeout after")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_task_fails_with_a_clear_log_line() {
    let observer = Arc::new(Collect::default());
    let rt = runtime().with_observer(observer.clone());
    let execution = run(
        &rt,
        r#"
id: crash
namespace: test
tasks:
  - id: bad
    type: test.runtime.Panic
errors:
  - id: handler
    type: io.kestra.plugin.core.log.Log
    message: handled
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Failed);
    assert_eq!(
        states(&execution),
        [
            ("bad".to_owned(), StateType::Failed),
            ("handler".to_owned(), StateType::Success)
        ]
    );
    let logs = observer.0.lock().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.message.contains("panicked") && l.message.contains("boom in the task")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_parallel_sleeps_complete() {
    let values: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let source = format!(
        r#"
id: many
namespace: test
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {}
    concurrencyLimit: 0
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1S
"#,
        json!(values)
    );
    let rt = runtime();
    let execution = run(&rt, &source).await;
    assert_eq!(execution.state.current(), StateType::Success);
    assert_eq!(execution.task_run_list.len(), 1001);
}

#[tokio::test(flavor = "multi_thread")]
async fn subflows_run_from_the_store_and_report_outputs() {
    let rt = runtime();
    let child = r#"
id: child
namespace: test
inputs:
  - id: name
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.name }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.hello.value }}"
"#;
    rt.store().put_flow("test", "child", child).await.unwrap();
    let execution = run(
        &rt,
        r#"
id: parent
namespace: test
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: child
    inputs:
      name: world
  - id: missing
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: nope
"#,
    )
    .await;
    assert_eq!(
        states(&execution),
        [
            ("call".to_owned(), StateType::Success),
            ("missing".to_owned(), StateType::Failed)
        ]
    );
    let outputs = execution.task_run_list[0].outputs.as_ref().unwrap();
    assert_eq!(outputs["outputs"]["greeting"], json!("hello world"));
    let child_id = ExecutionId::new(outputs["executionId"].as_str().unwrap());
    let child = rt.store().get_execution(&child_id).await.unwrap().unwrap();
    assert_eq!(child.state.current(), StateType::Success);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_without_timer_ends_the_run_paused() {
    let rt = runtime();
    let execution = run(
        &rt,
        r#"
id: waits
namespace: test
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Paused);
    assert_eq!(execution.task_run_list.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_envs_reach_tasks_and_secrets_are_masked() {
    let (secrets, _) = Secrets::from_vars([("SAKER_SECRET_TOKEN".to_owned(), "s3cr3t".to_owned())]);
    let observer = Arc::new(Collect::default());
    let rt = runtime()
        .with_secrets(secrets)
        .with_envs(envs_from_vars([(
            "KESTRA_COLOUR".to_owned(),
            "blue".to_owned(),
        )]))
        .with_observer(observer.clone());
    let execution = run(
        &rt,
        r#"
id: secret
namespace: test
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "token={{ secret('token') }} colour={{ envs.colour }}"
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Success);
    let logs = observer.0.lock().unwrap();
    assert!(
        logs.iter().any(|l| l.message == "token=****** colour=blue"),
        "{logs:?}"
    );
}

#[tokio::test]
async fn a_subflow_cycle_is_cut_at_the_depth_limit() {
    let observer = Arc::new(Collect::default());
    let rt = runtime()
        .with_max_subflow_depth(3)
        .with_observer(observer.clone());
    // A → B → A …: the flow ids are rendered, so validation cannot see the cycle.
    let call = |me: &str, other: &str| {
        format!(
            "id: {me}\nnamespace: test\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: test\n    flowId: \"{{{{ '{other}' }}}}\"\n"
        )
    };
    for (me, other) in [("a", "b"), ("b", "a")] {
        let source = call(me, other);
        rt.store().put_flow("test", me, &source).await.unwrap();
    }
    let execution = run(&rt, &call("a", "b")).await;
    assert_eq!(execution.state.current(), StateType::Failed);
    let logs = observer.0.lock().unwrap();
    let cut: Vec<&LogEntry> = logs
        .iter()
        .filter(|l| l.message.contains("Subflow depth limit (3) reached"))
        .collect();
    assert_eq!(cut.len(), 1, "{logs:?}");
    assert!(
        cut[0]
            .message
            .contains("test.a → test.b → test.a → test.b → test.a was not started"),
        "{}",
        cut[0].message
    );
    // Four executions (depths 0 to 3), each failed by the one below it.
    let failed: std::collections::HashSet<&str> = logs
        .iter()
        .filter(|l| l.message.starts_with("Flow completed with state FAILED"))
        .map(|l| l.execution_id.as_str())
        .collect();
    assert_eq!(failed.len(), 4, "{logs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_inputs_are_stored_encrypted_used_decrypted_and_masked() {
    let key = saker_expr::crypto::generate_key();
    let observer = Arc::new(Collect::default());
    let rt = runtime()
        .with_encryption_key(key.clone())
        .with_observer(observer.clone());
    let flow = parse(
        r#"
id: secret-input
namespace: test
inputs:
  - id: pw
    type: SECRET
    defaults: password
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "my secret: {{ inputs.pw }}"
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.pw | upper }}"
"#,
    );
    let mut execution = new_execution(&flow);
    execution.inputs = rt.resolve_inputs(&flow, &[]).unwrap();
    let stored = execution.inputs["pw"].as_str().unwrap().to_owned();
    assert_ne!(stored, "password");
    assert_eq!(
        saker_expr::crypto::decrypt(&key, &stored).unwrap(),
        "password"
    );
    let execution = rt.run(flow, execution).await.unwrap();
    assert_eq!(execution.state.current(), StateType::Success);
    let outputs = execution.task_run_list[1].outputs.as_ref().unwrap();
    assert_eq!(outputs["value"], json!("PASSWORD"));
    let logs = observer.0.lock().unwrap();
    assert!(
        logs.iter().any(|l| l.message == "my secret: ********"),
        "{logs:?}"
    );
    assert!(!logs.iter().any(|l| l.message.contains("password")));

    // Without a key, SECRET inputs are rejected as on a Kestra server without one.
    let error = runtime()
        .resolve_inputs(&parse_secret_flow(), &[])
        .unwrap_err();
    assert!(error.contains("encryption is not configured"), "{error}");
}

fn parse_secret_flow() -> Arc<Flow> {
    parse(
        "id: s\nnamespace: test\ninputs:\n  - id: pw\n    type: SECRET\n    defaults: x\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn error_logs_lists_the_error_lines_of_the_execution() {
    let execution = run(
        &runtime(),
        r#"
id: errors
namespace: test
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{% for log in errorLogs() %}[{{ log.taskId }}: {{ log.message }}]{% endfor %}"
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Failed);
    let report = execution
        .task_run_list
        .iter()
        .find(|r| r.task_id == "report")
        .unwrap();
    assert_eq!(
        report.outputs.as_ref().unwrap()["value"],
        json!("[failed: Task failure]")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subflow_outputs_property_renders_in_the_child_context() {
    let rt = runtime();
    let child = r#"
id: child
namespace: test
tasks:
  - id: hello
    type: io.kestra.plugin.core.debug.Return
    format: "hello"
"#;
    rt.store().put_flow("test", "child", child).await.unwrap();
    let execution = run(
        &rt,
        r#"
id: parent
namespace: test
tasks:
  - id: ok
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: child
    outputs:
      extracted: "{{ outputs.hello.value }} world"
  - id: broken
    type: io.kestra.plugin.core.flow.Subflow
    namespace: test
    flowId: child
    outputs:
      extracted: "{{ outputs.nope.value }}"
"#,
    )
    .await;
    assert_eq!(
        states(&execution),
        [
            ("ok".to_owned(), StateType::Success),
            ("broken".to_owned(), StateType::Failed)
        ]
    );
    let outputs = execution.task_run_list[0].outputs.as_ref().unwrap();
    assert_eq!(outputs["outputs"]["extracted"], json!("hello world"));
    let logs = rt
        .store()
        .logs(&LogFilter::execution(execution.id.as_str()))
        .await
        .unwrap();
    assert!(
        logs.iter().any(|l| l
            .message
            .starts_with("Failed to extract outputs with the error:")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn working_directory_runs_its_children_in_one_directory() {
    let files = Arc::new(MemoryStorage::new());
    let rt = Runtime::new(
        Arc::new(MemoryStore::new()),
        files.clone(),
        Arc::new(MemoryKvStore::new()),
    );
    let source = r#"
id: wd
namespace: test
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a"]
    tasks:
      - id: block
        type: io.kestra.plugin.core.flow.WorkingDirectory
        inputFiles:
          in.txt: "from {{ flow.id }}"
        outputFiles:
          - "*.out"
        cache:
          patterns: ["*.cached"]
          ttl: PT1H
        tasks:
          - id: cached
            type: io.kestra.plugin.core.storage.LocalFiles
            outputs: ["*.cached"]
          - id: write
            type: io.kestra.plugin.core.storage.LocalFiles
            inputs:
              copy.out: "{{ taskrun.value }}-{{ outputs.cached[taskrun.value].uris | length }}"
              keep.cached: kept
            outputs: ["*.out"]
          - id: skipped
            type: io.kestra.plugin.core.debug.Return
            format: never
            runIf: "false"
          - id: who
            type: io.kestra.plugin.core.debug.Return
            format: "{{ workerTaskrun.id }}|{{ outputs.write.a.uris | keys | join(',') }}"
  - id: broken
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: fails
        type: io.kestra.plugin.core.execution.Fail
      - id: not-reached
        type: io.kestra.plugin.core.debug.Return
        format: x
    errors:
      - id: handled
        type: io.kestra.plugin.core.debug.Return
        format: "{{ tasks.fails.state }}"
"#;
    let flow = parse(source);
    let execution = rt.run(flow.clone(), new_execution(&flow)).await.unwrap();
    assert_eq!(
        states(&execution),
        [
            ("each".to_owned(), StateType::Success),
            ("block".to_owned(), StateType::Success),
            ("cached".to_owned(), StateType::Success),
            ("write".to_owned(), StateType::Success),
            ("skipped".to_owned(), StateType::Skipped),
            ("who".to_owned(), StateType::Success),
            ("broken".to_owned(), StateType::Failed),
            ("fails".to_owned(), StateType::Failed),
            ("handled".to_owned(), StateType::Success),
        ]
    );
    assert_eq!(execution.state.current(), StateType::Failed);
    let run = |id: &str| {
        execution
            .task_run_list
            .iter()
            .find(|r| r.task_id == id)
            .unwrap()
    };
    let block = run("block");
    assert!(block.attempts.is_empty());
    for child in ["cached", "write", "skipped", "who"] {
        assert_eq!(run(child).dynamic, Some(true), "{child}");
        assert_eq!(run(child).parent_task_run_id.as_ref(), Some(&block.id));
    }
    assert_eq!(run("handled").dynamic, None);
    // Nothing cached yet on the first run.
    assert_eq!(run("cached").outputs.as_ref().unwrap()["uris"], json!({}));
    let who = run("who").outputs.as_ref().unwrap()["value"].clone();
    assert_eq!(who, json!(format!("{}|copy.out", block.id)));
    let uri = block.outputs.as_ref().unwrap()["outputFiles"]["copy.out"]
        .as_str()
        .unwrap()
        .to_owned();
    // `taskrun.value` is the block's; `outputs` has the child before.
    assert_eq!(files.get_now(&uri).unwrap(), b"a-0");

    // A second execution restores the cache before the children run.
    let second = rt.run(flow.clone(), new_execution(&flow)).await.unwrap();
    let cached = second
        .task_run_list
        .iter()
        .find(|r| r.task_id == "cached")
        .unwrap();
    let uris = cached.outputs.as_ref().unwrap()["uris"]
        .as_object()
        .unwrap();
    assert_eq!(uris.keys().collect::<Vec<_>>(), ["keep.cached"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_over_the_size_limit_go_to_internal_storage() {
    let rt = runtime().with_max_output_size(40);
    let execution = run(
        &rt,
        r#"
id: big
namespace: test
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "a value longer than the forty bytes the test allows"
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.first.value) }}"
"#,
    )
    .await;
    assert_eq!(
        execution.state.current(),
        StateType::Success,
        "{execution:?}"
    );
    let first = &execution.task_run_list[0];
    let uri = first.outputs.as_ref().unwrap()["value"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!(
            "kestra:///test/big/executions/{}/tasks/first/{}/output-value.txt",
            execution.id.as_str(),
            first.id.as_str()
        )),
        "{uri}"
    );
    // `read()` gives the value back (the second output is under the limit once read back...
    // and over it again, so it is stored too; its file holds the same text).
    let second = execution.task_run_list[1].outputs.as_ref().unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = rt.files.get(&second).await.unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "a value longer than the forty bytes the test allows"
    );
    let logs = rt
        .store()
        .logs(&LogFilter::execution(execution.id.as_str()))
        .await
        .unwrap();
    assert!(
        logs.iter().any(|l| l
            .message
            .contains("is over the output size limit (40 bytes)")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn small_outputs_and_no_limit_stay_inline() {
    let rt = runtime().with_max_output_size(0);
    let execution = run(
        &rt,
        r#"
id: inline
namespace: test
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "a value longer than the forty bytes the test allows"
"#,
    )
    .await;
    let first = &execution.task_run_list[0];
    assert_eq!(
        first.outputs.as_ref().unwrap()["value"],
        json!("a value longer than the forty bytes the test allows")
    );
}

#[test]
fn sizes_parse_with_binary_suffixes() {
    assert_eq!(parse_size("1MB"), Ok(1024 * 1024));
    assert_eq!(parse_size("512kb"), Ok(512 * 1024));
    assert_eq!(parse_size("2G"), Ok(2 * 1024 * 1024 * 1024));
    assert_eq!(parse_size("1000"), Ok(1000));
    assert_eq!(parse_size("0"), Ok(0));
    assert!(parse_size("1TB").is_err());
    assert!(parse_size("MB").is_err());
    assert!(parse_size("-1").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn sla_max_duration_fails_a_long_run_through_a_timer() {
    let rt = runtime();
    let started = std::time::Instant::now();
    let execution = run(
        &rt,
        r#"
id: sla
namespace: test
sla:
  - id: quick
    type: MAX_DURATION
    behavior: FAIL
    duration: PT0.2S
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"#,
    )
    .await;
    assert_eq!(execution.state.current(), StateType::Failed);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let logs = rt
        .store()
        .logs(&LogFilter::execution(execution.id.as_str()))
        .await
        .unwrap();
    assert!(
        logs.iter().any(|l| l.level == Level::Error
            && l.message
                .starts_with("Execution failed due to SLA 'quick' violated")),
        "{logs:?}"
    );
}

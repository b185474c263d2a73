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

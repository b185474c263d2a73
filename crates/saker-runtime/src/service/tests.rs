//! The long-lived service without HTTP: submit, control, broadcasts, recovery after a stop.

use std::sync::Arc;
use std::time::Duration;

use saker_core::{Execution, ExecutionId, FlowRef, IdSource, StateType};
use saker_storage::{MemoryStore, Store};
use saker_task::memory::{MemoryKvStore, MemoryStorage};
use serde_json::json;

use super::*;
use crate::host::RandomIds;

fn runtime(store: Arc<MemoryStore>) -> Runtime<MemoryStore> {
    Runtime::new(
        store,
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    )
}

async fn stored_flow(store: &MemoryStore, source: &str) -> Arc<Flow> {
    let mut flow = saker_flow::parse_and_validate(source, None, saker_tasks::registry())
        .unwrap_or_else(|d| panic!("invalid test flow: {d:?}"));
    let record = store
        .put_flow(&flow.namespace, &flow.id, source)
        .await
        .unwrap();
    flow.revision = Some(record.revision);
    Arc::new(flow)
}

fn new_execution(flow: &Flow) -> Execution {
    Execution::new(
        RandomIds.execution_id(),
        &FlowRef::new(
            flow.namespace.clone(),
            flow.id.clone(),
            flow.revision.unwrap_or(1),
        ),
        &[],
        Vec::new(),
        chrono::Utc::now(),
    )
}

/// Waits (10 s at most) until the stored execution satisfies `done`.
async fn wait_for(
    store: &MemoryStore,
    id: &ExecutionId,
    done: impl Fn(&Execution) -> bool,
) -> Execution {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(execution) = store.get_execution(id).await.unwrap()
            && done(&execution)
        {
            return execution;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {} did not reach the expected state",
            id.as_str()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is(state: StateType) -> impl Fn(&Execution) -> bool {
    move |e| e.state.current() == state
}

const TWO_LOGS: &str = "id: two\nnamespace: svc\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: first\n  - id: b\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ 1 + 1 }}\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn submitted_executions_run_and_are_broadcast() {
    let store = Arc::new(MemoryStore::new());
    let (service, recovered) = Service::start(runtime(store.clone())).await.unwrap();
    assert_eq!(recovered, 0);
    let flow = stored_flow(&store, TWO_LOGS).await;
    let mut updates = service.updates();
    let mut ended = service.ended();
    let mut logs = service.logs();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let execution = new_execution(&flow);
        ids.push(execution.id.clone());
        service.submit(flow.clone(), execution).await.unwrap();
    }
    for id in &ids {
        let done = wait_for(&store, id, is(StateType::Success)).await;
        assert_eq!(done.task_run_list.len(), 2);
    }
    // Each execution ends exactly once on the `ended` broadcast.
    let mut ended_ids = Vec::new();
    while ended_ids.len() < ids.len() {
        let execution = tokio::time::timeout(Duration::from_secs(5), ended.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(execution.state.current(), StateType::Success);
        ended_ids.push(execution.id.clone());
    }
    ended_ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = ids.clone();
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(ended_ids, expected);
    assert!(ended.try_recv().is_err(), "an execution ended twice");
    let update = updates.recv().await.unwrap();
    assert!(ids.contains(&update.id));
    let line = logs.recv().await.unwrap();
    assert_eq!(line.message, "first");
    service.shutdown().await;
}

/// Flow triggers listen to transitions: each change of state once, in order, however many
/// times the execution is saved in one state (here RUNNING, saved for each of its 4 tasks).
#[tokio::test(flavor = "multi_thread")]
async fn each_state_transition_is_broadcast_exactly_once() {
    const FOUR: &str = "id: four\nnamespace: svc\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: a\n  - id: b\n    type: io.kestra.plugin.core.log.Log\n    message: b\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: c\n  - id: d\n    type: io.kestra.plugin.core.log.Log\n    message: d\n";
    let store = Arc::new(MemoryStore::new());
    let (service, _) = Service::start(runtime(store.clone())).await.unwrap();
    let flow = stored_flow(&store, FOUR).await;
    let mut transitions = service.transitions();
    let mut ended = service.ended();
    let execution = new_execution(&flow);
    let id = execution.id.clone();
    service.submit(flow, execution).await.unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), ended.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state.current(), StateType::Success);
    let mut seen = Vec::new();
    while let Ok(execution) = transitions.try_recv() {
        assert_eq!(execution.id, id);
        seen.push(execution.state.current());
    }
    assert_eq!(
        seen,
        [StateType::Created, StateType::Running, StateType::Success]
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_pause_resume_and_restart_are_routed_to_the_loop() {
    let store = Arc::new(MemoryStore::new());
    let (service, _) = Service::start(runtime(store.clone())).await.unwrap();

    // Kill a long sleep.
    let sleepy = stored_flow(
        &store,
        "id: sleepy\nnamespace: svc\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT30S\n",
    )
    .await;
    let execution = new_execution(&sleepy);
    let id = execution.id.clone();
    service.submit(sleepy.clone(), execution).await.unwrap();
    wait_for(&store, &id, is(StateType::Running)).await;
    service.control(&id, Control::Kill).await.unwrap();
    wait_for(&store, &id, is(StateType::Killed)).await;
    // Killing it again is refused (409 in the API).
    let again = service.control(&id, Control::Kill).await;
    assert!(
        matches!(again, Err(ControlError::WrongState(_))),
        "{again:?}"
    );
    let unknown = service
        .control(&ExecutionId::new("nope"), Control::Kill)
        .await;
    assert!(matches!(unknown, Err(ControlError::NotFound(_))));

    // Pause task with onResume inputs, resumed with typed inputs.
    let paused = stored_flow(
        &store,
        "id: paused\nnamespace: svc\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    onResume:\n      - id: n\n        type: INT\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.p.onResume.n + 1 }}\"\n",
    )
    .await;
    let execution = new_execution(&paused);
    let id = execution.id.clone();
    service.submit(paused.clone(), execution).await.unwrap();
    let at_pause = wait_for(&store, &id, is(StateType::Paused)).await;
    let pause_run = at_pause.task_run_list[0].id.clone();
    let task = paused.find_task("p").unwrap();
    let raw = vec![("n".to_owned(), crate::inputs::Raw::Text("41".into()))];
    let inputs = service
        .runtime()
        .resolve_pause_inputs(&paused, task, &raw)
        .unwrap();
    let resumed = service
        .control(
            &id,
            Control::Resume {
                task_run_id: Some(pause_run),
                inputs,
            },
        )
        .await
        .unwrap();
    assert_ne!(resumed.state.current(), StateType::Paused);
    let done = wait_for(&store, &id, is(StateType::Success)).await;
    let value = done.task_run_list[1].outputs.as_ref().unwrap()["value"].clone();
    assert_eq!(value, json!("42"));
    let resume_again = service
        .control(
            &id,
            Control::Resume {
                task_run_id: None,
                inputs: JsonMap::new(),
            },
        )
        .await;
    assert!(matches!(resume_again, Err(ControlError::WrongState(_))));

    // Restart a failed execution after it left the loop's memory: loaded from the store.
    let failing = stored_flow(
        &store,
        "id: failing\nnamespace: svc\ntasks:\n  - id: f\n    type: io.kestra.plugin.core.execution.Fail\n",
    )
    .await;
    let execution = new_execution(&failing);
    let id = execution.id.clone();
    service.submit(failing.clone(), execution).await.unwrap();
    wait_for(&store, &id, is(StateType::Failed)).await;
    let restarted = service.control(&id, Control::Restart).await.unwrap();
    assert_eq!(restarted.state.current(), StateType::Restarted);
    let done = wait_for(&store, &id, |e| {
        e.state.current() == StateType::Failed && e.metadata.attempt_number == 2
    })
    .await;
    assert_eq!(done.task_run_list[0].attempts.len(), 2);

    // Manual pause of a running execution.
    let execution = new_execution(&sleepy);
    let id = execution.id.clone();
    service.submit(sleepy, execution).await.unwrap();
    wait_for(&store, &id, is(StateType::Running)).await;
    let paused = service.control(&id, Control::Pause).await.unwrap();
    assert_eq!(paused.state.current(), StateType::Paused);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_service_resumes_what_a_stopped_one_left() {
    let store = Arc::new(MemoryStore::new());
    let (first, _) = Service::start(runtime(store.clone())).await.unwrap();
    // A running worker attempt, a pause with a duration, and a subflow child still running.
    let worker = stored_flow(
        &store,
        "id: worker\nnamespace: svc\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.5S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
    )
    .await;
    let pause = stored_flow(
        &store,
        "id: timed\nnamespace: svc\ntasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Pause\n    pauseDuration: PT1S\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
    )
    .await;
    let parent = stored_flow(
        &store,
        "id: parent\nnamespace: svc\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: svc\n    flowId: worker\n  - id: after\n    type: io.kestra.plugin.core.log.Log\n    message: after\n",
    )
    .await;
    let mut ids = Vec::new();
    for flow in [&worker, &pause, &parent] {
        let execution = new_execution(flow);
        ids.push(execution.id.clone());
        first.submit(flow.clone(), execution).await.unwrap();
    }
    wait_for(&store, &ids[0], is(StateType::Running)).await;
    wait_for(&store, &ids[1], is(StateType::Paused)).await;
    wait_for(&store, &ids[2], |e| {
        e.task_run_list
            .first()
            .is_some_and(|r| r.state.current() == StateType::Running)
    })
    .await;
    // The "crash": the loop stops with everything in flight.
    first.shutdown().await;
    assert_eq!(
        store.unfinished_executions().await.unwrap().len(),
        4,
        "three executions and the subflow child are unfinished"
    );

    let (second, recovered) = Service::start(runtime(store.clone())).await.unwrap();
    assert_eq!(recovered, 4);
    for id in &ids {
        let done = wait_for(&store, id, is(StateType::Success)).await;
        assert_eq!(done.task_run_list.len(), 2, "{done:?}");
        assert!(
            done.task_run_list
                .iter()
                .all(|r| r.state.current() == StateType::Success)
        );
    }
    assert!(store.unfinished_executions().await.unwrap().is_empty());
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_limits_queue_cancel_or_fail() {
    let store = Arc::new(MemoryStore::new());
    let (service, _) = Service::start(runtime(store.clone())).await.unwrap();
    let flow = |behavior: &str| {
        format!(
            "id: limited-{}\nnamespace: svc\nconcurrency:\n  behavior: {behavior}\n  limit: 1\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.3S\n",
            behavior.to_lowercase()
        )
    };
    let histories =
        |e: &Execution| -> Vec<StateType> { e.state.histories().iter().map(|h| h.state).collect() };
    // QUEUE: five at once run one after the other.
    let queue = stored_flow(&store, &flow("QUEUE")).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let execution = new_execution(&queue);
        ids.push(execution.id.clone());
        service.submit(queue.clone(), execution).await.unwrap();
    }
    let mut ended = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let done = wait_for(&store, id, is(StateType::Success)).await;
        let expected: &[StateType] = if index == 0 {
            &[StateType::Created, StateType::Running]
        } else {
            &[StateType::Created, StateType::Queued, StateType::Running]
        };
        assert_eq!(&histories(&done)[..expected.len()], expected);
        ended.push(done);
    }
    // Never two at a time: each starts after the previous one ended.
    for pair in ended.windows(2) {
        let previous_end = pair[0].state.end_date().unwrap();
        let next_running = pair[1]
            .state
            .histories()
            .iter()
            .find(|h| h.state == StateType::Running)
            .unwrap()
            .date;
        assert!(next_running >= previous_end);
    }
    // CANCEL and FAIL: the second one ends at once, without task runs.
    for (behavior, state) in [
        ("CANCEL", StateType::Cancelled),
        ("FAIL", StateType::Failed),
    ] {
        let limited = stored_flow(&store, &flow(behavior)).await;
        let first = new_execution(&limited);
        let second = new_execution(&limited);
        let (first_id, second_id) = (first.id.clone(), second.id.clone());
        service.submit(limited.clone(), first).await.unwrap();
        service.submit(limited.clone(), second).await.unwrap();
        let refused = wait_for(&store, &second_id, is(state)).await;
        assert!(refused.task_run_list.is_empty());
        assert_eq!(histories(&refused), vec![StateType::Created, state]);
        wait_for(&store, &first_id, is(StateType::Success)).await;
    }
    service.shutdown().await;
}

/// Attempts go through a queue to a worker loop (the same path as `saker server worker`):
/// results and log lines come back, SECRET inputs are masked, a kill reaches the running
/// process, and the queue is empty afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn queued_attempts_run_on_queue_workers() {
    use crate::queue::{JobQueue, MemoryQueue, WorkerConfig, run_worker};
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    let rt = runtime(store.clone())
        .with_encryption_key(saker_expr::crypto::generate_key())
        .with_queue(queue.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        rt.clone(),
        queue.clone(),
        WorkerConfig::new(2),
        stop.clone(),
    ));
    let (service, _) = Service::start(rt.clone()).await.unwrap();

    let flow = stored_flow(
        &store,
        r#"
id: queued
namespace: svc
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
    )
    .await;
    let mut execution = new_execution(&flow);
    execution.inputs = rt.resolve_inputs(&flow, &[]).unwrap();
    let id = execution.id.clone();
    service.submit(flow, execution).await.unwrap();
    let done = wait_for(&store, &id, |e| e.state.current().is_terminated()).await;
    assert_eq!(done.state.current(), StateType::Success);
    assert_eq!(
        done.task_run_list[1].outputs.as_ref().unwrap()["value"],
        json!("PASSWORD")
    );
    let worker_id = done.task_run_list[1].attempts[0].worker_id.clone();
    assert!(worker_id.is_some(), "the attempt names its worker");
    let logs = store
        .logs(&saker_storage::LogFilter::execution(id.as_str()))
        .await
        .unwrap();
    assert!(
        logs.iter().any(|l| l.message == "my secret: ********"),
        "{logs:?}"
    );

    // A kill travels through the queue to the worker holding the job.
    let sleepy = stored_flow(
        &store,
        "id: sleepy-shell\nnamespace: svc\ntasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n    commands:\n      - sleep 300\n",
    )
    .await;
    let execution = new_execution(&sleepy);
    let id = execution.id.clone();
    service.submit(sleepy, execution).await.unwrap();
    wait_for(&store, &id, |e| {
        e.task_run_list
            .first()
            .is_some_and(|r| r.state.current() == StateType::Running)
    })
    .await;
    service.control(&id, Control::Kill).await.unwrap();
    let killed = wait_for(&store, &id, |e| e.state.current().is_terminated()).await;
    assert_eq!(killed.state.current(), StateType::Killed);
    // The worker's KILLED report may come after the execution ended: then the queue empties.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while queue.depth().await.unwrap() != (0, 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue keeps rows: {:?}",
            queue.depth().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    worker.await.unwrap().unwrap();
    service.shutdown().await;
}

/// Puts `flow`'s new executions into the loop's batch of submitted ones, as the channel does;
/// returns their ids and the callers' answers.
async fn submit_to_batch(
    driver: &mut Driver<MemoryStore>,
    flows: &[&Arc<Flow>],
) -> (
    Vec<ExecutionId>,
    Vec<oneshot::Receiver<Result<(), RuntimeError>>>,
) {
    let (mut ids, mut answers) = (Vec::new(), Vec::new());
    for flow in flows {
        let (reply, answer) = oneshot::channel();
        let execution = new_execution(flow);
        ids.push(execution.id.clone());
        let submitted = Submitted {
            flow: Arc::clone(flow),
            execution: Box::new(execution),
            reply,
        };
        driver
            .command(Command::Submit(submitted))
            .await
            .expect("a submit only joins the batch");
        answers.push(answer);
    }
    (ids, answers)
}

fn driver(store: Arc<MemoryStore>) -> Driver<MemoryStore> {
    let (tx, rx) = mpsc::unbounded_channel();
    Driver::new(runtime(store), tx, rx, Some(Arc::new(Hub::new())))
}

/// Submits of one turn share one commit: when it fails, each of them is answered with the
/// error and none is stored, kept in memory or started (none lost silently, none run without
/// being stored); the next batch is stored again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_of_submits_fails_each_and_keeps_none() {
    let store = Arc::new(MemoryStore::new());
    let good = stored_flow(&store, TWO_LOGS).await;
    let refused = stored_flow(
        &store,
        &TWO_LOGS.replace("namespace: svc", "namespace: down"),
    )
    .await;
    store.refuse_saves_in(Some("down"));
    let mut driver = driver(store.clone());
    let (ids, answers) = submit_to_batch(&mut driver, &[&good, &refused, &good]).await;
    driver.start_submitted().await.unwrap();
    for answer in answers {
        let error = answer.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("refused"), "{error}");
    }
    for id in &ids {
        assert_eq!(store.get_execution(id).await.unwrap(), None);
        assert!(!driver.lives.contains_key(id));
    }
    assert!(driver.pending.is_empty(), "a refused execution was started");

    store.refuse_saves_in(None);
    let (ids, answers) = submit_to_batch(&mut driver, &[&good, &refused]).await;
    driver.start_submitted().await.unwrap();
    for (id, answer) in ids.iter().zip(answers) {
        answer.await.unwrap().unwrap();
        let stored = store.get_execution(id).await.unwrap().expect("stored");
        assert_eq!(stored.state.current(), StateType::Created);
    }
    let started: Vec<&ExecutionId> = driver.pending.iter().map(|(id, _)| id).collect();
    assert_eq!(started, ids.iter().collect::<Vec<_>>());
}

/// Admission counts the executions admitted before in the same batch: with a limit of 1,
/// the first of three submitted together starts and the two others wait in the queue.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_submits_respects_the_concurrency_limit() {
    let store = Arc::new(MemoryStore::new());
    let limited = stored_flow(
        &store,
        "id: one\nnamespace: svc\nconcurrency:\n  behavior: QUEUE\n  limit: 1\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n",
    )
    .await;
    let mut driver = driver(store.clone());
    let (ids, answers) = submit_to_batch(&mut driver, &[&limited, &limited, &limited]).await;
    driver.start_submitted().await.unwrap();
    for answer in answers {
        answer.await.unwrap().unwrap();
    }
    let mut states = Vec::new();
    for id in &ids {
        states.push(
            store
                .get_execution(id)
                .await
                .unwrap()
                .unwrap()
                .state
                .current(),
        );
    }
    assert_eq!(
        states,
        [StateType::Created, StateType::Queued, StateType::Queued]
    );
    let queued: Vec<_> = driver.queued.values().flatten().collect();
    assert_eq!(queued, [&ids[1], &ids[2]]);
}

/// Many callers submitting at once (their submits join turns of the loop): each answer comes
/// after its execution is stored, and every execution runs to its end exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_submits_are_stored_before_their_answer_and_run_once() {
    let store = Arc::new(MemoryStore::new());
    let (service, _) = Service::start(runtime(store.clone())).await.unwrap();
    let service = Arc::new(service);
    let flow = stored_flow(&store, TWO_LOGS).await;
    let mut ended = service.ended();
    let mut callers = Vec::new();
    for _ in 0..50 {
        let (service, store, flow) = (service.clone(), store.clone(), flow.clone());
        callers.push(tokio::spawn(async move {
            let execution = new_execution(&flow);
            let id = execution.id.clone();
            service.submit(flow, execution).await.unwrap();
            let stored = store.get_execution(&id).await.unwrap().is_some();
            (id, stored)
        }));
    }
    let mut ids = Vec::new();
    for caller in callers {
        let (id, stored) = caller.await.unwrap();
        assert!(
            stored,
            "execution {} answered before it was stored",
            id.as_str()
        );
        ids.push(id);
    }
    let mut ended_ids = Vec::new();
    while ended_ids.len() < ids.len() {
        let execution = tokio::time::timeout(Duration::from_secs(10), ended.recv())
            .await
            .expect("every execution ends")
            .unwrap();
        assert_eq!(execution.state.current(), StateType::Success);
        ended_ids.push(execution.id.clone());
    }
    assert!(ended.try_recv().is_err(), "an execution ended twice");
    ended_ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(ended_ids, ids);
    service.shutdown().await;
}

/// Worker log lines and metrics join the loop's turns (one commit per kind and turn) but are
/// stored before the end of their task run: whenever a saved execution shows a Return run
/// ended, the run's debug line and its metrics are in the store.
#[tokio::test(flavor = "multi_thread")]
async fn task_logs_and_metrics_are_stored_before_the_task_run_ends() {
    let store = Arc::new(MemoryStore::new());
    let (service, _) = Service::start(runtime(store.clone())).await.unwrap();
    let flow = stored_flow(&store, TWO_LOGS).await;
    let mut updates = service.updates();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let execution = new_execution(&flow);
        ids.push(execution.id.clone());
        service.submit(flow.clone(), execution).await.unwrap();
    }
    let mut ended = 0;
    while ended < ids.len() {
        let update = tokio::time::timeout(Duration::from_secs(10), updates.recv())
            .await
            .expect("every execution ends")
            .unwrap();
        for run in update
            .task_run_list
            .iter()
            .filter(|r| r.state.is_terminated())
        {
            let filter = saker_storage::LogFilter {
                task_run_id: Some(run.id.as_str().to_owned()),
                ..saker_storage::LogFilter::execution(update.id.as_str())
            };
            let lines = store.logs(&filter).await.unwrap();
            assert!(
                !lines.is_empty(),
                "task run {} ended before its log line was stored",
                run.task_id
            );
            if run.task_id == "b" {
                let query = saker_storage::MetricQuery {
                    execution_id: update.id.as_str().to_owned(),
                    task_run_id: Some(run.id.as_str().to_owned()),
                    ..Default::default()
                };
                let metrics = store.search_metrics(&query).await.unwrap();
                assert!(
                    metrics.total >= 2,
                    "task run b ended before its metrics were stored"
                );
            }
        }
        if update.state.is_terminated() {
            ended += 1;
        }
    }
    service.shutdown().await;
}

/// A ForEach over `n` values, one at a time, with a Return body (the benchmark's `d` flows).
fn returns_flow(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("\"{i}\"")).collect();
    format!(
        "id: returns\nnamespace: inline\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    concurrencyLimit: 1\n    values: [{}]\n    tasks:\n      - id: ret\n        type: io.kestra.plugin.core.debug.Return\n        format: \"{{{{ taskrun.value }}}}\"\n",
        values.join(",")
    )
}

fn returns_of(execution: &Execution) -> Vec<&saker_core::TaskRun> {
    execution
        .task_run_list
        .iter()
        .filter(|r| r.task_id == "ret")
        .collect()
}

/// The Returns of [`returns_flow`] ended as a worker runs them: every value once, in order, each
/// run CREATED → RUNNING → SUCCESS with one SUCCESS attempt and its value as output.
fn assert_returns(execution: &Execution, n: usize) {
    assert_eq!(execution.state.current(), StateType::Success);
    let runs = returns_of(execution);
    assert_eq!(runs.len(), n, "one run per value");
    for (i, run) in runs.iter().enumerate() {
        let value = i.to_string();
        assert_eq!(
            run.value.as_deref(),
            Some(value.as_str()),
            "iteration order"
        );
        let states: Vec<StateType> = run.state.histories().iter().map(|h| h.state).collect();
        assert_eq!(
            states,
            [StateType::Created, StateType::Running, StateType::Success],
            "{run:?}"
        );
        assert_eq!(run.attempts.len(), 1, "{run:?}");
        assert_eq!(run.attempts[0].state.current(), StateType::Success);
        let expected = json!({ "value": value });
        assert_eq!(run.outputs.as_ref(), expected.as_object(), "{run:?}");
    }
}

/// The last of `runs`, after checking that every run before it ended SUCCESS.
fn last_after_successes<'a>(runs: &[&'a saker_core::TaskRun]) -> &'a saker_core::TaskRun {
    let (last, ended) = runs.split_last().expect("runs");
    assert!(
        ended
            .iter()
            .all(|r| r.state.current() == StateType::Success)
    );
    last
}

/// A loop (not running) that has stored and started an execution of [`returns_flow`]`(n)`.
async fn started_returns(n: usize) -> (Arc<MemoryStore>, Driver<MemoryStore>, ExecutionId) {
    let store = Arc::new(MemoryStore::new());
    let flow = stored_flow(&store, &returns_flow(n)).await;
    let mut driver = driver(store.clone());
    let execution = new_execution(&flow);
    let id = execution.id.clone();
    driver.start(flow, execution, None).await.unwrap();
    (store, driver, id)
}

/// Starts a new service on `store` (the restart after a crash): it resumes execution `id` of
/// [`returns_flow`]`(n)`, which ends as without the crash.
async fn resume_and_check_returns(store: &Arc<MemoryStore>, id: &ExecutionId, n: usize) {
    let (service, recovered) = Service::start(runtime(store.clone())).await.unwrap();
    assert_eq!(recovered, 1);
    let done = wait_for(store, id, is(StateType::Success)).await;
    assert_returns(&done, n);
    service.shutdown().await;
}

/// The loop runs inline tasks (Return) itself and commits a chain of them in steps of
/// `INLINE_STEPS_PER_COMMIT`: one batch stores that many ended runs (their log lines before them)
/// plus the next run, whose attempt waits in the channel. A crash there (the loop gone with that
/// message) loses nothing: a new service resumes the stored run and ends the execution with every
/// output and state history as without the crash.
#[tokio::test(flavor = "multi_thread")]
async fn inline_tasks_share_a_commit_and_a_crash_after_it_resumes() {
    let n = crate::INLINE_STEPS_PER_COMMIT * 2 + 10;
    let (store, mut driver, id) = started_returns(n).await;
    driver.handle_pending().await.unwrap();

    let stored = store.get_execution(&id).await.unwrap().expect("stored");
    let runs = returns_of(&stored);
    assert_eq!(runs.len(), crate::INLINE_STEPS_PER_COMMIT + 1);
    let last = last_after_successes(&runs);
    assert_eq!(last.state.current(), StateType::Running, "dispatched");
    for run in &runs[..runs.len() - 1] {
        let filter = saker_storage::LogFilter {
            task_run_id: Some(run.id.as_str().to_owned()),
            ..saker_storage::LogFilter::execution(id.as_str())
        };
        assert_eq!(
            store.logs(&filter).await.unwrap().len(),
            1,
            "its debug line"
        );
    }
    assert!(
        matches!(driver.rx.try_recv(), Ok(Msg::Inline(_, ref run, _)) if *run == last.id),
        "the next attempt waits in the channel"
    );
    drop(driver);

    resume_and_check_returns(&store, &id, n).await;
}

/// A crash in the middle of a chain, before its commit: none of its steps is stored, and the
/// resumed execution runs them again, with the same outputs and histories.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_before_an_inline_chain_is_committed_resumes_from_the_last_commit() {
    let n = crate::INLINE_STEPS_PER_COMMIT + 5;
    let (store, mut driver, id) = started_returns(n).await;
    store.refuse_saves_in(Some("inline"));
    assert!(driver.handle_pending().await.is_err(), "the commit fails");
    drop(driver);
    store.refuse_saves_in(None);
    let stored = store.get_execution(&id).await.unwrap().expect("stored");
    assert_eq!(stored.state.current(), StateType::Created);
    assert!(stored.task_run_list.is_empty(), "nothing of the chain");

    resume_and_check_returns(&store, &id, n).await;
}

/// A kill between two steps of a chain: the attempt waiting in the channel is reported KILLED
/// without running (as a cancelled worker attempt) and the execution ends KILLED.
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_between_inline_steps_kills_the_waiting_attempt() {
    let n = crate::INLINE_STEPS_PER_COMMIT * 3;
    let (store, mut driver, id) = started_returns(n).await;
    driver.handle_pending().await.unwrap();
    driver.pending.push_back((id.clone(), Event::KillRequested));
    driver.handle_pending().await.unwrap();
    let waiting = driver.rx.try_recv().expect("the next attempt");
    assert!(matches!(waiting, Msg::Inline(..)));
    driver.accept(waiting).await.unwrap();
    driver.handle_pending().await.unwrap();

    let stored = store.get_execution(&id).await.unwrap().expect("stored");
    assert_eq!(stored.state.current(), StateType::Killed);
    let runs = returns_of(&stored);
    assert_eq!(runs.len(), crate::INLINE_STEPS_PER_COMMIT + 1);
    let last = last_after_successes(&runs);
    assert_eq!(last.state.current(), StateType::Killed);
    assert!(last.outputs.is_none(), "it did not run");
}

/// A crash between the commit of a parent whose Subflow run started and the save of its child
/// (the child's save fails here, as if the process died before it): the parent is stored with
/// the child's id and no child. A new service starts the child with that id and the inputs the
/// Subflow renders, and the parent ends with the child's outputs.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_never_saved_before_a_crash_is_started_at_resumption() {
    let store = Arc::new(MemoryStore::new());
    stored_flow(
        &store,
        "id: child\nnamespace: kid\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.n * 2 }}\"\noutputs:\n  - id: doubled\n    type: INT\n    value: \"{{ outputs.r.value }}\"\n",
    )
    .await;
    let parent = stored_flow(
        &store,
        "id: parent\nnamespace: svc\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: kid\n    flowId: child\n    inputs:\n      n: \"{{ 20 + 1 }}\"\n  - id: after\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ outputs.call.outputs.doubled }}\"\n",
    )
    .await;
    let mut driver = driver(store.clone());
    let execution = new_execution(&parent);
    let id = execution.id.clone();
    driver.start(parent, execution, None).await.unwrap();
    store.refuse_saves_in(Some("kid"));
    assert!(
        driver.handle_pending().await.is_err(),
        "the child's save fails"
    );
    drop(driver);
    store.refuse_saves_in(None);
    let stored = store.get_execution(&id).await.unwrap().expect("stored");
    let call = &stored.task_run_list[0];
    assert_eq!(call.state.current(), StateType::Running);
    let child_id = ExecutionId::new(
        call.outputs.as_ref().unwrap()["executionId"]
            .as_str()
            .unwrap(),
    );
    assert!(store.get_execution(&child_id).await.unwrap().is_none());

    let (service, recovered) = Service::start(runtime(store.clone())).await.unwrap();
    assert_eq!(recovered, 1);
    let done = wait_for(&store, &id, |e| e.state.is_terminated()).await;
    assert_eq!(done.state.current(), StateType::Success, "{done:?}");
    let child = store
        .get_execution(&child_id)
        .await
        .unwrap()
        .expect("the child was started with the recorded id");
    assert_eq!(child.state.current(), StateType::Success);
    assert_eq!(child.inputs["n"], json!(21));
    let trigger = child.trigger.as_ref().unwrap().variables.as_ref().unwrap();
    assert_eq!(trigger["executionId"], json!(id.as_str()));
    assert_eq!(trigger["taskRunId"], json!(call.id.as_str()));
    let outputs = |task: &str| {
        done.task_run_list
            .iter()
            .find(|r| r.task_id == task)
            .and_then(|r| r.outputs.clone())
            .unwrap()
    };
    assert_eq!(outputs("call")["executionId"], json!(child_id.as_str()));
    assert_eq!(outputs("call")["outputs"], json!({"doubled": 42}));
    assert_eq!(outputs("after")["value"], json!("42"));
    service.shutdown().await;
}

//! WorkingDirectory: the engine dispatches the block, records the child task runs its worker
//! reports (`dynamic`), derives the block's state from them and runs its `errors` itself.

mod common;

use common::{Run, flow};
use saker_core::{JsonMap, StateType, TaskRunId};
use saker_engine::{
    Action, BlockReleased, DynamicTaskRun, Event, TaskRunResult, WorkerTaskRuns,
    working_directory_context,
};
use serde_json::json;

const BLOCK: &str = r#"
tasks:
  - id: block
    type: WorkingDirectory
    tasks:
      - id: first
        type: Return
        format: one
      - id: off
        type: Log
        message: never
        disabled: true
      - id: second
        type: Return
        format: two
    errors:
      - id: on-error
        type: Log
        message: failed
  - id: after
    type: Log
    message: after
"#;

/// A block dispatched and waiting for its worker (the driver leaves blocks alone).
fn dispatched(yaml: &str) -> (Run, TaskRunId) {
    let run = Run::new(yaml).start();
    let block = run.run_id("block");
    assert!(run.actions.iter().any(|a| matches!(a,
        Action::Dispatch { task_run_id, task_id } if *task_run_id == block && task_id == "block")));
    assert_eq!(run.task_state("block"), StateType::Running);
    (run, block)
}

fn child(task_id: &str, id: &str, state: StateType, outputs: Option<JsonMap>) -> DynamicTaskRun {
    let id = TaskRunId::new(id);
    DynamicTaskRun {
        task_id: task_id.into(),
        result: if state == StateType::Running {
            TaskRunResult::running(id)
        } else {
            TaskRunResult::ended(id, state, outputs)
        },
    }
}

fn value(v: &str) -> Option<JsonMap> {
    let mut map = JsonMap::new();
    map.insert("value".into(), json!(v));
    Some(map)
}

fn report(
    block: &TaskRunId,
    children: Vec<DynamicTaskRun>,
    released: Option<BlockReleased>,
) -> Event {
    Event::WorkerTaskRuns(WorkerTaskRuns {
        task_run_id: block.clone(),
        children,
        released,
    })
}

fn released(state: StateType, outputs: Option<JsonMap>) -> Option<BlockReleased> {
    Some(BlockReleased { state, outputs })
}

#[test]
fn children_reported_by_the_worker_become_dynamic_task_runs() {
    let (mut run, block) = dispatched(BLOCK);
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Running, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Success, value("one"))],
        None,
    ));
    // Every child so far ended, but `second` has no run yet: the block keeps running.
    assert_eq!(run.task_state("block"), StateType::Running);
    run.send(report(
        &block,
        vec![child("second", "c2", StateType::Running, None)],
        None,
    ));
    let mut outputs = JsonMap::new();
    outputs.insert(
        "outputFiles".into(),
        json!({"out.txt": "kestra:///x/out.txt"}),
    );
    run.send(report(
        &block,
        vec![child("second", "c2", StateType::Success, value("two"))],
        released(StateType::Success, Some(outputs)),
    ));
    assert_eq!(run.state(), StateType::Success);
    let c1 = run.exec.find_task_run("c1").unwrap();
    assert_eq!(c1.dynamic, Some(true));
    assert_eq!(c1.parent_task_run_id.as_ref(), Some(&block));
    assert_eq!(c1.attempts.len(), 1);
    assert_eq!(c1.state.current(), StateType::Success);
    let block_run = run.exec.find_task_run(block.as_str()).unwrap();
    assert_eq!(block_run.state.current(), StateType::Success);
    // The block itself is a flowable: no attempt, outputs from the release.
    assert!(block_run.attempts.is_empty());
    assert_eq!(
        block_run.outputs.as_ref().unwrap()["outputFiles"]["out.txt"],
        json!("kestra:///x/out.txt")
    );
    assert_eq!(run.count("off"), 0);
    assert_eq!(run.count("on-error"), 0);
    assert_eq!(run.task_state("after"), StateType::Success);
    // Children see each other's outputs through `outputs`.
    assert_eq!(
        run.exec.outputs_variable()["first"],
        json!({"value": "one"})
    );
}

#[test]
fn a_failing_child_stops_the_block_and_its_errors_run_on_the_engine() {
    let (mut run, block) = dispatched(BLOCK);
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Running, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Failed, None)],
        released(StateType::Success, None),
    ));
    assert_eq!(run.task_state("first"), StateType::Failed);
    // No retry for a child: its directory is gone.
    assert!(
        !run.actions
            .iter()
            .any(|a| matches!(a, Action::ArmTimer { .. }))
    );
    assert_eq!(run.count("second"), 0);
    assert_eq!(run.task_state("on-error"), StateType::Success);
    assert_eq!(run.task_state("block"), StateType::Failed);
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("after"), 0);
}

#[test]
fn skipped_children_allow_failure_and_a_failed_preparation() {
    let yaml = r#"
tasks:
  - id: block
    type: WorkingDirectory
    tasks:
      - id: maybe
        type: Log
        message: x
        runIf: "false"
      - id: tolerated
        type: Fail
        allowFailure: true
"#;
    let (mut run, block) = dispatched(yaml);
    run.send(report(
        &block,
        vec![child("maybe", "c1", StateType::Skipped, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("tolerated", "c2", StateType::Running, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("tolerated", "c2", StateType::Failed, None)],
        released(StateType::Success, None),
    ));
    assert_eq!(run.task_state("maybe"), StateType::Skipped);
    assert!(run.exec.find_task_run("c1").unwrap().attempts.is_empty());
    assert_eq!(run.task_state("tolerated"), StateType::Warning);
    assert_eq!(run.task_state("block"), StateType::Warning);

    // The directory could not be prepared: the block fails with one attempt, no child.
    let (mut run, block) = dispatched(yaml);
    run.send(report(
        &block,
        Vec::new(),
        released(StateType::Failed, None),
    ));
    let block_run = run.exec.find_task_run(block.as_str()).unwrap();
    assert_eq!(block_run.state.current(), StateType::Failed);
    assert_eq!(block_run.attempts.len(), 1);
    assert_eq!(run.state(), StateType::Failed);
}

#[test]
fn reports_for_other_tasks_or_after_the_end_are_ignored() {
    let (mut run, block) = dispatched(BLOCK);
    // `after` is not a child of the block, `off` is disabled.
    run.send(report(
        &block,
        vec![child("after", "x1", StateType::Running, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("off", "x2", StateType::Running, None)],
        None,
    ));
    assert!(run.exec.find_task_run("x1").is_none());
    assert!(run.exec.find_task_run("x2").is_none());
    run.send(Event::KillRequested);
    assert_eq!(run.task_state("block"), StateType::Killed);
    let before = run.exec.task_run_list.len();
    run.send(report(
        &block,
        vec![child("first", "late", StateType::Running, None)],
        None,
    ));
    assert_eq!(run.exec.task_run_list.len(), before);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.contains("late WorkingDirectory report ignored"))
    );
}

#[test]
fn restart_reruns_the_whole_block() {
    let (mut run, block) = dispatched(BLOCK);
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Running, None)],
        None,
    ));
    run.send(report(
        &block,
        vec![child("first", "c1", StateType::Failed, None)],
        released(StateType::Success, None),
    ));
    assert_eq!(run.state(), StateType::Failed);
    let dispatches = |run: &Run| {
        run.actions
            .iter()
            .filter(|a| matches!(a, Action::Dispatch { task_id, .. } if task_id == "block"))
            .count()
    };
    assert_eq!(dispatches(&run), 1);
    run.send(Event::RestartRequested);
    // The children and the errors run are gone; the block is sent to a worker again.
    assert!(run.exec.find_task_run("c1").is_none());
    assert_eq!(run.count("on-error"), 0);
    assert_eq!(run.task_state("block"), StateType::Running);
    assert_eq!(dispatches(&run), 2);
}

#[test]
fn a_block_without_children_is_not_sent_to_a_worker() {
    let run = Run::new(
        r#"
tasks:
  - id: block
    type: WorkingDirectory
    tasks:
      - id: off
        type: Log
        message: x
        disabled: true
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert!(
        !run.actions
            .iter()
            .any(|a| matches!(a, Action::Dispatch { .. }))
    );
}

#[test]
fn child_context_has_the_block_value_and_worker_taskrun() {
    let yaml = r#"
tasks:
  - id: each
    type: ForEach
    values: ["v1"]
    tasks:
      - id: block
        type: WorkingDirectory
        tasks:
          - id: first
            type: Return
            format: "{{ taskrun.value }}"
"#;
    let f = flow(yaml);
    let run = Run::new(yaml).start();
    let block_run = run
        .exec
        .task_run_list
        .iter()
        .find(|r| r.task_id == "block")
        .unwrap();
    assert_eq!(block_run.value.as_deref(), Some("v1"));
    let mut child_run = saker_core::TaskRun::new(TaskRunId::new("c1"), &run.exec, "first", run.now)
        .with_parent(Some(block_run.id.clone()));
    child_run.dynamic = Some(true);
    let task = f.find_task("first").unwrap();
    let ctx = working_directory_context(
        &f,
        &run.exec,
        block_run,
        task,
        &child_run,
        &saker_engine::NoEngineServices,
    );
    assert_eq!(ctx["taskrun"]["id"], json!("c1"));
    assert_eq!(ctx["taskrun"]["value"], json!("v1"));
    assert_eq!(ctx["workerTaskrun"]["id"], json!(block_run.id.as_str()));
    assert_eq!(ctx["task"]["id"], json!("first"));
    // `parents` are the block's: the block itself is not among them.
    let parents = ctx["parents"].as_array().unwrap();
    assert!(
        !parents.contains(&json!({"taskrun": {"value": "v1"}})),
        "{parents:?}"
    );
}

//! Replay as a new execution and the change of a task run's state (Kestra's "mark as").

mod common;

use common::Run;
use saker_core::{ExecutionId, SequentialIds, StateType, TaskRunId};
use saker_engine::{Event, ReplayError, check_change_state, replay};

const FLAKY: &str = r#"
tasks:
  - id: a
    type: Log
    message: a
  - id: seq
    type: Sequential
    tasks:
      - id: b
        type: Fail
        condition: "{{ taskrun.attemptsCount < 2 }}"
      - id: c
        type: Log
        message: c
  - id: d
    type: Log
    message: d
errors:
  - id: handler
    type: Log
    message: handled
"#;

fn replayed(run: &Run, from: Option<&str>) -> Result<saker_core::Execution, ReplayError> {
    let mut ids = SequentialIds::new(99);
    replay(
        &run.flow,
        &run.exec,
        from,
        ExecutionId::new("replay"),
        &mut ids,
        run.now,
    )
}

/// Drives `execution` as a new execution of `run`'s flow.
fn start_copy(run: &Run, execution: saker_core::Execution) -> Run {
    let mut copy = Run::new(FLAKY);
    copy.flow = run.flow.clone();
    copy.exec = execution;
    copy.now = run.now;
    copy.start()
}

#[test]
fn replay_from_a_failed_task_run_keeps_what_came_before() {
    let run = Run::new(FLAKY).start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("handler"), 1);
    let b = run.run_id("b");
    let new = replayed(&run, Some(b.as_str())).unwrap();
    assert_eq!(new.id.as_str(), "replay");
    assert_eq!(new.parent_id.as_ref().map(|p| p.as_str()), Some("exec"));
    assert_eq!(new.original_id.as_ref().map(|p| p.as_str()), Some("exec"));
    assert_eq!(
        new.metadata.attempt_number,
        run.exec.metadata.attempt_number + 1
    );
    assert_eq!(new.state.current(), StateType::Restarted);
    let tasks: Vec<(&str, StateType)> = new
        .task_run_list
        .iter()
        .map(|r| (r.task_id.as_str(), r.state.current()))
        .collect();
    assert_eq!(
        tasks,
        [
            ("a", StateType::Success),
            ("seq", StateType::Running),
            ("b", StateType::Restarted)
        ]
    );
    // New ids, re-linked parents, the new execution id.
    assert!(new.task_run_list.iter().all(|r| r.execution_id == new.id));
    assert_ne!(new.task_run_list[2].id, b);
    assert_eq!(
        new.task_run_list[2].parent_task_run_id.as_ref(),
        Some(&new.task_run_list[1].id)
    );
    let replay = start_copy(&run, new);
    assert_eq!(replay.state(), StateType::Success);
    assert_eq!(replay.count("handler"), 0);
    assert_eq!(replay.count("c"), 1);
    assert_eq!(replay.count("d"), 1);
    assert_eq!(replay.task_state("a"), StateType::Success);
    // The old execution is untouched.
    assert_eq!(run.state(), StateType::Failed);
}

#[test]
fn replay_from_an_earlier_task_drops_everything_after_it() {
    let run = Run::new(FLAKY).start();
    let a = run.run_id("a");
    let new = replayed(&run, Some(a.as_str())).unwrap();
    let tasks: Vec<(&str, StateType)> = new
        .task_run_list
        .iter()
        .map(|r| (r.task_id.as_str(), r.state.current()))
        .collect();
    assert_eq!(tasks, [("a", StateType::Restarted)]);
    let replay = start_copy(&run, new);
    // `b` starts over (no attempt kept), so it fails again and the errors branch runs.
    assert_eq!(replay.state(), StateType::Failed);
    assert_eq!(replay.count("handler"), 1);
}

#[test]
fn replay_without_a_task_run_starts_over() {
    let run = Run::new(FLAKY).start();
    let new = replayed(&run, None).unwrap();
    assert!(new.task_run_list.is_empty());
    assert_eq!(new.state.current(), StateType::Created);
    assert_eq!(new.state.histories().len(), 1);
    assert_eq!(new.inputs, run.exec.inputs);
    assert_eq!(new.parent_id.as_ref().map(|p| p.as_str()), Some("exec"));
}

#[test]
fn replay_keeps_parallel_siblings() {
    let run = Run::new(
        r#"
tasks:
  - id: par
    type: Parallel
    tasks:
      - id: p1
        type: Log
        message: one
      - id: p2
        type: Fail
        condition: "{{ taskrun.attemptsCount < 2 }}"
      - id: p3
        type: Log
        message: three
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    let p2 = run.run_id("p2");
    let new = replayed(&run, Some(p2.as_str())).unwrap();
    // Siblings of a parallel branch are copied as they ended; only the target restarts.
    let state_of = |exec: &saker_core::Execution, task: &str| {
        exec.task_runs_by_task_id(task)
            .next()
            .map(|r| r.state.current())
    };
    assert_eq!(new.task_run_list.len(), 4);
    assert_eq!(state_of(&new, "par"), Some(StateType::Running));
    assert_eq!(state_of(&new, "p2"), Some(StateType::Restarted));
    for sibling in ["p1", "p3"] {
        assert_eq!(state_of(&new, sibling), state_of(&run.exec, sibling));
    }
}

#[test]
fn replay_refuses_unknown_task_runs_and_unfinished_executions() {
    let run = Run::new(FLAKY).start();
    assert_eq!(
        replayed(&run, Some("nope")),
        Err(ReplayError::UnknownTaskRun("nope".into()))
    );
    let paused = Run::new(
        r#"
tasks:
  - id: wait
    type: Pause
"#,
    )
    .start();
    assert_eq!(paused.state(), StateType::Paused);
    assert!(matches!(
        replayed(&paused, None),
        Err(ReplayError::WrongState(_))
    ));
}

#[test]
fn marking_a_failed_task_run_as_success_goes_on_from_there() {
    let mut run = Run::new(
        r#"
tasks:
  - id: a
    type: Log
    message: a
  - id: seq
    type: Sequential
    tasks:
      - id: b
        type: Fail
      - id: c
        type: Log
        message: c
errors:
  - id: handler
    type: Log
    message: handled
finally:
  - id: last
    type: Log
    message: last
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("handler"), 1);
    let b = run.run_id("b");
    let attempts = run.exec.find_task_run(b.as_str()).unwrap().attempts.len();
    run.send(Event::TaskRunStateChanged {
        task_run_id: b.clone(),
        state: StateType::Success,
    });
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("b"), StateType::Success);
    assert_eq!(run.count("c"), 1);
    // The errors branch is gone, finally ran again once.
    assert_eq!(run.count("handler"), 0);
    assert_eq!(run.count("last"), 1);
    let b_run = run.exec.find_task_run(b.as_str()).unwrap();
    assert_eq!(b_run.attempts.len(), attempts);
    assert_eq!(
        b_run.attempts.last().unwrap().state.current(),
        StateType::Success
    );
    assert!(
        run.exec
            .state
            .histories()
            .iter()
            .any(|h| h.state == StateType::Restarted)
    );
}

#[test]
fn marking_a_successful_task_run_as_failed_fails_the_execution() {
    let mut run = Run::new(
        r#"
tasks:
  - id: a
    type: Log
    message: a
errors:
  - id: handler
    type: Log
    message: handled
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let a = run.run_id("a");
    run.send(Event::TaskRunStateChanged {
        task_run_id: a,
        state: StateType::Failed,
    });
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("handler"), 1);
}

#[test]
fn change_state_checks() {
    let run = Run::new(FLAKY).start();
    let b = run.run_id("b");
    assert_eq!(
        check_change_state(&run.exec, "nope", StateType::Success),
        Err(ReplayError::UnknownTaskRun("nope".into()))
    );
    assert!(matches!(
        check_change_state(&run.exec, b.as_str(), StateType::Running),
        Err(ReplayError::Invalid(_))
    ));
    assert_eq!(
        check_change_state(&run.exec, b.as_str(), StateType::Success),
        Ok(())
    );
    let mut running = Run::new(
        r#"
tasks:
  - id: s
    type: Sleep
"#,
    );
    running.send(Event::Created);
    assert_eq!(running.state(), StateType::Running);
    let s = running.run_id("s");
    assert!(matches!(
        check_change_state(&running.exec, s.as_str(), StateType::Success),
        Err(ReplayError::WrongState(_))
    ));
    let _: TaskRunId = s;
}

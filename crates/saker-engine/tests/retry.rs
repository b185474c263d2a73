//! Retries: attempts, timers, resolution order, warningOnRetry, CREATE_NEW_EXECUTION.

mod common;

use common::Run;
use saker_core::StateType;

#[test]
fn constant_retry_until_success_keeps_attempts() {
    let run = Run::new(
        r#"
tasks:
  - id: flaky
    type: Fail
    condition: "{{ taskrun.attemptsCount < 3 }}"
    retry:
      type: constant
      interval: PT10S
      maxAttempts: 5
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let flaky = run.exec.task_runs_by_task_id("flaky").next().unwrap();
    assert_eq!(flaky.attempts.len(), 3);
    let history: Vec<StateType> = flaky.state.histories().iter().map(|h| h.state).collect();
    use StateType::*;
    assert_eq!(
        history,
        [
            Created, Running, Failed, Retrying, Created, Running, Failed, Retrying, Created,
            Running, Success
        ]
    );
    let exec_history: Vec<StateType> = run.exec.state.histories().iter().map(|h| h.state).collect();
    assert_eq!(
        exec_history,
        [
            Created, Running, Retrying, Running, Retrying, Running, Success
        ]
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn retries_exhausted_then_allow_failure_applies() {
    let run = Run::new(
        r#"
tasks:
  - id: always
    type: Fail
    allowFailure: true
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 2
"#,
    )
    .start();
    let always = run.exec.task_runs_by_task_id("always").next().unwrap();
    assert_eq!(always.attempts.len(), 2);
    assert_eq!(always.state.current(), StateType::Warning);
    assert_eq!(run.state(), StateType::Warning);
}

#[test]
fn retry_resolution_task_then_flowable_then_flow() {
    let run = Run::new(
        r#"
retry:
  type: constant
  interval: PT1M
  maxAttempts: 4
tasks:
  - id: seq
    type: Sequential
    retry:
      type: constant
      interval: PT5S
      maxAttempts: 3
    tasks:
      - id: own
        type: Fail
        retry:
          type: constant
          interval: PT2S
          maxAttempts: 2
      - id: never
        type: Log
        message: x
  - id: top
    type: Fail
errors:
  - id: inherited
    type: Fail
"#,
    )
    .start();
    let attempts = |id: &str| {
        run.exec
            .task_runs_by_task_id(id)
            .next()
            .unwrap()
            .attempts
            .len()
    };
    assert_eq!(attempts("own"), 2);
    assert_eq!(run.count("top"), 0);
    // `inherited` is at the top level: the flow retry applies.
    assert_eq!(attempts("inherited"), 4);
    assert_eq!(run.state(), StateType::Failed);
    let timers: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.starts_with("  timer retry"))
        .map(|l| l.trim())
        .collect();
    assert_eq!(timers[0], "timer retry own in PT2S");
    assert_eq!(timers[1], "timer retry inherited in PT1M");
}

#[test]
fn flowable_retry_applies_to_children_without_one() {
    let run = Run::new(
        r#"
tasks:
  - id: seq
    type: Sequential
    retry:
      type: constant
      interval: PT5S
      maxAttempts: 3
    tasks:
      - id: child
        type: Fail
"#,
    )
    .start();
    assert_eq!(
        run.exec
            .task_runs_by_task_id("child")
            .next()
            .unwrap()
            .attempts
            .len(),
        3
    );
    assert!(
        run.trace
            .iter()
            .any(|l| l.trim() == "timer retry child in PT5S")
    );
}

#[test]
fn exponential_retry_and_max_duration() {
    let run = Run::new(
        r#"
tasks:
  - id: expo
    type: Fail
    retry:
      type: exponential
      interval: PT10S
      maxInterval: PT25S
      maxAttempts: 5
"#,
    )
    .start();
    let timers: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.contains("  timer"))
        .map(|l| l.trim())
        .collect();
    // interval * int(delayFactor=2) * (n - 1): immediate, 20s, capped 25s, 25s.
    assert_eq!(
        timers,
        [
            "timer retry expo in PT0S",
            "timer retry expo in PT20S",
            "timer retry expo in PT25S",
            "timer retry expo in PT25S"
        ]
    );

    let run = Run::new(
        r#"
tasks:
  - id: bounded
    type: Fail
    retry:
      type: constant
      interval: PT10S
      maxDuration: PT25S
"#,
    )
    .start();
    // Attempts start at t, t+11, t+22: the next one (t+33) would exceed the 25s budget.
    assert_eq!(
        run.exec
            .task_runs_by_task_id("bounded")
            .next()
            .unwrap()
            .attempts
            .len(),
        3
    );
    assert_eq!(run.state(), StateType::Failed);
}

#[test]
fn warning_on_retry_turns_a_late_success_into_warning() {
    let run = Run::new(
        r#"
tasks:
  - id: flaky
    type: Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 3
      warningOnRetry: true
"#,
    )
    .start();
    assert_eq!(run.task_state("flaky"), StateType::Warning);
    assert_eq!(run.state(), StateType::Warning);
}

#[test]
fn create_new_execution_marks_retried_and_asks_for_a_replay() {
    let run = Run::new(
        r#"
tasks:
  - id: seq
    type: Sequential
    tasks:
      - id: ko
        type: Fail
        retry:
          type: constant
          interval: PT30S
          maxAttempts: 2
          behavior: CREATE_NEW_EXECUTION
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Retried);
    assert_eq!(run.task_state("ko"), StateType::Retried);
    assert_eq!(run.task_state("seq"), StateType::Retried);
    insta::assert_snapshot!(run.report());
}

//! Flow-level SLAs: MAX_DURATION timers, EXECUTION_ASSERTION checks, behaviors and labels.

mod common;

use common::Run;
use saker_core::StateType;

#[test]
fn max_duration_fails_the_execution_and_its_running_task() {
    let run = Run::new(
        r#"
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT30S
    labels:
      sla: missed
tasks:
  - id: sleep
    type: Sleep
    duration: PT2M
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("sleep"), StateType::Failed);
    let logs = run.logs();
    assert!(
        // The fake driver's clock moves one second per event.
        logs.iter().any(|l| l
            == "SLA 'maxDuration' violated: execution duration of PT31S exceed the maximum duration of PT30S."),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.starts_with("Execution failed due to SLA 'maxDuration' violated: ")),
        "{logs:?}"
    );
    assert!(
        run.exec
            .labels
            .iter()
            .any(|l| l.key == "sla" && l.value == "missed")
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn max_duration_not_reached_changes_nothing() {
    let run = Run::new(
        r#"
sla:
  - id: maxDuration
    type: MAX_DURATION
    behavior: FAIL
    duration: PT1H
tasks:
  - id: log
    type: Log
    message: hello
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert!(!run.logs().iter().any(|l| l.contains("SLA")));
}

#[test]
fn scheduled_execution_counts_its_deadline_from_its_start() {
    let run = Run::scheduled(
        r#"
sla:
  - id: max
    type: MAX_DURATION
    behavior: CANCEL
    duration: PT10S
tasks:
  - id: log
    type: Log
    message: hello
"#,
        chrono::TimeDelta::minutes(5),
    )
    .start();
    // Waiting five minutes for its date did not violate the ten-second SLA.
    assert_eq!(run.state(), StateType::Success);
}

const ASSERTIONS: &str = r#"
inputs:
  - id: string
    type: STRING
    defaults: PASS
sla:
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: CANCEL
    assert: "{{ inputs.string != 'CANCEL' }}"
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{ inputs.string != 'LABEL' }}"
    labels:
      sla: violated
tasks:
  - id: log
    type: Log
    message: hello
"#;

#[test]
fn assertion_holding_changes_nothing() {
    let run = Run::with_inputs(ASSERTIONS, serde_json::json!({"string": "PASS"})).start();
    assert_eq!(run.state(), StateType::Success);
    assert!(!run.exec.labels.iter().any(|l| l.key == "sla"));
}

#[test]
fn assertion_cancel_cancels_before_any_task() {
    let run = Run::with_inputs(ASSERTIONS, serde_json::json!({"string": "CANCEL"})).start();
    assert_eq!(run.state(), StateType::Cancelled);
    assert_eq!(run.count("log"), 0);
    assert!(
        run.logs().iter().any(|l| l
            == "SLA 'condition' violated: assertion is false: {{ inputs.string != 'CANCEL' }}.")
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn assertion_none_only_labels() {
    let run = Run::with_inputs(ASSERTIONS, serde_json::json!({"string": "LABEL"})).start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("log"), StateType::Success);
    let labels: Vec<_> = run
        .exec
        .labels
        .iter()
        .filter(|l| !l.key.starts_with("system."))
        .map(|l| format!("{}={}", l.key, l.value))
        .collect();
    assert_eq!(labels, ["sla=violated"]);
}

#[test]
fn assertion_checked_on_later_changes() {
    let run = Run::new(
        r#"
sla:
  - id: fast
    type: EXECUTION_ASSERTION
    behavior: FAIL
    assert: "{{ outputs.first is not defined }}"
tasks:
  - id: first
    type: Return
    format: one
  - id: second
    type: Return
    format: two
"#,
    )
    .start();
    // Violated once `first` has outputs: `second` never runs.
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("first"), StateType::Success);
    assert_eq!(run.count("second"), 0);
}

#[test]
fn assertion_that_cannot_render_is_ignored_with_an_error() {
    let run = Run::new(
        r#"
sla:
  - id: broken
    type: EXECUTION_ASSERTION
    behavior: FAIL
    assert: "{{ nope.nope }}"
tasks:
  - id: log
    type: Log
    message: hello
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.starts_with("Ignoring SLA 'broken' because of the error: ")),
        "{:?}",
        run.logs()
    );
}

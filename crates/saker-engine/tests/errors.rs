//! errors / finally at flow and flowable level, allowFailure / allowWarning, runIf, disabled.

mod common;

use common::Run;
use saker_core::StateType;

#[test]
fn flow_errors_run_after_a_failure_and_execution_stays_failed() {
    let run = Run::new(
        r#"
tasks:
  - id: ok
    type: Log
    message: ok
  - id: ko
    type: Fail
  - id: never
    type: Log
    message: never
errors:
  - id: e1
    type: Log
    message: "{{ tasks.ko.state }}"
  - id: e2
    type: Log
    message: e2
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("never"), 0);
    assert_eq!(run.task_state("e1"), StateType::Success);
    assert_eq!(run.task_state("e2"), StateType::Success);
    insta::assert_snapshot!(run.report());
}

#[test]
fn flow_finally_runs_after_success_and_after_errors() {
    let yaml = r#"
inputs:
  - id: failed
    type: BOOLEAN
tasks:
  - id: maybe
    type: Fail
    condition: "{{ inputs.failed }}"
errors:
  - id: e1
    type: Log
    message: e1
finally:
  - id: a1
    type: Log
    message: a1
  - id: a2
    type: Log
    message: a2
"#;
    let run = Run::with_inputs(yaml, serde_json::json!({"failed": false})).start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.count("e1"), 0);
    assert_eq!(run.task_state("a2"), StateType::Success);

    let run = Run::with_inputs(yaml, serde_json::json!({"failed": true})).start();
    assert_eq!(run.state(), StateType::Failed);
    insta::assert_snapshot!(run.report());
}

#[test]
fn finally_without_errors_after_a_failure() {
    let run = Run::new(
        r#"
tasks:
  - id: ko
    type: Fail
finally:
  - id: a1
    type: Log
    message: a1
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("ko"), StateType::Failed);
    assert_eq!(run.task_state("a1"), StateType::Success);
}

#[test]
fn flowable_errors_and_finally_are_scoped_then_failure_bubbles_up() {
    let run = Run::new(
        r#"
tasks:
  - id: seq
    type: Sequential
    tasks:
      - id: ko
        type: Fail
      - id: never
        type: Log
        message: never
    errors:
      - id: local_error
        type: Log
        message: local
    finally:
      - id: local_finally
        type: Log
        message: local
  - id: after_seq
    type: Log
    message: never
errors:
  - id: global_error
    type: Log
    message: global
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("seq"), StateType::Failed);
    assert_eq!(run.count("never") + run.count("after_seq"), 0);
    insta::assert_snapshot!(run.report());
}

#[test]
fn parallel_failure_without_errors_ends_at_once() {
    let run = Run::new(
        r#"
tasks:
  - id: par
    type: Parallel
    tasks:
      - id: ko
        type: Fail
      - id: slow
        type: Sleep
        duration: PT1H
"#,
    )
    .start();
    // The Parallel does not wait for `slow`: it is forced to the Parallel's state.
    assert_eq!(run.task_state("par"), StateType::Failed);
    assert_eq!(run.task_state("slow"), StateType::Failed);
    assert_eq!(run.state(), StateType::Failed);
}

#[test]
fn allow_failure_and_allow_warning_on_tasks() {
    let run = Run::new(
        r#"
tasks:
  - id: tolerated
    type: Fail
    allowFailure: true
  - id: silenced
    type: Fail
    allowFailure: true
    allowWarning: true
  - id: continues
    type: Log
    message: hi
"#,
    )
    .start();
    assert_eq!(run.task_state("tolerated"), StateType::Warning);
    assert_eq!(run.task_state("silenced"), StateType::Success);
    assert_eq!(run.task_state("continues"), StateType::Success);
    assert_eq!(run.state(), StateType::Warning);
}

#[test]
fn allow_failure_on_a_flowable_maps_its_failed_state() {
    let run = Run::new(
        r#"
tasks:
  - id: seq
    type: Sequential
    allowFailure: true
    tasks:
      - id: ko
        type: Fail
  - id: next
    type: Log
    message: runs
"#,
    )
    .start();
    assert_eq!(run.task_state("ko"), StateType::Failed);
    assert_eq!(run.task_state("seq"), StateType::Warning);
    assert_eq!(run.task_state("next"), StateType::Success);
    assert_eq!(run.state(), StateType::Warning);
}

#[test]
fn run_if_skips_and_render_errors_fail() {
    let run = Run::with_inputs(
        r#"
inputs:
  - id: go
    type: STRING
tasks:
  - id: skipped
    type: Log
    message: never
    runIf: "{{ inputs.go }}"
  - id: skipped_flowable
    type: Sequential
    runIf: "false"
    tasks:
      - id: child
        type: Log
        message: never
  - id: runs
    type: Log
    message: yes
    runIf: "{{ inputs.go == 'false' }}"
  - id: broken
    type: Log
    message: never
    runIf: "{{ missing.variable }}"
"#,
        serde_json::json!({"go": "false"}),
    )
    .start();
    assert_eq!(run.task_state("skipped"), StateType::Skipped);
    assert_eq!(run.task_state("skipped_flowable"), StateType::Skipped);
    assert_eq!(run.count("child"), 0);
    assert_eq!(run.task_state("runs"), StateType::Success);
    assert_eq!(run.task_state("broken"), StateType::Failed);
    assert_eq!(run.state(), StateType::Failed);
    insta::assert_snapshot!(run.report());
}

#[test]
fn disabled_tasks_never_get_a_task_run() {
    let run = Run::new(
        r#"
tasks:
  - id: t1
    type: Log
    message: one
  - id: t2
    type: Fail
    disabled: true
  - id: seq
    type: Sequential
    tasks:
      - id: off
        type: Fail
        disabled: true
  - id: t3
    type: Log
    message: three
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.count("t2") + run.count("off"), 0);
    assert_eq!(run.task_state("seq"), StateType::Success);
    assert_eq!(run.exec.task_run_list.len(), 3);
}

#[test]
fn expression_errors_in_flowables_fail_them_with_a_log_line() {
    let run = Run::new(
        r#"
tasks:
  - id: if
    type: If
    condition: "{{ nope.nope }}"
    then:
      - id: never
        type: Log
        message: x
errors:
  - id: handler
    type: Log
    message: handled
"#,
    )
    .start();
    assert_eq!(run.task_state("if"), StateType::Failed);
    assert_eq!(run.task_state("handler"), StateType::Success);
    assert_eq!(run.state(), StateType::Failed);
    assert!(
        run.logs().iter().any(
            |l| l.starts_with("Unable to find `nope` used in the expression `{{ nope.nope }}`")
        ),
        "{:?}",
        run.logs()
    );

    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: "not json"
    tasks:
      - id: never
        type: Log
        message: x
"#,
    )
    .start();
    assert_eq!(run.task_state("each"), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.starts_with("`values` must render to a JSON array"))
    );

    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: [1.5]
    tasks:
      - id: never
        type: Log
        message: x
"#,
    )
    .start();
    assert_eq!(run.task_state("each"), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l == "Unknown value element type: 1.5")
    );
}

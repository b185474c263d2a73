//! Pause/resume, kill, restart, subflows, execution-updating tasks, flow outputs and
//! afterExecution.

mod common;

use common::Run;
use saker_core::{JsonMap, StateType};
use saker_engine::{Event, TaskRunResult};
use serde_json::json;

fn map(value: serde_json::Value) -> JsonMap {
    value.as_object().cloned().unwrap_or_default()
}

#[test]
fn pause_waits_for_a_resume_with_inputs() {
    let mut run = Run::new(
        r#"
tasks:
  - id: approve
    type: Pause
  - id: after
    type: Return
    format: "{{ outputs.approve.onResume.comment }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Paused);
    assert_eq!(run.task_state("approve"), StateType::Paused);
    assert_eq!(run.count("after"), 0);

    let id = run.run_id("approve");
    run.send(Event::ResumeRequested {
        task_run_id: Some(id),
        inputs: map(json!({"comment": "lgtm"})),
    });
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("approve"), StateType::Success);
    let after = run.exec.task_runs_by_task_id("after").next().unwrap();
    assert_eq!(after.outputs.as_ref().unwrap()["value"], "lgtm");
    assert_eq!(run.exec.metadata.attempt_number, 2);
    let history: Vec<StateType> = run.exec.state.histories().iter().map(|h| h.state).collect();
    use StateType::*;
    assert_eq!(
        history,
        [Created, Running, Paused, Restarted, Running, Success]
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn pause_duration_resumes_into_its_behavior() {
    let yaml = |behavior: &str| {
        format!(
            r#"
tasks:
  - id: wait
    type: Pause
    pauseDuration: PT5M
    behavior: {behavior}
  - id: after
    type: Log
    message: after
"#
        )
    };
    let run = Run::new(&yaml("RESUME")).start();
    assert!(
        run.trace
            .iter()
            .any(|l| l.trim() == "timer pause wait -> RUNNING in PT5M")
    );
    assert_eq!(run.task_state("wait"), StateType::Success);
    assert_eq!(run.state(), StateType::Success);

    let run = Run::new(&yaml("WARN")).start();
    assert_eq!(run.task_state("wait"), StateType::Warning);
    assert_eq!(run.state(), StateType::Warning);

    let run = Run::new(&yaml("FAIL")).start();
    assert_eq!(run.task_state("wait"), StateType::Failed);
    assert_eq!(run.count("after"), 0);
    assert_eq!(run.state(), StateType::Failed);

    let run = Run::new(&yaml("CANCEL")).start();
    assert_eq!(run.task_state("wait"), StateType::Cancelled);
    assert_eq!(run.state(), StateType::Cancelled);
    assert_eq!(run.count("after"), 0);
}

#[test]
fn pause_timeout_fails_unless_resumed() {
    let run = Run::new(
        r#"
tasks:
  - id: wait
    type: Pause
    timeout: PT1H
    allowFailure: true
"#,
    )
    .start();
    assert_eq!(run.task_state("wait"), StateType::Warning);
    assert_eq!(run.state(), StateType::Warning);
}

#[test]
fn parallel_pauses_keep_the_execution_paused_until_all_resume() {
    let mut run = Run::new(
        r#"
tasks:
  - id: par
    type: Parallel
    tasks:
      - id: p1
        type: Pause
      - id: p2
        type: Pause
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Paused);
    let p1 = run.run_id("p1");
    run.send(Event::ResumeRequested {
        task_run_id: Some(p1),
        inputs: JsonMap::new(),
    });
    assert_eq!(run.state(), StateType::Paused);
    run.send(Event::ResumeRequested {
        task_run_id: None,
        inputs: JsonMap::new(),
    });
    assert_eq!(run.state(), StateType::Success);
}

#[test]
fn manual_pause_and_resume() {
    let mut run = Run::new(
        r#"
tasks:
  - id: slow
    type: Sleep
    duration: PT1M
  - id: next
    type: Log
    message: x
"#,
    )
    .start();
    run.send(Event::PauseRequested);
    assert_eq!(run.state(), StateType::Paused);
    let slow = run.run_id("slow");
    run.send(Event::TaskRunResult(TaskRunResult::ended(
        slow,
        StateType::Success,
        None,
    )));
    // Scheduling goes on while paused, but the execution cannot end.
    assert_eq!(run.state(), StateType::Paused);
    run.send(Event::ResumeRequested {
        task_run_id: None,
        inputs: JsonMap::new(),
    });
    assert_eq!(run.state(), StateType::Success);
}

#[test]
fn kill_interrupts_running_work_and_kills_flowables() {
    let mut run = Run::new(
        r#"
tasks:
  - id: seq
    type: Sequential
    tasks:
      - id: slow
        type: Sleep
        duration: PT1H
      - id: never
        type: Log
        message: never
errors:
  - id: no_errors_on_kill
    type: Log
    message: x
afterExecution:
  - id: always
    type: Log
    message: "{{ execution.state }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Running);
    run.send(Event::KillRequested);
    assert_eq!(run.state(), StateType::Killed);
    assert_eq!(run.task_state("slow"), StateType::Killed);
    assert_eq!(run.task_state("seq"), StateType::Killed);
    assert_eq!(run.count("never") + run.count("no_errors_on_kill"), 0);
    assert_eq!(run.task_state("always"), StateType::Success);
    insta::assert_snapshot!(run.report());
}

#[test]
fn kill_of_a_paused_execution() {
    let mut run = Run::new(
        r#"
tasks:
  - id: wait
    type: Pause
  - id: never
    type: Log
    message: x
"#,
    )
    .start();
    run.send(Event::KillRequested);
    assert_eq!(run.task_state("wait"), StateType::Killed);
    assert_eq!(run.count("never"), 0);
    assert_eq!(run.state(), StateType::Killed);
}

#[test]
fn restart_resumes_from_the_failure_point() {
    let mut run = Run::with_inputs(
        r#"
tasks:
  - id: ok
    type: Log
    message: ok
  - id: seq
    type: Sequential
    tasks:
      - id: flaky
        type: Fail
        condition: "{{ taskrun.attemptsCount < 2 }}"
errors:
  - id: handler
    type: Log
    message: handled
"#,
        json!({}),
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.count("handler"), 1);
    let ok_id = run.run_id("ok");
    run.send(Event::RestartRequested);
    assert_eq!(run.state(), StateType::Success);
    // Successful runs are kept (same id), errors runs dropped, the failed run re-attempted.
    assert_eq!(run.run_id("ok"), ok_id);
    assert_eq!(run.count("handler"), 0);
    assert_eq!(
        run.exec
            .task_runs_by_task_id("flaky")
            .next()
            .unwrap()
            .attempts
            .len(),
        2
    );
    assert_eq!(run.exec.label("system.restarted"), Some("true"));
    insta::assert_snapshot!(run.report());
}

#[test]
fn subflow_waits_and_transmits_failure() {
    let yaml = r#"
tasks:
  - id: child
    type: Subflow
    namespace: company.team
    flowId: "child-{{ flow.id }}"
    inputs:
      greeting: "hello {{ execution.id }}"
  - id: use
    type: Return
    format: "{{ outputs.child.outputs.child }}"
"#;
    let run = Run::new(yaml).start();
    assert_eq!(run.state(), StateType::Success);
    let Some(saker_engine::Action::StartSubflow(start)) = run
        .actions
        .iter()
        .find(|a| matches!(a, saker_engine::Action::StartSubflow(_)))
    else {
        panic!("no StartSubflow")
    };
    assert_eq!(start.trigger.id, "child");
    assert_eq!(
        start.trigger.trigger_type,
        "io.kestra.plugin.core.flow.Subflow"
    );
    let variables = serde_json::Value::Object(start.trigger.variables.clone().unwrap());
    assert_eq!(variables["executionId"], "exec");
    assert_eq!(variables["taskRunId"], run.run_id("child").as_str());
    // Without inheritLabels only the correlation id goes down.
    assert_eq!(
        start.labels,
        [saker_core::Label::new("system.correlationId", "exec")]
    );
    let used = run.exec.task_runs_by_task_id("use").next().unwrap();
    assert_eq!(used.outputs.as_ref().unwrap()["value"], "child-test");
    insta::assert_snapshot!(run.report());

    let mut failing = Run::new(yaml);
    failing.subflow_state = StateType::Failed;
    let failing = failing.start();
    assert_eq!(failing.task_state("child"), StateType::Failed);
    assert_eq!(failing.state(), StateType::Failed);

    let mut lenient =
        Run::new(&yaml.replace("    inputs:", "    transmitFailed: false\n    inputs:"));
    lenient.subflow_state = StateType::Failed;
    let lenient = lenient.start();
    assert_eq!(lenient.task_state("child"), StateType::Success);
}

#[test]
fn subflow_without_wait_succeeds_at_once() {
    let run = Run::new(
        r#"
tasks:
  - id: fire
    type: Subflow
    namespace: company.team
    flowId: other
    wait: false
"#,
    )
    .start();
    assert_eq!(run.task_state("fire"), StateType::Success);
    assert_eq!(run.state(), StateType::Success);
}

#[test]
fn exit_ends_the_execution_with_its_state() {
    let run = Run::new(
        r#"
tasks:
  - id: if
    type: If
    condition: "true"
    then:
      - id: exit
        type: Exit
        state: WARNING
      - id: never
        type: Log
        message: never
  - id: never2
    type: Log
    message: never
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Warning);
    assert_eq!(run.task_state("if"), StateType::Warning);
    assert_eq!(run.task_state("exit"), StateType::Warning);
    assert_eq!(run.count("never") + run.count("never2"), 0);

    let run = Run::new(
        r#"
tasks:
  - id: if
    type: If
    condition: "true"
    then:
      - id: exit
        type: Exit
        state: KILLED
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Killed);
    assert_eq!(run.task_state("if"), StateType::Killed);
    assert_eq!(run.task_state("exit"), StateType::Killed);
}

#[test]
fn labels_and_variables_are_applied_by_the_executor() {
    let run = Run::new(
        r#"
variables:
  keep: kept
  drop: dropped
tasks:
  - id: labels
    type: Labels
    labels:
      team: "{{ flow.namespace }}"
  - id: set
    type: SetVariables
    variables:
      added: "{{ vars.keep }}-added"
  - id: unset
    type: UnsetVariables
    variables: [drop]
  - id: show
    type: Return
    format: "{{ vars.added }} {{ labels.team }} {{ vars.drop ?? 'gone' }}"
  - id: forbidden
    type: Labels
    labels:
      system.readOnly: "true"
"#,
    )
    .start();
    let show = run.exec.task_runs_by_task_id("show").next().unwrap();
    assert_eq!(
        show.outputs.as_ref().unwrap()["value"],
        "kept-added company.team gone"
    );
    assert_eq!(run.exec.label("team"), Some("company.team"));
    assert_eq!(run.task_state("labels"), StateType::Success);
    assert_eq!(
        run.exec
            .task_runs_by_task_id("set")
            .next()
            .unwrap()
            .attempts
            .len(),
        1
    );
    assert_eq!(run.task_state("forbidden"), StateType::Failed);
    assert_eq!(run.state(), StateType::Failed);
}

#[test]
fn flow_outputs_are_rendered_at_the_end() {
    let run = Run::new(
        r#"
tasks:
  - id: ret
    type: Return
    format: "41"
outputs:
  - id: answer
    type: INT
    value: "{{ outputs.ret.value | number + 1 }}"
  - id: text
    type: STRING
    value: "{{ outputs.ret.value }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(
        serde_json::Value::Object(run.exec.outputs.clone()),
        json!({"answer": 42, "text": "41"})
    );

    let run = Run::new(
        r#"
tasks:
  - id: ret
    type: Return
    format: x
outputs:
  - id: broken
    type: STRING
    value: "{{ outputs.missing.value }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.starts_with("Failed to render output values"))
    );
}

#[test]
fn after_execution_runs_once_terminated() {
    let run = Run::new(
        r#"
tasks:
  - id: ko
    type: Fail
errors:
  - id: handler
    type: Log
    message: handled
afterExecution:
  - id: end
    type: Return
    format: "{{ execution.state }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    let end = run.exec.task_runs_by_task_id("end").next().unwrap();
    assert_eq!(end.outputs.as_ref().unwrap()["value"], "FAILED");
    assert_eq!(end.force_execution, Some(true));
    assert_eq!(run.exec.task_run_list.len(), 3);
}

#[test]
fn scheduled_execution_waits_for_its_date() {
    let run = Run::scheduled(
        r#"
tasks:
  - id: t
    type: Log
    message: x
"#,
        chrono::TimeDelta::minutes(10),
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(
        run.trace[..3],
        [
            "> created",
            "  timer schedule in PT9M59S",
            "> timer schedule"
        ]
    );
    let created = run.exec.state.histories()[0].date;
    let running = run.exec.state.histories()[1].date;
    assert!(running - created >= chrono::TimeDelta::minutes(10));
}

#[test]
fn kill_cancels_a_pending_retry() {
    let mut run = Run::new(
        r#"
tasks:
  - id: ko
    type: Fail
    retry:
      type: constant
      interval: PT1H
      maxAttempts: 3
"#,
    );
    run.hold_timers = true;
    run.send(Event::Created);
    assert_eq!(run.task_state("ko"), StateType::Retrying);
    assert_eq!(run.state(), StateType::Retrying);
    run.send(Event::KillRequested);
    assert_eq!(run.task_state("ko"), StateType::Killed);
    assert_eq!(run.state(), StateType::Killed);
    // The retry timer still fires, and changes nothing.
    run.hold_timers = false;
    run.send(Event::PauseRequested);
    assert!(run.trace.iter().any(|l| l == "> timer retry ko"));
    assert_eq!(run.task_state("ko"), StateType::Killed);
    assert_eq!(
        run.exec
            .task_runs_by_task_id("ko")
            .next()
            .unwrap()
            .attempts
            .len(),
        1
    );
}

#[test]
fn subflow_inherits_labels_and_rejects_system_ones() {
    let mut run = Run::new(
        r#"
labels:
  team: data
tasks:
  - id: child
    type: Subflow
    namespace: company.team
    flowId: other
    inheritLabels: true
    labels:
      stage: "{{ flow.id }}"
  - id: bad
    type: Subflow
    namespace: company.team
    flowId: other
    labels:
      system.readOnly: "true"
"#,
    );
    run.exec.put_label(saker_core::Label::new("team", "data"));
    let run = run.start();
    let start = run
        .actions
        .iter()
        .find_map(|a| match a {
            saker_engine::Action::StartSubflow(start) => Some(start),
            _ => None,
        })
        .unwrap();
    let labels: Vec<(&str, &str)> = start
        .labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("system.correlationId", "exec"),
            ("team", "data"),
            ("stage", "test")
        ]
    );
    assert_eq!(run.task_state("bad"), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l.contains("system labels cannot be set on a subflow"))
    );
}

#[test]
fn dag_disabled_dependency_does_not_block() {
    let run = Run::new(
        r#"
tasks:
  - id: dag
    type: Dag
    tasks:
      - task:
          id: off
          type: Log
          message: never
          disabled: true
      - task:
          id: after_off
          type: Log
          message: runs
        dependsOn: [off]
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("after_off"), StateType::Success);
    assert_eq!(run.count("off"), 0);
}

#[test]
fn restarting_a_timed_out_pause_pauses_again() {
    let mut run = Run::new(
        r#"
tasks:
  - id: wait
    type: Pause
    timeout: PT1H
  - id: after
    type: Log
    message: after
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    run.hold_timers = true;
    run.send(Event::RestartRequested);
    assert_eq!(run.task_state("wait"), StateType::Paused);
    assert_eq!(run.state(), StateType::Paused);
    run.send(Event::ResumeRequested {
        task_run_id: None,
        inputs: JsonMap::new(),
    });
    assert_eq!(run.task_state("after"), StateType::Success);
    assert_eq!(run.state(), StateType::Success);
}

#[test]
fn breakpoint_suspends_until_resumed() {
    let mut run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: ["a", "b"]
    tasks:
      - id: step
        type: Log
        message: "{{ taskrun.value }}"
"#,
    );
    run.exec
        .breakpoints
        .push(saker_core::Breakpoint::parse("step.b"));
    let mut run = run.start();
    assert_eq!(run.state(), StateType::Breakpoint);
    let step_b = run
        .exec
        .find_task_run_by_task_id_and_values("step", &["b"])
        .unwrap();
    assert_eq!(step_b.state.current(), StateType::Breakpoint);
    run.send(Event::ResumeRequested {
        task_run_id: None,
        inputs: JsonMap::new(),
    });
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.count("step"), 2);
}

#[test]
fn on_pause_task_runs_when_the_pause_begins() {
    let mut run = Run::new(
        r#"
tasks:
  - id: approve
    type: Pause
    onPause:
      id: notify
      type: Return
      format: "paused {{ parent is defined }}"
  - id: after
    type: Log
    message: after
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Paused);
    assert_eq!(run.task_state("notify"), StateType::Success);
    let notify = run.exec.task_runs_by_task_id("notify").next().unwrap();
    assert_eq!(notify.parent_task_run_id, Some(run.run_id("approve")));
    run.send(Event::ResumeRequested {
        task_run_id: None,
        inputs: JsonMap::new(),
    });
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("approve"), StateType::Success);
    assert_eq!(run.count("notify"), 1);
}

#[test]
fn listeners_run_after_the_end_without_changing_its_state() {
    let run = Run::new(
        r#"
listeners:
  - tasks:
      - id: ko
        type: Fail
      - id: never
        type: Log
        message: a failed task stops its listener
  - conditions:
      - type: ExecutionStatus
        in: [SUCCESS]
    tasks:
      - id: on_success
        type: Return
        format: "{{ execution.state }}"
  - conditions:
      - type: ExecutionStatus
        in: [FAILED]
    tasks:
      - id: on_failure
        type: Log
        message: not for a successful execution
tasks:
  - id: first
    type: Log
    message: x
afterExecution:
  - id: end
    type: Log
    message: after the listeners
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let order: Vec<&str> = run
        .exec
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(order, ["first", "ko", "on_success", "end"]);
    assert_eq!(run.task_state("ko"), StateType::Failed);
    assert_eq!(run.task_state("on_success"), StateType::Success);
    assert_eq!(run.count("on_failure"), 0);
}

/// `Executor::subflow_start` builds again the StartSubflow a RUNNING Subflow run issued (same
/// child id, inputs, labels and trigger), leaves the execution as it is, and refuses runs that
/// wait for no child.
#[test]
fn a_subflow_start_is_built_again_from_the_stored_run() {
    let yaml = r#"
labels:
  team: data
tasks:
  - id: child
    type: Subflow
    namespace: company.team
    flowId: "child-{{ flow.id }}"
    inheritLabels: true
    inputs:
      greeting: "hello {{ execution.id }}"
  - id: fire
    type: Subflow
    namespace: company.team
    flowId: other
    wait: false
"#;
    let flow = common::flow(yaml);
    let mut exec = saker_core::Execution::new(
        saker_core::ExecutionId::new("exec"),
        &saker_core::FlowRef::new(&flow.namespace, &flow.id, 1),
        &[],
        vec![saker_core::Label::new("team", "data")],
        common::start(),
    );
    let executor = saker_engine::Executor::new();
    let mut ids = saker_core::SequentialIds::new(7);
    let services = saker_engine::NoEngineServices;
    let now = common::start();
    let actions = executor.apply(
        &flow,
        &mut exec,
        saker_engine::Event::Created,
        now,
        &mut ids,
        &services,
    );
    let first = actions
        .iter()
        .find_map(|a| match a {
            saker_engine::Action::StartSubflow(start) => Some((**start).clone()),
            _ => None,
        })
        .expect("the child started");
    let run_id = first.task_run_id.clone();
    let before = exec.clone();
    let again = executor
        .subflow_start(&flow, &mut exec, &run_id, now, &mut ids, &services)
        .expect("built again");
    assert_eq!(again, first);
    assert_eq!(again.inputs["greeting"], "hello exec");
    assert_eq!(exec, before, "the execution is left as it is");

    // Once the child ended, the run waits for nothing.
    let actions = executor.apply(
        &flow,
        &mut exec,
        saker_engine::Event::SubflowEnded {
            task_run_id: run_id.clone(),
            execution_id: first.execution_id.clone(),
            state: StateType::Success,
            outputs: saker_core::JsonMap::new(),
        },
        now,
        &mut ids,
        &services,
    );
    let error = executor
        .subflow_start(&flow, &mut exec, &run_id, now, &mut ids, &services)
        .unwrap_err();
    assert!(error.contains("not waiting"), "{error}");
    // `wait: false` succeeds at once: nothing to start again either.
    let fire = actions
        .iter()
        .find_map(|a| match a {
            saker_engine::Action::StartSubflow(start) => Some(start.task_run_id.clone()),
            _ => None,
        })
        .expect("the second child started");
    assert!(
        executor
            .subflow_start(&flow, &mut exec, &fire, now, &mut ids, &services)
            .is_err()
    );
}

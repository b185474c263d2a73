//! Each flowable type run to the end with the fake worker: action trace + task-run tree.

mod common;

use common::Run;
use saker_core::StateType;

#[test]
fn sequential_top_level_and_nested() {
    let run = Run::new(
        r#"
tasks:
  - id: first
    type: Return
    format: one
  - id: seq
    type: Sequential
    tasks:
      - id: inner
        type: Return
        format: "{{ outputs.first.value }}-two"
      - id: inner2
        type: Log
        message: hi
  - id: last
    type: Log
    message: done
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    insta::assert_snapshot!(run.report());
}

#[test]
fn parallel_with_concurrency_limit() {
    let run = Run::new(
        r#"
tasks:
  - id: par
    type: Parallel
    concurrent: 2
    tasks:
      - id: a
        type: Log
        message: a
      - id: b
        type: Log
        message: b
      - id: c
        type: Log
        message: c
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    // a and b go out together, c only once a slot is free.
    let dispatches: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.starts_with("  dispatch"))
        .map(|l| l.trim())
        .collect();
    assert_eq!(dispatches, ["dispatch a", "dispatch b", "dispatch c"]);
    assert_eq!(
        run.trace[..3],
        ["> created", "  dispatch a", "  dispatch b"]
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn parallel_unlimited_starts_everything_at_once() {
    let mut run = Run::new(
        r#"
tasks:
  - id: par
    type: Parallel
    tasks:
      - id: a
        type: Sleep
        duration: PT1S
      - id: b
        type: Sleep
        duration: PT1S
      - id: c
        type: Sleep
        duration: PT1S
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Running);
    for id in ["a", "b", "c"] {
        assert_eq!(run.task_state(id), StateType::Running);
    }
    for id in ["a", "b", "c"] {
        let task_run_id = run.run_id(id);
        run.send(saker_engine::Event::TaskRunResult(
            saker_engine::TaskRunResult::ended(task_run_id, StateType::Success, None),
        ));
    }
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("par"), StateType::Success);
}

#[test]
fn if_then_else_and_missing_else() {
    let run = Run::with_inputs(
        r#"
inputs:
  - id: flag
    type: STRING
tasks:
  - id: when_true
    type: If
    condition: "{{ inputs.flag }}"
    then:
      - id: yes
        type: Log
        message: yes
    else:
      - id: no
        type: Log
        message: no
  - id: when_false
    type: If
    condition: "{{ inputs.flag == 'nope' }}"
    then:
      - id: never
        type: Log
        message: never
"#,
        serde_json::json!({"flag": "0"}),
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.count("yes"), 0);
    assert_eq!(run.task_state("no"), StateType::Success);
    assert_eq!(run.count("never"), 0);
    assert_eq!(run.task_state("when_false"), StateType::Success);
    insta::assert_snapshot!(run.report());
}

#[test]
fn switch_case_defaults_and_no_match() {
    let yaml = r#"
inputs:
  - id: v
    type: STRING
tasks:
  - id: switch
    type: Switch
    value: "{{ inputs.v }}"
    cases:
      A:
        - id: case_a
          type: Return
          format: a
      B:
        - id: case_b
          type: Return
          format: b
    defaults:
      - id: fallback
        type: Log
        message: default
"#;
    let run = Run::with_inputs(yaml, serde_json::json!({"v": "B"})).start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("case_b"), StateType::Success);
    assert_eq!(run.count("case_a") + run.count("fallback"), 0);
    insta::assert_snapshot!("switch_case", run.report());

    let run = Run::with_inputs(yaml, serde_json::json!({"v": "Z"})).start();
    assert_eq!(run.task_state("fallback"), StateType::Success);
    assert_eq!(run.state(), StateType::Success);

    let run = Run::with_inputs(
        r#"
tasks:
  - id: switch
    type: Switch
    value: nothing
    cases:
      A:
        - id: case_a
          type: Log
          message: a
"#,
        serde_json::json!({}),
    )
    .start();
    assert_eq!(run.task_state("switch"), StateType::Failed);
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.exec.task_run_list.len(), 1);
}

#[test]
fn foreach_sequential_with_values_and_iterations() {
    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: ["a", "b", {"k": 1}, "a"]
    tasks:
      - id: hello
        type: Return
        format: "{{ taskrun.value }}-{{ taskrun.iteration }}"
      - id: sibling
        type: Return
        format: "{{ outputs.hello[taskrun.value].value }}"
  - id: after
    type: Return
    format: "{{ outputs.sibling.b.value }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.count("hello"), 3);
    let after = run.exec.task_runs_by_task_id("after").next().unwrap();
    assert_eq!(after.outputs.as_ref().unwrap()["value"], "b-1");
    insta::assert_snapshot!(run.report());
}

#[test]
fn foreach_nested_with_parent_values() {
    let run = Run::new(
        r#"
tasks:
  - id: outer
    type: ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: ForEach
        values: '["x", "y"]'
        tasks:
          - id: ret
            type: Return
            format: "{{ parent.taskrun.value }}-{{ taskrun.value }}"
  - id: show
    type: Return
    format: "{{ outputs.ret['b']['x'].value }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let show = run.exec.task_runs_by_task_id("show").next().unwrap();
    assert_eq!(show.outputs.as_ref().unwrap()["value"], "b-x");
    // 1 outer + 2 inner + 4 ret + show.
    assert_eq!(run.exec.task_run_list.len(), 8);
    insta::assert_snapshot!(run.tree());
}

#[test]
fn foreach_concurrency_limit_runs_value_groups_side_by_side() {
    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: ["1", "2", "3"]
    concurrencyLimit: 2
    tasks:
      - id: t1
        type: Log
        message: one
      - id: t2
        type: Log
        message: two
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let dispatches: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.starts_with("  dispatch"))
        .map(|l| l.trim())
        .collect();
    // Two groups start together; inside a group tasks stay sequential.
    assert_eq!(&dispatches[..2], ["dispatch t1[1]", "dispatch t1[2]"]);
    insta::assert_snapshot!(run.report());
}

#[test]
fn foreach_empty_and_null_values() {
    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: "[]"
    tasks:
      - id: t
        type: Log
        message: never
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.exec.task_run_list.len(), 1);

    let run = Run::new(
        r#"
tasks:
  - id: each
    type: ForEach
    values: '[1, null, {"key": "my-key"}]'
    tasks:
      - id: t
        type: Log
        message: never
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("each"), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l
                .contains("Found '1' null values on Each, with values=[1, null, {key=my-key}]")),
        "{:?}",
        run.logs()
    );
}

#[test]
fn each_sequential_and_each_parallel() {
    let run = Run::new(
        r#"
tasks:
  - id: seq
    type: EachSequential
    value: ["a", "b"]
    tasks:
      - id: s
        type: Return
        format: "{{ taskrun.value }}"
  - id: par
    type: EachParallel
    value: '[1, 2]'
    tasks:
      - id: p1
        type: Log
        message: "{{ taskrun.value }}"
      - id: p2
        type: Log
        message: "{{ taskrun.value }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let dispatches: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.starts_with("  dispatch"))
        .map(|l| l.trim())
        .collect();
    // EachParallel starts every (value, task) pair at once.
    assert_eq!(
        dispatches,
        [
            "dispatch s[a]",
            "dispatch s[b]",
            "dispatch p1[1]",
            "dispatch p2[1]",
            "dispatch p1[2]",
            "dispatch p2[2]"
        ]
    );
    insta::assert_snapshot!(run.tree());
}

#[test]
fn dag_follows_depends_on() {
    let run = Run::new(
        r#"
tasks:
  - id: dag
    type: Dag
    tasks:
      - task:
          id: load
          type: Log
          message: l
        dependsOn: [transform, extract]
      - task:
          id: extract
          type: Log
          message: e
      - task:
          id: transform
          type: Log
          message: t
        dependsOn: [extract]
      - task:
          id: side
          type: Log
          message: s
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    let dispatches: Vec<&str> = run
        .trace
        .iter()
        .filter(|l| l.starts_with("  dispatch"))
        .map(|l| l.trim())
        .collect();
    assert_eq!(
        dispatches,
        [
            "dispatch extract",
            "dispatch side",
            "dispatch transform",
            "dispatch load"
        ]
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn allow_failure_flowable_ends_in_warning() {
    let run = Run::new(
        r#"
tasks:
  - id: guard
    type: AllowFailure
    tasks:
      - id: boom
        type: Fail
      - id: skipped_after_failure
        type: Log
        message: never
    errors:
      - id: local_handler
        type: Log
        message: handled
  - id: next
    type: Log
    message: continues
"#,
    )
    .start();
    assert_eq!(run.task_state("guard"), StateType::Warning);
    assert_eq!(run.task_state("boom"), StateType::Failed);
    assert_eq!(run.task_state("local_handler"), StateType::Success);
    assert_eq!(run.count("skipped_after_failure"), 0);
    assert_eq!(run.task_state("next"), StateType::Success);
    assert_eq!(run.state(), StateType::Warning);
    insta::assert_snapshot!(run.report());
}

const WITH_TEMPLATE: &str = r#"
tasks:
  - id: first
    type: Log
    message: hi
  - id: tpl
    type: Template
    namespace: company.team
    templateId: shared
    args:
      greeting: "hello {{ flow.id }}"
  - id: last
    type: Log
    message: bye
"#;

fn shared_template() -> saker_flow::template::Template {
    let doc = common::flow(
        r#"
tasks:
  - id: inner
    type: Return
    format: "{{ parent.outputs.args.greeting }}"
"#,
    );
    saker_flow::template::Template::from_flow(&doc).expect("template-shaped")
}

#[test]
fn template_runs_the_included_tasks_with_its_args() {
    let mut run = Run::new(WITH_TEMPLATE);
    let template = saker_flow::template::Template {
        namespace: "company.team".into(),
        id: "shared".into(),
        ..shared_template()
    };
    saker_flow::template::expand_templates(&mut run.flow, Some(&[template]));
    let run = run.start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.exec.task_run_list.len(), 4);
    let inner = run
        .exec
        .task_runs_by_task_id("inner")
        .next()
        .expect("inner ran");
    assert_eq!(
        inner.outputs.as_ref().and_then(|o| o.get("value")),
        Some(&serde_json::json!("hello test"))
    );
    insta::assert_snapshot!(run.report());
}

#[test]
fn template_not_included_fails_with_kestras_message() {
    let mut run = Run::new(WITH_TEMPLATE);
    saker_flow::template::expand_templates(&mut run.flow, Some(&[]));
    let run = run.start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("tpl"), StateType::Failed);
    assert_eq!(run.count("last"), 0);
    assert!(
        run.logs()
            .iter()
            .any(|l| l == "Can't find flow template 'company.team.shared'")
    );

    // A flow never prepared (templates disabled) says so.
    let run = Run::new(WITH_TEMPLATE).start();
    assert_eq!(run.task_state("tpl"), StateType::Failed);
    assert!(
        run.logs()
            .iter()
            .any(|l| l == "Templates are disabled, please check your configuration")
    );
}

#[test]
fn loop_until_repeats_until_the_condition_holds() {
    let run = Run::new(
        r#"
tasks:
  - id: loop
    type: LoopUntil
    condition: "{{ outputs.count.values.n == '3' }}"
    checkFrequency:
      interval: PT10S
    tasks:
      - id: echo
        type: Log
        message: looping
      - id: count
        type: OutputValues
        values:
          n: "{{ outputs.loop.iterationCount + 1 }}"
  - id: after
    type: Return
    format: "{{ outputs.loop.iterationCount }}"
"#,
    )
    .start();
    assert_eq!(run.state(), StateType::Success);
    assert_eq!(run.task_state("loop"), StateType::Success);
    // Only the last iteration's runs are kept.
    let count = run.exec.task_runs_by_task_id("count").next().unwrap();
    assert_eq!(run.count("count"), 1);
    assert_eq!(count.iteration, Some(2));
    assert_eq!(count.outputs.as_ref().unwrap()["values"]["n"], "3");
    let after = run.exec.task_runs_by_task_id("after").next().unwrap();
    assert_eq!(after.outputs.as_ref().unwrap()["value"], "2");
    insta::assert_snapshot!(run.report());
}

#[test]
fn loop_until_max_iterations() {
    let yaml = |fail: bool| {
        format!(
            r#"
tasks:
  - id: loop
    type: LoopUntil
    condition: "false"
    failOnMaxReached: {fail}
    checkFrequency:
      maxIterations: 3
      interval: PT1S
    tasks:
      - id: t
        type: Log
        message: x
"#
        )
    };
    let run = Run::new(&yaml(true)).start();
    assert_eq!(run.state(), StateType::Failed);
    assert_eq!(run.task_state("t"), StateType::Success);
    let t = run.exec.task_runs_by_task_id("t").next().unwrap();
    assert_eq!(t.iteration, Some(2));
    let run = Run::new(&yaml(false)).start();
    assert_eq!(run.state(), StateType::Success);
}

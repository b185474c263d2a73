//! The typed model built from valid flows: normalization, plugin defaults, branches.

use saker_flow::testing::TestCatalog;
use saker_flow::{
    ConcurrencyBehavior, InputType, LoadOptions, RetryType, Severity, TaskKind, check_source,
    parse_and_validate,
};

fn flow(src: &str) -> saker_flow::Flow {
    match parse_and_validate(src, None, &TestCatalog) {
        Ok(f) => f,
        Err(d) => panic!("invalid: {d:#?}"),
    }
}

#[test]
fn full_model() {
    let f = flow(
        r#"
id: full
namespace: company.team
revision: 3
labels:
  team: data
  priority: 1
  on: yes
inputs:
  - id: env
    type: SELECT
    values: [dev, prod]
    defaults: dev
  - name: old
    type: INT
    required: false
variables:
  a: "{{ inputs.env }}"
concurrency:
  limit: 2
  behavior: CANCEL
retry:
  type: constant
  interval: PT1S
  maxAttempt: 3
outputs:
  - id: out
    type: STRING
    value: "{{ outputs.first.value }}"
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      level: WARN
  - type: io.kestra.plugin.core.log.Log
    forced: true
    values:
      message: forced
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: x
  - id: br
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: log
        type: io.kestra.core.tasks.log.Log
        message: mine
        level: DEBUG
    else:
      - id: sw
        type: io.kestra.plugin.core.flow.Switch
        value: a
        cases:
          a:
            - id: ca
              type: io.kestra.plugin.core.debug.Return
              format: a
        defaults:
          - id: de
            type: io.kestra.plugin.core.debug.Return
            format: d
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task: {id: d1, type: io.kestra.plugin.core.debug.Return, format: x}
      - task: {id: d2, type: io.kestra.plugin.core.debug.Return, format: y}
        dependsOn: [d1]
triggers:
  - id: sched
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "@midnight"
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ true }}"
"#,
    );
    assert_eq!(f.revision, Some(3));
    let labels: Vec<(&str, &str)> = f
        .labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        vec![("team", "data"), ("priority", "1"), ("on", "yes")]
    );
    assert_eq!(f.inputs[0].type_, InputType::Select);
    assert_eq!(f.inputs[1].id, "old");
    assert!(!f.inputs[1].required);
    assert_eq!(
        f.concurrency.as_ref().map(|c| (c.limit, c.behavior)),
        Some((2, ConcurrencyBehavior::Cancel))
    );
    let retry = f.retry.as_ref().unwrap();
    assert_eq!(
        (retry.type_, retry.max_attempts),
        (RetryType::Constant, Some(3))
    );
    assert_eq!(f.outputs[0].id, "out");

    let br = &f.tasks[1];
    assert_eq!(br.kind, TaskKind::Flowable);
    let log = &br.branch_tasks("then")[0];
    assert_eq!(log.type_name, "io.kestra.core.tasks.log.Log");
    assert_eq!(log.canonical, "io.kestra.plugin.core.log.Log");
    assert_eq!(log.path, "tasks[1].then[0]");
    // Non-forced default loses to the task's own value, forced one wins.
    assert_eq!(log.params["level"], "DEBUG");
    assert_eq!(log.params["message"], "forced");
    assert!(!log.params.contains_key("id") && !log.params.contains_key("type"));
    let sw = &br.branch_tasks("else")[0];
    assert_eq!(sw.branch("cases.a").unwrap().case.as_deref(), Some("a"));
    assert_eq!(sw.branch_tasks("defaults")[0].id, "de");
    assert!(!sw.params.contains_key("cases"));
    let dag = f.tasks[2].branch("tasks").unwrap();
    assert_eq!(
        dag.depends_on,
        vec![Vec::<String>::new(), vec!["d1".to_string()]]
    );
    assert_eq!(
        f.triggers[0].conditions[0].canonical,
        "io.kestra.plugin.core.condition.Expression"
    );
    assert_eq!(f.all_tasks().len(), 9);
    assert_eq!(
        f.find_task("d2").map(|t| t.path.as_str()),
        Some("tasks[2].tasks[1].task")
    );
}

#[test]
fn labels_list_form_and_warnings() {
    let src = "id: a\nnamespace: b\nlabels:\n  - key: k\n    value: v\ntaskDefaults: []\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n";
    let docs = check_source(src, None, &TestCatalog, &LoadOptions::default());
    assert!(docs[0].is_valid());
    assert_eq!(docs[0].flow.as_ref().unwrap().labels[0].value, "v");
    assert!(
        docs[0]
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("taskDefaults"))
    );
}

#[test]
fn json_documents_are_flows_too() {
    let f = flow(
        r#"{"id": "j", "namespace": "n", "tasks": [{"id": "t", "type": "io.kestra.plugin.core.debug.Return", "format": "x"}]}"#,
    );
    assert_eq!(f.tasks[0].params["format"], "x");
}

#[test]
fn multi_document_sources() {
    let src = "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.debug.Return\n---\nid: b\nnamespace: n\ntasks:\n  - id: t\n    type: nope.Nope\n";
    let docs = check_source(src, None, &TestCatalog, &LoadOptions::default());
    assert_eq!(docs.len(), 2);
    assert!(docs[0].is_valid());
    assert!(!docs[1].is_valid());
    assert_eq!(docs[1].diagnostics[0].line, 11);
    assert!(docs[0].flow.as_ref().unwrap().source.starts_with("id: a"));
    assert!(parse_and_validate(src, None, &TestCatalog).is_err());
}

#[test]
fn big_documents_are_fine() {
    // ~10 MB: 60k tasks with a long message each.
    let mut src = String::from("id: big\nnamespace: n\ntasks:\n");
    let filler = "x".repeat(120);
    let mut i = 0;
    while src.len() < 10 * 1024 * 1024 {
        src.push_str(&format!("  - id: t{i}\n    type: io.kestra.plugin.core.log.Log\n    message: \"{filler} {{{{ flow.id }}}}\"\n"));
        i += 1;
    }
    let start = std::time::Instant::now();
    let f = flow(&src);
    assert_eq!(f.tasks.len(), i);
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
}

#[test]
fn hostile_inputs_never_panic() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"---\n".to_vec(),
        b"[]".to_vec(),
        b"id: [".to_vec(),
        b"\xff\xfe".to_vec(),
        b"id: a\nnamespace: b\ntasks: 3\n".to_vec(),
        b"id: a\nnamespace: b\ntasks:\n  - 3\n  - {id: x, type: [1]}\n  - {id: {a: 1}, type: io.kestra.plugin.core.log.Log}\n".to_vec(),
        b"? [a, b]\n: c\n".to_vec(),
        b"*unknown".to_vec(),
        b"a: &x [*x]".to_vec(),
        "{".repeat(100_000).into_bytes(),
    ];
    for c in cases {
        let docs = saker_flow::check_bytes(&c, None, &TestCatalog, &LoadOptions::default());
        assert!(
            docs.iter().all(|d| !d.is_valid()),
            "{:?}",
            String::from_utf8_lossy(&c[..c.len().min(40)])
        );
    }
}

#[test]
fn sla_entries_are_typed() {
    let f = flow(
        r#"
id: sla
namespace: company.team
sla:
  - id: max
    type: MAX_DURATION
    behavior: FAIL
    duration: PT30M
    labels:
      sla: missed
  - id: max
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{ labels.env ?? false }}"
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
"#,
    );
    assert_eq!(
        f.sla,
        vec![
            saker_flow::Sla {
                id: "max".into(),
                kind: saker_flow::SlaKind::MaxDuration {
                    duration: "PT30M".into()
                },
                behavior: saker_flow::SlaBehavior::Fail,
                labels: vec![saker_flow::Label {
                    key: "sla".into(),
                    value: "missed".into()
                }],
            },
            saker_flow::Sla {
                id: "max".into(),
                kind: saker_flow::SlaKind::ExecutionAssertion {
                    assertion: "{{ labels.env ?? false }}".into()
                },
                behavior: saker_flow::SlaBehavior::None,
                labels: Vec::new(),
            },
        ]
    );
    // Kestra's JSON shape.
    assert_eq!(
        serde_json::to_value(&f.sla).unwrap(),
        serde_json::json!([
            {"id": "max", "type": "MAX_DURATION", "duration": "PT30M", "behavior": "FAIL",
             "labels": [{"key": "sla", "value": "missed"}]},
            {"id": "max", "type": "EXECUTION_ASSERTION", "assert": "{{ labels.env ?? false }}",
             "behavior": "NONE"}
        ])
    );
}

//! `saker flow test` as a user runs it: the real binary on small flows.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn saker(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env("SAKER_SECRET_TOKEN", "hunter2")
        .output()
        .expect("saker runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs `flow test --json` and returns the execution.
fn execution(args: &[&str]) -> (Value, String) {
    let mut all = vec!["flow", "test"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = saker(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let execution = serde_json::from_str(&run.stdout).expect("stdout is the execution JSON");
    (execution, run.stderr)
}

fn task_runs<'a>(execution: &'a Value, task_id: &str) -> Vec<&'a Value> {
    execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["taskId"] == task_id)
        .collect()
}

#[test]
fn sequential_returns_with_outputs_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "seq.yaml",
        r#"
id: seq
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "hello {{ inputs.who }}"
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.first.value }} with {{ secret('token') }} and {{ labels.team }}"
"#,
    );
    let (execution, stderr) = execution(&[&flow, "--input", "who=world", "--label", "team=data"]);
    assert_eq!(execution["state"]["current"], "SUCCESS");
    assert_eq!(
        task_runs(&execution, "first")[0]["outputs"]["value"],
        "hello world"
    );
    assert!(
        stderr.contains("INFO  second hello world with ******* and data"),
        "{stderr}"
    );
    assert!(stderr.contains("SUCCESS"), "{stderr}");
}

#[test]
fn a_failing_task_runs_the_errors_branch() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "fail.yaml",
        r#"
id: failing
namespace: company.team
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "it broke"
errors:
  - id: handler
    type: io.kestra.plugin.core.log.Log
    message: "handled"
"#,
    );
    let (execution, stderr) = execution(&[&flow]);
    assert_eq!(execution["state"]["current"], "FAILED");
    assert_eq!(
        task_runs(&execution, "boom")[0]["state"]["current"],
        "FAILED"
    );
    assert_eq!(
        task_runs(&execution, "handler")[0]["state"]["current"],
        "SUCCESS"
    );
    assert!(stderr.contains("it broke"), "{stderr}");
}

#[test]
fn a_sleep_longer_than_its_timeout_fails() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "sleep.yaml",
        r#"
id: sleepy
namespace: company.team
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
    timeout: PT0.1S
"#,
    );
    let (execution, stderr) = execution(&[&flow]);
    assert_eq!(execution["state"]["current"], "FAILED");
    assert!(stderr.contains("Timeout after"), "{stderr}");
}

#[test]
fn a_subflow_is_loaded_with_flows() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "lib/child.yaml",
        r#"
id: child
namespace: company.team
inputs:
  - id: n
    type: INT
tasks:
  - id: double
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n * 2 }}"
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.double.value }}"
"#,
    );
    let parent = write(
        dir.path(),
        "parent.yaml",
        r#"
id: parent
namespace: company.team
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
    inputs:
      n: 21
"#,
    );
    let lib = dir.path().join("lib").display().to_string();
    let (execution, _) = execution(&[&parent, "--flows", &lib]);
    assert_eq!(execution["state"]["current"], "SUCCESS");
    assert_eq!(
        task_runs(&execution, "call")[0]["outputs"]["outputs"]["result"],
        "42"
    );
}

#[test]
fn invalid_inputs_and_flows_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "typed.yaml",
        r#"
id: typed
namespace: company.team
inputs:
  - id: count
    type: INT
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.count }}"
"#,
    );
    let run = saker(&["flow", "test", &flow]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Invalid input for `count`, missing required input"),
        "{}",
        run.stderr
    );
    let run = saker(&["flow", "test", &flow, "--input", "count=x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let bad = write(
        dir.path(),
        "bad.yaml",
        "id: bad\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Logg\n",
    );
    let run = saker(&["flow", "test", &bad]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("Logg"), "{}", run.stderr);
}

#[test]
fn for_each_item_starts_one_subflow_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let child = write(
        dir.path(),
        "child.yaml",
        r#"
id: echo
namespace: demo
inputs:
  - id: batch
    type: STRING
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "batch {{ read(inputs.batch) | trim | replace({'\n': ','}) }}"
outputs:
  - id: rows
    type: STRING
    value: "{{ read(inputs.batch) | trim }}"
"#,
    );
    let parent = write(
        dir.path(),
        "parent.yaml",
        r#"
id: fan-out
namespace: demo
inputs:
  - id: file
    type: FILE
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.file }}"
    batch:
      rows: 3
    namespace: demo
    flowId: echo
    inputs:
      batch: "{{ taskrun.items }}"
"#,
    );
    let data = write(dir.path(), "rows.csv", "1\n2\n3\n4\n5\n6\n7\n");
    let (execution, stderr) = execution(&[
        &parent,
        "--flows",
        &child,
        "--input",
        &format!("file=@{data}"),
    ]);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{stderr}");
    let ids: Vec<&str> = execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["taskId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["each", "each_split", "each_items", "each_merge"]);
    let items = &task_runs(&execution, "each_items")[0]["outputs"];
    assert_eq!(items["numberOfBatches"], 3);
    assert_eq!(items["iterations"]["SUCCESS"], 3);
    let merge = &task_runs(&execution, "each_merge")[0]["outputs"];
    assert!(
        merge["subflowOutputs"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("kestra:///demo/fan-out/executions/")),
        "{merge}"
    );
    // Each child read its own batch file (written as .csv under the split step).
    for line in ["batch 1,2,3", "batch 4,5,6", "batch 7"] {
        assert!(stderr.contains(line), "no `{line}` in {stderr}");
    }
}

#[test]
fn a_flow_calling_itself_at_run_time_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "loop.yaml",
        r#"
id: ouroboros
namespace: demo
tasks:
  - id: again
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo
    flowId: "{{ flow.id }}"
"#,
    );
    let (execution, stderr) = execution(&[&flow, "--flows", &flow]);
    assert_eq!(execution["state"]["current"], "FAILED");
    assert!(
        stderr.contains("Subflow depth limit (25) reached"),
        "{stderr}"
    );
}

#[test]
fn secret_inputs_work_with_a_random_or_configured_key_and_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "secret.yaml",
        r#"
id: secret
namespace: company.team
inputs:
  - id: pw
    type: SECRET
pluginDefaults:
  - type: io.kestra.plugin.core.log.Log
    values:
      unknownProperty: x
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "pw is {{ inputs.pw }}"
"#,
    );
    // No key configured: a random one for the run.
    let (execution, stderr) = execution(&[&flow, "--input", "pw=password"]);
    assert_eq!(execution["state"]["current"], "SUCCESS");
    assert_ne!(execution["inputs"]["pw"], "password");
    assert!(stderr.contains("INFO  show pw is ********"), "{stderr}");
    assert!(
        stderr.contains("WARN  - tasks[0].unknownProperty: plugin default ignored"),
        "{stderr}"
    );
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_saker"))
            .args(["flow", "test", &flow, "--input", "pw=password", "--json"])
            .env("SAKER_ENCRYPTION_KEY", key)
            .output()
            .expect("saker runs")
    };
    let out = run(key);
    assert_eq!(out.status.code(), Some(0));
    let execution: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored = execution["inputs"]["pw"].as_str().unwrap();
    assert_eq!(
        saker_expr::crypto::decrypt(key, stored).unwrap(),
        "password"
    );
    let out = run("not a key");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SAKER_ENCRYPTION_KEY"));
}

#[test]
fn templates_are_included_only_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "lib/template.yaml",
        r#"
id: greet
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ parent.outputs.args.who }}"
"#,
    );
    let flow = write(
        dir.path(),
        "main.yaml",
        r#"
id: main
namespace: company.team
tasks:
  - id: tpl
    type: io.kestra.plugin.core.flow.Template
    namespace: company.team
    templateId: greet
    args:
      who: "{{ flow.id }}"
"#,
    );
    let lib = dir.path().join("lib").display().to_string();
    let (exec, stderr) = execution(&[&flow, "--flows", &lib, "--templates"]);
    assert_eq!(exec["state"]["current"], "SUCCESS", "{stderr}");
    assert_eq!(task_runs(&exec, "hello").len(), 1);
    assert!(stderr.contains("hello main"), "{stderr}");

    let (exec, stderr) = execution(&[&flow, "--flows", &lib]);
    assert_eq!(exec["state"]["current"], "FAILED");
    assert!(
        stderr.contains("Templates are disabled, please check your configuration"),
        "{stderr}"
    );
}

#[test]
fn outputs_over_max_output_size_become_uris() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "big.yaml",
        r#"
id: big
namespace: company.team
tasks:
  - id: make
    type: io.kestra.plugin.core.debug.Return
    format: "{% for i in range(1, 200) %}line {{ i }}\n{% endfor %}"
  - id: check
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.make.value) | length }}"
"#,
    );
    let (exec, stderr) = execution(&[&flow, "--max-output-size", "1KB"]);
    assert_eq!(exec["state"]["current"], "SUCCESS", "{stderr}");
    let uri = task_runs(&exec, "make")[0]["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.starts_with("kestra:///company/team/big/executions/"),
        "{uri}"
    );
    assert!(uri.ends_with("/output-value.txt"), "{uri}");
    let length: usize = task_runs(&exec, "check")[0]["outputs"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 1024, "{length}");

    // The default limit (1MB) keeps it inline.
    let (exec, _) = execution(&[&flow]);
    let value = task_runs(&exec, "make")[0]["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(value.starts_with("line 1\n"), "{value}");

    let run = saker(&["flow", "test", &flow, "--max-output-size", "lots"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn purge_kv_deletes_expired_then_matching_keys() {
    let dir = tempfile::tempdir().unwrap();
    // `ttl: PT0S` writes an entry that is expired from the start: no waiting needed.
    let flow = write(
        dir.path(),
        "purge.yaml",
        r#"
id: purge
namespace: company
tasks:
  - id: seed
    type: io.kestra.plugin.core.flow.ForEach
    values: ["company:AI_1:PT0S", "company:AI_2:P1D", "company:keep:PT0S", "company.team:AI_1:PT0S", "other:AI_1:PT0S"]
    tasks:
      - id: set
        type: io.kestra.plugin.core.kv.Set
        namespace: "{{ taskrun.value | split(':') | first }}"
        key: "{{ (taskrun.value | split(':'))[1] }}"
        value: v
        ttl: "{{ taskrun.value | split(':') | last }}"
  - id: expired
    type: io.kestra.plugin.core.kv.PurgeKV
    namespaces: [company]
    keyPattern: "AI_*"
  - id: all
    type: io.kestra.plugin.core.kv.PurgeKV
    namespacePattern: "comp*"
    expiredOnly: false
  - id: left
    type: io.kestra.plugin.core.kv.PurgeKV
"#,
    );
    let (execution, stderr) = execution(&[&flow]);
    assert_eq!(execution["state"]["current"], "SUCCESS", "{stderr}");
    let size = |task: &str| task_runs(&execution, task)[0]["outputs"]["size"].clone();
    // company/AI_1 and company.team/AI_1; company/AI_2 is live, keep does not match.
    assert_eq!(size("expired"), 2);
    // company/AI_2 and company/keep.
    assert_eq!(size("all"), 2);
    // other/AI_1, expired and outside `comp*`.
    assert_eq!(size("left"), 1);
    assert!(
        stderr.contains("purging 2 namespaces: [company, company.team]"),
        "{stderr}"
    );
}

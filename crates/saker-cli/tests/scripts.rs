//! Script tasks end to end: `saker flow test` runs real processes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Run {
    execution: Value,
    stderr: String,
    wall: Duration,
}

fn flow_test(flow: &Path, env: &[(&str, &Path)]) -> Run {
    let start = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command.args(["flow", "test"]).arg(flow).arg("--json");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("saker runs");
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let execution = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the execution ({e}): {stderr}"));
    Run {
        execution,
        stderr,
        wall,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn task_run<'a>(execution: &'a Value, task_id: &str) -> &'a Value {
    execution["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["taskId"] == task_id)
        .unwrap_or_else(|| panic!("no task run {task_id}"))
}

/// Seconds between the first and the last state of `state` (an execution's or a task run's).
fn duration(state: &Value) -> f64 {
    let histories = state["histories"].as_array().unwrap();
    let at = |h: &Value| {
        chrono::DateTime::parse_from_rfc3339(h["date"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    (at(histories.last().unwrap()) - at(&histories[0])) as f64 / 1000.0
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn output_files_of_a_shell_task_feed_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "files.yaml",
        r#"
id: files
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - printf 'id,name\n1,ada\n2,bob\n' > people.csv
      - echo '::{"outputs":{"rows":2}}::'
    outputFiles:
      - "*.csv"
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "::{\"outputs\":{\"lines\":$(wc -l < {{ outputs.write.outputFiles['people.csv'] }}),\"rows\":{{ outputs.write.vars.rows }}}}::"
      - tail -n 1 {{ outputs.write.outputFiles['people.csv'] }}
"#,
    );
    let run = flow_test(&flow, &[]);
    assert_eq!(
        run.execution["state"]["current"], "SUCCESS",
        "{}",
        run.stderr
    );
    let write = task_run(&run.execution, "write");
    let uri = write["outputs"]["outputFiles"]["people.csv"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("kestra:///company/team/files/executions/"),
        "{uri}"
    );
    assert!(uri.ends_with("-people.csv"), "{uri}");
    let read = task_run(&run.execution, "read");
    assert_eq!(read["outputs"]["vars"]["lines"], 3);
    assert_eq!(read["outputs"]["vars"]["rows"], 2);
    assert_eq!(read["outputs"]["exitCode"], 0);
    assert!(run.stderr.contains("2,bob"), "{}", run.stderr);
}

#[test]
fn a_timeout_fails_the_task_fast_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let flow = write(
        dir.path(),
        "timeout.yaml",
        &format!(
            r#"
id: timeout
namespace: company.team
tasks:
  - id: sleepy
    type: io.kestra.plugin.scripts.shell.Commands
    timeout: PT1S
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - sleep 100 & echo $! > {p}; echo $$ >> {p}; wait
"#,
            p = pids.display()
        ),
    );
    let run = flow_test(&flow, &[]);
    assert_eq!(
        run.execution["state"]["current"], "FAILED",
        "{}",
        run.stderr
    );
    let task = task_run(&run.execution, "sleepy");
    let took = duration(&task["state"]);
    assert!(took < 2.0, "the task took {took} s");
    assert!(run.stderr.contains("Timeout after"), "{}", run.stderr);
    let pids: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let start = Instant::now();
    while pids.iter().any(|pid| alive(*pid)) {
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "processes left after the task ended: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("timeout: task run {took:.3} s, saker wall {:?}", run.wall);
}

#[test]
fn docker_runner_can_be_refused() {
    let dir = tempfile::tempdir().unwrap();
    let flow = write(
        dir.path(),
        "docker.yaml",
        r#"
id: docker
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: alpine:3
    commands:
      - echo hello
"#,
    );
    let run = flow_test(&flow, &[]);
    assert_eq!(
        run.execution["state"]["current"], "SUCCESS",
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("containerImage 'alpine:3' is not used"),
        "{}",
        run.stderr
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    let out = command
        .args(["flow", "test"])
        .arg(&flow)
        .arg("--json")
        .env("SAKER_DOCKER_RUNNER", "fail")
        .output()
        .unwrap();
    let execution: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(execution["state"]["current"], "FAILED", "{stderr}");
    assert!(
        stderr.contains("needs the Docker task runner (containerImage 'alpine:3')"),
        "{stderr}"
    );
}

/// A Python task with `dependencies` (the real `kestra` package from PyPI: this test needs the
/// network and fails without it). The first run builds the environment, the second reuses it.
#[test]
fn python_dependencies_are_installed_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let flow = write(
        dir.path(),
        "deps.yaml",
        r#"
id: deps
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    dependencies:
      - kestra
    script: |
      from kestra import Kestra
      Kestra.outputs({"answer": 42, "who": "{{ flow.id }}"})
      Kestra.counter("rows", 7, {"table": "t"})
"#,
    );
    let first = flow_test(&flow, &[("SAKER_CACHE_DIR", &cache)]);
    assert_eq!(
        first.execution["state"]["current"], "SUCCESS",
        "{}",
        first.stderr
    );
    let outputs = &task_run(&first.execution, "py")["outputs"];
    assert_eq!(outputs["vars"]["answer"], 42);
    assert_eq!(outputs["vars"]["who"], "deps");
    assert!(
        first.stderr.contains("Python environment installed"),
        "{}",
        first.stderr
    );
    let second = flow_test(&flow, &[("SAKER_CACHE_DIR", &cache)]);
    assert_eq!(
        second.execution["state"]["current"], "SUCCESS",
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("Python environment reused from the cache"),
        "{}",
        second.stderr
    );
    let (t1, t2) = (
        duration(&first.execution["state"]),
        duration(&second.execution["state"]),
    );
    eprintln!(
        "python dependencies: first run {t1:.3} s (wall {:?}), second run {t2:.3} s (wall {:?})",
        first.wall, second.wall
    );
    assert!(
        t2 < t1,
        "the cached run ({t2} s) should be faster than the first ({t1} s)"
    );
    let envs: Vec<_> = std::fs::read_dir(cache.join("venvs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(envs.len(), 1, "one environment for one requirement list");
}

/// With `uv` on PATH (installed from PyPI into a throw-away virtual environment put first on
/// Saker's PATH), `dependencies` are installed with uv: the environment is uv's (its
/// `pyvenv.cfg` says so), then reused. Needs the network, like the pip test above.
#[test]
fn python_dependencies_install_with_uv_when_it_is_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("tools");
    let python = std::env::var("SAKER_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let made = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&tools)
        .status()
        .expect("python3 runs");
    assert!(made.success(), "python3 -m venv failed");
    let installed = Command::new(tools.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "uv"])
        .status()
        .expect("pip runs");
    assert!(installed.success(), "pip install uv failed (network?)");
    let path = std::env::join_paths(std::iter::once(tools.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let path = std::path::PathBuf::from(path);
    let cache = dir.path().join("cache");
    let flow = write(
        dir.path(),
        "uv.yaml",
        r#"
id: uv
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    dependencies:
      - kestra
    script: |
      import sys
      from kestra import Kestra
      Kestra.outputs({"prefix": sys.prefix})
"#,
    );
    let env = [
        ("SAKER_CACHE_DIR", cache.as_path()),
        ("PATH", path.as_path()),
    ];
    let first = flow_test(&flow, &env);
    assert_eq!(
        first.execution["state"]["current"], "SUCCESS",
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("Python environment installed"),
        "{}",
        first.stderr
    );
    let envs: Vec<_> = std::fs::read_dir(cache.join("venvs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(envs.len(), 1);
    let cfg = std::fs::read_to_string(envs[0].join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("uv = "), "not built by uv: {cfg}");
    let prefix = task_run(&first.execution, "py")["outputs"]["vars"]["prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        Path::new(&prefix),
        envs[0],
        "the script ran in the environment"
    );
    let second = flow_test(&flow, &env);
    assert_eq!(
        second.execution["state"]["current"], "SUCCESS",
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("Python environment reused from the cache"),
        "{}",
        second.stderr
    );
    eprintln!(
        "uv dependencies: first run {:.3} s (wall {:?}), second run {:.3} s (wall {:?})",
        duration(&first.execution["state"]),
        first.wall,
        duration(&second.execution["state"]),
        second.wall
    );
}

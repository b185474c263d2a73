//! A Python script task using the real `kestra` package from PyPI (installed by this test into
//! a virtual environment of its own: the test needs the network and fails without it) to send
//! outputs, metrics and logs through the `::{...}::` protocol.

use std::process::Command;

use saker_task::memory::{MemoryEnv, test_info};
use saker_task::{Clock, Level, Metric, MetricValue, TaskRunnerDef};
use serde_json::json;

#[tokio::test]
async fn the_kestra_python_package_sends_outputs_metrics_and_logs() {
    let venv = tempfile::tempdir().unwrap();
    let python = if Command::new("python3").arg("--version").output().is_ok() {
        "python3"
    } else {
        "python"
    };
    let created = Command::new(python)
        .args(["-m", "venv"])
        .arg(venv.path())
        .status()
        .unwrap();
    assert!(created.success(), "python -m venv failed");
    let pip = Command::new(venv.path().join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "kestra",
        ])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip install kestra failed (is PyPI reachable?): {}",
        String::from_utf8_lossy(&pip.stderr)
    );

    let env = MemoryEnv::new(saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap());
    let ty = "io.kestra.plugin.scripts.python.Commands";
    let mut ctx = env
        .context(test_info("py", ty), json!({}))
        .with_task_runner(Some(TaskRunnerDef {
            type_name: "io.kestra.plugin.core.runner.Process".into(),
            params: Default::default(),
        }));
    let main = r#"
from kestra import Kestra
Kestra.outputs({"rows": 3, "name": "orders", "nested": {"ok": True}})
Kestra.counter("rows", 42, {"table": "orders"})
Kestra.timer("load", 1.5, {"table": "orders"})
logger = Kestra.logger()
logger.info("loaded")
logger.warning("careful")
"#;
    let params = json!({
        "inputFiles": {"main.py": main},
        "commands": [format!("{} main.py", venv.path().join("bin/python").display())]
    });
    let outcome = saker_tasks::registry()
        .runnable(ty)
        .unwrap()
        .run(params.as_object().unwrap(), &mut ctx)
        .await
        .unwrap();
    let logs = env.logs.lines();
    assert_eq!(outcome.state, None, "{logs:#?}");
    assert_eq!(
        outcome.outputs["vars"],
        json!({"rows": 3, "name": "orders", "nested": {"ok": true}})
    );
    let mut tags = serde_json::Map::new();
    tags.insert("table".into(), json!("orders"));
    assert_eq!(
        outcome.metrics,
        [
            Metric::counter("rows", 42.0).with_tags(tags.clone()),
            Metric::timer("load", std::time::Duration::from_millis(1500)).with_tags(tags),
        ]
    );
    assert_eq!(
        outcome.metrics[1].value,
        MetricValue::Timer(std::time::Duration::from_millis(1500))
    );
    let find = |level: Level, suffix: &str| {
        logs.iter()
            .any(|l| l.level == level && l.message.ends_with(suffix))
    };
    assert!(find(Level::Info, " - loaded"), "{logs:#?}");
    assert!(find(Level::Warn, " - careful"), "{logs:#?}");
    assert!(
        !logs.iter().any(|l| l.message.starts_with("::")),
        "protocol lines are not logged"
    );
    // Kestra's MetricEntry shape, as the API would return it.
    let entry = outcome.metrics[1].entry(ctx.info(), env.clock.now());
    assert_eq!(entry["type"], "timer");
    assert_eq!(entry["value"], 1500.0);
    assert_eq!(entry["tags"], json!({"table": "orders"}));
    assert_eq!(entry["taskId"], "py");
}

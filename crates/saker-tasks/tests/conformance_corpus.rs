//! Checks the plugin properties used by the conformance corpus (`shared/conformance/flows`):
//! every plugin object of the valid flows passes its `check`, and the flows that are invalid
//! because of a task property are rejected with Kestra's message.
//!
//! The walk mimics flow validation (strip `type`, the common properties and the slots, then
//! recurse into the slots) so that this crate is tested without depending on `saker-flow`'s
//! validator.

use std::path::{Path, PathBuf};

use saker_task::{Catalog, PluginKind, Slot};
use serde_json::{Map, Value};

fn corpus() -> PathBuf {
    // The repository and `shared/` are siblings, in development and in CI.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/flows");
    assert!(
        dir.is_dir(),
        "conformance corpus not found at {}",
        dir.display()
    );
    dir
}

/// `(yaml path, problem)` for every property problem found in a flow file.
fn problems(path: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(path).expect("readable flow");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&source).expect("parsable flow");
    let mut out = Vec::new();
    for doc in &docs {
        for key in ["tasks", "errors", "finally", "afterExecution"] {
            walk_list(
                doc.get(key),
                PluginKind::Task(saker_task::TaskKind::Runnable),
                key,
                &mut out,
            );
        }
        walk_list(
            doc.get("triggers"),
            PluginKind::Trigger,
            "triggers",
            &mut out,
        );
        if let Some(listeners) = doc.get("listeners").and_then(Value::as_array) {
            for (i, listener) in listeners.iter().enumerate() {
                let at = format!("listeners[{i}]");
                walk_list(
                    listener.get("tasks"),
                    PluginKind::Task(saker_task::TaskKind::Runnable),
                    &format!("{at}.tasks"),
                    &mut out,
                );
                walk_list(
                    listener.get("conditions"),
                    PluginKind::Condition,
                    &format!("{at}.conditions"),
                    &mut out,
                );
            }
        }
    }
    out
}

fn walk_list(value: Option<&Value>, kind: PluginKind, at: &str, out: &mut Vec<String>) {
    match value {
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, kind, &format!("{at}[{i}]"), out);
            }
        }
        Some(Value::Object(map)) => {
            for (key, item) in map {
                walk(item, kind, &format!("{at}.{key}"), out);
            }
        }
        _ => {}
    }
}

fn walk(value: &Value, kind: PluginKind, at: &str, out: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        return;
    };
    let Some(type_name) = object.get("type").and_then(Value::as_str) else {
        return;
    };
    let Some(info) = saker_tasks::registry().get(type_name) else {
        out.push(format!("{at}: unknown type {type_name}"));
        return;
    };
    let common: &[&str] = match kind {
        PluginKind::Task(_) => saker_flow::catalog::TASK_COMMON_PROPS,
        PluginKind::Trigger => saker_flow::catalog::TRIGGER_COMMON_PROPS,
        _ => saker_flow::catalog::CONDITION_COMMON_PROPS,
    };
    let props: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| {
            !common.contains(&key.as_str()) && !info.slots.iter().any(|s| s.prop() == key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    for error in (info.check)(&props) {
        out.push(format!("{at}.{}: {}", error.path, error.message));
    }
    let task = PluginKind::Task(saker_task::TaskKind::Runnable);
    for slot in info.slots {
        let child = object.get(slot.prop());
        let child_at = format!("{at}.{}", slot.prop());
        match slot {
            Slot::Tasks(_) => walk_list(child, task, &child_at, out),
            Slot::TaskMap(_) => {
                if let Some(map) = child.and_then(Value::as_object) {
                    for (key, tasks) in map {
                        walk_list(Some(tasks), task, &format!("{child_at}.{key}"), out);
                    }
                }
            }
            Slot::DagTasks(_) => {
                for (i, entry) in child
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if let Some(inner) = entry.get("task") {
                        walk(inner, task, &format!("{child_at}[{i}].task"), out);
                    }
                }
            }
            Slot::Task(_) => {
                if let Some(inner) = child {
                    walk(inner, task, &child_at, out);
                }
            }
            Slot::Typed {
                kind, many: true, ..
            } => walk_list(child, *kind, &child_at, out),
            Slot::Typed {
                kind, many: false, ..
            } => {
                if let Some(inner) = child {
                    walk(inner, *kind, &child_at, out);
                }
            }
        }
    }
    // Conditions of triggers are a common property that flow validation walks itself.
    if kind == PluginKind::Trigger {
        walk_list(
            object.get("conditions"),
            PluginKind::Condition,
            &format!("{at}.conditions"),
            out,
        );
    }
}

/// Flows rejected for a task property, with a substring of the expected message.
const INVALID: &[(&str, &str)] = &[
    (
        "invalids/invalid-property.yaml",
        "Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable (",
    ),
    (
        "webserver/simpleInvalidFlow.yaml",
        "Unrecognized field \"badProperties\"",
    ),
    (
        "webserver/validateMultipleInvalidFlows.yaml",
        "Unrecognized field \"unknownProp\"",
    ),
    (
        "invalids/invalid-task.yaml",
        "unknown type io.kestra.plugin.core.debug.MissingOne",
    ),
];

#[test]
fn valid_flows_use_only_known_properties() {
    let root = corpus();
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in ["valids", "tests", "templates", "webserver"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("corpus dir")
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let rel = format!("{dir}/{}", file.file_name().unwrap().to_string_lossy());
            if INVALID.iter().any(|(invalid, _)| *invalid == rel) {
                continue;
            }
            checked += 1;
            for problem in problems(&file) {
                failures.push(format!("{rel}: {problem}"));
            }
        }
    }
    assert!(checked > 150, "only {checked} flows found");
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn flows_invalid_because_of_a_property_are_rejected() {
    let root = corpus();
    for (file, expected) in INVALID {
        let found = problems(&root.join(file));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{file}: expected {expected:?}, got {found:?}"
        );
    }
}

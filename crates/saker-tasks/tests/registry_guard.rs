//! Guard test: the registry is consistent and every plugin file registers exactly one type.

use std::collections::HashSet;
use std::path::Path;

use saker_task::{Catalog, Registry};

const PLUGIN_DIRS: [&str; 4] = ["tasks", "triggers", "conditions", "runners"];

#[test]
fn registry_builds_without_errors() {
    let _ = saker_tasks::registry();
    if let Err(errors) = Registry::build() {
        panic!("registry errors: {errors:#?}");
    }
}

#[test]
fn every_plugin_file_registers_exactly_one_type() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = HashSet::new();
    for dir in PLUGIN_DIRS {
        for entry in std::fs::read_dir(root.join(dir)).expect("plugin dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.insert(format!(
                    "{dir}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    let registrations: Vec<String> = saker_tasks::registry()
        .registrations()
        .iter()
        .filter(|r| r.module.starts_with("saker_tasks::"))
        .map(|r| {
            let file = r.file.replace('\\', "/");
            let (_, rel) = file.split_once("src/").expect("file under src/");
            rel.to_owned()
        })
        .collect();
    let registered: HashSet<String> = registrations.iter().cloned().collect();
    assert_eq!(
        registrations.len(),
        registered.len(),
        "a file registers more than one plugin"
    );
    let unregistered: Vec<_> = files.difference(&registered).collect();
    let unknown: Vec<_> = registered.difference(&files).collect();
    assert!(
        unregistered.is_empty() && unknown.is_empty(),
        "files without registration {unregistered:?}, registrations outside plugin dirs {unknown:?}"
    );
}

#[test]
fn names_are_unique_titles_present_and_schemas_generate() {
    let registry = saker_tasks::registry();
    let mut names = HashSet::new();
    for info in registry.plugins() {
        for name in std::iter::once(info.type_name).chain(info.aliases.iter().copied()) {
            assert!(names.insert(name), "{name} is used twice");
            assert!(
                name.starts_with("io.kestra."),
                "{name} is not a Kestra type name"
            );
        }
        assert!(
            !info.title.trim().is_empty(),
            "{} has no title",
            info.type_name
        );
        assert!(
            info.title.ends_with('.'),
            "{}: title should be a sentence",
            info.type_name
        );
        let mut generator = schemars::SchemaGenerator::default();
        let schema = (info.schema)(&mut generator);
        let value = schema.as_value();
        assert_eq!(
            value.get("type").and_then(|t| t.as_str()),
            Some("object"),
            "{}: {value}",
            info.type_name
        );
        // Every documented property shows up in the schema, with its doc comment.
        if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
            for (prop, schema) in props {
                assert!(
                    schema.get("description").is_some(),
                    "{}.{prop} has no description in the schema",
                    info.type_name
                );
            }
        }
        // An empty object is valid unless something is required.
        let required = value
            .get("required")
            .and_then(|r| r.as_array())
            .map_or(0, Vec::len);
        let errors = (info.check)(&serde_json::Map::new());
        assert_eq!(
            errors.is_empty(),
            required == 0,
            "{}: {errors:?}",
            info.type_name
        );
    }
}

#[test]
fn slots_are_never_params() {
    let registry = saker_tasks::registry();
    for info in registry.plugins() {
        let mut generator = schemars::SchemaGenerator::default();
        let schema = (info.schema)(&mut generator);
        let props = schema
            .as_value()
            .get("properties")
            .and_then(|p| p.as_object())
            .cloned()
            .unwrap_or_default();
        for slot in info.slots {
            assert!(
                !props.contains_key(slot.prop()),
                "{}: slot {} is also a param",
                info.type_name,
                slot.prop()
            );
        }
        let flowable = matches!(
            info.kind,
            saker_task::PluginKind::Task(
                saker_task::TaskKind::Flowable | saker_task::TaskKind::WorkingDirectory
            )
        );
        let has_errors = info.slots.iter().any(|s| s.prop() == "errors");
        assert_eq!(
            flowable, has_errors,
            "{}: every flowable, and only them, declares errors/finally",
            info.type_name
        );
    }
}

/// Task types a worker can run today. A runnable must be a runnable task (never a flowable or
/// a trigger), and this list must grow, never silently shrink.
const RUNNABLE: &[&str] = &[
    "io.kestra.core.tasks.scripts.Bash",
    "io.kestra.core.tasks.scripts.Node",
    "io.kestra.core.tasks.scripts.Python",
    "io.kestra.plugin.core.debug.Echo",
    "io.kestra.plugin.core.debug.Return",
    "io.kestra.plugin.core.execution.Assert",
    "io.kestra.plugin.core.execution.Fail",
    "io.kestra.plugin.core.execution.PurgeExecutions",
    "io.kestra.plugin.core.flow.Sleep",
    "io.kestra.plugin.core.http.Download",
    "io.kestra.plugin.core.http.Request",
    "io.kestra.plugin.core.kv.Delete",
    "io.kestra.plugin.core.kv.Get",
    "io.kestra.plugin.core.kv.GetKeys",
    "io.kestra.plugin.core.kv.PurgeKV",
    "io.kestra.plugin.core.kv.Set",
    "io.kestra.plugin.core.log.Fetch",
    "io.kestra.plugin.core.log.Log",
    "io.kestra.plugin.core.log.PurgeLogs",
    "io.kestra.plugin.core.namespace.DeleteFiles",
    "io.kestra.plugin.core.namespace.DownloadFiles",
    "io.kestra.plugin.core.namespace.UploadFiles",
    "io.kestra.plugin.core.output.OutputValues",
    "io.kestra.plugin.core.state.Delete",
    "io.kestra.plugin.core.state.Get",
    "io.kestra.plugin.core.state.Set",
    "io.kestra.plugin.core.storage.Concat",
    "io.kestra.plugin.core.storage.DeduplicateItems",
    "io.kestra.plugin.core.storage.Delete",
    "io.kestra.plugin.core.storage.FilterItems",
    "io.kestra.plugin.core.storage.LocalFiles",
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    "io.kestra.plugin.core.storage.Reverse",
    "io.kestra.plugin.core.storage.Size",
    "io.kestra.plugin.core.storage.Split",
    "io.kestra.plugin.core.storage.Write",
    "io.kestra.plugin.core.templating.TemplatedTask",
    "io.kestra.plugin.scripts.node.Commands",
    "io.kestra.plugin.scripts.node.Script",
    "io.kestra.plugin.scripts.python.Commands",
    "io.kestra.plugin.scripts.python.Script",
    "io.kestra.plugin.scripts.shell.Commands",
    "io.kestra.plugin.scripts.shell.Script",
];

#[test]
fn runnables_are_registered_on_runnable_tasks_only() {
    let registry = saker_tasks::registry();
    let mut with_runnable: Vec<&str> = registry
        .registrations()
        .iter()
        .filter(|r| r.runnable.is_some())
        .map(|r| r.info.type_name)
        .collect();
    with_runnable.sort_unstable();
    assert_eq!(with_runnable, RUNNABLE);
    for name in RUNNABLE {
        let info = registry.get(name).expect("registered");
        assert_eq!(
            info.kind,
            saker_task::PluginKind::Task(saker_task::TaskKind::Runnable),
            "{name}"
        );
    }
    // Aliases resolve to the same implementation.
    assert!(registry.runnable("io.kestra.core.tasks.log.Log").is_some());
    assert!(
        registry
            .runnable("io.kestra.plugin.core.flow.Parallel")
            .is_none()
    );
}

//! JSON Schema (draft-07) of the flow document, for editors (`saker flow schema`).
//!
//! The flow's own shape is written here by hand (it mirrors the document, which the typed model
//! does not); every plugin contributes its properties through [`PluginInfo::schema`], generated
//! with schemars' draft-07 settings so shared definitions land in `definitions`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, PluginInfo, PluginKind, Slot};
use crate::model::InputType;
use crate::validate::common_props;

fn ref_(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

fn common_task_props() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "id".into(),
        json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$", "maxLength": 256}),
    );
    m.insert("description".into(), json!({"type": "string"}));
    m.insert("version".into(), json!({"type": "string"}));
    m.insert("retry".into(), ref_("Retry"));
    m.insert(
        "timeout".into(),
        json!({"type": "string", "description": "ISO-8601 duration or expression"}),
    );
    m.insert(
        "disabled".into(),
        json!({"type": "boolean", "default": false}),
    );
    m.insert("runIf".into(), json!({"type": "string"}));
    m.insert(
        "allowFailure".into(),
        json!({"type": "boolean", "default": false}),
    );
    m.insert(
        "allowWarning".into(),
        json!({"type": "boolean", "default": false}),
    );
    m.insert("logLevel".into(), ref_("LogLevel"));
    m.insert(
        "logToFile".into(),
        json!({"type": "boolean", "default": false}),
    );
    m.insert("workerGroup".into(), json!({"type": "object"}));
    m.insert("taskCache".into(), json!({"type": "object", "properties": {"enabled": {"type": "boolean"}, "ttl": {"type": "string"}}, "additionalProperties": false}));
    m
}

fn common_trigger_props() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "id".into(),
        json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"}),
    );
    m.insert("description".into(), json!({"type": "string"}));
    m.insert(
        "conditions".into(),
        json!({"type": "array", "items": ref_("Condition")}),
    );
    m.insert(
        "disabled".into(),
        json!({"type": "boolean", "default": false}),
    );
    m.insert(
        "stopAfter".into(),
        json!({"type": "array", "items": {"type": "string"}}),
    );
    m.insert("labels".into(), ref_("Labels"));
    m.insert("logLevel".into(), ref_("LogLevel"));
    m.insert("logToFile".into(), json!({"type": "boolean"}));
    m.insert("workerGroup".into(), json!({"type": "object"}));
    m.insert("failOnTriggerError".into(), json!({"type": "boolean"}));
    m
}

fn slot_schema(slot: &Slot) -> Value {
    match *slot {
        Slot::Tasks(_) => json!({"type": "array", "items": ref_("Task")}),
        Slot::Task(_) => ref_("Task"),
        Slot::TaskMap(_) => {
            json!({"type": "object", "additionalProperties": {"type": "array", "items": ref_("Task")}})
        }
        Slot::DagTasks(_) => json!({"type": "array", "items": {
            "type": "object",
            "properties": {"task": ref_("Task"), "dependsOn": {"type": "array", "items": {"type": "string"}}},
            "required": ["task"],
            "additionalProperties": false
        }}),
        Slot::Typed { kind, many, .. } => {
            let item = ref_(kind_def(kind));
            if many {
                json!({"type": "array", "items": item})
            } else {
                item
            }
        }
    }
}

fn kind_def(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Task(_) => "Task",
        PluginKind::Trigger => "Trigger",
        PluginKind::Condition => "Condition",
        PluginKind::TaskRunner => "TaskRunner",
    }
}

/// One plugin's schema: its own properties, the common ones of its kind, its slots, and `type`.
fn plugin_schema(p: &PluginInfo, generator: &mut schemars::SchemaGenerator) -> Value {
    let own = (p.schema)(generator).to_value();
    let mut props = match own.get("properties") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let common = match p.kind {
        PluginKind::Task(_) => common_task_props(),
        PluginKind::Trigger => common_trigger_props(),
        PluginKind::Condition | PluginKind::TaskRunner => Map::new(),
    };
    for (k, v) in common {
        props.entry(k).or_insert(v);
    }
    for s in p.slots {
        props.insert(s.prop().to_string(), slot_schema(s));
    }
    let names: Vec<&str> = std::iter::once(p.type_name)
        .chain(p.aliases.iter().copied())
        .collect();
    let type_schema = if names.len() == 1 {
        json!({"const": p.type_name})
    } else {
        json!({"enum": names})
    };
    props.insert("type".into(), type_schema);
    let mut required: Vec<Value> = vec![json!("type")];
    if matches!(p.kind, PluginKind::Task(_) | PluginKind::Trigger) {
        required.push(json!("id"));
    }
    if let Some(Value::Array(r)) = own.get("required") {
        required.extend(r.iter().cloned());
    }
    let _ = common_props(p.kind);
    json!({
        "title": p.type_name,
        "description": p.title,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// The draft-07 JSON Schema of a flow document, with every plugin of `catalog`.
pub fn flow_schema(catalog: &dyn Catalog) -> Value {
    let mut generator = SchemaSettings::draft07().into_generator();
    let mut plugins = catalog.plugins();
    plugins.sort_by_key(|p| p.type_name);
    let mut by_kind: Map<String, Value> = Map::new();
    let mut defs = Map::new();
    for def in ["Task", "Trigger", "Condition", "TaskRunner"] {
        by_kind.insert(def.into(), json!([]));
    }
    for p in plugins {
        let def_name = p.type_name.to_string();
        defs.insert(def_name.clone(), plugin_schema(p, &mut generator));
        if let Some(Value::Array(list)) = by_kind.get_mut(kind_def(p.kind)) {
            list.push(ref_(&def_name));
        }
    }
    for (k, v) in by_kind {
        defs.insert(k, json!({"oneOf": v}));
    }
    // Definitions generated by plugin schemas (shared types).
    for (k, v) in generator.take_definitions(true) {
        defs.entry(k).or_insert(v);
    }
    let input_types: Vec<&str> = InputType::ALL.iter().map(|t| t.as_str()).collect();
    defs.insert(
        "LogLevel".into(),
        json!({"enum": ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]}),
    );
    defs.insert("Labels".into(), json!({"oneOf": [
        {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}}, "required": ["key", "value"], "additionalProperties": false}}
    ]}));
    defs.insert(
        "Retry".into(),
        json!({
            "type": "object",
            "properties": {
                "type": {"enum": ["constant", "exponential", "random"]},
                "interval": {"type": "string"},
                "maxInterval": {"type": "string"},
                "minInterval": {"type": "string"},
                "delayFactor": {"type": "number"},
                "maxAttempts": {"type": "integer", "minimum": 1},
                "maxAttempt": {"type": "integer", "minimum": 1, "deprecated": true},
                "maxDuration": {"type": "string"},
                "warningOnRetry": {"type": "boolean"},
                "behavior": {"enum": ["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"]}
            },
            "required": ["type"],
            "additionalProperties": false
        }),
    );
    defs.insert("Input".into(), json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"},
            "name": {"type": "string", "deprecated": true},
            "type": {"enum": input_types},
            "description": {"type": "string"},
            "displayName": {"type": "string"},
            "required": {"type": "boolean", "default": true},
            "defaults": {},
            "prefill": {},
            "dependsOn": {"type": "object", "properties": {"inputs": {"type": "array", "items": {"type": "string"}}, "condition": {"type": "string"}}, "additionalProperties": false},
            "validator": {"type": "string"},
            "values": {"type": "array", "items": {"type": "string"}},
            "options": {"type": "array", "items": {"type": "string"}, "deprecated": true},
            "expression": {"type": "string"},
            "itemType": {"enum": input_types},
            "allowCustomValue": {"type": "boolean"},
            "isRadio": {"type": "boolean"},
            "autoSelectFirst": {"type": "boolean"},
            "min": {}, "max": {},
            "after": {"type": "string"}, "before": {"type": "string"},
            "extension": {"type": "string"},
            "allowedFileExtensions": {"type": "array", "items": {"type": "string"}},
            "jsonSchema": {"type": "object"}
        },
        "required": ["type"],
        "additionalProperties": false
    }));
    let tasks = json!({"type": "array", "items": ref_("Task")});
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Kestra flow",
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "minLength": 1, "maxLength": 100},
            "namespace": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$", "minLength": 1, "maxLength": 150},
            "revision": {"type": "integer", "minimum": 1},
            "description": {"type": "string"},
            "labels": ref_("Labels"),
            "inputs": {"type": "array", "items": ref_("Input")},
            "variables": {"type": "object"},
            "tasks": {"type": "array", "items": ref_("Task"), "minItems": 1},
            "errors": tasks.clone(),
            "finally": tasks.clone(),
            "afterExecution": tasks.clone(),
            "listeners": {"type": "array", "deprecated": true, "items": {"type": "object", "properties": {
                "description": {"type": "string"},
                "conditions": {"type": "array", "items": ref_("Condition")},
                "tasks": tasks.clone()
            }, "additionalProperties": false}},
            "triggers": {"type": "array", "items": ref_("Trigger")},
            "pluginDefaults": {"type": "array", "items": {"type": "object", "properties": {
                "type": {"type": "string"}, "forced": {"type": "boolean", "default": false}, "values": {"type": "object"}
            }, "required": ["type", "values"], "additionalProperties": false}},
            "taskDefaults": {"deprecated": true, "$ref": "#/properties/pluginDefaults"},
            "concurrency": {"type": "object", "properties": {
                "limit": {"type": "integer", "minimum": 1},
                "behavior": {"enum": ["QUEUE", "CANCEL", "FAIL"], "default": "QUEUE"}
            }, "required": ["limit"], "additionalProperties": false},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string", "pattern": "^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"},
                "type": {"enum": input_types},
                "value": {},
                "description": {"type": "string"},
                "displayName": {"type": "string"},
                "required": {"type": "boolean", "default": true}
            }, "required": ["id", "type", "value"], "additionalProperties": false}},
            "retry": ref_("Retry"),
            "sla": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"},
                "type": {"enum": ["MAX_DURATION", "EXECUTION_ASSERTION"]},
                "behavior": {"enum": ["FAIL", "CANCEL", "NONE"]},
                "duration": {"type": "string"},
                "assert": {"type": "string"},
                "labels": ref_("Labels")
            }, "required": ["id", "type"], "additionalProperties": false}},
            "checks": {"type": "array", "items": {"type": "object", "properties": {
                "condition": {"type": "string"},
                "message": {"type": "string"},
                "style": {"enum": ["ERROR", "SUCCESS", "WARNING", "INFO"]},
                "behavior": {"enum": ["BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION"]}
            }, "required": ["condition"], "additionalProperties": false}},
            "disabled": {"type": "boolean", "default": false},
            "deleted": {"type": "boolean", "default": false},
            "workerGroup": {"type": "object"}
        },
        "required": ["id", "namespace", "tasks"],
        "additionalProperties": false,
        "definitions": defs,
    });
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestCatalog;

    #[test]
    fn schema_lists_every_plugin_with_its_type_names() {
        let s = flow_schema(&TestCatalog);
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        let tasks = s["definitions"]["Task"]["oneOf"].as_array().unwrap();
        assert!(
            tasks
                .iter()
                .any(|r| r["$ref"] == "#/definitions/io.kestra.plugin.core.log.Log")
        );
        let log = &s["definitions"]["io.kestra.plugin.core.log.Log"];
        assert_eq!(
            log["properties"]["type"]["enum"],
            json!([
                "io.kestra.plugin.core.log.Log",
                "io.kestra.core.tasks.log.Log"
            ])
        );
        assert!(log["properties"]["runIf"].is_object());
        assert_eq!(log["required"], json!(["type", "id", "message"]));
        let ret = &s["definitions"]["io.kestra.plugin.core.flow.Sequential"];
        assert_eq!(
            ret["properties"]["tasks"]["items"]["$ref"],
            "#/definitions/Task"
        );
        assert!(
            s["definitions"]["Trigger"]["oneOf"]
                .as_array()
                .unwrap()
                .len()
                == 2
        );
    }
}

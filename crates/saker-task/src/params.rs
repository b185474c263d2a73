//! Checking a plugin's properties against its typed `Params` struct, and its JSON Schema.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use saker_flow::catalog::{
    CONDITION_COMMON_PROPS, ParamError, PluginKind, Slot, TASK_COMMON_PROPS, TRIGGER_COMMON_PROPS,
};

use crate::path::ParamPath;
use crate::property::split_path;

/// Upper bound on unknown properties reported for one plugin: each one costs a deserialization.
const MAX_UNKNOWN: usize = 32;

/// Checks `props` against `P` (a `#[serde(deny_unknown_fields)]` struct). Reports every unknown
/// property, then the first other error (type mismatch, missing required property).
pub fn check_params<P: DeserializeOwned>(props: &Map<String, Value>) -> Vec<ParamError> {
    check(props, &UnknownContext::default(), |value| {
        serde_path_to_error::deserialize::<_, P>(value).map(drop)
    })
}

/// [`check_params`] with the Jackson-style message for unknown top-level properties: it names
/// the plugin class and lists every accepted property, including the common and slot ones.
pub fn check_plugin_params<P: DeserializeOwned>(
    type_name: &str,
    kind: PluginKind,
    slots: &[Slot],
    props: &Map<String, Value>,
) -> Vec<ParamError> {
    let common = match kind {
        PluginKind::Task(_) => TASK_COMMON_PROPS,
        PluginKind::Trigger => TRIGGER_COMMON_PROPS,
        PluginKind::Condition | PluginKind::TaskRunner => CONDITION_COMMON_PROPS,
    };
    let extra = common
        .iter()
        .copied()
        .chain(slots.iter().map(Slot::prop))
        .collect::<Vec<_>>();
    let context = UnknownContext {
        type_name: Some(type_name),
        extra_known: &extra,
    };
    check(props, &context, |value| {
        serde_path_to_error::deserialize::<_, P>(value).map(drop)
    })
}

/// JSON Schema of a plugin's own properties (`PluginInfo::schema`).
pub fn schema_of<P: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    P::json_schema(generator)
}

#[derive(Default)]
struct UnknownContext<'a> {
    type_name: Option<&'a str>,
    extra_known: &'a [&'a str],
}

fn check(
    props: &Map<String, Value>,
    context: &UnknownContext<'_>,
    deserialize: impl Fn(Value) -> Result<(), serde_path_to_error::Error<serde_json::Error>>,
) -> Vec<ParamError> {
    let mut value = Value::Object(props.clone());
    let mut errors = Vec::new();
    for _ in 0..=MAX_UNKNOWN {
        let Err(error) = deserialize(value.clone()) else {
            break;
        };
        let outer = ParamPath::from_serde(error.path());
        let (inner, message) = split_path(&error.inner().to_string());
        let path = outer.join(&inner);
        if let Some((field, expected)) = parse_unknown_field(&message) {
            let parent = unknown_field_parent(&path, &field);
            errors.push(ParamError {
                path: parent.child(&field).to_string(),
                message: unrecognized_message(&field, &expected, parent.is_empty(), context),
            });
            // Drop the field and go on, so that every unknown property is reported at once.
            let removed = parent
                .lookup_mut(&mut value)
                .and_then(Value::as_object_mut)
                .and_then(|object| object.remove(&field));
            if removed.is_some() {
                continue;
            }
            break;
        }
        errors.push(plain_error(path, message));
        break;
    }
    errors
}

/// serde_path_to_error may or may not have pushed the unknown key itself on the path.
fn unknown_field_parent(path: &ParamPath, field: &str) -> ParamPath {
    match path.0.last() {
        Some(crate::path::Segment::Key(last)) if last == field => {
            ParamPath(path.0[..path.0.len() - 1].to_vec())
        }
        _ => path.clone(),
    }
}

fn plain_error(path: ParamPath, message: String) -> ParamError {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return ParamError {
            path: path.to_string(),
            message: format!("missing required property \"{field}\""),
        };
    }
    ParamError {
        path: path.to_string(),
        message,
    }
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", "expected
/// `a` or `b`", "there are no fields") into the field and the accepted names.
fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((field.to_owned(), expected))
}

fn unrecognized_message(
    field: &str,
    expected: &[String],
    top_level: bool,
    context: &UnknownContext<'_>,
) -> String {
    let mut known: Vec<&str> = expected.iter().map(String::as_str).collect();
    if top_level {
        known.extend(
            context
                .extra_known
                .iter()
                .copied()
                .filter(|k| !expected.iter().any(|e| e == k)),
        );
    }
    let class = match (top_level, context.type_name) {
        (true, Some(type_name)) => format!(" (class {type_name})"),
        _ => String::new(),
    };
    let list = known
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Unrecognized field \"{field}\"{class}, not marked as ignorable ({} known properties: {list}])",
        known.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IsoDuration, Property};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Nested {
        max_iterations: Option<Property<u32>>,
        interval: Option<Property<IsoDuration>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Params {
        format: Property<String>,
        concurrent: Option<Property<u32>>,
        check_frequency: Option<Nested>,
        items: Option<Vec<Nested>>,
        wrapped: Option<Property<Vec<Nested>>>,
    }

    fn check(props: Value) -> Vec<(String, String)> {
        let Value::Object(props) = props else {
            panic!("object expected")
        };
        check_plugin_params::<Params>(
            "io.kestra.plugin.core.debug.Return",
            PluginKind::Task(saker_flow::catalog::TaskKind::Runnable),
            &[],
            &props,
        )
        .into_iter()
        .map(|error| (error.path, error.message))
        .collect()
    }

    #[test]
    fn valid_props_have_no_errors() {
        assert!(check(json!({"format": "{{ x }}", "concurrent": "{{ n }}", "checkFrequency": {"interval": "PT1M"}})).is_empty());
        assert!(check(json!({"format": 5, "concurrent": "3"})).is_empty());
    }

    #[test]
    fn every_unknown_property_is_reported_jackson_style() {
        let errors = check(json!({"format": "x", "invalid": 1, "other": 2}));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, "invalid");
        assert!(
            errors[0].1.starts_with(
                "Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable ("
            ),
            "{}",
            errors[0].1
        );
        assert!(
            errors[0].1.contains("\"format\"") && errors[0].1.contains("\"runIf\""),
            "{}",
            errors[0].1
        );
        assert_eq!(errors[1].0, "other");
    }

    #[test]
    fn nested_unknown_and_type_errors_have_paths() {
        let errors = check(json!({"format": "x", "checkFrequency": {"maxIteration": 3}}));
        assert_eq!(errors[0].0, "checkFrequency.maxIteration", "{errors:?}");
        assert!(errors[0].1.contains("\"maxIterations\""), "{errors:?}");
        assert!(!errors[0].1.contains("runIf"), "{errors:?}");

        let errors = check(json!({"format": "x", "items": [{}, {"interval": "1 minute"}]}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "items[1].interval");
        assert!(
            errors[0].1.contains("invalid ISO-8601 duration"),
            "{errors:?}"
        );

        let errors = check(json!({"format": "x", "wrapped": [{"bad": 1}]}));
        assert_eq!(errors[0].0, "wrapped[0].bad", "{errors:?}");
    }

    #[test]
    fn missing_and_mistyped_properties() {
        let errors = check(json!({}));
        assert_eq!(
            errors,
            vec![(
                String::new(),
                "missing required property \"format\"".to_owned()
            )]
        );
        let errors = check(json!({"format": "x", "concurrent": [1]}));
        assert_eq!(errors[0].0, "concurrent");
        assert!(errors[0].1.contains("expected u32"), "{errors:?}");
    }

    #[test]
    fn plain_check_params_has_no_class() {
        let Value::Object(props) = json!({"format": "x", "zzz": 1}) else {
            unreachable!()
        };
        let errors = check_params::<Params>(&props);
        assert!(
            errors[0]
                .message
                .starts_with("Unrecognized field \"zzz\", not marked"),
            "{errors:?}"
        );
    }
}

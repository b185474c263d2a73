//! Execution inputs: the engine's typed resolution ([`saker_engine::inputs`]) with this
//! runtime's expression services, so `defaults` may use `secret()`, `kv()`, `envs`...

use saker_core::JsonMap;
use saker_engine::EngineServices;
use saker_engine::inputs::{
    InputContext, RawInput, ServicesHost, resolve_inputs, resolve_pause_inputs,
};
use saker_expr::{Engine, Value};
use saker_flow::Flow;

pub use saker_engine::inputs::{RawInput as Raw, raw_from_json};

/// Types `flow`'s inputs from `raw`, or Kestra's message for the first rejected one.
pub fn resolve(
    flow: &Flow,
    raw: &[(String, RawInput)],
    engine: &Engine,
    services: &dyn EngineServices,
) -> Result<JsonMap, String> {
    let variables = input_variables(flow, services);
    // SECRET values are encrypted with the host's key (`EngineServices::encrypt`).
    let host = ServicesHost(services);
    let ctx = InputContext::new(engine, &variables, services).with_host(&host);
    resolve_inputs(flow, raw, &ctx).map_err(|error| error.to_string())
}

/// Types the `onResume` inputs of the Pause task `pause` of `flow` (resume through the API).
pub fn resolve_pause(
    flow: &Flow,
    pause: &saker_flow::Task,
    raw: &[(String, RawInput)],
    engine: &Engine,
    services: &dyn EngineServices,
) -> Result<JsonMap, String> {
    let variables = input_variables(flow, services);
    let host = ServicesHost(services);
    let ctx = InputContext::new(engine, &variables, services).with_host(&host);
    resolve_pause_inputs(pause, raw, &ctx).map_err(|error| error.to_string())
}

/// What input `defaults` and conditions may read: `flow`, `envs`, `globals`.
fn input_variables(flow: &Flow, services: &dyn EngineServices) -> Value {
    let mut flow_var = JsonMap::new();
    flow_var.insert("id".into(), Value::String(flow.id.clone()));
    flow_var.insert("namespace".into(), Value::String(flow.namespace.clone()));
    let mut variables = JsonMap::new();
    variables.insert("flow".into(), Value::Object(flow_var));
    variables.insert("envs".into(), Value::Object(services.envs()));
    variables.insert("globals".into(), Value::Object(services.globals()));
    Value::Object(variables)
}

#[cfg(test)]
mod tests {
    use saker_engine::NoEngineServices;
    use serde_json::json;

    use super::*;

    #[test]
    fn typed_defaults_and_required() {
        let source = "id: f\nnamespace: ns\ninputs:\n  - id: a\n    type: STRING\n    defaults: da\n  - id: b\n    type: INT\n  - id: c\n    type: STRING\n    required: false\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
        let flow = saker_flow::parse_and_validate(source, None, saker_tasks::registry())
            .expect("valid flow");
        let engine = Engine::new();
        let raw = vec![("b".to_owned(), RawInput::Text("3".into()))];
        let inputs = resolve(&flow, &raw, &engine, &NoEngineServices).unwrap();
        assert_eq!(json!(inputs), json!({"a": "da", "b": 3, "c": null}));
        let error = resolve(&flow, &[], &engine, &NoEngineServices).unwrap_err();
        assert!(error.contains("`b`, missing required input"), "{error}");
    }
}

//! Typed execution inputs and flow outputs (spec §2, §1.7): Kestra's `FlowInputOutput`.
//!
//! Pure: no IO, no clock, no randomness. What needs the outside world (encrypting a `SECRET`,
//! uploading a local path given to a `FILE` input) goes through [`InputHost`]; expressions
//! (`defaults`, `dependsOn.condition`, SELECT `expression`) render with the caller's
//! [`saker_expr::Engine`], variables and services.
//!
//! # Using it
//!
//! ```ignore
//! use saker_engine::inputs::{InputContext, RawInput, resolve_inputs};
//! let engine = saker_expr::Engine::new();
//! // Variables visible to `defaults`/`dependsOn` renders (flow, execution, envs, globals...);
//! // its `inputs` entry is replaced by the inputs resolved so far.
//! let variables = serde_json::json!({"flow": {"id": flow.id, "namespace": flow.namespace}});
//! let ctx = InputContext::new(&engine, &variables, &saker_expr::NoServices).with_host(&my_host);
//! let raw = vec![
//!     ("count".to_string(), RawInput::Text("3".into())),          // CLI `--input count=3`
//!     ("payload".to_string(), RawInput::Json(json!({"a": 1}))),   // subflow / API JSON body
//!     ("f".to_string(), RawInput::File { filename: "a.csv".into(), uri: "kestra:///…".into() }),
//! ];
//! let inputs: serde_json::Map<_, _> = resolve_inputs(&flow, &raw, &ctx)?; // execution.inputs
//! ```
//!
//! * [`resolve_inputs`]: a flow's inputs → `execution.inputs`, or the first error in
//!   declaration order (Kestra fails execution creation on the first one).
//! * [`resolve_input_list`]: the same for any list of inputs; [`resolve_pause_inputs`] reads a
//!   Pause task's `onResume` and validates resume inputs with it.
//! * [`validate_inputs`]: every input with its value, enabled flag and error (the `…/validate`
//!   endpoint).
//! * [`raw_from_json`]: a subflow's / API JSON body's map as raw inputs.
//! * [`type_output`]: types one rendered flow output (used at the end of an execution).
//!
//! # Semantics (Kestra 0.21 `FlowInputOutput`, spec §2.3)
//!
//! Inputs resolve in declaration order, each after its `dependsOn.inputs`. An input is enabled
//! when its dependencies are and its `condition` renders to exactly `true` (a failing condition
//! disables it, as Kestra does); disabled inputs are absent from the result. The value is the
//! submitted one (a JSON `null` counts as missing; unknown ids are ignored), else `defaults`
//! (templates rendered typed with the inputs resolved so far), else the first value when
//! `autoSelectFirst`. Missing and required → ``Invalid input for `x`, missing required input,
//! but received `null` ``; missing and optional → an explicit `null`. Then the value is coerced
//! (see the table in the spec) and validated. Dotted ids nest: `a.b` → `{"a": {"b": …}}`.
//!
//! Typed shapes: INT/FLOAT numbers (FLOAT with Java float digits), BOOLEAN/BOOL booleans,
//! DATETIME `Instant.toString()` (UTC, `Z`), DATE `yyyy-MM-dd`, TIME `HH:mm:ss[.f]`, DURATION
//! `Duration.toString()`, JSON/YAML parsed values, ARRAY/MULTISELECT lists of typed items,
//! FILE the URI string, SECRET the host's ciphertext, others the value as submitted.

mod coerce;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use saker_expr::{Engine, Services, Value};

use crate::services::EngineServices;
use saker_flow::{Flow, FlowOutput, Input, InputDependsOn, InputType, Task};
use serde_json::Map;

use coerce::{java_class, java_string, parse_type, validate};

/// Kestra's message when a SECRET input/output meets a server without an encryption key.
pub const ENCRYPTION_NOT_CONFIGURED: &str =
    "Unable to use a `SECRET` input/output as encryption is not configured";

/// One submitted input value, before typing.
#[derive(Debug, Clone, PartialEq)]
pub enum RawInput {
    /// A text value: CLI `--input k=v`, a multipart form field.
    Text(String),
    /// A JSON value: a subflow's rendered `inputs`, an API JSON body. `null` means missing.
    Json(Value),
    /// An uploaded file already stored by the caller; `uri` is its `kestra://` URI.
    File { filename: String, uri: String },
}

impl RawInput {
    fn into_value(self) -> Value {
        match self {
            RawInput::Text(text) => Value::String(text),
            RawInput::Json(value) => value,
            RawInput::File { uri, .. } => Value::String(uri),
        }
    }
}

/// What typing needs from the host. Defaults behave like a server without these features.
pub trait InputHost {
    /// Encrypts a SECRET value (Kestra: AES-GCM with the server key, base64).
    fn encrypt(&self, _plain: &str) -> Result<String, String> {
        Err(ENCRYPTION_NOT_CONFIGURED.to_owned())
    }

    /// Stores the local file at `path` given to FILE input `input_id` and returns its
    /// `kestra://` URI (Kestra uploads any FILE value that is not already a URI).
    fn store_local_file(&self, _input_id: &str, path: &str) -> Result<String, String> {
        Err(format!(
            "Unable to store local file `{path}`: no storage available"
        ))
    }
}

/// A host with no encryption key and no storage.
pub struct NoInputHost;

impl InputHost for NoInputHost {}

/// An [`InputHost`] that encrypts SECRET values with the engine host's key (no storage).
pub struct ServicesHost<'a>(pub &'a dyn EngineServices);

impl InputHost for ServicesHost<'_> {
    fn encrypt(&self, plain: &str) -> Result<String, String> {
        self.0.encrypt(plain)
    }
}

/// The `inputs` variable of an execution (spec §7.3): SECRET inputs decrypted, as Kestra's
/// `RunVariables` does; `None` when there are no inputs, since Kestra then leaves the variable
/// out (so `{{ inputs.x }}` fails on `inputs` itself). Also returns the decrypted SECRET values,
/// which logs must mask. A value that cannot be decrypted stays as stored.
pub fn inputs_variable(
    flow: &Flow,
    inputs: &Map<String, Value>,
    services: &dyn EngineServices,
) -> (Option<Map<String, Value>>, Vec<String>) {
    if inputs.is_empty() {
        return (None, Vec::new());
    }
    let mut inputs = inputs.clone();
    let mut secrets = Vec::new();
    for input in flow.inputs.iter().filter(|i| i.type_ == InputType::Secret) {
        // Dotted ids are nested (`a.b` → `{"a": {"b": …}}`).
        let mut path = input.id.split('.');
        let first = path.next().and_then(|first| inputs.get_mut(first));
        let slot = path.try_fold(first, |slot, part| Some(slot?.get_mut(part)));
        if let Some(Some(slot)) = slot
            && let Value::String(encrypted) = slot
            && let Ok(plain) = services.decrypt(encrypted)
        {
            secrets.push(plain.clone());
            *slot = Value::String(plain);
        }
    }
    (Some(inputs), secrets)
}

/// Everything input resolution renders with.
#[derive(Clone, Copy)]
pub struct InputContext<'a> {
    pub engine: &'a Engine,
    /// Root variables of renders (a JSON object: `flow`, `execution`, `envs`...); its `inputs`
    /// entry is replaced by the inputs resolved so far.
    pub variables: &'a Value,
    pub services: &'a dyn Services,
    pub host: &'a dyn InputHost,
}

impl<'a> InputContext<'a> {
    /// A context with [`NoInputHost`].
    pub fn new(engine: &'a Engine, variables: &'a Value, services: &'a dyn Services) -> Self {
        InputContext {
            engine,
            variables,
            services,
            host: &NoInputHost,
        }
    }

    pub fn with_host(self, host: &'a dyn InputHost) -> Self {
        InputContext { host, ..self }
    }

    fn render_vars(&self, inputs: Map<String, Value>) -> Value {
        let mut vars = match self.variables {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        vars.insert("inputs".into(), Value::Object(inputs));
        Value::Object(vars)
    }
}

/// A rejected input (or output). `message` is Kestra's constraint-violation message, e.g.
/// ``Invalid input for `x`, missing required input, but received `null` ``; `Display` adds
/// the property path as Kestra's `ConstraintViolationException` does (`x: Invalid input…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub id: String,
    pub message: String,
}

impl InputError {
    fn input(id: &str, message: &str, received: &Value) -> Self {
        Self::wrapped("input", id, message, received)
    }

    fn wrapped(kind: &str, id: &str, message: &str, received: &Value) -> Self {
        InputError {
            id: id.to_owned(),
            message: format!(
                "Invalid {kind} for `{id}`, {message}, but received `{}`",
                java_string(received)
            ),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.id, self.message)
    }
}

impl std::error::Error for InputError {}

/// One input after resolution (see [`validate_inputs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedInput {
    pub id: String,
    /// False when `dependsOn` disabled it (it is then absent from execution inputs).
    pub enabled: bool,
    /// The typed value; on error, the value as submitted (or defaulted).
    pub value: Value,
    pub error: Option<InputError>,
}

/// Types `flow`'s inputs from `raw` (last occurrence of a repeated id wins): the map stored as
/// `execution.inputs`, or the first error in declaration order.
pub fn resolve_inputs(
    flow: &Flow,
    raw: &[(String, RawInput)],
    ctx: &InputContext<'_>,
) -> Result<Map<String, Value>, InputError> {
    resolve_input_list(&flow.inputs, raw, ctx)
}

/// [`resolve_inputs`] for any list of inputs (Pause `onResume`, tests).
pub fn resolve_input_list(
    inputs: &[Input],
    raw: &[(String, RawInput)],
    ctx: &InputContext<'_>,
) -> Result<Map<String, Value>, InputError> {
    let mut entries = Vec::new();
    for resolved in validate_inputs(inputs, raw, ctx) {
        if !resolved.enabled {
            continue;
        }
        if let Some(error) = resolved.error {
            return Err(error);
        }
        entries.push((resolved.id, resolved.value));
    }
    Ok(nest(entries))
}

/// Validates resume inputs against a Pause task's `onResume` (same rules as flow inputs). A
/// Pause without `onResume` accepts nothing and returns an empty map.
pub fn resolve_pause_inputs(
    pause: &Task,
    raw: &[(String, RawInput)],
    ctx: &InputContext<'_>,
) -> Result<Map<String, Value>, InputError> {
    let inputs = match pause.params.get("onResume") {
        Some(list) => inputs_from_json(list).map_err(|message| InputError {
            id: "onResume".into(),
            message,
        })?,
        None => Vec::new(),
    };
    resolve_input_list(&inputs, raw, ctx)
}

/// Resolves every input and reports each one, errors included, in declaration order.
pub fn validate_inputs(
    inputs: &[Input],
    raw: &[(String, RawInput)],
    ctx: &InputContext<'_>,
) -> Vec<ResolvedInput> {
    let mut submitted: HashMap<&str, Value> = HashMap::new();
    for (id, value) in raw {
        submitted.insert(id.as_str(), value.clone().into_value());
    }
    let mut resolver = Resolver {
        inputs,
        submitted,
        ctx,
        slots: vec![Slot::Pending; inputs.len()],
    };
    for index in 0..inputs.len() {
        resolver.resolve(index);
    }
    resolver
        .slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Done(resolved) => Some(resolved),
            Slot::Pending | Slot::Resolving => None,
        })
        .collect()
}

/// A JSON map of input values (subflow `inputs`, API JSON body) as raw inputs.
pub fn raw_from_json(map: &Map<String, Value>) -> Vec<(String, RawInput)> {
    map.iter()
        .map(|(id, value)| (id.clone(), RawInput::Json(value.clone())))
        .collect()
}

/// Types one rendered flow output like an input of its type (spec §1.7). SECRET outputs are
/// stored encrypted as `{"type": "io.kestra.datatype:aes_encrypted", "value": …}`. A null
/// value is an error for a required output and stays null for an optional one.
pub fn type_output(
    output: &FlowOutput,
    value: Value,
    host: &dyn InputHost,
) -> Result<Value, InputError> {
    let error =
        |message: &str, value: &Value| InputError::wrapped("output", &output.id, message, value);
    if value.is_null() {
        return if output.required {
            Err(error("missing required output", &value))
        } else {
            Ok(Value::Null)
        };
    }
    let typed =
        parse_type(output.type_, None, &output.id, &value, host).map_err(|m| error(&m, &value))?;
    if output.type_ == InputType::Secret {
        let mut encrypted = Map::new();
        encrypted.insert(
            "type".into(),
            Value::String("io.kestra.datatype:aes_encrypted".into()),
        );
        encrypted.insert("value".into(), typed);
        return Ok(Value::Object(encrypted));
    }
    Ok(typed)
}

#[derive(Clone)]
enum Slot {
    Pending,
    Resolving,
    Done(ResolvedInput),
}

struct Resolver<'r> {
    inputs: &'r [Input],
    submitted: HashMap<&'r str, Value>,
    ctx: &'r InputContext<'r>,
    slots: Vec<Slot>,
}

impl Resolver<'_> {
    fn resolve(&mut self, index: usize) {
        if !matches!(self.slots[index], Slot::Pending) {
            return;
        }
        self.slots[index] = Slot::Resolving;
        let input = &self.inputs[index];
        let resolved = match self.enabled(index) {
            Err(error) => ResolvedInput {
                id: input.id.clone(),
                enabled: true,
                value: Value::Null,
                error: Some(error),
            },
            Ok(false) => ResolvedInput {
                id: input.id.clone(),
                enabled: false,
                value: Value::Null,
                error: None,
            },
            Ok(true) => self.value(input),
        };
        self.slots[index] = Slot::Done(resolved);
    }

    /// Resolves the dependencies, then evaluates `dependsOn.condition`.
    fn enabled(&mut self, index: usize) -> Result<bool, InputError> {
        let input = &self.inputs[index];
        let Some(InputDependsOn { inputs, condition }) = &input.depends_on else {
            return Ok(true);
        };
        let mut enabled = true;
        for dependency in inputs.iter().filter(|id| **id != input.id) {
            // Unknown dependencies are ignored, as Kestra does.
            let Some(dep) = self.inputs.iter().position(|i| &i.id == dependency) else {
                continue;
            };
            if matches!(self.slots[dep], Slot::Resolving) {
                return Err(InputError::input(
                    &input.id,
                    &format!("`dependsOn` has a cycle through `{dependency}`"),
                    &Value::Null,
                ));
            }
            self.resolve(dep);
            if let Slot::Done(resolved) = &self.slots[dep] {
                enabled &= resolved.enabled;
            }
        }
        if let (true, Some(condition)) = (enabled, condition) {
            let vars = self.ctx.render_vars(self.resolved_so_far());
            // Kestra disables the input when its condition fails to render.
            enabled = matches!(
                self.ctx
                    .engine
                    .render_typed(condition, &vars, self.ctx.services),
                Ok(Value::Bool(true))
            );
        }
        Ok(enabled)
    }

    fn value(&self, input: &Input) -> ResolvedInput {
        let done = |value: Value, error: Option<InputError>| ResolvedInput {
            id: input.id.clone(),
            enabled: true,
            value,
            error,
        };
        let input = match self.render_expression(input) {
            Ok(input) => input,
            Err(message) => {
                let error = InputError {
                    id: input.id.clone(),
                    message,
                };
                return done(Value::Null, Some(error));
            }
        };
        let current = match self.current(&input) {
            Ok(current) => current,
            Err(error) => return done(Value::Null, Some(error)),
        };
        if current.is_null() {
            return if input.required {
                let error = InputError::input(&input.id, "missing required input", &current);
                done(current, Some(error))
            } else {
                done(Value::Null, None)
            };
        }
        match type_input(&input, &current, self.ctx.host) {
            Ok(typed) => done(typed, None),
            Err(message) => {
                let error = InputError::input(&input.id, &message, &current);
                done(current, Some(error))
            }
        }
    }

    /// The submitted value, else the rendered `defaults`, else the auto-selected first value.
    fn current(&self, input: &Input) -> Result<Value, InputError> {
        if let Some(value) = self.submitted.get(input.id.as_str())
            && !value.is_null()
        {
            return Ok(value.clone());
        }
        if let Some(defaults) = &input.defaults {
            return self.render_defaults(defaults).map_err(|message| {
                InputError::input(&input.id, &format!("Invalid defaults: {message}"), defaults)
            });
        }
        let first = input.values.as_ref().and_then(|values| values.first());
        match (input.auto_select_first, first, input.type_) {
            (true, Some(first), InputType::Select) => Ok(Value::String(first.clone())),
            (true, Some(first), InputType::Multiselect) => {
                Ok(Value::Array(vec![Value::String(first.clone())]))
            }
            _ => Ok(Value::Null),
        }
    }

    fn render_defaults(&self, defaults: &Value) -> Result<Value, String> {
        let needs_render = match defaults {
            Value::String(s) => saker_expr::is_template(s),
            Value::Array(_) | Value::Object(_) => defaults.to_string().contains("{{"),
            _ => false,
        };
        if !needs_render {
            return Ok(defaults.clone());
        }
        let vars = self.ctx.render_vars(self.resolved_so_far());
        let (engine, services) = (self.ctx.engine, self.ctx.services);
        let rendered = match defaults {
            // A single expression keeps its type (`{{ inputs.n + 1 }}` for an INT).
            Value::String(s) => engine.render_typed(s, &vars, services),
            other => engine.render_value(other, &vars, services),
        };
        rendered.map_err(|e| e.to_string())
    }

    /// SELECT/MULTISELECT `expression`: rendered to the list of allowed values.
    fn render_expression(&self, input: &Input) -> Result<Input, String> {
        let mut input = input.clone();
        let Some(expression) = &input.expression else {
            return Ok(input);
        };
        if !matches!(input.type_, InputType::Select | InputType::Multiselect) {
            return Ok(input);
        }
        let vars = self.ctx.render_vars(self.resolved_so_far());
        let result = self
            .ctx
            .engine
            .render_typed(expression, &vars, self.ctx.services)
            .map_err(|e| format!("Cannot render 'expression'. Cause: {e}"))?;
        let Value::Array(items) = result else {
            return Err(format!(
                "Invalid expression result. Expected a list of strings, but received {}",
                java_class(&result)
            ));
        };
        let values = items
            .iter()
            .filter(|item| !item.is_null())
            .map(saker_expr::to_output_string)
            .collect();
        input.values = Some(values);
        Ok(input)
    }

    /// The enabled, valid inputs resolved so far, nested (what `{{ inputs.x }}` sees).
    fn resolved_so_far(&self) -> Map<String, Value> {
        let entries = self.slots.iter().filter_map(|slot| match slot {
            Slot::Done(r) if r.enabled && r.error.is_none() => {
                Some((r.id.clone(), r.value.clone()))
            }
            _ => None,
        });
        nest(entries.collect())
    }
}

/// Coerces then validates one non-null input value.
fn type_input(input: &Input, current: &Value, host: &dyn InputHost) -> Result<Value, String> {
    // MULTISELECT items default to STRING, which keeps them as submitted.
    let item_type = input.item_type;
    if input.type_ == InputType::Secret {
        // The validator applies to the plain text, not to the ciphertext.
        validate(input, current)?;
        return parse_type(input.type_, None, &input.id, current, host);
    }
    let typed = parse_type(input.type_, item_type, &input.id, current, host)?;
    validate(input, &typed)?;
    Ok(typed)
}

/// Kestra's `flattenToNestedMap`: `a.b` → `{"a": {"b": …}}`, in the given order.
fn nest(entries: Vec<(String, Value)>) -> Map<String, Value> {
    let mut root = Map::new();
    for (id, value) in entries {
        let parts: Vec<&str> = id.split('.').collect();
        insert_path(&mut root, &parts, value);
    }
    root
}

fn insert_path(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let slot = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            // `a` and `a.b` both declared: the nested one wins, as in Kestra's map merge.
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(next) = slot {
                insert_path(next, rest, value);
            }
        }
    }
}

/// Inputs written as JSON (a Pause task's `onResume`, kept raw in task params).
pub fn inputs_from_json(list: &Value) -> Result<Vec<Input>, String> {
    let Value::Array(items) = list else {
        return Err(format!(
            "`onResume` must be a list, found {}",
            java_class(list)
        ));
    };
    items.iter().map(input_from_json).collect()
}

fn input_from_json(item: &Value) -> Result<Input, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "an input must be a map, found {}",
            java_class(item)
        ));
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str, default: bool| map.get(key).and_then(Value::as_bool).unwrap_or(default);
    let id = text("id")
        .or_else(|| text("name"))
        .ok_or("an input needs an `id`")?;
    let type_name = text("type").ok_or_else(|| format!("input `{id}` needs a `type`"))?;
    let type_ = InputType::parse(&type_name)
        .ok_or_else(|| format!("input `{id}` has an unknown type `{type_name}`"))?;
    let strings = |key: &str| {
        map.get(key).and_then(Value::as_array).map(|items| {
            items
                .iter()
                .map(saker_expr::to_output_string)
                .collect::<Vec<_>>()
        })
    };
    let depends_on = map
        .get("dependsOn")
        .and_then(Value::as_object)
        .map(|d| InputDependsOn {
            inputs: d
                .get("inputs")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            condition: d
                .get("condition")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    const KNOWN: &[&str] = &[
        "id",
        "name",
        "type",
        "description",
        "displayName",
        "required",
        "defaults",
        "prefill",
        "dependsOn",
        "validator",
        "min",
        "max",
        "after",
        "before",
        "values",
        "options",
        "expression",
        "itemType",
        "allowCustomValue",
        "isRadio",
        "autoSelectFirst",
        "extension",
    ];
    let extra = map
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Bounds written as YAML dates/times may come as non-strings: use their text.
    let bound = |key: &str| {
        map.get(key)
            .filter(|v| !v.is_null())
            .map(saker_expr::to_output_string)
    };
    Ok(Input {
        id,
        type_,
        description: text("description"),
        display_name: text("displayName"),
        required: flag("required", true),
        defaults: map.get("defaults").filter(|v| !v.is_null()).cloned(),
        prefill: map.get("prefill").filter(|v| !v.is_null()).cloned(),
        depends_on,
        validator: text("validator"),
        min: map.get("min").filter(|v| !v.is_null()).cloned(),
        max: map.get("max").filter(|v| !v.is_null()).cloned(),
        after: bound("after"),
        before: bound("before"),
        values: strings("values").or_else(|| strings("options")),
        expression: text("expression"),
        item_type: text("itemType").and_then(|t| InputType::parse(&t)),
        allow_custom_value: flag("allowCustomValue", false),
        is_radio: flag("isRadio", false),
        auto_select_first: flag("autoSelectFirst", false),
        extension: text("extension"),
        extra,
    })
}

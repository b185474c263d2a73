//! Pebble-compatible expression engine, as Kestra configures it (strict variables, `{{ }}`,
//! `{% %}`, `{# #}`), over `serde_json::Value`, with Kestra's filters, functions and tests.
//!
//! Pure: no IO, no clock, no randomness. Everything that needs the outside world (secrets, KV,
//! files, the current time, uuids) goes through [`Services`].
//!
//! Public contract (other crates code against exactly this):
//! - [`Engine::new`] builds an engine with the whole Kestra library registered.
//! - [`Engine::render`] renders a template to a string, as Kestra's `runContext.render`.
//! - [`Engine::evaluate`] evaluates one expression (no braces) to a typed value.
//! - [`check`] checks the syntax of a template without evaluating it (flow validation).
//! - [`Error`] carries a message and the line/column inside the template.

mod library;

use std::collections::HashMap;

pub use serde_json::Value;

/// An expression error: syntax (from [`check`] / parsing) or evaluation (missing variable,
/// bad filter argument...). `line`/`column` are 1-based positions inside the template text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({line}:{column})")]
pub struct Error {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

impl Error {
    /// An error with no position yet (the evaluator attaches the position of the node).
    pub fn msg(message: impl Into<String>) -> Self {
        Error { message: message.into(), line: 0, column: 0 }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What expressions may ask of the outside world. The engine and tests pass their own
/// implementation; every method has an erroring/neutral default so partial ones are easy.
pub trait Services: Sync {
    /// `secret('KEY')`.
    fn secret(&self, key: &str) -> Result<String, String> {
        Err(format!("Cannot find secret for key '{key}'."))
    }
    /// `kv('key', namespace, errorOnMissing)`: `namespace` is already resolved by the caller
    /// (defaults to the flow namespace). `Ok(None)` means missing.
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        let _ = (namespace, key);
        Err("the KV store is not available here".into())
    }
    /// `read('path')`: a namespace file path or a `kestra://` URI, returned as text.
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!("cannot read '{path}': no file storage available"))
    }
    /// `fileSize(uri)`, `fileExists(uri)`, `isFileEmpty(uri)` are built on this: `None` = absent.
    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        Err(format!("cannot stat '{uri}': no file storage available"))
    }
    /// `errorLogs()`: the error log lines of the current execution (list of log objects).
    fn error_logs(&self) -> Result<Value, String> {
        Ok(Value::Array(vec![]))
    }
    /// The current time for `now()` (the engine passes the instant of the event it handles).
    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::UNIX_EPOCH.fixed_offset()
    }
    /// A fresh random UUID v4 string for `uuid()`.
    fn uuid(&self) -> String {
        "00000000-0000-4000-8000-000000000000".into()
    }
}

/// Services that know nothing: secrets/KV/files error out, time is the epoch.
pub struct NoServices;
impl Services for NoServices {}

/// Arguments of a filter, function or test call: Pebble allows positional and named ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    pub positional: Vec<Value>,
    pub named: Vec<(String, Value)>,
}

impl Args {
    /// The argument declared at position `idx` under name `name`, given either way.
    pub fn get(&self, idx: usize, name: &str) -> Option<&Value> {
        self.named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .or_else(|| self.positional.get(idx))
    }
    pub fn len(&self) -> usize {
        self.positional.len() + self.named.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a library callable sees besides its arguments.
pub struct Call<'a> {
    pub engine: &'a Engine,
    /// The root context of the current render (all variables: `inputs`, `outputs`, `vars`...).
    pub scope: &'a Value,
    pub services: &'a dyn Services,
}

/// `{{ input | name(args) }}`.
pub type FilterFn = fn(&Call<'_>, &Value, &Args) -> Result<Value>;
/// `{{ name(args) }}`.
pub type FunctionFn = fn(&Call<'_>, &Args) -> Result<Value>;
/// `{{ input is name(args) }}`.
pub type TestFn = fn(&Call<'_>, &Value, &Args) -> Result<bool>;

/// The engine: the registries of filters, functions and tests. Cheap to share (`&Engine`).
pub struct Engine {
    pub(crate) filters: HashMap<&'static str, FilterFn>,
    pub(crate) functions: HashMap<&'static str, FunctionFn>,
    pub(crate) tests: HashMap<&'static str, TestFn>,
}

impl Engine {
    /// An engine with nothing registered (tests of the core language).
    pub fn empty() -> Self {
        Engine { filters: HashMap::new(), functions: HashMap::new(), tests: HashMap::new() }
    }
    pub fn register_filter(&mut self, name: &'static str, f: FilterFn) {
        self.filters.insert(name, f);
    }
    pub fn register_function(&mut self, name: &'static str, f: FunctionFn) {
        self.functions.insert(name, f);
    }
    pub fn register_test(&mut self, name: &'static str, f: TestFn) {
        self.tests.insert(name, f);
    }
}

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

mod ast;
mod builtins;
pub mod crypto;
mod eval;
mod lexer;
mod library;
mod parser;
mod value;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use value::{java_double, to_output_string};

/// Amazon Ion text, the subset Kestra's storage files use (one value per line in `.ion` files):
/// the same reader and writer as `fromIon`/`toIon`, for tasks that read and write such files.
pub mod ion {
    pub use crate::library::ion::{read_all, write};
}

pub use serde_json::Value;

/// An expression error: syntax (from [`check`] / parsing) or evaluation (missing variable,
/// bad filter argument...). `line`/`column` are 1-based positions inside the template text.
///
/// Displayed as Kestra words its render failures (users grep logs for them): ``Unable to find
/// `x` used in the expression `{{ x }}` at line 1`` for a missing variable, else Pebble's
/// exception text, `io.pebbletemplates.pebble.error.PebbleException: <message> (<template>:<line>)`.
/// Every runtime message about a failed render (task runs, executor, workers) is this text.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub message: String,
    pub line: u32,
    pub column: u32,
    pub kind: ErrorKind,
    /// The template the error happened in, once known (all errors out of a render have it).
    pub template: Option<String>,
}

/// What went wrong, which decides the Java exception Kestra names in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template does not parse (Pebble's `ParserException`).
    Syntax,
    /// A variable or attribute is missing (strict variables, `AttributeNotFoundException`).
    Undefined,
    /// Anything else raised while evaluating (`PebbleException`).
    Evaluation,
}

impl Error {
    /// An error with no position yet (the evaluator attaches the position of the node).
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            line: 0,
            column: 0,
            kind: ErrorKind::Evaluation,
            template: None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(template) = &self.template else {
            return write!(f, "{} ({}:{})", self.message, self.line, self.column);
        };
        let class = match self.kind {
            // The message already names the variable, the template and the line.
            ErrorKind::Undefined => return f.write_str(&self.message),
            ErrorKind::Syntax => "ParserException",
            ErrorKind::Evaluation => "PebbleException",
        };
        write!(
            f,
            "io.pebbletemplates.pebble.error.{class}: {} ({template}:{})",
            self.message, self.line
        )
    }
}

impl std::error::Error for Error {}

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

/// The engine: the registries of filters, functions and tests, plus a cache of parsed
/// templates. Cheap to share (`&Engine`); `Send + Sync`.
pub struct Engine {
    pub(crate) filters: HashMap<&'static str, FilterFn>,
    pub(crate) functions: HashMap<&'static str, FunctionFn>,
    pub(crate) tests: HashMap<&'static str, TestFn>,
    templates: Cache<Template>,
    expressions: Cache<Expression>,
    /// Loop iterations allowed per render (all `for` loops together).
    pub(crate) loop_limit: u64,
}

/// Parsed-template cache, bounded like Kestra's (LRU 1000): when full it is simply emptied,
/// which keeps lookups lock-cheap and memory bounded.
struct Cache<T> {
    map: RwLock<HashMap<String, Arc<T>>>,
}

const CACHE_CAPACITY: usize = 1000;

impl<T> Cache<T> {
    fn new() -> Self {
        Cache {
            map: RwLock::new(HashMap::new()),
        }
    }

    fn get_or_parse(&self, key: &str, parse: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        if let Ok(map) = self.map.read()
            && let Some(t) = map.get(key)
        {
            return Ok(t.clone());
        }
        let t = Arc::new(parse()?);
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
            map.insert(key.to_string(), t.clone());
        }
        Ok(t)
    }
}

/// A parsed template, reusable across renders (see [`Engine::parse`]).
#[derive(Debug)]
pub struct Template {
    source: String,
    nodes: Vec<ast::Node>,
}

/// A parsed single expression (see [`Engine::evaluate`]).
#[derive(Debug)]
struct Expression {
    source: String,
    expr: ast::Expr,
}

fn syntax_error(src: &str, e: lexer::SynErr) -> Error {
    let (line, column) = eval::line_col(src, e.pos);
    Error {
        message: e.msg,
        line,
        column,
        kind: ErrorKind::Syntax,
        template: Some(src.to_owned()),
    }
}

impl Template {
    /// Parses `source` (syntax errors carry 1-based line/column inside it).
    pub fn parse(source: &str) -> Result<Template> {
        let nodes = parser::parse_template(source).map_err(|e| syntax_error(source, e))?;
        Ok(Template {
            source: source.to_string(),
            nodes,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders to a string, as Kestra's `runContext.render`.
    pub fn render(&self, engine: &Engine, ctx: &Value, services: &dyn Services) -> Result<String> {
        let mut out = String::with_capacity(self.source.len());
        let mut st = eval::State::new(engine, ctx, services, &self.source);
        st.render_nodes(&self.nodes, &mut out)
            .map_err(|f| f.into_error(&self.source))?;
        Ok(out)
    }

    /// Typed rendering: when the template is exactly one `{{ expression }}` the raw value is
    /// returned (map, list, number, bool, null); otherwise the rendered string.
    pub fn render_typed(
        &self,
        engine: &Engine,
        ctx: &Value,
        services: &dyn Services,
    ) -> Result<Value> {
        if let [ast::Node::Print(e)] = self.nodes.as_slice() {
            let st = eval::State::new(engine, ctx, services, &self.source);
            return st
                .eval(e)
                .map(|v| v.into_owned())
                .map_err(|f| f.into_error(&self.source));
        }
        self.render(engine, ctx, services).map(Value::String)
    }
}

/// Checks the syntax of a template without evaluating it (flow validation). Unknown filters or
/// functions are not syntax errors (Pebble resolves them at evaluation).
pub fn check(template: &str) -> Result<()> {
    if !is_template(template) {
        return Ok(());
    }
    Template::parse(template).map(|_| ())
}

/// Whether `s` contains template syntax (`{{`, `{%` or `{#`); anything else renders to itself.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Kestra's condition truthiness (`runIf`, `If`, `Fail.condition`…) on a rendered string:
/// false iff, once trimmed, it is `false`, `0`, `-0` or empty.
pub fn is_truthy_string(s: &str) -> bool {
    !matches!(
        s.trim_matches(|c: char| c <= ' '),
        "false" | "0" | "-0" | ""
    )
}

/// Pebble's boolean coercion, as the `{% if %}` tag applies it: booleans, numbers (non-zero) and
/// strings (non-empty, so `"false"` is true); null and maps/lists are errors.
pub fn pebble_truthy(v: &Value) -> Result<bool> {
    match value::pebble_bool(v) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(Error::msg(
            "null value given to if statement and strict variables is set to true",
        )),
        Err(t) => Err(Error::msg(format!(
            "Unsupported value type {t}. Expected Boolean, String, Number in \"if\" statement"
        ))),
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An engine with nothing registered (tests of the core language).
    pub fn empty() -> Self {
        Engine {
            filters: HashMap::new(),
            functions: HashMap::new(),
            tests: HashMap::new(),
            templates: Cache::new(),
            expressions: Cache::new(),
            loop_limit: eval::MAX_ITERATIONS,
        }
    }

    /// Changes the number of `for` iterations one render may run (default 5,000,000).
    pub fn set_loop_limit(&mut self, iterations: u64) {
        self.loop_limit = iterations;
    }

    /// An engine with the core built-ins and the whole Kestra library registered.
    pub fn new() -> Self {
        let mut e = Engine::empty();
        builtins::register(&mut e);
        library::register_all(&mut e);
        e
    }

    /// Parses a template through the engine's cache.
    pub fn parse(&self, template: &str) -> Result<Arc<Template>> {
        self.templates
            .get_or_parse(template, || Template::parse(template))
    }

    /// Renders `template` with `ctx` as the root variables. A string without template syntax is
    /// returned as is.
    pub fn render(&self, template: &str, ctx: &Value, services: &dyn Services) -> Result<String> {
        if !is_template(template) {
            return Ok(template.to_string());
        }
        self.parse(template)?.render(self, ctx, services)
    }

    /// Typed rendering (see [`Template::render_typed`]).
    pub fn render_typed(
        &self,
        template: &str,
        ctx: &Value,
        services: &dyn Services,
    ) -> Result<Value> {
        if !is_template(template) {
            return Ok(Value::String(template.to_string()));
        }
        self.parse(template)?.render_typed(self, ctx, services)
    }

    /// Renders every string inside `v` (map keys and values, list items); other values are kept.
    pub fn render_value(&self, v: &Value, ctx: &Value, services: &dyn Services) -> Result<Value> {
        Ok(match v {
            Value::String(s) => Value::String(self.render(s, ctx, services)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.render_value(i, ctx, services))
                    .collect::<Result<_>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, item) in map {
                    out.insert(
                        self.render(k, ctx, services)?,
                        self.render_value(item, ctx, services)?,
                    );
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates one expression (no braces), e.g. `inputs.x > 3`, to a typed value.
    pub fn evaluate(&self, expr: &str, ctx: &Value, services: &dyn Services) -> Result<Value> {
        let parsed = self.expressions.get_or_parse(expr, || {
            let e = parser::parse_expression(expr).map_err(|e| syntax_error(expr, e))?;
            Ok(Expression {
                source: expr.to_string(),
                expr: e,
            })
        })?;
        let st = eval::State::new(self, ctx, services, &parsed.source);
        st.eval(&parsed.expr)
            .map(|v| v.into_owned())
            .map_err(|f| f.into_error(&parsed.source))
    }

    /// A render from inside a render (the `render()` function), bounded in nesting depth.
    pub(crate) fn render_nested(
        &self,
        template: &str,
        ctx: &Value,
        services: &dyn Services,
    ) -> Result<String> {
        let _guard = eval::NestingGuard::enter()?;
        self.render(template, ctx, services)
    }
    pub fn has_filter(&self, name: &str) -> bool {
        self.filters.contains_key(name)
    }
    pub fn has_function(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }
    pub fn has_test(&self, name: &str) -> bool {
        self.tests.contains_key(name)
    }
    /// Every registered filter name, sorted (docs and tooling list them from here).
    pub fn filter_names(&self) -> Vec<&'static str> {
        sorted_names(&self.filters)
    }
    /// Every registered function name, sorted.
    pub fn function_names(&self) -> Vec<&'static str> {
        sorted_names(&self.functions)
    }
    /// Every registered test name, sorted.
    pub fn test_names(&self) -> Vec<&'static str> {
        sorted_names(&self.tests)
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

fn sorted_names<F>(registry: &HashMap<&'static str, F>) -> Vec<&'static str> {
    let mut names: Vec<_> = registry.keys().copied().collect();
    names.sort_unstable();
    names
}

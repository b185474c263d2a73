//! Tree-walking evaluator over `serde_json::Value`, with Pebble's strict-variables semantics as
//! Kestra configures them. "Undefined" (missing variable/attribute/index) is a distinct failure
//! so `??`, `???`, `is defined` and the `default` filter can swallow it.

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::ast::{ArgExprs, BinOp, Expr, ExprKind, FilterCall, Node, UnOp};
use crate::value::{self, Num};
use crate::{Args, Call, Engine, Error, Services};

/// Loop iterations allowed in one render (all loops together).
pub(crate) const MAX_ITERATIONS: u64 = 5_000_000;
/// Nesting of renders inside renders (`render()` calling the engine again).
pub(crate) const MAX_RENDER_NESTING: u32 = 8;

thread_local! {
    static RENDER_NESTING: Cell<u32> = const { Cell::new(0) };
}

/// Guards one level of nested rendering on this thread.
pub(crate) struct NestingGuard;

impl NestingGuard {
    pub(crate) fn enter() -> Result<NestingGuard, Error> {
        RENDER_NESTING.with(|n| {
            if n.get() >= MAX_RENDER_NESTING {
                return Err(Error::msg(format!(
                    "rendering is nested too deeply (more than {MAX_RENDER_NESTING} levels of render())"
                )));
            }
            n.set(n.get() + 1);
            Ok(NestingGuard)
        })
    }
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        RENDER_NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

#[derive(Debug)]
pub(crate) enum Fail {
    Undef { name: String, pos: usize },
    Err { msg: String, pos: usize },
}

type R<T> = Result<T, Fail>;

fn err<T>(msg: impl Into<String>, pos: usize) -> R<T> {
    Err(Fail::Err {
        msg: msg.into(),
        pos,
    })
}

/// 1-based line and column of byte offset `pos` in `src`.
pub(crate) fn line_col(src: &str, pos: usize) -> (u32, u32) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() as u32 + 1;
    let col_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[col_start..].chars().count() as u32 + 1;
    (line, col)
}

pub(crate) fn undefined_message(name: &str, src: &str, line: u32) -> String {
    format!("Unable to find `{name}` used in the expression `{src}` at line {line}")
}

impl Fail {
    pub(crate) fn into_error(self, src: &str) -> Error {
        match self {
            Fail::Undef { name, pos } => {
                let (line, column) = line_col(src, pos);
                Error {
                    message: undefined_message(&name, src, line),
                    line,
                    column,
                    kind: crate::ErrorKind::Undefined,
                    template: Some(src.to_owned()),
                }
            }
            Fail::Err { msg, pos } => {
                let (line, column) = line_col(src, pos);
                Error {
                    message: msg,
                    line,
                    column,
                    kind: crate::ErrorKind::Evaluation,
                    template: Some(src.to_owned()),
                }
            }
        }
    }

    fn message(&self, src: &str) -> String {
        match self {
            Fail::Undef { name, pos } => undefined_message(name, src, line_col(src, *pos).0),
            Fail::Err { msg, .. } => msg.clone(),
        }
    }
}

pub(crate) struct State<'r> {
    pub engine: &'r Engine,
    pub root: &'r Value,
    pub services: &'r dyn Services,
    pub source: &'r str,
    /// Local scopes (`set`, loop variables), innermost last. Index 0 is the template scope.
    scopes: Vec<Vec<(String, Value)>>,
    fuel: u64,
}

impl<'r> State<'r> {
    pub(crate) fn new(
        engine: &'r Engine,
        root: &'r Value,
        services: &'r dyn Services,
        source: &'r str,
    ) -> Self {
        State {
            engine,
            root,
            services,
            source,
            scopes: vec![Vec::new()],
            fuel: engine.loop_limit,
        }
    }

    fn call(&self) -> Call<'r> {
        Call {
            engine: self.engine,
            scope: self.root,
            services: self.services,
        }
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        for scope in self.scopes.iter().rev() {
            if let Some((_, v)) = scope.iter().find(|(k, _)| k == name) {
                return Some(v);
            }
        }
        match self.root {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    /// Pebble `ScopeChain.set`: update the innermost scope that has the name, else define it in
    /// the current scope.
    fn set_var(&mut self, name: &str, v: Value) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(slot) = scope.iter_mut().find(|(k, _)| k == name) {
                slot.1 = v;
                return;
            }
        }
        self.put_var(name, v);
    }

    fn put_var(&mut self, name: &str, v: Value) {
        let scope = self
            .scopes
            .last_mut()
            .expect("there is always a template scope");
        if let Some(slot) = scope.iter_mut().find(|(k, _)| k == name) {
            slot.1 = v;
        } else {
            scope.push((name.to_string(), v));
        }
    }

    // ----------------------------------------------------------------------------------------
    // Nodes

    pub(crate) fn render_nodes(&mut self, nodes: &[Node], out: &mut String) -> R<()> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Print(e) => self.render_print(e, out)?,
                Node::If {
                    branches,
                    otherwise,
                } => self.render_if(branches, otherwise.as_deref(), out)?,
                Node::For {
                    key,
                    var,
                    iter,
                    body,
                    otherwise,
                    pos,
                } => {
                    self.render_for(
                        key.as_deref(),
                        var,
                        iter,
                        body,
                        otherwise.as_deref(),
                        *pos,
                        out,
                    )?;
                }
                Node::Set { name, value } => self.render_set(name, value)?,
                Node::FilterBlock { filters, body } => {
                    self.render_filter_block(filters, body, out)?
                }
                Node::Block(body) => self.render_nodes(body, out)?,
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn render_print(&self, e: &Expr, out: &mut String) -> R<()> {
        let v = self.eval(e)?;
        value::write_output(out, &v);
        Ok(())
    }

    #[inline(never)]
    fn render_if(
        &mut self,
        branches: &[(Expr, Vec<Node>)],
        otherwise: Option<&[Node]>,
        out: &mut String,
    ) -> R<()> {
        for (cond, body) in branches {
            if self.if_condition(cond)? {
                return self.render_nodes(body, out);
            }
        }
        match otherwise {
            Some(body) => self.render_nodes(body, out),
            None => Ok(()),
        }
    }

    #[inline(never)]
    fn render_set(&mut self, name: &str, value: &Expr) -> R<()> {
        let v = self.eval(value)?.into_owned();
        self.set_var(name, v);
        Ok(())
    }

    #[inline(never)]
    fn render_filter_block(
        &mut self,
        filters: &[FilterCall],
        body: &[Node],
        out: &mut String,
    ) -> R<()> {
        let mut inner = String::new();
        self.render_nodes(body, &mut inner)?;
        let mut v = Value::String(inner);
        for f in filters {
            v = self.apply_filter(f, &v)?;
        }
        value::write_output(out, &v);
        Ok(())
    }

    /// Pebble's `IfNode`: booleans, numbers (non-zero) and strings (non-empty) only; any failure
    /// is reported as "Wrong operand(s) type in conditional expression".
    fn if_condition(&self, cond: &Expr) -> R<bool> {
        let wrap = |inner: String| Fail::Err {
            msg: format!("Wrong operand(s) type in conditional expression: {inner}"),
            pos: cond.pos,
        };
        let v = self.eval(cond).map_err(|f| wrap(f.message(self.source)))?;
        match value::pebble_bool(&v) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(wrap(
                "null value given to if statement and strict variables is set to true".into(),
            )),
            Err(t) => Err(wrap(format!(
                "Unsupported value type {t}. Expected Boolean, String, Number in \"if\" statement"
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn render_for(
        &mut self,
        key: Option<&str>,
        var: &str,
        iter: &Expr,
        body: &[Node],
        otherwise: Option<&[Node]>,
        pos: usize,
        out: &mut String,
    ) -> R<()> {
        let iterable = self.eval(iter)?.into_owned();
        let items: Vec<(Option<String>, Value)> = match iterable {
            Value::Null => return Ok(()),
            Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    if key.is_some() {
                        (Some(k), v)
                    } else {
                        (
                            None,
                            value::map_of([
                                ("key".to_string(), Value::String(k)),
                                ("value".to_string(), v),
                            ]),
                        )
                    }
                })
                .collect(),
            other => {
                return err(
                    format!(
                        "Not an iterable object. Value = [{}]",
                        value::java_string(&other)
                    ),
                    iter.pos,
                );
            }
        };
        if items.is_empty() {
            if let Some(body) = otherwise {
                self.render_nodes(body, out)?;
            }
            return Ok(());
        }
        let length = items.len();
        self.scopes.push(Vec::with_capacity(3));
        for (index, (k, item)) in items.into_iter().enumerate() {
            if self.fuel == 0 {
                return err(
                    format!(
                        "too many loop iterations (limit {} per render)",
                        self.engine.loop_limit
                    ),
                    pos,
                );
            }
            self.fuel -= 1;
            let loop_var = value::map_of([
                ("index".to_string(), Value::from(index)),
                ("revindex".to_string(), Value::from(length - index - 1)),
                ("first".to_string(), Value::Bool(index == 0)),
                ("last".to_string(), Value::Bool(index + 1 == length)),
                ("length".to_string(), Value::from(length)),
            ]);
            self.put_var("loop", loop_var);
            if let (Some(kname), Some(k)) = (key, k) {
                self.put_var(kname, Value::String(k));
            } else if let Some(kname) = key {
                // `for i, v in list`: the first name gets the index.
                self.put_var(kname, Value::from(index));
            }
            self.put_var(var, item);
            self.render_nodes(body, out)?;
        }
        self.scopes.pop();
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Expressions

    /// A small dispatcher: each kind is evaluated in its own function so that recursion (one
    /// frame per tree level) stays cheap on the stack, even in debug builds.
    pub(crate) fn eval<'s>(&'s self, e: &'s Expr) -> R<Cow<'s, Value>> {
        match &e.kind {
            ExprKind::Lit(v) => Ok(Cow::Borrowed(v)),
            ExprKind::Var(name) => match self.lookup(name) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => Err(Fail::Undef {
                    name: name.clone(),
                    pos: e.pos,
                }),
            },
            ExprKind::Attr(base, name) => {
                let b = self.eval(base)?;
                attr(b, Key::Name(name), e.pos)
            }
            ExprKind::Index(base, idx) => self.eval_index(base, idx, e.pos),
            ExprKind::Method(base, name, _) => {
                self.eval(base)?;
                err(
                    format!(
                        "method call `{name}()` is not supported on values; use a filter or function instead"
                    ),
                    e.pos,
                )
            }
            ExprKind::List(items) => self.eval_list(items),
            ExprKind::Map(pairs) => self.eval_map(pairs),
            ExprKind::Call(name, args) => self.eval_call(name, args, e.pos),
            ExprKind::Filter(input, call) => self.eval_filter(input, call),
            ExprKind::Test {
                input,
                name,
                args,
                negate,
            } => self.eval_test(input, name, args, *negate, e.pos),
            ExprKind::Unary(op, inner) => self.eval_unary(*op, inner, e.pos),
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, e.pos),
            ExprKind::Ternary(c, a, b) => {
                if self.ternary_condition(c)? {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            ExprKind::Interp(parts) => self.eval_interp(parts),
        }
    }

    #[inline(never)]
    fn eval_index<'s>(&'s self, base: &'s Expr, idx: &'s Expr, pos: usize) -> R<Cow<'s, Value>> {
        let b = self.eval(base)?;
        let i = self.eval(idx)?;
        let key = match i.as_ref() {
            Value::String(s) => Key::Name(s),
            Value::Number(n) => match Num::from_number(n) {
                Num::Int(i) => Key::Index(i),
                Num::Float(f) => Key::Index(f as i64),
            },
            other => {
                return Err(Fail::Undef {
                    name: value::to_output_string(other),
                    pos: idx.pos,
                });
            }
        };
        attr(b, key, pos)
    }

    #[inline(never)]
    fn eval_list<'s>(&'s self, items: &'s [Expr]) -> R<Cow<'s, Value>> {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(self.eval(i)?.into_owned());
        }
        Ok(Cow::Owned(Value::Array(out)))
    }

    #[inline(never)]
    fn eval_map<'s>(&'s self, pairs: &'s [(Expr, Expr)]) -> R<Cow<'s, Value>> {
        let mut out = Map::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = match self.eval(k)?.into_owned() {
                Value::String(s) => s,
                other => value::java_string(&other),
            };
            out.insert(key, self.eval(v)?.into_owned());
        }
        Ok(Cow::Owned(Value::Object(out)))
    }

    #[inline(never)]
    fn eval_call<'s>(&'s self, name: &str, args: &'s ArgExprs, pos: usize) -> R<Cow<'s, Value>> {
        let Some(f) = self.engine.functions.get(name) else {
            return err(format!("Function or Macro [{name}] does not exist."), pos);
        };
        let args = self.eval_args(args)?;
        f(&self.call(), &args)
            .map(Cow::Owned)
            .map_err(|x| Fail::Err {
                msg: x.message,
                pos,
            })
    }

    #[inline(never)]
    fn eval_filter<'s>(&'s self, input: &'s Expr, call: &'s FilterCall) -> R<Cow<'s, Value>> {
        let v = if call.name == "default" {
            // Pebble's `default` filter also accepts an undefined input.
            match self.eval(input) {
                Err(Fail::Undef { .. }) => Cow::Owned(Value::Null),
                other => other?,
            }
        } else {
            self.eval(input)?
        };
        self.apply_filter(call, &v).map(Cow::Owned)
    }

    #[inline(never)]
    fn eval_test<'s>(
        &'s self,
        input: &'s Expr,
        name: &str,
        args: &'s ArgExprs,
        negate: bool,
        pos: usize,
    ) -> R<Cow<'s, Value>> {
        let Some(test) = self.engine.tests.get(name) else {
            return err(format!("Test [{name}] does not exist."), pos);
        };
        let v = if name == "defined" {
            // The one test that must not fail in strict mode on an undefined input.
            match self.eval(input) {
                Err(Fail::Undef { .. }) => Cow::Owned(Value::Null),
                other => other?,
            }
        } else {
            self.eval(input)?
        };
        let args = self.eval_args(args)?;
        let r = test(&self.call(), &v, &args).map_err(|x| Fail::Err {
            msg: x.message,
            pos,
        })?;
        Ok(Cow::Owned(Value::Bool(r != negate)))
    }

    #[inline(never)]
    fn eval_unary<'s>(&'s self, op: UnOp, inner: &'s Expr, pos: usize) -> R<Cow<'s, Value>> {
        let v = self.eval(inner)?;
        let r = match op {
            UnOp::Not => match value::pebble_bool(&v) {
                Ok(Some(b)) => Value::Bool(!b),
                Ok(None) => {
                    return err(
                        "null value given to not unary operator and strict variables is set to true",
                        pos,
                    );
                }
                Err(t) => return err(format!("Expected a Boolean value but got a {t}"), pos),
            },
            UnOp::Neg => {
                arith(BinOp::Mul, &Value::from(-1), &v).map_err(|m| Fail::Err { msg: m, pos })?
            }
            UnOp::Plus => {
                arith(BinOp::Mul, &Value::from(1), &v).map_err(|m| Fail::Err { msg: m, pos })?
            }
        };
        Ok(Cow::Owned(r))
    }

    #[inline(never)]
    fn ternary_condition(&self, c: &Expr) -> R<bool> {
        let v = self.eval(c)?;
        match value::pebble_bool(&v) {
            Ok(b) => Ok(b.unwrap_or(false)),
            Err(t) => err(format!("Expected a Boolean value but got a {t}"), c.pos),
        }
    }

    #[inline(never)]
    fn eval_interp<'s>(&'s self, parts: &'s [Expr]) -> R<Cow<'s, Value>> {
        let mut s = String::new();
        for p in parts {
            let v = self.eval(p)?;
            if !v.is_null() {
                s.push_str(&value::java_string(&v));
            }
        }
        Ok(Cow::Owned(Value::String(s)))
    }

    fn eval_args(&self, a: &ArgExprs) -> R<Args> {
        let mut args = Args {
            positional: Vec::with_capacity(a.positional.len()),
            named: Vec::with_capacity(a.named.len()),
        };
        for p in &a.positional {
            args.positional.push(self.eval(p)?.into_owned());
        }
        for (n, p) in &a.named {
            args.named.push((n.clone(), self.eval(p)?.into_owned()));
        }
        Ok(args)
    }

    fn apply_filter(&self, call: &FilterCall, input: &Value) -> R<Value> {
        let Some(f) = self.engine.filters.get(call.name.as_str()) else {
            return err(format!("Filter [{}] does not exist.", call.name), call.pos);
        };
        let args = self.eval_args(&call.args)?;
        f(&self.call(), input, &args).map_err(|x| Fail::Err {
            msg: x.message,
            pos: call.pos,
        })
    }

    fn bool_operand(&self, e: &Expr, op: &str) -> R<bool> {
        let v = self.eval(e)?;
        match value::pebble_bool(&v) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => err(
                format!("null value used in {op} operator and strict variables is set to true"),
                e.pos,
            ),
            Err(t) => err(
                format!("Expected a Boolean value but got a {t} in {op} operator"),
                e.pos,
            ),
        }
    }

    #[inline(never)]
    fn binary<'s>(&'s self, op: BinOp, l: &'s Expr, r: &'s Expr, pos: usize) -> R<Cow<'s, Value>> {
        match op {
            BinOp::And => {
                let v = self.bool_operand(l, "and")? && self.bool_operand(r, "and")?;
                return Ok(Cow::Owned(Value::Bool(v)));
            }
            BinOp::Or => {
                let v = self.bool_operand(l, "or")? || self.bool_operand(r, "or")?;
                return Ok(Cow::Owned(Value::Bool(v)));
            }
            BinOp::NullCoalesce => {
                return match self.eval(l) {
                    Ok(v) if !v.is_null() => Ok(v),
                    Ok(_) | Err(Fail::Undef { .. }) => self.eval(r),
                    Err(e) => Err(e),
                };
            }
            BinOp::UndefinedCoalesce => {
                return match self.eval(l) {
                    Err(Fail::Undef { .. }) => self.eval(r),
                    other => other,
                };
            }
            _ => {}
        }
        let a = self.eval(l)?;
        let b = self.eval(r)?;
        strict_binary(op, a.as_ref(), b.as_ref())
            .map(Cow::Owned)
            .map_err(|msg| Fail::Err { msg, pos })
    }
}

/// Binary operators that evaluate both operands.
#[inline(never)]
fn strict_binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    {
        let fail = |msg: String| msg;
        let v = match op {
            BinOp::Eq => Value::Bool(value::values_equal(a, b)),
            BinOp::Ne => Value::Bool(!value::values_equal(a, b)),
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                Value::Bool(comparison(op, a, b).map_err(fail)?)
            }
            BinOp::Contains => Value::Bool(contains(a, b).map_err(fail)?),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                arith(op, a, b).map_err(fail)?
            }
            BinOp::Concat => {
                let mut s = String::new();
                if !a.is_null() {
                    s.push_str(&value::java_string(a));
                }
                if !b.is_null() {
                    s.push_str(&value::java_string(b));
                }
                Value::String(s)
            }
            BinOp::Range => value::range(a, b, None).map_err(fail)?,
            BinOp::IsIn => Value::Bool(is_in(a, b)),
            BinOp::IsNotIn => Value::Bool(!a.is_null() && !b.is_null() && !is_in(a, b)),
            BinOp::And | BinOp::Or | BinOp::NullCoalesce | BinOp::UndefinedCoalesce => {
                return Err("internal error: lazy operator evaluated strictly".into());
            }
        };
        Ok(v)
    }
}

enum Key<'k> {
    Name(&'k str),
    Index(i64),
}

/// Attribute / subscript access, keeping borrows when the base is borrowed.
fn attr<'s>(base: Cow<'s, Value>, key: Key<'_>, pos: usize) -> R<Cow<'s, Value>> {
    let undef = |key: &Key<'_>| Fail::Undef {
        name: match key {
            Key::Name(n) => n.to_string(),
            Key::Index(i) => i.to_string(),
        },
        pos,
    };
    match base {
        Cow::Borrowed(v) => lookup_ref(v, &key)
            .map(Cow::Borrowed)
            .ok_or_else(|| undef(&key)),
        Cow::Owned(v) => lookup_owned(v, &key)
            .map(Cow::Owned)
            .ok_or_else(|| undef(&key)),
    }
}

fn list_index(len: usize, key: &Key<'_>) -> Option<usize> {
    let i = match key {
        Key::Index(i) => *i,
        Key::Name(n) => n.parse::<i64>().ok()?,
    };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lookup_ref<'v>(v: &'v Value, key: &Key<'_>) -> Option<&'v Value> {
    match v {
        Value::Object(m) => match key {
            Key::Name(n) => m.get(*n),
            Key::Index(i) => m.get(&i.to_string()),
        },
        Value::Array(a) => a.get(list_index(a.len(), key)?),
        _ => None,
    }
}

fn lookup_owned(v: Value, key: &Key<'_>) -> Option<Value> {
    match v {
        Value::Object(mut m) => match key {
            Key::Name(n) => m.remove(*n),
            Key::Index(i) => m.remove(&i.to_string()),
        },
        Value::Array(mut a) => {
            let i = list_index(a.len(), key)?;
            Some(a.swap_remove(i))
        }
        _ => None,
    }
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "ADD",
        BinOp::Sub => "SUBTRACT",
        BinOp::Mul => "MULTIPLICATION",
        BinOp::Div => "DIVISION",
        _ => "MODULUS",
    }
}

/// Pebble `OperatorUtils`: `+` with a string concatenates (`String.valueOf`, so null → "null"),
/// `+`/`-` on a list append/remove, Long op Long → Long (integer division), any double → double.
pub(crate) fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    if op == BinOp::Add {
        if a.is_string() || b.is_string() {
            let mut s = value::java_string(a);
            s.push_str(&value::java_string(b));
            return Ok(Value::String(s));
        }
        if let Value::Array(items) = a {
            let mut items = items.clone();
            match b {
                Value::Array(more) => items.extend(more.iter().cloned()),
                other => items.push(other.clone()),
            }
            return Ok(Value::Array(items));
        }
    }
    if op == BinOp::Sub
        && let Value::Array(items) = a
    {
        let mut items = items.clone();
        match b {
            Value::Array(remove) => {
                // A set, not `remove.contains`: two ranges of a million items would otherwise
                // take 10^12 comparisons (found by fuzzing). Same equality as `Vec::contains`.
                let remove: HashSet<&Value> = remove.iter().collect();
                items.retain(|x| !remove.contains(x));
            }
            other => {
                if let Some(i) = items.iter().position(|x| x == other) {
                    items.remove(i);
                }
            }
        }
        return Ok(Value::Array(items));
    }
    let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) else {
        return Err(format!(
            "invalid operands for mathematical operation [{}]",
            op_name(op)
        ));
    };
    Ok(match (x, y) {
        (Num::Int(x), Num::Int(y)) => Value::from(match op {
            BinOp::Add => x.wrapping_add(y),
            BinOp::Sub => x.wrapping_sub(y),
            BinOp::Mul => x.wrapping_mul(y),
            BinOp::Div => {
                if y == 0 {
                    return Err("/ by zero".into());
                }
                x.wrapping_div(y)
            }
            _ => {
                if y == 0 {
                    return Err("/ by zero".into());
                }
                x.wrapping_rem(y)
            }
        }),
        _ => {
            let (x, y) = (x.as_f64(), y.as_f64());
            value::float_value(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                _ => x % y,
            })
        }
    })
}

/// Kestra's comparison expressions: strings lexicographically, then Pebble's numeric comparison
/// (null on either side is false).
fn comparison(op: BinOp, a: &Value, b: &Value) -> Result<bool, String> {
    let name = match op {
        BinOp::Lt => "less than",
        BinOp::Gt => "greater than",
        BinOp::Le => "less than or equals",
        _ => "greater than or equals",
    };
    let ord = match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, _) | (_, Value::Null) => return Ok(false),
        (Value::Number(x), Value::Number(y)) => {
            match value::compare_num(Num::from_number(x), Num::from_number(y)) {
                Some(o) => o,
                None => return Ok(false),
            }
        }
        _ => {
            return Err(format!(
                "Could not perform {name} comparison: invalid operands ({} and {})",
                value::type_name(a),
                value::type_name(b)
            ));
        }
    };
    Ok(match op {
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Gt => ord == Ordering::Greater,
        BinOp::Le => ord != Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// Pebble `contains`: list membership (all elements for a list operand), map key, substring.
fn contains(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match a {
        Value::Null => false,
        Value::Array(items) => match b {
            Value::Array(wanted) => {
                // Linear, not quadratic, for long lists (see the list `-` above).
                let have: HashSet<&Value> = items.iter().collect();
                wanted.iter().all(|w| have.contains(w))
            }
            other => items.contains(other),
        },
        Value::Object(m) => match b {
            Value::String(k) => m.contains_key(k),
            _ => false,
        },
        Value::String(s) => s.contains(value::java_string(b).as_str()),
        other => {
            return Err(format!(
                "Contains operator can only be used on Collections, Maps and arrays. Actual type was: {}",
                value::type_name(other)
            ));
        }
    })
}

/// Kestra `isIn`: membership by `toString()`; a map matches a key or a value; null → false.
fn is_in(a: &Value, b: &Value) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    let needle = value::java_string(a);
    match b {
        Value::Array(items) => items.iter().any(|i| value::java_string(i) == needle),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| *k == needle || value::java_string(v) == needle),
        _ => false,
    }
}

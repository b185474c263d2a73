//! Parser: tokens → template nodes. Expressions follow Pebble's `ExpressionParser` exactly
//! (precedence climbing; unary operators bind at 500; the ternary is only recognised at the top
//! of an expression; the right side of `|` and `is` is a filter/test invocation).

use serde_json::Value;

use crate::ast::{ArgExprs, BinOp, Expr, ExprKind, FilterCall, Node, UnOp};
use crate::lexer::{SynErr, Tok, Token, tokenize};

/// Maximum nesting of tags, brackets and unary operators (parser recursion). Each level costs
/// several KB of stack in debug builds, so this stays well below what a 2 MB thread can hold.
pub(crate) const MAX_DEPTH: u32 = 50;
/// Maximum height of an expression tree (evaluation recursion), e.g. `a ~ b ~ c …` chains.
pub(crate) const MAX_HEIGHT: u32 = 150;

pub(crate) fn parse_template(src: &str) -> Result<Vec<Node>, SynErr> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    let (nodes, end) = p.body(&[])?;
    debug_assert!(end.is_none());
    Ok(nodes)
}

/// Parses a bare expression (no delimiters), e.g. a condition.
pub(crate) fn parse_expression(src: &str) -> Result<Expr, SynErr> {
    // Tokenize as the inside of a print tag so the expression lexer rules apply unchanged.
    let wrapped = format!("{{{{ {src}\n}}}}");
    let mut toks = tokenize(&wrapped)?;
    if toks.len() < 3 || toks[0].tok != Tok::PrintStart {
        return Err(SynErr::new("expected an expression", 0));
    }
    for t in &mut toks {
        t.pos = t.pos.saturating_sub(3).min(src.len());
    }
    let mut p = Parser {
        toks,
        i: 1,
        depth: 0,
    };
    let e = p.expression(0)?;
    match p.peek() {
        Tok::PrintEnd if matches!(p.toks.get(p.i + 1).map(|t| &t.tok), Some(Tok::Eof)) => Ok(e),
        _ => Err(p.unexpected("after the expression")),
    }
}

/// Parsed nodes and the end tag that stopped them (name, position), if any.
type Body = (Vec<Node>, Option<(String, usize)>);

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: u32,
}

fn binary_op(op: &str) -> Option<(u32, Option<BinOp>)> {
    // `None` marks `|`, `is` and `is not`, whose right side is special.
    Some(match op {
        "or" => (10, Some(BinOp::Or)),
        "and" => (15, Some(BinOp::And)),
        "is" | "is not" => (20, None),
        "contains" => (20, Some(BinOp::Contains)),
        "==" | "equals" => (30, Some(BinOp::Eq)),
        "!=" => (30, Some(BinOp::Ne)),
        "<" => (30, Some(BinOp::Lt)),
        ">" => (30, Some(BinOp::Gt)),
        "<=" => (30, Some(BinOp::Le)),
        ">=" => (30, Some(BinOp::Ge)),
        "+" => (40, Some(BinOp::Add)),
        "-" => (40, Some(BinOp::Sub)),
        "*" => (60, Some(BinOp::Mul)),
        "/" => (60, Some(BinOp::Div)),
        "%" => (60, Some(BinOp::Mod)),
        "|" => (100, None),
        "~" => (110, Some(BinOp::Concat)),
        ".." => (120, Some(BinOp::Range)),
        "??" => (120, Some(BinOp::NullCoalesce)),
        "???" => (120, Some(BinOp::UndefinedCoalesce)),
        "isIn" => (120, Some(BinOp::IsIn)),
        "isNotIn" => (120, Some(BinOp::IsNotIn)),
        _ => return None,
    })
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(_) => "text".into(),
        Tok::PrintStart => "`{{`".into(),
        Tok::PrintEnd => "`}}`".into(),
        Tok::ExecStart => "`{%`".into(),
        Tok::ExecEnd => "`%}`".into(),
        Tok::Name(n) => format!("name `{n}`"),
        Tok::Op(o) => format!("operator `{o}`"),
        Tok::Int(i) => format!("number `{i}`"),
        Tok::Float(f) => format!("number `{f}`"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::InterpStart | Tok::InterpEnd => "string".into(),
        Tok::InterpOpen => "`#{`".into(),
        Tok::InterpClose => "`}`".into(),
        Tok::Punct(c) => format!("`{c}`"),
        Tok::Eof => "end of template".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn unexpected(&self, context: &str) -> SynErr {
        SynErr::new(
            format!("unexpected {} {context}", describe(self.peek())),
            self.pos(),
        )
    }

    fn expect_punct(&mut self, c: char, context: &str) -> Result<(), SynErr> {
        if *self.peek() == Tok::Punct(c) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&format!("{context}: expected `{c}`")))
        }
    }

    fn expect_name(&mut self, context: &str) -> Result<String, SynErr> {
        match self.peek().clone() {
            Tok::Name(n) => {
                self.next();
                Ok(n)
            }
            _ => Err(self.unexpected(&format!("{context}: expected a name"))),
        }
    }

    fn expect_exec_end(&mut self, tag: &str) -> Result<(), SynErr> {
        if *self.peek() == Tok::ExecEnd {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&format!("in `{tag}` tag: expected `%}}`")))
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), SynErr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SynErr::new(
                format!("template is nested too deeply (more than {MAX_DEPTH} levels)"),
                pos,
            ));
        }
        Ok(())
    }

    fn mk(&self, kind: ExprKind, pos: usize) -> Result<Expr, SynErr> {
        let e = Expr::new(kind, pos);
        if e.height > MAX_HEIGHT {
            return Err(SynErr::new(
                format!("expression is too complex (tree deeper than {MAX_HEIGHT} levels)"),
                pos,
            ));
        }
        Ok(e)
    }

    /// Parses nodes until one of the `ends` tag names (returned with its position, the tag name
    /// consumed but not the rest of the tag) or the end of the template when `ends` is empty.
    fn body(&mut self, ends: &[&str]) -> Result<Body, SynErr> {
        let mut nodes = Vec::new();
        loop {
            let pos = self.pos();
            match self.next() {
                Tok::Eof => {
                    if ends.is_empty() {
                        return Ok((nodes, None));
                    }
                    return Err(SynErr::new(
                        format!(
                            "unexpected end of template: missing `{{% {} %}}`",
                            ends[ends.len() - 1]
                        ),
                        pos,
                    ));
                }
                Tok::Text(t) => nodes.push(Node::Text(t)),
                Tok::PrintStart => nodes.push(self.print(pos)?),
                Tok::ExecStart => {
                    let name_pos = self.pos();
                    let name = self.expect_name("at the start of a tag")?;
                    if ends.contains(&name.as_str()) {
                        return Ok((nodes, Some((name, name_pos))));
                    }
                    nodes.push(self.tag(&name, pos, name_pos)?);
                }
                other => {
                    return Err(SynErr::new(format!("unexpected {}", describe(&other)), pos));
                }
            }
        }
    }

    #[inline(never)]
    fn print(&mut self, pos: usize) -> Result<Node, SynErr> {
        if *self.peek() == Tok::PrintEnd {
            return Err(SynErr::new("empty expression in `{{ }}`", pos));
        }
        let e = self.expression(0)?;
        if *self.peek() != Tok::PrintEnd {
            return Err(self.unexpected("in expression: expected `}}`"));
        }
        self.next();
        Ok(Node::Print(e))
    }

    #[inline(never)]
    fn tag(&mut self, name: &str, pos: usize, name_pos: usize) -> Result<Node, SynErr> {
        self.enter(name_pos)?;
        let node = match name {
            "if" => self.if_tag()?,
            "for" => self.for_tag(pos)?,
            "set" => self.set_tag()?,
            "filter" => self.filter_tag()?,
            "block" => self.block_tag()?,
            other => {
                return Err(SynErr::new(
                    format!("Unexpected tag name [{other}]"),
                    name_pos,
                ));
            }
        };
        self.depth -= 1;
        Ok(node)
    }

    #[inline(never)]
    fn if_tag(&mut self) -> Result<Node, SynErr> {
        let mut branches = Vec::new();
        let mut cond = self.expression(0)?;
        self.expect_exec_end("if")?;
        loop {
            let (body, end) = self.body(&["elseif", "else", "endif"])?;
            branches.push((cond, body));
            let (end, _) = end.unwrap_or_default();
            match end.as_str() {
                "elseif" => {
                    cond = self.expression(0)?;
                    self.expect_exec_end("elseif")?;
                }
                "else" => {
                    self.expect_exec_end("else")?;
                    let (body, _) = self.body(&["endif"])?;
                    self.expect_exec_end("endif")?;
                    return Ok(Node::If {
                        branches,
                        otherwise: Some(body),
                    });
                }
                _ => {
                    self.expect_exec_end("endif")?;
                    return Ok(Node::If {
                        branches,
                        otherwise: None,
                    });
                }
            }
        }
    }

    fn for_tag(&mut self, pos: usize) -> Result<Node, SynErr> {
        let first = self.expect_name("in `for` tag")?;
        let (key, var) = if *self.peek() == Tok::Punct(',') {
            self.next();
            (Some(first), self.expect_name("in `for` tag")?)
        } else {
            (None, first)
        };
        match self.peek() {
            Tok::Name(n) if n == "in" => {
                self.next();
            }
            _ => return Err(self.unexpected("in `for` tag: expected `in`")),
        }
        let iter = self.expression(0)?;
        self.expect_exec_end("for")?;
        let (body, end) = self.body(&["else", "endfor"])?;
        let otherwise = if end.is_some_and(|(n, _)| n == "else") {
            self.expect_exec_end("else")?;
            let (b, _) = self.body(&["endfor"])?;
            Some(b)
        } else {
            None
        };
        self.expect_exec_end("endfor")?;
        Ok(Node::For {
            key,
            var,
            iter,
            body,
            otherwise,
            pos,
        })
    }

    fn set_tag(&mut self) -> Result<Node, SynErr> {
        let name = self.expect_name("in `set` tag")?;
        self.expect_punct('=', "in `set` tag")?;
        let value = self.expression(0)?;
        self.expect_exec_end("set")?;
        Ok(Node::Set { name, value })
    }

    fn filter_tag(&mut self) -> Result<Node, SynErr> {
        let mut filters = vec![self.filter_call()?];
        while *self.peek() == Tok::Op("|") {
            self.next();
            filters.push(self.filter_call()?);
        }
        self.expect_exec_end("filter")?;
        let (body, _) = self.body(&["endfilter"])?;
        self.expect_exec_end("endfilter")?;
        Ok(Node::FilterBlock { filters, body })
    }

    fn block_tag(&mut self) -> Result<Node, SynErr> {
        self.expect_name("in `block` tag")?;
        self.expect_exec_end("block")?;
        let (body, _) = self.body(&["endblock"])?;
        // `{% endblock name %}` is allowed.
        if let Tok::Name(_) = self.peek() {
            self.next();
        }
        self.expect_exec_end("endblock")?;
        Ok(Node::Block(body))
    }

    fn filter_call(&mut self) -> Result<FilterCall, SynErr> {
        let pos = self.pos();
        let name = self.expect_name("after `|`")?;
        let args = if *self.peek() == Tok::Punct('(') {
            self.arguments()?
        } else {
            ArgExprs::default()
        };
        Ok(FilterCall { name, args, pos })
    }

    pub(crate) fn expression(&mut self, min_prec: u32) -> Result<Expr, SynErr> {
        let start = self.pos();
        self.enter(start)?;
        let r = self.expression_inner(min_prec);
        self.depth -= 1;
        r
    }

    // The recursive descent goes through several small functions rather than one big one: in
    // debug builds a frame holds every temporary of its function, and nesting multiplies it.
    fn expression_inner(&mut self, min_prec: u32) -> Result<Expr, SynErr> {
        let left = self.operand()?;
        let left = self.binary_loop(left, min_prec)?;
        if min_prec == 0 && *self.peek() == Tok::Punct('?') {
            return self.ternary(left);
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, SynErr> {
        match self.peek() {
            Tok::Op("not" | "-" | "+") => self.unary(),
            Tok::Punct('(') => self.parenthesized(),
            _ => self.primary(),
        }
    }

    #[inline(never)]
    fn unary(&mut self) -> Result<Expr, SynErr> {
        let start = self.pos();
        let u = match self.next() {
            Tok::Op("not") => UnOp::Not,
            Tok::Op("-") => UnOp::Neg,
            _ => UnOp::Plus,
        };
        let operand = self.expression(500)?;
        self.mk(ExprKind::Unary(u, Box::new(operand)), start)
    }

    #[inline(never)]
    fn parenthesized(&mut self) -> Result<Expr, SynErr> {
        self.next();
        let inner = self.expression(0)?;
        self.expect_punct(')', "An opened parenthesis is not properly closed")?;
        self.postfix(inner)
    }

    #[inline(never)]
    fn binary_loop(&mut self, mut left: Expr, min_prec: u32) -> Result<Expr, SynErr> {
        while let Tok::Op(op) = *self.peek() {
            let Some((prec, bin)) = binary_op(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            let op_pos = self.pos();
            self.next();
            left = match (op, bin) {
                ("|", _) => {
                    let call = self.filter_call()?;
                    self.mk(ExprKind::Filter(Box::new(left), call), op_pos)?
                }
                (_, None) => {
                    let name = self.expect_name(&format!("after `{op}`"))?;
                    let args = if *self.peek() == Tok::Punct('(') {
                        self.arguments()?
                    } else {
                        ArgExprs::default()
                    };
                    self.mk(
                        ExprKind::Test {
                            input: Box::new(left),
                            name,
                            args,
                            negate: op == "is not",
                        },
                        op_pos,
                    )?
                }
                (_, Some(b)) => {
                    // All Pebble binary operators are left-associative.
                    let right = self.expression(prec + 1)?;
                    self.mk(ExprKind::Binary(b, Box::new(left), Box::new(right)), op_pos)?
                }
            };
        }
        Ok(left)
    }

    #[inline(never)]
    fn ternary(&mut self, cond: Expr) -> Result<Expr, SynErr> {
        let q = self.pos();
        self.next();
        let a = self.expression(0)?;
        self.expect_punct(':', "in ternary expression")?;
        let b = self.expression(0)?;
        self.mk(
            ExprKind::Ternary(Box::new(cond), Box::new(a), Box::new(b)),
            q,
        )
    }

    fn primary(&mut self) -> Result<Expr, SynErr> {
        let e = match self.peek() {
            Tok::Name(_) => self.name_expr()?,
            Tok::InterpStart => self.interpolation()?,
            Tok::Punct('[') => self.list_literal()?,
            Tok::Punct('{') => self.map_literal()?,
            _ => self.literal()?,
        };
        self.postfix(e)
    }

    #[inline(never)]
    fn literal(&mut self) -> Result<Expr, SynErr> {
        let pos = self.pos();
        let v = match self.peek() {
            Tok::Int(i) => Value::from(*i),
            Tok::Float(f) => crate::value::float_value(*f),
            Tok::Str(s) => Value::String(s.clone()),
            _ => return Err(self.unexpected("in expression")),
        };
        self.next();
        self.mk(ExprKind::Lit(v), pos)
    }

    #[inline(never)]
    fn name_expr(&mut self) -> Result<Expr, SynErr> {
        let pos = self.pos();
        let Tok::Name(name) = self.next() else {
            return Err(self.unexpected("in expression"));
        };
        let kind = match name.as_str() {
            "true" | "TRUE" => ExprKind::Lit(Value::Bool(true)),
            "false" | "FALSE" => ExprKind::Lit(Value::Bool(false)),
            "null" | "NULL" | "none" | "NONE" => ExprKind::Lit(Value::Null),
            _ if *self.peek() == Tok::Punct('(') => ExprKind::Call(name, self.arguments()?),
            _ => ExprKind::Var(name),
        };
        self.mk(kind, pos)
    }

    #[inline(never)]
    fn interpolation(&mut self) -> Result<Expr, SynErr> {
        let pos = self.pos();
        self.next();
        let mut parts = Vec::new();
        loop {
            let ppos = self.pos();
            match self.next() {
                Tok::Str(s) => parts.push(self.mk(ExprKind::Lit(Value::String(s)), ppos)?),
                Tok::InterpOpen => {
                    parts.push(self.expression(0)?);
                    if self.next() != Tok::InterpClose {
                        return Err(SynErr::new(
                            "unexpected token in `#{…}`: expected `}`",
                            self.pos(),
                        ));
                    }
                }
                Tok::InterpEnd => break,
                other => {
                    return Err(SynErr::new(
                        format!("unexpected {} in string", describe(&other)),
                        ppos,
                    ));
                }
            }
        }
        self.mk(ExprKind::Interp(parts), pos)
    }

    #[inline(never)]
    fn list_literal(&mut self) -> Result<Expr, SynErr> {
        let pos = self.pos();
        self.next();
        let mut items = Vec::new();
        if *self.peek() != Tok::Punct(']') {
            loop {
                items.push(self.expression(0)?);
                if *self.peek() == Tok::Punct(',') {
                    self.next();
                    continue;
                }
                break;
            }
        }
        self.expect_punct(']', "in list literal")?;
        self.mk(ExprKind::List(items), pos)
    }

    #[inline(never)]
    fn map_literal(&mut self) -> Result<Expr, SynErr> {
        let pos = self.pos();
        self.next();
        let mut pairs = Vec::new();
        if *self.peek() != Tok::Punct('}') {
            loop {
                let k = self.expression(0)?;
                self.expect_punct(':', "in map literal")?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if *self.peek() == Tok::Punct(',') {
                    self.next();
                    continue;
                }
                break;
            }
        }
        self.expect_punct('}', "in map literal")?;
        self.mk(ExprKind::Map(pairs), pos)
    }

    fn postfix(&mut self, mut e: Expr) -> Result<Expr, SynErr> {
        loop {
            let pos = self.pos();
            match self.peek() {
                Tok::Punct('.') => {
                    self.next();
                    let name = match self.next() {
                        Tok::Name(n) => n,
                        Tok::Int(i) => i.to_string(),
                        // Pebble's own quirk: `a.0.1` lexes `0.1` as a number.
                        Tok::Float(_) => {
                            return Err(SynErr::new("unexpected number after `.`", pos + 1));
                        }
                        Tok::Op(op) if op.chars().all(|c| c.is_ascii_alphabetic()) => {
                            op.to_string()
                        }
                        other => {
                            return Err(SynErr::new(
                                format!(
                                    "unexpected {} after `.`: expected a name",
                                    describe(&other)
                                ),
                                pos + 1,
                            ));
                        }
                    };
                    e = if *self.peek() == Tok::Punct('(') {
                        let args = self.arguments()?;
                        self.mk(ExprKind::Method(Box::new(e), name, args), pos)?
                    } else {
                        self.mk(ExprKind::Attr(Box::new(e), name), pos)?
                    };
                }
                Tok::Punct('[') => {
                    self.next();
                    let idx = self.expression(0)?;
                    self.expect_punct(']', "in subscript")?;
                    e = self.mk(ExprKind::Index(Box::new(e), Box::new(idx)), pos)?;
                }
                _ => return Ok(e),
            }
        }
    }

    fn arguments(&mut self) -> Result<ArgExprs, SynErr> {
        self.expect_punct('(', "in arguments")?;
        let mut args = ArgExprs::default();
        if *self.peek() == Tok::Punct(')') {
            self.next();
            return Ok(args);
        }
        loop {
            let named = match (self.peek(), self.toks.get(self.i + 1).map(|t| &t.tok)) {
                (Tok::Name(n), Some(Tok::Punct('='))) => Some(n.clone()),
                _ => None,
            };
            if let Some(name) = named {
                self.next();
                self.next();
                args.named.push((name, self.expression(0)?));
            } else {
                if !args.named.is_empty() {
                    return Err(SynErr::new(
                        "positional arguments must come before named arguments",
                        self.pos(),
                    ));
                }
                args.positional.push(self.expression(0)?);
            }
            match self.next() {
                Tok::Punct(',') => continue,
                Tok::Punct(')') => return Ok(args),
                other => {
                    return Err(SynErr::new(
                        format!(
                            "unexpected {} in arguments: expected `,` or `)`",
                            describe(&other)
                        ),
                        self.pos(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        parse_expression(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    /// A compact rendering of the tree to assert on precedence.
    fn sexp(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Lit(v) => v.to_string(),
            ExprKind::Var(n) => n.clone(),
            ExprKind::Attr(a, n) => format!("{}.{n}", sexp(a)),
            ExprKind::Index(a, i) => format!("{}[{}]", sexp(a), sexp(i)),
            ExprKind::Unary(op, a) => format!("({op:?} {})", sexp(a)),
            ExprKind::Binary(op, a, b) => format!("({op:?} {} {})", sexp(a), sexp(b)),
            ExprKind::Filter(a, f) => format!("({} | {})", sexp(a), f.name),
            ExprKind::Test {
                input,
                name,
                negate,
                ..
            } => format!(
                "({} is{} {name})",
                sexp(input),
                if *negate { " not" } else { "" }
            ),
            ExprKind::Ternary(a, b, c) => format!("({} ? {} : {})", sexp(a), sexp(b), sexp(c)),
            ExprKind::Call(n, a) => format!("{n}({})", a.positional.len() + a.named.len()),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn precedence() {
        let cases = [
            ("1 + 2 * 3", "(Add 1 (Mul 2 3))"),
            ("1 - 2 - 3", "(Sub (Sub 1 2) 3)"),
            ("a or b and c", "(Or a (And b c))"),
            ("not a == b", "(Eq (Not a) b)"),
            ("-x | abs", "((Neg x) | abs)"),
            ("'a' ~ 'b' | upper", "((Concat \"a\" \"b\") | upper)"),
            ("a ?? b | upper", "((NullCoalesce a b) | upper)"),
            ("a + b ?? c", "(Add a (NullCoalesce b c))"),
            (
                "x | length > 0 ? 'y' : 'n'",
                "((Gt (x | length) 0) ? \"y\" : \"n\")",
            ),
            ("a is not null and b", "(And (a is not null) b)"),
            ("1..3 contains 2", "(Contains (Range 1 3) 2)"),
            ("a.b[0]['c']", "a.b[0][\"c\"]"),
            ("a ? b ? 1 : 2 : 3", "(a ? (b ? 1 : 2) : 3)"),
            ("f(1, x=2).y", "f(2).y"),
            ("x isIn ['a'] or y", "(Or (IsIn x List"),
        ];
        for (src, want) in cases {
            let got = sexp(&expr(src));
            assert!(
                got.starts_with(want) || got.contains(want),
                "{src}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn template_tags() {
        let nodes = parse_template("{% if a %}x{% elseif b %}y{% else %}z{% endif %}").unwrap();
        assert!(
            matches!(&nodes[0], Node::If { branches, otherwise: Some(_) } if branches.len() == 2)
        );
        let nodes = parse_template("{% for k, v in m %}{{ k }}{% else %}none{% endfor %}").unwrap();
        assert!(matches!(&nodes[0], Node::For { key: Some(k), var, .. } if k == "k" && var == "v"));
        assert!(matches!(
            &parse_template("{% set x = 1 %}").unwrap()[0],
            Node::Set { .. }
        ));
    }

    #[test]
    fn syntax_errors() {
        for src in [
            "{{ }}",
            "{{ 1 + }}",
            "{% if x %}",
            "{% for x in %}{% endfor %}",
            "{% endif %}",
            "{% foo %}",
            "{{ a. }}",
            "{{ f(a=1, 2) }}",
            "{{ x | }}",
            "{{ a ? b }}",
            "{% set = 1 %}",
            "{{ [1, 2 }}",
            "{% else %}",
        ] {
            assert!(parse_template(src).is_err(), "{src} should fail");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_template(&deep).is_err());
        let deep = format!("{{{{ {}1{} }}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_template(&deep).is_err());
        let long_chain = format!("{{{{ 1{} }}}}", " + 1".repeat(10_000));
        assert!(parse_template(&long_chain).is_err());
        let nested_ifs = format!(
            "{}x{}",
            "{% if true %}".repeat(5_000),
            "{% endif %}".repeat(5_000)
        );
        assert!(parse_template(&nested_ifs).is_err());
        let minus = format!("{{{{ {}1 }}}}", "-".repeat(10_000));
        assert!(parse_template(&minus).is_err());
    }
}

#[cfg(test)]
mod stack_tests {
    /// Templates at the nesting limits must parse and render within a 1 MB thread stack even in
    /// debug builds (tokio workers have 2 MB): guards against frames growing unnoticed.
    #[test]
    fn deep_templates_fit_in_a_small_stack() {
        type Shape = (&'static str, fn(usize) -> String, usize);
        let shapes: [Shape; 7] = [
            (
                "paren",
                |n| format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
                super::MAX_DEPTH as usize - 2,
            ),
            (
                "list",
                |n| format!("{{{{ {}1{} }}}}", "[".repeat(n), "]".repeat(n)),
                super::MAX_DEPTH as usize - 2,
            ),
            (
                "if",
                |n| format!("{}x{}", "{% if true %}".repeat(n), "{% endif %}".repeat(n)),
                super::MAX_DEPTH as usize - 2,
            ),
            (
                "for",
                |n| {
                    format!(
                        "{}x{}",
                        "{% for i in [1] %}".repeat(n),
                        "{% endfor %}".repeat(n)
                    )
                },
                super::MAX_DEPTH as usize - 2,
            ),
            (
                "minus",
                |n| format!("{{{{ {}1 }}}}", "-".repeat(n)),
                super::MAX_DEPTH as usize - 2,
            ),
            (
                "chain",
                |n| format!("{{{{ 1{} }}}}", " ~ 1".repeat(n)),
                super::MAX_HEIGHT as usize - 2,
            ),
            (
                "filters",
                |n| format!("{{{{ 1{} }}}}", " | abs".repeat(n)),
                super::MAX_HEIGHT as usize - 2,
            ),
        ];
        for (label, make, n) in shapes {
            let src = make(n);
            let rendered = std::thread::Builder::new()
                .stack_size(1024 * 1024)
                .spawn(move || {
                    let mut e = crate::Engine::new();
                    e.register_filter("abs", |_, v, _| Ok(v.clone()));
                    e.render(&src, &serde_json::json!({}), &crate::NoServices)
                        .map(|s| s.len())
                })
                .expect("thread starts")
                .join();
            assert!(matches!(rendered, Ok(Ok(_))), "{label} x{n}: {rendered:?}");
        }
    }
}

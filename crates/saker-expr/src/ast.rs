//! Template and expression trees. Positions are byte offsets into the template source.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Print(Expr),
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Option<Vec<Node>>,
    },
    For {
        key: Option<String>,
        var: String,
        iter: Expr,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
        pos: usize,
    },
    Set {
        name: String,
        value: Expr,
    },
    /// `{% filter f | g(x) %}…{% endfilter %}`: the rendered body goes through the filters.
    FilterBlock {
        filters: Vec<FilterCall>,
        body: Vec<Node>,
    },
    /// `{% block name %}…{% endblock %}`: without inheritance a block just renders its body.
    Block(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FilterCall {
    pub name: String,
    pub args: ArgExprs,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ArgExprs {
    pub positional: Vec<Expr>,
    pub named: Vec<(String, Expr)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: usize,
    /// Height of the tree below (and including) this node: bounded so evaluation cannot
    /// overflow the stack.
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Contains,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Range,
    NullCoalesce,
    UndefinedCoalesce,
    IsIn,
    IsNotIn,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Lit(Value),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Var(String),
    /// `a.b` (also `a.0`): the name is looked up as a key, or an index for lists.
    Attr(Box<Expr>, String),
    /// `a[expr]`.
    Index(Box<Expr>, Box<Expr>),
    /// `a.b(args)`: Java method calls are not available on JSON values (evaluation error).
    Method(Box<Expr>, String, ArgExprs),
    Call(String, ArgExprs),
    Filter(Box<Expr>, FilterCall),
    Test {
        input: Box<Expr>,
        name: String,
        args: ArgExprs,
        negate: bool,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A double-quoted string with `#{…}` parts, concatenated like `~`.
    Interp(Vec<Expr>),
}

impl ExprKind {
    fn children_height(&self) -> u32 {
        fn args(a: &ArgExprs) -> u32 {
            a.positional
                .iter()
                .map(|e| e.height)
                .chain(a.named.iter().map(|(_, e)| e.height))
                .max()
                .unwrap_or(0)
        }
        match self {
            ExprKind::Lit(_) | ExprKind::Var(_) => 0,
            ExprKind::List(items) | ExprKind::Interp(items) => {
                items.iter().map(|e| e.height).max().unwrap_or(0)
            }
            ExprKind::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| k.height.max(v.height))
                .max()
                .unwrap_or(0),
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) => e.height,
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => a.height.max(b.height),
            ExprKind::Method(e, _, a) => e.height.max(args(a)),
            ExprKind::Call(_, a) => args(a),
            ExprKind::Filter(e, f) => e.height.max(args(&f.args)),
            ExprKind::Test { input, args: a, .. } => input.height.max(args(a)),
            ExprKind::Ternary(a, b, c) => a.height.max(b.height).max(c.height),
        }
    }
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, pos: usize) -> Expr {
        let height = kind.children_height() + 1;
        Expr { kind, pos, height }
    }
}

//! Loading YAML (and JSON, which the same parser reads) into a [`Node`] tree that keeps the
//! line:column of every node and every mapping key.
//!
//! We walk the granit-parser event stream (re-exported by serde-saphyr) ourselves instead of
//! deserializing through serde: validation must report *all* problems with positions, and the
//! typed model is built by hand from the tree. The walk is iterative (explicit stack), so nesting
//! depth is bounded only by [`LoadOptions::max_depth`], never by the thread stack.
//!
//! Scalars are typed like Kestra's Jackson YAML parser (YAML 1.2 core schema): only
//! `true`/`false` are booleans (`yes`, `on`, `off` stay strings), `null`/`~`/empty are null.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Options, Parser, ScalarStyle, Span};

/// A 1-based position in the source text (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, serde::Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line() as u32,
            column: span.start.col() as u32 + 1,
        }
    }
}

/// One value of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry: the key as written (scalars only) with its own position.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// How a string scalar was written; used to map positions inside it (expressions) back to the
/// file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    #[default]
    Plain,
    Quoted,
    /// `|` or `>` block scalar: the text starts on the next line.
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub pos: Pos,
    pub style: Style,
}

impl Node {
    pub fn new(value: NodeValue, pos: Pos) -> Node {
        Node {
            value,
            pos,
            style: Style::Plain,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// What the value is, for messages ("a string", "a list"...).
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    /// Scalars as the text Kestra would see for a `String` property.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Bool(b) => Some(b.to_string()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(Value::from(*f).to_string()),
            _ => None,
        }
    }

    /// The plain JSON value (positions dropped).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::Number((*i).into()),
            NodeValue::Float(f) => Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// A node built from a JSON value, every part placed at `pos`.
    pub fn from_json(value: &Value, pos: Pos) -> Node {
        let v = match value {
            Value::Null => NodeValue::Null,
            Value::Bool(b) => NodeValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => NodeValue::Int(i),
                None => NodeValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => NodeValue::Str(s.clone()),
            Value::Array(a) => NodeValue::Seq(a.iter().map(|v| Node::from_json(v, pos)).collect()),
            Value::Object(m) => NodeValue::Map(
                m.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_pos: pos,
                        value: Node::from_json(v, pos),
                    })
                    .collect(),
            ),
        };
        Node::new(v, pos)
    }

    /// The node at a flow path (`tasks[2].then[0].type`, `cases['a.b']`) below this one, and
    /// the position to point at (a mapping entry's key, a list item's start).
    pub fn locate(&self, path: &str) -> Option<Pos> {
        let mut node = self;
        let mut pos = self.pos;
        for seg in parse_path(path)? {
            match seg {
                PathSeg::Key(k) => {
                    let e = node.entry(&k)?;
                    pos = e.key_pos;
                    node = &e.value;
                }
                PathSeg::Index(i) => {
                    node = node.as_seq()?.get(i)?;
                    pos = node.pos;
                }
            }
        }
        Some(pos)
    }

    /// Like [`Node::locate`] but falls back to the deepest existing ancestor.
    pub fn locate_nearest(&self, path: &str) -> Pos {
        let Some(segs) = parse_path(path) else {
            return self.pos;
        };
        let mut node = self;
        let mut pos = self.pos;
        for seg in segs {
            match seg {
                PathSeg::Key(k) => match node.entry(&k) {
                    Some(e) => {
                        pos = e.key_pos;
                        node = &e.value;
                    }
                    None => break,
                },
                PathSeg::Index(i) => match node.as_seq().and_then(|s| s.get(i)) {
                    Some(n) => {
                        pos = n.pos;
                        node = n;
                    }
                    None => break,
                },
            }
        }
        pos
    }
}

enum PathSeg {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2]['c.d'].e` into segments; `None` when malformed.
fn parse_path(path: &str) -> Option<Vec<PathSeg>> {
    let mut segs = Vec::new();
    let mut chars = path.char_indices().peekable();
    let mut cur = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    segs.push(PathSeg::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    segs.push(PathSeg::Key(std::mem::take(&mut cur)));
                }
                let mut inner = String::new();
                let mut closed = false;
                let quoted = matches!(chars.peek(), Some((_, '\'' | '"')));
                if quoted {
                    let (_, q) = chars.next()?;
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed || chars.next().map(|(_, c)| c) != Some(']') {
                        return None;
                    }
                    segs.push(PathSeg::Key(inner));
                } else {
                    for (_, c) in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return None;
                    }
                    segs.push(PathSeg::Index(inner.parse().ok()?));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        segs.push(PathSeg::Key(cur));
    }
    Some(segs)
}

/// Appends a map key to a path, with the bracket form when the key would be ambiguous.
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && !key.contains(['.', '[', ']', '\'', '"']);
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}['{key}']"),
    }
}

pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Joins a relative path (`headers.accept`, `[2]`, empty) to a base path.
pub fn join_path(base: &str, rel: &str) -> String {
    if rel.is_empty() {
        base.to_string()
    } else if base.is_empty() {
        rel.trim_start_matches('.').to_string()
    } else if rel.starts_with('[') {
        format!("{base}{rel}")
    } else {
        format!("{base}.{}", rel.trim_start_matches('.'))
    }
}

/// Limits that keep hostile documents from exhausting memory or time.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Maximum source size in bytes.
    pub max_bytes: usize,
    /// Maximum nesting of sequences/mappings.
    pub max_depth: usize,
    /// Maximum number of nodes, alias expansions included.
    pub max_nodes: usize,
    /// Maximum number of nodes produced by alias expansion (billion-laughs guard).
    pub max_alias_nodes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_bytes: 32 * 1024 * 1024,
            max_depth: 256,
            max_nodes: 4_000_000,
            max_alias_nodes: 200_000,
        }
    }
}

/// Why the source could not be loaded (or a structural problem found while loading, like a
/// duplicate key; those do not stop loading).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub code: &'static str,
    pub pos: Pos,
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

/// One document of a (possibly multi-document) source.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
    /// Non-fatal problems (duplicate keys, non-scalar keys).
    pub errors: Vec<LoadError>,
    /// The document's own text (for multi-document sources, the part between `---`).
    pub start_line: u32,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        path: String,
        size: usize,
        depth: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        index: HashMap<String, usize>,
        key: Option<(String, Pos)>,
        merges: Vec<Node>,
        path: String,
        size: usize,
        depth: usize,
    },
}

impl Frame {
    fn child_path(&self) -> String {
        match self {
            Frame::Seq { items, path, .. } => join_index(path, items.len()),
            Frame::Map {
                key: Some((k, _)),
                path,
                ..
            } => join_key(path, k),
            Frame::Map { path, .. } => path.clone(),
        }
    }
}

/// Checks the bytes are UTF-8, pointing at the first bad byte otherwise.
pub fn check_utf8(bytes: &[u8]) -> Result<&str, LoadError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // The valid prefix is UTF-8 by construction.
        let text = std::str::from_utf8(good).unwrap_or_default();
        let line = text.matches('\n').count() as u32 + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        LoadError {
            code: crate::diag::codes::INVALID_UTF8,
            pos: Pos { line, column },
            path: String::new(),
            message: format!("invalid UTF-8 (byte offset {})", e.valid_up_to()),
            help: Some("flow files must be UTF-8 encoded".into()),
        }
    })
}

/// Loads every document of `source`. A fatal error (syntax, limits) stops loading and is the
/// `Err`; non-fatal ones are in each [`Document::errors`].
pub fn load(source: &str, opts: &LoadOptions) -> Result<Vec<Document>, LoadError> {
    let fatal = |pos: Pos, code: &'static str, message: String, help: Option<String>| LoadError {
        code,
        pos,
        path: String::new(),
        message,
        help,
    };
    if source.len() > opts.max_bytes {
        return Err(fatal(
            Pos { line: 1, column: 1 },
            crate::diag::codes::TOO_LARGE,
            format!(
                "the document is {} bytes, more than the limit of {} bytes",
                source.len(),
                opts.max_bytes
            ),
            None,
        ));
    }
    let mut popts = Options::default();
    popts.block_nesting_limit = opts.max_depth;
    popts.flow_nesting_limit = opts.max_depth;
    popts.set_emit_comments(false);
    let parser = Parser::new_from_str_with_options(source, popts);

    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize, usize)> = HashMap::new();
    let mut errors: Vec<LoadError> = Vec::new();
    let mut root: Option<Node> = None;
    let mut doc_line = 1u32;
    let mut nodes = 0usize;
    let mut alias_nodes = 0usize;

    for item in parser {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            fatal(
                Pos {
                    line: m.line() as u32,
                    column: m.col() as u32 + 1,
                },
                crate::diag::codes::YAML_SYNTAX,
                format!("invalid YAML: {}", e.info()),
                None,
            )
        })?;
        let pos = Pos::from_span(&span);
        // A finished node, with its anchor id, subtree size and depth.
        let done: Option<(Node, usize, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd => None,
            // Comments, anchor metadata and future presentation events carry no data.
            Event::Comment(..) | Event::Anchor(..) => None,
            Event::DocumentStart(..) => {
                doc_line = pos.line;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                let node = root
                    .take()
                    .unwrap_or_else(|| Node::new(NodeValue::Null, pos));
                docs.push(Document {
                    root: node,
                    errors: std::mem::take(&mut errors),
                    start_line: doc_line,
                });
                None
            }
            Event::UnresolvedAlias(name) => {
                return Err(fatal(
                    pos,
                    crate::diag::codes::YAML_SYNTAX,
                    format!("unknown alias *{name}"),
                    None,
                ));
            }
            Event::Alias(id) => {
                let Some((node, size, depth)) = anchors.get(&id) else {
                    return Err(fatal(
                        pos,
                        crate::diag::codes::YAML_SYNTAX,
                        "unknown alias".into(),
                        None,
                    ));
                };
                alias_nodes += size;
                if alias_nodes > opts.max_alias_nodes {
                    return Err(fatal(
                        pos,
                        crate::diag::codes::LIMIT,
                        format!(
                            "aliases expand to more than {} nodes (alias bomb?)",
                            opts.max_alias_nodes
                        ),
                        None,
                    ));
                }
                if stack.len() + depth > opts.max_depth {
                    return Err(fatal(
                        pos,
                        crate::diag::codes::LIMIT,
                        format!("the document nests deeper than {} levels", opts.max_depth),
                        None,
                    ));
                }
                let mut n = node.clone();
                n.pos = pos;
                Some((n, 0, *size, *depth))
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let (value, st) = match style {
                    ScalarStyle::Plain if !forced_str => (resolve_plain(&text), Style::Plain),
                    ScalarStyle::Plain => (NodeValue::Str(text.into_owned()), Style::Plain),
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        (NodeValue::Str(text.into_owned()), Style::Quoted)
                    }
                    _ => (NodeValue::Str(text.into_owned()), Style::Block),
                };
                Some((
                    Node {
                        value,
                        pos,
                        style: st,
                    },
                    anchor,
                    1,
                    0,
                ))
            }
            Event::SequenceStart(_, anchor, _) => {
                let path = stack.last().map(Frame::child_path).unwrap_or_default();
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                    path,
                    size: 1,
                    depth: 0,
                });
                check_depth(&stack, opts, pos)?;
                None
            }
            Event::MappingStart(_, anchor, _) => {
                let path = stack.last().map(Frame::child_path).unwrap_or_default();
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    index: HashMap::new(),
                    key: None,
                    merges: Vec::new(),
                    path,
                    size: 1,
                    depth: 0,
                });
                check_depth(&stack, opts, pos)?;
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    pos,
                    anchor,
                    items,
                    size,
                    depth,
                    ..
                }) => Some((
                    Node::new(NodeValue::Seq(items), pos),
                    anchor,
                    size,
                    depth + 1,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    mut entries,
                    merges,
                    size,
                    depth,
                    ..
                }) => {
                    apply_merges(&mut entries, merges);
                    Some((
                        Node::new(NodeValue::Map(entries), pos),
                        anchor,
                        size,
                        depth + 1,
                    ))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((node, anchor, size, depth)) = done else {
            continue;
        };
        nodes += size;
        if nodes > opts.max_nodes {
            return Err(fatal(
                pos,
                crate::diag::codes::LIMIT,
                format!("the document has more than {} nodes", opts.max_nodes),
                None,
            ));
        }
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), size, depth));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq {
                items,
                size: s,
                depth: d,
                ..
            }) => {
                *s += size;
                *d = (*d).max(depth);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                index,
                key,
                merges,
                path,
                size: s,
                depth: d,
                ..
            }) => {
                *s += size;
                *d = (*d).max(depth);
                match key.take() {
                    None => match node.scalar_text().or(node.is_null().then(String::new)) {
                        Some(k) => *key = Some((k, node.pos)),
                        None => {
                            errors.push(LoadError {
                                code: crate::diag::codes::YAML_SYNTAX,
                                pos: node.pos,
                                path: path.clone(),
                                message: format!(
                                    "mapping keys must be scalars, found {}",
                                    node.kind_name()
                                ),
                                help: None,
                            });
                            // Keep the structure going with a placeholder key.
                            *key = Some((String::from("?"), node.pos));
                        }
                    },
                    Some((k, kpos))
                        if k == "<<"
                            && node.style == Style::Plain
                            && !matches!(node.value, NodeValue::Str(_)) =>
                    {
                        let _ = kpos;
                        merges.push(node);
                    }
                    Some((k, kpos)) => {
                        if let Some(&first) = index.get(&k) {
                            let first_line = entries[first].key_pos.line;
                            let full = join_key(path, &k);
                            let shown = if path.is_empty() {
                                k.clone()
                            } else {
                                full.clone()
                            };
                            errors.push(LoadError {
                                code: crate::diag::codes::DUPLICATE_KEY,
                                pos: kpos,
                                path: full,
                                message: format!("Duplicate field '{}'", shown_key(&shown)),
                                help: Some(format!(
                                    "`{k}` is already defined at line {first_line}"
                                )),
                            });
                            // Last occurrence wins, as with Jackson's non-strict mode.
                            entries[first] = Entry {
                                key: k,
                                key_pos: kpos,
                                value: node,
                            };
                        } else {
                            index.insert(k.clone(), entries.len());
                            entries.push(Entry {
                                key: k,
                                key_pos: kpos,
                                value: node,
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(docs)
}

/// Kestra names a duplicate by its key relative to the enclosing plugin property
/// (`variables.tf` for `data: {variables.tf: ..}`), i.e. the last key as written.
fn shown_key(path: &str) -> String {
    if let Some(start) = path.rfind("['") {
        return path[start + 2..path.len().saturating_sub(2)].to_string();
    }
    path.rsplit('.').next().unwrap_or(path).to_string()
}

fn check_depth(stack: &[Frame], opts: &LoadOptions, pos: Pos) -> Result<(), LoadError> {
    if stack.len() > opts.max_depth {
        return Err(LoadError {
            code: crate::diag::codes::LIMIT,
            pos,
            path: String::new(),
            message: format!("the document nests deeper than {} levels", opts.max_depth),
            help: None,
        });
    }
    Ok(())
}

/// YAML merge keys (`<<: *base`): entries written in the mapping win over merged ones.
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>) {
    for m in merges {
        let sources: Vec<Node> = match m.value {
            NodeValue::Map(_) => vec![m],
            NodeValue::Seq(items) => items,
            _ => Vec::new(),
        };
        for src in sources {
            if let NodeValue::Map(src_entries) = src.value {
                for e in src_entries {
                    if !entries.iter().any(|x| x.key == e.key) {
                        entries.push(e);
                    }
                }
            }
        }
    }
}

/// Types a plain scalar like Jackson's YAML parser (YAML 1.2 core schema).
fn resolve_plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        _ => {}
    }
    let bytes = text.as_bytes();
    let (sign, digits) = match bytes[0] {
        b'-' | b'+' => (&text[..1], &text[1..]),
        _ => ("", text),
    };
    if digits.is_empty() {
        return NodeValue::Str(text.to_string());
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        // Leading zeros ("017") stay strings: ids and codes, never octal surprises.
        if digits.len() > 1 && digits.starts_with('0') {
            return NodeValue::Str(text.to_string());
        }
        return match text.parse::<i64>() {
            Ok(i) => NodeValue::Int(i),
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => NodeValue::Float(f),
                _ => NodeValue::Str(text.to_string()),
            },
        };
    }
    if let Some(hex) = digits.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return NodeValue::Int(if sign == "-" { -i } else { i });
    }
    if let Some(oct) = digits.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return NodeValue::Int(if sign == "-" { -i } else { i });
    }
    if is_float(digits)
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return NodeValue::Float(f);
    }
    NodeValue::Str(text.to_string())
}

/// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?` or `\.[0-9]+(...)`.
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Document {
        let mut docs = load(src, &LoadOptions::default()).expect("loads");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn scalars_are_typed_like_jackson() {
        let d =
            one("a: yes\nb: on\nc: true\nd: 12\ne: 1.5\nf: ~\ng: '12'\nh: 017\ni: 1e3\nj: -4\n");
        let v = d.root.to_json();
        assert_eq!(
            v,
            serde_json::json!({"a":"yes","b":"on","c":true,"d":12,"e":1.5,"f":null,"g":"12","h":"017","i":1000.0,"j":-4})
        );
    }

    #[test]
    fn positions_of_keys_and_items() {
        let d = one("id: x\ntasks:\n  - id: a\n    then:\n      - type: T\n");
        assert_eq!(
            d.root.locate("tasks[0].then[0].type"),
            Some(Pos { line: 5, column: 9 })
        );
        assert_eq!(d.root.locate("tasks[0]"), Some(Pos { line: 3, column: 5 }));
        assert_eq!(d.root.locate("tasks[1]"), None);
        assert_eq!(
            d.root.locate_nearest("tasks[0].nope"),
            Pos { line: 3, column: 5 }
        );
    }

    #[test]
    fn bracket_paths() {
        let d = one("cases:\n  'a.b':\n    - id: x\n");
        assert_eq!(
            d.root.locate("cases['a.b'][0].id"),
            Some(Pos { line: 3, column: 7 })
        );
        assert_eq!(join_key("cases", "a.b"), "cases['a.b']");
    }

    #[test]
    fn duplicate_keys_are_reported_with_position() {
        let d = one("a: 1\nb:\n  x.y: 1\n  x.y: 2\n");
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].message, "Duplicate field 'x.y'");
        assert_eq!(d.errors[0].pos, Pos { line: 4, column: 3 });
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = load(&src, &LoadOptions::default()).unwrap_err();
        assert!(
            err.message.contains("nest") || err.message.contains("invalid YAML"),
            "{}",
            err.message
        );
        let block: String = (0..10_000)
            .map(|i| format!("{}- \n", " ".repeat(i * 2)))
            .collect();
        assert!(load(&block, &LoadOptions::default()).is_err());
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            src.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = load(&src, &LoadOptions::default()).unwrap_err();
        assert!(err.message.contains("alias"), "{}", err.message);
    }

    #[test]
    fn aliases_and_merge_keys() {
        let d = one("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n");
        assert_eq!(
            d.root.get("c").unwrap().to_json(),
            serde_json::json!({"y":3,"x":1})
        );
    }

    #[test]
    fn size_limit() {
        let opts = LoadOptions {
            max_bytes: 10,
            ..LoadOptions::default()
        };
        assert!(
            load("a: 12345678901", &opts)
                .unwrap_err()
                .message
                .contains("limit")
        );
    }

    #[test]
    fn invalid_utf8_points_at_the_byte() {
        let err = check_utf8(b"id: a\nx: \xff\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, column: 4 });
    }

    #[test]
    fn multi_documents_and_json() {
        let docs = load("a: 1\n---\nb: 2\n", &LoadOptions::default()).unwrap();
        assert_eq!(docs.len(), 2);
        let d = one("{\"id\": \"x\", \"n\": [1, 2.5, null, true]}");
        assert_eq!(
            d.root.to_json(),
            serde_json::json!({"id":"x","n":[1,2.5,null,true]})
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load("a: [1, 2\nb: 3\n", &LoadOptions::default()).unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(err.message.starts_with("invalid YAML"));
    }
}

//! Tokenizer mirroring Pebble's `LexerImpl`: text/tag scanning with whitespace control, Kestra's
//! `{% raw %}` (and Pebble's `{% verbatim %}`), comments, and expression tokens. Operators are
//! matched before names (longest first; word operators need a non-identifier char after them),
//! and a closing delimiter only counts outside brackets, like Pebble.

/// A syntax error at a byte offset of the template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SynErr {
    pub msg: String,
    pub pos: usize,
}

impl SynErr {
    pub(crate) fn new(msg: impl Into<String>, pos: usize) -> Self {
        SynErr {
            msg: msg.into(),
            pos,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    PrintStart,
    PrintEnd,
    ExecStart,
    ExecEnd,
    Name(String),
    Op(&'static str),
    Int(i64),
    Float(f64),
    Str(String),
    /// Start/end of a double-quoted string containing `#{…}` interpolations.
    InterpStart,
    InterpEnd,
    /// `#{` and its closing `}` inside an interpolated string.
    InterpOpen,
    InterpClose,
    Punct(char),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Binary and unary operator symbols, longest first (Pebble sorts them the same way).
const OPERATORS: &[&str] = &[
    "contains", "isNotIn", "is not", "equals", "isIn", "???", "and", "not", "or", "is", "==", "!=",
    ">=", "<=", "..", "??", "+", "-", "*", "/", "%", "|", "~", "<", ">",
];

const PUNCTUATION: &str = "()[]{}?:.,|=";

#[derive(Clone, Copy, PartialEq)]
enum Closer {
    Print,
    Exec,
    Interp,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
    trim_next: bool,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SynErr> {
    let mut lx = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
        trim_next: false,
    };
    lx.run()?;
    lx.toks.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(lx.toks)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Offset of the next `{{`, `{%` or `{#` in `s`.
fn find_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(off) = s[i..].find('{') {
        let j = i + off;
        if matches!(b.get(j + 1), Some(b'{' | b'%' | b'#')) {
            return Some(j);
        }
        i = j + 1;
    }
    None
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.toks.push(Token { tok, pos });
    }

    fn push_text(&mut self, text: &str, pos: usize) {
        let mut text = text;
        if self.trim_next {
            text = text.trim_start();
            self.trim_next = false;
        }
        if !text.is_empty() {
            self.push(Tok::Text(text.to_string()), pos);
        }
    }

    fn run(&mut self) -> Result<(), SynErr> {
        while self.pos < self.src.len() {
            let rest = self.rest();
            let Some(i) = find_start(rest) else {
                let start = self.pos;
                self.push_text(rest, start);
                self.pos = self.src.len();
                break;
            };
            let text_pos = self.pos;
            let delim = self.pos + i;
            let kind = rest.as_bytes()[i + 1];
            let mut after = delim + 2;
            let mut text = &rest[..i];
            if self.trim_next {
                text = text.trim_start();
                self.trim_next = false;
            }
            if self.src[after..].starts_with('-') {
                text = text.trim_end();
                after += 1;
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_string()), text_pos);
            }
            self.pos = after;
            match kind {
                b'#' => self.comment(delim)?,
                b'{' => {
                    self.push(Tok::PrintStart, delim);
                    let close = self.expr_tokens(Closer::Print, delim)?;
                    self.push(Tok::PrintEnd, close);
                }
                _ => {
                    if !self.raw_block(delim)? {
                        self.push(Tok::ExecStart, delim);
                        let close = self.expr_tokens(Closer::Exec, delim)?;
                        self.push(Tok::ExecEnd, close);
                    }
                }
            }
        }
        Ok(())
    }

    fn comment(&mut self, open: usize) -> Result<(), SynErr> {
        let Some(end) = self.rest().find("#}") else {
            return Err(SynErr::new("Unclosed comment.", open));
        };
        let close = self.pos + end;
        if end > 0 && self.src.as_bytes()[close - 1] == b'-' {
            self.trim_next = true;
        }
        self.pos = close + 2;
        Ok(())
    }

    /// `{% raw %}…{% endraw %}` / `{% verbatim %}…{% endverbatim %}`: the body is literal text.
    /// Returns false (nothing consumed) when the tag is not one of those.
    fn raw_block(&mut self, open: usize) -> Result<bool, SynErr> {
        let Some((word, body_start, trim_body_start)) = raw_open(self.rest()) else {
            return Ok(false);
        };
        let body_start = self.pos + body_start;
        let end_word = if word == "raw" {
            "endraw"
        } else {
            "endverbatim"
        };
        let Some((body_end, end_len, trim_before, trim_after)) =
            raw_close(&self.src[body_start..], end_word)
        else {
            let msg = if word == "raw" {
                "unclosed `{% raw %}` block"
            } else {
                "Unclosed verbatim tag."
            };
            return Err(SynErr::new(msg, open));
        };
        let mut body = &self.src[body_start..body_start + body_end];
        if trim_body_start {
            body = body.trim_start();
        }
        if trim_before {
            body = body.trim_end();
        }
        if !body.is_empty() {
            self.push(Tok::Text(body.to_string()), body_start);
        }
        self.pos = body_start + body_end + end_len;
        self.trim_next = trim_after;
        Ok(true)
    }

    /// Lexes expression tokens up to the closer; returns the closer's offset.
    fn expr_tokens(&mut self, closer: Closer, open: usize) -> Result<usize, SynErr> {
        let mut brackets: Vec<(char, usize)> = Vec::new();
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            let rest = trimmed;
            let at = self.pos;
            if rest.is_empty() {
                if let Some((b, p)) = brackets.pop() {
                    return Err(SynErr::new(format!("Unclosed \"{}\"", closing_of(b)), p));
                }
                let msg = match closer {
                    Closer::Print => "unclosed `{{`: expected `}}` before the end of the template",
                    Closer::Exec => "unclosed `{%`: expected `%}` before the end of the template",
                    Closer::Interp => "unclosed `#{` in string: expected `}`",
                };
                return Err(SynErr::new(msg, open));
            }
            if brackets.is_empty() {
                match closer {
                    Closer::Print | Closer::Exec => {
                        let close = if closer == Closer::Print { "}}" } else { "%}" };
                        if rest.starts_with('-') && rest[1..].starts_with(close) {
                            self.trim_next = true;
                            self.pos += 3;
                            return Ok(at);
                        }
                        if rest.starts_with(close) {
                            self.pos += 2;
                            return Ok(at);
                        }
                    }
                    Closer::Interp => {
                        if rest.starts_with('}') {
                            return Ok(at);
                        }
                    }
                }
            }
            // operators
            if let Some(op) = match_operator(rest) {
                self.push(Tok::Op(op), at);
                self.pos += op.len();
                continue;
            }
            let c = rest.chars().next().unwrap_or(' ');
            if is_ident_start(c) {
                let len = rest
                    .find(|ch: char| !is_ident_char(ch))
                    .unwrap_or(rest.len());
                self.push(Tok::Name(rest[..len].to_string()), at);
                self.pos += len;
                continue;
            }
            if c.is_ascii_digit() {
                self.number(rest, at)?;
                continue;
            }
            if PUNCTUATION.contains(c) {
                match c {
                    '(' | '[' | '{' => brackets.push((c, at)),
                    ')' | ']' | '}' => match brackets.pop() {
                        None => return Err(SynErr::new(format!("Unexpected \"{c}\""), at)),
                        Some((open_b, _)) if closing_of(open_b) != c => {
                            return Err(SynErr::new(
                                format!("Unclosed \"{}\"", closing_of(open_b)),
                                at,
                            ));
                        }
                        Some(_) => {}
                    },
                    _ => {}
                }
                self.push(Tok::Punct(c), at);
                self.pos += 1;
                continue;
            }
            if c == '\'' {
                self.single_quoted(at)?;
                continue;
            }
            if c == '"' {
                self.double_quoted(at)?;
                continue;
            }
            return Err(SynErr::new(format!("Unexpected character [{c}]"), at));
        }
    }

    fn number(&mut self, rest: &str, at: usize) -> Result<(), SynErr> {
        let b = rest.as_bytes();
        let mut len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let int_part = &rest[..len];
        if b.get(len) == Some(&b'L') {
            let v = int_part
                .parse::<i64>()
                .map_err(|_| SynErr::new("number literal is too large", at))?;
            self.push(Tok::Int(v), at);
            self.pos += len + 1;
            return Ok(());
        }
        if b.get(len) == Some(&b'.') && b.get(len + 1).is_some_and(|c| c.is_ascii_digit()) {
            len += 1 + b[len + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let v: f64 = rest[..len]
                .parse()
                .map_err(|_| SynErr::new("invalid number literal", at))?;
            self.push(Tok::Float(v), at);
        } else {
            let v = int_part
                .parse::<i64>()
                .map_err(|_| SynErr::new("number literal is too large", at))?;
            self.push(Tok::Int(v), at);
        }
        self.pos += len;
        Ok(())
    }

    fn single_quoted(&mut self, at: usize) -> Result<(), SynErr> {
        let body_start = self.pos + 1;
        let mut out = String::new();
        let mut it = self.src[body_start..].char_indices();
        while let Some((i, c)) = it.next() {
            match c {
                '\'' => {
                    self.push(Tok::Str(out), at);
                    self.pos = body_start + i + 1;
                    return Ok(());
                }
                '\\' => match it.next() {
                    Some((_, '\'')) => out.push('\''),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(SynErr::new("unclosed string literal: missing `'`", at))
    }

    fn double_quoted(&mut self, at: usize) -> Result<(), SynErr> {
        let mut pos = self.pos + 1;
        let mut part = String::new();
        let mut interpolated = false;
        loop {
            let rest = &self.src[pos..];
            let mut chars = rest.chars();
            let Some(c) = chars.next() else {
                return Err(SynErr::new("unclosed string literal: missing `\"`", at));
            };
            match c {
                '"' => {
                    if interpolated {
                        if !part.is_empty() {
                            self.push(Tok::Str(std::mem::take(&mut part)), pos);
                        }
                        self.push(Tok::InterpEnd, pos);
                    } else {
                        self.push(Tok::Str(part), at);
                    }
                    self.pos = pos + 1;
                    return Ok(());
                }
                '\\' => {
                    match chars.next() {
                        Some('"') => part.push('"'),
                        Some('\\') => part.push('\\'),
                        Some(other) => {
                            part.push('\\');
                            part.push(other);
                        }
                        None => {
                            return Err(SynErr::new("unclosed string literal: missing `\"`", at));
                        }
                    }
                    pos += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
                }
                '#' if rest[1..].starts_with('{') => {
                    if !interpolated {
                        interpolated = true;
                        self.push(Tok::InterpStart, at);
                    }
                    if !part.is_empty() {
                        self.push(Tok::Str(std::mem::take(&mut part)), pos);
                    }
                    self.push(Tok::InterpOpen, pos);
                    self.pos = pos + 2;
                    let close = self.expr_tokens(Closer::Interp, pos)?;
                    self.push(Tok::InterpClose, close);
                    pos = self.pos + 1;
                }
                c => {
                    part.push(c);
                    pos += c.len_utf8();
                }
            }
        }
    }
}

fn closing_of(c: char) -> char {
    match c {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

fn match_operator(rest: &str) -> Option<&'static str> {
    for op in OPERATORS {
        if let Some(after) = rest.strip_prefix(op) {
            let alpha = op.as_bytes()[op.len() - 1].is_ascii_alphabetic();
            if alpha && after.chars().next().is_some_and(is_ident_char) {
                continue;
            }
            return Some(op);
        }
    }
    None
}

/// Matches `[ws] raw|verbatim [ws] [-] %}` at the start of a `{%` tag body. Returns the word,
/// the offset of the body and whether the body's leading whitespace is trimmed.
fn raw_open(s: &str) -> Option<(&'static str, usize, bool)> {
    let t = s.trim_start();
    let mut off = s.len() - t.len();
    let word = if t.starts_with("raw") {
        "raw"
    } else if t.starts_with("verbatim") {
        "verbatim"
    } else {
        return None;
    };
    let after = &t[word.len()..];
    if after.chars().next().is_some_and(is_ident_char) {
        return None;
    }
    off += word.len();
    let t2 = after.trim_start();
    off += after.len() - t2.len();
    let (trim, t3) = match t2.strip_prefix('-') {
        Some(x) => (true, x),
        None => (false, t2),
    };
    if trim {
        off += 1;
    }
    if !t3.starts_with("%}") {
        return None;
    }
    Some((word, off + 2, trim))
}

/// Finds `{%[-] [ws] <end_word> [ws] [-]%}` in `s`: (start offset, tag length, trims before,
/// trims after).
fn raw_close(s: &str, end_word: &str) -> Option<(usize, usize, bool, bool)> {
    let mut from = 0;
    while let Some(off) = s[from..].find("{%") {
        let start = from + off;
        let mut t = &s[start + 2..];
        let trim_before = t.starts_with('-');
        if trim_before {
            t = &t[1..];
        }
        let t2 = t.trim_start();
        if let Some(after) = t2.strip_prefix(end_word)
            && !after.chars().next().is_some_and(is_ident_char)
        {
            let t3 = after.trim_start();
            let (trim_after, t4) = match t3.strip_prefix('-') {
                Some(x) => (true, x),
                None => (false, t3),
            };
            if t4.starts_with("%}") {
                let len = s.len() - start - t4.len() + 2;
                return Some((start, len, trim_before, trim_after));
            }
        }
        from = start + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn text_and_print() {
        assert_eq!(
            toks("a {{ x.y }} b"),
            vec![
                Tok::Text("a ".into()),
                Tok::PrintStart,
                Tok::Name("x".into()),
                Tok::Punct('.'),
                Tok::Name("y".into()),
                Tok::PrintEnd,
                Tok::Text(" b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators_and_names() {
        assert_eq!(
            toks("{{ notes or order is not null and x isIn y }}")[1..12].to_vec(),
            vec![
                Tok::Name("notes".into()),
                Tok::Op("or"),
                Tok::Name("order".into()),
                Tok::Op("is not"),
                Tok::Name("null".into()),
                Tok::Op("and"),
                Tok::Name("x".into()),
                Tok::Op("isIn"),
                Tok::Name("y".into()),
                Tok::PrintEnd,
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("{{1..5}}")[1..4].to_vec(),
            vec![Tok::Int(1), Tok::Op(".."), Tok::Int(5)]
        );
        assert_eq!(
            toks("{{ 2.5 ?? 3L ??? x }}")[1..6].to_vec(),
            vec![
                Tok::Float(2.5),
                Tok::Op("??"),
                Tok::Int(3),
                Tok::Op("???"),
                Tok::Name("x".into())
            ]
        );
    }

    #[test]
    fn whitespace_control() {
        assert_eq!(
            toks("a  {{- 1 -}}  b"),
            vec![
                Tok::Text("a".into()),
                Tok::PrintStart,
                Tok::Int(1),
                Tok::PrintEnd,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        assert_eq!(toks(" {#- c -#} x"), vec![Tok::Text("x".into()), Tok::Eof]);
    }

    #[test]
    fn strings() {
        assert_eq!(toks(r#"{{ 'it\'s' }}"#)[1], Tok::Str("it's".into()));
        assert_eq!(
            toks(r#"{{ "a\"b\\c\n" }}"#)[1],
            Tok::Str("a\"b\\c\\n".into())
        );
        assert_eq!(
            toks(r##"{{ "a#{x}b" }}"##)[1..8].to_vec(),
            vec![
                Tok::InterpStart,
                Tok::Str("a".into()),
                Tok::InterpOpen,
                Tok::Name("x".into()),
                Tok::InterpClose,
                Tok::Str("b".into()),
                Tok::InterpEnd
            ]
        );
    }

    #[test]
    fn brackets_hide_closers() {
        assert_eq!(
            toks("{{ {'a': {'b': 1}} }}")[1..].to_vec(),
            vec![
                Tok::Punct('{'),
                Tok::Str("a".into()),
                Tok::Punct(':'),
                Tok::Punct('{'),
                Tok::Str("b".into()),
                Tok::Punct(':'),
                Tok::Int(1),
                Tok::Punct('}'),
                Tok::Punct('}'),
                Tok::PrintEnd,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn raw() {
        assert_eq!(
            toks("{% raw %}{{ x }}{% endraw %}!"),
            vec![Tok::Text("{{ x }}".into()), Tok::Text("!".into()), Tok::Eof]
        );
        assert_eq!(
            toks("a {%- raw -%} {{ x }} {%- endraw -%} b"),
            vec![
                Tok::Text("a".into()),
                Tok::Text("{{ x }}".into()),
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors() {
        assert!(tokenize("{{ x").is_err());
        assert!(tokenize("{# x").is_err());
        assert!(tokenize("{{ (x }}").is_err());
        assert!(tokenize("{{ x) }}").is_err());
        assert!(tokenize("{{ 'x }}").is_err());
        assert!(tokenize("{{ x ! y }}").is_err());
        assert!(tokenize("{% raw %}x").is_err());
        assert!(tokenize("{{ 99999999999999999999 }}").is_err());
    }
}

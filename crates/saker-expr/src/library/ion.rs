//! Amazon Ion text, the subset Kestra round-trips: `toIon` writes Jackson's compact Ion text,
//! `fromIon` reads Ion text values (structs, lists, s-expressions, strings, symbols, numbers,
//! timestamps, blobs/clobs; annotations and comments skipped) into JSON values.

use crate::library::util::{float, java_double};
use crate::{Error, Result, Value};

/// One value as compact Ion text (no trailing newline), as Jackson's Ion mapper writes it.
pub fn write(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(s, "true" | "false" | "null" | "nan")
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_f64() => {
            let d = java_double(n.as_f64().unwrap_or(0.0));
            if d.contains('E') {
                out.push_str(&d.replace('E', "e"))
            } else {
                out.push_str(&format!("{d}e0"))
            }
        }
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if is_identifier(k) {
                    out.push_str(k);
                } else {
                    out.push('\'');
                    out.push_str(&k.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push('\'');
                }
                out.push(':');
                write_value(x, out);
            }
            out.push('}');
        }
    }
}

/// All top-level values of an Ion text stream.
pub fn read_all(text: &str) -> Result<Vec<Value>> {
    let mut p = Reader {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ws()?;
        if p.pos >= p.s.len() {
            return Ok(out);
        }
        out.push(p.value()?);
    }
}

struct Reader<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, what: &str) -> Error {
        Error::msg(format!("Invalid ION text at offset {}: {what}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    let end = self.text[self.pos + 2..]
                        .find("*/")
                        .ok_or_else(|| self.err("unterminated comment"))?;
                    self.pos += end + 4;
                }
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.skip_ws()?;
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.skip_ws()?;
        let v = match self.peek().ok_or_else(|| self.err("unexpected end"))? {
            b'{' if self.s.get(self.pos + 1) == Some(&b'{') => self.lob()?,
            b'{' => self.structure()?,
            b'[' => Value::Array(self.sequence(b']')?),
            b'(' => Value::Array(self.sequence(b')')?),
            b'"' => Value::String(self.quoted(b'"')?),
            b'\'' if self.text[self.pos..].starts_with("'''") => Value::String(self.long_string()?),
            b'\'' => {
                let sym = self.quoted(b'\'')?;
                if self.annotation_follows() {
                    return self.value();
                }
                Value::String(sym)
            }
            _ => {
                let tok = self.token().to_string();
                if tok.is_empty() {
                    return Err(self.err("unexpected character"));
                }
                if self.annotation_follows() {
                    return self.value();
                }
                atom(&tok).ok_or_else(|| self.err(&format!("invalid value '{tok}'")))?
            }
        };
        Ok(v)
    }

    /// `name::` before a value is an annotation: consumed and ignored.
    fn annotation_follows(&mut self) -> bool {
        let save = self.pos;
        let _ = self.skip_ws();
        if self.text[self.pos..].starts_with("::") {
            self.pos += 2;
            true
        } else {
            self.pos = save;
            false
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"_$.+-:".contains(&c))
        {
            if self.peek() == Some(b':') && self.s.get(self.pos + 1) == Some(&b':') {
                break;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn quoted(&mut self, q: u8) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let mut chars = rest.chars();
            let c = chars
                .next()
                .ok_or_else(|| self.err("unterminated string"))?;
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == q as u32 => return Ok(out),
                '\\' => {
                    let e = chars.next().ok_or_else(|| self.err("bad escape"))?;
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' | 'x' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex = self
                                .text
                                .get(self.pos..self.pos + n)
                                .ok_or_else(|| self.err("bad escape"))?;
                            let code =
                                u32::from_str_radix(hex, 16).map_err(|_| self.err("bad escape"))?;
                            out.push(char::from_u32(code).ok_or_else(|| self.err("bad escape"))?);
                            self.pos += n;
                        }
                        '\n' => {}
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn long_string(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            self.skip_ws()?;
            if !self.text[self.pos..].starts_with("'''") {
                return Ok(out);
            }
            self.pos += 3;
            let end = self.text[self.pos..]
                .find("'''")
                .ok_or_else(|| self.err("unterminated long string"))?;
            let raw = self.text[self.pos..self.pos + end].to_string();
            out.push_str(&unescape(&raw));
            self.pos += end + 3;
        }
    }

    fn lob(&mut self) -> Result<Value> {
        self.pos += 2;
        let end = self.text[self.pos..]
            .find("}}")
            .ok_or_else(|| self.err("unterminated blob"))?;
        let body = self.text[self.pos..self.pos + end].trim().to_string();
        self.pos += end + 2;
        if let Some(s) = body.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
            return Ok(Value::String(unescape(s)));
        }
        Ok(Value::String(body.split_whitespace().collect()))
    }

    fn sequence(&mut self, close: u8) -> Result<Vec<Value>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.value()?);
            self.skip_ws()?;
            if close == b']' && self.peek() == Some(b',') {
                self.pos += 1;
            }
        }
    }

    fn structure(&mut self) -> Result<Value> {
        self.pos += 1;
        let mut m = serde_json::Map::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(m));
                }
                Some(b'"') => {
                    let k = self.quoted(b'"')?;
                    self.field(k, &mut m)?;
                }
                Some(b'\'') => {
                    let k = self.quoted(b'\'')?;
                    self.field(k, &mut m)?;
                }
                Some(_) => {
                    let start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
                    {
                        self.pos += 1;
                    }
                    let k = self.text[start..self.pos].to_string();
                    if k.is_empty() {
                        return Err(self.err("expected a field name"));
                    }
                    self.field(k, &mut m)?;
                }
                None => return Err(self.err("unterminated struct")),
            }
        }
    }

    fn field(&mut self, k: String, m: &mut serde_json::Map<String, Value>) -> Result<()> {
        self.expect(b':')?;
        let v = self.value()?;
        m.insert(k, v);
        self.skip_ws()?;
        if self.peek() == Some(b',') {
            self.pos += 1;
        }
        Ok(())
    }
}

fn unescape(s: &str) -> String {
    let mut r = Reader {
        s: s.as_bytes(),
        text: s,
        pos: 0,
    };
    let quoted = format!("\"{}\"", s.replace('"', "\\\""));
    r.text = &quoted;
    r.s = quoted.as_bytes();
    r.quoted(b'"').unwrap_or_else(|_| s.to_string())
}

/// Bare Ion tokens: null(.type), booleans, ints, decimals, floats, timestamps, symbols.
fn atom(tok: &str) -> Option<Value> {
    if tok == "null" || tok.starts_with("null.") {
        return Some(Value::Null);
    }
    match tok {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "nan" | "+inf" | "-inf" => return Some(Value::Null),
        _ => {}
    }
    let clean: String = tok.chars().filter(|c| *c != '_').collect();
    let first = clean.chars().next()?;
    if first.is_ascii_digit() || (first == '-' && clean.len() > 1) {
        let body = clean.trim_start_matches('-');
        let neg = clean.starts_with('-');
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            let v = i64::from_str_radix(h, 16).ok()?;
            return Some(Value::from(if neg { -v } else { v }));
        }
        if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            let v = i64::from_str_radix(b, 2).ok()?;
            return Some(Value::from(if neg { -v } else { v }));
        }
        if let Ok(i) = clean.parse::<i64>() {
            return Some(Value::from(i));
        }
        if clean.len() >= 5 && clean.as_bytes().get(4) == Some(&b'-') || clean.ends_with('T') {
            return Some(Value::String(tok.to_string()));
        }
        let numeric = clean.replace(['d', 'D'], "e");
        return numeric.parse::<f64>().ok().map(float);
    }
    Some(Value::String(tok.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let v = json!({"a": 1, "b-c": "x\"y", "d": [1.5, true, null], "e": {}});
        let text = write(&v);
        assert_eq!(text, r#"{a:1,'b-c':"x\"y",d:[1.5e0,true,null],e:{}}"#);
        assert_eq!(read_all(&text).unwrap(), vec![v]);
    }

    #[test]
    fn reading() {
        let rows = read_all("{id:1, name:\"a\"} // c\n{id:2, name:sym, t:2024-01-01T00:00:00Z, n:1.5d0, x:ann::'q'}").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            json!({"id": 2, "name": "sym", "t": "2024-01-01T00:00:00Z", "n": 1.5, "x": "q"})
        );
        assert_eq!(read_all("'''ab''' '''cd'''").unwrap(), vec![json!("abcd")]);
        assert!(read_all("{a:").is_err());
    }
}

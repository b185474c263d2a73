//! String filters: Pebble's (`abbreviate`, `capitalize`, `title`, `lower`, `upper`, `trim`,
//! `split`, `urlencode`, `base64*`, `sha256`) and Kestra's (`replace`, `slugify`,
//! `substring*`, `startsWith`/`endsWith`, `escapeChar`, `indent`/`nindent`, `urldecode`,
//! `md5`/`sha1`/`sha512`, `string`).

use base64::Engine as _;
use regex::Regex;
use sha2::Digest;
use unicode_normalization::UnicodeNormalization;

use crate::library::util::{
    arg, arg_bool, arg_i64, arg_str, class_name, input_str, java_to_string, missing, req_i64,
};
use crate::{Args, Call, Error, Result, Value};

/// Java's `toString()` of a non-null input (`String` filters call it on anything).
fn text_of(v: &Value) -> String {
    java_to_string(v)
}

macro_rules! null_passthrough {
    ($input:expr) => {
        if $input.is_null() {
            return Ok(Value::Null);
        }
    };
}

pub(crate) fn abbreviate(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let max =
        arg_i64(args, 0, "length", "abbreviate")?.ok_or_else(|| missing("abbreviate", "length"))?;
    if max < 0 {
        return Err(Error::msg(
            "Invalid argument to abbreviate filter; must be greater than zero",
        ));
    }
    let max = max as usize;
    let chars: Vec<char> = s.chars().collect();
    let ellipsis = "...";
    if chars.len() <= max || chars.len() <= ellipsis.len() {
        return Ok(Value::String(s));
    }
    if max <= ellipsis.len() {
        return Ok(Value::String(chars[..max].iter().collect()));
    }
    let mut out: String = chars[..max - ellipsis.len()].iter().collect();
    out.push_str(ellipsis);
    Ok(Value::String(out))
}

fn title_case(c: char) -> String {
    c.to_uppercase().collect()
}

/// Upper-cases the first non-whitespace character; the rest is kept as is.
pub(crate) fn capitalize(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let mut out = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && !c.is_whitespace() {
            out.push_str(&title_case(c));
            done = true;
        } else {
            out.push(c);
        }
    }
    Ok(Value::String(out))
}

/// Upper-cases the first character of every whitespace-separated word.
pub(crate) fn title(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let mut out = String::with_capacity(s.len());
    let mut next = true;
    for c in s.chars() {
        if c.is_whitespace() {
            next = true;
            out.push(c);
        } else if next {
            out.push_str(&title_case(c));
            next = false;
        } else {
            out.push(c);
        }
    }
    Ok(Value::String(out))
}

pub(crate) fn lower(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(text_of(input).to_lowercase()))
}

pub(crate) fn upper(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(text_of(input).to_uppercase()))
}

/// Java `String.trim()`: strips every char <= U+0020 at both ends.
pub(crate) fn trim(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(
        text_of(input).trim_matches(|c: char| c <= ' ').to_string(),
    ))
}

/// Java `String.split(regex, limit)`: `limit > 0` caps the pieces, `0` drops trailing empty
/// strings, `< 0` keeps everything; a zero-width match at 0 yields no leading empty piece.
pub(crate) fn java_split(s: &str, re: &Regex, limit: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut last = 0;
    for m in re.find_iter(s) {
        if limit > 0 && out.len() as i64 == limit - 1 {
            break;
        }
        if m.end() == 0 {
            continue;
        }
        if m.start() == m.end() && m.start() >= s.len() {
            break;
        }
        out.push(s[last..m.start()].to_string());
        last = m.end();
    }
    if out.is_empty() && last == 0 {
        return vec![s.to_string()];
    }
    out.push(s[last..].to_string());
    if limit == 0 {
        while out.len() > 1 && out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        if out.len() == 1 && out[0].is_empty() && !s.is_empty() {
            out.clear();
        }
    }
    out
}

fn regex(pattern: &str) -> Result<Regex> {
    Regex::new(pattern)
        .map_err(|e| Error::msg(format!("Invalid regular expression '{pattern}': {e}")))
}

pub(crate) fn split(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let delim =
        arg_str(args, 0, "delimiter", "split")?.ok_or_else(|| missing("split", "delimiter"))?;
    let limit = arg_i64(args, 1, "limit", "split")?.unwrap_or(0);
    let parts = java_split(&s, &regex(delim)?, limit);
    Ok(Value::Array(parts.into_iter().map(Value::String).collect()))
}

/// A Java `replaceAll` replacement (`$1`, `${name}`, `\$`) in the regex crate's syntax.
fn java_replacement(r: &str) -> Result<String> {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(x) => out.push(x),
                None => return Err(Error::msg("character to be escaped is missing")),
            },
            '$' => match chars.peek() {
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut num = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        num.push(*d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{num}}}"));
                }
                _ => return Err(Error::msg("Illegal group reference")),
            },
            other => out.push(other),
        }
    }
    Ok(out)
}

fn replace_string(s: &str, pairs: &[(String, String)], regexp: bool) -> Result<String> {
    let mut data = s.to_string();
    for (from, to) in pairs {
        data = if regexp {
            regex(from)?
                .replace_all(&data, java_replacement(to)?.as_str())
                .into_owned()
        } else {
            data.replace(from.as_str(), to)
        };
    }
    Ok(data)
}

/// Applies `f` to every string (and stringified scalar) inside maps and lists.
fn map_strings(v: &Value, f: &dyn Fn(&str) -> Result<String>) -> Result<Value> {
    Ok(match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), map_strings(x, f)?)))
                .collect::<Result<_>>()?,
        ),
        Value::Array(a) => {
            Value::Array(a.iter().map(|x| map_strings(x, f)).collect::<Result<_>>()?)
        }
        other => Value::String(f(&text_of(other))?),
    })
}

pub(crate) fn replace(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let pairs = match arg(args, 0, "replace_pairs") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect::<Vec<_>>(),
        Some(other) => {
            return Err(Error::msg(format!(
                "The argument 'replace_pairs' must be a map, got {}",
                class_name(other)
            )));
        }
        None => return Err(Error::msg("The argument 'replace_pairs' is required.")),
    };
    let regexp = arg_bool(args, 1, "regexp", "replace")?.unwrap_or(false);
    map_strings(input, &|s| replace_string(s, &pairs, regexp))
}

/// Kestra's `Slugify.of`.
pub(crate) fn slugify_str(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .collect();
    let kept: String = spaced
        .nfd()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    let mut collapsed = String::with_capacity(kept.len());
    for c in kept.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    collapsed.trim_matches('-').to_lowercase()
}

pub(crate) fn slugify(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(slugify_str(&text_of(input))))
}

fn separator<'a>(args: &'a Args, name: &str) -> Result<Option<&'a str>> {
    arg_str(args, 0, "separator", name)
}

pub(crate) fn substring_before(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let out = match separator(args, "substringBefore")? {
        _ if s.is_empty() => s.clone(),
        None => s.clone(),
        Some("") => String::new(),
        Some(sep) => s
            .find(sep)
            .map(|i| s[..i].to_string())
            .unwrap_or_else(|| s.clone()),
    };
    Ok(Value::String(out))
}

pub(crate) fn substring_before_last(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let out = match separator(args, "substringBeforeLast")? {
        None | Some("") => s.clone(),
        Some(sep) => s
            .rfind(sep)
            .map(|i| s[..i].to_string())
            .unwrap_or_else(|| s.clone()),
    };
    Ok(Value::String(out))
}

pub(crate) fn substring_after(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let out = match separator(args, "substringAfter")? {
        _ if s.is_empty() => s.clone(),
        None => String::new(),
        Some(sep) => s
            .find(sep)
            .map(|i| s[i + sep.len()..].to_string())
            .unwrap_or_default(),
    };
    Ok(Value::String(out))
}

pub(crate) fn substring_after_last(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let out = match separator(args, "substringAfterLast")? {
        _ if s.is_empty() => s.clone(),
        None | Some("") => String::new(),
        Some(sep) => s
            .rfind(sep)
            .map(|i| s[i + sep.len()..].to_string())
            .unwrap_or_default(),
    };
    Ok(Value::String(out))
}

pub(crate) fn starts_with(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let Some(prefix) = arg_str(args, 0, "value", "startsWith")? else {
        return Err(missing("startsWith", "value"));
    };
    Ok(Value::Bool(
        !input.is_null() && text_of(input).starts_with(prefix),
    ))
}

pub(crate) fn ends_with(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let Some(suffix) = arg_str(args, 0, "value", "endsWith")? else {
        return Err(missing("endsWith", "value"));
    };
    Ok(Value::Bool(
        !input.is_null() && text_of(input).ends_with(suffix),
    ))
}

pub(crate) fn escape_char(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    null_passthrough!(input);
    let ty = arg_str(args, 0, "type", "escapeChar")?
        .ok_or_else(|| Error::msg("The 'escapeChar' filter expects an argument 'type'."))?;
    let (from, to) = match ty.to_ascii_lowercase().as_str() {
        "single" => ("'", "\\'"),
        "double" => ("\"", "\\\""),
        "shell" => ("'", "'\\''"),
        _ => {
            return Err(Error::msg(
                "The 'escapeChar' filter expects the value of 'type' to be either 'single', 'double', or 'shell'.",
            ));
        }
    };
    map_strings(input, &|s| Ok(s.replace(from, to)))
}

fn line_separator(s: &str) -> &'static str {
    if s.contains("\r\n") {
        "\r\n"
    } else if s.contains("\n\r") {
        "\n\r"
    } else if s.contains('\n') {
        "\n"
    } else if s.contains('\r') {
        "\r"
    } else {
        "\n"
    }
}

fn indent_impl(input: &Value, args: &Args, name: &str, leading: bool) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    if s.is_empty() {
        return Ok(Value::String(s));
    }
    let amount = req_i64(args, 0, "amount", name).map_err(|_| {
        Error::msg(format!(
            "The '{name}' filter expects an integer as argument 'amount'."
        ))
    })?;
    if amount < 0 {
        return Err(Error::msg(format!(
            "The '{name}' filter expects a positive integer >=0 as argument 'amount'."
        )));
    }
    let prefix = arg_str(args, 1, "prefix", name)?
        .unwrap_or(" ")
        .repeat(amount as usize);
    let nl = line_separator(&s);
    let base = if leading { format!("{nl}{s}") } else { s };
    Ok(Value::String(base.replace(nl, &format!("{nl}{prefix}"))))
}

pub(crate) fn indent(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    indent_impl(input, args, "indent", false)
}

pub(crate) fn nindent(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    indent_impl(input, args, "nindent", true)
}

/// Java `URLEncoder.encode(s, UTF_8)`: space → `+`, `[A-Za-z0-9.*_-]` kept, rest `%XX`.
pub(crate) fn urlencode(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input);
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// Java `URLDecoder.decode(s, UTF_8)`: `+` → space, `%XX` bytes decoded as UTF-8.
pub(crate) fn urldecode(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = text_of(input).replace('+', " ");
    if let Some(i) = s.find('%')
        && !s[i + 1..].chars().take(2).all(|c| c.is_ascii_hexdigit())
    {
        return Err(Error::msg(format!(
            "URLDecoder: Illegal hex characters in escape (%) pattern in '{s}'"
        )));
    }
    let decoded = percent_encoding::percent_decode_str(&s)
        .decode_utf8()
        .map_err(|e| Error::msg(format!("URLDecoder: invalid UTF-8: {e}")))?;
    Ok(Value::String(decoded.into_owned()))
}

pub(crate) fn base64encode(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = input_str(input, "base64encode")?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
    ))
}

pub(crate) fn base64decode(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    let s = input_str(input, "base64decode")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim().as_bytes())
        .map_err(|e| Error::msg(format!("base64decode: invalid base64 input: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| Error::msg("base64decode: the decoded bytes are not UTF-8 text"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest_input<'a>(input: &'a Value, name: &str) -> Result<&'a str> {
    match input {
        Value::String(s) => Ok(s),
        other => Err(Error::msg(format!(
            "The '{name}' filter needs a string to hash, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn md5(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(hex(&md5::Md5::digest(
        digest_input(input, "md5")?.as_bytes(),
    ))))
}

pub(crate) fn sha1(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(hex(&sha1::Sha1::digest(
        digest_input(input, "sha1")?.as_bytes(),
    ))))
}

pub(crate) fn sha256(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(hex(&sha2::Sha256::digest(
        digest_input(input, "sha256")?.as_bytes(),
    ))))
}

pub(crate) fn sha512(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(hex(&sha2::Sha512::digest(
        digest_input(input, "sha512")?.as_bytes(),
    ))))
}

/// `string`: `toString()` of the value (null stays null).
pub(crate) fn string(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    null_passthrough!(input);
    Ok(Value::String(text_of(input)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(s: &str, re: &str, limit: i64) -> Vec<String> {
        java_split(s, &Regex::new(re).unwrap(), limit)
    }

    #[test]
    fn java_split_semantics() {
        assert_eq!(split_of("a,b,,c,,", ",", 0), ["a", "b", "", "c"]);
        assert_eq!(split_of("a,b,,c,,", ",", -1), ["a", "b", "", "c", "", ""]);
        assert_eq!(split_of("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(split_of("abc", "", 0), ["a", "b", "c"]);
        assert_eq!(split_of("", ",", 0), [""]);
        assert_eq!(split_of(",a", ",", 0), ["", "a"]);
        assert!(split_of(",,", ",", 0).is_empty());
    }

    #[test]
    fn slugs_and_replacements() {
        assert_eq!(slugify_str("  Hello, World_Ça va?  "), "hello-world-ca-va");
        assert_eq!(java_replacement("$1-${name}\\$").unwrap(), "${1}-${name}$$");
        assert!(java_replacement("$x").is_err());
    }
}

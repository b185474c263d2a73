//! Number filters: Pebble's `abs` and `numberFormat` (Java `DecimalFormat`), Kestra's
//! `number` (commons-lang `NumberUtils`) and `className`.

use crate::library::util::{arg_str, as_f64, class_name, float, is_integer};
use crate::{Args, Call, Error, Result, Value};

pub(crate) fn abs(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    match input {
        Value::Null => Ok(Value::Null),
        Value::Number(n) if is_integer(input) => match n.as_i64() {
            Some(i) => Ok(i
                .checked_abs()
                .map(Value::from)
                .unwrap_or_else(|| float((i as f64).abs()))),
            None => Ok(input.clone()),
        },
        Value::Number(n) => Ok(float(n.as_f64().unwrap_or(0.0).abs())),
        other => Err(Error::msg(format!(
            "The 'abs' filter expects a number, got {}",
            class_name(other)
        ))),
    }
}

pub(crate) fn class_name_filter(_: &Call<'_>, input: &Value, _: &Args) -> Result<Value> {
    Ok(match input {
        Value::Null => Value::Null,
        other => Value::String(class_name(other).to_string()),
    })
}

/// Java `Integer.decode`/`Long.decode`: sign, `0x`/`#` hex, leading-zero octal.
fn java_decode(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = body.strip_prefix('#') {
            (16, h)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn java_double_parse(s: &str) -> Option<f64> {
    let t = s.trim();
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    if t.is_empty() || t.contains(char::is_alphabetic) && !t.contains(['e', 'E']) {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `NumberUtils.createNumber`: integers become Integer/Long, decimals Float/Double (held as
/// doubles here), type suffixes `L`/`F`/`D` honoured.
fn create_number(s: &str) -> Option<Value> {
    if s.trim() != s || s.is_empty() {
        return None;
    }
    if let Some(body) = s.strip_suffix(['l', 'L']) {
        return java_decode(body).map(Value::from);
    }
    let lower = s.to_ascii_lowercase();
    let hex = lower.trim_start_matches(['-', '+']).starts_with("0x") || s.starts_with('#');
    if !hex && (s.contains(['.', 'e', 'E']) || s.ends_with(['f', 'F', 'd', 'D'])) {
        return java_double_parse(s).map(float);
    }
    if let Some(i) = java_decode(s) {
        return Some(Value::from(i));
    }
    // Beyond Long: BigInteger in Java; the nearest double here.
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && !hex)
        .map(float)
}

pub(crate) fn number(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    let s = match input {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.as_str(),
        other => {
            return Err(Error::msg(format!(
                "'number' filter can only be applied to String. Actual type was: {}",
                class_name(other)
            )));
        }
    };
    let invalid = || Error::msg(format!("{s} is not a valid number."));
    let ty = arg_str(args, 0, "type", "number")?.unwrap_or("");
    let v = match ty {
        "INT" => java_decode(s)
            .filter(|i| i32::try_from(*i).is_ok())
            .map(Value::from),
        "LONG" => java_decode(s).map(Value::from),
        "FLOAT" | "DOUBLE" => java_double_parse(s).map(float),
        "BIGINTEGER" => java_decode(s).map(Value::from),
        "BIGDECIMAL" => {
            if s.contains(['.', 'e', 'E']) {
                java_double_parse(s).map(float)
            } else {
                s.parse::<i64>().ok().map(Value::from)
            }
        }
        _ => create_number(s),
    };
    v.ok_or_else(invalid)
}

/// A `DecimalFormat` pattern, English symbols.
#[derive(Debug, Default)]
struct DecimalPattern {
    pos_prefix: String,
    pos_suffix: String,
    neg: Option<(String, String)>,
    min_int: usize,
    min_frac: usize,
    max_frac: usize,
    grouping: usize,
    multiplier: i64,
    exponent: Option<usize>,
    always_point: bool,
}

fn parse_affix(
    chars: &[char],
    i: &mut usize,
    stop_at_number: bool,
    multiplier: &mut i64,
) -> Result<String> {
    let mut out = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        if stop_at_number && "#0,.".contains(c) {
            break;
        }
        if c == ';' {
            break;
        }
        match c {
            '\'' => {
                *i += 1;
                if chars.get(*i) == Some(&'\'') {
                    out.push('\'');
                    *i += 1;
                    continue;
                }
                while *i < chars.len() && chars[*i] != '\'' {
                    out.push(chars[*i]);
                    *i += 1;
                }
                if *i >= chars.len() {
                    return Err(Error::msg("Malformed pattern: unterminated quote"));
                }
            }
            '%' => {
                *multiplier = 100;
                out.push('%');
            }
            '\u{2030}' => {
                *multiplier = 1000;
                out.push(c);
            }
            '\u{a4}' => out.push('$'),
            other => out.push(other),
        }
        *i += 1;
    }
    Ok(out)
}

fn parse_decimal_pattern(pattern: &str) -> Result<DecimalPattern> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = DecimalPattern {
        multiplier: 1,
        ..DecimalPattern::default()
    };
    let mut i = 0;
    p.pos_prefix = parse_affix(&chars, &mut i, true, &mut p.multiplier)?;
    let (mut int_part, mut frac_part, mut exp_part, mut seen_point) =
        (String::new(), String::new(), None, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' | '0' | ',' if !seen_point => int_part.push(c),
            '#' | '0' if seen_point => frac_part.push(c),
            '.' if !seen_point => seen_point = true,
            'E' => {
                let mut n = 0;
                i += 1;
                while chars.get(i) == Some(&'0') {
                    n += 1;
                    i += 1;
                }
                if n == 0 {
                    return Err(Error::msg(format!(
                        "Malformed exponential pattern \"{pattern}\""
                    )));
                }
                exp_part = Some(n);
                continue;
            }
            _ => break,
        }
        i += 1;
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(Error::msg(format!("Malformed pattern \"{pattern}\"")));
    }
    p.pos_suffix = parse_affix(&chars, &mut i, false, &mut p.multiplier)?;
    if chars.get(i) == Some(&';') {
        i += 1;
        let mut m = p.multiplier;
        let prefix = parse_affix(&chars, &mut i, true, &mut m)?;
        while i < chars.len() && "#0,.E".contains(chars[i]) {
            i += 1;
        }
        let suffix = parse_affix(&chars, &mut i, false, &mut m)?;
        p.neg = Some((prefix, suffix));
    }
    p.min_int = int_part.chars().filter(|c| *c == '0').count();
    p.grouping = int_part
        .rfind(',')
        .map(|k| int_part.len() - k - 1)
        .unwrap_or(0);
    p.min_frac = frac_part.chars().filter(|c| *c == '0').count();
    p.max_frac = frac_part.len();
    p.exponent = exp_part;
    p.always_point = seen_point && frac_part.is_empty();
    Ok(p)
}

fn group(int_digits: &str, size: usize) -> String {
    if size == 0 || int_digits.len() <= size {
        return int_digits.to_string();
    }
    let mut out = String::new();
    let first = int_digits.len() % size;
    for (i, c) in int_digits.chars().enumerate() {
        if i > 0 && (i + size - first).is_multiple_of(size) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats |v| with `frac` fraction digits, HALF_EVEN on the exact binary value (as JDK 8+).
fn fixed(abs: f64, frac: usize) -> (String, String) {
    let s = format!("{abs:.frac$}");
    match s.split_once('.') {
        Some((i, f)) => (i.to_string(), f.to_string()),
        None => (s, String::new()),
    }
}

fn decimal_format(v: &Value, p: &DecimalPattern) -> Result<String> {
    let (negative, body) = if let (Some(i), true) = (v.as_i64(), is_integer(v)) {
        let m = i.checked_mul(p.multiplier);
        match (m, p.exponent) {
            (Some(m), None) => {
                let digits = m.unsigned_abs().to_string();
                let frac = "0".repeat(p.min_frac);
                (m < 0, assemble(&digits, &frac, p))
            }
            _ => (i < 0, format_float(i as f64 * p.multiplier as f64, p)),
        }
    } else {
        let f = as_f64(v).ok_or_else(|| {
            Error::msg(format!(
                "The 'numberFormat' filter expects a number, got {}",
                class_name(v)
            ))
        })?;
        if f.is_nan() {
            return Ok("NaN".into());
        }
        (
            f.is_sign_negative(),
            format_float(f * p.multiplier as f64, p),
        )
    };
    Ok(if negative {
        match &p.neg {
            Some((pre, suf)) => format!("{pre}{body}{suf}"),
            None => format!("-{}{body}{}", p.pos_prefix, p.pos_suffix),
        }
    } else {
        format!("{}{body}{}", p.pos_prefix, p.pos_suffix)
    })
}

fn format_float(f: f64, p: &DecimalPattern) -> String {
    let abs = f.abs();
    if abs.is_infinite() {
        return "\u{221e}".into();
    }
    if let Some(exp_digits) = p.exponent {
        let int_digits = p.min_int.max(1) as i32;
        let mut exp = if abs == 0.0 {
            0
        } else {
            abs.log10().floor() as i32 - (int_digits - 1)
        };
        let mut mant = abs / 10f64.powi(exp);
        let (mut i, mut fr) = fixed(mant, p.max_frac);
        if i.len() as i32 > int_digits {
            exp += 1;
            mant = abs / 10f64.powi(exp);
            (i, fr) = fixed(mant, p.max_frac);
        }
        let fr = trim_frac(&fr, p.min_frac);
        let point = if fr.is_empty() { "" } else { "." };
        let sign = if exp < 0 { "-" } else { "" };
        return format!(
            "{i}{point}{fr}E{sign}{:0w$}",
            exp.unsigned_abs(),
            w = exp_digits
        );
    }
    let (i, fr) = fixed(abs, p.max_frac);
    let i = i.trim_start_matches('0').to_string();
    assemble(&i, &trim_frac(&fr, p.min_frac), p)
}

fn trim_frac(fr: &str, min: usize) -> String {
    let trimmed = fr.trim_end_matches('0');
    if trimmed.len() >= min {
        trimmed.to_string()
    } else {
        fr[..min.min(fr.len())].to_string()
    }
}

fn assemble(int_digits: &str, frac: &str, p: &DecimalPattern) -> String {
    let int_digits = int_digits.trim_start_matches('0');
    let mut int = if int_digits.len() < p.min_int {
        format!("{}{int_digits}", "0".repeat(p.min_int - int_digits.len()))
    } else {
        int_digits.to_string()
    };
    if int.is_empty() && frac.is_empty() {
        int.push('0');
    }
    let int = group(&int, p.grouping);
    if frac.is_empty() {
        if p.always_point {
            format!("{int}.")
        } else {
            int
        }
    } else {
        format!("{int}.{frac}")
    }
}

pub(crate) fn number_format(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let pattern = arg_str(args, 0, "format", "numberFormat")?.unwrap_or("#,##0.###");
    let p = parse_decimal_pattern(pattern)?;
    decimal_format(input, &p).map(Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fmt(v: Value, p: &str) -> String {
        decimal_format(&v, &parse_decimal_pattern(p).unwrap()).unwrap()
    }

    #[test]
    fn decimal_formats() {
        assert_eq!(fmt(json!(1234567.891), "#,##0.00"), "1,234,567.89");
        assert_eq!(fmt(json!(0.5), "#.##"), ".5");
        assert_eq!(fmt(json!(0), "#.##"), "0");
        assert_eq!(fmt(json!(0.125), "0.00"), "0.12");
        assert_eq!(fmt(json!(2.675), "0.00"), "2.67");
        assert_eq!(fmt(json!(-42), "0000"), "-0042");
        assert_eq!(fmt(json!(0.256), "#%"), "26%");
        assert_eq!(fmt(json!(12345), "0.###E0"), "1.234E4");
        assert_eq!(fmt(json!(-5), "#;(#)"), "(5)");
        assert_eq!(fmt(json!(1234.5), "'$'#,##0.00"), "$1,234.50");
    }

    #[test]
    fn create_numbers() {
        assert_eq!(create_number("12"), Some(json!(12)));
        assert_eq!(create_number("12.3"), Some(json!(12.3)));
        assert_eq!(create_number("0x1A"), Some(json!(26)));
        assert_eq!(create_number("12L"), Some(json!(12)));
        assert_eq!(create_number("1e3"), Some(json!(1000.0)));
        assert_eq!(create_number("abc"), None);
        assert_eq!(create_number(" 1"), None);
    }
}

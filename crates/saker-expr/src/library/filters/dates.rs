//! `date`, `dateAdd`, `timestamp*` filters and the shared date conversion (Kestra's
//! `AbstractDate`): argument order `format, timeZone, existingFormat, locale`.

use chrono::DateTime;

use crate::library::java_date::{self, Zdt, Zone};
use crate::library::util::{arg_str, class_name, req_i64, req_str};
use crate::{Args, Call, Error, Result, Value};

/// The date arguments, at positions `base..base+4` (dateAdd puts `amount, unit` first).
pub(crate) struct DateArgs<'a> {
    pub(crate) format: &'a str,
    pub(crate) zone: Zone,
    pub(crate) existing: Option<&'a str>,
}

pub(crate) fn date_args<'a>(args: &'a Args, base: usize, name: &str) -> Result<DateArgs<'a>> {
    let format = arg_str(args, base, "format", name)?.unwrap_or("iso");
    let zone = match arg_str(args, base + 1, "timeZone", name)? {
        Some(id) => Zone::parse(id)?,
        None => Zone::DEFAULT,
    };
    let existing = arg_str(args, base + 2, "existingFormat", name)?;
    // Only English names are produced; a locale argument is still type-checked.
    arg_str(args, base + 3, "locale", name)?;
    java_date::validate(format)?;
    Ok(DateArgs {
        format,
        zone,
        existing,
    })
}

/// Epoch numbers: 13 digits are millis; 19 digits are nanos when ending in `000`, else Kestra
/// reads `seconds * 1e9 + micros` (its quirk); anything else is seconds.
fn from_epoch(n: i64, zone: Zone) -> Result<Zdt> {
    let digits = n.unsigned_abs().to_string().len();
    let nanos: i128 = match digits {
        13 => i128::from(n) * 1_000_000,
        19 if n % 1000 == 0 => i128::from(n),
        19 => i128::from(n / 1_000_000_000) * 1_000_000_000 + i128::from(n % 1_000_000_000) * 1000,
        _ => i128::from(n) * 1_000_000_000,
    };
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000))
        .map_err(|_| Error::msg(format!("Instant exceeds minimum or maximum instant: {n}")))?;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    let utc = DateTime::from_timestamp(secs, sub)
        .ok_or_else(|| Error::msg(format!("Instant exceeds minimum or maximum instant: {n}")))?;
    Ok(Zdt::from_utc(utc.naive_utc(), zone))
}

/// Kestra's `convert`: epoch numbers, or strings parsed as zoned → local date-time (in `zone`)
/// → local date (start of day in `zone`), with `existingFormat` when given.
pub(crate) fn to_zdt(input: &Value, zone: Zone, existing: Option<&str>) -> Result<Zdt> {
    match input {
        Value::Number(n) => match n.as_i64() {
            Some(i) => from_epoch(i, zone),
            None => Err(Error::msg(format!(
                "Unable to convert a {} to a date, expected a Long epoch or a string",
                class_name(input)
            ))),
        },
        Value::String(s) => {
            let parsed = match existing {
                Some(f) => java_date::parse_with(s, f)?,
                None => java_date::parse_iso(s).ok_or_else(|| {
                    Error::msg(format!("Text '{s}' could not be parsed at index 0"))
                })?,
            };
            let date = parsed.date().ok_or_else(|| {
                Error::msg(format!("Text '{s}' could not be parsed: no date in it"))
            })?;
            match parsed.time() {
                Some(t) => {
                    let local = date.and_time(t);
                    Ok(parsed
                        .zoned(local)
                        .unwrap_or_else(|| Zdt::from_local(local, zone, None)))
                }
                None => Ok(Zdt::from_local(
                    date.and_hms_opt(0, 0, 0).unwrap_or_default(),
                    zone,
                    None,
                )),
            }
        }
        other => Err(Error::msg(format!(
            "Unable to convert a {} to a date, expected a Long epoch or a string",
            class_name(other)
        ))),
    }
}

fn format_date(input: &Value, a: &DateArgs<'_>) -> Result<Value> {
    let zdt = to_zdt(input, a.zone, a.existing)?;
    java_date::format(&zdt.with_zone(a.zone), a.format).map(Value::String)
}

pub(crate) fn date(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    format_date(input, &date_args(args, 0, "date")?)
}

pub(crate) fn date_add(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    if input.is_null() {
        return Ok(Value::Null);
    }
    let amount = req_i64(args, 0, "amount", "dateAdd")?;
    let unit = req_str(args, 1, "unit", "dateAdd")?;
    let a = date_args(args, 2, "dateAdd")?;
    let zdt = to_zdt(input, a.zone, a.existing)?.plus(amount, unit)?;
    java_date::format(&zdt.with_zone(a.zone), a.format).map(Value::String)
}

fn epoch_nanos(input: &Value, args: &Args, name: &str) -> Result<Option<i128>> {
    if input.is_null() {
        return Ok(None);
    }
    let a = date_args(args, 0, name)?;
    Ok(Some(to_zdt(input, a.zone, a.existing)?.epoch_nanos()))
}

pub(crate) fn timestamp(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    Ok(epoch_nanos(input, args, "timestamp")?
        .map(|n| Value::from(n.div_euclid(1_000_000_000) as i64))
        .unwrap_or(Value::Null))
}

pub(crate) fn timestamp_milli(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    Ok(epoch_nanos(input, args, "timestampMilli")?
        .map(|n| Value::from(n.div_euclid(1_000_000) as i64))
        .unwrap_or(Value::Null))
}

pub(crate) fn timestamp_micro(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    Ok(epoch_nanos(input, args, "timestampMicro")?
        .map(|n| Value::String(n.div_euclid(1000).to_string()))
        .unwrap_or(Value::Null))
}

pub(crate) fn timestamp_nano(_: &Call<'_>, input: &Value, args: &Args) -> Result<Value> {
    Ok(epoch_nanos(input, args, "timestampNano")?
        .map(|n| Value::String(n.to_string()))
        .unwrap_or(Value::Null))
}

/// `now(format, timeZone, existingFormat, locale)`: the services' clock, formatted.
pub(crate) fn now(call: &Call<'_>, args: &Args) -> Result<Value> {
    let a = date_args(args, 0, "now")?;
    let zdt = Zdt::from_fixed(call.services.now()).with_zone(a.zone);
    java_date::format(&zdt, a.format).map(Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, NoServices};
    use serde_json::json;

    fn run(
        f: crate::FilterFn,
        input: Value,
        pos: Vec<Value>,
        named: Vec<(&str, Value)>,
    ) -> Result<Value> {
        let engine = Engine::empty();
        let call = Call {
            engine: &engine,
            scope: &Value::Null,
            services: &NoServices,
        };
        let args = Args {
            positional: pos,
            named: named.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        f(&call, &input, &args)
    }

    #[test]
    fn kestra_date_examples() {
        let paris = || vec![("timeZone", json!("Europe/Paris"))];
        let d = |i: Value, f: &str| {
            let mut n = paris();
            n.push(("format", json!(f)));
            run(date, i, vec![], n).unwrap()
        };
        assert_eq!(
            d(json!(1378653552), "iso_sec"),
            json!("2013-09-08T17:19:12+02:00")
        );
        assert_eq!(
            d(json!(1378653552123_i64), "iso_milli"),
            json!("2013-09-08T17:19:12.123+02:00")
        );
        assert_eq!(
            d(json!(1378653552123456000_i64), "iso"),
            json!("2013-09-08T17:19:12.123456+02:00")
        );
        assert_eq!(
            d(json!(1378653552000123456_i64), "sql"),
            json!("2013-09-08 17:19:12.123456")
        );
        assert_eq!(
            d(json!("2013-09-08T17:19:12"), "iso"),
            json!("2013-09-08T17:19:12.000000+02:00")
        );
        assert_eq!(
            d(json!("2013-09-08"), "iso"),
            json!("2013-09-08T00:00:00.000000+02:00")
        );
        let r = run(
            date,
            json!("July 24, 2001"),
            vec![json!("yyyy-MM-dd")],
            vec![("existingFormat", json!("MMMM dd, yyyy"))],
        );
        assert_eq!(r.unwrap(), json!("2001-07-24"));
        let r = run(
            date,
            json!("Tue, 08 Feb 2022 19:38:26 GMT"),
            vec![],
            vec![
                ("existingFormat", json!("rfc_1123_date_time")),
                ("timeZone", json!("Europe/Paris")),
            ],
        );
        assert_eq!(r.unwrap(), json!("2022-02-08T20:38:26.000000+01:00"));
        assert_eq!(run(date, Value::Null, vec![], vec![]).unwrap(), Value::Null);
        assert!(run(date, json!("nope"), vec![], vec![]).is_err());
        assert!(run(date, json!(1.5), vec![], vec![]).is_err());
    }

    #[test]
    fn timestamps_and_add() {
        let z = json!("2013-09-08T16:19:12.123456+01:00");
        assert_eq!(
            run(timestamp, z.clone(), vec![], vec![]).unwrap(),
            json!(1378653552)
        );
        assert_eq!(
            run(timestamp_milli, z.clone(), vec![], vec![]).unwrap(),
            json!(1378653552123_i64)
        );
        assert_eq!(
            run(timestamp_micro, z.clone(), vec![], vec![]).unwrap(),
            json!("1378653552123456")
        );
        assert_eq!(
            run(timestamp_nano, z.clone(), vec![], vec![]).unwrap(),
            json!("1378653552123456000")
        );
        let r = run(
            date_add,
            z,
            vec![json!(-1), json!("DAYS")],
            vec![("timeZone", json!("Europe/Paris"))],
        );
        assert_eq!(r.unwrap(), json!("2013-09-07T17:19:12.123456+02:00"));
    }
}

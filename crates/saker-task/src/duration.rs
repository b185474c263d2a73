//! ISO-8601 durations as Kestra (Java's `Duration`) writes them: `PT1S`, `P1D`, `PT0.5S`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A non-negative duration parsed from ISO-8601 (`P[nD][T[nH][nM][n[.f]S]]`, case-insensitive,
/// as Java's `Duration.parse`) or from a number of seconds (Jackson accepts both).
/// Displays back in Java's canonical form (`PT24H` for `P1D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IsoDuration(pub Duration);

/// Why a string is not an ISO-8601 duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ISO-8601 duration \"{input}\" (expected e.g. PT30S, PT1H30M, P1D): {reason}")]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

impl IsoDuration {
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl From<Duration> for IsoDuration {
    fn from(duration: Duration) -> Self {
        IsoDuration(duration)
    }
}

impl FromStr for IsoDuration {
    type Err = ParseDurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason| ParseDurationError {
            input: input.to_owned(),
            reason,
        };
        let upper = input.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix('+').unwrap_or(&upper);
        if rest.starts_with('-') {
            return Err(error("negative durations are not supported"));
        }
        let rest = rest
            .strip_prefix('P')
            .ok_or_else(|| error("must start with 'P'"))?;
        let (date, time) = match rest.split_once('T') {
            Some((_, "")) => return Err(error("empty time part after 'T'")),
            Some((date, time)) => (date, Some(time)),
            None => (rest, None),
        };
        if date.is_empty() && time.is_none() {
            return Err(error("no value after 'P'"));
        }
        let mut nanos: u128 = 0;
        let mut parse_part =
            |part: &str, units: &[(char, u128)]| -> Result<(), ParseDurationError> {
                let mut remaining = part;
                let mut last_unit = None;
                while !remaining.is_empty() {
                    let end = remaining
                        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                        .ok_or_else(|| error("number without a unit"))?;
                    let (number, after) = remaining.split_at(end);
                    let unit = after.chars().next().expect("find returned a char position");
                    let position = units
                        .iter()
                        .position(|(u, _)| *u == unit)
                        .ok_or_else(|| error("unknown or misplaced unit"))?;
                    if last_unit.is_some_and(|last| position <= last) {
                        return Err(error("units out of order or repeated"));
                    }
                    last_unit = Some(position);
                    let factor = units[position].1;
                    let (whole, fraction) = match number.split_once(['.', ',']) {
                        Some((whole, fraction)) => (whole, fraction),
                        None => (number, ""),
                    };
                    if whole.is_empty() {
                        return Err(error("missing number"));
                    }
                    if !fraction.is_empty() && unit != 'S' {
                        return Err(error("fractions are only allowed on seconds"));
                    }
                    if fraction.len() > 9 {
                        return Err(error("more than 9 fraction digits"));
                    }
                    let whole: u128 = whole.parse().map_err(|_| error("number too large"))?;
                    let fraction_nanos: u128 = if fraction.is_empty() {
                        0
                    } else {
                        format!("{fraction:0<9}")
                            .parse()
                            .map_err(|_| error("invalid fraction"))?
                    };
                    nanos = whole
                        .checked_mul(factor)
                        .and_then(|n| n.checked_add(nanos + fraction_nanos))
                        .ok_or_else(|| error("number too large"))?;
                    remaining = &after[unit.len_utf8()..];
                }
                Ok(())
            };
        const SECOND: u128 = 1_000_000_000;
        parse_part(date, &[('D', 86_400 * SECOND)])?;
        if let Some(time) = time {
            parse_part(
                time,
                &[('H', 3_600 * SECOND), ('M', 60 * SECOND), ('S', SECOND)],
            )?;
        }
        let secs = u64::try_from(nanos / SECOND).map_err(|_| error("number too large"))?;
        Ok(IsoDuration(Duration::new(secs, (nanos % SECOND) as u32)))
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        if total == 0 && nanos == 0 {
            return f.write_str("PT0S");
        }
        f.write_str("PT")?;
        let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
        if hours > 0 {
            write!(f, "{hours}H")?;
        }
        if minutes > 0 {
            write!(f, "{minutes}M")?;
        }
        if seconds > 0 || nanos > 0 {
            write!(f, "{seconds}")?;
            if nanos > 0 {
                let fraction = format!("{nanos:09}");
                write!(f, ".{}", fraction.trim_end_matches('0'))?;
            }
            f.write_str("S")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = IsoDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO-8601 duration such as PT30S or a number of seconds")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<IsoDuration, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IsoDuration, E> {
                Ok(IsoDuration(Duration::from_secs(v)))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IsoDuration, E> {
                u64::try_from(v)
                    .map(|secs| IsoDuration(Duration::from_secs(secs)))
                    .map_err(|_| E::custom("negative durations are not supported"))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<IsoDuration, E> {
                Duration::try_from_secs_f64(v)
                    .map(IsoDuration)
                    .map_err(E::custom)
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for IsoDuration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "IsoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "duration",
            "description": "ISO-8601 duration, e.g. PT30S, PT1H30M, P1D"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Duration {
        s.parse::<IsoDuration>()
            .unwrap_or_else(|error| panic!("{error}"))
            .0
    }

    #[test]
    fn parses_java_forms() {
        assert_eq!(parse("PT1S"), Duration::from_secs(1));
        assert_eq!(parse("P1D"), Duration::from_secs(86_400));
        assert_eq!(parse("PT0.5S"), Duration::from_millis(500));
        assert_eq!(parse("pt1h30m"), Duration::from_secs(5_400));
        assert_eq!(
            parse("P2DT3H4M5.006S"),
            Duration::new(2 * 86_400 + 3 * 3_600 + 4 * 60 + 5, 6_000_000)
        );
        assert_eq!(parse("PT0,25S"), Duration::from_millis(250));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "P", "PT", "1S", "PT1", "PT1X", "P1H", "PT1M1H", "PT1.5M", "-PT1S", "P1Y", "PT.5S",
        ] {
            assert!(
                bad.parse::<IsoDuration>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        let error = "PT1X".parse::<IsoDuration>().unwrap_err().to_string();
        assert!(error.contains("PT1X"), "{error}");
    }

    #[test]
    fn displays_like_java() {
        let show = |s: &str| s.parse::<IsoDuration>().unwrap().to_string();
        assert_eq!(show("P1D"), "PT24H");
        assert_eq!(show("PT90S"), "PT1M30S");
        assert_eq!(show("PT0.5S"), "PT0.5S");
        assert_eq!(show("PT0S"), "PT0S");
        assert_eq!(show("PT1H0.001S"), "PT1H0.001S");
    }

    #[test]
    fn deserializes_strings_and_seconds() {
        let d: IsoDuration = serde_json::from_value(serde_json::json!("PT2M")).unwrap();
        assert_eq!(d.0, Duration::from_secs(120));
        let d: IsoDuration = serde_json::from_value(serde_json::json!(1.5)).unwrap();
        assert_eq!(d.0, Duration::from_millis(1_500));
        assert!(serde_json::from_value::<IsoDuration>(serde_json::json!(-1)).is_err());
    }
}

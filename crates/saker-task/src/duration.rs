//! ISO-8601 durations of plugin properties, as Kestra (Java's `Duration`) writes them: `PT1S`,
//! `P1D`, `PT0.5S`.
//!
//! The syntax and the printing are [`saker_core::duration`]'s; what properties add on top is
//! here: a std [`Duration`] (so never negative), surrounding white space ignored, and a plain
//! number of seconds accepted when deserializing.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::TimeDelta;
use saker_core::duration::{format_duration, parse_duration};
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
        // Jackson trims duration strings before `Duration.parse`.
        let delta = parse_duration(input.trim()).map_err(|e| error(e.reason))?;
        delta
            .to_std()
            .map(IsoDuration)
            .map_err(|_| error("negative durations are not supported"))
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Ok(delta) = TimeDelta::from_std(self.0) {
            return f.write_str(&format_duration(delta));
        }
        // Beyond chrono's range (~292 million years): Java prints whole hours, then the rest.
        let (hours, secs) = (self.0.as_secs() / 3600, self.0.as_secs() % 3600);
        let rest = TimeDelta::new(secs as i64, self.0.subsec_nanos()).unwrap_or_default();
        let rest = format_duration(rest);
        let rest = rest.strip_prefix("PT").filter(|rest| *rest != "0S");
        write!(f, "PT{hours}H{}", rest.unwrap_or(""))
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
    fn trims_and_rejects_negative_results() {
        assert_eq!(parse(" PT1S\n"), Duration::from_secs(1));
        let error = "-PT1S".parse::<IsoDuration>().unwrap_err().to_string();
        assert!(error.contains("negative"), "{error}");
    }

    #[test]
    fn displays_beyond_chrono_range() {
        let show = |secs, nanos| IsoDuration(Duration::new(secs, nanos)).to_string();
        assert_eq!(show(u64::MAX, 500_000_000), "PT5124095576030431H15.5S");
        assert_eq!(show(u64::MAX - 15, 0), "PT5124095576030431H");
        assert_eq!(show(u64::MAX - 75, 0), "PT5124095576030430H59M");
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

//! Instants as Kestra's API prints them.
//!
//! Kestra serializes `java.time.Instant` with `DateTimeFormatter.ISO_INSTANT`: UTC, a `Z` suffix
//! and fractional seconds in groups of three digits (none, millis, micros or nanos), e.g.
//! `2025-01-06T09:00:00Z`, `2025-01-06T09:00:00.010Z`. The serde helpers here keep that exact
//! shape so our JSON compares equal to Kestra's.

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time (Kestra's `Instant`). Always UTC.
pub type Instant = DateTime<Utc>;

/// Formats like Java's `Instant.toString()`.
pub fn format_instant(instant: &Instant) -> String {
    // AutoSi prints 0, 3, 6 or 9 fractional digits, exactly like ISO_INSTANT.
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 / ISO-8601 date-time with an offset and converts it to UTC.
pub fn parse_instant(text: &str) -> Result<Instant, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|date| date.with_timezone(&Utc))
}

/// `#[serde(with = "saker_core::time::iso")]` for an [`Instant`] field.
pub mod iso {
    use super::{Instant, format_instant, parse_instant};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(instant: &Instant, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_instant(instant))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Instant, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse_instant(&text).map_err(|e| D::Error::custom(format!("invalid instant {text:?}: {e}")))
    }
}

/// `#[serde(with = "saker_core::time::iso_option")]` for an `Option<Instant>` field; pair it
/// with `skip_serializing_if = "Option::is_none"` and `default` to omit nulls like Kestra.
pub mod iso_option {
    use super::{Instant, format_instant, parse_instant};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        instant: &Option<Instant>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => serializer.serialize_str(&format_instant(instant)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Instant>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)?;
        text.map(|text| {
            parse_instant(&text)
                .map_err(|e| D::Error::custom(format!("invalid instant {text:?}: {e}")))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_like_java_iso_instant() {
        let base = Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap();
        assert_eq!(format_instant(&base), "2025-01-06T09:00:00Z");
        let millis = base + chrono::TimeDelta::milliseconds(10);
        assert_eq!(format_instant(&millis), "2025-01-06T09:00:00.010Z");
        let micros = base + chrono::TimeDelta::microseconds(10_500);
        assert_eq!(format_instant(&micros), "2025-01-06T09:00:00.010500Z");
        let nanos = base + chrono::TimeDelta::nanoseconds(1);
        assert_eq!(format_instant(&nanos), "2025-01-06T09:00:00.000000001Z");
    }

    #[test]
    fn parses_offsets_to_utc() {
        let parsed = parse_instant("2025-01-06T10:00:00.5+01:00").unwrap();
        assert_eq!(format_instant(&parsed), "2025-01-06T09:00:00.500Z");
        assert!(parse_instant("2025-01-06 09:00").is_err());
    }
}

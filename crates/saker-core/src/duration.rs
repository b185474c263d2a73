//! ISO-8601 durations with the exact behaviour of Java's `java.time.Duration`.
//!
//! Kestra prints every duration (state durations, task `timeout`, retry intervals, pause
//! durations) with `Duration.toString()` and reads them with `Duration.parse()`, so:
//! * printing uses only hours, minutes and seconds (`PT36H`, never `P1DT12H`), strips trailing
//!   zeros of the fraction (`PT0.5S`) and prints zero as `PT0S`;
//! * parsing accepts `[-+]P[nD][T[nH][nM][n[.fffffffff]S]]`, case-insensitively, with a sign on
//!   each number, where a day is exactly 24 hours; weeks, months and years are rejected.
//!
//! Values are [`chrono::TimeDelta`]; [`IsoDuration`] wraps one for serde fields.

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Text cannot be parsed to a Duration: {text:?} ({reason})")]
pub struct DurationParseError {
    pub text: String,
    pub reason: &'static str,
}

/// Formats like Java's `Duration.toString()`.
pub fn format_duration(duration: TimeDelta) -> String {
    // Java keeps (seconds, nanos) with nanos in [0, 1e9) and seconds floored.
    let total_nanos =
        i128::from(duration.num_seconds()) * NANOS_PER_SECOND + i128::from(duration.subsec_nanos());
    let seconds = total_nanos.div_euclid(NANOS_PER_SECOND);
    let nanos = total_nanos.rem_euclid(NANOS_PER_SECOND);
    if seconds == 0 && nanos == 0 {
        return "PT0S".to_owned();
    }
    // A negative value with a fraction is printed from the truncated (not floored) seconds.
    let effective = if seconds < 0 && nanos > 0 {
        seconds + 1
    } else {
        seconds
    };
    let hours = effective / 3600;
    let minutes = (effective % 3600) / 60;
    let secs = effective % 60;
    let mut out = String::from("PT");
    if hours != 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes != 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if secs == 0 && nanos == 0 && out.len() > 2 {
        return out;
    }
    if seconds < 0 && nanos > 0 && secs == 0 {
        out.push_str("-0");
    } else {
        out.push_str(&secs.to_string());
    }
    if nanos > 0 {
        let fraction = if seconds < 0 {
            NANOS_PER_SECOND - nanos
        } else {
            nanos
        };
        let digits = format!("{fraction:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('S');
    out
}

/// Parses like Java's `Duration.parse()`.
pub fn parse_duration(text: &str) -> Result<TimeDelta, DurationParseError> {
    let error = |reason| DurationParseError {
        text: text.to_owned(),
        reason,
    };
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let negate = scanner.sign();
    if !scanner.eat_ci(b'P') {
        return Err(error("must start with P"));
    }
    let mut total: i128 = 0;
    let mut any_section = false;
    if !scanner.at_end() && !scanner.peek_ci(b'T') {
        let days = scanner
            .number()
            .ok_or_else(|| error("expected a number of days"))?;
        if !scanner.eat_ci(b'D') {
            return Err(error("only days (D) may precede T"));
        }
        total += days * 86_400 * NANOS_PER_SECOND;
        any_section = true;
    }
    if scanner.eat_ci(b'T') {
        let mut time_section = false;
        for (unit, seconds) in [(b'H', 3600), (b'M', 60)] {
            let mark = scanner.pos;
            if let Some(value) = scanner.number()
                && scanner.eat_ci(unit)
            {
                total += value * seconds * NANOS_PER_SECOND;
                time_section = true;
                continue;
            }
            scanner.pos = mark;
        }
        if !scanner.at_end() {
            let seconds_negative = scanner.peek(b'-');
            let seconds = scanner.number().ok_or_else(|| error("expected a number"))?;
            let mut fraction: i128 = 0;
            if scanner.eat(b'.') || scanner.eat(b',') {
                let start = scanner.pos;
                while scanner.pos < scanner.bytes.len()
                    && scanner.bytes[scanner.pos].is_ascii_digit()
                {
                    scanner.pos += 1;
                }
                let digits = &text[start..scanner.pos];
                if digits.len() > 9 {
                    return Err(error("at most 9 fractional digits"));
                }
                if !digits.is_empty() {
                    let padded = format!("{digits:0<9}");
                    fraction = padded.parse::<i128>().map_err(|_| error("bad fraction"))?;
                }
            }
            if !scanner.eat_ci(b'S') {
                return Err(error("unknown unit"));
            }
            total += seconds * NANOS_PER_SECOND
                + if seconds_negative {
                    -fraction
                } else {
                    fraction
                };
            time_section = true;
        }
        if !time_section {
            return Err(error("T must be followed by a time section"));
        }
        any_section = true;
    }
    if !scanner.at_end() {
        return Err(error("unexpected trailing text"));
    }
    if !any_section {
        return Err(error("no section"));
    }
    if negate {
        total = -total;
    }
    delta_from_nanos(total).ok_or_else(|| error("out of range"))
}

/// Formats a duration as `HH:mm:ss.SSS` (Apache commons `formatDurationHMS`), the form Kestra
/// puts in log lines such as "Flow completed with state SUCCESS in 00:00:02.250".
pub fn format_hms(duration: TimeDelta) -> String {
    let millis = duration.num_milliseconds().max(0);
    let hours = millis / 3_600_000;
    let minutes = (millis / 60_000) % 60;
    let seconds = (millis / 1000) % 60;
    format!("{hours:02}:{minutes:02}:{seconds:02}.{:03}", millis % 1000)
}

fn delta_from_nanos(total: i128) -> Option<TimeDelta> {
    let seconds = i64::try_from(total.div_euclid(NANOS_PER_SECOND)).ok()?;
    let nanos = u32::try_from(total.rem_euclid(NANOS_PER_SECOND)).ok()?;
    TimeDelta::new(seconds, nanos)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self, byte: u8) -> bool {
        self.bytes.get(self.pos) == Some(&byte)
    }

    fn peek_ci(&self, byte: u8) -> bool {
        self.bytes
            .get(self.pos)
            .is_some_and(|b| b.eq_ignore_ascii_case(&byte))
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek(byte);
        self.pos += usize::from(found);
        found
    }

    fn eat_ci(&mut self, byte: u8) -> bool {
        let found = self.peek_ci(byte);
        self.pos += usize::from(found);
        found
    }

    /// An optional sign; returns true for `-`.
    fn sign(&mut self) -> bool {
        if self.eat(b'-') {
            return true;
        }
        self.eat(b'+');
        false
    }

    /// `[-+]?[0-9]+` fitting an i64, restoring the position otherwise.
    fn number(&mut self) -> Option<i128> {
        let start = self.pos;
        let negative = self.sign();
        let digits_start = self.pos;
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        // Java parses each number as a long; larger values are rejected, not wrapped.
        let value = std::str::from_utf8(&self.bytes[digits_start..self.pos])
            .ok()
            .and_then(|digits| digits.parse::<i64>().ok());
        let Some(value) = value else {
            self.pos = start;
            return None;
        };
        let value = i128::from(value);
        Some(if negative { -value } else { value })
    }
}

/// A [`TimeDelta`] that serializes as an ISO-8601 string (`PT1M30S`).
///
/// Deserialization also accepts a JSON number of seconds (with fraction), which is what
/// Jackson's `DurationDeserializer` does with numeric tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IsoDuration(pub TimeDelta);

impl IsoDuration {
    pub fn as_delta(self) -> TimeDelta {
        self.0
    }
}

impl From<TimeDelta> for IsoDuration {
    fn from(delta: TimeDelta) -> Self {
        IsoDuration(delta)
    }
}

impl From<IsoDuration> for TimeDelta {
    fn from(duration: IsoDuration) -> Self {
        duration.0
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl FromStr for IsoDuration {
    type Err = DurationParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_duration(text).map(IsoDuration)
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl de::Visitor<'_> for Visitor {
            type Value = IsoDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO-8601 duration such as PT1M30S, or a number of seconds")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<IsoDuration, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<IsoDuration, E> {
                TimeDelta::try_seconds(seconds)
                    .map(IsoDuration)
                    .ok_or_else(|| E::custom("duration out of range"))
            }

            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<IsoDuration, E> {
                let seconds = i64::try_from(seconds).map_err(E::custom)?;
                self.visit_i64(seconds)
            }

            fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<IsoDuration, E> {
                let nanos = (seconds * 1e9).round();
                if !nanos.is_finite() || nanos.abs() > 9.0e27 {
                    return Err(E::custom("duration out of range"));
                }
                // The bound above keeps the cast exact enough and inside i128.
                delta_from_nanos(nanos as i128)
                    .map(IsoDuration)
                    .ok_or_else(|| E::custom("duration out of range"))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: i64) -> TimeDelta {
        TimeDelta::milliseconds(millis)
    }

    #[test]
    fn formats_like_java() {
        assert_eq!(format_duration(TimeDelta::zero()), "PT0S");
        assert_eq!(format_duration(ms(1000)), "PT1S");
        assert_eq!(format_duration(ms(500)), "PT0.5S");
        assert_eq!(format_duration(ms(123)), "PT0.123S");
        assert_eq!(format_duration(ms(3_720_000)), "PT1H2M");
        assert_eq!(format_duration(ms(86_400_000)), "PT24H");
        assert_eq!(format_duration(ms(90_061_010)), "PT25H1M1.01S");
        assert_eq!(format_duration(TimeDelta::nanoseconds(1)), "PT0.000000001S");
        assert_eq!(format_duration(ms(60_000)), "PT1M");
        assert_eq!(format_duration(ms(3_600_500)), "PT1H0.5S");
    }

    #[test]
    fn formats_negative_like_java() {
        assert_eq!(format_duration(ms(-1000)), "PT-1S");
        assert_eq!(format_duration(ms(-500)), "PT-0.5S");
        assert_eq!(format_duration(ms(-1500)), "PT-1.5S");
        assert_eq!(format_duration(ms(-3_661_000)), "PT-1H-1M-1S");
    }

    #[test]
    fn parses_java_forms() {
        assert_eq!(parse_duration("PT1S").unwrap(), ms(1000));
        assert_eq!(parse_duration("PT0.5S").unwrap(), ms(500));
        assert_eq!(parse_duration("PT0,5S").unwrap(), ms(500));
        assert_eq!(parse_duration("PT1H2M").unwrap(), ms(3_720_000));
        assert_eq!(parse_duration("P1D").unwrap(), ms(86_400_000));
        assert_eq!(parse_duration("p1dt2h").unwrap(), ms(93_600_000));
        assert_eq!(parse_duration("-PT6H3M").unwrap(), ms(-21_780_000));
        assert_eq!(parse_duration("PT-6H3M").unwrap(), ms(-21_420_000));
        assert_eq!(parse_duration("PT-0.5S").unwrap(), ms(-500));
        assert_eq!(parse_duration("+PT1.S").unwrap(), ms(1000));
        assert_eq!(
            parse_duration("PT0.000000001S").unwrap(),
            TimeDelta::nanoseconds(1)
        );
    }

    #[test]
    fn rejects_what_java_rejects() {
        for text in [
            "",
            "P",
            "PT",
            "P1W",
            "P1M",
            "P1Y",
            "PT1",
            "1S",
            "PT1.0000000001S",
            "P1DT",
            "PT1S2M",
            "PTS",
            "PT1H ",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn p1d_prints_as_24_hours() {
        assert_eq!(format_duration(parse_duration("P1D").unwrap()), "PT24H");
    }

    #[test]
    fn round_trips() {
        for text in [
            "PT0S",
            "PT1S",
            "PT0.5S",
            "PT1H2M",
            "PT24H",
            "PT-0.5S",
            "PT1M0.001S",
        ] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn hms_for_logs() {
        assert_eq!(format_hms(ms(2250)), "00:00:02.250");
        assert_eq!(format_hms(ms(90_061_010)), "25:01:01.010");
    }

    #[test]
    fn serde_string_and_number() {
        let parsed: IsoDuration = serde_json::from_str("\"PT1M30S\"").unwrap();
        assert_eq!(parsed.0, ms(90_000));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"PT1M30S\"");
        let number: IsoDuration = serde_json::from_str("60").unwrap();
        assert_eq!(number.0, ms(60_000));
        let fraction: IsoDuration = serde_json::from_str("1.5").unwrap();
        assert_eq!(fraction.0, ms(1500));
        assert!(serde_json::from_str::<IsoDuration>("\"1 minute\"").is_err());
    }
}

//! Cron expressions of the Schedule trigger, evaluated in a time zone.
//!
//! Kestra parses with cron-utils (UNIX definition, or with a seconds field); croner accepts the
//! same syntax and handles daylight saving time like Vixie cron: a fixed-time job whose wall
//! time falls in a spring-forward gap runs right after the gap, one in a fall-back overlap runs
//! once (first pass); wildcard/step jobs skip the gap and run in both passes of an overlap.

use chrono::{SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use saker_core::Instant;

use crate::TriggerError;

/// A parsed cron with its zone.
#[derive(Debug, Clone)]
pub struct Cron {
    cron: croner::Cron,
    tz: Tz,
    source: String,
}

impl Cron {
    /// Parses like Kestra: 5 fields, 6 with `with_seconds`, or a nickname (`@hourly`, `@daily`,
    /// `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`). `timezone` defaults to UTC
    /// (Kestra's server default).
    pub fn new(
        expr: &str,
        with_seconds: bool,
        timezone: Option<&str>,
    ) -> Result<Cron, TriggerError> {
        let trimmed = expr.trim();
        let pattern = match trimmed.to_ascii_lowercase().as_str() {
            // croner lacks these two nicknames; cron-utils treats them as `@daily`/`@yearly`.
            "@midnight" => "@daily".to_owned(),
            "@annually" => "@yearly".to_owned(),
            _ => trimmed.to_owned(),
        };
        let invalid =
            |why: String| TriggerError::Invalid(format!("invalid cron expression '{expr}': {why}"));
        if !pattern.starts_with('@') {
            let fields = pattern.split_whitespace().count();
            let wanted = if with_seconds { 6 } else { 5 };
            if fields != wanted {
                return Err(invalid(format!("expected {wanted} fields, found {fields}")));
            }
        }
        let parser = CronParser::builder()
            .seconds(if with_seconds {
                Seconds::Required
            } else {
                Seconds::Optional
            })
            .build();
        let cron = parser.parse(&pattern).map_err(|e| invalid(e.to_string()))?;
        let tz = match timezone.map(str::trim).filter(|z| !z.is_empty()) {
            None => Tz::UTC,
            Some(zone) => zone
                .parse::<Tz>()
                .map_err(|_| TriggerError::Invalid(format!("invalid timezone '{zone}'")))?,
        };
        Ok(Cron {
            cron,
            tz,
            source: expr.to_owned(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: Instant) -> Option<Instant> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The first tick at or after `t` (Kestra's "next execution of `t - 1s`", ticks being
    /// whole seconds).
    pub fn at_or_after(&self, t: Instant) -> Option<Instant> {
        self.next_after(t - chrono::TimeDelta::seconds(1))
            .filter(|tick| *tick >= t)
            .or_else(|| self.next_after(t))
    }

    /// The last tick strictly before `t`.
    pub fn previous_before(&self, t: Instant) -> Option<Instant> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last tick at or before `t`.
    pub fn at_or_before(&self, t: Instant) -> Option<Instant> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// `t` as Kestra renders trigger dates: ISO-8601 with the zone's offset (`Z` for UTC).
    pub fn zoned(&self, t: Instant) -> String {
        zoned(self.tz, t)
    }
}

/// `t` in `tz`, ISO-8601 with offset, seconds precision unless sub-second.
pub fn zoned(tz: Tz, t: Instant) -> String {
    tz.from_utc_datetime(&t.naive_utc())
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use saker_core::time::parse_instant;

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    #[test]
    fn five_fields_nicknames_and_seconds() {
        let c = Cron::new("0 9 * * MON-FRI", false, None).unwrap();
        // 2025-01-04 is a Saturday.
        assert_eq!(
            c.next_after(at("2025-01-04T10:00:00Z")),
            Some(at("2025-01-06T09:00:00Z"))
        );
        for nick in ["@daily", "@midnight"] {
            let c = Cron::new(nick, false, None).unwrap();
            assert_eq!(
                c.next_after(at("2025-01-04T10:00:00Z")),
                Some(at("2025-01-05T00:00:00Z"))
            );
        }
        let c = Cron::new("@annually", false, None).unwrap();
        assert_eq!(
            c.next_after(at("2025-01-04T10:00:00Z")),
            Some(at("2026-01-01T00:00:00Z"))
        );
        let c = Cron::new("*/10 * * * * *", true, None).unwrap();
        assert_eq!(
            c.next_after(at("2025-01-04T10:00:05Z")),
            Some(at("2025-01-04T10:00:10Z"))
        );
        // Sunday is 0 and 7.
        let c = Cron::new("0 0 * * 7", false, None).unwrap();
        assert_eq!(
            c.next_after(at("2025-01-04T10:00:00Z")),
            Some(at("2025-01-05T00:00:00Z"))
        );
    }

    #[test]
    fn bad_crons_and_zones_are_refused() {
        let err = Cron::new("* * * *", false, None).unwrap_err().to_string();
        assert!(err.contains("invalid cron expression '* * * *'"), "{err}");
        assert!(Cron::new("0 * * * * *", false, None).is_err());
        assert!(Cron::new("* * * * *", true, None).is_err());
        assert!(Cron::new("61 * * * *", false, None).is_err());
        let err = Cron::new("* * * * *", false, Some("Mars/Olympus"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "invalid timezone 'Mars/Olympus'");
    }

    #[test]
    fn timezone_and_rendering() {
        let c = Cron::new("0 9 * * *", false, Some("Europe/Paris")).unwrap();
        let tick = c.next_after(at("2025-01-06T00:00:00Z")).unwrap();
        assert_eq!(tick, at("2025-01-06T08:00:00Z"));
        assert_eq!(c.zoned(tick), "2025-01-06T09:00:00+01:00");
        let utc = Cron::new("0 9 * * *", false, None).unwrap();
        assert_eq!(utc.zoned(tick), "2025-01-06T08:00:00Z");
    }

    #[test]
    fn daylight_saving_gap_and_overlap() {
        // Europe/Paris springs forward on 2025-03-30 at 02:00 → 03:00.
        let c = Cron::new("30 2 * * *", false, Some("Europe/Paris")).unwrap();
        let gap = c.next_after(at("2025-03-29T12:00:00Z")).unwrap();
        assert_eq!(c.zoned(gap), "2025-03-30T03:00:00+02:00");
        let after = c.next_after(gap).unwrap();
        assert_eq!(c.zoned(after), "2025-03-31T02:30:00+02:00");
        // Falls back on 2025-10-26 at 03:00 → 02:00: a fixed 02:30 runs once.
        let first = c.next_after(at("2025-10-25T12:00:00Z")).unwrap();
        assert_eq!(c.zoned(first), "2025-10-26T02:30:00+02:00");
        let next = c.next_after(first).unwrap();
        assert_eq!(c.zoned(next), "2025-10-27T02:30:00+01:00");
        // An hourly job runs through both passes of the repeated hour.
        let hourly = Cron::new("0 * * * *", false, Some("Europe/Paris")).unwrap();
        let mut t = at("2025-10-25T22:30:00Z");
        let mut seen = Vec::new();
        for _ in 0..4 {
            t = hourly.next_after(t).unwrap();
            seen.push(hourly.zoned(t));
        }
        assert_eq!(
            seen,
            [
                "2025-10-26T01:00:00+02:00",
                "2025-10-26T02:00:00+02:00",
                "2025-10-26T02:00:00+01:00",
                "2025-10-26T03:00:00+01:00"
            ]
        );
    }

    proptest! {
        /// next/previous are inverse and move strictly in their direction.
        #[test]
        fn next_and_previous_are_consistent(secs in 1_600_000_000i64..1_900_000_000, pick in 0usize..4) {
            let exprs = [("*/7 * * * *", None), ("0 9 * * MON-FRI", Some("Europe/Paris")),
                         ("30 2 * * *", Some("America/New_York")), ("15 */3 1,15 * *", None)];
            let (expr, tz) = exprs[pick];
            let c = Cron::new(expr, false, tz).unwrap();
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            let next = c.next_after(t).unwrap();
            prop_assert!(next > t);
            let prev = c.previous_before(next).unwrap();
            prop_assert!(prev < next);
            prop_assert!(prev <= t || c.next_after(prev) == Some(next));
            prop_assert_eq!(c.at_or_after(next), Some(next));
            prop_assert_eq!(c.at_or_before(next), Some(next));
        }
    }
}

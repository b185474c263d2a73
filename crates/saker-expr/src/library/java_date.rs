//! Java `DateTimeFormatter` compatibility: pattern letters (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`),
//! Kestra's named formats (`iso`, `sql`, `iso_instant`...), localized styles (English only), and
//! parsing with a pattern. Dates are held as [`Zdt`], the analogue of `ZonedDateTime`.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime,
    NaiveTime, Offset, TimeZone, Timelike,
};
use chrono_tz::{OffsetName, Tz};

use crate::{Error, Result};

/// `ZoneId`: a region (rules, may print `[Europe/Paris]`) or a fixed offset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Zone {
    Region(Tz),
    Offset(FixedOffset),
}

impl Zone {
    /// The server zone used when no `timeZone` is given.
    pub(crate) const DEFAULT: Zone = Zone::Region(Tz::UTC);

    /// `ZoneId.of(id)`.
    pub(crate) fn parse(id: &str) -> Result<Zone> {
        if id == "Z" {
            return Ok(Zone::Offset(utc_offset()));
        }
        if id.starts_with('+') || id.starts_with('-') {
            return parse_offset_id(id).map(Zone::Offset).ok_or_else(|| {
                Error::msg(format!("Invalid ID for ZoneOffset, invalid format: {id}"))
            });
        }
        for prefix in ["UTC", "GMT", "UT"] {
            if let Some(rest) = id.strip_prefix(prefix)
                && (rest.starts_with('+') || rest.starts_with('-'))
            {
                return parse_offset_id(rest).map(Zone::Offset).ok_or_else(|| {
                    Error::msg(format!("Invalid ID for offset-based ZoneId: {id}"))
                });
            }
        }
        if id == "UT" {
            return Ok(Zone::Region(Tz::UTC));
        }
        id.parse::<Tz>()
            .map(Zone::Region)
            .map_err(|_| Error::msg(format!("Unknown time-zone ID: {id}")))
    }

    pub(crate) fn id(&self) -> String {
        match self {
            Zone::Region(tz) => tz.name().to_string(),
            Zone::Offset(o) => offset_id(*o),
        }
    }

    fn offset_at(&self, utc: &NaiveDateTime) -> FixedOffset {
        match self {
            Zone::Region(tz) => tz.offset_from_utc_datetime(utc).fix(),
            Zone::Offset(o) => *o,
        }
    }

    /// Short zone name (`z`): `CEST`, `UTC`; an offset zone prints its id.
    fn short_name(&self, utc: &NaiveDateTime) -> String {
        match self {
            Zone::Region(tz) => {
                let off = tz.offset_from_utc_datetime(utc);
                off.abbreviation()
                    .map(str::to_string)
                    .unwrap_or_else(|| offset_id(off.fix()))
            }
            Zone::Offset(o) => offset_id(*o),
        }
    }

    /// Long zone name (`zzzz`) for the common abbreviations; others fall back to the short one.
    fn long_name(&self, utc: &NaiveDateTime) -> String {
        let short = self.short_name(utc);
        let long = match short.as_str() {
            "UTC" => "Coordinated Universal Time",
            "GMT" => "Greenwich Mean Time",
            "BST" => "British Summer Time",
            "CET" => "Central European Standard Time",
            "CEST" => "Central European Summer Time",
            "EET" => "Eastern European Standard Time",
            "EEST" => "Eastern European Summer Time",
            "WET" => "Western European Standard Time",
            "WEST" => "Western European Summer Time",
            "EST" => "Eastern Standard Time",
            "EDT" => "Eastern Daylight Time",
            "CST" => "Central Standard Time",
            "CDT" => "Central Daylight Time",
            "MST" => "Mountain Standard Time",
            "MDT" => "Mountain Daylight Time",
            "PST" => "Pacific Standard Time",
            "PDT" => "Pacific Daylight Time",
            "JST" => "Japan Standard Time",
            "IST" => "India Standard Time",
            _ => return short,
        };
        long.to_string()
    }
}

fn utc_offset() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset")
}

/// `+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`, `+hhmmss`.
fn parse_offset_id(s: &str) -> Option<FixedOffset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let digits: String = body.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() {
        return None;
    }
    let (h, m, sec) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?, 0),
        6 => (
            digits[..2].parse().ok()?,
            digits[2..4].parse().ok()?,
            digits[4..].parse().ok()?,
        ),
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + sec))
}

/// `ZoneOffset.getId()`: `Z`, `+01:00`, `-05:30`, `+01:00:30`.
pub(crate) fn offset_id(o: FixedOffset) -> String {
    let secs = o.local_minus_utc();
    if secs == 0 {
        return "Z".into();
    }
    let (sign, a) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s != 0 {
        format!("{sign}{h:02}:{m:02}:{s:02}")
    } else {
        format!("{sign}{h:02}:{m:02}")
    }
}

/// A `ZonedDateTime`: an instant, its offset, and the zone it is expressed in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Zdt {
    pub(crate) utc: NaiveDateTime,
    pub(crate) offset: FixedOffset,
    pub(crate) zone: Zone,
}

impl Zdt {
    pub(crate) fn from_utc(utc: NaiveDateTime, zone: Zone) -> Zdt {
        Zdt {
            utc,
            offset: zone.offset_at(&utc),
            zone,
        }
    }

    pub(crate) fn from_fixed(dt: DateTime<FixedOffset>) -> Zdt {
        Zdt {
            utc: dt.naive_utc(),
            offset: *dt.offset(),
            zone: Zone::Offset(*dt.offset()),
        }
    }

    /// `ZonedDateTime.ofLocal`: overlaps keep `preferred` when valid (else the earlier offset),
    /// gaps move the local time forward by the gap length.
    pub(crate) fn from_local(
        local: NaiveDateTime,
        zone: Zone,
        preferred: Option<FixedOffset>,
    ) -> Zdt {
        match zone {
            Zone::Offset(o) => Zdt {
                utc: local - Duration::seconds(o.local_minus_utc().into()),
                offset: o,
                zone,
            },
            Zone::Region(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(dt) => Zdt {
                    utc: dt.naive_utc(),
                    offset: dt.offset().fix(),
                    zone,
                },
                LocalResult::Ambiguous(a, b) => {
                    let pick = if Some(b.offset().fix()) == preferred {
                        b
                    } else {
                        a
                    };
                    Zdt {
                        utc: pick.naive_utc(),
                        offset: pick.offset().fix(),
                        zone,
                    }
                }
                LocalResult::None => {
                    let before = tz
                        .offset_from_utc_datetime(&(local - Duration::days(1)))
                        .fix();
                    let utc = local - Duration::seconds(before.local_minus_utc().into());
                    Zdt::from_utc(utc, zone)
                }
            },
        }
    }

    pub(crate) fn local(&self) -> NaiveDateTime {
        self.utc + Duration::seconds(self.offset.local_minus_utc().into())
    }

    pub(crate) fn with_zone(self, zone: Zone) -> Zdt {
        Zdt::from_utc(self.utc, zone)
    }

    pub(crate) fn epoch_nanos(&self) -> i128 {
        let secs = self.utc.and_utc().timestamp() as i128;
        secs * 1_000_000_000 + self.utc.nanosecond() as i128
    }

    /// `ZonedDateTime.plus(amount, ChronoUnit.valueOf(unit))`.
    pub(crate) fn plus(self, amount: i64, unit: &str) -> Result<Zdt> {
        let overflow = || Error::msg("date arithmetic overflow");
        let instant = |d: Option<Duration>| -> Result<Zdt> {
            let d = d.ok_or_else(overflow)?;
            Ok(Zdt::from_utc(
                self.utc.checked_add_signed(d).ok_or_else(overflow)?,
                self.zone,
            ))
        };
        let local = self.local();
        let months = |m: Option<i64>| -> Result<Zdt> {
            let m = m.ok_or_else(overflow)?;
            let shifted = if m >= 0 {
                local.checked_add_months(Months::new(u32::try_from(m).map_err(|_| overflow())?))
            } else {
                local.checked_sub_months(Months::new(u32::try_from(-m).map_err(|_| overflow())?))
            };
            Ok(Zdt::from_local(
                shifted.ok_or_else(overflow)?,
                self.zone,
                Some(self.offset),
            ))
        };
        let days = |d: Option<i64>| -> Result<Zdt> {
            let d = Duration::try_days(d.ok_or_else(overflow)?).ok_or_else(overflow)?;
            Ok(Zdt::from_local(
                local.checked_add_signed(d).ok_or_else(overflow)?,
                self.zone,
                Some(self.offset),
            ))
        };
        match unit {
            "NANOS" => instant(Some(Duration::nanoseconds(amount))),
            "MICROS" => instant(Some(Duration::microseconds(amount))),
            "MILLIS" => instant(Duration::try_milliseconds(amount)),
            "SECONDS" => instant(Duration::try_seconds(amount)),
            "MINUTES" => instant(Duration::try_minutes(amount)),
            "HOURS" => instant(Duration::try_hours(amount)),
            "HALF_DAYS" => instant(amount.checked_mul(12).and_then(Duration::try_hours)),
            "DAYS" => days(Some(amount)),
            "WEEKS" => days(amount.checked_mul(7)),
            "MONTHS" => months(Some(amount)),
            "YEARS" => months(amount.checked_mul(12)),
            "DECADES" => months(amount.checked_mul(120)),
            "CENTURIES" => months(amount.checked_mul(1200)),
            "MILLENNIA" => months(amount.checked_mul(12000)),
            "ERAS" => Err(Error::msg("Unsupported unit: Eras")),
            "FOREVER" => Err(Error::msg("Unsupported unit: Forever")),
            other => Err(Error::msg(format!(
                "No enum constant java.time.temporal.ChronoUnit.{other}"
            ))),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Pattern tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Lit(String),
    Field(char, usize),
    Opt(Vec<Tok>),
}

const LETTERS: &str = "GuyDMLdQqYwWEecFahKkHmsSAnNVvzOXxZ";

fn tokenize(pattern: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pos = 0;
    let toks = tokenize_seq(&chars, &mut pos, pattern, false)?;
    Ok(toks)
}

fn tokenize_seq(chars: &[char], pos: &mut usize, pattern: &str, nested: bool) -> Result<Vec<Tok>> {
    let mut out: Vec<Tok> = Vec::new();
    let push_lit = |out: &mut Vec<Tok>, s: &str| match out.last_mut() {
        Some(Tok::Lit(prev)) => prev.push_str(s),
        _ => out.push(Tok::Lit(s.to_string())),
    };
    while *pos < chars.len() {
        let c = chars[*pos];
        if c.is_ascii_alphabetic() {
            let mut n = 1;
            while *pos + n < chars.len() && chars[*pos + n] == c {
                n += 1;
            }
            if c == 'p' {
                // Padding modifier: Kestra patterns do not use it; accepted and ignored.
                *pos += n;
                continue;
            }
            if !LETTERS.contains(c) {
                return Err(Error::msg(format!("Unknown pattern letter: {c}")));
            }
            if n > max_count(c) {
                return Err(Error::msg(format!("Too many pattern letters: {c}")));
            }
            out.push(Tok::Field(c, n));
            *pos += n;
        } else if c == '\'' {
            let start = *pos;
            *pos += 1;
            let mut lit = String::new();
            loop {
                if *pos >= chars.len() {
                    return Err(Error::msg(format!(
                        "Pattern ends with an incomplete string literal: {pattern}"
                    )));
                }
                if chars[*pos] == '\'' {
                    if *pos + 1 < chars.len() && chars[*pos + 1] == '\'' {
                        lit.push('\'');
                        *pos += 2;
                        continue;
                    }
                    *pos += 1;
                    break;
                }
                lit.push(chars[*pos]);
                *pos += 1;
            }
            if *pos - start == 2 {
                lit.push('\'');
            }
            push_lit(&mut out, &lit);
        } else if c == '[' {
            *pos += 1;
            let inner = tokenize_seq(chars, pos, pattern, true)?;
            out.push(Tok::Opt(inner));
        } else if c == ']' {
            *pos += 1;
            if nested {
                return Ok(out);
            }
            return Err(Error::msg(format!(
                "Pattern invalid as it contains ] without previous [: {pattern}"
            )));
        } else if matches!(c, '{' | '}' | '#') {
            return Err(Error::msg(format!(
                "Pattern includes reserved character: '{c}'"
            )));
        } else {
            push_lit(&mut out, &c.to_string());
            *pos += 1;
        }
    }
    Ok(out)
}

fn max_count(c: char) -> usize {
    match c {
        'G' | 'M' | 'L' | 'Q' | 'q' | 'E' | 'e' | 'c' | 'X' | 'x' | 'Z' => 5,
        'd' | 'h' | 'H' | 'k' | 'K' | 'm' | 's' | 'w' | 'V' => 2,
        'D' => 3,
        'z' | 'O' | 'v' => 4,
        'a' | 'W' | 'F' => 1,
        _ => 19,
    }
}

// ------------------------------------------------------------------------------------------
// Named formats

/// ISO constants of `DateTimeFormatter` that are not expressible as a plain pattern.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Iso {
    DateTime,
    Date,
    Time,
    LocalDate,
    Instant,
    LocalDateTime,
    LocalTime,
    OffsetTime,
    OrdinalDate,
    WeekDate,
    ZonedDateTime,
    Rfc1123,
}

enum Formatter {
    Pattern(Vec<Tok>),
    Iso(Iso),
}

/// Pattern text of Kestra's named formats and of the English (CLDR, JDK 21) styles.
fn named_pattern(name: &str) -> Option<&'static str> {
    Some(match name {
        "iso" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_milli" => "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "sql" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        "sql_milli" => "yyyy-MM-dd HH:mm:ss.SSS",
        "sql_sec" | "sql_seq" => "yyyy-MM-dd HH:mm:ss",
        // JDK 20+ separates the time and AM/PM with a narrow no-break space (U+202F).
        "full" => "EEEE, MMMM d, y 'at' h:mm:ss\u{202f}a zzzz",
        "long" => "MMMM d, y 'at' h:mm:ss\u{202f}a z",
        "medium" => "MMM d, y, h:mm:ss\u{202f}a",
        "short" => "M/d/yy, h:mm\u{202f}a",
        _ => return None,
    })
}

fn named_iso(name: &str) -> Option<Iso> {
    Some(match name {
        "iso_date_time" => Iso::DateTime,
        "iso_date" => Iso::Date,
        "iso_time" => Iso::Time,
        "iso_local_date" => Iso::LocalDate,
        "iso_instant" => Iso::Instant,
        "iso_local_date_time" => Iso::LocalDateTime,
        "iso_local_time" => Iso::LocalTime,
        "iso_offset_time" => Iso::OffsetTime,
        "iso_ordinal_date" => Iso::OrdinalDate,
        "iso_week_date" => Iso::WeekDate,
        "iso_zoned_date_time" => Iso::ZonedDateTime,
        "rfc_1123_date_time" => Iso::Rfc1123,
        _ => return None,
    })
}

fn formatter(format: &str) -> Result<Formatter> {
    if let Some(iso) = named_iso(format) {
        return Ok(Formatter::Iso(iso));
    }
    Ok(Formatter::Pattern(tokenize(
        named_pattern(format).unwrap_or(format),
    )?))
}

/// Checks that `format` is a known name or a valid pattern.
pub(crate) fn validate(format: &str) -> Result<()> {
    formatter(format).map(|_| ())
}

/// Formats `zdt` (already in the target zone) with a Kestra format name or a Java pattern.
/// Only English names are produced; `locale` is accepted for compatibility.
pub(crate) fn format(zdt: &Zdt, format: &str) -> Result<String> {
    match formatter(format)? {
        Formatter::Iso(iso) => Ok(format_iso(zdt, iso)),
        Formatter::Pattern(toks) => {
            let mut out = String::new();
            format_toks(zdt, &toks, &mut out)?;
            Ok(out)
        }
    }
}

// ------------------------------------------------------------------------------------------
// Formatting

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn pad(v: i64, width: usize) -> String {
    if v < 0 {
        format!("-{:0width$}", -v)
    } else {
        format!("{v:0width$}")
    }
}

fn text(full: &str, count: usize) -> String {
    match count {
        4 => full.to_string(),
        5 => full.chars().take(1).collect(),
        _ => full.chars().take(3).collect(),
    }
}

/// US week fields (Sunday first, minimal days 1), as Java's default `Locale.US` uses for `Y`/`w`.
fn us_week(date: NaiveDate) -> (i32, u32) {
    let start_of_week =
        |d: NaiveDate| d - Duration::days(d.weekday().num_days_from_sunday().into());
    let next_jan1 = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1);
    if let Some(n) = next_jan1
        && date >= start_of_week(n)
    {
        return (date.year() + 1, 1);
    }
    let jan1 = NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date);
    let weeks = (date - start_of_week(jan1)).num_days() / 7 + 1;
    (date.year(), weeks as u32)
}

fn format_offset(o: FixedOffset, letter: char, count: usize) -> String {
    let secs = o.local_minus_utc();
    let (sign, a) = if secs < 0 { ('-', -secs) } else { ('+', secs) };
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    match (letter, count) {
        ('X', _) | ('Z', 5) if secs == 0 => "Z".into(),
        ('O', 1) => {
            if secs == 0 {
                "GMT".into()
            } else if m == 0 {
                format!("GMT{sign}{h}")
            } else {
                format!("GMT{sign}{h}:{m:02}")
            }
        }
        ('O', _) | ('Z', 4) => {
            if secs == 0 {
                "GMT".into()
            } else {
                format!("GMT{sign}{h:02}:{m:02}")
            }
        }
        ('Z', _) => format!("{sign}{h:02}{m:02}"),
        (_, 1) => {
            if m == 0 {
                format!("{sign}{h:02}")
            } else {
                format!("{sign}{h:02}{m:02}")
            }
        }
        (_, 2) => format!("{sign}{h:02}{m:02}"),
        (_, 3) => format!("{sign}{h:02}:{m:02}"),
        (_, 4) => {
            if s == 0 {
                format!("{sign}{h:02}{m:02}")
            } else {
                format!("{sign}{h:02}{m:02}{s:02}")
            }
        }
        _ => {
            if s == 0 {
                format!("{sign}{h:02}:{m:02}")
            } else {
                format!("{sign}{h:02}:{m:02}:{s:02}")
            }
        }
    }
}

fn format_toks(zdt: &Zdt, toks: &[Tok], out: &mut String) -> Result<()> {
    let l = zdt.local();
    let d = l.date();
    for tok in toks {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Opt(inner) => format_toks(zdt, inner, out)?,
            Tok::Field(c, n) => {
                let n = *n;
                let s = match c {
                    'G' => {
                        let ad = d.year() > 0;
                        match n {
                            4 => if ad { "Anno Domini" } else { "Before Christ" }.to_string(),
                            5 => if ad { "A" } else { "B" }.to_string(),
                            _ => if ad { "AD" } else { "BC" }.to_string(),
                        }
                    }
                    'u' | 'y' | 'Y' => {
                        let mut year = if *c == 'Y' { us_week(d).0 } else { d.year() } as i64;
                        if *c == 'y' && year <= 0 {
                            year = 1 - year;
                        }
                        if n == 2 {
                            pad(year.rem_euclid(100), 2)
                        } else {
                            pad(year, n)
                        }
                    }
                    'w' => pad(us_week(d).1.into(), n),
                    'W' => {
                        let first = d.with_day(1).unwrap_or(d).weekday().num_days_from_sunday();
                        pad(((d.day0() + first) / 7 + 1).into(), n)
                    }
                    'D' => pad(d.ordinal().into(), n),
                    'M' | 'L' => match n {
                        1 | 2 => pad(d.month().into(), n),
                        _ => text(MONTHS[d.month0() as usize], n),
                    },
                    'd' => pad(d.day().into(), n),
                    'Q' | 'q' => {
                        let q = d.month0() / 3 + 1;
                        match n {
                            1 | 2 => pad(q.into(), n),
                            3 => format!("Q{q}"),
                            4 => {
                                format!("{}{} quarter", q, ["st", "nd", "rd", "th"][q as usize - 1])
                            }
                            _ => q.to_string(),
                        }
                    }
                    'E' => text(DAYS[d.weekday().num_days_from_monday() as usize], n),
                    'e' | 'c' => match n {
                        1 | 2 => pad(i64::from(d.weekday().num_days_from_sunday()) + 1, n),
                        _ => text(DAYS[d.weekday().num_days_from_monday() as usize], n),
                    },
                    'F' => pad((d.day0() / 7 + 1).into(), n),
                    'a' => if l.hour() < 12 { "AM" } else { "PM" }.to_string(),
                    'h' => pad(((l.hour() + 11) % 12 + 1).into(), n),
                    'K' => pad((l.hour() % 12).into(), n),
                    'k' => pad(if l.hour() == 0 { 24 } else { l.hour() }.into(), n),
                    'H' => pad(l.hour().into(), n),
                    'm' => pad(l.minute().into(), n),
                    's' => pad(l.second().into(), n),
                    'S' => {
                        let nanos = format!("{:09}", l.nanosecond() % 1_000_000_000);
                        if n <= 9 {
                            nanos[..n].to_string()
                        } else {
                            format!("{nanos}{}", "0".repeat(n - 9))
                        }
                    }
                    'A' => pad(
                        (l.num_seconds_from_midnight() as i64) * 1000
                            + (l.nanosecond() / 1_000_000) as i64,
                        n,
                    ),
                    'n' => pad((l.nanosecond() % 1_000_000_000).into(), n),
                    'N' => pad(
                        l.num_seconds_from_midnight() as i64 * 1_000_000_000
                            + (l.nanosecond() % 1_000_000_000) as i64,
                        n,
                    ),
                    'V' => zdt.zone.id(),
                    'z' | 'v' => {
                        if n == 4 {
                            zdt.zone.long_name(&zdt.utc)
                        } else {
                            zdt.zone.short_name(&zdt.utc)
                        }
                    }
                    'O' | 'X' | 'x' | 'Z' => format_offset(zdt.offset, *c, n),
                    other => return Err(Error::msg(format!("Unknown pattern letter: {other}"))),
                };
                out.push_str(&s);
            }
        }
    }
    Ok(())
}

/// Fraction with trailing zeros removed (`appendFraction(NANO, 0, 9, true)`).
fn fraction_min(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let s = format!("{nanos:09}");
    format!(".{}", s.trim_end_matches('0'))
}

fn local_time_iso(t: &NaiveDateTime) -> String {
    format!(
        "{:02}:{:02}:{:02}{}",
        t.hour(),
        t.minute(),
        t.second(),
        fraction_min(t.nanosecond() % 1_000_000_000)
    )
}

fn local_date_iso(d: NaiveDate) -> String {
    if d.year() > 9999 {
        format!("+{}-{:02}-{:02}", d.year(), d.month(), d.day())
    } else {
        format!(
            "{}-{:02}-{:02}",
            pad(d.year().into(), 4),
            d.month(),
            d.day()
        )
    }
}

fn format_iso(zdt: &Zdt, iso: Iso) -> String {
    let l = zdt.local();
    let off = offset_id(zdt.offset);
    let region = match zdt.zone {
        Zone::Region(tz) => format!("[{}]", tz.name()),
        Zone::Offset(_) => String::new(),
    };
    let ldt = format!("{}T{}", local_date_iso(l.date()), local_time_iso(&l));
    match iso {
        Iso::DateTime | Iso::ZonedDateTime => format!("{ldt}{off}{region}"),
        Iso::LocalDateTime => ldt,
        Iso::Date => format!("{}{off}", local_date_iso(l.date())),
        Iso::LocalDate => local_date_iso(l.date()),
        Iso::Time | Iso::OffsetTime => format!("{}{off}", local_time_iso(&l)),
        Iso::LocalTime => local_time_iso(&l),
        Iso::OrdinalDate => format!("{}-{:03}{off}", pad(l.year().into(), 4), l.ordinal()),
        Iso::WeekDate => {
            let w = l.date().iso_week();
            format!(
                "{}-W{:02}-{}{off}",
                pad(w.year().into(), 4),
                w.week(),
                l.weekday().number_from_monday()
            )
        }
        Iso::Instant => {
            let u = zdt.utc;
            let nanos = u.nanosecond() % 1_000_000_000;
            let frac = if nanos == 0 {
                String::new()
            } else if nanos.is_multiple_of(1_000_000) {
                format!(".{:03}", nanos / 1_000_000)
            } else if nanos.is_multiple_of(1000) {
                format!(".{:06}", nanos / 1000)
            } else {
                format!(".{nanos:09}")
            };
            format!(
                "{}T{:02}:{:02}:{:02}{frac}Z",
                local_date_iso(u.date()),
                u.hour(),
                u.minute(),
                u.second()
            )
        }
        Iso::Rfc1123 => {
            let secs = zdt.offset.local_minus_utc();
            let zone = if secs == 0 {
                "GMT".to_string()
            } else {
                format_offset(zdt.offset, 'Z', 1)
            };
            format!(
                "{}, {} {} {} {:02}:{:02}:{:02} {zone}",
                &DAYS[l.weekday().num_days_from_monday() as usize][..3],
                l.day(),
                &MONTHS[l.month0() as usize][..3],
                l.year(),
                l.hour(),
                l.minute(),
                l.second()
            )
        }
    }
}

// ------------------------------------------------------------------------------------------
// Parsing

/// What a parse produced, before resolution into a date/time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    nano: Option<u32>,
    offset: Option<FixedOffset>,
    zone: Option<Zone>,
}

impl Parsed {
    pub(crate) fn date(&self) -> Option<NaiveDate> {
        let year = i32::try_from(self.year?).ok()?;
        match (self.month, self.day, self.day_of_year) {
            (Some(m), Some(d), _) => NaiveDate::from_ymd_opt(year, m, d),
            (_, _, Some(doy)) => NaiveDate::from_yo_opt(year, doy),
            _ => None,
        }
    }

    pub(crate) fn time(&self) -> Option<NaiveTime> {
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), _, _) => h,
            (None, Some(h), Some(pm)) => h % 12 + if pm { 12 } else { 0 },
            _ => return None,
        };
        let (h, extra_day) = if hour == 24 { (0, true) } else { (hour, false) };
        let _ = extra_day;
        NaiveTime::from_hms_nano_opt(
            h,
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0),
            self.nano.unwrap_or(0),
        )
    }

    /// The zone of a zoned parse: the region if one was read (offset preferred), else the offset.
    pub(crate) fn zoned(&self, local: NaiveDateTime) -> Option<Zdt> {
        match (self.zone, self.offset) {
            (Some(z), Some(o)) => {
                let instant = local - Duration::seconds(o.local_minus_utc().into());
                Some(Zdt::from_utc(instant, z))
            }
            (Some(z), None) => Some(Zdt::from_local(local, z, None)),
            (None, Some(o)) => Some(Zdt::from_local(local, Zone::Offset(o), None)),
            (None, None) => None,
        }
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let n = self
            .rest()
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if n < min {
            return None;
        }
        let v = self.rest()[..n].parse().ok()?;
        self.pos += n;
        Some(v)
    }

    fn text_ci(&mut self, options: &[&str]) -> Option<usize> {
        // Longest match first so "June" wins over "Jun".
        let mut best: Option<(usize, usize)> = None;
        for (i, o) in options.iter().enumerate() {
            let r = self.rest();
            if r.len() >= o.len()
                && r.is_char_boundary(o.len())
                && r[..o.len()].eq_ignore_ascii_case(o)
                && best.is_none_or(|(_, l)| o.len() > l)
            {
                best = Some((i, o.len()));
            }
        }
        let (i, l) = best?;
        self.pos += l;
        Some(i)
    }
}

fn is_numeric(tok: Option<&Tok>) -> bool {
    matches!(tok, Some(Tok::Field(c, n)) if "uyYDdhHkKmsSAnNwWeFQq".contains(*c) || ("ML".contains(*c) && *n <= 2))
}

fn parse_toks(toks: &[Tok], cur: &mut Cursor<'_>, p: &mut Parsed) -> Option<()> {
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Lit(l) => {
                if !cur.rest().starts_with(l.as_str()) {
                    return None;
                }
                cur.pos += l.len();
            }
            Tok::Opt(inner) => {
                let (save_pos, save) = (cur.pos, p.clone());
                if parse_toks(inner, cur, p).is_none() {
                    cur.pos = save_pos;
                    *p = save;
                }
            }
            Tok::Field(c, n) => {
                let n = *n;
                let adjacent = is_numeric(toks.get(i + 1));
                let width = |max: usize| {
                    if n >= 2 || adjacent {
                        (n.max(1), n.max(1))
                    } else {
                        (1, max)
                    }
                };
                match c {
                    'u' | 'y' | 'Y' => {
                        if n == 2 {
                            p.year = Some(2000 + cur.digits(2, 2)?);
                        } else {
                            let (min, max) = if adjacent { (n, n) } else { (n.max(1), 10) };
                            p.year = Some(cur.digits(min, max)?);
                        }
                    }
                    'M' | 'L' if n >= 3 => {
                        let names: Vec<String> = MONTHS.iter().map(|m| text(m, n)).collect();
                        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                        p.month = Some(cur.text_ci(&refs)? as u32 + 1);
                    }
                    'M' | 'L' => {
                        let (a, b) = width(2);
                        p.month = Some(cur.digits(a, b)? as u32);
                    }
                    'd' => {
                        let (a, b) = width(2);
                        p.day = Some(cur.digits(a, b)? as u32);
                    }
                    'D' => {
                        let (a, b) = width(3);
                        p.day_of_year = Some(cur.digits(a, b)? as u32);
                    }
                    'E' | 'e' | 'c' if n >= 3 || *c == 'E' => {
                        let names: Vec<String> = DAYS.iter().map(|d| text(d, n.max(3))).collect();
                        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                        cur.text_ci(&refs)?;
                    }
                    'a' => p.pm = Some(cur.text_ci(&["AM", "PM"])? == 1),
                    'G' => {
                        cur.text_ci(&["Anno Domini", "Before Christ", "AD", "BC"])?;
                    }
                    'H' | 'k' => {
                        let (a, b) = width(2);
                        p.hour = Some(cur.digits(a, b)? as u32);
                    }
                    'h' | 'K' => {
                        let (a, b) = width(2);
                        p.hour12 = Some(cur.digits(a, b)? as u32);
                    }
                    'm' => {
                        let (a, b) = width(2);
                        p.minute = Some(cur.digits(a, b)? as u32);
                    }
                    's' => {
                        let (a, b) = width(2);
                        p.second = Some(cur.digits(a, b)? as u32);
                    }
                    'S' => {
                        let start = cur.pos;
                        cur.digits(n, n)?;
                        let frac = &cur.s[start..cur.pos];
                        p.nano = Some(format!("{frac:0<9}")[..9].parse().ok()?);
                    }
                    'n' => {
                        let (a, b) = width(9);
                        p.nano = Some(cur.digits(a, b)? as u32);
                    }
                    'X' | 'x' | 'Z' | 'O' => p.offset = Some(parse_offset_text(cur, *c, n)?),
                    'V' | 'z' | 'v' => {
                        let len = cur
                            .rest()
                            .find(|ch: char| !(ch.is_ascii_alphanumeric() || "_/+-:".contains(ch)))
                            .unwrap_or(cur.rest().len());
                        let id = &cur.rest()[..len];
                        let zone = Zone::parse(id).ok().or_else(|| abbreviation_zone(id))?;
                        cur.pos += len;
                        p.zone = Some(zone);
                    }
                    _ => {
                        // Other numeric fields (week, quarter...) are read but not used.
                        let (a, b) = width(2);
                        cur.digits(a, b)?;
                    }
                }
            }
        }
    }
    Some(())
}

fn abbreviation_zone(id: &str) -> Option<Zone> {
    let name = match id {
        "CEST" => "Europe/Paris",
        "BST" => "Europe/London",
        "EEST" => "Europe/Athens",
        "WEST" => "Europe/Lisbon",
        "EDT" => "America/New_York",
        "CDT" => "America/Chicago",
        "MDT" => "America/Denver",
        "PST" | "PDT" => "America/Los_Angeles",
        "JST" => "Asia/Tokyo",
        "IST" => "Asia/Kolkata",
        _ => return None,
    };
    name.parse().ok().map(Zone::Region)
}

fn parse_offset_text(cur: &mut Cursor<'_>, letter: char, count: usize) -> Option<FixedOffset> {
    let r = cur.rest();
    if (letter == 'X' || (letter == 'Z' && count == 5)) && r.starts_with('Z') {
        cur.pos += 1;
        return Some(utc_offset());
    }
    if letter == 'O' || (letter == 'Z' && count == 4) {
        if !r.starts_with("GMT") {
            return None;
        }
        cur.pos += 3;
        if !cur.rest().starts_with(['+', '-']) {
            return Some(utc_offset());
        }
    }
    let r = cur.rest();
    let sign = match r.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    cur.pos += 1;
    let h = cur.digits(1, 2)? as i32;
    let mut m = 0;
    let mut s = 0;
    if cur.rest().starts_with(':') && cur.rest()[1..].starts_with(|c: char| c.is_ascii_digit()) {
        cur.pos += 1;
    }
    if let Some(v) = cur.digits(2, 2) {
        m = v as i32;
        if cur.rest().starts_with(':') && cur.rest()[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            cur.pos += 1;
        }
        if let Some(v) = cur.digits(2, 2) {
            s = v as i32;
        }
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + s))
}

fn parse_error(text: &str) -> Error {
    Error::msg(format!("Text '{text}' could not be parsed"))
}

/// Parses `text` with a Java pattern or a Kestra/ISO format name (as `existingFormat`).
pub(crate) fn parse_with(text: &str, format: &str) -> Result<Parsed> {
    match named_iso(format) {
        Some(Iso::Rfc1123) => {
            let dt = DateTime::parse_from_rfc2822(text).map_err(|_| parse_error(text))?;
            let local = dt.naive_local();
            return Ok(Parsed {
                year: Some(local.year().into()),
                month: Some(local.month()),
                day: Some(local.day()),
                hour: Some(local.hour()),
                minute: Some(local.minute()),
                second: Some(local.second()),
                offset: Some(*dt.offset()),
                ..Parsed::default()
            });
        }
        Some(_) => return parse_iso(text).ok_or_else(|| parse_error(text)),
        None => {}
    }
    let toks = tokenize(named_pattern(format).unwrap_or(format))?;
    let mut cur = Cursor { s: text, pos: 0 };
    let mut p = Parsed::default();
    match parse_toks(&toks, &mut cur, &mut p) {
        Some(()) if cur.pos == text.len() => Ok(p),
        Some(()) => Err(Error::msg(format!(
            "Text '{text}' could not be parsed, unparsed text found at index {}",
            cur.pos
        ))),
        None => Err(Error::msg(format!(
            "Text '{text}' could not be parsed at index {}",
            cur.pos
        ))),
    }
}

/// ISO-8601 as `ZonedDateTime.parse` / `LocalDateTime.parse` / `LocalDate.parse` accept it:
/// `2026-01-02`, `2026-01-02T03:04[:05[.678]]`, then `Z`/`+01:00`, then `[Europe/Paris]`.
pub(crate) fn parse_iso(text: &str) -> Option<Parsed> {
    let mut cur = Cursor { s: text, pos: 0 };
    let mut p = Parsed::default();
    let neg = if cur.rest().starts_with(['+', '-']) {
        cur.pos += 1;
        text.starts_with('-')
    } else {
        false
    };
    let year = cur.digits(4, 9)?;
    p.year = Some(if neg { -year } else { year });
    let lit = |cur: &mut Cursor<'_>, c: char| -> Option<()> {
        if cur.rest().starts_with(c) {
            cur.pos += c.len_utf8();
            Some(())
        } else {
            None
        }
    };
    lit(&mut cur, '-')?;
    p.month = Some(cur.digits(2, 2)? as u32);
    lit(&mut cur, '-')?;
    p.day = Some(cur.digits(2, 2)? as u32);
    if cur.rest().is_empty() {
        return Some(p);
    }
    if lit(&mut cur, 'T').is_none() {
        lit(&mut cur, 't')?;
    }
    p.hour = Some(cur.digits(2, 2)? as u32);
    lit(&mut cur, ':')?;
    p.minute = Some(cur.digits(2, 2)? as u32);
    if lit(&mut cur, ':').is_some() {
        p.second = Some(cur.digits(2, 2)? as u32);
        if lit(&mut cur, '.').is_some() || lit(&mut cur, ',').is_some() {
            let start = cur.pos;
            cur.digits(0, 9)?;
            let frac = &text[start..cur.pos];
            p.nano = Some(format!("{frac:0<9}").parse().ok()?);
        }
    }
    if cur.rest().is_empty() {
        return Some(p);
    }
    if lit(&mut cur, 'Z').is_some() || lit(&mut cur, 'z').is_some() {
        p.offset = Some(utc_offset());
    } else {
        let sign = if lit(&mut cur, '+').is_some() {
            1
        } else {
            lit(&mut cur, '-')?;
            -1
        };
        let h = cur.digits(2, 2)? as i32;
        let mut secs = h * 3600;
        if lit(&mut cur, ':').is_some() {
            secs += cur.digits(2, 2)? as i32 * 60;
            if lit(&mut cur, ':').is_some() {
                secs += cur.digits(2, 2)? as i32;
            }
        }
        p.offset = Some(FixedOffset::east_opt(sign * secs)?);
    }
    if lit(&mut cur, '[').is_some() {
        let end = cur.rest().find(']')?;
        let id = &cur.rest()[..end];
        p.zone = Some(Zone::parse(id).ok()?);
        cur.pos += end + 1;
    }
    cur.rest().is_empty().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zdt(s: &str, zone: &str) -> Zdt {
        let dt = DateTime::parse_from_rfc3339(s).unwrap();
        Zdt::from_fixed(dt).with_zone(Zone::parse(zone).unwrap())
    }

    #[test]
    fn patterns() {
        let z = zdt("2013-09-08T16:19:12.123456+01:00", "Europe/Paris");
        assert_eq!(
            format(&z, "iso").unwrap(),
            "2013-09-08T17:19:12.123456+02:00"
        );
        assert_eq!(
            format(&z, "iso_milli").unwrap(),
            "2013-09-08T17:19:12.123+02:00"
        );
        assert_eq!(
            format(&z, "yyyy-MM-dd'T'HH:mm").unwrap(),
            "2013-09-08T17:19"
        );
        assert_eq!(
            format(&z, "EEEE d MMMM yy, h:mm a").unwrap(),
            "Sunday 8 September 13, 5:19 PM"
        );
        assert_eq!(format(&z, "EEE MMM").unwrap(), "Sun Sep");
        assert_eq!(
            format(&z, "z zzzz VV").unwrap(),
            "CEST Central European Summer Time Europe/Paris"
        );
        assert_eq!(
            format(&z, "X XX XXX x Z ZZZZ O").unwrap(),
            "+02 +0200 +02:00 +02 +0200 GMT+02:00 GMT+2"
        );
        assert_eq!(format(&z, "''yyyy'' 'o''clock'").unwrap(), "'2013' o'clock");
        assert_eq!(
            format(&z, "iso_zoned_date_time").unwrap(),
            "2013-09-08T17:19:12.123456+02:00[Europe/Paris]"
        );
        assert_eq!(
            format(&z, "iso_instant").unwrap(),
            "2013-09-08T15:19:12.123456Z"
        );
        assert_eq!(
            format(&z, "rfc_1123_date_time").unwrap(),
            "Sun, 8 Sep 2013 17:19:12 +0200"
        );
        assert_eq!(
            format(&z, "medium").unwrap(),
            "Sep 8, 2013, 5:19:12\u{202f}PM"
        );
        assert_eq!(format(&z, "iso_week_date").unwrap(), "2013-W36-7+02:00");
        assert!(
            format(&z, "yyyy-bb")
                .unwrap_err()
                .message
                .contains("Unknown pattern letter: b")
        );
        assert!(format(&z, "yyyy-'MM").is_err());
    }

    #[test]
    fn utc_zero_offsets() {
        let z = zdt("2026-01-02T03:04:05.678Z", "UTC");
        assert_eq!(format(&z, "XXX xxx ZZZZZ").unwrap(), "Z +00:00 Z");
        assert_eq!(
            format(&z, "iso_date_time").unwrap(),
            "2026-01-02T03:04:05.678Z[UTC]"
        );
        assert_eq!(format(&z, "YYYY-'W'ww").unwrap(), "2026-W01");
    }

    #[test]
    fn parsing() {
        let p = parse_with("July 24, 2001", "MMMM dd, yyyy").unwrap();
        assert_eq!(p.date(), NaiveDate::from_ymd_opt(2001, 7, 24));
        let p = parse_with("08092023", "ddMMyyyy").unwrap();
        assert_eq!(p.date(), NaiveDate::from_ymd_opt(2023, 9, 8));
        let p = parse_with("2024-03-05 01:02:03 PM +0100", "yyyy-MM-dd hh:mm:ss a Z").unwrap();
        assert_eq!(p.time(), NaiveTime::from_hms_opt(13, 2, 3));
        assert_eq!(p.offset, FixedOffset::east_opt(3600));
        assert!(parse_with("2024-03-05x", "yyyy-MM-dd").is_err());
        let p = parse_iso("2026-01-02T03:04:05.678+01:00[Europe/Paris]").unwrap();
        assert_eq!(p.nano, Some(678_000_000));
        assert!(parse_iso("2026-01-02T03").is_none());
    }

    #[test]
    fn dst_arithmetic() {
        let z = zdt("2026-03-28T02:30:00+01:00", "Europe/Paris");
        // Adding a day across the spring-forward gap keeps the local time when it exists.
        assert_eq!(
            format(&z.plus(1, "DAYS").unwrap(), "iso_sec").unwrap(),
            "2026-03-29T03:30:00+02:00"
        );
        assert_eq!(
            format(&z.plus(24, "HOURS").unwrap(), "iso_sec").unwrap(),
            "2026-03-29T03:30:00+02:00"
        );
        let j = zdt("2026-01-31T00:00:00Z", "UTC");
        assert_eq!(
            format(&j.plus(1, "MONTHS").unwrap(), "yyyy-MM-dd").unwrap(),
            "2026-02-28"
        );
        assert!(j.plus(1, "FOO").is_err());
    }
}

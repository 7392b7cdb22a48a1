//! Dates, times, timestamps and intervals, held as the source wrote them.
//!
//! Invariants:
//! - Dates are *civil* (year, month, day), not a day count, because MySQL/MariaDB
//!   can store zero dates (`0000-00-00`) and dates with a zero part (`2024-00-15`)
//!   that no day count can hold. Years use astronomical numbering (1 BC = year 0,
//!   2 BC = year -1), which is how PostgreSQL's `4713-01-01 BC` becomes `-4712-01-01`.
//! - PostgreSQL's `infinity` / `-infinity` dates and timestamps are the sentinels
//!   [`Date::INFINITY`] / [`Date::NEG_INFINITY`] (a year no real date can have).
//! - Times are signed microseconds, so MySQL's negative `TIME` (down to
//!   `-838:59:59`) and PostgreSQL's `24:00:00` both fit.
//! - Text forms are ISO 8601 (with expanded years beyond 0000..=9999) and
//!   `Display` → `FromStr` is the identity; both encodings use these forms.

use std::fmt;
use std::str::FromStr;

use crate::error::ValueError;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;
/// Largest magnitude of a [`Time`]: a million hours, far beyond MySQL's 838 hours.
const MAX_TIME_MICROS: i64 = 1_000_000 * MICROS_PER_HOUR;

/// A civil date; see the module doc for zero dates and infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// PostgreSQL `infinity`.
    pub const INFINITY: Date = Date {
        year: i32::MAX,
        month: 12,
        day: 31,
    };
    /// PostgreSQL `-infinity`.
    pub const NEG_INFINITY: Date = Date {
        year: i32::MIN,
        month: 1,
        day: 1,
    };
    /// MySQL's zero date `0000-00-00`.
    pub const ZERO: Date = Date {
        year: 0,
        month: 0,
        day: 0,
    };

    /// A date with month `0..=12` and day `0..=31` (zero parts are MySQL's; day
    /// is not checked against the month because MySQL's `ALLOW_INVALID_DATES`
    /// stores such dates too). Years are limited to ±100 million so the
    /// infinities stay distinct.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, ValueError> {
        if !(-100_000_000..=100_000_000).contains(&year) || month > 12 || day > 31 {
            return Err(ValueError::new(format!(
                "date {year}-{month:02}-{day:02} is out of range (month 0..=12, day 0..=31, |year| <= 100000000)"
            )));
        }
        Ok(Date { year, month, day })
    }

    /// Year (astronomical numbering).
    pub fn year(self) -> i32 {
        self.year
    }
    /// Month, 0 only in MySQL zero dates.
    pub fn month(self) -> u8 {
        self.month
    }
    /// Day of month, 0 only in MySQL zero dates.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Whether this is one of the two infinities.
    pub fn is_infinite(self) -> bool {
        self == Date::INFINITY || self == Date::NEG_INFINITY
    }

    /// Days since 1970-01-01 for a real calendar date; `None` for infinities,
    /// zero parts and days past the end of their month.
    pub fn to_epoch_days(self) -> Option<i64> {
        if self.is_infinite() || self.month == 0 || self.day == 0 {
            return None;
        }
        if self.day > days_in_month(self.year, self.month) {
            return None;
        }
        Some(days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        ))
    }

    /// The date `days` after 1970-01-01 (negative before it).
    pub fn from_epoch_days(days: i64) -> Result<Date, ValueError> {
        let (y, m, d) = civil_from_days(days);
        let year = i32::try_from(y)
            .map_err(|_| ValueError::new(format!("{days} days from 1970-01-01 is out of range")))?;
        // month/day from the algorithm are always in range.
        Date::new(year, m as u8, d as u8)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Howard Hinnant's `days_from_civil`: proleptic Gregorian, any year.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn fmt_year(f: &mut fmt::Formatter<'_>, year: i32) -> fmt::Result {
    if year < 0 {
        write!(f, "-{:04}", year.unsigned_abs())
    } else if year > 9999 {
        write!(f, "+{year}")
    } else {
        write!(f, "{year:04}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Date::INFINITY {
            return f.write_str("infinity");
        }
        if *self == Date::NEG_INFINITY {
            return f.write_str("-infinity");
        }
        fmt_year(f, self.year)?;
        write!(f, "-{:02}-{:02}", self.month, self.day)
    }
}

fn bad(kind: &str, s: &str, want: &str) -> ValueError {
    ValueError::new(format!("`{s}` is not a valid {kind}; expected {want}"))
}

fn parse_digits<T: FromStr>(s: &str, kind: &str, whole: &str, want: &str) -> Result<T, ValueError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(kind, whole, want));
    }
    s.parse().map_err(|_| bad(kind, whole, want))
}

const DATE_FORM: &str = "YYYY-MM-DD (or ±YYYYY-MM-DD, infinity, -infinity)";

impl FromStr for Date {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Date, ValueError> {
        match s {
            "infinity" => return Ok(Date::INFINITY),
            "-infinity" => return Ok(Date::NEG_INFINITY),
            _ => {}
        }
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let mut parts = body.splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("date", s, DATE_FORM));
        };
        if y.len() < 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad("date", s, DATE_FORM));
        }
        let year: i64 = parse_digits(y, "date", s, DATE_FORM)?;
        let year = if neg { -year } else { year };
        let year = i32::try_from(year).map_err(|_| bad("date", s, DATE_FORM))?;
        let date = Date::new(
            year,
            parse_digits(m, "date", s, DATE_FORM)?,
            parse_digits(d, "date", s, DATE_FORM)?,
        )?;
        // Reject non-canonical spellings so Display/FromStr stay a bijection.
        if date.to_string() != s {
            return Err(bad("date", s, DATE_FORM));
        }
        Ok(date)
    }
}

/// A time of day or a duration-like MySQL `TIME`, in signed microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time {
    micros: i64,
}

impl Time {
    /// From signed microseconds; at most a million hours either way.
    pub fn from_micros(micros: i64) -> Result<Time, ValueError> {
        if micros.unsigned_abs() > MAX_TIME_MICROS as u64 {
            return Err(ValueError::new(format!(
                "time of {micros} µs is out of range (at most 1000000 hours)"
            )));
        }
        Ok(Time { micros })
    }
    /// Signed microseconds.
    pub fn micros(self) -> i64 {
        self.micros
    }
}

fn fmt_hms(f: &mut fmt::Formatter<'_>, micros: i64) -> fmt::Result {
    if micros < 0 {
        f.write_str("-")?;
    }
    let m = micros.unsigned_abs();
    let (h, rest) = (m / MICROS_PER_HOUR as u64, m % MICROS_PER_HOUR as u64);
    let (mi, rest) = (
        rest / MICROS_PER_MINUTE as u64,
        rest % MICROS_PER_MINUTE as u64,
    );
    let (s, frac) = (
        rest / MICROS_PER_SECOND as u64,
        rest % MICROS_PER_SECOND as u64,
    );
    write!(f, "{h:02}:{mi:02}:{s:02}")?;
    if frac != 0 {
        write!(f, ".{frac:06}")?;
    }
    Ok(())
}

const TIME_FORM: &str = "[-]HH:MM:SS[.ffffff]";

/// Parses `[-]HH:MM:SS[.f{1,6}]` (hours may exceed 24) into signed micros.
fn parse_hms(s: &str, kind: &str, want: &str) -> Result<i64, ValueError> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (hms, frac) = match body.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    let mut it = hms.split(':');
    let (Some(h), Some(m), Some(sec), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad(kind, s, want));
    };
    if h.len() < 2 || m.len() != 2 || sec.len() != 2 {
        return Err(bad(kind, s, want));
    }
    let h: i64 = parse_digits(h, kind, s, want)?;
    let m: i64 = parse_digits(m, kind, s, want)?;
    let sec: i64 = parse_digits(sec, kind, s, want)?;
    if m > 59 || sec > 59 || h > MAX_TIME_MICROS / MICROS_PER_HOUR {
        return Err(bad(kind, s, want));
    }
    let frac_micros = match frac {
        None => 0,
        Some(fr) if !fr.is_empty() && fr.len() <= 6 => {
            let v: i64 = parse_digits(fr, kind, s, want)?;
            v * 10_i64.pow(6 - fr.len() as u32)
        }
        Some(_) => return Err(bad(kind, s, want)),
    };
    let total = h * MICROS_PER_HOUR + m * MICROS_PER_MINUTE + sec * MICROS_PER_SECOND + frac_micros;
    Ok(if neg { -total } else { total })
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_hms(f, self.micros)
    }
}

impl FromStr for Time {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Time, ValueError> {
        let t = Time::from_micros(parse_hms(s, "time", TIME_FORM)?)?;
        if t.to_string() != s {
            return Err(bad("time", s, TIME_FORM));
        }
        Ok(t)
    }
}

/// PostgreSQL `timetz`: a time of day (`00:00:00..=24:00:00`) and a UTC offset
/// in seconds east of Greenwich (PostgreSQL allows ±15:59:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    micros: i64,
    offset_seconds: i32,
}

impl TimeTz {
    /// A time of day with its offset.
    pub fn new(micros: i64, offset_seconds: i32) -> Result<TimeTz, ValueError> {
        if !(0..=MICROS_PER_DAY).contains(&micros) || offset_seconds.unsigned_abs() >= 16 * 3600 {
            return Err(ValueError::new(format!(
                "timetz {micros} µs offset {offset_seconds} s is out of range (0..=24:00:00, |offset| < 16:00)"
            )));
        }
        Ok(TimeTz {
            micros,
            offset_seconds,
        })
    }
    /// Microseconds since midnight, local to the offset.
    pub fn micros(self) -> i64 {
        self.micros
    }
    /// Seconds east of UTC.
    pub fn offset_seconds(self) -> i32 {
        self.offset_seconds
    }
}

impl fmt::Display for TimeTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_hms(f, self.micros)?;
        let sign = if self.offset_seconds < 0 { '-' } else { '+' };
        let o = self.offset_seconds.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60)?;
        if !o.is_multiple_of(60) {
            write!(f, ":{:02}", o % 60)?;
        }
        Ok(())
    }
}

const TIMETZ_FORM: &str = "HH:MM:SS[.ffffff]±HH:MM[:SS]";

impl FromStr for TimeTz {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<TimeTz, ValueError> {
        let idx = s
            .rfind(['+', '-'])
            .filter(|&i| i > 0)
            .ok_or_else(|| bad("timetz", s, TIMETZ_FORM))?;
        let (time, off) = s.split_at(idx);
        let micros = parse_hms(time, "timetz", TIMETZ_FORM)?;
        let neg = off.starts_with('-');
        let mut it = off[1..].split(':');
        let h: i32 = parse_digits(it.next().unwrap_or(""), "timetz", s, TIMETZ_FORM)?;
        let m: i32 = parse_digits(it.next().unwrap_or(""), "timetz", s, TIMETZ_FORM)?;
        let sec: i32 = match it.next() {
            Some(x) => parse_digits(x, "timetz", s, TIMETZ_FORM)?,
            None => 0,
        };
        if it.next().is_some() || m > 59 || sec > 59 || h > 15 {
            return Err(bad("timetz", s, TIMETZ_FORM));
        }
        let off = h * 3600 + m * 60 + sec;
        let t = TimeTz::new(micros, if neg { -off } else { off })?;
        if t.to_string() != s {
            return Err(bad("timetz", s, TIMETZ_FORM));
        }
        Ok(t)
    }
}

/// A date and a time of day. Used for `timestamp` (no zone: the wall clock
/// the source stored) and `timestamptz` (always UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime {
    date: Date,
    micros: i64,
}

impl DateTime {
    /// PostgreSQL `infinity`.
    pub const INFINITY: DateTime = DateTime {
        date: Date::INFINITY,
        micros: 0,
    };
    /// PostgreSQL `-infinity`.
    pub const NEG_INFINITY: DateTime = DateTime {
        date: Date::NEG_INFINITY,
        micros: 0,
    };

    /// A date and microseconds since midnight (`0..86_400_000_000`).
    pub fn new(date: Date, micros: i64) -> Result<DateTime, ValueError> {
        if !(0..MICROS_PER_DAY).contains(&micros) || (date.is_infinite() && micros != 0) {
            return Err(ValueError::new(format!(
                "time of day {micros} µs is out of range (0..86400000000)"
            )));
        }
        Ok(DateTime { date, micros })
    }

    /// From microseconds since 1970-01-01T00:00:00.
    pub fn from_unix_micros(micros: i64) -> Result<DateTime, ValueError> {
        let days = micros.div_euclid(MICROS_PER_DAY);
        DateTime::new(
            Date::from_epoch_days(days)?,
            micros.rem_euclid(MICROS_PER_DAY),
        )
    }

    /// Microseconds since 1970-01-01T00:00:00; `None` for infinities, zero dates
    /// and values beyond the i64 range.
    pub fn to_unix_micros(self) -> Option<i64> {
        self.date
            .to_epoch_days()?
            .checked_mul(MICROS_PER_DAY)?
            .checked_add(self.micros)
    }

    /// The date part.
    pub fn date(self) -> Date {
        self.date
    }
    /// Microseconds since midnight.
    pub fn micros_of_day(self) -> i64 {
        self.micros
    }
    /// Whether this is ±infinity.
    pub fn is_infinite(self) -> bool {
        self.date.is_infinite()
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.date.is_infinite() {
            return write!(f, "{}", self.date);
        }
        write!(f, "{}T", self.date)?;
        fmt_hms(f, self.micros)
    }
}

const DATETIME_FORM: &str = "YYYY-MM-DDTHH:MM:SS[.ffffff] (or infinity, -infinity)";

impl FromStr for DateTime {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<DateTime, ValueError> {
        match s {
            "infinity" => return Ok(DateTime::INFINITY),
            "-infinity" => return Ok(DateTime::NEG_INFINITY),
            _ => {}
        }
        let (d, t) = s
            .split_once('T')
            .ok_or_else(|| bad("timestamp", s, DATETIME_FORM))?;
        let dt = DateTime::new(
            d.parse().map_err(|_| bad("timestamp", s, DATETIME_FORM))?,
            parse_hms(t, "timestamp", DATETIME_FORM)?,
        )?;
        if dt.to_string() != s {
            return Err(bad("timestamp", s, DATETIME_FORM));
        }
        Ok(dt)
    }
}

/// PostgreSQL `interval`: months, days and microseconds are kept apart because
/// they do not convert into each other (a month is not 30 days, a day is not
/// always 24 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (years are 12 months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub micros: i64,
}

impl fmt::Display for Interval {
    /// ISO 8601 duration with signed components, e.g. `P1Y2M-3DT4H5M6.5S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Interval::default() {
            return f.write_str("PT0S");
        }
        f.write_str("P")?;
        let (y, m) = (self.months / 12, self.months % 12);
        if y != 0 {
            write!(f, "{y}Y")?;
        }
        if m != 0 {
            write!(f, "{m}M")?;
        }
        if self.days != 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.micros != 0 {
            f.write_str("T")?;
            let sign = if self.micros < 0 { "-" } else { "" };
            let u = self.micros.unsigned_abs();
            let (h, rest) = (u / MICROS_PER_HOUR as u64, u % MICROS_PER_HOUR as u64);
            let (mi, rest) = (
                rest / MICROS_PER_MINUTE as u64,
                rest % MICROS_PER_MINUTE as u64,
            );
            if h != 0 {
                write!(f, "{sign}{h}H")?;
            }
            if mi != 0 {
                write!(f, "{sign}{mi}M")?;
            }
            if rest != 0 {
                let (s, frac) = (
                    rest / MICROS_PER_SECOND as u64,
                    rest % MICROS_PER_SECOND as u64,
                );
                if frac == 0 {
                    write!(f, "{sign}{s}S")?;
                } else {
                    let frac = format!("{frac:06}");
                    write!(f, "{sign}{s}.{}S", frac.trim_end_matches('0'))?;
                }
            }
        }
        Ok(())
    }
}

const INTERVAL_FORM: &str = "an ISO 8601 duration such as P1Y2M3DT4H5M6.5S";

impl FromStr for Interval {
    type Err = ValueError;
    /// The canonical form only (what `Display` writes).
    fn from_str(s: &str) -> Result<Interval, ValueError> {
        let iv = Interval::from_iso8601(s)?;
        if iv.to_string() != s {
            return Err(bad("interval", s, INTERVAL_FORM));
        }
        Ok(iv)
    }
}

impl Interval {
    /// Any ISO 8601 duration with signed integer components and fractional
    /// seconds (`P1Y-2M3DT4H5M6.5S`), as PostgreSQL's `iso_8601` style writes.
    pub fn from_iso8601(s: &str) -> Result<Interval, ValueError> {
        let err = || bad("interval", s, INTERVAL_FORM);
        let body = s.strip_prefix('P').ok_or_else(err)?;
        let (date_part, time_part) = match body.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (body, None),
        };
        let mut months: i64 = 0;
        let mut days: i64 = 0;
        let mut micros: i128 = 0;
        for (num, unit) in components(date_part).ok_or_else(err)? {
            let n: i64 = num.parse().map_err(|_| err())?;
            match unit {
                'Y' => {
                    months = n
                        .checked_mul(12)
                        .and_then(|v| v.checked_add(months))
                        .ok_or_else(err)?
                }
                'M' => months = months.checked_add(n).ok_or_else(err)?,
                'D' => days = days.checked_add(n).ok_or_else(err)?,
                _ => return Err(err()),
            }
        }
        if let Some(t) = time_part {
            if t.is_empty() {
                return Err(err());
            }
            for (num, unit) in components(t).ok_or_else(err)? {
                let scale = match unit {
                    'H' => MICROS_PER_HOUR,
                    'M' => MICROS_PER_MINUTE,
                    'S' => MICROS_PER_SECOND,
                    _ => return Err(err()),
                };
                let value: i128 = if unit == 'S' {
                    parse_seconds(num).ok_or_else(err)?
                } else {
                    i128::from(num.parse::<i64>().map_err(|_| err())?) * i128::from(scale)
                };
                micros += value;
            }
        }
        Ok(Interval {
            months: i32::try_from(months).map_err(|_| err())?,
            days: i32::try_from(days).map_err(|_| err())?,
            micros: i64::try_from(micros).map_err(|_| err())?,
        })
    }
}

/// Splits `1Y-2M3D` into (number, unit) pairs.
fn components(s: &str) -> Option<Vec<(&str, char)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_alphabetic() {
            if i == start {
                return None;
            }
            out.push((&s[start..i], c));
            start = i + 1;
        }
    }
    (start == s.len()).then_some(out)
}

/// `-6.5` seconds → microseconds.
fn parse_seconds(s: &str) -> Option<i128> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 6 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: i128 = whole.parse().ok()?;
    let f: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().ok()? * 10_i128.pow(6 - frac.len() as u32)
    };
    let v = w * i128::from(MICROS_PER_SECOND) + f;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_round_trip_and_known_values() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().to_epoch_days(), Some(0));
        assert_eq!(Date::new(2000, 1, 1).unwrap().to_epoch_days(), Some(10_957));
        assert_eq!(Date::new(2024, 2, 30).unwrap().to_epoch_days(), None);
        for d in [-2_451_545_i64 - 10_957, -1, 0, 59, 60, 10_957, 2_000_000] {
            assert_eq!(Date::from_epoch_days(d).unwrap().to_epoch_days(), Some(d));
        }
    }

    #[test]
    fn text_forms() {
        assert_eq!(Date::new(-4712, 1, 1).unwrap().to_string(), "-4712-01-01");
        assert_eq!(
            Date::new(5_874_897, 12, 31).unwrap().to_string(),
            "+5874897-12-31"
        );
        assert_eq!(Date::ZERO.to_string(), "0000-00-00");
        assert_eq!(
            Time::from_micros(-3_020_399_000_000).unwrap().to_string(),
            "-838:59:59"
        );
        assert_eq!(
            TimeTz::new(MICROS_PER_DAY, -(3600 * 15 + 59 * 60 + 59))
                .unwrap()
                .to_string(),
            "24:00:00-15:59:59"
        );
        let dt = DateTime::from_unix_micros(-1).unwrap();
        assert_eq!(dt.to_string(), "1969-12-31T23:59:59.999999");
        let iv = Interval {
            months: -14,
            days: 3,
            micros: -3_723_500_000,
        };
        assert_eq!(iv.to_string(), "P-1Y-2M3DT-1H-2M-3.5S");
        assert_eq!(iv.to_string().parse::<Interval>().unwrap(), iv);
    }

    #[test]
    fn rejects_non_canonical_and_garbage() {
        for s in [
            "2024-1-01",
            "12024-01-01",
            "2024-13-01",
            "x",
            "",
            "+2024-01-01",
        ] {
            assert!(s.parse::<Date>().is_err(), "{s}");
        }
        for s in ["1:00:00", "10:60:00", "10:00:00.1234567", "10:00:00.1"] {
            assert!(s.parse::<Time>().is_err(), "{s}");
        }
        for s in ["P", "PT", "P1", "PXY", "P1Y2Y"] {
            assert!(s.parse::<Interval>().is_err(), "{s}");
        }
    }
}

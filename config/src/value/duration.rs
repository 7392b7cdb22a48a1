//! Durations written as `200ms`, `5s`, `1m`, `2h` or combined like `1m30s`.
//!
//! Invariants: a duration always has a unit (a bare `200` is an error, since
//! milliseconds and seconds are both plausible); parts are whole numbers; units
//! are `ms`, `s`, `m`, `h`, each at most once, largest first; arithmetic cannot
//! overflow (it is checked). `Display` prints the canonical form, which parses back
//! to the same value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The accepted forms, for hints.
pub const DURATION_FORMS: &str =
    "write a whole number with a unit: ms, s, m or h, e.g. 200ms, 5s, 1m, 1m30s";

/// A configuration duration (millisecond resolution).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }

    /// As a standard library duration.
    pub fn get(&self) -> std::time::Duration {
        self.0
    }

    /// Whole milliseconds.
    pub fn as_millis(&self) -> u128 {
        self.0.as_millis()
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({self})")
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0ms");
        }
        for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(pub String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, DurationError> {
        let err = |why: &str| DurationError(format!("invalid duration `{s}`: {why}"));
        if s.is_empty() {
            return Err(err("empty"));
        }
        let mut rest = s;
        let mut total: u64 = 0;
        let mut last_rank = usize::MAX;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return Err(err("expected a number"));
            }
            let (num, tail) = rest.split_at(digits);
            let unit_len = tail.chars().take_while(char::is_ascii_alphabetic).count();
            let (unit, tail) = tail.split_at(unit_len);
            let (rank, size) = match unit {
                "h" => (0, 3_600_000u64),
                "m" => (1, 60_000),
                "s" => (2, 1_000),
                "ms" => (3, 1),
                "" => return Err(err("missing unit")),
                _ => return Err(err(&format!("unknown unit `{unit}`"))),
            };
            if last_rank != usize::MAX && rank <= last_rank {
                return Err(err("units must go from largest to smallest, each once"));
            }
            last_rank = rank;
            let n: u64 = num.parse().map_err(|_| err("number too large"))?;
            total = n
                .checked_mul(size)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| err("too large"))?;
            rest = tail;
        }
        Ok(Duration::from_millis(total))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: DurationError| crate::de::hinted(e, DURATION_FORMS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> u128 {
        s.parse::<Duration>().unwrap().as_millis()
    }

    #[test]
    fn parses_units() {
        assert_eq!(ms("200ms"), 200);
        assert_eq!(ms("5s"), 5_000);
        assert_eq!(ms("1m"), 60_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms("1m30s"), 90_000);
        assert_eq!(ms("1h0m5s250ms"), 3_605_250);
        assert_eq!(ms("0s"), 0);
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "200",
            "5 s",
            "5sec",
            "1.5s",
            "-1s",
            "s",
            "1s1m",
            "1s1s",
            "ms5",
            "99999999999999999999h",
            "18446744073709551615h",
        ] {
            let e = bad.parse::<Duration>();
            assert!(e.is_err(), "{bad:?} parsed");
        }
        let e = "200".parse::<Duration>().unwrap_err();
        assert!(e.0.contains("missing unit"), "{}", e.0);
    }

    #[test]
    fn display_round_trips() {
        for s in ["200ms", "5s", "1m30s", "2h", "1h1m1s1ms", "0ms"] {
            let d: Duration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "1m30s");
    }
}

//! Exact decimals of any precision, as text.
//!
//! Invariants: the digits are exactly what the source sent, including the
//! scale (`1.50` stays `1.50`), so a decimal never passes through a binary
//! float. PostgreSQL's `NaN`, `Infinity` and `-Infinity` are held too. The
//! canonical form has no `+`, no redundant leading zeros and no negative zero;
//! equality is equality of that form (so `1.5 != 1.50`, on purpose: the scale
//! is part of the value a follower must store).

use std::fmt;
use std::str::FromStr;

use crate::error::ValueError;

/// An exact decimal number (or a PostgreSQL special value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `NaN`.
    pub fn is_nan(&self) -> bool {
        self.0 == "NaN"
    }
    /// Neither `NaN` nor an infinity.
    pub fn is_finite(&self) -> bool {
        !matches!(self.0.as_str(), "NaN" | "Infinity" | "-Infinity")
    }
    /// Digits after the point (0 for the specials).
    pub fn scale(&self) -> usize {
        self.0.split_once('.').map_or(0, |(_, f)| f.len())
    }
    /// Whether the value is negative (and finite or `-Infinity`).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Decimal {
    type Err = ValueError;

    /// Accepts `[+-]digits[.digits]`, `[+-].digits`, `NaN` and `[+-]Infinity`
    /// (any case for the specials), and canonicalises.
    fn from_str(s: &str) -> Result<Decimal, ValueError> {
        let err = || {
            ValueError::new(format!(
                "`{s}` is not an exact decimal; expected digits with an optional sign and point (e.g. -12.50), NaN or ±Infinity"
            ))
        };
        match s.to_ascii_lowercase().as_str() {
            "nan" => return Ok(Decimal("NaN".into())),
            "infinity" | "+infinity" | "inf" | "+inf" => return Ok(Decimal("Infinity".into())),
            "-infinity" | "-inf" => return Ok(Decimal("-Infinity".into())),
            _ => {}
        }
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !frac.is_none_or(all_digits) {
            return Err(err());
        }
        if int.is_empty() && frac.is_none_or(str::is_empty) {
            return Err(err());
        }
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let mut out = String::with_capacity(s.len() + 1);
        let is_zero = int == "0" && frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
        if neg && !is_zero {
            out.push('-');
        }
        out.push_str(int);
        if let Some(f) = frac.filter(|f| !f.is_empty()) {
            out.push('.');
            out.push_str(f);
        }
        Ok(Decimal(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (input, want) in [
            ("007.50", "7.50"),
            ("+1", "1"),
            ("-0.000", "0.000"),
            (".5", "0.5"),
            ("5.", "5"),
            ("nan", "NaN"),
            ("-INFINITY", "-Infinity"),
            (
                "-99999999999999999999999999999999999.999999999999999999999999999999",
                "-99999999999999999999999999999999999.999999999999999999999999999999",
            ),
        ] {
            assert_eq!(input.parse::<Decimal>().unwrap().as_str(), want, "{input}");
        }
        assert_eq!("1.50".parse::<Decimal>().unwrap().scale(), 2);
    }

    #[test]
    fn rejects_non_numbers() {
        for s in ["", ".", "-", "1e5", "1.2.3", "0x10", " 1", "1,5", "١"] {
            assert!(s.parse::<Decimal>().is_err(), "{s:?}");
        }
    }
}

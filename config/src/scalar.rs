//! YAML 1.2 core-schema resolution of plain scalars.
//!
//! Invariant: this is the only place that decides whether plain text is null,
//! a boolean, an integer or a float; it follows the core schema's regular
//! expressions exactly (so `yes`, `on`, `0123`-as-octal of YAML 1.1 are *not*
//! special: `yes` is a string and `0123` the integer 123).

/// What a plain scalar means under the core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    /// An integer that fits in `i128` (covers every `i64` and `u64`).
    Int(i128),
    /// Looks like an integer but is too large for any supported type.
    IntTooLarge,
    Float(f64),
    Str(&'a str),
}

pub(crate) fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

fn is_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(t, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => all(frac, |c| c.is_ascii_digit()),
        Some((int, frac)) => {
            all(int, |c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit())
        }
        None => all(mantissa, |c| c.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => all(e.strip_prefix(['-', '+']).unwrap_or(e), |c| {
            c.is_ascii_digit()
        }),
    };
    mantissa_ok && exp_ok
}

/// Resolve a plain scalar's text.
pub(crate) fn resolve(text: &str) -> Resolved<'_> {
    if is_null(text) {
        return Resolved::Null;
    }
    match text {
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let int = if let Some(oct) = text.strip_prefix("0o") {
        all(oct, |c| c.is_digit(8)).then(|| i128::from_str_radix(oct, 8).ok())
    } else if let Some(hex) = text.strip_prefix("0x") {
        all(hex, |c| c.is_ascii_hexdigit()).then(|| i128::from_str_radix(hex, 16).ok())
    } else {
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        all(digits, |c| c.is_ascii_digit()).then(|| text.parse::<i128>().ok())
    };
    match int {
        Some(Some(n)) => return Resolved::Int(n),
        Some(None) => return Resolved::IntTooLarge,
        None => {}
    }
    if is_float(text) {
        let t = text
            .replace(".inf", "inf")
            .replace(".Inf", "inf")
            .replace(".INF", "inf");
        if let Ok(f) = t.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    Resolved::Str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema() {
        assert_eq!(resolve(""), Resolved::Null);
        assert_eq!(resolve("~"), Resolved::Null);
        assert_eq!(resolve("True"), Resolved::Bool(true));
        assert_eq!(resolve("yes"), Resolved::Str("yes"));
        assert_eq!(resolve("0123"), Resolved::Int(123));
        assert_eq!(resolve("-5"), Resolved::Int(-5));
        assert_eq!(resolve("0x1F"), Resolved::Int(31));
        assert_eq!(resolve("0o17"), Resolved::Int(15));
        assert_eq!(resolve("0x"), Resolved::Str("0x"));
        assert_eq!(
            resolve("99999999999999999999999999999999999999999"),
            Resolved::IntTooLarge
        );
        assert_eq!(resolve("1.5"), Resolved::Float(1.5));
        assert_eq!(resolve(".5e3"), Resolved::Float(500.0));
        assert_eq!(resolve("-.inf"), Resolved::Float(f64::NEG_INFINITY));
        assert_eq!(resolve("200ms"), Resolved::Str("200ms"));
        assert_eq!(resolve("1.2.3"), Resolved::Str("1.2.3"));
        assert_eq!(resolve("e5"), Resolved::Str("e5"));
        assert_eq!(resolve("."), Resolved::Str("."));
    }
}

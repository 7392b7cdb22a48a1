//! PostgreSQL types → [`Value`]s, from pgoutput's text form.
//!
//! Invariants:
//! - pgoutput sends column values as the type's text output, produced in the
//!   walsender with the session settings rowlog connects with
//!   ([`SESSION_OPTIONS`]: UTC, ISO dates, ISO 8601 intervals, shortest exact
//!   floats, hex bytea). Every parser here assumes exactly those settings and
//!   refuses anything else with an error naming the text, never a guess.
//! - Nothing is lossy: numerics stay digit strings, timestamps keep
//!   microseconds and ±infinity, BC dates become astronomical years.
//! - A type this module does not know (an extension's, a composite, a range)
//!   is [`PgType::Other`]: its text form is kept as `Value::Text`, and the
//!   caller warns once per column. That is never an error.
//!
//! Built-in types are recognised by OID; enums, domains and arrays of them
//! are resolved from `pg_type` by the caller ([`PgType::from_catalog`]).

use rowlog_schemas::value::{
    BitString, Date, DateTime, Interval, MICROS_PER_DAY, Time, TimeTz, Uuid,
};
use rowlog_schemas::{Value, ValueError, ValueKind};

/// Settings the replication and snapshot sessions run with, as startup
/// `options`; the parsers below rely on them.
pub const SESSION_OPTIONS: &str = "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 \
     -c extra_float_digits=3 -c bytea_output=hex";

/// How values of one column type are decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType {
    /// `bool`
    Bool,
    /// `int2`, `int4`, `int8`, `oid`, `xid`…
    Int,
    /// `float4`
    Float4,
    /// `float8`
    Float8,
    /// `numeric`
    Numeric,
    /// `text`, `varchar`, `bpchar`, `name`, `"char"`, `money`, `inet`, `cidr`,
    /// `macaddr`, `macaddr8`, `xml`, …: kept as their text.
    Text,
    /// `bytea`
    Bytea,
    /// `date`
    Date,
    /// `time`
    Time,
    /// `timetz`
    TimeTz,
    /// `timestamp`
    Timestamp,
    /// `timestamptz`
    TimestampTz,
    /// `interval`
    Interval,
    /// `uuid`
    Uuid,
    /// `json`, `jsonb`
    Json,
    /// an enum type
    Enum,
    /// `bit`, `varbit`
    Bits,
    /// an array; `delimiter` is the element type's `typdelim`
    Array {
        /// Element type.
        element: Box<PgType>,
        /// Element separator in the text form (`,` for all but `box`).
        delimiter: char,
    },
    /// anything else, kept as its text form
    Other,
}

/// Built-in scalar types by OID (`pg_type.dat`).
const SCALARS: &[(u32, PgType)] = &[
    (16, PgType::Bool),
    (17, PgType::Bytea),
    (18, PgType::Text),  // "char"
    (19, PgType::Text),  // name
    (20, PgType::Int),   // int8
    (21, PgType::Int),   // int2
    (23, PgType::Int),   // int4
    (25, PgType::Text),  // text
    (26, PgType::Int),   // oid
    (28, PgType::Int),   // xid
    (114, PgType::Json), // json
    (142, PgType::Text), // xml
    (650, PgType::Text), // cidr
    (700, PgType::Float4),
    (701, PgType::Float8),
    (774, PgType::Text),  // macaddr8
    (790, PgType::Text),  // money (locale-formatted)
    (829, PgType::Text),  // macaddr
    (869, PgType::Text),  // inet
    (1042, PgType::Text), // bpchar
    (1043, PgType::Text), // varchar
    (1082, PgType::Date),
    (1083, PgType::Time),
    (1114, PgType::Timestamp),
    (1184, PgType::TimestampTz),
    (1186, PgType::Interval),
    (1266, PgType::TimeTz),
    (1560, PgType::Bits),
    (1562, PgType::Bits),
    (1700, PgType::Numeric),
    (2950, PgType::Uuid),
    (3802, PgType::Json), // jsonb
    (5069, PgType::Int),  // xid8
];

/// Built-in array types: (array OID, element OID).
const ARRAYS: &[(u32, u32)] = &[
    (1000, 16),
    (1001, 17),
    (1002, 18),
    (1003, 19),
    (1016, 20),
    (1005, 21),
    (1007, 23),
    (1009, 25),
    (1028, 26),
    (1011, 28),
    (199, 114),
    (143, 142),
    (651, 650),
    (1021, 700),
    (1022, 701),
    (775, 774),
    (791, 790),
    (1040, 829),
    (1041, 869),
    (1014, 1042),
    (1015, 1043),
    (1182, 1082),
    (1183, 1083),
    (1115, 1114),
    (1185, 1184),
    (1187, 1186),
    (1270, 1266),
    (1561, 1560),
    (1563, 1562),
    (1231, 1700),
    (2951, 2950),
    (3807, 3802),
    (271, 5069),
];

/// What `pg_type` says about a type the built-in tables do not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogType {
    /// `typtype`: `b` base, `c` composite, `d` domain, `e` enum, `p`, `r`, `m`.
    pub typtype: char,
    /// `typcategory`: `A` for arrays.
    pub typcategory: char,
    /// `typelem` of an array type.
    pub typelem: u32,
    /// `typbasetype` of a domain.
    pub typbasetype: u32,
    /// `typdelim` of the element type (for arrays).
    pub typdelim: char,
}

impl PgType {
    /// A built-in type by OID.
    pub fn builtin(oid: u32) -> Option<PgType> {
        if let Some((_, t)) = SCALARS.iter().find(|(o, _)| *o == oid) {
            return Some(t.clone());
        }
        let (_, elem) = ARRAYS.iter().find(|(o, _)| *o == oid)?;
        Some(PgType::Array {
            element: Box::new(PgType::builtin(*elem)?),
            delimiter: ',',
        })
    }

    /// Resolves a non-built-in type: `lookup(oid)` answers from `pg_type`
    /// (the caller queries it). Enums, domains over any known type, and arrays
    /// of those resolve; the rest is [`PgType::Other`]. `depth` guards
    /// against cycles in a corrupt catalog.
    pub fn from_catalog(oid: u32, lookup: &mut dyn FnMut(u32) -> Option<CatalogType>) -> PgType {
        fn go(oid: u32, lookup: &mut dyn FnMut(u32) -> Option<CatalogType>, depth: u32) -> PgType {
            if let Some(t) = PgType::builtin(oid) {
                return t;
            }
            if depth > 16 {
                return PgType::Other;
            }
            let Some(c) = lookup(oid) else {
                return PgType::Other;
            };
            match c.typtype {
                'e' => PgType::Enum,
                'd' => go(c.typbasetype, lookup, depth + 1),
                _ if c.typcategory == 'A' && c.typelem != 0 => {
                    let delimiter = lookup(c.typelem).map_or(',', |e| e.typdelim);
                    PgType::Array {
                        element: Box::new(go(c.typelem, lookup, depth + 1)),
                        delimiter,
                    }
                }
                _ => PgType::Other,
            }
        }
        go(oid, lookup, 0)
    }

    /// The kind of [`Value`] this type decodes to.
    pub fn kind(&self) -> ValueKind {
        match self {
            PgType::Bool => ValueKind::Bool,
            PgType::Int => ValueKind::Int,
            PgType::Float4 => ValueKind::Float32,
            PgType::Float8 => ValueKind::Float64,
            PgType::Numeric => ValueKind::Decimal,
            PgType::Text | PgType::Other => ValueKind::Text,
            PgType::Bytea => ValueKind::Bytes,
            PgType::Date => ValueKind::Date,
            PgType::Time => ValueKind::Time,
            PgType::TimeTz => ValueKind::TimeTz,
            PgType::Timestamp => ValueKind::Timestamp,
            PgType::TimestampTz => ValueKind::TimestampTz,
            PgType::Interval => ValueKind::Interval,
            PgType::Uuid => ValueKind::Uuid,
            PgType::Json => ValueKind::Json,
            PgType::Enum => ValueKind::Enum,
            PgType::Bits => ValueKind::Bits,
            PgType::Array { element, .. } => ValueKind::Array(Box::new(element.kind())),
        }
    }

    /// Whether values arrive as text of an unknown type (warn once per column).
    pub fn is_other(&self) -> bool {
        match self {
            PgType::Other => true,
            PgType::Array { element, .. } => element.is_other(),
            _ => false,
        }
    }

    /// Decodes one value from its text form.
    pub fn decode_text(&self, s: &str) -> Result<Value, ValueError> {
        Ok(match self {
            PgType::Bool => match s {
                "t" => Value::Bool(true),
                "f" => Value::Bool(false),
                _ => return Err(bad("bool", s)),
            },
            PgType::Int => Value::Int(s.parse().map_err(|_| bad("integer", s))?),
            PgType::Float4 => Value::Float32(parse_float(s)? as f32),
            PgType::Float8 => Value::Float64(parse_float(s)?),
            PgType::Numeric => Value::Decimal(s.parse()?),
            PgType::Text | PgType::Other => Value::Text(s.to_string()),
            PgType::Json => Value::Json(s.to_string()),
            PgType::Enum => Value::Enum(s.to_string()),
            PgType::Bytea => Value::Bytes(parse_bytea(s)?),
            PgType::Date => Value::Date(parse_date(s)?),
            PgType::Time => Value::Time(Time::from_micros(parse_clock(s, true)?)?),
            PgType::TimeTz => Value::TimeTz(parse_timetz(s)?),
            PgType::Timestamp => Value::Timestamp(parse_timestamp(s, false)?),
            PgType::TimestampTz => Value::TimestampTz(parse_timestamp(s, true)?),
            PgType::Interval => Value::Interval(Interval::from_iso8601(s)?),
            PgType::Uuid => Value::Uuid(Uuid::parse_str(s).map_err(|_| bad("uuid", s))?),
            PgType::Bits => Value::Bits(s.parse::<BitString>()?),
            PgType::Array { element, delimiter } => parse_array(s, element, *delimiter)?,
        })
    }
}

fn bad(kind: &str, s: &str) -> ValueError {
    let shown: String = s.chars().take(80).collect();
    ValueError::new(format!(
        "`{shown}` is not a PostgreSQL {kind} in the expected text form"
    ))
}

fn parse_float(s: &str) -> Result<f64, ValueError> {
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        // Rust would also take "inf"/"infinity": PostgreSQL never prints those.
        _ if s.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e') => Err(bad("float", s)),
        _ => s.parse().map_err(|_| bad("float", s)),
    }
}

/// `\x0102ff` (hex output; escape output is refused by SESSION_OPTIONS).
fn parse_bytea(s: &str) -> Result<Vec<u8>, ValueError> {
    let hex = s
        .strip_prefix("\\x")
        .ok_or_else(|| bad("bytea (hex output)", s))?;
    if hex.len() % 2 != 0 {
        return Err(bad("bytea", s));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16).map_err(|_| bad("bytea", s))
        })
        .collect()
}

fn digits<T: std::str::FromStr>(x: &str, kind: &str, whole: &str) -> Result<T, ValueError> {
    if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(kind, whole));
    }
    x.parse().map_err(|_| bad(kind, whole))
}

/// `YYYY-MM-DD[ BC]`, `infinity`, `-infinity`.
fn parse_date(s: &str) -> Result<Date, ValueError> {
    match s {
        "infinity" => return Ok(Date::INFINITY),
        "-infinity" => return Ok(Date::NEG_INFINITY),
        _ => {}
    }
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let mut it = body.split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad("date", s));
    };
    let year: i32 = digits(y, "date", s)?;
    // 1 BC is astronomical year 0.
    let year = if bc { 1 - year } else { year };
    Date::new(year, digits(m, "date", s)?, digits(d, "date", s)?)
}

/// `HH:MM:SS[.f{1,6}]` → microseconds; `24:00:00` only where allowed.
fn parse_clock(s: &str, allow_24: bool) -> Result<i64, ValueError> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut it = hms.split(':');
    let (Some(h), Some(m), Some(sec), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad("time", s));
    };
    let (h, m, sec): (i64, i64, i64) = (
        digits(h, "time", s)?,
        digits(m, "time", s)?,
        digits(sec, "time", s)?,
    );
    if m > 59 || sec > 60 || frac.len() > 6 {
        return Err(bad("time", s));
    }
    let f: i64 = if frac.is_empty() {
        0
    } else {
        digits::<i64>(frac, "time", s)? * 10_i64.pow(6 - frac.len() as u32)
    };
    let us = ((h * 60 + m) * 60 + sec) * 1_000_000 + f;
    if us > MICROS_PER_DAY || (us == MICROS_PER_DAY && !allow_24) {
        return Err(bad("time", s));
    }
    Ok(us)
}

/// `+HH[:MM[:SS]]` → seconds east of UTC.
fn parse_offset(s: &str, whole: &str) -> Result<i32, ValueError> {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad("time zone offset", whole)),
    };
    let mut secs = 0i32;
    let mut parts = 0;
    for (i, p) in body.split(':').enumerate() {
        let v: i32 = digits(p, "time zone offset", whole)?;
        secs += v * [3600, 60, 1]
            .get(i)
            .copied()
            .ok_or_else(|| bad("time zone offset", whole))?;
        parts += 1;
    }
    if parts == 0 {
        return Err(bad("time zone offset", whole));
    }
    Ok(sign * secs)
}

fn parse_timetz(s: &str) -> Result<TimeTz, ValueError> {
    let idx = s.rfind(['+', '-']).ok_or_else(|| bad("timetz", s))?;
    TimeTz::new(parse_clock(&s[..idx], true)?, parse_offset(&s[idx..], s)?)
}

/// `YYYY-MM-DD HH:MM:SS[.f][+00][ BC]`; timestamptz must be in UTC (`+00`).
fn parse_timestamp(s: &str, with_zone: bool) -> Result<DateTime, ValueError> {
    match s {
        "infinity" => return Ok(DateTime::INFINITY),
        "-infinity" => return Ok(DateTime::NEG_INFINITY),
        _ => {}
    }
    let kind = if with_zone {
        "timestamptz"
    } else {
        "timestamp"
    };
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (date, rest) = body.split_once(' ').ok_or_else(|| bad(kind, s))?;
    let clock = if with_zone {
        let idx = rest.rfind(['+', '-']).ok_or_else(|| bad(kind, s))?;
        if parse_offset(&rest[idx..], s)? != 0 {
            return Err(ValueError::new(format!(
                "timestamptz `{s}` is not in UTC; the session must run with TimeZone=UTC"
            )));
        }
        &rest[..idx]
    } else {
        rest
    };
    let date = if bc {
        format!("{date} BC")
    } else {
        date.to_string()
    };
    DateTime::new(parse_date(&date)?, parse_clock(clock, false)?)
}

/// PostgreSQL array text: `{1,NULL,"a b"}`, nested `{{1,2},{3,4}}`, with an
/// optional `[lo:hi]=` dimension prefix (lower bounds are not kept).
fn parse_array(s: &str, element: &PgType, delim: char) -> Result<Value, ValueError> {
    let body = match s.strip_prefix('[') {
        Some(_) => s
            .split_once('=')
            .map(|(_, b)| b)
            .ok_or_else(|| bad("array", s))?,
        None => s,
    };
    let mut p = ArrayParser {
        chars: body.char_indices().peekable(),
        src: body,
        whole: s,
        element,
        delim,
    };
    let v = p.array(0)?;
    if p.chars.next().is_some() {
        return Err(bad("array", s));
    }
    Ok(v)
}

struct ArrayParser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    src: &'a str,
    whole: &'a str,
    element: &'a PgType,
    delim: char,
}

impl ArrayParser<'_> {
    fn err(&self) -> ValueError {
        bad("array", self.whole)
    }

    fn array(&mut self, depth: u32) -> Result<Value, ValueError> {
        if depth > 6 || self.chars.next().map(|(_, c)| c) != Some('{') {
            return Err(self.err());
        }
        let mut items = Vec::new();
        if self.chars.peek().map(|(_, c)| *c) == Some('}') {
            self.chars.next();
            return Ok(Value::Array(items));
        }
        loop {
            let item = match self.chars.peek().map(|(_, c)| *c) {
                Some('{') => self.array(depth + 1)?,
                Some('"') => {
                    let text = self.quoted()?;
                    self.element.decode_text(&text)?
                }
                Some(_) => {
                    let text = self.bare()?;
                    if text == "NULL" {
                        Value::Null
                    } else {
                        self.element.decode_text(&text)?
                    }
                }
                None => return Err(self.err()),
            };
            items.push(item);
            match self.chars.next().map(|(_, c)| c) {
                Some('}') => return Ok(Value::Array(items)),
                Some(c) if c == self.delim => {}
                _ => return Err(self.err()),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ValueError> {
        self.chars.next(); // opening quote
        let mut out = String::new();
        loop {
            match self.chars.next() {
                Some((_, '"')) => return Ok(out),
                Some((_, '\\')) => out.push(self.chars.next().ok_or_else(|| self.err())?.1),
                Some((_, c)) => out.push(c),
                None => return Err(self.err()),
            }
        }
    }

    fn bare(&mut self) -> Result<String, ValueError> {
        let start = self
            .chars
            .peek()
            .map(|(i, _)| *i)
            .ok_or_else(|| self.err())?;
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c == self.delim || c == '}' {
                break;
            }
            if c == '"' || c == '{' || c == '\\' {
                return Err(self.err());
            }
            end = i + c.len_utf8();
            self.chars.next();
        }
        Ok(self.src[start..end].trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(oid: u32, s: &str) -> Value {
        PgType::builtin(oid).unwrap().decode_text(s).unwrap()
    }

    #[test]
    fn dates_and_times_from_postgres_output() {
        assert_eq!(
            dec(1082, "4713-01-01 BC"),
            Value::Date(Date::new(-4712, 1, 1).unwrap())
        );
        assert_eq!(
            dec(1082, "5874897-12-31"),
            Value::Date(Date::new(5_874_897, 12, 31).unwrap())
        );
        assert_eq!(dec(1082, "-infinity"), Value::Date(Date::NEG_INFINITY));
        assert_eq!(
            dec(1083, "24:00:00"),
            Value::Time(Time::from_micros(MICROS_PER_DAY).unwrap())
        );
        assert_eq!(
            dec(1266, "12:00:00.25-03:30:15"),
            Value::TimeTz(TimeTz::new(43_200_250_000, -(3 * 3600 + 30 * 60 + 15)).unwrap())
        );
        assert_eq!(
            dec(1266, "12:00:00+05"),
            Value::TimeTz(TimeTz::new(43_200_000_000, 18_000).unwrap())
        );
        let ts = |d: &str| d.parse::<DateTime>().unwrap();
        assert_eq!(
            dec(1114, "2024-01-31 12:34:56.5"),
            Value::Timestamp(ts("2024-01-31T12:34:56.500000"))
        );
        assert_eq!(
            dec(1114, "0044-03-15 10:00:00 BC"),
            Value::Timestamp(ts("-0043-03-15T10:00:00"))
        );
        assert_eq!(
            dec(1184, "2024-01-31 07:04:56.5+00"),
            Value::TimestampTz(ts("2024-01-31T07:04:56.500000"))
        );
        assert_eq!(
            dec(1184, "4713-01-01 00:00:00+00 BC"),
            Value::TimestampTz(ts("-4712-01-01T00:00:00"))
        );
        assert_eq!(
            dec(1184, "infinity"),
            Value::TimestampTz(DateTime::INFINITY)
        );
        assert!(
            PgType::TimestampTz
                .decode_text("2024-01-31 07:04:56+01")
                .is_err()
        );
        assert_eq!(
            dec(1186, "P-1Y-2M3DT-4H-5M-6.5S"),
            Value::Interval(Interval {
                months: -14,
                days: 3,
                micros: -14_706_500_000
            })
        );
        assert_eq!(dec(1186, "PT0S"), Value::Interval(Interval::default()));
    }

    #[test]
    fn numbers_bytes_bits() {
        assert_eq!(dec(700, "0.1"), Value::Float32(0.1));
        assert_eq!(dec(701, "1e+30"), Value::Float64(1e30));
        assert_eq!(dec(701, "-Infinity"), Value::Float64(f64::NEG_INFINITY));
        assert!(PgType::Float8.decode_text("inf").is_err());
        assert_eq!(dec(1700, "NaN"), Value::Decimal("NaN".parse().unwrap()));
        assert_eq!(
            dec(1700, "-12.50"),
            Value::Decimal("-12.50".parse().unwrap())
        );
        assert_eq!(dec(17, "\\x0102ff"), Value::Bytes(vec![1, 2, 255]));
        assert!(PgType::Bytea.decode_text("\\001").is_err());
        assert_eq!(dec(1562, "1010"), Value::Bits("1010".parse().unwrap()));
        assert_eq!(dec(20, "-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(dec(16, "t"), Value::Bool(true));
    }

    #[test]
    fn arrays() {
        assert_eq!(
            dec(1007, "{1,NULL,3}"),
            Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)])
        );
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            dec(1009, r#"{{"a b","x\"y\\z"},{NULL,"NULL"}}"#),
            Value::Array(vec![
                Value::Array(vec![t("a b"), t("x\"y\\z")]),
                Value::Array(vec![Value::Null, t("NULL")]),
            ])
        );
        assert_eq!(
            dec(1007, "[0:1]={1,2}"),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(dec(1007, "{}"), Value::Array(vec![]));
        assert_eq!(dec(1009, r#"{""," "}"#), Value::Array(vec![t(""), t(" ")]));
        assert_eq!(
            dec(3807, r#"{"{\"a\": 1}"}"#),
            Value::Array(vec![Value::Json(r#"{"a": 1}"#.into())])
        );
        for bad in [
            "{1,2",
            "{1,,2}",
            "1,2",
            "{1}x",
            "{\"a}",
            "{{{{{{{{1}}}}}}}}",
        ] {
            assert!(
                PgType::builtin(1007).unwrap().decode_text(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn catalog_resolution() {
        let mut cat = |oid: u32| -> Option<CatalogType> {
            let c = |typtype, typcategory, typelem, typbasetype| CatalogType {
                typtype,
                typcategory,
                typelem,
                typbasetype,
                typdelim: ',',
            };
            match oid {
                90001 => Some(c('e', 'E', 0, 0)),     // enum mood
                90002 => Some(c('b', 'A', 90001, 0)), // mood[]
                90003 => Some(c('d', 'N', 0, 1700)),  // domain over numeric
                90004 => Some(c('d', 'N', 0, 90003)), // domain over domain
                90005 => Some(c('b', 'U', 0, 0)),     // extension base type
                _ => None,
            }
        };
        assert_eq!(PgType::from_catalog(90001, &mut cat), PgType::Enum);
        assert_eq!(
            PgType::from_catalog(90002, &mut cat).kind().to_string(),
            "enum[]"
        );
        assert_eq!(PgType::from_catalog(90004, &mut cat), PgType::Numeric);
        assert!(PgType::from_catalog(90005, &mut cat).is_other());
        assert_eq!(PgType::from_catalog(23, &mut cat), PgType::Int);
    }
}

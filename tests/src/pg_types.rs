//! An all-types PostgreSQL table (`types_t`) with edge-value rows and the
//! `Value`s the PostgreSQL source must produce for them: the shared
//! expectations of the source's type tests and the follower tests. Variants
//! per column: min, max, special 1, special 2, NULL ([`NULLS`]), ordinary.
//! Run [`DDL`] first (an enum type and a domain), then [`create_table`].

#![allow(clippy::unwrap_used, clippy::missing_panics_doc, missing_docs)]

use rowlog_schemas::value::{
    BitString, Date, DateTime, Interval, MICROS_PER_DAY, Time, TimeTz, Uuid,
};
use rowlog_schemas::{Row, Value};

/// One value: the SQL that writes it and the `Value` it must arrive as.
#[derive(Clone, Debug)]
pub struct Cell {
    /// SQL literal.
    pub sql: String,
    /// What it must arrive as.
    pub value: Value,
}

pub fn c(sql: impl Into<String>, value: Value) -> Cell {
    Cell {
        sql: sql.into(),
        value,
    }
}

pub fn null() -> Cell {
    c("NULL", Value::Null)
}

/// A SQL string literal (standard_conforming_strings is on).
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}

pub fn float_sql(x: f64, debug: String) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == f64::INFINITY {
        "Infinity".into()
    } else if x == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        debug
    }
}

pub fn f4(x: f32) -> Cell {
    c(
        format!("'{}'::real", float_sql(f64::from(x), format!("{x:?}"))),
        Value::Float32(x),
    )
}

pub fn f8(x: f64) -> Cell {
    c(
        format!("'{}'::float8", float_sql(x, format!("{x:?}"))),
        Value::Float64(x),
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn bytea(b: &[u8]) -> Cell {
    c(
        format!("{}::bytea", lit(&format!("\\x{}", hex(b)))),
        Value::Bytes(b.to_vec()),
    )
}

pub fn date(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

pub fn clock(h: i64, mi: i64, s: i64, us: i64) -> i64 {
    ((h * 60 + mi) * 60 + s) * 1_000_000 + us
}

pub fn dt(y: i32, m: u8, d: u8, h: i64, mi: i64, s: i64, us: i64) -> DateTime {
    DateTime::new(date(y, m, d), clock(h, mi, s, us)).unwrap()
}

pub fn time(h: i64, mi: i64, s: i64, us: i64) -> Value {
    Value::Time(Time::from_micros(clock(h, mi, s, us)).unwrap())
}

pub fn timetz(h: i64, mi: i64, s: i64, us: i64, offset_east: i32) -> Value {
    Value::TimeTz(TimeTz::new(clock(h, mi, s, us), offset_east).unwrap())
}

pub fn iv(months: i32, days: i32, micros: i64) -> Value {
    Value::Interval(Interval {
        months,
        days,
        micros,
    })
}

pub fn bits(s: &str) -> Value {
    Value::Bits(s.parse::<BitString>().unwrap())
}

pub fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

pub fn ints(items: &[i64]) -> Value {
    arr(items.iter().map(|i| Value::Int(*i)).collect())
}

/// A column: its SQL type, the row-log kind it must be announced as, and
/// one cell per row variant: min, max, special 1, special 2, NULL, ordinary.
#[derive(Debug)]
pub struct Col {
    /// Column name.
    pub name: &'static str,
    /// Its SQL type.
    pub sql_type: &'static str,
    /// The row-log kind it must be announced as.
    pub kind: &'static str,
    /// One cell per variant.
    pub cells: [Cell; VARIANTS],
}

pub const VARIANTS: usize = 6;
pub const NULLS: usize = 4;

pub fn col(
    name: &'static str,
    sql_type: &'static str,
    kind: &'static str,
    cells: [Cell; VARIANTS],
) -> Col {
    Col {
        name,
        sql_type,
        kind,
        cells,
    }
}

pub fn columns() -> Vec<Col> {
    let huge = format!("{}.{}", "1234567890".repeat(100), "9876543210".repeat(100));
    let huge_neg = format!("-{}.{}1", "9".repeat(300), "0".repeat(49));
    let tiny = format!("0.{}1", "0".repeat(999));
    let long_text: String = "ab😀𝄞ñ\u{7f}".repeat(700);
    let all_bytes: Vec<u8> = (0..=255).collect();
    let long_bits: String = (0..1000)
        .map(|i| if i % 3 == 0 { '1' } else { '0' })
        .collect();
    let u_nil = Uuid::nil();
    let u_max = Uuid::from_u128(u128::MAX);
    let u_a = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let u_b = Uuid::from_u128(0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11);
    let uuid = |u: Uuid| c(format!("'{u}'::uuid"), Value::Uuid(u));
    let quotes = "it's \"quoted\" \\ back\\\\slash";
    let lines = "line1\nline2\r\nx\ttab ";
    let i64_max_iv = i64::MAX; // 2562047788:00:54.775807
    vec![
        col(
            "c_int2",
            "smallint",
            "int",
            [
                c("-32768", Value::Int(-32768)),
                c("32767", Value::Int(32767)),
                c("0", Value::Int(0)),
                c("-1", Value::Int(-1)),
                null(),
                c("42", Value::Int(42)),
            ],
        ),
        col(
            "c_int4",
            "integer",
            "int",
            [
                c("-2147483648", Value::Int(i64::from(i32::MIN))),
                c("2147483647", Value::Int(i64::from(i32::MAX))),
                c("0", Value::Int(0)),
                c("-1", Value::Int(-1)),
                null(),
                c("7", Value::Int(7)),
            ],
        ),
        col(
            "c_int8",
            "bigint",
            "int",
            [
                c("-9223372036854775808", Value::Int(i64::MIN)),
                c("9223372036854775807", Value::Int(i64::MAX)),
                c("0", Value::Int(0)),
                c("-1", Value::Int(-1)),
                null(),
                c("1234567890123", Value::Int(1_234_567_890_123)),
            ],
        ),
        col(
            "c_num",
            "numeric",
            "decimal",
            [
                c("'-Infinity'", dec("-Infinity")),
                c("'Infinity'", dec("Infinity")),
                c("'NaN'", dec("NaN")),
                c(lit(&huge), dec(&huge)),
                null(),
                c("1.50", dec("1.50")),
            ],
        ),
        col(
            "c_num2",
            "numeric",
            "decimal",
            [
                c(lit(&huge_neg), dec(&huge_neg)),
                c(lit(&tiny), dec(&tiny)),
                // numeric has no negative zero: the scale stays, the sign goes.
                c("'-0.00'", Value::Decimal("0.00".parse().unwrap())),
                c("0", dec("0")),
                null(),
                c("'-12.345000'", dec("-12.345000")),
            ],
        ),
        col(
            "c_num_s",
            "numeric(10,2)",
            "decimal",
            [
                c("'-99999999.99'", dec("-99999999.99")),
                c("'99999999.99'", dec("99999999.99")),
                c("'1.50'", dec("1.50")),
                c("'0.00'", dec("0.00")),
                null(),
                c("'0.10'", dec("0.10")),
            ],
        ),
        col(
            "c_f4",
            "real",
            "float32",
            [
                f4(f32::MIN),
                f4(f32::MAX),
                f4(f32::NAN),
                f4(-0.0),
                null(),
                f4(1e-45),
            ],
        ),
        col(
            "c_f4b",
            "real",
            "float32",
            [
                f4(f32::NEG_INFINITY),
                f4(f32::INFINITY),
                f4(f32::MIN_POSITIVE),
                f4(0.1),
                null(),
                f4(2.5e-10),
            ],
        ),
        col(
            "c_f8",
            "double precision",
            "float64",
            [
                f8(f64::MIN),
                f8(f64::MAX),
                f8(f64::NAN),
                f8(-0.0),
                null(),
                f8(5e-324),
            ],
        ),
        col(
            "c_f8b",
            "double precision",
            "float64",
            [
                f8(f64::NEG_INFINITY),
                f8(f64::INFINITY),
                f8(f64::MIN_POSITIVE),
                f8(0.1 + 0.2),
                null(),
                f8(1e300),
            ],
        ),
        col(
            "c_bool",
            "boolean",
            "bool",
            [
                c("false", Value::Bool(false)),
                c("true", Value::Bool(true)),
                c("'t'", Value::Bool(true)),
                c("'off'", Value::Bool(false)),
                null(),
                c("true", Value::Bool(true)),
            ],
        ),
        col(
            "c_text",
            "text",
            "text",
            [
                c("''", text("")),
                c(lit(&long_text), Value::Text(long_text.clone())),
                c(lit(quotes), text(quotes)),
                c(lit(lines), text(lines)),
                null(),
                c(lit("😀 𝄞 ñ \"x\" {a,b}"), text("😀 𝄞 ñ \"x\" {a,b}")),
            ],
        ),
        col(
            "c_varchar",
            "varchar(10)",
            "text",
            [
                c("''", text("")),
                c("'abcdefghij'", text("abcdefghij")),
                c(lit("a'b\"\\"), text("a'b\"\\")),
                c(lit(&"😀".repeat(10)), Value::Text("😀".repeat(10))),
                null(),
                c("'x'", text("x")),
            ],
        ),
        // char(n) pads to n characters; its text output keeps the padding.
        col(
            "c_char",
            "char(5)",
            "text",
            [
                c("''", text("     ")),
                c("'abcde'", text("abcde")),
                c("'a b'", text("a b  ")),
                c("'😀'", text("😀    ")),
                null(),
                c("'xy'", text("xy   ")),
            ],
        ),
        col(
            "c_bytea",
            "bytea",
            "bytes",
            [
                bytea(&[]),
                bytea(&all_bytes),
                bytea(&[0]),
                bytea(b"\\x"),
                null(),
                bytea(b"hello\0world"),
            ],
        ),
        col(
            "c_date",
            "date",
            "date",
            [
                c("'4714-11-24 BC'", Value::Date(date(-4713, 11, 24))),
                c("'5874897-12-31'", Value::Date(date(5_874_897, 12, 31))),
                c("'infinity'", Value::Date(Date::INFINITY)),
                c("'-infinity'", Value::Date(Date::NEG_INFINITY)),
                null(),
                c("'2000-02-29'", Value::Date(date(2000, 2, 29))),
            ],
        ),
        col(
            "c_time",
            "time",
            "time",
            [
                c("'00:00:00'", time(0, 0, 0, 0)),
                c(
                    "'24:00:00'",
                    Value::Time(Time::from_micros(MICROS_PER_DAY).unwrap()),
                ),
                c("'23:59:59.999999'", time(23, 59, 59, 999_999)),
                c("'12:00:00.000001'", time(12, 0, 0, 1)),
                null(),
                c("'13:37:00.5'", time(13, 37, 0, 500_000)),
            ],
        ),
        col(
            "c_timetz",
            "timetz",
            "timetz",
            [
                c(
                    "'00:00:00-15:59:59'",
                    timetz(0, 0, 0, 0, -(15 * 3600 + 59 * 60 + 59)),
                ),
                c(
                    "'24:00:00+15:59:59'",
                    timetz(24, 0, 0, 0, 15 * 3600 + 59 * 60 + 59),
                ),
                c(
                    "'12:34:56.789012+05:30:15'",
                    timetz(12, 34, 56, 789_012, 5 * 3600 + 30 * 60 + 15),
                ),
                c(
                    "'23:59:59.999999-00:00:01'",
                    timetz(23, 59, 59, 999_999, -1),
                ),
                null(),
                c("'08:00:00+00'", timetz(8, 0, 0, 0, 0)),
            ],
        ),
        col(
            "c_ts",
            "timestamp",
            "timestamp",
            [
                c(
                    "'4714-11-24 00:00:00 BC'",
                    Value::Timestamp(dt(-4713, 11, 24, 0, 0, 0, 0)),
                ),
                c(
                    "'294276-12-31 23:59:59.999999'",
                    Value::Timestamp(dt(294_276, 12, 31, 23, 59, 59, 999_999)),
                ),
                c("'infinity'", Value::Timestamp(DateTime::INFINITY)),
                c("'-infinity'", Value::Timestamp(DateTime::NEG_INFINITY)),
                null(),
                c(
                    "'2024-02-29 12:34:56.123456'",
                    Value::Timestamp(dt(2024, 2, 29, 12, 34, 56, 123_456)),
                ),
            ],
        ),
        col(
            "c_tstz",
            "timestamptz",
            "timestamptz",
            [
                c(
                    "'4714-11-24 00:00:00+00 BC'",
                    Value::TimestampTz(dt(-4713, 11, 24, 0, 0, 0, 0)),
                ),
                c(
                    "'294276-12-31 23:59:59.999999+00'",
                    Value::TimestampTz(dt(294_276, 12, 31, 23, 59, 59, 999_999)),
                ),
                c("'-infinity'", Value::TimestampTz(DateTime::NEG_INFINITY)),
                // Written with an offset, arrives in UTC.
                c(
                    "'2024-06-01 02:00:00.000001+02'",
                    Value::TimestampTz(dt(2024, 6, 1, 0, 0, 0, 1)),
                ),
                null(),
                c("'infinity'", Value::TimestampTz(DateTime::INFINITY)),
            ],
        ),
        col(
            "c_interval",
            "interval",
            "interval",
            [
                c("'-178000000 years -1 mon'", iv(-2_136_000_001, 0, 0)),
                c("'178000000 years'", iv(2_136_000_000, 0, 0)),
                c(
                    "'1 year 2 months -3 days 04:05:06.789'",
                    iv(14, -3, clock(4, 5, 6, 789_000)),
                ),
                c("'-2562047788:00:54.775807'", iv(0, 0, -i64_max_iv)),
                null(),
                c("'0'", iv(0, 0, 0)),
            ],
        ),
        col(
            "c_uuid",
            "uuid",
            "uuid",
            [
                uuid(u_nil),
                uuid(u_max),
                uuid(u_a),
                uuid(u_b),
                null(),
                uuid(u_a),
            ],
        ),
        // json keeps the text as written: duplicate keys, whitespace, escapes.
        col(
            "c_json",
            "json",
            "json",
            [
                c("'{}'", Value::Json("{}".into())),
                c(
                    lit(r#"{"a": 1, "a": 2,   "b" : [1, 2]}"#),
                    Value::Json(r#"{"a": 1, "a": 2,   "b" : [1, 2]}"#.into()),
                ),
                c(
                    lit("{\n  \"k\": \"v\"\n}"),
                    Value::Json("{\n  \"k\": \"v\"\n}".into()),
                ),
                c(
                    lit(r#"  ["\u00e9", "\ud83d\ude00", 1.50]  "#),
                    Value::Json(r#"  ["\u00e9", "\ud83d\ude00", 1.50]  "#.into()),
                ),
                null(),
                // JSON null is a value, not SQL NULL.
                c("'null'", Value::Json("null".into())),
            ],
        ),
        // jsonb arrives as PostgreSQL normalises it (last duplicate wins,
        // keys by length then bytes, one space after `:` and `,`).
        col(
            "c_jsonb",
            "jsonb",
            "json",
            [
                c("'{}'", Value::Json("{}".into())),
                c(
                    lit(r#"{"b":1,"a":{"x":null},"a":2}"#),
                    Value::Json(r#"{"a": 2, "b": 1}"#.into()),
                ),
                c(
                    lit(r#"[1,"two",3.50,true,null]"#),
                    Value::Json(r#"[1, "two", 3.50, true, null]"#.into()),
                ),
                c(
                    lit(r#"{"k":"😀\n"}"#),
                    Value::Json(r#"{"k": "😀\n"}"#.into()),
                ),
                null(),
                c("'null'", Value::Json("null".into())),
            ],
        ),
        col(
            "c_int_arr",
            "integer[]",
            "int[]",
            [
                c("'{}'", arr(vec![])),
                c("'{{1,2},{3,4}}'", arr(vec![ints(&[1, 2]), ints(&[3, 4])])),
                c(
                    "'{1,NULL,-2147483648}'",
                    arr(vec![Value::Int(1), Value::Null, Value::Int(-2_147_483_648)]),
                ),
                c(
                    "'{{{1}},{{2}}}'",
                    arr(vec![arr(vec![ints(&[1])]), arr(vec![ints(&[2])])]),
                ),
                null(),
                c("'{7}'", ints(&[7])),
            ],
        ),
        col(
            "c_text_arr",
            "text[]",
            "text[]",
            [
                c("ARRAY[]::text[]", arr(vec![])),
                c(
                    format!(
                        "ARRAY[{}, {}, 'NULL', NULL, '', 'with,comma', '{{braces}}', ' spaces ', '😀', {}]",
                        lit("a\"b"),
                        lit("c\\d"),
                        lit("new\nline")
                    ),
                    arr(vec![
                        text("a\"b"),
                        text("c\\d"),
                        text("NULL"),
                        Value::Null,
                        text(""),
                        text("with,comma"),
                        text("{braces}"),
                        text(" spaces "),
                        text("😀"),
                        text("new\nline"),
                    ]),
                ),
                c(
                    "ARRAY[['a','b'],['c',NULL]]",
                    arr(vec![
                        arr(vec![text("a"), text("b")]),
                        arr(vec![text("c"), Value::Null]),
                    ]),
                ),
                c("'{NULL}'::text[]", arr(vec![Value::Null])),
                null(),
                c("'{x}'", arr(vec![text("x")])),
            ],
        ),
        col(
            "c_num_arr",
            "numeric[]",
            "decimal[]",
            [
                c("'{-Infinity}'", arr(vec![dec("-Infinity")])),
                c("'{Infinity,1.50}'", arr(vec![dec("Infinity"), dec("1.50")])),
                c(
                    "'{NaN,NULL,-0.001}'",
                    arr(vec![dec("NaN"), Value::Null, dec("-0.001")]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c("'{1.50,2.250}'", arr(vec![dec("1.50"), dec("2.250")])),
            ],
        ),
        col(
            "c_f4_arr",
            "real[]",
            "float32[]",
            [
                c(
                    "'{-Infinity,-3.4028235e38}'",
                    arr(vec![
                        Value::Float32(f32::NEG_INFINITY),
                        Value::Float32(f32::MIN),
                    ]),
                ),
                c(
                    "'{3.4028235e38,1e-45}'",
                    arr(vec![Value::Float32(f32::MAX), Value::Float32(1e-45)]),
                ),
                c(
                    "'{NaN,-0}'",
                    arr(vec![Value::Float32(f32::NAN), Value::Float32(-0.0)]),
                ),
                c("'{0.1,NULL}'", arr(vec![Value::Float32(0.1), Value::Null])),
                null(),
                c("'{1.5}'", arr(vec![Value::Float32(1.5)])),
            ],
        ),
        col(
            "c_f8_arr",
            "double precision[]",
            "float64[]",
            [
                c(
                    "'{-Infinity,-1.7976931348623157e308}'",
                    arr(vec![
                        Value::Float64(f64::NEG_INFINITY),
                        Value::Float64(f64::MIN),
                    ]),
                ),
                c(
                    "'{Infinity,5e-324}'",
                    arr(vec![Value::Float64(f64::INFINITY), Value::Float64(5e-324)]),
                ),
                c(
                    "'{NaN,-0}'",
                    arr(vec![Value::Float64(f64::NAN), Value::Float64(-0.0)]),
                ),
                c(
                    "'{0.30000000000000004,NULL}'",
                    arr(vec![Value::Float64(0.1 + 0.2), Value::Null]),
                ),
                null(),
                c("'{1.5}'", arr(vec![Value::Float64(1.5)])),
            ],
        ),
        col(
            "c_bool_arr",
            "boolean[]",
            "bool[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "'{t,f,NULL}'",
                    arr(vec![Value::Bool(true), Value::Bool(false), Value::Null]),
                ),
                c(
                    "'{{t},{f}}'",
                    arr(vec![
                        arr(vec![Value::Bool(true)]),
                        arr(vec![Value::Bool(false)]),
                    ]),
                ),
                c("'{f}'", arr(vec![Value::Bool(false)])),
                null(),
                c("'{t}'", arr(vec![Value::Bool(true)])),
            ],
        ),
        col(
            "c_bytea_arr",
            "bytea[]",
            "bytes[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "ARRAY['\\x00ff'::bytea, '\\x'::bytea, NULL]",
                    arr(vec![
                        Value::Bytes(vec![0, 255]),
                        Value::Bytes(vec![]),
                        Value::Null,
                    ]),
                ),
                c(
                    "ARRAY['\\x5c22'::bytea]",
                    arr(vec![Value::Bytes(b"\\\"".to_vec())]),
                ),
                c("ARRAY[NULL]::bytea[]", arr(vec![Value::Null])),
                null(),
                c("ARRAY['\\x01'::bytea]", arr(vec![Value::Bytes(vec![1])])),
            ],
        ),
        col(
            "c_date_arr",
            "date[]",
            "date[]",
            [
                c(
                    "'{\"0001-01-01 BC\",-infinity}'",
                    arr(vec![
                        Value::Date(date(0, 1, 1)),
                        Value::Date(Date::NEG_INFINITY),
                    ]),
                ),
                c(
                    "'{infinity,5874897-12-31}'",
                    arr(vec![
                        Value::Date(Date::INFINITY),
                        Value::Date(date(5_874_897, 12, 31)),
                    ]),
                ),
                c(
                    "'{2000-02-29,NULL}'",
                    arr(vec![Value::Date(date(2000, 2, 29)), Value::Null]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c("'{1970-01-01}'", arr(vec![Value::Date(date(1970, 1, 1))])),
            ],
        ),
        col(
            "c_time_arr",
            "time[]",
            "time[]",
            [
                c("'{00:00:00}'", arr(vec![time(0, 0, 0, 0)])),
                c(
                    "'{24:00:00}'",
                    arr(vec![Value::Time(
                        Time::from_micros(MICROS_PER_DAY).unwrap(),
                    )]),
                ),
                c(
                    "'{00:00:00.000001,NULL}'",
                    arr(vec![time(0, 0, 0, 1), Value::Null]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c("'{12:00:00}'", arr(vec![time(12, 0, 0, 0)])),
            ],
        ),
        col(
            "c_timetz_arr",
            "timetz[]",
            "timetz[]",
            [
                c(
                    "'{00:00:00-15:59:59}'",
                    arr(vec![timetz(0, 0, 0, 0, -(15 * 3600 + 59 * 60 + 59))]),
                ),
                c(
                    "'{24:00:00+15:59:59}'",
                    arr(vec![timetz(24, 0, 0, 0, 15 * 3600 + 59 * 60 + 59)]),
                ),
                c(
                    "'{12:00:00.5+05:30:15}'",
                    arr(vec![timetz(12, 0, 0, 500_000, 5 * 3600 + 30 * 60 + 15)]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c("'{08:00:00+00}'", arr(vec![timetz(8, 0, 0, 0, 0)])),
            ],
        ),
        col(
            "c_ts_arr",
            "timestamp[]",
            "timestamp[]",
            [
                c(
                    "ARRAY['0001-12-31 23:59:59.999999 BC'::timestamp, '-infinity']",
                    arr(vec![
                        Value::Timestamp(dt(0, 12, 31, 23, 59, 59, 999_999)),
                        Value::Timestamp(DateTime::NEG_INFINITY),
                    ]),
                ),
                c(
                    "ARRAY['infinity'::timestamp, '294276-12-31 23:59:59.999999']",
                    arr(vec![
                        Value::Timestamp(DateTime::INFINITY),
                        Value::Timestamp(dt(294_276, 12, 31, 23, 59, 59, 999_999)),
                    ]),
                ),
                c(
                    "ARRAY['2024-01-01 00:00:00.5'::timestamp, NULL]",
                    arr(vec![
                        Value::Timestamp(dt(2024, 1, 1, 0, 0, 0, 500_000)),
                        Value::Null,
                    ]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c(
                    "ARRAY['2000-01-01 00:00:00'::timestamp]",
                    arr(vec![Value::Timestamp(dt(2000, 1, 1, 0, 0, 0, 0))]),
                ),
            ],
        ),
        col(
            "c_tstz_arr",
            "timestamptz[]",
            "timestamptz[]",
            [
                c(
                    "ARRAY['4714-11-24 00:00:00+00 BC'::timestamptz, '-infinity']",
                    arr(vec![
                        Value::TimestampTz(dt(-4713, 11, 24, 0, 0, 0, 0)),
                        Value::TimestampTz(DateTime::NEG_INFINITY),
                    ]),
                ),
                c(
                    "ARRAY['infinity'::timestamptz, '2024-01-01 05:00:00+05']",
                    arr(vec![
                        Value::TimestampTz(DateTime::INFINITY),
                        Value::TimestampTz(dt(2024, 1, 1, 0, 0, 0, 0)),
                    ]),
                ),
                c("ARRAY[NULL]::timestamptz[]", arr(vec![Value::Null])),
                c("'{}'", arr(vec![])),
                null(),
                c(
                    "ARRAY['2000-01-01 00:00:00.000001+00'::timestamptz]",
                    arr(vec![Value::TimestampTz(dt(2000, 1, 1, 0, 0, 0, 1))]),
                ),
            ],
        ),
        col(
            "c_interval_arr",
            "interval[]",
            "interval[]",
            [
                c(
                    "ARRAY['-2562047788:00:54.775807'::interval, '-2147483648 days']",
                    arr(vec![iv(0, 0, -i64_max_iv), iv(0, i32::MIN, 0)]),
                ),
                c(
                    "ARRAY['2562047788:00:54.775807'::interval, '2147483647 days']",
                    arr(vec![iv(0, 0, i64_max_iv), iv(0, i32::MAX, 0)]),
                ),
                c(
                    "ARRAY['-1 second'::interval, '-1 mon', NULL]",
                    arr(vec![iv(0, 0, -1_000_000), iv(-1, 0, 0), Value::Null]),
                ),
                c("'{}'", arr(vec![])),
                null(),
                c(
                    "ARRAY['1 day 00:00:00.000001'::interval]",
                    arr(vec![iv(0, 1, 1)]),
                ),
            ],
        ),
        col(
            "c_uuid_arr",
            "uuid[]",
            "uuid[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    format!("ARRAY['{u_max}'::uuid, NULL]"),
                    arr(vec![Value::Uuid(u_max), Value::Null]),
                ),
                c(
                    format!("ARRAY['{u_a}'::uuid, '{u_b}']"),
                    arr(vec![Value::Uuid(u_a), Value::Uuid(u_b)]),
                ),
                c(
                    format!("ARRAY['{u_nil}'::uuid]"),
                    arr(vec![Value::Uuid(u_nil)]),
                ),
                null(),
                c(format!("ARRAY['{u_b}'::uuid]"), arr(vec![Value::Uuid(u_b)])),
            ],
        ),
        col(
            "c_json_arr",
            "json[]",
            "json[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    format!(
                        "ARRAY[{}::json, '[ ]', NULL]",
                        lit(r#"{"a": 1, "a": "\\"}"#)
                    ),
                    arr(vec![
                        Value::Json(r#"{"a": 1, "a": "\\"}"#.into()),
                        Value::Json("[ ]".into()),
                        Value::Null,
                    ]),
                ),
                c("ARRAY['null'::json]", arr(vec![Value::Json("null".into())])),
                c(
                    "ARRAY['\"NULL\"'::json]",
                    arr(vec![Value::Json("\"NULL\"".into())]),
                ),
                null(),
                c("ARRAY['1'::json]", arr(vec![Value::Json("1".into())])),
            ],
        ),
        col(
            "c_jsonb_arr",
            "jsonb[]",
            "json[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "ARRAY['{\"b\":2,\"a\":1}'::jsonb, NULL]",
                    arr(vec![Value::Json(r#"{"a": 1, "b": 2}"#.into()), Value::Null]),
                ),
                c(
                    "ARRAY['[]'::jsonb, '\"x,y\"']",
                    arr(vec![
                        Value::Json("[]".into()),
                        Value::Json("\"x,y\"".into()),
                    ]),
                ),
                c(
                    "ARRAY['null'::jsonb]",
                    arr(vec![Value::Json("null".into())]),
                ),
                null(),
                c(
                    "ARRAY['{\"k\": [1, 2]}'::jsonb]",
                    arr(vec![Value::Json(r#"{"k": [1, 2]}"#.into())]),
                ),
            ],
        ),
        col(
            "c_enum",
            "mood",
            "enum",
            [
                c("'sad'", Value::Enum("sad".into())),
                c(
                    lit("with,comma \"q\""),
                    Value::Enum("with,comma \"q\"".into()),
                ),
                c("'happy 😀'", Value::Enum("happy 😀".into())),
                c("'ok'", Value::Enum("ok".into())),
                null(),
                c("'ok'", Value::Enum("ok".into())),
            ],
        ),
        col(
            "c_enum_arr",
            "mood[]",
            "enum[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    format!("ARRAY['sad', {}]::mood[]", lit("with,comma \"q\"")),
                    arr(vec![
                        Value::Enum("sad".into()),
                        Value::Enum("with,comma \"q\"".into()),
                    ]),
                ),
                c(
                    "ARRAY['happy 😀', NULL]::mood[]",
                    arr(vec![Value::Enum("happy 😀".into()), Value::Null]),
                ),
                c("ARRAY['ok']::mood[]", arr(vec![Value::Enum("ok".into())])),
                null(),
                c(
                    "ARRAY['ok', 'sad']::mood[]",
                    arr(vec![Value::Enum("ok".into()), Value::Enum("sad".into())]),
                ),
            ],
        ),
        // A domain over numeric(12,3) arrives as its base type, scale kept.
        col(
            "c_domain",
            "amount",
            "decimal",
            [
                c("'0.000'", dec("0.000")),
                c("'999999999.999'", dec("999999999.999")),
                c("'1.500'", dec("1.500")),
                c("'0.001'", dec("0.001")),
                null(),
                c("'42.000'", dec("42.000")),
            ],
        ),
        col(
            "c_domain_arr",
            "amount[]",
            "decimal[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "ARRAY['1.500', '2.250']::amount[]",
                    arr(vec![dec("1.500"), dec("2.250")]),
                ),
                c("ARRAY[NULL]::amount[]", arr(vec![Value::Null])),
                c("ARRAY['0.000']::amount[]", arr(vec![dec("0.000")])),
                null(),
                c("ARRAY['7.000']::amount[]", arr(vec![dec("7.000")])),
            ],
        ),
        col(
            "c_inet",
            "inet",
            "text",
            [
                c("'0.0.0.0'", text("0.0.0.0")),
                c(
                    "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128'",
                    text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                ),
                c("'192.168.1.5/24'", text("192.168.1.5/24")),
                c("'::1'", text("::1")),
                null(),
                c("'10.0.0.1'", text("10.0.0.1")),
            ],
        ),
        col(
            "c_cidr",
            "cidr",
            "text",
            [
                c("'0.0.0.0/0'", text("0.0.0.0/0")),
                c("'2001:db8::/32'", text("2001:db8::/32")),
                c("'192.168.1.0/24'", text("192.168.1.0/24")),
                c("'10.1.2.3/32'", text("10.1.2.3/32")),
                null(),
                c("'10.0.0.0/8'", text("10.0.0.0/8")),
            ],
        ),
        col(
            "c_macaddr",
            "macaddr",
            "text",
            [
                c("'00:00:00:00:00:00'", text("00:00:00:00:00:00")),
                c("'ff:ff:ff:ff:ff:ff'", text("ff:ff:ff:ff:ff:ff")),
                c("'08-00-2b-01-02-03'", text("08:00:2b:01:02:03")),
                c("'AA:BB:CC:DD:EE:FF'", text("aa:bb:cc:dd:ee:ff")),
                null(),
                c("'01:02:03:04:05:06'", text("01:02:03:04:05:06")),
            ],
        ),
        col(
            "c_inet_arr",
            "inet[]",
            "text[]",
            [
                c("'{}'", arr(vec![])),
                c("'{10.0.0.1,::1}'", arr(vec![text("10.0.0.1"), text("::1")])),
                c(
                    "'{192.168.0.0/16,NULL}'",
                    arr(vec![text("192.168.0.0/16"), Value::Null]),
                ),
                c("'{::}'", arr(vec![text("::")])),
                null(),
                c("'{127.0.0.1}'", arr(vec![text("127.0.0.1")])),
            ],
        ),
        // money is carried as its text (lc_monetary C here).
        col(
            "c_money",
            "money",
            "text",
            [
                c(
                    "'-92233720368547758.08'",
                    text("-$92,233,720,368,547,758.08"),
                ),
                c("'92233720368547758.07'", text("$92,233,720,368,547,758.07")),
                c("'0'", text("$0.00")),
                c("'-0.01'", text("-$0.01")),
                null(),
                c("'1234.56'", text("$1,234.56")),
            ],
        ),
        col(
            "c_bit",
            "bit(8)",
            "bits",
            [
                c("B'00000000'", bits("00000000")),
                c("B'11111111'", bits("11111111")),
                c("B'10101010'", bits("10101010")),
                c("B'00000001'", bits("00000001")),
                null(),
                c("B'01010101'", bits("01010101")),
            ],
        ),
        col(
            "c_varbit",
            "varbit",
            "bits",
            [
                c("B''", bits("")),
                c(format!("B'{long_bits}'"), bits(&long_bits)),
                c("B'1'", bits("1")),
                c("B'0'", bits("0")),
                null(),
                c("B'101'", bits("101")),
            ],
        ),
        col(
            "c_varbit_arr",
            "varbit[]",
            "bits[]",
            [
                c("'{}'", arr(vec![])),
                c("ARRAY[B'101', B'']", arr(vec![bits("101"), bits("")])),
                c("ARRAY[NULL, B'0']", arr(vec![Value::Null, bits("0")])),
                c("ARRAY[B'1']", arr(vec![bits("1")])),
                null(),
                c("ARRAY[B'11']", arr(vec![bits("11")])),
            ],
        ),
        col(
            "c_varchar_arr",
            "varchar(4)[]",
            "text[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "ARRAY['abcd', '']::varchar(4)[]",
                    arr(vec![text("abcd"), text("")]),
                ),
                c(
                    "ARRAY['a b', NULL]::varchar(4)[]",
                    arr(vec![text("a b"), Value::Null]),
                ),
                c("ARRAY['😀']::varchar(4)[]", arr(vec![text("😀")])),
                null(),
                c("ARRAY['x']::varchar(4)[]", arr(vec![text("x")])),
            ],
        ),
        col(
            "c_char_arr",
            "char(2)[]",
            "text[]",
            [
                c("'{}'", arr(vec![])),
                c(
                    "ARRAY['a', 'bc']::char(2)[]",
                    arr(vec![text("a "), text("bc")]),
                ),
                c(
                    "ARRAY['', NULL]::char(2)[]",
                    arr(vec![text("  "), Value::Null]),
                ),
                c("ARRAY['😀']::char(2)[]", arr(vec![text("😀 ")])),
                null(),
                c("ARRAY['x']::char(2)[]", arr(vec![text("x ")])),
            ],
        ),
        // Types rowlog does not know: their text form, as Text.
        col(
            "c_point",
            "point",
            "text",
            [
                c("'(0,0)'", text("(0,0)")),
                c("'(-3,4.25)'", text("(-3,4.25)")),
                c("'(1.5,-2)'", text("(1.5,-2)")),
                c("'(0.5,0.25)'", text("(0.5,0.25)")),
                null(),
                c("'(3,4)'", text("(3,4)")),
            ],
        ),
        col(
            "c_tsvector",
            "tsvector",
            "text",
            [
                c("''", text("")),
                c("'a fat cat'", text("'a' 'cat' 'fat'")),
                c("'it''s'", text("'it''s'")),
                c("'x:1A'", text("'x':1A")),
                null(),
                c("'rat'", text("'rat'")),
            ],
        ),
        col(
            "c_range",
            "int4range",
            "text",
            [
                c("'empty'", text("empty")),
                c("'(,)'", text("(,)")),
                c("'[1,5)'", text("[1,5)")),
                c("'[1,5]'", text("[1,6)")),
                null(),
                c("'[0,1)'", text("[0,1)")),
            ],
        ),
        // box[] separates its elements with `;`, not `,`.
        col(
            "c_box_arr",
            "box[]",
            "text[]",
            [
                c("'{}'::box[]", arr(vec![])),
                c(
                    "ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)']",
                    arr(vec![text("(1,1),(0,0)"), text("(2,2),(1,1)")]),
                ),
                c("ARRAY[NULL]::box[]", arr(vec![Value::Null])),
                c("ARRAY['(3,3),(2,2)'::box]", arr(vec![text("(3,3),(2,2)")])),
                null(),
                c("ARRAY['(1,1),(0,0)'::box]", arr(vec![text("(1,1),(0,0)")])),
            ],
        ),
        col(
            "c_point_arr",
            "point[]",
            "text[]",
            [
                c("'{}'::point[]", arr(vec![])),
                c(
                    "ARRAY['(1,2)'::point, '(3,4)']",
                    arr(vec![text("(1,2)"), text("(3,4)")]),
                ),
                c("ARRAY[NULL]::point[]", arr(vec![Value::Null])),
                c("ARRAY['(0,0)'::point]", arr(vec![text("(0,0)")])),
                null(),
                c("ARRAY['(5,6)'::point]", arr(vec![text("(5,6)")])),
            ],
        ),
    ]
}

pub const DDL: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀', 'with,comma \"q\"');
    CREATE DOMAIN amount AS numeric(12,3) CHECK (VALUE >= 0);
";

pub fn create_table(cols: &[Col]) -> String {
    let defs: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect();
    format!(
        "CREATE TABLE types_t (id bigint PRIMARY KEY, {})",
        defs.join(", ")
    )
}

pub fn insert(cols: &[Col], id: i64, variant: usize) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let values: Vec<&str> = cols.iter().map(|c| c.cells[variant].sql.as_str()).collect();
    format!(
        "INSERT INTO types_t (id, {}) VALUES ({id}, {})",
        names.join(", "),
        values.join(", ")
    )
}

pub fn update(cols: &[Col], id: i64, variant: usize) -> String {
    let sets: Vec<String> = cols
        .iter()
        .map(|c| format!("{} = {}", c.name, c.cells[variant].sql))
        .collect();
    format!("UPDATE types_t SET {} WHERE id = {id}", sets.join(", "))
}

pub fn full_row(cols: &[Col], id: i64, variant: usize) -> Row {
    let mut row = Row::new().with("id", Value::Int(id));
    for c in cols {
        row.push(c.name, c.cells[variant].value.clone());
    }
    row
}

pub fn key_only(cols: &[Col], id: i64) -> Row {
    let mut row = Row::new().with("id", Value::Int(id));
    for c in cols {
        row.push(c.name, Value::Absent);
    }
    row
}

//! Every PostgreSQL type the source claims round-trips: rows with edge
//! values are written to a real PostgreSQL 15 (before rowlog starts, so they
//! arrive through the snapshot, and after, through pgoutput), updated and
//! deleted; the records are read back from a real broker (tansu), decoded
//! with the row-log JSON decoder and compared, typed, with `Value`s built
//! here from what was written. Also: unchanged TOAST columns arrive absent,
//! never as a placeholder, and distinct from NULL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{LogOnPanic, Record, Rowlog, alive, event, pg_config, read_exact};
use rowlog_schemas::encode::json;
use rowlog_schemas::value::{
    BitString, Date, DateTime, Interval, MICROS_PER_DAY, Time, TimeTz, Uuid,
};
use rowlog_schemas::{ChangeEvent, Op, Position, Row, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(90);
const QUIET: Duration = Duration::from_secs(2);

/// One value: the SQL that writes it and the `Value` it must arrive as.
#[derive(Clone)]
struct Cell {
    sql: String,
    value: Value,
}

fn c(sql: impl Into<String>, value: Value) -> Cell {
    Cell {
        sql: sql.into(),
        value,
    }
}

fn null() -> Cell {
    c("NULL", Value::Null)
}

/// A SQL string literal (standard_conforming_strings is on).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}

fn float_sql(x: f64, debug: String) -> String {
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

fn f4(x: f32) -> Cell {
    c(
        format!("'{}'::real", float_sql(f64::from(x), format!("{x:?}"))),
        Value::Float32(x),
    )
}

fn f8(x: f64) -> Cell {
    c(
        format!("'{}'::float8", float_sql(x, format!("{x:?}"))),
        Value::Float64(x),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bytea(b: &[u8]) -> Cell {
    c(
        format!("{}::bytea", lit(&format!("\\x{}", hex(b)))),
        Value::Bytes(b.to_vec()),
    )
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn clock(h: i64, mi: i64, s: i64, us: i64) -> i64 {
    ((h * 60 + mi) * 60 + s) * 1_000_000 + us
}

fn dt(y: i32, m: u8, d: u8, h: i64, mi: i64, s: i64, us: i64) -> DateTime {
    DateTime::new(date(y, m, d), clock(h, mi, s, us)).unwrap()
}

fn time(h: i64, mi: i64, s: i64, us: i64) -> Value {
    Value::Time(Time::from_micros(clock(h, mi, s, us)).unwrap())
}

fn timetz(h: i64, mi: i64, s: i64, us: i64, offset_east: i32) -> Value {
    Value::TimeTz(TimeTz::new(clock(h, mi, s, us), offset_east).unwrap())
}

fn iv(months: i32, days: i32, micros: i64) -> Value {
    Value::Interval(Interval {
        months,
        days,
        micros,
    })
}

fn bits(s: &str) -> Value {
    Value::Bits(s.parse::<BitString>().unwrap())
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn ints(items: &[i64]) -> Value {
    arr(items.iter().map(|i| Value::Int(*i)).collect())
}

/// A column: its SQL type, the row-log kind it must be announced as, and
/// one cell per row variant: min, max, special 1, special 2, NULL, ordinary.
struct Col {
    name: &'static str,
    sql_type: &'static str,
    kind: &'static str,
    cells: [Cell; VARIANTS],
}

const VARIANTS: usize = 6;
const NULLS: usize = 4;

fn col(
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

fn columns() -> Vec<Col> {
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

const DDL: &str = "
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀', 'with,comma \"q\"');
    CREATE DOMAIN amount AS numeric(12,3) CHECK (VALUE >= 0);
";

fn create_table(cols: &[Col]) -> String {
    let defs: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect();
    format!(
        "CREATE TABLE types_t (id bigint PRIMARY KEY, {})",
        defs.join(", ")
    )
}

fn insert(cols: &[Col], id: i64, variant: usize) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let values: Vec<&str> = cols.iter().map(|c| c.cells[variant].sql.as_str()).collect();
    format!(
        "INSERT INTO types_t (id, {}) VALUES ({id}, {})",
        names.join(", "),
        values.join(", ")
    )
}

fn update(cols: &[Col], id: i64, variant: usize) -> String {
    let sets: Vec<String> = cols
        .iter()
        .map(|c| format!("{} = {}", c.name, c.cells[variant].sql))
        .collect();
    format!("UPDATE types_t SET {} WHERE id = {id}", sets.join(", "))
}

fn full_row(cols: &[Col], id: i64, variant: usize) -> Row {
    let mut row = Row::new().with("id", Value::Int(id));
    for c in cols {
        row.push(c.name, c.cells[variant].value.clone());
    }
    row
}

fn key_only(cols: &[Col], id: i64) -> Row {
    let mut row = Row::new().with("id", Value::Int(id));
    for c in cols {
        row.push(c.name, Value::Absent);
    }
    row
}

/// A short form of a value for messages (no megabyte blobs in output).
fn short(v: Option<&Value>) -> String {
    let s = match v {
        None => "<missing>".to_string(),
        Some(v) => format!("{v:?}"),
    };
    if s.len() > 160 {
        let cut: String = s.chars().take(160).collect();
        format!("{cut}… ({} chars)", s.len())
    } else {
        s
    }
}

/// Compares two row images column by column, naming the first difference.
fn assert_rows(what: &str, got: Option<&Row>, want: Option<&Row>) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) => {
            let gn: Vec<&str> = g.iter().map(|(n, _)| n).collect();
            let wn: Vec<&str> = w.iter().map(|(n, _)| n).collect();
            assert_eq!(gn, wn, "{what}: columns");
            for (name, wv) in w.iter() {
                let gv = g.get(name);
                assert!(
                    gv == Some(wv),
                    "{what}: column {name}: got {}, want {}",
                    short(gv),
                    short(Some(wv))
                );
            }
        }
        (g, w) => panic!(
            "{what}: image present {} but expected present {}",
            g.is_some(),
            w.is_some()
        ),
    }
}

/// One expected record: op, before, after (None for a tombstone).
struct Want {
    op: Option<Op>,
    key: Row,
    before: Option<Row>,
    after: Option<Row>,
}

fn want(op: Op, key: Row, before: Option<Row>, after: Option<Row>) -> Want {
    Want {
        op: Some(op),
        key,
        before,
        after,
    }
}

fn tombstone(key: Row) -> Want {
    Want {
        op: None,
        key,
        before: None,
        after: None,
    }
}

fn pg_pos(e: &ChangeEvent) -> rowlog_schemas::position::PgPosition {
    match e.position {
        Position::Postgres(p) => p,
        Position::Mysql(_) => panic!("not a PostgreSQL position"),
    }
}

/// Checks `records` against `wants` in order: op, key bytes, images; stream
/// positions strictly increase.
fn check(topic: &str, records: &[Record], wants: &[Want]) {
    assert_eq!(records.len(), wants.len(), "{topic}: record count");
    let mut last_stream: Option<rowlog_schemas::position::PgPosition> = None;
    for (i, (r, w)) in records.iter().zip(wants).enumerate() {
        let what = format!("{topic} record {i}");
        assert_eq!(
            r.key.as_deref(),
            Some(json::encode_key(&w.key).unwrap().as_slice()),
            "{what}: record key"
        );
        let Some(e) = event(r) else {
            assert!(
                w.op.is_none(),
                "{what}: a tombstone where {:?} was expected",
                w.op
            );
            continue;
        };
        assert_eq!(Some(e.op), w.op, "{what}: op");
        assert_eq!(e.source, "app", "{what}: source");
        assert_eq!(e.key().as_ref(), Some(&w.key), "{what}: event key");
        assert_rows(
            &format!("{what} before"),
            e.before.as_ref(),
            w.before.as_ref(),
        );
        assert_rows(&format!("{what} after"), e.after.as_ref(), w.after.as_ref());
        if e.op == Op::Read {
            assert!(
                e.transaction.is_none(),
                "{what}: snapshot read in a transaction"
            );
        } else {
            let p = pg_pos(&e);
            assert!(e.transaction.is_some(), "{what}: no transaction");
            if let Some(prev) = last_stream {
                // Never backwards; equal only for the delete + insert pair
                // one key-changing update becomes (one WAL record, two keys).
                let pair = e.op == Op::Insert
                    && records[..i]
                        .iter()
                        .rev()
                        .find_map(event)
                        .is_some_and(|d| d.op == Op::Delete);
                assert!(
                    p > prev || (p == prev && pair),
                    "{what}: position {p} not after {prev}"
                );
            }
            last_stream = Some(p);
        }
    }
}

#[tokio::test]
async fn every_type_round_trips_through_snapshot_and_stream() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    let cols = columns();
    c.batch_execute(DDL).await?;
    c.batch_execute(&create_table(&cols)).await?;
    // Snapshot rows: ids 1..=6, one per variant.
    for v in 0..VARIANTS {
        c.batch_execute(&insert(&cols, v as i64 + 1, v)).await?;
    }
    let dir = tempfile::tempdir()?;
    let config = pg_config(dir.path(), &pg, "app", &kafka, "", "");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let topic = "rowlog.app.public.types_t";
    alive(
        &mut rowlog,
        read_exact(&kafka, topic, 1, VARIANTS, WAIT, Duration::ZERO),
    )
    .await;

    // Streamed: inserts 101..=106 in two transactions, then updates (one
    // to every variant's values, one to all NULLs), a key change, deletes.
    c.batch_execute(&format!(
        "BEGIN; {}; {}; {}; COMMIT;",
        insert(&cols, 101, 0),
        insert(&cols, 102, 1),
        insert(&cols, 103, 2)
    ))
    .await?;
    c.batch_execute(&format!(
        "BEGIN; {}; {}; {}; COMMIT;",
        insert(&cols, 104, 3),
        insert(&cols, 105, 4),
        insert(&cols, 106, 5)
    ))
    .await?;
    c.batch_execute(&update(&cols, 101, 1)).await?;
    c.batch_execute(&update(&cols, 102, NULLS)).await?;
    c.batch_execute(&update(&cols, 105, 0)).await?;
    c.batch_execute("UPDATE types_t SET id = 206 WHERE id = 106")
        .await?;
    c.batch_execute("DELETE FROM types_t WHERE id = 103")
        .await?;
    c.batch_execute("DELETE FROM types_t WHERE id = 1").await?;

    let mut wants = Vec::new();
    for v in 0..VARIANTS {
        let id = v as i64 + 1;
        wants.push(want(Op::Read, key(id), None, Some(full_row(&cols, id, v))));
    }
    for v in 0..VARIANTS {
        let id = v as i64 + 101;
        wants.push(want(
            Op::Insert,
            key(id),
            None,
            Some(full_row(&cols, id, v)),
        ));
    }
    // REPLICA IDENTITY DEFAULT: no old image unless the key changed.
    wants.push(want(
        Op::Update,
        key(101),
        None,
        Some(full_row(&cols, 101, 1)),
    ));
    wants.push(want(
        Op::Update,
        key(102),
        None,
        Some(full_row(&cols, 102, NULLS)),
    ));
    wants.push(want(
        Op::Update,
        key(105),
        None,
        Some(full_row(&cols, 105, 0)),
    ));
    // The key changed: a delete of the old key (its key-only image, other
    // columns absent) with its tombstone, then an insert of the new key.
    wants.push(want(Op::Delete, key(106), Some(key_only(&cols, 106)), None));
    wants.push(tombstone(key(106)));
    wants.push(want(
        Op::Insert,
        key(206),
        None,
        Some(full_row(&cols, 206, 5)),
    ));
    wants.push(want(Op::Delete, key(103), Some(key_only(&cols, 103)), None));
    wants.push(tombstone(key(103)));
    wants.push(want(Op::Delete, key(1), Some(key_only(&cols, 1)), None));
    wants.push(tombstone(key(1)));

    let records = alive(
        &mut rowlog,
        read_exact(&kafka, topic, 1, wants.len(), WAIT, QUIET),
    )
    .await;
    check(topic, &records, &wants);

    // Every column is announced with its kind, snapshot and stream alike.
    for r in [&records[0], &records[VARIANTS]] {
        let doc: serde_json::Value = serde_json::from_slice(r.value.as_ref().unwrap())?;
        let types = doc["rowlog"]["types"].as_object().unwrap();
        assert_eq!(types.len(), cols.len() + 1);
        assert_eq!(types["id"], "int");
        for col in &cols {
            assert_eq!(types[col.name], col.kind, "kind of {}", col.name);
        }
    }
    let snap = event(&records[0]).unwrap();
    let streamed = event(&records[VARIANTS]).unwrap();
    assert_eq!(
        snap.schema_version, streamed.schema_version,
        "the snapshot and the stream describe the same table the same way"
    );

    // Unknown types are carried as text with a warning once per column
    // (streamed rows of such columns came 9 times above).
    let log_path = rowlog.log.clone();
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    let log = strip_ansi(&std::fs::read_to_string(log_path)?);
    for name in [
        "c_point",
        "c_tsvector",
        "c_range",
        "c_box_arr",
        "c_point_arr",
    ] {
        // Once when the snapshot reads the table, once when the stream first
        // carries the column.
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("not known to rowlog") && l.contains(&format!("column={name} ")))
            .collect();
        assert_eq!(lines.len(), 2, "warnings for unknown-type column {name}");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("snapshot values"))
                .count(),
            1
        );
    }
    let n = log
        .lines()
        .filter(|l| l.contains("not known to rowlog"))
        .count();
    assert_eq!(n, 10, "warnings for unknown-type columns, all told");
    eprintln!("every_type_round_trips: {:?}", started.elapsed());
    Ok(())
}

/// The log without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for x in chars.by_ref() {
                if x.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// Unchanged TOAST values are absent (never a placeholder, never NULL);
/// NULL and new values arrive as such; REPLICA IDENTITY FULL carries the
/// old value in `before` while `after` still leaves the unchanged one out.
#[tokio::test]
async fn unchanged_toast_is_absent_and_distinct_from_null() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute(
        "CREATE TABLE toasty (id int PRIMARY KEY, big text, small int, blob bytea);
         ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL;
         ALTER TABLE toasty ALTER COLUMN blob SET STORAGE EXTERNAL;
         CREATE TABLE toasty_full (id int PRIMARY KEY, big text, small int);
         ALTER TABLE toasty_full ALTER COLUMN big SET STORAGE EXTERNAL;
         ALTER TABLE toasty_full REPLICA IDENTITY FULL;
         INSERT INTO toasty VALUES (1, repeat('x', 10000), 1, decode(repeat('00ff7f', 7000), 'hex'));
         INSERT INTO toasty_full VALUES (1, repeat('f', 10000), 1);",
    )
    .await?;
    let x = Value::Text("x".repeat(10_000));
    let blob = Value::Bytes([0u8, 255, 127].repeat(7000));
    let dir = tempfile::tempdir()?;
    let config = pg_config(dir.path(), &pg, "app", &kafka, "", "");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(
            &kafka,
            "rowlog.app.public.toasty",
            1,
            1,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;
    alive(
        &mut rowlog,
        read_exact(
            &kafka,
            "rowlog.app.public.toasty_full",
            1,
            1,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;

    for sql in [
        "UPDATE toasty SET small = 2 WHERE id = 1",
        "UPDATE toasty SET big = NULL WHERE id = 1",
        "UPDATE toasty SET small = 3 WHERE id = 1",
        "UPDATE toasty SET big = repeat('y', 12000) WHERE id = 1",
        "INSERT INTO toasty VALUES (2, repeat('z', 9000), 1, NULL)",
        "UPDATE toasty SET small = 5 WHERE id = 2",
        "UPDATE toasty SET blob = '\\x' WHERE id = 1",
        "DELETE FROM toasty WHERE id = 1",
        "UPDATE toasty_full SET small = 2 WHERE id = 1",
        "DELETE FROM toasty_full WHERE id = 1",
    ] {
        c.batch_execute(sql).await?;
    }
    let y = Value::Text("y".repeat(12_000));
    let z = Value::Text("z".repeat(9000));
    let row = |id: i32, big: Value, small: i64, blob: Value| {
        Row::new()
            .with("id", Value::Int(i64::from(id)))
            .with("big", big)
            .with("small", Value::Int(small))
            .with("blob", blob)
    };
    let k = |id: i64| Row::new().with("id", Value::Int(id));
    let wants = vec![
        want(
            Op::Read,
            k(1),
            None,
            Some(row(1, x.clone(), 1, blob.clone())),
        ),
        want(
            Op::Update,
            k(1),
            None,
            Some(row(1, Value::Absent, 2, Value::Absent)),
        ),
        want(
            Op::Update,
            k(1),
            None,
            Some(row(1, Value::Null, 2, Value::Absent)),
        ),
        want(
            Op::Update,
            k(1),
            None,
            Some(row(1, Value::Null, 3, Value::Absent)),
        ),
        want(
            Op::Update,
            k(1),
            None,
            Some(row(1, y.clone(), 3, Value::Absent)),
        ),
        want(
            Op::Insert,
            k(2),
            None,
            Some(row(2, z.clone(), 1, Value::Null)),
        ),
        want(
            Op::Update,
            k(2),
            None,
            Some(row(2, Value::Absent, 5, Value::Null)),
        ),
        want(
            Op::Update,
            k(1),
            None,
            Some(row(1, Value::Absent, 3, Value::Bytes(vec![]))),
        ),
        want(
            Op::Delete,
            k(1),
            Some(
                Row::new()
                    .with("id", Value::Int(1))
                    .with("big", Value::Absent)
                    .with("small", Value::Absent)
                    .with("blob", Value::Absent),
            ),
            None,
        ),
        tombstone(k(1)),
    ];
    let records = alive(
        &mut rowlog,
        read_exact(
            &kafka,
            "rowlog.app.public.toasty",
            1,
            wants.len(),
            WAIT,
            QUIET,
        ),
    )
    .await;
    check("toasty", &records, &wants);

    let f = Value::Text("f".repeat(10_000));
    let frow = |big: Value, small: i64| {
        Row::new()
            .with("id", Value::Int(1))
            .with("big", big)
            .with("small", Value::Int(small))
    };
    let wants = vec![
        want(Op::Read, k(1), None, Some(frow(f.clone(), 1))),
        // FULL: the whole old row, while the unchanged TOAST value is
        // still not sent again in the new one.
        want(
            Op::Update,
            k(1),
            Some(frow(f.clone(), 1)),
            Some(frow(Value::Absent, 2)),
        ),
        want(Op::Delete, k(1), Some(frow(f.clone(), 2)), None),
        tombstone(k(1)),
    ];
    let records = alive(
        &mut rowlog,
        read_exact(
            &kafka,
            "rowlog.app.public.toasty_full",
            1,
            wants.len(),
            WAIT,
            QUIET,
        ),
    )
    .await;
    check("toasty_full", &records, &wants);

    // The JSON leaves absent columns out (no placeholder text anywhere).
    let raw = String::from_utf8(records[1].value.clone().unwrap())?;
    assert!(
        !raw.contains("unchanged-toast") && !raw.contains("__debezium"),
        "placeholder in {}",
        &raw[..200.min(raw.len())]
    );
    let doc: serde_json::Value = serde_json::from_str(&raw)?;
    assert!(
        doc["after"].get("big").is_none(),
        "after.big must be left out"
    );
    assert_eq!(doc["after"]["small"], 2);

    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    eprintln!("unchanged_toast: {:?}", started.elapsed());
    Ok(())
}

fn key(id: i64) -> Row {
    Row::new().with("id", Value::Int(id))
}

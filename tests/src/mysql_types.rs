//! An all-types MariaDB table with edge-value rows and the `Value`s the
//! MySQL source must produce for them (the binlog decoder's and the
//! end-to-end tests' shared expectations). Written in a session with
//! `sql_mode=''` and `time_zone='+00:00'`. The JSON column `j` is expected as
//! `Value::Text` here (what the binlog alone says); with the catalog it is
//! `Value::Json` of the same text.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use rowlog_schemas::value::{BitString, Date, DateTime, Time, Value};

/// A decimal value.
pub fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}
/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}
pub fn bits(s: &str) -> Value {
    Value::Bits(s.parse::<BitString>().unwrap())
}
pub fn ts(s: &str) -> DateTime {
    s.parse().unwrap()
}
pub fn time(s: &str) -> Value {
    Value::Time(s.parse::<Time>().unwrap())
}
pub fn zero_dt() -> DateTime {
    DateTime::new(Date::ZERO, 0).unwrap()
}
/// The stored bytes of a point: SRID 0 (LE u32) then WKB (LE, type 1, x, y).
pub fn point(x: f64, y: f64) -> Value {
    let mut b = vec![0, 0, 0, 0, 1, 1, 0, 0, 0];
    b.extend_from_slice(&x.to_le_bytes());
    b.extend_from_slice(&y.to_le_bytes());
    Value::Bytes(b)
}

/// Column names in table order.
pub const COLUMNS: &[&str] = &[
    "id", "ti", "tiu", "si", "siu", "mi", "miu", "i", "iu", "bi", "biu", "d65", "d52", "f", "dbl",
    "b1", "b10", "b64", "g", "pt", "y", "c_u", "vc_u", "tx_u", "c_l", "vc_l", "tx_l", "bin4",
    "vbin", "bl", "dt", "dt0", "dt6", "ts3", "tm0", "tm6", "j", "e", "s",
];

/// `CREATE TABLE` of the all-types table named `table` (`db.name`).
pub fn create(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (
    id INT PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
    bi BIGINT, biu BIGINT UNSIGNED,
    d65 DECIMAL(65,30), d52 DECIMAL(5,2), f FLOAT, dbl DOUBLE,
    b1 BIT(1), b10 BIT(10), b64 BIT(64),
    g GEOMETRY, pt POINT, y YEAR,
    c_u CHAR(10) CHARACTER SET utf8mb4, vc_u VARCHAR(300) CHARACTER SET utf8mb4,
    tx_u TEXT CHARACTER SET utf8mb4,
    c_l CHAR(10) CHARACTER SET latin1, vc_l VARCHAR(20) CHARACTER SET latin1,
    tx_l TEXT CHARACTER SET latin1,
    bin4 BINARY(4), vbin VARBINARY(10), bl BLOB,
    dt DATE, dt0 DATETIME(0), dt6 DATETIME(6), ts3 TIMESTAMP(3) NULL DEFAULT NULL,
    tm0 TIME(0), tm6 TIME(6),
    j JSON, e ENUM('a','b','c'), s SET('x','y','z')
) DEFAULT CHARSET=utf8mb4"
    )
}

const NINES_35: &str = "99999999999999999999999999999999999";
const NINES_30: &str = "999999999999999999999999999999";

/// The row of minimum values, with key `id`.
pub fn row_min(table: &str, id: i64) -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO {table} VALUES ({id}, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
         -9223372036854775808, 0, '-{NINES_35}.{NINES_30}', -0.5, -1.5, -2.5,
         b'0', b'1000000001', b'1', ST_GeomFromText('POINT(1 2)'), POINT(3, 4), 0,
         'é😀', '😀 emoji', 'text', 'é€', 'é€', 'é€',
         'a', x'00ff00', x'0001',
         '0000-00-00', '0000-00-00 00:00:00', '1000-01-01 00:00:00.000001',
         '0000-00-00 00:00:00', '-838:59:59', '-00:00:00.5',
         '{{\"a\": [1, true, null]}}', 'a', 'z,x')"
    );
    let values = vec![
        Value::Int(id),
        Value::Int(-128),
        Value::UInt(0),
        Value::Int(-32768),
        Value::UInt(0),
        Value::Int(-8_388_608),
        Value::UInt(0),
        Value::Int(-2_147_483_648),
        Value::UInt(0),
        Value::Int(i64::MIN),
        Value::UInt(0),
        dec(&format!("-{NINES_35}.{NINES_30}")),
        dec("-0.50"),
        Value::Float32(-1.5),
        Value::Float64(-2.5),
        bits("0"),
        bits("1000000001"),
        bits(&format!("{}1", "0".repeat(63))),
        point(1.0, 2.0),
        point(3.0, 4.0),
        Value::Int(0),
        text("é😀"),
        text("😀 emoji"),
        text("text"),
        text("é€"),
        text("é€"),
        text("é€"),
        Value::Bytes(vec![b'a', 0, 0, 0]),
        Value::Bytes(vec![0, 0xFF, 0]),
        Value::Bytes(vec![0, 1]),
        Value::Date(Date::ZERO),
        Value::Timestamp(zero_dt()),
        Value::Timestamp(ts("1000-01-01T00:00:00.000001")),
        Value::TimestampTz(zero_dt()),
        time("-838:59:59"),
        time("-00:00:00.500000"),
        text("{\"a\": [1, true, null]}"),
        Value::Enum("a".into()),
        Value::Set(vec!["x".into(), "z".into()]),
    ];
    (sql, values)
}

/// The row of maximum values (and empty strings), with key `id`.
pub fn row_max(table: &str, id: i64) -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO {table} VALUES ({id}, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647,
         4294967295, 9223372036854775807, 18446744073709551615, '{NINES_35}.{NINES_30}', 999.99,
         3.5, 1.7976931348623157e308,
         b'1', b'1111111111', b'{ones}', NULL, NULL, 2155,
         '', 'x', '', 'x', '', '',
         x'00000000', '', '',
         '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999',
         '2038-01-19 03:14:07.999', '838:59:59', '-12:34:56.789012',
         '[]', 'c', '')",
        ones = "1".repeat(64)
    );
    let values = vec![
        Value::Int(id),
        Value::Int(127),
        Value::UInt(255),
        Value::Int(32767),
        Value::UInt(65535),
        Value::Int(8_388_607),
        Value::UInt(16_777_215),
        Value::Int(2_147_483_647),
        Value::UInt(4_294_967_295),
        Value::Int(i64::MAX),
        Value::UInt(u64::MAX),
        dec(&format!("{NINES_35}.{NINES_30}")),
        dec("999.99"),
        Value::Float32(3.5),
        Value::Float64(f64::MAX),
        bits("1"),
        bits("1111111111"),
        bits(&"1".repeat(64)),
        Value::Null,
        Value::Null,
        Value::Int(2155),
        text(""),
        text("x"),
        text(""),
        text("x"),
        text(""),
        text(""),
        Value::Bytes(vec![0, 0, 0, 0]),
        Value::Bytes(vec![]),
        Value::Bytes(vec![]),
        Value::Date(Date::new(9999, 12, 31).unwrap()),
        Value::Timestamp(ts("9999-12-31T23:59:59")),
        Value::Timestamp(ts("9999-12-31T23:59:59.999999")),
        Value::TimestampTz(ts("2038-01-19T03:14:07.999000")),
        time("838:59:59"),
        time("-12:34:56.789012"),
        text("[]"),
        Value::Enum("c".into()),
        Value::Set(vec![]),
    ];
    (sql, values)
}

/// A row of NULLs but for a partial zero date and a few edge values.
pub fn row_nulls(table: &str, id: i64) -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO {table} (id, dt, bin4, d52, tm6, e) VALUES \
               ({id}, '2024-00-15', x'01', 0, '00:00:00.000001', '')"
    );
    let mut values = vec![Value::Null; COLUMNS.len()];
    let at = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    values[0] = Value::Int(id);
    values[at("dt")] = Value::Date(Date::new(2024, 0, 15).unwrap());
    values[at("bin4")] = Value::Bytes(vec![1, 0, 0, 0]);
    values[at("d52")] = dec("0.00");
    values[at("tm6")] = time("00:00:00.000001");
    // '' is not a label: with sql_mode='' it is stored as the error value 0.
    values[at("e")] = Value::Enum(String::new());
    (sql, values)
}

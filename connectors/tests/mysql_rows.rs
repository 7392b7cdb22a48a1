//! Decodes the row events a real MariaDB wrote (its own binlog files, read
//! with mysql_common's `BinlogFile`) with `columns_from_table_map` +
//! `decode_rows`, and checks every column against hand-written values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use mysql_async::prelude::Queryable;
use mysql_common::binlog::BinlogFile;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{EventData, TableMapEvent};
use rowlog_connectors::mysql::columns::{Charset, MyColumn, MyType};
use rowlog_connectors::mysql::rows::{RowImage, RowsKind, decode_rows};
use rowlog_connectors::mysql::tablemap::{
    TableMapInfo, columns_from_table_map, merge_with_catalog,
};
use rowlog_schemas::value::{BitString, Date, DateTime, Time, Value};
use rowlog_tests::MariaDbServer;

/// One rows event of the table, decoded.
#[derive(Debug)]
struct Decoded {
    info: TableMapInfo,
    kind: RowsKind,
    rows: Vec<RowImage>,
}

/// Reads `binlog.000001` of the server and decodes every rows event of
/// `db.table`; with a `catalog`, the table map's columns are merged with it
/// first.
fn read_rows(
    server: &MariaDbServer,
    db: &str,
    table: &str,
    catalog: Option<&[MyColumn]>,
) -> anyhow::Result<Vec<Decoded>> {
    let dir: &Path = server.data_dir().parent().unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("binlog.000001"))?);
    let mut maps: HashMap<u64, TableMapEvent<'static>> = HashMap::new();
    let mut out = Vec::new();
    for event in BinlogFile::new(BinlogVersion::Version4, file)? {
        let event = event?;
        match event.read_data()? {
            Some(EventData::TableMapEvent(tme)) => {
                maps.insert(tme.table_id(), tme.into_owned());
            }
            Some(EventData::RowsEvent(rows)) => {
                let tme = &maps[&rows.table_id()];
                if tme.database_name() != db || tme.table_name() != table {
                    continue;
                }
                let mut info = columns_from_table_map(tme)?;
                if let Some(cat) = catalog {
                    info.columns = merge_with_catalog(cat, &info.columns)
                        .ok_or_else(|| anyhow::anyhow!("catalog does not match"))?;
                }
                let kind = RowsKind::from_event_type(event.header().event_type()?, table)?.unwrap();
                let decoded = decode_rows(
                    &format!("{db}.{table}"),
                    &info.columns,
                    kind,
                    rows.columns_before_image(),
                    rows.columns_after_image(),
                    rows.rows_data(),
                );
                let rows = match decoded {
                    Ok(r) => r,
                    Err(e) => return Err(anyhow::anyhow!(e)),
                };
                out.push(Decoded { info, kind, rows });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The raw rows events of a table, to decode by hand (error cases).
fn raw_rows_events(
    server: &MariaDbServer,
    table: &str,
) -> anyhow::Result<Vec<(TableMapInfo, Vec<u8>)>> {
    let dir: &Path = server.data_dir().parent().unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("binlog.000001"))?);
    let mut maps: HashMap<u64, TableMapEvent<'static>> = HashMap::new();
    let mut out = Vec::new();
    for event in BinlogFile::new(BinlogVersion::Version4, file)? {
        let event = event?;
        match event.read_data()? {
            Some(EventData::TableMapEvent(tme)) => {
                maps.insert(tme.table_id(), tme.into_owned());
            }
            Some(EventData::RowsEvent(rows)) => {
                let tme = &maps[&rows.table_id()];
                if tme.table_name() == table {
                    out.push((columns_from_table_map(tme)?, rows.rows_data().to_vec()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}
fn text(s: &str) -> Value {
    Value::Text(s.into())
}
fn bits(s: &str) -> Value {
    Value::Bits(s.parse::<BitString>().unwrap())
}
fn ts(s: &str) -> DateTime {
    s.parse().unwrap()
}
fn time(s: &str) -> Value {
    Value::Time(s.parse::<Time>().unwrap())
}
fn zero_dt() -> DateTime {
    DateTime::new(Date::ZERO, 0).unwrap()
}
/// The stored bytes of a point: SRID 0 (LE u32) then WKB (LE, type 1, x, y).
fn point(x: f64, y: f64) -> Value {
    let mut b = vec![0, 0, 0, 0, 1, 1, 0, 0, 0];
    b.extend_from_slice(&x.to_le_bytes());
    b.extend_from_slice(&y.to_le_bytes());
    Value::Bytes(b)
}

const COLUMNS: &[&str] = &[
    "id", "ti", "tiu", "si", "siu", "mi", "miu", "i", "iu", "bi", "biu", "d65", "d52", "f", "dbl",
    "b1", "b10", "b64", "g", "pt", "y", "c_u", "vc_u", "tx_u", "c_l", "vc_l", "tx_l", "bin4",
    "vbin", "bl", "dt", "dt0", "dt6", "ts3", "tm0", "tm6", "j", "e", "s",
];

const CREATE: &str = "CREATE TABLE d.t (
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
) DEFAULT CHARSET=utf8mb4";

const NINES_35: &str = "99999999999999999999999999999999999";
const NINES_30: &str = "999999999999999999999999999999";

fn row_min() -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO d.t VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
         -9223372036854775808, 0, '-{NINES_35}.{NINES_30}', -0.5, -1.5, -2.5,
         b'0', b'1000000001', b'1', ST_GeomFromText('POINT(1 2)'), POINT(3, 4), 0,
         'é😀', '😀 emoji', 'text', 'é€', 'é€', 'é€',
         'a', x'00ff00', x'0001',
         '0000-00-00', '0000-00-00 00:00:00', '1000-01-01 00:00:00.000001',
         '0000-00-00 00:00:00', '-838:59:59', '-00:00:00.5',
         '{{\"a\": [1, true, null]}}', 'a', 'z,x')"
    );
    let values = vec![
        Value::Int(1),
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

fn row_max() -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO d.t VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647,
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
        Value::Int(2),
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

fn row_nulls() -> (String, Vec<Value>) {
    let sql = "INSERT INTO d.t (id, dt, bin4, d52, tm6, e) VALUES \
               (3, '2024-00-15', x'01', 0, '00:00:00.000001', '')"
        .to_string();
    let mut values = vec![Value::Null; COLUMNS.len()];
    let at = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    values[0] = Value::Int(3);
    values[at("dt")] = Value::Date(Date::new(2024, 0, 15).unwrap());
    values[at("bin4")] = Value::Bytes(vec![1, 0, 0, 0]);
    values[at("d52")] = dec("0.00");
    values[at("tm6")] = time("00:00:00.000001");
    // '' is not a label: with sql_mode='' it is stored as the error value 0.
    values[at("e")] = Value::Enum(String::new());
    (sql, values)
}

fn assert_row(got: &[Value], want: &[Value], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: column count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "{what}: column {} ({})", i + 1, COLUMNS[i]);
    }
}

#[tokio::test]
async fn every_type_decodes_like_select() -> anyhow::Result<()> {
    let server = MariaDbServer::start().await?;
    let mut c = server.connect().await?;
    c.query_drop("SET SESSION sql_mode='', time_zone='+00:00'")
        .await?;
    c.query_drop("CREATE DATABASE d").await?;
    c.query_drop(CREATE).await?;
    let rows = [row_min(), row_max(), row_nulls()];
    for (sql, _) in &rows {
        c.query_drop(sql).await?;
    }
    c.query_drop("UPDATE d.t SET d52 = 1.25, vc_u = 'changed' WHERE id = 1")
        .await?;
    c.query_drop("DELETE FROM d.t WHERE id = 2").await?;
    // What SELECT returns for BINARY(4) and the zero TIMESTAMP, as a check on
    // the conventions the expected values use.
    let bin: Vec<Vec<u8>> = c.query("SELECT bin4 FROM d.t ORDER BY id").await?;
    assert_eq!(bin, vec![vec![b'a', 0, 0, 0], vec![1, 0, 0, 0]]);
    c.query_drop("FLUSH BINARY LOGS").await?;
    c.disconnect().await?;

    let events = read_rows(&server, "d", "t", None)?;
    let kinds: Vec<RowsKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            RowsKind::Write,
            RowsKind::Write,
            RowsKind::Write,
            RowsKind::Update,
            RowsKind::Delete
        ]
    );
    let info = &events[0].info;
    assert!(info.has_names);
    let names: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, COLUMNS);
    assert_eq!(info.key, Some(vec!["id".to_string()]));
    let col = |n: &str| info.columns.iter().find(|c| c.name == n).unwrap();
    assert!(!col("id").nullable && col("ti").nullable);
    assert!(col("biu").unsigned && !col("bi").unsigned);
    assert_eq!(col("c_l").charset, Charset::Latin1);
    assert_eq!(col("tx_u").charset, Charset::Utf8);
    assert_eq!(col("bin4").charset, Charset::Binary);
    assert_eq!(col("bin4").ty, MyType::Char { max_bytes: 4 });
    assert_eq!(col("c_u").ty, MyType::Char { max_bytes: 40 });
    assert_eq!(col("vc_u").ty, MyType::VarChar { max_bytes: 1200 });
    assert_eq!(col("d65").source_type, "decimal(65,30)");
    assert_eq!(col("biu").source_type, "bigint unsigned");
    assert_eq!(col("e").source_type, "enum('a','b','c')");
    assert_eq!(col("s").source_type, "set('x','y','z')");
    assert_eq!(col("pt").source_type, "point");
    assert_eq!(col("b10").ty, MyType::Bit { bits: 10 });
    assert_eq!(col("tm6").ty, MyType::Time { fsp: 6 });
    assert_eq!(col("ts3").ty, MyType::Timestamp { fsp: 3 });

    for (i, (_, want)) in rows.iter().enumerate() {
        let ev = &events[i];
        assert_eq!(ev.rows.len(), 1);
        assert!(ev.rows[0].before.is_none());
        assert_row(
            ev.rows[0].after.as_ref().unwrap(),
            want,
            &format!("insert {}", i + 1),
        );
    }
    let upd = &events[3].rows[0];
    let (_, before) = row_min();
    assert_row(upd.before.as_ref().unwrap(), &before, "update before");
    let mut after = before.clone();
    after[COLUMNS.iter().position(|c| *c == "d52").unwrap()] = dec("1.25");
    after[COLUMNS.iter().position(|c| *c == "vc_u").unwrap()] = text("changed");
    assert_row(upd.after.as_ref().unwrap(), &after, "update after");
    let del = &events[4].rows[0];
    assert!(del.after.is_none());
    assert_row(del.before.as_ref().unwrap(), &row_max().1, "delete before");
    Ok(())
}

/// MINIMAL metadata (no names, signedness, charsets or labels) and MINIMAL
/// images (only the key before, only the changed columns after).
#[tokio::test]
async fn minimal_metadata_needs_the_catalog_and_minimal_images_are_absent() -> anyhow::Result<()> {
    let server = MariaDbServer::start_with_args(&[
        "--binlog-row-metadata=MINIMAL",
        "--binlog-row-image=MINIMAL",
    ])
    .await?;
    let mut c = server.connect().await?;
    c.query_drop("CREATE DATABASE d").await?;
    c.query_drop(
        "CREATE TABLE d.m (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(10) CHARACTER SET latin1, \
         e ENUM('p','q'), n INT)",
    )
    .await?;
    c.query_drop("INSERT INTO d.m VALUES (18446744073709551615, 'é', 'q', 7)")
        .await?;
    c.query_drop("UPDATE d.m SET n = 8 WHERE id = 18446744073709551615")
        .await?;
    c.query_drop("FLUSH BINARY LOGS").await?;
    c.disconnect().await?;

    // Without a catalog: no names, and the latin1 column cannot be decoded.
    let raw = raw_rows_events(&server, "m")?;
    let (info, data) = &raw[0];
    assert!(!info.has_names);
    assert_eq!(info.key, None);
    let names: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["@1", "@2", "@3", "@4"]);
    let e = decode_rows("d.m", &info.columns, RowsKind::Write, None, None, data).unwrap_err();
    assert!(e.message.contains("binlog_row_metadata=FULL"), "{e}");

    let mk = |name: &str, ty: MyType, unsigned: bool, charset: Charset, st: &str| MyColumn {
        name: name.into(),
        ty,
        unsigned,
        charset,
        nullable: name != "id",
        json_text: false,
        source_type: st.into(),
    };
    let catalog = vec![
        mk(
            "id",
            MyType::BigInt,
            true,
            Charset::Binary,
            "bigint(20) unsigned",
        ),
        mk(
            "name",
            MyType::VarChar { max_bytes: 10 },
            false,
            Charset::Latin1,
            "varchar(10)",
        ),
        mk(
            "e",
            MyType::Enum {
                pack_len: 1,
                labels: vec!["p".into(), "q".into()],
            },
            false,
            Charset::Utf8,
            "enum('p','q')",
        ),
        mk("n", MyType::Int, false, Charset::Binary, "int(11)"),
    ];
    // A catalog of another shape is refused.
    assert_eq!(merge_with_catalog(&catalog[..3], &info.columns), None);
    let events = read_rows(&server, "d", "m", Some(&catalog))?;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].info.columns[0].name, "id");
    assert_eq!(
        events[0].rows[0].after.as_deref(),
        Some(
            &[
                Value::UInt(u64::MAX),
                text("é"),
                Value::Enum("q".into()),
                Value::Int(7)
            ][..]
        )
    );
    // MINIMAL image: the before image has the key only, the after image the
    // changed column only.
    assert_eq!(events[1].kind, RowsKind::Update);
    let upd = &events[1].rows[0];
    assert_eq!(
        upd.before.as_deref(),
        Some(
            &[
                Value::UInt(u64::MAX),
                Value::Absent,
                Value::Absent,
                Value::Absent
            ][..]
        )
    );
    assert_eq!(
        upd.after.as_deref(),
        Some(&[Value::Absent, Value::Absent, Value::Absent, Value::Int(8)][..])
    );
    Ok(())
}

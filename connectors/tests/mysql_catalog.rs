//! The MySQL/MariaDB catalog (information_schema) and the snapshot reader
//! against a real MariaDB: storage types as the binlog sees them, typed
//! values, key-ordered chunks that resume from saved state, keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use rowlog_config::model::common::TableFilter;
use rowlog_connectors::mysql::columns::{Charset, MyTable, MyType};
use rowlog_connectors::mysql::{self, catalog, snapshot};
use rowlog_schemas::TableId;
use rowlog_schemas::value::{BitString, Date, DateTime, Time, Value};

async fn writer(server: &rowlog_tests::MariaDbServer) -> mysql_async::Conn {
    let mut conn = server.connect().await.unwrap();
    conn.query_drop("SET SESSION sql_mode = '', time_zone = '+00:00'")
        .await
        .unwrap();
    conn
}

async fn reader(server: &rowlog_tests::MariaDbServer) -> mysql_async::Conn {
    let mut conn = mysql::connect(&server.url()).await.unwrap();
    snapshot::prepare_session(&mut conn).await.unwrap();
    conn
}

fn no_keys() -> BTreeMap<String, Vec<String>> {
    BTreeMap::new()
}

const ALL_TYPES: &str = "CREATE TABLE cat.all_types (
    id INT NOT NULL PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
    bi BIGINT, biu BIGINT UNSIGNED,
    d65 DECIMAL(65,30), d52 DECIMAL(5,2), f FLOAT, dbl DOUBLE,
    b1 BIT(1), b10 BIT(10), b64 BIT(64),
    c_u CHAR(4) CHARACTER SET utf8mb4, vc_u VARCHAR(10) CHARACTER SET utf8mb4,
    t_u TEXT CHARACTER SET utf8mb4,
    c_l CHAR(4) CHARACTER SET latin1, vc_l VARCHAR(10) CHARACTER SET latin1,
    t_l TEXT CHARACTER SET latin1,
    bin BINARY(4), vbin VARBINARY(8), bl BLOB, mt MEDIUMTEXT, lb LONGBLOB,
    dt DATE, dtm0 DATETIME, dtm6 DATETIME(6), ts3 TIMESTAMP(3) NULL DEFAULT NULL,
    t0 TIME, t6 TIME(6), y YEAR,
    j JSON, e ENUM('a','it''s','x,y'), st SET('a','b','c'),
    p POINT, g GEOMETRY
) DEFAULT CHARSET = utf8mb4";

fn point_bytes(srid: u32, x: f64, y: f64) -> Vec<u8> {
    let mut b = srid.to_le_bytes().to_vec();
    b.push(1);
    b.extend(1u32.to_le_bytes());
    b.extend(x.to_le_bytes());
    b.extend(y.to_le_bytes());
    b
}

fn bits(n: usize, s: &str) -> Value {
    assert_eq!(s.len(), n);
    Value::Bits(s.parse::<BitString>().unwrap())
}

fn dec(s: &str) -> Value {
    Value::Decimal(s.parse().unwrap())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn time(neg: bool, h: i64, m: i64, s: i64, us: i64) -> Value {
    let abs = ((h * 60 + m) * 60 + s) * 1_000_000 + us;
    Value::Time(Time::from_micros(if neg { -abs } else { abs }).unwrap())
}

#[tokio::test]
async fn describes_and_reads_every_type() -> anyhow::Result<()> {
    let server = rowlog_tests::MariaDbServer::start().await?;
    let mut w = writer(&server).await;
    w.query_drop("CREATE DATABASE cat").await?;
    w.query_drop(ALL_TYPES).await?;
    w.query_drop(
        "INSERT INTO cat.all_types VALUES (1,
            -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
            '-99999999999999999999999999999999999.999999999999999999999999999999', 0.5, 1.5, 0.1,
            b'1', b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111111',
            'é€', 'héllo😀', 'text 😀', 'é€', 'é€x', 'Ünïcödé',
            X'0102', X'00FF', X'DEADBEEF', 'medium', X'00',
            '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:20:30.123456', '0000-00-00 00:00:00',
            '-838:59:59', '-00:00:00.5', 0,
            '{\"a\": [1, 2]}', '', '',
            ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(3 4)', 4326))",
    )
    .await?;
    w.query_drop(
        "INSERT INTO cat.all_types VALUES (2,
            127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
            9223372036854775807, 18446744073709551615,
            '99999999999999999999999999999999999.999999999999999999999999999999', -999.99, 0.1,
            1.7976931348623157e308,
            b'0', b'0101010101', b'1',
            'a', '', '', 'abc', '€', '',
            X'FFFFFFFF', X'', X'', '', X'FF00FF',
            '2024-02-29', '9999-12-31 23:59:59', '1000-01-01 00:00:00.000001',
            '2038-01-19 03:14:07.999',
            '838:59:59', '123:45:56.789012', 2155,
            '[]', 'x,y', 'c,a',
            ST_GeomFromText('POINT(0 0)'), NULL)",
    )
    .await?;
    w.query_drop("INSERT INTO cat.all_types (id) VALUES (3)")
        .await?;

    let mut r = reader(&server).await;
    let id = TableId::new("cat", "all_types");
    let tables = catalog::describe_tables(&mut r, std::slice::from_ref(&id), &no_keys()).await?;
    assert_eq!(tables.len(), 1);
    let t = &tables[0];
    assert_eq!(t.id, id);
    assert_eq!(t.key, vec!["id".to_string()]);

    use Charset::{Binary as B, Latin1 as L, Utf8 as U};
    let expected: Vec<(&str, MyType, bool, Charset)> = vec![
        ("id", MyType::Int, false, B),
        ("ti", MyType::TinyInt, false, B),
        ("tiu", MyType::TinyInt, true, B),
        ("si", MyType::SmallInt, false, B),
        ("siu", MyType::SmallInt, true, B),
        ("mi", MyType::MediumInt, false, B),
        ("miu", MyType::MediumInt, true, B),
        ("i", MyType::Int, false, B),
        ("iu", MyType::Int, true, B),
        ("bi", MyType::BigInt, false, B),
        ("biu", MyType::BigInt, true, B),
        (
            "d65",
            MyType::Decimal {
                precision: 65,
                scale: 30,
            },
            false,
            B,
        ),
        (
            "d52",
            MyType::Decimal {
                precision: 5,
                scale: 2,
            },
            false,
            B,
        ),
        ("f", MyType::Float, false, B),
        ("dbl", MyType::Double, false, B),
        ("b1", MyType::Bit { bits: 1 }, false, B),
        ("b10", MyType::Bit { bits: 10 }, false, B),
        ("b64", MyType::Bit { bits: 64 }, false, B),
        ("c_u", MyType::Char { max_bytes: 16 }, false, U),
        ("vc_u", MyType::VarChar { max_bytes: 40 }, false, U),
        ("t_u", MyType::Blob { len_bytes: 2 }, false, U),
        ("c_l", MyType::Char { max_bytes: 4 }, false, L),
        ("vc_l", MyType::VarChar { max_bytes: 10 }, false, L),
        ("t_l", MyType::Blob { len_bytes: 2 }, false, L),
        ("bin", MyType::Char { max_bytes: 4 }, false, B),
        ("vbin", MyType::VarChar { max_bytes: 8 }, false, B),
        ("bl", MyType::Blob { len_bytes: 2 }, false, B),
        ("mt", MyType::Blob { len_bytes: 3 }, false, U),
        ("lb", MyType::Blob { len_bytes: 4 }, false, B),
        ("dt", MyType::Date, false, B),
        ("dtm0", MyType::DateTime { fsp: 0 }, false, B),
        ("dtm6", MyType::DateTime { fsp: 6 }, false, B),
        ("ts3", MyType::Timestamp { fsp: 3 }, false, B),
        ("t0", MyType::Time { fsp: 0 }, false, B),
        ("t6", MyType::Time { fsp: 6 }, false, B),
        ("y", MyType::Year, false, B),
        // MariaDB's JSON: a LONGTEXT with a json_valid() check.
        ("j", MyType::Blob { len_bytes: 4 }, false, U),
        (
            "e",
            MyType::Enum {
                pack_len: 1,
                labels: vec!["a".into(), "it's".into(), "x,y".into()],
            },
            false,
            U,
        ),
        (
            "st",
            MyType::Set {
                pack_len: 1,
                members: vec!["a".into(), "b".into(), "c".into()],
            },
            false,
            U,
        ),
        ("p", MyType::Geometry { len_bytes: 4 }, false, B),
        ("g", MyType::Geometry { len_bytes: 4 }, false, B),
    ];
    assert_eq!(t.columns.len(), expected.len());
    for (c, (name, ty, unsigned, charset)) in t.columns.iter().zip(&expected) {
        assert_eq!(
            (&c.name.as_str(), &c.ty, c.unsigned, c.charset),
            (name, ty, *unsigned, *charset),
            "{c:?}"
        );
        assert_eq!(c.nullable, *name != "id", "{c:?}");
        assert_eq!(c.json_text, *name == "j", "{c:?}");
    }
    let by_name = |n: &str| t.columns.iter().find(|c| c.name == n).unwrap();
    assert_eq!(by_name("biu").source_type, "bigint(20) unsigned");
    assert_eq!(by_name("e").source_type, "enum('a','it''s','x,y')");
    // The row-log schema builds.
    let schema = t.schema()?;
    assert_eq!(schema.key, vec!["id".to_string()]);

    let rows = snapshot::read_chunk(&mut r, t, None, 100).await?;
    let row1 = vec![
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
        dec("-99999999999999999999999999999999999.999999999999999999999999999999"),
        dec("0.50"),
        Value::Float32(1.5),
        Value::Float64(0.1),
        bits(1, "1"),
        bits(10, "1000000001"),
        bits(64, &"1".repeat(64)),
        text("é€"),
        text("héllo😀"),
        text("text 😀"),
        text("é€"),
        text("é€x"),
        text("Ünïcödé"),
        Value::Bytes(vec![1, 2, 0, 0]),
        Value::Bytes(vec![0, 0xFF]),
        Value::Bytes(vec![0xDE, 0xAD, 0xBE, 0xEF]),
        text("medium"),
        Value::Bytes(vec![0]),
        Value::Date(Date::ZERO),
        Value::Timestamp(DateTime::new(Date::ZERO, 0)?),
        Value::Timestamp(DateTime::new(date(2024, 0, 15), 37_230_123_456)?),
        Value::TimestampTz(DateTime::new(Date::ZERO, 0)?),
        time(true, 838, 59, 59, 0),
        time(true, 0, 0, 0, 500_000),
        Value::Int(0),
        Value::Json("{\"a\": [1, 2]}".into()),
        Value::Enum(String::new()),
        Value::Set(vec![]),
        Value::Bytes(point_bytes(0, 1.0, 2.0)),
        Value::Bytes(point_bytes(4326, 3.0, 4.0)),
    ];
    let row2 = vec![
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
        dec("99999999999999999999999999999999999.999999999999999999999999999999"),
        dec("-999.99"),
        Value::Float32(0.1),
        Value::Float64(f64::MAX),
        bits(1, "0"),
        bits(10, "0101010101"),
        bits(64, &format!("{}1", "0".repeat(63))),
        text("a"),
        text(""),
        text(""),
        text("abc"),
        text("€"),
        text(""),
        Value::Bytes(vec![0xFF; 4]),
        Value::Bytes(vec![]),
        Value::Bytes(vec![]),
        text(""),
        Value::Bytes(vec![0xFF, 0, 0xFF]),
        Value::Date(date(2024, 2, 29)),
        Value::Timestamp(DateTime::new(date(9999, 12, 31), 86_399_000_000)?),
        Value::Timestamp(DateTime::new(date(1000, 1, 1), 1)?),
        Value::TimestampTz(DateTime::from_unix_micros(2_147_483_647_999_000)?),
        time(false, 838, 59, 59, 0),
        time(false, 123, 45, 56, 789_012),
        Value::Int(2155),
        Value::Json("[]".into()),
        Value::Enum("x,y".into()),
        Value::Set(vec!["a".into(), "c".into()]),
        Value::Bytes(point_bytes(0, 0.0, 0.0)),
        Value::Null,
    ];
    let mut row3 = vec![Value::Null; expected.len()];
    row3[0] = Value::Int(3);
    assert_eq!(rows.len(), 3);
    for (got, want) in rows.iter().zip([&row1, &row2, &row3]) {
        for ((c, g), w) in t.columns.iter().zip(got).zip(want.iter()) {
            assert_eq!(g, w, "row {} column {}", got[0], c.name);
            if !w.is_null() {
                assert!(w.fits(&c.kind()), "{} {w:?}", c.name);
            }
        }
    }
    // Keys of any row survive the saved state.
    for row in &rows {
        let key = snapshot::key_of(t, row);
        let back = snapshot::key_from_state(t, &snapshot::key_to_state(&key))?;
        assert_eq!(back, key);
    }
    let after = snapshot::key_of(t, &rows[0]);
    let rest = snapshot::read_chunk(&mut r, t, Some(&after), 100).await?;
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0][0], Value::Int(2));
    assert!(snapshot::estimate_rows(&mut r, t).await? <= 10);
    Ok(())
}

/// Reads a whole table in chunks of `limit`, resuming each time from the
/// text state of the last key; returns the chunks.
async fn read_all_in_chunks(
    conn: &mut mysql_async::Conn,
    t: &MyTable,
    limit: usize,
) -> anyhow::Result<Vec<Vec<Vec<Value>>>> {
    let mut state: Option<String> = None;
    let mut chunks = Vec::new();
    loop {
        let after = match &state {
            Some(s) => Some(snapshot::key_from_state(t, s)?),
            None => None,
        };
        let rows = snapshot::read_chunk(conn, t, after.as_deref(), limit).await?;
        if rows.is_empty() {
            return Ok(chunks);
        }
        let last = rows.last().map(|r| snapshot::key_of(t, r)).unwrap();
        state = Some(snapshot::key_to_state(&last));
        chunks.push(rows);
        assert!(chunks.len() < 100, "no progress");
    }
}

#[tokio::test]
async fn chunks_follow_composite_keys_and_resume_from_state() -> anyhow::Result<()> {
    let server = rowlog_tests::MariaDbServer::start().await?;
    let mut w = writer(&server).await;
    w.query_drop("CREATE DATABASE cat").await?;
    w.query_drop(
        "CREATE TABLE cat.k (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))",
    )
    .await?;
    // Ten rows, inserted out of order.
    w.query_drop(
        "INSERT INTO cat.k VALUES (2,'b',5),(1,'z',3),(3,'a',8),(1,'a',1),(2,'a',4),
                                  (3,'c',10),(1,'m',2),(2,'é',7),(3,'b',9),(2,'c',6)",
    )
    .await?;
    // Keys whose sort order is not their text order: ENUM by index,
    // DECIMAL by number, VARBINARY by bytes.
    w.query_drop(
        "CREATE TABLE cat.m (e ENUM('z','a') NOT NULL, d DECIMAL(10,2) NOT NULL,
                             bn VARBINARY(4) NOT NULL, PRIMARY KEY (e, d, bn))",
    )
    .await?;
    w.query_drop(
        "INSERT INTO cat.m VALUES ('a',0,X''),('z',1.5,X'FF'),('a',0,X'80'),('z',-2,X'10'),
                                  ('z',10,X'00'),('z',1.5,X'00'),('a',-0.5,X'7F')",
    )
    .await?;

    let mut r = reader(&server).await;
    let ids = [TableId::new("cat", "k"), TableId::new("cat", "m")];
    let tables = catalog::describe_tables(&mut r, &ids, &no_keys()).await?;
    let (k, m) = (&tables[0], &tables[1]);
    assert_eq!(k.key, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(
        m.key,
        vec!["e".to_string(), "d".to_string(), "bn".to_string()]
    );

    let chunks = read_all_in_chunks(&mut r, k, 3).await?;
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 3, 1]
    );
    let got: Vec<Value> = chunks.concat().into_iter().map(|r| r[2].clone()).collect();
    let want: Vec<Value> = (1..=10).map(Value::Int).collect();
    assert_eq!(got, want, "every row once, in key order");

    let whole = snapshot::read_chunk(&mut r, m, None, 100).await?;
    assert_eq!(whole.len(), 7);
    let chunks = read_all_in_chunks(&mut r, m, 2).await?;
    assert_eq!(chunks.concat(), whole);
    let first: Vec<(Value, Value, Value)> = whole
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        first[0],
        (
            Value::Enum("z".into()),
            dec("-2.00"),
            Value::Bytes(vec![0x10])
        )
    );
    assert_eq!(
        first[6],
        (
            Value::Enum("a".into()),
            dec("0.00"),
            Value::Bytes(vec![0x80])
        )
    );
    Ok(())
}

#[tokio::test]
async fn tables_without_primary_key_need_a_keys_override() -> anyhow::Result<()> {
    let server = rowlog_tests::MariaDbServer::start().await?;
    let mut w = writer(&server).await;
    w.query_drop("CREATE DATABASE cat").await?;
    w.query_drop("CREATE TABLE cat.nopk (a INT, b INT NOT NULL)")
        .await?;
    w.query_drop("CREATE TABLE cat.pk (id INT PRIMARY KEY, b INT)")
        .await?;
    w.query_drop("INSERT INTO cat.nopk VALUES (1, 20), (2, 10)")
        .await?;
    let mut r = reader(&server).await;
    let nopk = TableId::new("cat", "nopk");
    let e = catalog::describe_tables(&mut r, std::slice::from_ref(&nopk), &no_keys())
        .await
        .unwrap_err();
    assert!(!e.transient);
    assert_eq!(
        e.message,
        "table cat.nopk has no primary key: add one, or set `keys: {cat.nopk: [col, ...]}` in the source config"
    );

    let mut keys = no_keys();
    keys.insert("cat.nopk".into(), vec!["b".into()]);
    keys.insert("cat.pk".into(), vec!["b".into(), "id".into()]);
    let both = [nopk.clone(), TableId::new("cat", "pk")];
    let tables = catalog::describe_tables(&mut r, &both, &keys).await?;
    assert_eq!(tables[0].key, vec!["b".to_string()]);
    assert_eq!(tables[1].key, vec!["b".to_string(), "id".to_string()]);
    let rows = snapshot::read_chunk(&mut r, &tables[0], None, 10).await?;
    assert_eq!(
        rows,
        vec![
            vec![Value::Int(2), Value::Int(10)],
            vec![Value::Int(1), Value::Int(20)]
        ]
    );

    keys.insert("cat.nopk".into(), vec!["zz".into()]);
    let e = catalog::describe_tables(&mut r, std::slice::from_ref(&nopk), &keys)
        .await
        .unwrap_err();
    assert!(e.message.contains("`zz`"), "{e}");
    assert!(e.message.contains("cat.nopk"), "{e}");
    Ok(())
}

#[tokio::test]
async fn resolve_tables_applies_include_and_exclude() -> anyhow::Result<()> {
    let server = rowlog_tests::MariaDbServer::start().await?;
    let mut w = writer(&server).await;
    for sql in [
        "CREATE DATABASE shop",
        "CREATE DATABASE crm",
        "CREATE TABLE shop.orders (id INT PRIMARY KEY)",
        "CREATE TABLE shop.order_1 (id INT PRIMARY KEY)",
        "CREATE TABLE shop.audit_log (id INT PRIMARY KEY)",
        "CREATE VIEW shop.order_view AS SELECT id FROM shop.orders",
        "CREATE TABLE crm.t1 (id INT PRIMARY KEY)",
        "CREATE TABLE crm.t22 (id INT PRIMARY KEY)",
    ] {
        w.query_drop(sql).await?;
    }
    let mut r = reader(&server).await;
    let ids = |v: &[(&str, &str)]| -> Vec<TableId> {
        v.iter().map(|(d, t)| TableId::new(*d, *t)).collect()
    };

    let all = catalog::resolve_tables(&mut r, &TableFilter::default()).await?;
    assert_eq!(
        all,
        ids(&[
            ("crm", "t1"),
            ("crm", "t22"),
            ("shop", "audit_log"),
            ("shop", "order_1"),
            ("shop", "orders"),
        ]),
        "no views, no system tables, sorted"
    );

    let filter = TableFilter {
        include: vec!["shop.*".into(), "crm.t?".into()],
        exclude: vec!["shop.audit_*".into()],
    };
    let some = catalog::resolve_tables(&mut r, &filter).await?;
    assert_eq!(
        some,
        ids(&[("crm", "t1"), ("shop", "order_1"), ("shop", "orders")])
    );
    Ok(())
}

#[tokio::test]
async fn legacy_temporals_and_unknown_types() -> anyhow::Result<()> {
    let server = rowlog_tests::MariaDbServer::start().await?;
    let mut w = writer(&server).await;
    w.query_drop("CREATE DATABASE cat").await?;
    w.query_drop("SET GLOBAL mysql56_temporal_format = OFF")
        .await?;
    w.query_drop(
        "CREATE TABLE cat.old (id INT PRIMARY KEY, t TIME, dt DATETIME, ts TIMESTAMP NULL DEFAULT NULL)",
    )
    .await?;
    w.query_drop("SET GLOBAL mysql56_temporal_format = ON")
        .await?;
    w.query_drop(
        "INSERT INTO cat.old VALUES (1, '-12:34:56', '2001-02-03 04:05:06', '1970-01-01 00:00:01')",
    )
    .await?;
    w.query_drop("CREATE TABLE cat.odd (id INT PRIMARY KEY, addr INET6)")
        .await?;

    let mut r = reader(&server).await;
    let old = TableId::new("cat", "old");
    let tables = catalog::describe_tables(&mut r, std::slice::from_ref(&old), &no_keys()).await?;
    let types: Vec<&MyType> = tables[0].columns.iter().map(|c| &c.ty).collect();
    assert_eq!(
        types,
        vec![
            &MyType::Int,
            &MyType::LegacyTime,
            &MyType::LegacyDateTime,
            &MyType::LegacyTimestamp
        ]
    );
    let rows = snapshot::read_chunk(&mut r, &tables[0], None, 10).await?;
    assert_eq!(
        rows,
        vec![vec![
            Value::Int(1),
            time(true, 12, 34, 56, 0),
            Value::Timestamp(DateTime::new(date(2001, 2, 3), 14_706_000_000)?),
            Value::TimestampTz(DateTime::from_unix_micros(1_000_000)?),
        ]]
    );

    let e = catalog::describe_tables(&mut r, &[TableId::new("cat", "odd")], &no_keys())
        .await
        .unwrap_err();
    assert!(!e.transient);
    assert!(e.message.contains("column cat.odd.addr"), "{e}");
    assert!(e.message.contains("`inet6`"), "{e}");
    assert!(e.message.contains("exclude: [cat.odd]"), "{e}");
    Ok(())
}

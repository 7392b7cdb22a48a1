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
use rowlog_schemas::value::Value;
use rowlog_tests::MariaDbServer;
use rowlog_tests::mysql_types::{COLUMNS, create, dec, row_max, row_min, row_nulls, text};

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
    c.query_drop(create("d.t")).await?;
    let rows = [row_min("d.t", 1), row_max("d.t", 2), row_nulls("d.t", 3)];
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
    let (_, before) = row_min("d.t", 1);
    assert_row(upd.before.as_ref().unwrap(), &before, "update before");
    let mut after = before.clone();
    after[COLUMNS.iter().position(|c| *c == "d52").unwrap()] = dec("1.25");
    after[COLUMNS.iter().position(|c| *c == "vc_u").unwrap()] = text("changed");
    assert_row(upd.after.as_ref().unwrap(), &after, "update after");
    let del = &events[4].rows[0];
    assert!(del.after.is_none());
    assert_row(
        del.before.as_ref().unwrap(),
        &row_max("d.t", 2).1,
        "delete before",
    );
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

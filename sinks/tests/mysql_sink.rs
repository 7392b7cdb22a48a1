//! The MySQL/MariaDB follower sink against a real MariaDB from the testkit
//! (no Kafka): changes are built by hand and applied with their offsets;
//! the target is read back over a separate connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use rowlog_config::SqlSink;
use rowlog_schemas::position::{Lsn, PgPosition};
use rowlog_schemas::value::{BitString, Date, DateTime, Interval, Time, TimeTz, Uuid};
use rowlog_schemas::{ChangeEvent, ColumnSchema, Op, Position, Row, TableId, TableSchema, Value};
use rowlog_sinks::mysql::MysqlSink;
use rowlog_sinks::{Change, LogOffset, Sink};
use rowlog_tests::MariaDbServer;
use serde_json::json;

fn schema(ns: &str, name: &str, cols: &[(&str, &str)], key: &[&str]) -> Arc<TableSchema> {
    Arc::new(
        TableSchema::new(
            TableId::new(ns, name),
            cols.iter()
                .map(|(n, k)| ColumnSchema {
                    name: (*n).into(),
                    kind: k.parse().unwrap(),
                    source_type: (*k).into(),
                    nullable: !key.contains(n),
                })
                .collect(),
            key.iter().map(|k| (*k).to_string()).collect(),
        )
        .unwrap(),
    )
}

/// A full row image: the given values, every other column absent.
fn row(s: &TableSchema, vals: &[(&str, Value)]) -> Row {
    s.columns
        .iter()
        .map(|c| {
            let v = vals
                .iter()
                .find(|(n, _)| *n == c.name)
                .map_or(Value::Absent, |(_, v)| v.clone());
            (c.name.clone(), v)
        })
        .collect()
}

fn change(s: &Arc<TableSchema>, op: Op, vals: &[(&str, Value)]) -> Change {
    let image = Some(row(s, vals));
    let (before, after) = match op {
        Op::Delete => (image, None),
        Op::Truncate => (None, None),
        _ => (None, image),
    };
    Change {
        event: ChangeEvent {
            source: "app".into(),
            table: s.table.clone(),
            op,
            key_columns: s.key.clone(),
            before,
            after,
            position: Position::Postgres(PgPosition::new(Lsn(1), Lsn(1))),
            transaction: None,
            schema_version: s.version(),
            ts_ms: 0,
        },
        schema: s.clone(),
    }
}

fn ins(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Insert, vals)
}
fn upd(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Update, vals)
}
fn del(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Delete, vals)
}

fn int(i: i64) -> Value {
    Value::Int(i)
}
fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn cfg(url: &str, extra: serde_json::Value) -> SqlSink {
    let mut j = json!({ "url": url });
    if let (Some(o), serde_json::Value::Object(e)) = (j.as_object_mut(), extra) {
        o.extend(e);
    }
    serde_json::from_value(j).unwrap()
}

fn off(topic: &str, partition: i32, next: i64) -> LogOffset {
    LogOffset {
        topic: topic.into(),
        partition,
        next,
    }
}

/// Rows of a text-protocol query, every value as text (NULL as None).
async fn select(server: &MariaDbServer, q: &str) -> Vec<Vec<Option<String>>> {
    let mut conn = server.connect().await.unwrap();
    let rows: Vec<mysql_async::Row> = conn.query(q).await.unwrap();
    conn.disconnect().await.unwrap();
    rows.into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).unwrap() {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(String::from_utf8(b.clone()).unwrap()),
                    other => Some(format!("{other:?}")),
                })
                .collect()
        })
        .collect()
}

fn strs(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| (*v != "NULL").then(|| (*v).to_string()))
                .collect()
        })
        .collect()
}

async fn start() -> (MariaDbServer, String) {
    let server = MariaDbServer::start().await.unwrap();
    let url = server.create_database("follower").await.unwrap();
    (server, url)
}

#[tokio::test]
async fn every_kind_round_trips_into_an_auto_created_table() {
    let (server, url) = start().await;
    let mut sink = MysqlSink::new("kinds", &cfg(&url, json!({})));
    assert_eq!(sink.open().await.unwrap(), vec![]);
    let s = schema(
        "app",
        "kinds",
        &[
            ("id", "int"),
            ("b", "bool"),
            ("i", "int"),
            ("u", "uint"),
            ("f", "float32"),
            ("g", "float64"),
            ("d", "decimal"),
            ("t", "text"),
            ("by", "bytes"),
            ("da", "date"),
            ("ti", "time"),
            ("tz", "timetz"),
            ("ts", "timestamp"),
            ("tstz", "timestamptz"),
            ("iv", "interval"),
            ("uu", "uuid"),
            ("j", "json"),
            ("e", "enum"),
            ("se", "set"),
            ("bi", "bits"),
            ("arr", "int[]"),
        ],
        &["id"],
    );
    let uuid: Uuid = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
    let full = ins(
        &s,
        &[
            ("id", int(1)),
            ("b", Value::Bool(true)),
            ("i", int(i64::MIN)),
            ("u", Value::UInt(u64::MAX)),
            ("f", Value::Float32(1.5)),
            ("g", Value::Float64(-2.25)),
            (
                "d",
                Value::Decimal("-12345678901234567890.123456789".parse().unwrap()),
            ),
            ("t", text("héllo 😀 ✓")),
            ("by", Value::Bytes(vec![0, 1, 255])),
            ("da", Value::Date(Date::ZERO)),
            (
                "ti",
                Value::Time(Time::from_micros(-(838 * 3600 + 59 * 60 + 59) * 1_000_000).unwrap()),
            ),
            (
                "tz",
                Value::TimeTz(TimeTz::new(37_230_000_000, 7200).unwrap()),
            ),
            (
                "ts",
                Value::Timestamp("2024-02-29T23:59:58.123456".parse::<DateTime>().unwrap()),
            ),
            (
                "tstz",
                Value::TimestampTz("1999-12-31T23:00:00".parse::<DateTime>().unwrap()),
            ),
            (
                "iv",
                Value::Interval(Interval {
                    months: 14,
                    days: -3,
                    micros: 1_500_000,
                }),
            ),
            ("uu", Value::Uuid(uuid)),
            ("j", Value::Json(r#"{"a": [1, 2], "b": "😀"}"#.into())),
            ("e", Value::Enum("happy".into())),
            ("se", Value::Set(vec!["a".into(), "c".into()])),
            ("bi", Value::Bits("10110".parse::<BitString>().unwrap())),
            ("arr", Value::Array(vec![int(1), Value::Null, int(3)])),
        ],
    );
    let dated = ins(
        &s,
        &[
            ("id", int(2)),
            ("da", Value::Date(Date::new(2024, 2, 29).unwrap())),
            ("ti", Value::Time(Time::from_micros(1).unwrap())),
        ],
    );
    let nulls = ins(
        &s,
        &s.columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    if c.name == "id" { int(3) } else { Value::Null },
                )
            })
            .collect::<Vec<_>>(),
    );
    let applied = sink
        .apply(&[full, dated, nulls], &[off("app.kinds", 0, 3)])
        .await
        .unwrap();
    assert_eq!(applied.rejected, vec![]);
    assert_eq!(applied.changes, 3);
    let got = select(
        &server,
        "SELECT id, b, i, u, f, g, d, t, HEX(`by`), da, ti, tz, ts, tstz, iv, uu, j, e, se, bi, arr \
         FROM app.kinds ORDER BY id",
    )
    .await;
    let want = strs(&[
        &[
            "1",
            "1",
            "-9223372036854775808",
            "18446744073709551615",
            "1.5",
            "-2.25",
            "-12345678901234567890.123456789000000000000000000000",
            "héllo 😀 ✓",
            "0001FF",
            "0000-00-00",
            "-838:59:59.000000",
            "10:20:30+02:00",
            "2024-02-29 23:59:58.123456",
            "1999-12-31 23:00:00.000000",
            "P1Y2M-3DT1.5S",
            "67e55044-10b1-426f-9247-bb680e5fe0c8",
            r#"{"a": [1, 2], "b": "😀"}"#,
            "happy",
            "a,c",
            "10110",
            "[1,null,3]",
        ],
        &[
            "2",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "2024-02-29",
            "00:00:00.000001",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
        ],
        &[
            "3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
            "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
    ]);
    assert_eq!(got, want);
    // Key columns got indexable types, the table a primary key.
    let pk = select(
        &server,
        "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'kinds' AND INDEX_NAME = 'PRIMARY'",
    )
    .await;
    assert_eq!(pk, strs(&[&["id"]]));
}

#[tokio::test]
async fn inserts_updates_deletes_truncates_and_collapsed_batches() {
    let (server, url) = start().await;
    let mut sink = MysqlSink::new("crud", &cfg(&url, json!({})));
    sink.open().await.unwrap();
    let s = schema(
        "app",
        "t",
        &[("id", "int"), ("a", "text"), ("b", "int")],
        &["id"],
    );
    let q = "SELECT id, a, b FROM app.t ORDER BY id";

    let batch = [
        ins(&s, &[("id", int(1)), ("a", text("one")), ("b", int(10))]),
        ins(&s, &[("id", int(2)), ("a", text("two")), ("b", int(20))]),
        ins(&s, &[("id", int(3)), ("a", text("three")), ("b", int(30))]),
    ];
    sink.apply(&batch, &[off("t", 0, 3)]).await.unwrap();
    assert_eq!(
        select(&server, q).await,
        strs(&[
            &["1", "one", "10"],
            &["2", "two", "20"],
            &["3", "three", "30"]
        ])
    );

    // b absent in the update: the target keeps 10.
    let batch = [
        upd(&s, &[("id", int(1)), ("a", text("uno"))]),
        del(&s, &[("id", int(2))]),
    ];
    sink.apply(&batch, &[off("t", 0, 5)]).await.unwrap();
    assert_eq!(
        select(&server, q).await,
        strs(&[&["1", "uno", "10"], &["3", "three", "30"]])
    );

    // Collapsing: insert+update+delete of 4 is nothing; delete then
    // re-insert of 3 is the new row; two updates of 1 overlay.
    let batch = [
        ins(&s, &[("id", int(4)), ("a", text("four")), ("b", int(40))]),
        upd(&s, &[("id", int(4)), ("b", int(41))]),
        del(&s, &[("id", int(4))]),
        del(&s, &[("id", int(3))]),
        ins(
            &s,
            &[("id", int(3)), ("a", text("trois")), ("b", Value::Null)],
        ),
        upd(&s, &[("id", int(1)), ("b", int(11))]),
        upd(&s, &[("id", int(1)), ("a", text("eins"))]),
    ];
    let applied = sink.apply(&batch, &[off("t", 0, 12)]).await.unwrap();
    assert_eq!(applied.changes, 7);
    assert_eq!(
        select(&server, q).await,
        strs(&[&["1", "eins", "11"], &["3", "trois", "NULL"]])
    );

    // A truncate empties the table inside the batch transaction; what
    // follows it stays.
    let batch = [
        ins(&s, &[("id", int(5)), ("a", text("five")), ("b", int(50))]),
        change(&s, Op::Truncate, &[]),
        ins(&s, &[("id", int(6)), ("a", text("six")), ("b", int(60))]),
    ];
    sink.apply(&batch, &[off("t", 0, 15)]).await.unwrap();
    assert_eq!(select(&server, q).await, strs(&[&["6", "six", "60"]]));

    // Replaying a batch changes nothing.
    sink.apply(&batch, &[off("t", 0, 15)]).await.unwrap();
    assert_eq!(select(&server, q).await, strs(&[&["6", "six", "60"]]));
}

#[tokio::test]
async fn offsets_are_stored_with_the_batch_and_a_killed_connection_is_transient() {
    let (server, url) = start().await;
    let config = cfg(&url, json!({ "offsets_table": "my_offsets" }));
    let mut sink = MysqlSink::new("follow", &config);
    assert_eq!(sink.open().await.unwrap(), vec![]);
    let s = schema("app", "t", &[("id", "int"), ("a", "text")], &["id"]);
    sink.apply(
        &[ins(&s, &[("id", int(1)), ("a", text("x"))])],
        &[off("log", 0, 1), off("log", 1, 7)],
    )
    .await
    .unwrap();

    // Another sink's offsets live beside ours and do not leak.
    let mut other = MysqlSink::new("other", &config);
    other.open().await.unwrap();
    other.apply(&[], &[off("log", 0, 99)]).await.unwrap();

    let id = sink.connection_id().unwrap();
    let mut admin = server.connect().await.unwrap();
    admin.query_drop(format!("KILL {id}")).await.unwrap();
    admin.disconnect().await.unwrap();

    let batch = [
        ins(&s, &[("id", int(2)), ("a", text("y"))]),
        upd(&s, &[("id", int(1)), ("a", text("changed"))]),
    ];
    let e = sink
        .apply(&batch, &[off("log", 0, 3)])
        .await
        .expect_err("the connection was killed");
    assert!(e.transient, "{e}");
    // Nothing of the failed batch is there.
    assert_eq!(
        select(&server, "SELECT id, a FROM app.t ORDER BY id").await,
        strs(&[&["1", "x"]])
    );
    let mut fresh = MysqlSink::new("follow", &config);
    assert_eq!(
        fresh.open().await.unwrap(),
        vec![off("log", 0, 1), off("log", 1, 7)]
    );

    // The retry reconnects and applies.
    let applied = sink.apply(&batch, &[off("log", 0, 3)]).await.unwrap();
    assert_eq!(applied.changes, 2);
    assert_eq!(
        select(&server, "SELECT id, a FROM app.t ORDER BY id").await,
        strs(&[&["1", "changed"], &["2", "y"]])
    );
    let mut fresh = MysqlSink::new("follow", &config);
    assert_eq!(
        fresh.open().await.unwrap(),
        vec![off("log", 0, 3), off("log", 1, 7)]
    );
    assert_eq!(other.open().await.unwrap(), vec![off("log", 0, 99)]);
}

/// `on_error: stop`: a change the target rejects fails the whole batch
/// with a permanent error; no row and no offset is written.
#[tokio::test]
async fn with_rejects_refused_a_rejected_change_fails_the_batch() {
    let (server, url) = start().await;
    let mut admin = server.connect().await.unwrap();
    admin.query_drop("CREATE DATABASE app").await.unwrap();
    admin
        .query_drop("CREATE TABLE app.st (id BIGINT PRIMARY KEY, a VARCHAR(3))")
        .await
        .unwrap();
    admin.disconnect().await.unwrap();
    let mut sink = MysqlSink::new("stop", &cfg(&url, json!({})));
    sink.allow_rejects(false);
    sink.open().await.unwrap();
    let s = schema("app", "st", &[("id", "int"), ("a", "text")], &["id"]);
    let batch = [
        ins(&s, &[("id", int(1)), ("a", text("ok"))]),
        ins(&s, &[("id", int(2)), ("a", text("toolong"))]),
    ];
    let e = sink.apply(&batch, &[off("t", 0, 2)]).await.unwrap_err();
    assert!(!e.transient, "{e}");
    assert!(
        e.message.contains("1406") && e.message.contains("on_error: stop"),
        "{e}"
    );
    assert!(select(&server, "SELECT id FROM app.st").await.is_empty());
    assert!(
        select(
            &server,
            "SELECT next_offset FROM follower.rowlog_offsets WHERE sink = 'stop'"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_value_the_target_refuses_is_rejected_and_the_rest_commits() {
    let (server, url) = start().await;
    let mut admin = server.connect().await.unwrap();
    admin.query_drop("CREATE DATABASE app").await.unwrap();
    admin
        .query_drop("CREATE TABLE app.t (id BIGINT PRIMARY KEY, a VARCHAR(3), n INT)")
        .await
        .unwrap();
    admin.disconnect().await.unwrap();
    let mut sink = MysqlSink::new("rej", &cfg(&url, json!({})));
    sink.open().await.unwrap();
    let s = schema(
        "app",
        "t",
        &[("id", "int"), ("a", "text"), ("n", "int")],
        &["id"],
    );
    let batch = [
        ins(&s, &[("id", int(1)), ("a", text("abc")), ("n", int(1))]),
        ins(&s, &[("id", int(2)), ("a", text("toolong")), ("n", int(2))]),
        ins(&s, &[("id", int(3)), ("a", text("x")), ("n", int(3))]),
        // Folded into key 2's final action: rejected with it.
        upd(&s, &[("id", int(2)), ("n", int(22))]),
        ins(&s, &[("id", int(4)), ("a", text("y")), ("n", int(1))]),
        // Out of range for INT.
        upd(&s, &[("id", int(4)), ("n", int(1 << 40))]),
        del(&s, &[("id", int(1))]),
        ins(&s, &[("id", int(5)), ("a", text("z")), ("n", Value::Null)]),
    ];
    let mut batch = batch.to_vec();
    // MySQL cannot hold a NaN: rejected before any statement runs.
    let f = schema("app", "f", &[("id", "int"), ("x", "float64")], &["id"]);
    batch.push(ins(&f, &[("id", int(1)), ("x", Value::Float64(f64::NAN))]));
    batch.push(ins(&f, &[("id", int(2)), ("x", Value::Float64(0.5))]));
    let applied = sink.apply(&batch, &[off("t", 0, 10)]).await.unwrap();
    let indices: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
    assert_eq!(indices, vec![1, 3, 4, 5, 8], "{:?}", applied.rejected);
    assert_eq!(applied.changes, batch.len() - 5);
    let r = &applied.rejected[0].reason;
    assert!(
        r.contains("`app`.`t`") && r.contains("id=2") && r.contains("1406"),
        "{r}"
    );
    assert!(
        applied.rejected[3].reason.contains("1264"),
        "{:?}",
        applied.rejected[3]
    );
    assert!(
        applied.rejected[4].reason.contains("NaN"),
        "{:?}",
        applied.rejected[4]
    );
    assert_eq!(
        select(&server, "SELECT id, a, n FROM app.t ORDER BY id").await,
        strs(&[&["3", "x", "3"], &["5", "z", "NULL"]])
    );
    assert_eq!(
        select(&server, "SELECT id, x FROM app.f ORDER BY id").await,
        strs(&[&["2", "0.5"]])
    );
    let mut fresh = MysqlSink::new("rej", &cfg(&url, json!({})));
    assert_eq!(fresh.open().await.unwrap(), vec![off("t", 0, 10)]);
}

#[tokio::test]
async fn secondary_unique_keys_apply_row_by_row_in_log_order() {
    let (server, url) = start().await;
    let mut admin = server.connect().await.unwrap();
    admin.query_drop("CREATE DATABASE app").await.unwrap();
    admin
        .query_drop(
            "CREATE TABLE app.users (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, name TEXT)",
        )
        .await
        .unwrap();
    admin.disconnect().await.unwrap();
    let mut sink = MysqlSink::new("uniq", &cfg(&url, json!({})));
    sink.open().await.unwrap();
    let s = schema(
        "app",
        "users",
        &[("id", "int"), ("email", "text"), ("name", "text")],
        &["id"],
    );
    let email = |e: &str| text(e);
    sink.apply(
        &[ins(
            &s,
            &[("id", int(1)), ("email", email("x")), ("name", text("A"))],
        )],
        &[off("u", 0, 1)],
    )
    .await
    .unwrap();
    // B first appears before A's change, so a collapsed, set-based upsert
    // would write B(email=x) while A still holds x — and ON DUPLICATE KEY
    // UPDATE would overwrite A. In log order every step is legal.
    let batch = [
        ins(
            &s,
            &[("id", int(2)), ("email", email("q")), ("name", text("B"))],
        ),
        upd(&s, &[("id", int(1)), ("email", email("y"))]),
        upd(&s, &[("id", int(2)), ("email", email("x"))]),
    ];
    let q = "SELECT id, email, name FROM app.users ORDER BY id";
    let applied = sink.apply(&batch, &[off("u", 0, 4)]).await.unwrap();
    assert_eq!(applied.rejected, vec![]);
    assert_eq!(
        select(&server, q).await,
        strs(&[&["1", "y", "A"], &["2", "x", "B"]])
    );
    // A replay (after a crash before the worker saw the commit) converges
    // without rejections: the insert of B becomes an update.
    let applied = sink.apply(&batch, &[off("u", 0, 4)]).await.unwrap();
    assert_eq!(applied.rejected, vec![]);
    assert_eq!(
        select(&server, q).await,
        strs(&[&["1", "y", "A"], &["2", "x", "B"]])
    );
    // A diverged follower: C takes an email A holds here → C is rejected,
    // the rest commits.
    let batch = [
        ins(
            &s,
            &[("id", int(3)), ("email", email("y")), ("name", text("C"))],
        ),
        del(&s, &[("id", int(2))]),
    ];
    let applied = sink.apply(&batch, &[off("u", 0, 6)]).await.unwrap();
    assert_eq!(applied.rejected.len(), 1);
    assert_eq!(applied.rejected[0].index, 0);
    assert!(
        applied.rejected[0].reason.contains("1062"),
        "{:?}",
        applied.rejected
    );
    assert_eq!(select(&server, q).await, strs(&[&["1", "y", "A"]]));
}

#[tokio::test]
async fn auto_evolve_table_map_and_configuration_errors() {
    let (server, url) = start().await;
    let v1 = schema("app", "t", &[("id", "int"), ("a", "text")], &["id"]);
    let v2 = schema(
        "app",
        "t",
        &[("id", "int"), ("a", "text"), ("c", "date")],
        &["id"],
    );

    // Without auto_evolve a new source column is a permanent error naming it.
    let mut strict = MysqlSink::new("strict", &cfg(&url, json!({})));
    strict.open().await.unwrap();
    strict
        .apply(
            &[ins(&v1, &[("id", int(1)), ("a", text("x"))])],
            &[off("t", 0, 1)],
        )
        .await
        .unwrap();
    let added = ins(
        &v2,
        &[
            ("id", int(2)),
            ("a", text("y")),
            ("c", Value::Date(Date::new(2020, 1, 2).unwrap())),
        ],
    );
    let e = strict
        .apply(std::slice::from_ref(&added), &[off("t", 0, 2)])
        .await
        .unwrap_err();
    assert!(!e.transient, "{e}");
    assert!(
        e.message.contains("`app`.`t`")
            && e.message.contains("c")
            && e.message.contains("auto_evolve"),
        "{e}"
    );

    // With it the column is added (nullable) and filled.
    let mut evolving = MysqlSink::new("evolving", &cfg(&url, json!({ "auto_evolve": true })));
    evolving.open().await.unwrap();
    evolving
        .apply(std::slice::from_ref(&added), &[off("t", 0, 2)])
        .await
        .unwrap();
    assert_eq!(
        select(&server, "SELECT id, a, c FROM app.t ORDER BY id").await,
        strs(&[&["1", "x", "NULL"], &["2", "y", "2020-01-02"]])
    );
    assert_eq!(
        select(
            &server,
            "SELECT IS_NULLABLE, DATA_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't' AND COLUMN_NAME = 'c'"
        )
        .await,
        strs(&[&["YES", "date"]])
    );

    // table_map sends a table elsewhere.
    let mapped = cfg(&url, json!({ "table_map": { "app.t": "elsewhere.copy" } }));
    let mut sink = MysqlSink::new("mapped", &mapped);
    sink.open().await.unwrap();
    sink.apply(
        &[ins(&v1, &[("id", int(7)), ("a", text("m"))])],
        &[off("t", 0, 1)],
    )
    .await
    .unwrap();
    assert_eq!(
        select(&server, "SELECT id, a FROM elsewhere.copy").await,
        strs(&[&["7", "m"]])
    );

    // Without auto_create a missing table is a permanent error naming it.
    let mut sink = MysqlSink::new("nocreate", &cfg(&url, json!({ "auto_create": false })));
    sink.open().await.unwrap();
    let missing = schema("app", "missing", &[("id", "int")], &["id"]);
    let e = sink
        .apply(&[ins(&missing, &[("id", int(1))])], &[off("t", 0, 1)])
        .await
        .unwrap_err();
    assert!(
        !e.transient && e.message.contains("`app`.`missing`") && e.message.contains("auto_create"),
        "{e}"
    );

    // A URL without a database is refused; a wrong password is permanent.
    let mut sink = MysqlSink::new("nodb", &cfg(&server.url(), json!({})));
    let e = sink.open().await.unwrap_err();
    assert!(!e.transient && e.message.contains("no database"), "{e}");
    let bad = format!(
        "mariadb://nobody:wrong@127.0.0.1:{}/follower",
        server.port()
    );
    let mut sink = MysqlSink::new("denied", &cfg(&bad, json!({})));
    let e = sink.open().await.unwrap_err();
    assert!(!e.transient && e.message.contains("1045"), "{e}");
    assert!(!e.message.contains("wrong"), "the password leaked: {e}");
}

/// Applies, retrying transient errors (a deadlock between two workers).
async fn apply_retrying(
    sink: &mut MysqlSink,
    batch: &[Change],
    offsets: &[LogOffset],
) -> Result<rowlog_sinks::Applied, rowlog_sinks::SinkError> {
    for _ in 0..5 {
        match sink.apply(batch, offsets).await {
            Err(e) if e.transient => continue,
            other => return other,
        }
    }
    sink.apply(batch, offsets).await
}

/// Two workers that both believe they own a partition: the second to
/// commit is fenced, nothing of its batch applied; after a fresh open it
/// goes on from the stored offsets. Two first batches on a fresh partition
/// at once: exactly one applies (gap locks under REPEATABLE READ).
#[tokio::test]
async fn a_second_worker_on_the_same_partitions_is_fenced() {
    let (server, url) = start().await;
    let config = cfg(&url, json!({}));
    let s = schema("app", "f", &[("id", "int"), ("v", "text")], &["id"]);
    let one = |id: i64, v: &str| {
        vec![ins(
            &s,
            &[("id", Value::Int(id)), ("v", Value::Text(v.into()))],
        )]
    };
    let (mut a, mut b) = (
        MysqlSink::new("fence", &config),
        MysqlSink::new("fence", &config),
    );
    assert_eq!(a.open().await.unwrap(), vec![]);
    // The table exists before the race (created by a batch on partition 1).
    a.apply(&one(100, "t"), &[off("rowlog.app.f", 1, 3)])
        .await
        .unwrap();
    assert_eq!(b.open().await.unwrap(), vec![off("rowlog.app.f", 1, 3)]);
    let (ba, bb) = (one(1, "a"), one(1, "b"));
    let first = [off("rowlog.app.f", 0, 5)];
    let (ra, rb) = tokio::join!(
        apply_retrying(&mut a, &ba, &first),
        apply_retrying(&mut b, &bb, &first)
    );
    assert!(
        ra.is_ok() != rb.is_ok(),
        "exactly one applies: {ra:?} {rb:?}"
    );
    let a_ok = ra.is_ok();
    let err = match (ra, rb) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("exactly one applies: {other:?}"),
    };
    assert!(err.fenced && !err.transient, "{err}");
    assert!(err.message.contains("rowlog.app.f/0"), "{err}");
    // The winner's row is the one there.
    assert_eq!(a_won(&server).await, a_ok);
    let (winner, loser) = if a_ok {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    winner
        .apply(&one(2, "w"), &[off("rowlog.app.f", 0, 9)])
        .await
        .unwrap();
    let stale = loser
        .apply(&one(3, "l"), &[off("rowlog.app.f", 0, 12)])
        .await
        .unwrap_err();
    assert!(stale.fenced, "{stale}");
    assert_eq!(
        select(&server, "SELECT id FROM app.f ORDER BY id").await,
        strs(&[&["1"], &["2"], &["100"]])
    );
    loser.open().await.unwrap();
    loser
        .apply(&one(3, "l"), &[off("rowlog.app.f", 0, 12)])
        .await
        .unwrap();
    assert_eq!(
        select(
            &server,
            "SELECT `partition`, next_offset FROM follower.rowlog_offsets WHERE sink = 'fence' ORDER BY 1"
        )
        .await,
        strs(&[&["0", "12"], &["1", "3"]])
    );
    assert_eq!(
        select(&server, "SELECT id FROM app.f ORDER BY id").await,
        strs(&[&["1"], &["2"], &["3"], &["100"]])
    );
}

/// Whether sink `a`'s row 1 ("a") won the race.
async fn a_won(server: &MariaDbServer) -> bool {
    select(server, "SELECT v FROM app.f WHERE id = 1").await == strs(&[&["a"]])
}

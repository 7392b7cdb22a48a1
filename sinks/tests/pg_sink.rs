//! The PostgreSQL follower against a real PostgreSQL (no Kafka): changes are
//! built by hand and applied with `PgSink`, results read back with SQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rowlog_config::SqlSink;
use rowlog_schemas::position::{BinlogPos, Lsn, MysqlPosition, PgPosition};
use rowlog_schemas::value::{Date, DateTime, Interval, Time, TimeTz, Uuid};
use rowlog_schemas::{ChangeEvent, ColumnSchema, Op, Position, Row, TableId, TableSchema, Value};
use rowlog_sinks::postgres::PgSink;
use rowlog_sinks::{Change, LogOffset, Sink};
use rowlog_tests::postgres::PostgresServer;

fn sink_cfg(url: &str, extra: serde_json::Value) -> SqlSink {
    let mut v = serde_json::json!({ "url": url });
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    serde_json::from_value(v).unwrap()
}

fn schema(ns: &str, table: &str, cols: &[(&str, &str)], key: &[&str]) -> Arc<TableSchema> {
    Arc::new(
        TableSchema::new(
            TableId::new(ns, table),
            cols.iter()
                .map(|(n, k)| ColumnSchema {
                    name: (*n).into(),
                    kind: k.parse().unwrap(),
                    source_type: String::new(),
                    nullable: !key.contains(n),
                })
                .collect(),
            key.iter().map(|k| k.to_string()).collect(),
        )
        .unwrap(),
    )
}

fn pg_pos(n: u64) -> Position {
    Position::Postgres(PgPosition::new(Lsn(n), Lsn(n)))
}

fn mysql_pos(n: u64) -> Position {
    Position::Mysql(MysqlPosition {
        epoch: 0,
        binlog: BinlogPos {
            file: "binlog.000001".into(),
            pos: n,
        },
        row: 0,
        gtid: None,
    })
}

fn row(vals: &[(&str, Value)]) -> Row {
    vals.iter()
        .map(|(n, v)| ((*n).to_string(), v.clone()))
        .collect()
}

fn change(s: &Arc<TableSchema>, op: Op, image: Row, position: Position) -> Change {
    let (before, after) = match op {
        Op::Delete => (Some(image), None),
        Op::Truncate => (None, None),
        _ => (None, Some(image)),
    };
    Change {
        event: ChangeEvent {
            source: "app".into(),
            table: s.table.clone(),
            op,
            key_columns: s.key.clone(),
            before,
            after,
            position,
            transaction: None,
            schema_version: s.version(),
            ts_ms: 0,
        },
        schema: s.clone(),
    }
}

fn ins(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Insert, row(vals), pg_pos(1))
}
fn upd(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Update, row(vals), pg_pos(1))
}
fn del(s: &Arc<TableSchema>, vals: &[(&str, Value)]) -> Change {
    change(s, Op::Delete, row(vals), pg_pos(1))
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn offset(next: i64) -> LogOffset {
    LogOffset {
        topic: "rowlog.app".into(),
        partition: 0,
        next,
    }
}

/// A server, a database `app`, and a test session in UTC.
async fn setup() -> (PostgresServer, String, tokio_postgres::Client) {
    let pg = PostgresServer::start().await.unwrap();
    let url = pg.create_database("app").await.unwrap();
    let c = pg.connect("app").await.unwrap();
    c.batch_execute("SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'")
        .await
        .unwrap();
    (pg, url, c)
}

/// `SELECT <expr> FROM <from> ORDER BY 1` as text, NULL as "NULL".
async fn rows(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[tokio::test]
async fn every_kind_round_trips_into_an_auto_created_table() {
    let (_pg, url, c) = setup().await;
    let kinds = [
        ("id", "int"),
        ("b", "bool"),
        ("i", "int"),
        ("u", "uint"),
        ("f4", "float32"),
        ("f8", "float64"),
        ("f8b", "float64"),
        ("d", "decimal"),
        ("dn", "decimal"),
        ("t", "text"),
        ("by", "bytes"),
        ("dt", "date"),
        ("tm", "time"),
        ("tz", "timetz"),
        ("ts", "timestamp"),
        ("tstz", "timestamptz"),
        ("iv", "interval"),
        ("uu", "uuid"),
        ("j", "json"),
        ("en", "enum"),
        ("st", "set"),
        ("bi", "bits"),
        ("ia", "int[]"),
        ("ta", "text[]"),
    ];
    let s = schema("public", "kinds", &kinds, &["id"]);
    let day = Date::new(2024, 2, 29).unwrap();
    let values = [
        ("id", Value::Int(1)),
        ("b", Value::Bool(true)),
        ("i", Value::Int(i64::MIN)),
        ("u", Value::UInt(u64::MAX)),
        ("f4", Value::Float32(f32::NAN)),
        ("f8", Value::Float64(f64::NEG_INFINITY)),
        ("f8b", Value::Float64(0.1)),
        (
            "d",
            Value::Decimal("-123456789012345678901234567890.000000001".parse().unwrap()),
        ),
        ("dn", Value::Decimal("NaN".parse().unwrap())),
        ("t", text("é\"'\\{},")),
        ("by", Value::Bytes(vec![0, 255, 92])),
        ("dt", Value::Date(Date::new(-44, 3, 15).unwrap())),
        (
            "tm",
            Value::Time(Time::from_micros(86_399_999_999).unwrap()),
        ),
        (
            "tz",
            Value::TimeTz(TimeTz::new(86_400_000_000, 5 * 3600 + 1800).unwrap()),
        ),
        ("ts", Value::Timestamp(DateTime::INFINITY)),
        (
            "tstz",
            Value::TimestampTz(DateTime::new(day, 3_723_000_001).unwrap()),
        ),
        (
            "iv",
            Value::Interval(Interval {
                months: 14,
                days: -3,
                micros: -1,
            }),
        ),
        (
            "uu",
            Value::Uuid(Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap()),
        ),
        ("j", Value::Json(r#"{"a": [1, 2]}"#.into())),
        ("en", Value::Enum("happy".into())),
        ("st", Value::Set(vec!["a".into(), "b,c".into()])),
        ("bi", Value::Bits("10101".parse().unwrap())),
        (
            "ia",
            Value::Array(vec![
                Value::Array(vec![Value::Int(1), Value::Null]),
                Value::Array(vec![Value::Int(3), Value::Int(4)]),
            ]),
        ),
        (
            "ta",
            Value::Array(vec![text("a\"b"), Value::Null, text("c\\d"), text("NULL")]),
        ),
    ];
    let nulls: Vec<(&str, Value)> = kinds
        .iter()
        .map(|(n, _)| {
            (
                *n,
                if *n == "id" {
                    Value::Int(2)
                } else {
                    Value::Null
                },
            )
        })
        .collect();
    let mut sink = PgSink::new("kinds", &sink_cfg(&url, serde_json::json!({})));
    assert!(sink.open().await.unwrap().is_empty());
    let applied = sink
        .apply(&[ins(&s, &values), ins(&s, &nulls)], &[offset(2)])
        .await
        .unwrap();
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    assert_eq!(applied.changes, 2);

    let types = rows(
        &c,
        "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute \
         WHERE attrelid = 'public.kinds'::regclass AND attnum > 0",
    )
    .await;
    assert_eq!(
        types[0],
        "bigint,boolean,bigint,numeric(20,0),real,double precision,double precision,numeric,numeric,\
         text,bytea,date,time without time zone,time with time zone,timestamp without time zone,\
         timestamp with time zone,interval,uuid,jsonb,text,text[],bit varying,bigint[],text[]"
    );
    let expected = [
        ("b", "true"),
        ("i", "-9223372036854775808"),
        ("u", "18446744073709551615"),
        ("f4", "NaN"),
        ("f8", "-Infinity"),
        ("f8b", "0.1"),
        ("d", "-123456789012345678901234567890.000000001"),
        ("dn", "NaN"),
        ("t", "é\"'\\{},"),
        ("by", "\\x00ff5c"),
        ("dt", "0045-03-15 BC"),
        ("tm", "23:59:59.999999"),
        ("tz", "24:00:00+05:30"),
        ("ts", "infinity"),
        ("tstz", "2024-02-29 01:02:03.000001+00"),
        ("iv", "1 year 2 mons -3 days -00:00:00.000001"),
        ("uu", "67e55044-10b1-426f-9247-bb680e5fe0c8"),
        ("j", r#"{"a": [1, 2]}"#),
        ("en", "happy"),
        ("st", r#"{a,"b,c"}"#),
        ("bi", "10101"),
        ("ia", "{{1,NULL},{3,4}}"),
        ("ta", r#"{"a\"b",NULL,"c\\d","NULL"}"#),
    ];
    for (col, want) in expected {
        let got = rows(
            &c,
            &format!("SELECT \"{col}\"::text FROM public.kinds ORDER BY id"),
        )
        .await;
        assert_eq!(
            got,
            vec![want.to_string(), "NULL".to_string()],
            "column {col}"
        );
    }
}

#[tokio::test]
async fn mysql_values_map_and_unholdable_values_are_rejected_per_row() {
    let (_pg, url, c) = setup().await;
    let s = schema(
        "shop",
        "m",
        &[("id", "uint"), ("tm", "time"), ("d", "date"), ("t", "text")],
        &["id"],
    );
    let my = |vals: &[(&str, Value)], n| change(&s, Op::Insert, row(vals), mysql_pos(n));
    let neg = Time::from_micros(-((838 * 3600 + 59 * 60 + 59) * 1_000_000)).unwrap();
    let batch = [
        my(
            &[
                ("id", Value::UInt(u64::MAX)),
                ("tm", Value::Time(neg)),
                ("d", Value::Date(Date::new(2020, 1, 31).unwrap())),
                ("t", text("ok")),
            ],
            10,
        ),
        my(
            &[
                ("id", Value::UInt(2)),
                ("tm", Value::Null),
                ("d", Value::Date(Date::ZERO)),
                ("t", text("zero date")),
            ],
            20,
        ),
        my(
            &[
                ("id", Value::UInt(3)),
                ("tm", Value::Null),
                ("d", Value::Null),
                ("t", text("nul\0byte")),
            ],
            30,
        ),
    ];
    let mut sink = PgSink::new("my", &sink_cfg(&url, serde_json::json!({})));
    sink.open().await.unwrap();
    let applied = sink.apply(&batch, &[offset(3)]).await.unwrap();
    let idx: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
    assert_eq!(idx, vec![1, 2], "{:?}", applied.rejected);
    assert!(
        applied.rejected[0].reason.contains("column `d`")
            && applied.rejected[0].reason.contains("shop.m"),
        "{}",
        applied.rejected[0].reason
    );
    assert!(
        applied.rejected[1].reason.contains("NUL"),
        "{}",
        applied.rejected[1].reason
    );
    assert_eq!(applied.changes, 1);
    assert_eq!(
        rows(
            &c,
            "SELECT id::text, tm::text, pg_typeof(tm)::text, pg_typeof(id)::text FROM shop.m"
        )
        .await,
        vec!["18446744073709551615|-838:59:59|interval|numeric"]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT next_offset::text FROM rowlog_offsets WHERE sink = 'my'"
        )
        .await,
        vec!["3"]
    );
}

#[tokio::test]
async fn inserts_updates_deletes_truncates_and_collapsing() {
    let (_pg, url, c) = setup().await;
    let s = schema(
        "public",
        "t",
        &[("id", "int"), ("a", "int"), ("b", "text")],
        &["id"],
    );
    let r = |id, a, b: &str| [("id", Value::Int(id)), ("a", Value::Int(a)), ("b", text(b))];
    let mut sink = PgSink::new("crud", &sink_cfg(&url, serde_json::json!({})));
    sink.open().await.unwrap();
    sink.apply(
        &[
            ins(&s, &r(1, 1, "x")),
            ins(&s, &r(2, 2, "y")),
            ins(&s, &r(3, 3, "z")),
        ],
        &[offset(3)],
    )
    .await
    .unwrap();
    let all = "SELECT id::text, a::text, b FROM public.t ORDER BY id";
    assert_eq!(rows(&c, all).await, vec!["1|1|x", "2|2|y", "3|3|z"]);

    let applied = sink
        .apply(
            &[
                // b absent: stays "x".
                upd(
                    &s,
                    &[
                        ("id", Value::Int(1)),
                        ("a", Value::Int(10)),
                        ("b", Value::Absent),
                    ],
                ),
                del(&s, &[("id", Value::Int(2))]),
                // Insert, update, delete of one key: nothing.
                ins(&s, &r(4, 4, "w")),
                upd(&s, &r(4, 40, "ww")),
                del(&s, &[("id", Value::Int(4))]),
                // Delete then re-insert: the new row.
                del(&s, &[("id", Value::Int(3))]),
                ins(&s, &r(3, 33, "zz")),
                // Update then a partial update of a new key.
                ins(&s, &r(5, 5, "v")),
                upd(&s, &[("id", Value::Int(5)), ("b", text("vv"))]),
            ],
            &[offset(12)],
        )
        .await
        .unwrap();
    assert!(applied.rejected.is_empty());
    assert_eq!(applied.changes, 9);
    assert_eq!(rows(&c, all).await, vec!["1|10|x", "3|33|zz", "5|5|vv"]);

    sink.apply(
        &[
            ins(&s, &r(6, 6, "gone")),
            change(&s, Op::Truncate, Row::new(), pg_pos(2)),
            ins(&s, &r(7, 7, "after")),
        ],
        &[offset(15)],
    )
    .await
    .unwrap();
    assert_eq!(rows(&c, all).await, vec!["7|7|after"]);
}

#[tokio::test]
async fn offsets_commit_with_rows_and_a_transient_failure_leaves_nothing() {
    let (_pg, url, c) = setup().await;
    let s = schema("public", "o", &[("id", "int"), ("v", "text")], &["id"]);
    let cfg = sink_cfg(&url, serde_json::json!({}));
    let mut sink = PgSink::new("offs", &cfg);
    assert!(sink.open().await.unwrap().is_empty());
    let two = [
        offset(10),
        LogOffset {
            topic: "rowlog.app".into(),
            partition: 1,
            next: 7,
        },
    ];
    sink.apply(&[ins(&s, &[("id", Value::Int(1)), ("v", text("a"))])], &two)
        .await
        .unwrap();
    let mut again = PgSink::new("offs", &cfg);
    assert_eq!(again.open().await.unwrap(), two.to_vec());
    // Another sink's offsets are its own.
    assert!(PgSink::new("other", &cfg).open().await.unwrap().is_empty());

    // Kill the sink's connection, then apply: transient, nothing written.
    let killed = rows(
        &c,
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE application_name = 'rowlog-sink-offs'",
    )
    .await;
    assert!(!killed.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let batch = [ins(&s, &[("id", Value::Int(2)), ("v", text("b"))])];
    let err = sink.apply(&batch, &[offset(20)]).await.unwrap_err();
    assert!(err.transient, "{err}");
    assert_eq!(
        rows(&c, "SELECT id::text FROM public.o ORDER BY id").await,
        vec!["1"]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT next_offset::text FROM rowlog_offsets WHERE sink = 'offs' AND \"partition\" = 0"
        )
        .await,
        vec!["10"]
    );
    // The retry connects afresh and applies.
    sink.apply(&batch, &[offset(20)]).await.unwrap();
    assert_eq!(
        rows(&c, "SELECT id::text FROM public.o ORDER BY id").await,
        vec!["1", "2"]
    );
    // `again` shared the sink's name, so its session was terminated too.
    assert_eq!(PgSink::new("offs", &cfg).open().await.unwrap()[0].next, 20);
}

/// `on_error: stop`: a change the target rejects fails the whole batch
/// with a permanent error naming it; no row and no offset is written.
#[tokio::test]
async fn with_rejects_refused_a_rejected_change_fails_the_batch() {
    let (_pg, url, c) = setup().await;
    c.batch_execute("CREATE TABLE public.st (id bigint PRIMARY KEY, name varchar(3))")
        .await
        .unwrap();
    let s = schema("public", "st", &[("id", "int"), ("name", "text")], &["id"]);
    let r = |id, name: &str| [("id", Value::Int(id)), ("name", text(name))];
    let mut sink = PgSink::new(
        "stop",
        &sink_cfg(&url, serde_json::json!({"auto_create": false})),
    );
    sink.allow_rejects(false);
    sink.open().await.unwrap();
    let e = sink
        .apply(
            &[ins(&s, &r(1, "ok")), ins(&s, &r(2, "too long"))],
            &[offset(2)],
        )
        .await
        .unwrap_err();
    assert!(!e.transient, "{e}");
    assert!(
        e.message.contains("column `name`") && e.message.contains("on_error: stop"),
        "{e}"
    );
    assert!(rows(&c, "SELECT id::text FROM public.st").await.is_empty());
    assert!(
        rows(
            &c,
            "SELECT next_offset::text FROM rowlog_offsets WHERE sink = 'stop'"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn rejected_rows_leave_the_rest_of_the_batch_and_the_offsets() {
    let (_pg, url, c) = setup().await;
    c.batch_execute(
        "CREATE TABLE public.r (id bigint PRIMARY KEY, name varchar(3), qty bigint CHECK (qty >= 0))",
    )
    .await
    .unwrap();
    let s = schema(
        "public",
        "r",
        &[("id", "int"), ("name", "text"), ("qty", "int")],
        &["id"],
    );
    let r = |id, name: &str, qty| {
        [
            ("id", Value::Int(id)),
            ("name", text(name)),
            ("qty", Value::Int(qty)),
        ]
    };
    let mut sink = PgSink::new(
        "rej",
        &sink_cfg(&url, serde_json::json!({"auto_create": false})),
    );
    sink.open().await.unwrap();
    let applied = sink
        .apply(
            &[
                ins(&s, &r(1, "abc", 1)),
                ins(&s, &r(2, "abcdef", 1)),
                ins(&s, &r(3, "ok", -1)),
                ins(&s, &r(4, "d", 4)),
                upd(&s, &r(3, "ok", -2)),
            ],
            &[offset(5)],
        )
        .await
        .unwrap();
    let idx: Vec<usize> = applied.rejected.iter().map(|r| r.index).collect();
    assert_eq!(idx, vec![1, 2, 4], "{:?}", applied.rejected);
    let too_long = &applied.rejected[0].reason;
    assert!(
        too_long.contains("column `name`") && too_long.contains("character varying(3)"),
        "{too_long}"
    );
    let check = &applied.rejected[1].reason;
    assert!(
        check.contains("r_qty_check") && check.contains("id=3"),
        "{check}"
    );
    assert_eq!(applied.changes, 2);
    assert_eq!(
        rows(&c, "SELECT id::text, name FROM public.r ORDER BY id").await,
        vec!["1|abc", "4|d"]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT next_offset::text FROM rowlog_offsets WHERE sink = 'rej'"
        )
        .await,
        vec!["5"]
    );
}

#[tokio::test]
async fn secondary_unique_keys_apply_in_log_order() {
    let (_pg, url, c) = setup().await;
    c.batch_execute("CREATE TABLE public.u (id bigint PRIMARY KEY, email text UNIQUE)")
        .await
        .unwrap();
    let s = schema("public", "u", &[("id", "int"), ("email", "text")], &["id"]);
    let r = |id, e: &str| [("id", Value::Int(id)), ("email", text(e))];
    let mut sink = PgSink::new("uniq", &sink_cfg(&url, serde_json::json!({})));
    sink.open().await.unwrap();
    sink.apply(&[ins(&s, &r(1, "x"))], &[offset(1)])
        .await
        .unwrap();
    // A's email moves to the new row B.
    let applied = sink
        .apply(&[upd(&s, &r(1, "y")), ins(&s, &r(2, "x"))], &[offset(3)])
        .await
        .unwrap();
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    let all = "SELECT id::text, email FROM public.u ORDER BY id";
    assert_eq!(rows(&c, all).await, vec!["1|y", "2|x"]);
    // Collapsed per key, B's final row (x) would come before A's (z) and
    // collide with A's old x; in log order every step is a state the source had.
    let applied = sink
        .apply(
            &[
                ins(&s, &r(3, "w")),
                upd(&s, &r(2, "z")),
                upd(&s, &r(3, "x")),
                del(&s, &[("id", Value::Int(1))]),
                ins(&s, &r(4, "y")),
            ],
            &[offset(8)],
        )
        .await
        .unwrap();
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    assert_eq!(rows(&c, all).await, vec!["2|z", "3|x", "4|y"]);
}

#[tokio::test]
async fn auto_evolve_adds_columns_or_names_the_missing_one() {
    let (_pg, url, c) = setup().await;
    let v1 = schema("public", "e", &[("id", "int"), ("a", "text")], &["id"]);
    let v2 = schema(
        "public",
        "e",
        &[("id", "int"), ("a", "text"), ("n", "decimal")],
        &["id"],
    );
    let mut on = PgSink::new(
        "evo",
        &sink_cfg(&url, serde_json::json!({"auto_evolve": true})),
    );
    on.open().await.unwrap();
    on.apply(
        &[
            ins(&v1, &[("id", Value::Int(1)), ("a", text("x"))]),
            ins(
                &v2,
                &[
                    ("id", Value::Int(2)),
                    ("a", text("y")),
                    ("n", Value::Decimal("1.50".parse().unwrap())),
                ],
            ),
        ],
        &[offset(2)],
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT id::text, a, n::text FROM public.e ORDER BY id").await,
        vec!["1|x|NULL", "2|y|1.50"]
    );

    let v3 = schema(
        "public",
        "e",
        &[
            ("id", "int"),
            ("a", "text"),
            ("n", "decimal"),
            ("z", "bool"),
        ],
        &["id"],
    );
    let mut off = PgSink::new("noevo", &sink_cfg(&url, serde_json::json!({})));
    off.open().await.unwrap();
    let err = off
        .apply(
            &[ins(
                &v3,
                &[
                    ("id", Value::Int(3)),
                    ("a", text("z")),
                    ("n", Value::Null),
                    ("z", Value::Bool(true)),
                ],
            )],
            &[offset(3)],
        )
        .await
        .unwrap_err();
    assert!(!err.transient);
    assert!(
        err.message.contains("public.e")
            && err.message.contains("`z`")
            && err.message.contains("auto_evolve: true")
            && err.message.contains("ADD COLUMN"),
        "{err}"
    );
    assert_eq!(
        rows(&c, "SELECT count(*)::text FROM public.e").await,
        vec!["2"]
    );
}

#[tokio::test]
async fn table_map_and_missing_tables_without_auto_create() {
    let (_pg, url, c) = setup().await;
    let s = schema("app", "src", &[("id", "int"), ("v", "text")], &["id"]);
    let cfg = sink_cfg(
        &url,
        serde_json::json!({"table_map": {"app.src": "other.dst"}}),
    );
    let mut sink = PgSink::new("mapped", &cfg);
    sink.open().await.unwrap();
    sink.apply(
        &[ins(&s, &[("id", Value::Int(1)), ("v", text("a"))])],
        &[offset(1)],
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT id::text, v FROM other.dst").await,
        vec!["1|a"]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'app'"
        )
        .await,
        vec!["0"]
    );

    let mut strict = PgSink::new(
        "strict",
        &sink_cfg(&url, serde_json::json!({"auto_create": false})),
    );
    strict.open().await.unwrap();
    let err = strict
        .apply(
            &[ins(&s, &[("id", Value::Int(1)), ("v", text("a"))])],
            &[offset(1)],
        )
        .await
        .unwrap_err();
    assert!(!err.transient);
    assert!(
        err.message.contains("app.src") && err.message.contains("auto_create: true"),
        "{err}"
    );
}

/// Two workers that both believe they own a partition (a member stalled
/// past its session timeout): the second to commit is fenced, nothing of its
/// batch applied; after a fresh open it goes on from the stored offsets. Two
/// first batches on a fresh partition, at once: exactly one applies.
#[tokio::test]
async fn a_second_worker_on_the_same_partitions_is_fenced() {
    let (_pg, url, c) = setup().await;
    let s = schema("public", "f", &[("id", "int"), ("v", "text")], &["id"]);
    let cfg = sink_cfg(&url, serde_json::json!({}));
    let (mut a, mut b) = (PgSink::new("fence", &cfg), PgSink::new("fence", &cfg));
    assert!(a.open().await.unwrap().is_empty());
    assert!(b.open().await.unwrap().is_empty());
    // The table exists before the race: two sinks creating it at once is a
    // transient error of its own (retried), not what this test is about.
    c.batch_execute("CREATE TABLE public.f (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    let one = |id: i64, v: &str| [ins(&s, &[("id", Value::Int(id)), ("v", text(v))])];
    // Both start at once on a fresh partition: one wins, one is fenced.
    let (ba, bb, first) = (one(1, "a"), one(1, "b"), [offset(5)]);
    let (ra, rb) = tokio::join!(a.apply(&ba, &first), b.apply(&bb, &first));
    assert!(
        ra.is_ok() != rb.is_ok(),
        "exactly one applies: {ra:?} {rb:?}"
    );
    let (winner, loser) = if ra.is_ok() {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let err = match (ra, rb) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("exactly one applies: {other:?}"),
    };
    assert!(err.fenced && !err.transient, "{err}");
    assert!(err.message.contains("rowlog.app/0"), "{err}");
    // The winner goes on; the loser's next batch (from its stale view) is
    // fenced again and leaves nothing.
    winner.apply(&one(2, "w"), &[offset(9)]).await.unwrap();
    let err = loser.apply(&one(3, "l"), &[offset(12)]).await.unwrap_err();
    assert!(err.fenced, "{err}");
    assert_eq!(
        rows(&c, "SELECT id::text FROM public.f ORDER BY id").await,
        vec!["1", "2"]
    );
    // Re-opened, it reads the stored offsets and applies from there.
    assert_eq!(loser.open().await.unwrap(), vec![offset(9)]);
    loser.apply(&one(3, "l"), &[offset(12)]).await.unwrap();
    assert_eq!(
        rows(
            &c,
            "SELECT next_offset::text FROM rowlog_offsets WHERE sink = 'fence'"
        )
        .await,
        vec!["12"]
    );
    assert_eq!(
        rows(&c, "SELECT id::text FROM public.f ORDER BY id").await,
        vec!["1", "2", "3"]
    );
}

/// A wrong password is a permanent error that says what to check, and the
/// password never appears in it.
#[tokio::test]
async fn a_wrong_password_is_a_clear_permanent_error() {
    let (_pg, url, c) = setup().await;
    c.batch_execute(
        "SET password_encryption = 'scram-sha-256'; CREATE ROLE alice LOGIN PASSWORD 'right-one';",
    )
    .await
    .unwrap();
    let hba: String = c.query_one("SHOW hba_file", &[]).await.unwrap().get(0);
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host all alice 127.0.0.1/32 scram-sha-256\n{old}"),
    )
    .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    assert!(url.contains("://postgres@"), "{url}");
    let as_alice =
        |password: &str| url.replacen("://postgres@", &format!("://alice:{password}@"), 1);
    let mut sink = PgSink::new(
        "auth",
        &sink_cfg(&as_alice("not-it"), serde_json::json!({})),
    );
    let e = sink.open().await.unwrap_err();
    assert!(!e.transient && !e.fenced, "{e}");
    assert!(e.message.contains("authentication failed"), "{e}");
    assert!(e.message.contains("password"), "says what to check: {e}");
    assert!(!e.message.contains("not-it"), "the password leaked: {e}");
    // The right one works (the rule above is what refused the wrong one).
    let mut sink = PgSink::new(
        "auth",
        &sink_cfg(&as_alice("right-one"), serde_json::json!({})),
    );
    c.batch_execute("GRANT CREATE ON SCHEMA public TO alice")
        .await
        .unwrap();
    sink.open().await.unwrap();
}

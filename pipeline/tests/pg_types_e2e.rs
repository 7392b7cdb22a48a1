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
use rowlog_schemas::{ChangeEvent, Op, Position, Row, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::pg_types::*;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(90);
const QUIET: Duration = Duration::from_secs(2);

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

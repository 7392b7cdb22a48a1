//! What the PostgreSQL source promises beyond single values, end to end
//! through the real binary, a real PostgreSQL 15 and a real broker (tansu):
//! order per key, truncate, schema changes, REPLICA IDENTITY FULL and
//! tables without a primary key, a snapshot taken while the table is
//! written, a server restart, a server that is not up yet, and a table
//! dropped while streaming. Records are decoded with the row-log JSON
//! decoder and compared as typed `Value`s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{LogOnPanic, Record, Rowlog, alive, event, pg_config, read_exact, read_until};
use rowlog_schemas::encode::json;
use rowlog_schemas::position::PgPosition;
use rowlog_schemas::{ChangeEvent, Op, Position, Row, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::{PostgresServer, Shutdown};

const WAIT: Duration = Duration::from_secs(120);
const QUIET: Duration = Duration::from_secs(2);

/// splitmix64: a small deterministic generator (fixed seeds, same run
/// every time).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

fn int(row: &Row, col: &str) -> i64 {
    match row.get(col) {
        Some(Value::Int(i)) => *i,
        other => panic!("column {col}: expected an int, got {other:?}"),
    }
}

fn pos(e: &ChangeEvent) -> PgPosition {
    match e.position {
        Position::Postgres(p) => p,
        Position::Mysql(_) => panic!("not a PostgreSQL position"),
    }
}

fn row(cols: &[(&str, Value)]) -> Row {
    cols.iter()
        .map(|(n, v)| ((*n).to_string(), v.clone()))
        .collect()
}

fn i(v: i64) -> Value {
    Value::Int(v)
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The decoded events of `records` (tombstones left out).
fn events(records: &[Record]) -> Vec<ChangeEvent> {
    records.iter().filter_map(event).collect()
}

/// The table as the topic tells it: r/c/u set the row (an update that
/// moved the key removes the old one), d removes it, t empties the table.
fn rebuild(records: &[Record], key: &str) -> BTreeMap<i64, Row> {
    let mut state = BTreeMap::new();
    for e in events(records) {
        match e.op {
            Op::Read | Op::Insert | Op::Update => {
                let after = e.after.unwrap();
                if let Some(before) = &e.before {
                    state.remove(&int(before, key));
                }
                state.insert(int(&after, key), after);
            }
            Op::Delete => {
                state.remove(&int(e.before.as_ref().unwrap(), key));
            }
            Op::Truncate => state.clear(),
        }
    }
    state
}

struct Env {
    pg: PostgresServer,
    kafka: KafkaServer,
    c: tokio_postgres::Client,
    dir: tempfile::TempDir,
}

async fn env(setup: &str) -> anyhow::Result<Env> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    if !setup.is_empty() {
        c.batch_execute(setup).await?;
    }
    Ok(Env {
        pg,
        kafka,
        c,
        dir: tempfile::tempdir()?,
    })
}

impl Env {
    fn config(&self, extra_source: &str, extra_log: &str) -> std::path::PathBuf {
        pg_config(
            self.dir.path(),
            &self.pg,
            "app",
            &self.kafka,
            extra_source,
            extra_log,
        )
    }
}

/// 10,000 random updates of 100 keys in transactions of 1-60 statements
/// (some rolled back), on a 3-partition topic: per key, the values in the
/// log are exactly the committed ones in commit order, positions increase,
/// and the table rebuilt from the topic is the table.
#[tokio::test]
async fn order_per_key_across_10k_random_updates() -> anyhow::Result<()> {
    let started = Instant::now();
    let e = env(
        "CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL, note text);
         INSERT INTO kv SELECT k, 0, 'start' FROM generate_series(1, 100) k;",
    )
    .await?;
    let config = e.config("", "  partitions: 3\n");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let topic = "rowlog.app.public.kv";
    alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 3, 100, WAIT, Duration::ZERO),
    )
    .await;

    let mut rng = Rng(0x5eed_0001);
    let mut committed: HashMap<i64, Vec<i64>> = (1..=100).map(|k| (k, vec![0])).collect();
    let mut v: i64 = 0;
    let mut txns = 0;
    let mut rolled_back = 0;
    while v < 10_000 {
        txns += 1;
        let size = rng.range(1, 60).min(10_000 - v);
        let rollback = txns % 17 == 0;
        let mut sql = String::from("BEGIN;");
        let mut staged = Vec::new();
        for _ in 0..size {
            let k = rng.range(1, 100);
            // Rolled-back values are negative: none may reach the log.
            let value = if rollback {
                -(v + 1 + staged.len() as i64)
            } else {
                v + 1 + staged.len() as i64
            };
            sql.push_str(&format!(
                "UPDATE kv SET v = {value}, note = 'n{value}' WHERE k = {k};"
            ));
            staged.push((k, value));
        }
        if rollback {
            sql.push_str("ROLLBACK;");
            rolled_back += 1;
        } else {
            sql.push_str("COMMIT;");
            v += size;
            for (k, value) in staged {
                committed.get_mut(&k).unwrap().push(value);
            }
        }
        e.c.batch_execute(&sql).await?;
    }
    assert!(rolled_back > 0);

    let records = alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 3, 100 + 10_000, WAIT, QUIET),
    )
    .await;
    let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut last_pos: HashMap<i64, PgPosition> = HashMap::new();
    let mut partition_of: HashMap<i64, i32> = HashMap::new();
    for r in &records {
        let ev = event(r).expect("no deletes, so no tombstones");
        let after = ev.after.as_ref().unwrap();
        let k = int(after, "k");
        assert_eq!(
            r.key.as_deref(),
            Some(json::encode_key(&row(&[("k", i(k))])).unwrap().as_slice())
        );
        assert_eq!(
            *partition_of.entry(k).or_insert(r.partition),
            r.partition,
            "key {k} on two partitions"
        );
        let value = int(after, "v");
        assert_eq!(
            after.get("note"),
            Some(&t(&if value == 0 {
                "start".to_string()
            } else {
                format!("n{value}")
            }))
        );
        seen.entry(k).or_default().push(value);
        let p = pos(&ev);
        if let Some(prev) = last_pos.insert(k, p) {
            assert!(p > prev, "key {k}: position {p} after {prev}");
        }
        let expected_op = if value == 0 { Op::Read } else { Op::Update };
        assert_eq!(ev.op, expected_op, "key {k} value {value}");
    }
    for k in 1..=100 {
        assert_eq!(
            seen.get(&k),
            committed.get(&k),
            "key {k}: values in the log vs committed, in order"
        );
    }
    let used: std::collections::HashSet<i32> = partition_of.values().copied().collect();
    assert_eq!(used.len(), 3, "100 keys spread over 3 partitions");

    let rebuilt = rebuild(&records, "k");
    let table: BTreeMap<i64, Row> =
        e.c.query("SELECT k::int8, v, note FROM kv", &[])
            .await?
            .iter()
            .map(|r| {
                let k: i64 = r.get(0);
                (
                    k,
                    row(&[("k", i(k)), ("v", i(r.get(1))), ("note", t(r.get(2)))]),
                )
            })
            .collect();
    assert!(
        rebuilt == table,
        "the table rebuilt from the topic differs from the table"
    );
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    eprintln!(
        "order_per_key: {txns} transactions ({rolled_back} rolled back), {:?}",
        started.elapsed()
    );
    Ok(())
}

/// TRUNCATE arrives as op `t` (no key, no images) on each truncated
/// table's topic, in order with the rows around it.
#[tokio::test]
async fn truncate_arrives_as_op_t_on_the_table_topic() -> anyhow::Result<()> {
    let e = env("CREATE TABLE t1 (id int PRIMARY KEY, s text);
         CREATE TABLE t2 (id int PRIMARY KEY);
         INSERT INTO t1 VALUES (1, 'a'); INSERT INTO t2 VALUES (1);")
    .await?;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let _dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.t1", 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.t2", 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    for sql in [
        "INSERT INTO t1 VALUES (2, 'b')",
        "TRUNCATE t1",
        "INSERT INTO t1 VALUES (3, 'c')",
        "TRUNCATE t1, t2",
    ] {
        e.c.batch_execute(sql).await?;
    }
    let r1 = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.t1", 1, 5, WAIT, QUIET),
    )
    .await;
    let r2 = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.t2", 1, 2, WAIT, QUIET),
    )
    .await;
    let ops: Vec<Op> = events(&r1).iter().map(|e| e.op).collect();
    assert_eq!(
        ops,
        [Op::Read, Op::Insert, Op::Truncate, Op::Insert, Op::Truncate]
    );
    let ops: Vec<Op> = events(&r2).iter().map(|e| e.op).collect();
    assert_eq!(ops, [Op::Read, Op::Truncate]);
    for r in [&r1[2], &r1[4], &r2[1]] {
        assert_eq!(r.key, None, "a truncate has no key");
        let ev = event(r).unwrap();
        assert!(ev.before.is_none() && ev.after.is_none());
        assert!(ev.transaction.is_some());
    }
    assert_eq!(
        event(&r1[3]).unwrap().after,
        Some(row(&[("id", i(3)), ("s", t("c"))]))
    );
    // One TRUNCATE of two tables: one transaction, an event on each topic.
    let a = event(&r1[4]).unwrap();
    let b = event(&r2[1]).unwrap();
    assert_eq!(
        a.transaction.as_ref().unwrap().id,
        b.transaction.as_ref().unwrap().id
    );
    assert!(pos(&event(&r1[2]).unwrap()) < pos(&a));
    assert!(rebuild(&r1, "id").is_empty() && rebuild(&r2, "id").is_empty());
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// The `rowlog.types` of a record: column → kind, in the message.
fn types_of(r: &Record) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_slice(r.value.as_ref().unwrap()).unwrap();
    let mut v: Vec<(String, String)> = doc["rowlog"]["types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    v.sort();
    v
}

fn tys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

/// ADD/DROP COLUMN and a type change mid-stream: rows after a change carry
/// the new columns and a new schema version, rows before keep the old ones —
/// also when rowlog reads the changes later, after the catalog moved on.
#[tokio::test]
async fn schema_changes_mid_stream_bump_the_version_and_keep_old_rows_old() -> anyhow::Result<()> {
    let e = env("CREATE TABLE evolve (id int PRIMARY KEY, a text);
         INSERT INTO evolve VALUES (1, 'one');")
    .await?;
    let topic = "rowlog.app.public.evolve";
    let config = e.config("", "");
    let mut rowlog = Rowlog::start(&config);
    let dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    // While rowlog streams.
    for sql in [
        "INSERT INTO evolve VALUES (2, 'two')",
        "ALTER TABLE evolve ADD COLUMN b int",
        "INSERT INTO evolve VALUES (3, 'three', 3)",
        "UPDATE evolve SET b = 1 WHERE id = 1",
        "ALTER TABLE evolve DROP COLUMN a",
        "INSERT INTO evolve VALUES (4, 4)",
        "UPDATE evolve SET b = 2 WHERE id = 2",
    ] {
        e.c.batch_execute(sql).await?;
    }
    let recs = alive(&mut rowlog, read_exact(&e.kafka, topic, 1, 6, WAIT, QUIET)).await;
    let ev = events(&recs);
    let want = [
        (Op::Read, row(&[("id", i(1)), ("a", t("one"))])),
        (Op::Insert, row(&[("id", i(2)), ("a", t("two"))])),
        (
            Op::Insert,
            row(&[("id", i(3)), ("a", t("three")), ("b", i(3))]),
        ),
        (
            Op::Update,
            row(&[("id", i(1)), ("a", t("one")), ("b", i(1))]),
        ),
        (Op::Insert, row(&[("id", i(4)), ("b", i(4))])),
        (Op::Update, row(&[("id", i(2)), ("b", i(2))])),
    ];
    assert_eq!(ev.len(), want.len());
    for (n, (e, (op, after))) in ev.iter().zip(&want).enumerate() {
        assert_eq!(e.op, *op, "event {n}");
        assert_eq!(e.after.as_ref(), Some(after), "event {n}");
    }
    let v: Vec<u32> = ev.iter().map(|e| e.schema_version).collect();
    assert_eq!(
        v[0], v[1],
        "same schema before the first change (snapshot and stream)"
    );
    assert_eq!(v[2], v[3]);
    assert_eq!(v[4], v[5]);
    assert!(
        v[1] != v[2] && v[2] != v[4] && v[1] != v[4],
        "versions {v:?}"
    );
    assert_eq!(types_of(&recs[1]), tys(&[("a", "text"), ("id", "int")]));
    assert_eq!(
        types_of(&recs[2]),
        tys(&[("a", "text"), ("b", "int"), ("id", "int")])
    );
    assert_eq!(types_of(&recs[4]), tys(&[("b", "int"), ("id", "int")]));

    // While rowlog is stopped: it reads these changes when the catalog
    // already is at the end state; each row keeps the columns it was
    // written with.
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    drop(dump);
    for sql in [
        "INSERT INTO evolve VALUES (5, 5)",
        "ALTER TABLE evolve ADD COLUMN c text DEFAULT 'dflt'",
        "UPDATE evolve SET b = 55 WHERE id = 5",
        "INSERT INTO evolve VALUES (6, 6, 'six')",
        "ALTER TABLE evolve DROP COLUMN b",
        "INSERT INTO evolve VALUES (7, 'seven')",
        "ALTER TABLE evolve ALTER COLUMN c TYPE varchar(20)",
        "INSERT INTO evolve VALUES (8, 'eight')",
    ] {
        e.c.batch_execute(sql).await?;
    }
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let recs = alive(&mut rowlog, read_exact(&e.kafka, topic, 1, 11, WAIT, QUIET)).await;
    let ev = events(&recs[6..]);
    let want = [
        (Op::Insert, row(&[("id", i(5)), ("b", i(5))])),
        (
            Op::Update,
            row(&[("id", i(5)), ("b", i(55)), ("c", t("dflt"))]),
        ),
        (
            Op::Insert,
            row(&[("id", i(6)), ("b", i(6)), ("c", t("six"))]),
        ),
        (Op::Insert, row(&[("id", i(7)), ("c", t("seven"))])),
        (Op::Insert, row(&[("id", i(8)), ("c", t("eight"))])),
    ];
    assert_eq!(ev.len(), want.len());
    for (n, (e, (op, after))) in ev.iter().zip(&want).enumerate() {
        assert_eq!(e.op, *op, "late event {n}");
        assert_eq!(e.after.as_ref(), Some(after), "late event {n}");
    }
    let w: Vec<u32> = ev.iter().map(|e| e.schema_version).collect();
    assert_eq!(w[0], v[4], "(id, b) is the same schema as before the stop");
    assert_eq!(w[1], w[2]);
    let distinct: std::collections::HashSet<u32> = [v[1], v[2], v[4], w[1], w[3], w[4]].into();
    assert_eq!(
        distinct.len(),
        6,
        "every schema its own version: {v:?} {w:?}"
    );
    // text → varchar(20): same kind, new source type, new version.
    let doc: serde_json::Value = serde_json::from_slice(recs[10].value.as_ref().unwrap())?;
    assert_eq!(doc["rowlog"]["types"]["c"], "text");
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// REPLICA IDENTITY FULL: updates and deletes carry the whole old row; a
/// keyless FULL table streams unkeyed records with full images.
#[tokio::test]
async fn replica_identity_full_carries_the_whole_before_image() -> anyhow::Result<()> {
    let e = env("CREATE TABLE full_t (id int PRIMARY KEY, a text, b int);
         ALTER TABLE full_t REPLICA IDENTITY FULL;
         INSERT INTO full_t VALUES (1, 'x', 10), (2, 'y', NULL);
         CREATE TABLE keyless (msg text, n int);
         ALTER TABLE keyless REPLICA IDENTITY FULL;
         INSERT INTO keyless VALUES ('hello', 1);")
    .await?;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let _dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(
            &e.kafka,
            "rowlog.app.public.full_t",
            1,
            2,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;
    alive(
        &mut rowlog,
        read_exact(
            &e.kafka,
            "rowlog.app.public.keyless",
            1,
            1,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;
    for sql in [
        "UPDATE full_t SET a = 'x2' WHERE id = 1",
        "UPDATE full_t SET b = 20 WHERE id = 2",
        "DELETE FROM full_t WHERE id = 1",
        "UPDATE keyless SET n = 2 WHERE msg = 'hello'",
        "INSERT INTO keyless VALUES ('bye', NULL)",
        "DELETE FROM keyless WHERE msg = 'hello'",
    ] {
        e.c.batch_execute(sql).await?;
    }
    let f = |id: i64, a: &str, b: Value| row(&[("id", i(id)), ("a", t(a)), ("b", b)]);
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.full_t", 1, 6, WAIT, QUIET),
    )
    .await;
    let ev = events(&recs);
    assert_eq!(ev.len(), 5);
    assert_eq!(
        (ev[2].op, ev[2].before.clone(), ev[2].after.clone()),
        (Op::Update, Some(f(1, "x", i(10))), Some(f(1, "x2", i(10))))
    );
    assert_eq!(
        (ev[3].op, ev[3].before.clone(), ev[3].after.clone()),
        (
            Op::Update,
            Some(f(2, "y", Value::Null)),
            Some(f(2, "y", i(20)))
        )
    );
    assert_eq!(
        (ev[4].op, ev[4].before.clone(), ev[4].after.clone()),
        (Op::Delete, Some(f(1, "x2", i(10))), None)
    );
    assert_eq!(recs[5].value, None, "tombstone after the delete");
    assert_eq!(recs[5].key.as_deref(), Some(&br#"{"id":1}"#[..]));

    let k = |msg: &str, n: Value| row(&[("msg", t(msg)), ("n", n)]);
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.keyless", 1, 4, WAIT, QUIET),
    )
    .await;
    assert!(
        recs.iter().all(|r| r.key.is_none() && r.value.is_some()),
        "keyless: no keys, no tombstones"
    );
    let ev = events(&recs);
    assert!(ev.iter().all(|e| e.key_columns.is_empty()));
    assert_eq!(
        (ev[0].op, ev[0].after.clone()),
        (Op::Read, Some(k("hello", i(1))))
    );
    assert_eq!(
        (ev[1].op, ev[1].before.clone(), ev[1].after.clone()),
        (Op::Update, Some(k("hello", i(1))), Some(k("hello", i(2))))
    );
    assert_eq!(
        (ev[2].op, ev[2].after.clone()),
        (Op::Insert, Some(k("bye", Value::Null)))
    );
    assert_eq!(
        (ev[3].op, ev[3].before.clone()),
        (Op::Delete, Some(k("hello", i(2))))
    );
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// A table without a primary key: without a `keys:` override, `rowlog run`
/// exits 1 naming the table and the fix, before touching the server (no
/// publication, no slot); with an override but REPLICA IDENTITY DEFAULT it
/// exits 1 too (publishing it would break the application's updates); with
/// REPLICA IDENTITY FULL and a `keys:` override it streams keyed records.
#[tokio::test]
async fn a_table_without_primary_key_needs_a_key_override() -> anyhow::Result<()> {
    let e = env("CREATE TABLE nopk (code text NOT NULL, v int);
         INSERT INTO nopk VALUES ('a', 1);")
    .await?;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let status = rowlog.wait_exit(WAIT).expect("rowlog exits on its own");
    let log = rowlog.log_text();
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    assert!(
        log.contains("public.nopk") && log.contains("no primary key"),
        "log:\n{log}"
    );
    assert!(
        log.contains("keys:") && log.contains("REPLICA IDENTITY FULL"),
        "the fix is named; log:\n{log}"
    );
    let n: i64 =
        e.c.query_one("SELECT count(*) FROM pg_publication", &[])
            .await?
            .get(0);
    assert_eq!(n, 0, "no publication was created");
    let n: i64 =
        e.c.query_one("SELECT count(*) FROM pg_replication_slots", &[])
            .await?
            .get(0);
    assert_eq!(n, 0, "no slot was created");
    // The application can still update and delete its rows.
    e.c.batch_execute("UPDATE nopk SET v = 2 WHERE code = 'a'")
        .await?;

    // A `keys:` override alone is refused too: publishing a table without
    // a replica identity would make PostgreSQL refuse the application's
    // updates and deletes.
    let config = e.config("      keys:\n        public.nopk: [code]\n", "");
    let mut rowlog = Rowlog::start(&config);
    let status = rowlog.wait_exit(WAIT).expect("rowlog exits on its own");
    let log = rowlog.log_text();
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    assert!(
        log.contains("public.nopk") && log.contains("REPLICA IDENTITY FULL"),
        "log:\n{log}"
    );
    let n: i64 =
        e.c.query_one("SELECT count(*) FROM pg_publication", &[])
            .await?
            .get(0);
    assert_eq!(n, 0, "no publication was created");
    e.c.batch_execute("UPDATE nopk SET v = 2 WHERE code = 'a'")
        .await?;

    // With REPLICA IDENTITY FULL and `keys:`: keyed by `code`.
    e.c.batch_execute("ALTER TABLE nopk REPLICA IDENTITY FULL")
        .await?;
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let topic = "rowlog.app.public.nopk";
    alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    for sql in [
        "INSERT INTO nopk VALUES ('b', 1)",
        "UPDATE nopk SET v = 3 WHERE code = 'a'",
        "DELETE FROM nopk WHERE code = 'b'",
    ] {
        e.c.batch_execute(sql).await?;
    }
    let recs = alive(&mut rowlog, read_exact(&e.kafka, topic, 1, 5, WAIT, QUIET)).await;
    let keys: Vec<Option<&[u8]>> = recs.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(
        keys,
        [
            Some(&br#"{"code":"a"}"#[..]),
            Some(br#"{"code":"b"}"#),
            Some(br#"{"code":"a"}"#),
            Some(br#"{"code":"b"}"#),
            Some(br#"{"code":"b"}"#),
        ]
    );
    let ev = events(&recs);
    let n = |code: &str, v: i64| row(&[("code", t(code)), ("v", i(v))]);
    assert_eq!(
        ev.iter().map(|e| e.op).collect::<Vec<_>>(),
        [Op::Read, Op::Insert, Op::Update, Op::Delete]
    );
    assert_eq!(ev[0].after, Some(n("a", 2)));
    assert_eq!(
        (ev[2].before.clone(), ev[2].after.clone()),
        (Some(n("a", 2)), Some(n("a", 3)))
    );
    assert_eq!(ev[3].before, Some(n("b", 1)));
    assert_eq!(ev[0].key_columns, ["code"]);
    assert_eq!(recs[4].value, None, "tombstone");
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// A table of 50,000 rows written by a concurrent task (inserts, updates,
/// deletes) while rowlog takes its initial snapshot and starts streaming:
/// the table rebuilt from the topic equals the table.
#[tokio::test]
async fn snapshot_while_the_table_is_written_converges_to_the_table() -> anyhow::Result<()> {
    let started = Instant::now();
    let e = env(
        "CREATE TABLE snap (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
         INSERT INTO snap SELECT i, 0, repeat(md5(i::text), 2) FROM generate_series(1, 50000) i;",
    )
    .await?;
    let writer_conn = e.pg.connect("app").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, ops) = (stop.clone(), ops.clone());
        tokio::spawn(async move {
            let mut rng = Rng(0x5eed_0005);
            let mut next_id = 50_001;
            while !stop.load(Ordering::Relaxed) {
                let mut sql = String::from("BEGIN;");
                for _ in 0..5 {
                    let id = rng.range(1, next_id);
                    match rng.range(0, 9) {
                        0..=3 => sql.push_str(&format!(
                            "UPDATE snap SET v = v + 1, pad = 'u' || v WHERE id = {id};"
                        )),
                        4..=6 => {
                            sql.push_str(&format!(
                                "INSERT INTO snap VALUES ({next_id}, 1, 'new');"
                            ));
                            next_id += 1;
                        }
                        _ => sql.push_str(&format!("DELETE FROM snap WHERE id = {id};")),
                    }
                }
                sql.push_str("COMMIT;");
                writer_conn.batch_execute(&sql).await.unwrap();
                ops.fetch_add(5, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let _dump = LogOnPanic(rowlog.log.clone());
    let at_start = ops.load(Ordering::Relaxed);
    let log_path = rowlog.log.clone();
    let streaming = alive(&mut rowlog, rowlog_streaming(&log_path)).await;
    assert!(streaming, "rowlog did not start streaming");
    let at_streaming = ops.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    let total_ops = ops.load(Ordering::Relaxed);
    assert!(
        at_streaming > at_start,
        "the writer must have written during the snapshot ({at_start} → {at_streaming})"
    );
    e.c.batch_execute("INSERT INTO snap VALUES (-1, -1, 'marker')")
        .await?;
    let records = alive(
        &mut rowlog,
        read_until(&e.kafka, "rowlog.app.public.snap", 1, WAIT, |r| {
            r.key.as_deref() == Some(br#"{"id":-1}"#) && r.value.is_some()
        }),
    )
    .await;
    let reads = events(&records).iter().filter(|e| e.op == Op::Read).count();
    let mut read_keys = std::collections::HashSet::new();
    for ev in events(&records).iter().filter(|e| e.op == Op::Read) {
        assert!(
            read_keys.insert(int(ev.after.as_ref().unwrap(), "id")),
            "a key read twice by the snapshot"
        );
    }
    let rebuilt = rebuild(&records, "id");
    let table: BTreeMap<i64, Row> =
        e.c.query("SELECT id::int8, v::int8, pad FROM snap", &[])
            .await?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                (
                    id,
                    row(&[("id", i(id)), ("v", i(r.get(1))), ("pad", t(r.get(2)))]),
                )
            })
            .collect();
    assert_eq!(rebuilt.len(), table.len(), "row count rebuilt vs table");
    let differing = table
        .iter()
        .filter(|(k, v)| rebuilt.get(k) != Some(v))
        .count();
    assert_eq!(
        differing, 0,
        "rows that differ between the topic and the table"
    );
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    eprintln!(
        "snapshot_while_written: {reads} snapshot rows, {total_ops} writes ({} during the snapshot), {} records, {:?}",
        at_streaming - at_start,
        records.len(),
        started.elapsed()
    );
    Ok(())
}

/// Waits (up to WAIT) until the log says the source is streaming.
async fn rowlog_streaming(log: &std::path::Path) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().any(|l| l.contains(" streaming")) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Inserts `n` rows into `ev` as transactions of 10, tagged `phase`.
async fn write_phase(c: &tokio_postgres::Client, phase: i32, n: i32) -> anyhow::Result<()> {
    for chunk in 0..n / 10 {
        let mut sql = String::from("BEGIN;");
        for j in 0..10 {
            sql.push_str(&format!(
                "INSERT INTO ev (phase, n) VALUES ({phase}, {});",
                chunk * 10 + j
            ));
        }
        sql.push_str("COMMIT;");
        c.batch_execute(&sql).await?;
    }
    Ok(())
}

/// PostgreSQL restarted under a streaming rowlog (a fast shutdown, then an
/// immediate one, like a crash): rowlog reconnects with backoff and every
/// change committed before and after each restart is in the log.
#[tokio::test]
async fn server_restart_mid_stream_loses_nothing() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut e =
        env("CREATE TABLE ev (id serial PRIMARY KEY, phase int NOT NULL, n int NOT NULL);").await?;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let _dump = LogOnPanic(rowlog.log.clone());
    let log_path = rowlog.log.clone();
    assert!(alive(&mut rowlog, rowlog_streaming(&log_path)).await);
    write_phase(&e.c, 0, 200).await?;
    let mut phase = 0;
    for how in [Shutdown::Fast, Shutdown::Immediate] {
        phase += 1;
        write_phase(&e.c, phase, 100).await?;
        e.pg.restart(how).await?;
        // Written while rowlog is still backing off.
        e.c = e.pg.connect("app").await?;
        phase += 1;
        write_phase(&e.c, phase, 100).await?;
        assert!(
            rowlog.running(),
            "rowlog exited after a {how:?} restart:\n{}",
            rowlog.log_text()
        );
    }
    phase += 1;
    write_phase(&e.c, phase, 100).await?;
    e.c.batch_execute("INSERT INTO ev (phase, n) VALUES (-1, -1)")
        .await?;
    let records = alive(
        &mut rowlog,
        read_until(&e.kafka, "rowlog.app.public.ev", 1, WAIT, |r| {
            event(r).is_some_and(|e| {
                e.after
                    .as_ref()
                    .is_some_and(|a| a.get("phase") == Some(&i(-1)))
            })
        }),
    )
    .await;
    let table: BTreeMap<i64, Row> =
        e.c.query("SELECT id::int8, phase::int8, n::int8 FROM ev", &[])
            .await?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                (
                    id,
                    row(&[("id", i(id)), ("phase", i(r.get(1))), ("n", i(r.get(2)))]),
                )
            })
            .collect();
    assert_eq!(table.len(), 200 + 100 * phase as usize + 1);
    let mut count: HashMap<i64, usize> = HashMap::new();
    for ev in events(&records) {
        assert_eq!(ev.op, Op::Insert);
        let after = ev.after.unwrap();
        let id = int(&after, "id");
        assert_eq!(
            table.get(&id),
            Some(&after),
            "id {id} in the log but not so in the table"
        );
        *count.entry(id).or_default() += 1;
    }
    let missing: Vec<&i64> = table.keys().filter(|id| !count.contains_key(id)).collect();
    assert!(
        missing.is_empty(),
        "{} committed rows missing from the log, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let duplicates: usize = count.values().map(|n| n - 1).sum();
    let log = rowlog.log_text();
    assert!(log.contains("retrying in"), "reconnects are logged");
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    eprintln!(
        "server_restart: {} rows, {duplicates} duplicates, {:?}",
        table.len(),
        started.elapsed()
    );
    Ok(())
}

/// rowlog started while PostgreSQL is down (connection refused) keeps
/// retrying with clear log lines, then snapshots and streams once the
/// server is up.
#[tokio::test]
async fn connection_refused_at_start_retries_then_streams() -> anyhow::Result<()> {
    let mut e = env("CREATE TABLE early (id int PRIMARY KEY, s text);
         INSERT INTO early VALUES (1, 'before');")
    .await?;
    e.pg.stop_server(Shutdown::Fast)?;
    let mut rowlog = Rowlog::start(&e.config("", ""));
    let _dump = LogOnPanic(rowlog.log.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        rowlog.running(),
        "rowlog gave up while the server was down:\n{}",
        rowlog.log_text()
    );
    let log = rowlog.log_text();
    let retries: Vec<&str> = log.lines().filter(|l| l.contains("retrying in")).collect();
    assert!(!retries.is_empty(), "no retry line in:\n{log}");
    assert!(
        retries
            .iter()
            .all(|l| l.contains("app") && l.to_lowercase().contains("connect")),
        "retry lines name the source and the connection problem:\n{log}"
    );
    e.pg.start_again().await?;
    let topic = "rowlog.app.public.early";
    alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    let c = e.pg.connect("app").await?;
    c.batch_execute("INSERT INTO early VALUES (2, 'after')")
        .await?;
    let recs = alive(&mut rowlog, read_exact(&e.kafka, topic, 1, 2, WAIT, QUIET)).await;
    let ev = events(&recs);
    assert_eq!(
        (ev[0].op, ev[0].after.clone()),
        (Op::Read, Some(row(&[("id", i(1)), ("s", t("before"))])))
    );
    assert_eq!(
        (ev[1].op, ev[1].after.clone()),
        (Op::Insert, Some(row(&[("id", i(2)), ("s", t("after"))])))
    );
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

/// A captured table dropped while rowlog streams: no panic, rowlog keeps
/// streaming the other tables, and every row committed to the dropped table
/// before the drop is in the log — also when rowlog was stopped across the
/// drop and reads those rows only after the table is gone.
#[tokio::test]
async fn a_table_dropped_while_streaming_loses_nothing_committed_before() -> anyhow::Result<()> {
    let e = env("CREATE TABLE keep (id int PRIMARY KEY);
         CREATE TABLE gone (id int PRIMARY KEY, s text);
         INSERT INTO keep VALUES (0); INSERT INTO gone VALUES (0, 'snap');")
    .await?;
    let config = e.config("", "");
    let mut rowlog = Rowlog::start(&config);
    let dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(
            &e.kafka,
            "rowlog.app.public.gone",
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
            &e.kafka,
            "rowlog.app.public.keep",
            1,
            1,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;
    // Running: rows, then the drop in the same transaction as a last row.
    for n in 1..=20 {
        e.c.batch_execute(&format!(
            "INSERT INTO gone VALUES ({n}, 'x'); INSERT INTO keep VALUES ({n});"
        ))
        .await?;
    }
    e.c.batch_execute("BEGIN; INSERT INTO gone VALUES (21, 'last'); DROP TABLE gone; COMMIT;")
        .await?;
    for n in 21..=40 {
        e.c.batch_execute(&format!("INSERT INTO keep VALUES ({n})"))
            .await?;
    }
    let gone = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.gone", 1, 22, WAIT, QUIET),
    )
    .await;
    let ids: Vec<i64> = events(&gone)
        .iter()
        .map(|e| int(e.after.as_ref().unwrap(), "id"))
        .collect();
    assert_eq!(ids, (0..=21).collect::<Vec<_>>());
    alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.keep", 1, 41, WAIT, QUIET),
    )
    .await;
    assert!(
        rowlog.running(),
        "rowlog stays up after a captured table is dropped"
    );

    // Stopped across the drop: a second table, written and dropped while
    // rowlog is down, then rowlog comes back.
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    drop(dump);
    e.c.batch_execute("CREATE TABLE gone2 (id int PRIMARY KEY)")
        .await?;
    e.c.batch_execute("ALTER PUBLICATION rowlog_app ADD TABLE gone2")
        .await?;
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let log_path = rowlog.log.clone();
    assert!(alive(&mut rowlog, rowlog_streaming(&log_path)).await);
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    for n in 1..=10 {
        e.c.batch_execute(&format!(
            "INSERT INTO gone2 VALUES ({n}); INSERT INTO keep VALUES ({})",
            100 + n
        ))
        .await?;
    }
    e.c.batch_execute("DROP TABLE gone2").await?;
    e.c.batch_execute("INSERT INTO keep VALUES (200)").await?;
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let keep = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.keep", 1, 52, WAIT, QUIET),
    )
    .await;
    assert_eq!(
        event(&keep[51]).unwrap().after,
        Some(row(&[("id", i(200))]))
    );
    let gone2 = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.public.gone2", 1, 10, WAIT, QUIET),
    )
    .await;
    let ids: Vec<i64> = events(&gone2)
        .iter()
        .map(|e| int(e.after.as_ref().unwrap(), "id"))
        .collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert!(rowlog.running());
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

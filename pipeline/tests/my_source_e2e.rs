//! The MySQL/MariaDB source end to end, through the real binary, a private
//! MariaDB 10.11 with a row binlog and a real broker (tansu): order per key
//! over 10k random updates, a multi-table transaction, a clean stop and a
//! GTID resume, DDL mid-stream and across a restart (with and without
//! `binlog_row_metadata=FULL`), a purged position, a snapshot under
//! concurrent writes, kill -9 under load, and following a replica after a
//! failover. Records are decoded with the row-log JSON decoder and compared
//! as typed `Value`s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{LogOnPanic, Record, Rowlog, alive, event, read_exact, read_quiet, read_until};
use mysql_async::prelude::Queryable;
use rowlog_schemas::position::MysqlPosition;
use rowlog_schemas::{ChangeEvent, Op, Position, Row, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::mariadb::MariaDbServer;
use rowlog_tests::mysql_types::{COLUMNS, create, dec, row_max, row_min, row_nulls};

const WAIT: Duration = Duration::from_secs(120);
const QUIET: Duration = Duration::from_secs(3);

/// splitmix64 with a fixed seed: the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

struct Env {
    db: MariaDbServer,
    kafka: KafkaServer,
    conn: mysql_async::Conn,
    dir: tempfile::TempDir,
}

async fn env_with(args: &[&str], setup: &[&str]) -> anyhow::Result<Env> {
    let db = MariaDbServer::start_with_args(args).await?;
    let kafka = KafkaServer::start().await?;
    db.create_database("shop").await?;
    let mut conn =
        mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url_for("shop")).unwrap()).await?;
    for s in setup {
        conn.query_drop(*s).await?;
    }
    Ok(Env {
        db,
        kafka,
        conn,
        dir: tempfile::tempdir()?,
    })
}

async fn env(setup: &[&str]) -> anyhow::Result<Env> {
    env_with(&[], setup).await
}

fn my_config(dir: &std::path::Path, url: &str, kafka: &KafkaServer, extra: &str) -> PathBuf {
    let path = dir.join("rowlog.yaml");
    let text = format!(
        "sources:\n  - name: app\n    mysql:\n      url: {url}\n      server_id: 4242\n      tables: {{ include: [\"shop.*\"] }}\n{extra}log:\n  kafka:\n    brokers: [\"{brokers}\"]\n  topic_prefix: rowlog\n  partitions: 3\n",
        brokers = kafka.bootstrap_servers(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

impl Env {
    fn config(&self, extra: &str) -> PathBuf {
        my_config(
            self.dir.path(),
            &self.db.url_for("shop"),
            &self.kafka,
            extra,
        )
    }
}

fn events(records: &[Record]) -> Vec<ChangeEvent> {
    records.iter().filter_map(event).collect()
}

fn pos(e: &ChangeEvent) -> MysqlPosition {
    match &e.position {
        Position::Mysql(p) => p.clone(),
        Position::Postgres(_) => panic!("not a MySQL position"),
    }
}

fn int(row: &Row, col: &str) -> i64 {
    match row.get(col) {
        Some(Value::Int(i)) => *i,
        other => panic!("column {col}: expected an int, got {other:?}"),
    }
}

fn image(e: &ChangeEvent) -> &Row {
    match e.op {
        Op::Delete => e.before.as_ref().unwrap(),
        _ => e.after.as_ref().unwrap(),
    }
}

/// The table as the topic tells it (key `id`).
fn rebuild(evs: &[ChangeEvent]) -> BTreeMap<i64, Row> {
    let mut state = BTreeMap::new();
    for e in evs {
        let id = int(image(e), "id");
        match e.op {
            Op::Delete => {
                state.remove(&id);
            }
            _ => {
                state.insert(id, e.after.clone().unwrap());
            }
        }
    }
    state
}

/// `id -> v` of table `t`.
async fn table_iv(conn: &mut mysql_async::Conn, t: &str) -> BTreeMap<i64, i64> {
    conn.query_map(format!("SELECT id, v FROM {t}"), |(id, v): (i64, i64)| {
        (id, v)
    })
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn topic_iv(evs: &[ChangeEvent]) -> BTreeMap<i64, i64> {
    rebuild(evs)
        .into_iter()
        .map(|(id, r)| (id, int(&r, "v")))
        .collect()
}

/// 10,000 random updates of 100 keys in transactions of 1-20 statements
/// (some rolled back) plus a multi-table transaction: per key the log holds
/// exactly the committed values in commit order with increasing positions;
/// a clean stop (exit 0) and a restart resume by GTID with nothing lost or
/// repeated.
#[tokio::test]
async fn order_per_key_multi_table_transaction_and_gtid_resume() -> anyhow::Result<()> {
    let mut e = env(&[
        "CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(20))",
        "CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(40))",
        "INSERT INTO kv SELECT seq, 0, 'start' FROM seq_1_to_100",
    ])
    .await?;
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    let kv = "rowlog.app.shop.kv";
    let audit = "rowlog.app.shop.audit";
    let snap = alive(
        &mut rowlog,
        read_exact(&e.kafka, kv, 3, 100, WAIT, Duration::ZERO),
    )
    .await;
    assert!(events(&snap).iter().all(|e| e.op == Op::Read));

    let mut rng = Rng(0x5eed_0005);
    let mut committed: HashMap<i64, Vec<i64>> = (1..=100).map(|k| (k, vec![0])).collect();
    let mut seq = 0i64;
    let mut updates = 0usize;
    while updates < 10_000 {
        let n = rng.range(1, 20) as usize;
        let rollback = rng.range(0, 9) == 0;
        let mut tx = e.conn.start_transaction(Default::default()).await?;
        let mut pending = Vec::new();
        for _ in 0..n {
            let k = rng.range(1, 100);
            seq += 1;
            tx.exec_drop("UPDATE kv SET v = ? WHERE id = ?", (seq, k))
                .await?;
            pending.push((k, seq));
        }
        if rollback {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            updates += n;
            for (k, v) in pending {
                committed.get_mut(&k).unwrap().push(v);
            }
        }
    }
    // One transaction over two tables.
    let mut tx = e.conn.start_transaction(Default::default()).await?;
    tx.query_drop("INSERT INTO audit VALUES (1, 'both')")
        .await?;
    tx.query_drop("UPDATE kv SET v = -1 WHERE id = 1").await?;
    tx.commit().await?;
    committed.get_mut(&1).unwrap().push(-1);
    let total = 100 + updates + 1;

    let recs = alive(&mut rowlog, read_exact(&e.kafka, kv, 3, total, WAIT, QUIET)).await;
    let evs = events(&recs);
    let mut seen: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut last_pos: HashMap<i64, MysqlPosition> = HashMap::new();
    for ev in &evs {
        let id = int(image(ev), "id");
        seen.entry(id)
            .or_default()
            .push(int(ev.after.as_ref().unwrap(), "v"));
        let p = pos(ev);
        if ev.op != Op::Read {
            assert!(p.gtid.is_some(), "streamed event without a GTID: {p}");
            if let Some(prev) = last_pos.get(&id) {
                assert!(p > *prev, "key {id}: position {p} after {prev}");
                assert!(p.row_version()? > prev.row_version()?);
            }
            last_pos.insert(id, p);
        }
    }
    assert_eq!(
        seen, committed,
        "per-key values differ from the committed ones"
    );
    assert_eq!(topic_iv(&evs), table_iv(&mut e.conn, "kv").await);

    let a = alive(
        &mut rowlog,
        read_exact(&e.kafka, audit, 3, 1, WAIT, Duration::ZERO),
    )
    .await;
    let a = events(&a);
    let both: Vec<&ChangeEvent> = evs
        .iter()
        .filter(|x| x.after.as_ref().is_some_and(|r| int(r, "v") == -1))
        .collect();
    assert_eq!(both.len(), 1);
    let (t1, t2) = (
        a[0].transaction.clone().unwrap(),
        both[0].transaction.clone().unwrap(),
    );
    assert_eq!(t1.id, t2.id, "one transaction id for both tables");
    assert_eq!((t1.ordinal, t2.ordinal), (1, 2));

    // A clean stop exits 0; changes made while stopped arrive once.
    let status = rowlog.stop(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    for k in 1..=50 {
        e.conn
            .exec_drop("UPDATE kv SET v = v + 1000000 WHERE id = ?", (k,))
            .await?;
    }
    let mut rowlog = Rowlog::start(&config);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, kv, 3, total + 50, WAIT, QUIET),
    )
    .await;
    assert_eq!(topic_iv(&events(&recs)), table_iv(&mut e.conn, "kv").await);
    assert!(
        rowlog.log_text().contains("by_gtid=true"),
        "{}",
        rowlog.log_text()
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

fn names(r: &Row) -> Vec<&str> {
    r.iter().map(|(n, _)| n).collect()
}

/// ADD COLUMN, DROP COLUMN, MODIFY and RENAME TABLE while streaming and
/// while stopped: every row comes with the columns it was written with.
/// `paced`: wait for each row before the next DDL (rowlog caught up), as
/// information_schema can only describe a table as it is now.
async fn ddl_scenario(args: &[&str], paced: bool) -> anyhow::Result<()> {
    let mut e = env_with(
        args,
        &["CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))"],
    )
    .await?;
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    let topic = "rowlog.app.shop.t";
    let mut rows = 0;
    for s in [
        "INSERT INTO t VALUES (1, 10, 'x')",
        "ALTER TABLE t ADD COLUMN c INT DEFAULT 7",
        "INSERT INTO t VALUES (2, 20, 'y', 8)",
        "ALTER TABLE t DROP COLUMN b",
        "INSERT INTO t VALUES (3, 30, 9)",
        "ALTER TABLE t MODIFY a BIGINT",
        "INSERT INTO t VALUES (4, 1099511627776, 10)",
    ] {
        e.conn.query_drop(s).await?;
        if paced && s.starts_with("INSERT") {
            rows += 1;
            alive(
                &mut rowlog,
                read_exact(&e.kafka, topic, 3, rows, WAIT, Duration::ZERO),
            )
            .await;
        }
    }
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 3, 4, WAIT, Duration::ZERO),
    )
    .await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    // Written while rowlog is down: the restart reads the row of the old
    // shape after the table changed again.
    for s in [
        "INSERT INTO t VALUES (5, 50, 11)",
        "ALTER TABLE t ADD COLUMN d VARCHAR(5) DEFAULT 'z'",
        "INSERT INTO t VALUES (6, 60, 12, 'w')",
    ] {
        e.conn.query_drop(s).await?;
    }
    let mut rowlog = Rowlog::start(&config);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    let more = alive(&mut rowlog, read_exact(&e.kafka, topic, 3, 6, WAIT, QUIET)).await;
    // The whole topic, read from the beginning: the 4 rows of the first run
    // and the 2 of the second (record order across partitions is not
    // defined, so rows are told apart by id).
    assert_eq!(recs.len(), 4);
    let mut all = events(&more);
    all.sort_by_key(|x| int(x.after.as_ref().unwrap(), "id"));
    let shapes: Vec<Vec<&str>> = all
        .iter()
        .map(|x| names(x.after.as_ref().unwrap()))
        .collect();
    assert_eq!(
        shapes,
        vec![
            vec!["id", "a", "b"],
            vec!["id", "a", "b", "c"],
            vec!["id", "a", "c"],
            vec!["id", "a", "c"],
            vec!["id", "a", "c"],
            vec!["id", "a", "c", "d"],
        ]
    );
    assert_eq!(
        all[3].after.as_ref().unwrap().get("a"),
        Some(&Value::Int(1_099_511_627_776))
    );
    assert_eq!(
        all[1].after.as_ref().unwrap().get("b"),
        Some(&Value::Text("y".into()))
    );
    assert_eq!(
        all[5].after.as_ref().unwrap().get("d"),
        Some(&Value::Text("w".into()))
    );
    // Schema versions change with the shape.
    assert_ne!(all[0].schema_version, all[1].schema_version);
    assert_ne!(
        all[2].schema_version, all[3].schema_version,
        "MODIFY a BIGINT changes the schema"
    );
    let status = rowlog.stop(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    if !paced {
        return Ok(());
    }
    // Two DDLs while stopped: the rows between them have a shape that
    // information_schema no longer describes and the binlog carries no
    // names. A clear error naming the DDL and the fix, exit 1, nothing
    // emitted.
    for s in [
        "ALTER TABLE t ADD COLUMN e INT",
        "INSERT INTO t VALUES (7, 70, 13, 'v', 1)",
        "ALTER TABLE t DROP COLUMN e",
    ] {
        e.conn.query_drop(s).await?;
    }
    let mut rowlog = Rowlog::start(&config);
    let Some(status) = rowlog.wait_exit(Duration::from_secs(60)) else {
        panic!("rowlog kept running; log:\n{}", rowlog.log_text());
    };
    let log = rowlog.log_text();
    assert!(!status.success(), "{log}");
    assert!(log.contains("ADD COLUMN e"), "{log}");
    assert!(log.contains("binlog_row_metadata=FULL"), "{log}");
    read_exact(&e.kafka, topic, 3, 6, WAIT, QUIET).await;
    Ok(())
}

#[tokio::test]
async fn ddl_mid_stream_and_across_a_restart_with_full_metadata() -> anyhow::Result<()> {
    ddl_scenario(&[], false).await
}

/// Without FULL metadata the names come from information_schema (re-read
/// after each DDL) and from the schema history in the state topic; where
/// neither can describe a row, the source stops with the way out.
#[tokio::test]
async fn ddl_mid_stream_and_across_a_restart_with_minimal_metadata() -> anyhow::Result<()> {
    ddl_scenario(&["--binlog-row-metadata=MINIMAL"], true).await
}

/// RENAME TABLE: rows before go to the old table's topic, rows after to the
/// new one's, with the same columns.
#[tokio::test]
async fn rename_table_mid_stream() -> anyhow::Result<()> {
    let mut e = env(&["CREATE TABLE old_t (id INT PRIMARY KEY, v INT)"]).await?;
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    e.conn.query_drop("INSERT INTO old_t VALUES (1, 1)").await?;
    alive(
        &mut rowlog,
        read_exact(
            &e.kafka,
            "rowlog.app.shop.old_t",
            3,
            1,
            WAIT,
            Duration::ZERO,
        ),
    )
    .await;
    e.conn.query_drop("RENAME TABLE old_t TO new_t").await?;
    e.conn.query_drop("INSERT INTO new_t VALUES (2, 2)").await?;
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.shop.new_t", 3, 1, WAIT, QUIET),
    )
    .await;
    let ev = events(&recs);
    assert_eq!(ev[0].table.name, "new_t");
    assert_eq!(names(ev[0].after.as_ref().unwrap()), vec!["id", "v"]);
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// Binlogs purged past the saved position: a clear error, a non-zero exit,
/// and nothing emitted.
#[tokio::test]
async fn purged_position_stops_with_the_way_out() -> anyhow::Result<()> {
    let mut e = env(&["CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT)"]).await?;
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    e.conn.query_drop("INSERT INTO kv VALUES (1, 1)").await?;
    let topic = "rowlog.app.shop.kv";
    alive(
        &mut rowlog,
        read_exact(&e.kafka, topic, 3, 1, WAIT, Duration::ZERO),
    )
    .await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    e.conn.query_drop("INSERT INTO kv VALUES (2, 2)").await?;
    e.conn.query_drop("FLUSH BINARY LOGS").await?;
    e.conn.query_drop("INSERT INTO kv VALUES (3, 3)").await?;
    e.conn.query_drop("FLUSH BINARY LOGS").await?;
    // The stopped rowlog's dump thread may hold the old files for a moment
    // (the server does not purge a file a replica still reads): retry.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let logs: Vec<String> = e
            .conn
            .query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
                row.get::<String, _>(0).unwrap()
            })
            .await?;
        if logs.len() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cannot purge: {logs:?}"
        );
        e.conn
            .query_drop(format!("PURGE BINARY LOGS TO '{}'", logs.last().unwrap()))
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut rowlog = Rowlog::start(&config);
    let Some(status) = rowlog.wait_exit(Duration::from_secs(60)) else {
        panic!("rowlog kept running; log:\n{}", rowlog.log_text());
    };
    let log = rowlog.log_text();
    assert!(!status.success(), "{log}");
    assert!(log.contains("is no longer on the server"), "{log}");
    assert!(log.contains("snapshot: always"), "{log}");
    read_exact(&e.kafka, topic, 3, 1, WAIT, QUIET).await;

    // The way out the error names: one run with `snapshot: always` reads
    // the tables again and streams from the new snapshot's position.
    let always = e.config("      snapshot: always\n");
    let mut rowlog = Rowlog::start(&always);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    e.conn.query_drop("INSERT INTO kv VALUES (4, 4)").await?;
    // 1 earlier insert, 3 snapshot reads, 1 new insert.
    let recs = alive(&mut rowlog, read_exact(&e.kafka, topic, 3, 5, WAIT, QUIET)).await;
    let evs = events(&recs);
    assert_eq!(evs.iter().filter(|x| x.op == Op::Read).count(), 3);
    assert_eq!(topic_iv(&evs), table_iv(&mut e.conn, "kv").await);
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// `snapshot: initial_only` reads the tables and exits 0 without streaming.
#[tokio::test]
async fn snapshot_initial_only_reads_and_exits() -> anyhow::Result<()> {
    let e = env(&[
        "CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT)",
        "INSERT INTO kv SELECT seq, seq FROM seq_1_to_5",
    ])
    .await?;
    let mut rowlog = Rowlog::start(&e.config("      snapshot: initial_only\n"));
    let Some(status) = rowlog.wait_exit(WAIT) else {
        panic!("rowlog kept running; log:\n{}", rowlog.log_text());
    };
    assert!(status.success(), "{}", rowlog.log_text());
    let recs = read_exact(&e.kafka, "rowlog.app.shop.kv", 3, 5, WAIT, QUIET).await;
    assert!(events(&recs).iter().all(|x| x.op == Op::Read));
    Ok(())
}

/// `snapshot: never` streams only what is committed after the start.
#[tokio::test]
async fn snapshot_never_streams_only_new_changes() -> anyhow::Result<()> {
    let mut e = env(&[
        "CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT)",
        "INSERT INTO kv SELECT seq, seq FROM seq_1_to_5",
    ])
    .await?;
    let mut rowlog = Rowlog::start(&e.config("      snapshot: never\n"));
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    e.conn
        .query_drop("UPDATE kv SET v = 60 WHERE id = 5")
        .await?;
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.shop.kv", 3, 1, WAIT, QUIET),
    )
    .await;
    let ev = &events(&recs)[0];
    assert_eq!(
        (ev.op, int(ev.after.as_ref().unwrap(), "v")),
        (Op::Update, 60)
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// A snapshot while a writer keeps updating and inserting: the table
/// rebuilt from the topic equals the table.
#[tokio::test]
async fn snapshot_under_concurrent_writes() -> anyhow::Result<()> {
    let e = env(&[
        "CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT NOT NULL)",
        "INSERT INTO kv SELECT seq, 0 FROM seq_1_to_20000",
    ])
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let stop = stop.clone();
        let writes = writes.clone();
        let url = e.db.url_for("shop");
        tokio::spawn(async move {
            let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
                .await
                .unwrap();
            let mut rng = Rng(7);
            let mut next_id = 20_001;
            while !stop.load(Ordering::Relaxed) {
                let k = rng.range(1, 20_000);
                c.exec_drop("UPDATE kv SET v = v + 1 WHERE id = ?", (k,))
                    .await
                    .unwrap();
                if rng.range(0, 9) == 0 {
                    c.exec_drop("INSERT INTO kv VALUES (?, 1)", (next_id,))
                        .await
                        .unwrap();
                    next_id += 1;
                }
                if rng.range(0, 19) == 0 {
                    c.exec_drop("DELETE FROM kv WHERE id = ?", (rng.range(1, 20_000),))
                        .await
                        .unwrap();
                }
                writes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while writes.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(
        rowlog.wait_log("snapshot started", WAIT).await,
        "no snapshot started"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    let mut c =
        mysql_async::Conn::new(mysql_async::Opts::from_url(&e.db.url_for("shop")).unwrap()).await?;
    c.query_drop("INSERT INTO kv VALUES (999999, 42)").await?;
    alive(
        &mut rowlog,
        read_until(&e.kafka, "rowlog.app.shop.kv", 3, WAIT, |r| {
            event(r).is_some_and(|e| e.after.as_ref().is_some_and(|a| int(a, "id") == 999_999))
        }),
    )
    .await;
    // The marker is on one partition: read everything until the topic is quiet.
    let all = read_quiet(&e.kafka, "rowlog.app.shop.kv", 3, QUIET, WAIT).await;
    assert_eq!(
        topic_iv(&events(&all)),
        table_iv(&mut c, "kv").await,
        "state rebuilt from the topic differs from the table"
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// The expected row: the fixture's values under the fixture's column names,
/// with the JSON column typed `json` (the catalog knows MariaDB's alias).
fn typed_row(values: Vec<Value>) -> Row {
    COLUMNS
        .iter()
        .zip(values)
        .map(|(c, v)| {
            let v = match (*c, v) {
                ("j", Value::Text(s)) => Value::Json(s),
                (_, v) => v,
            };
            ((*c).to_string(), v)
        })
        .collect()
}

/// Every MariaDB type with edge values, read by the snapshot (ids 1-3) and
/// from the binlog (ids 101-103, then an update and a delete): the records
/// in Kafka hold exactly the values written, typed.
#[tokio::test]
async fn every_type_round_trips_through_kafka() -> anyhow::Result<()> {
    let mut e = env(&["SET SESSION sql_mode='', time_zone='+00:00'"]).await?;
    let t = "shop.types";
    e.conn.query_drop(create(t)).await?;
    let snap = [row_min(t, 1), row_max(t, 2), row_nulls(t, 3)];
    for (sql, _) in &snap {
        e.conn.query_drop(sql).await?;
    }
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    let streamed = [row_min(t, 101), row_max(t, 102), row_nulls(t, 103)];
    for (sql, _) in &streamed {
        e.conn.query_drop(sql).await?;
    }
    e.conn
        .query_drop("UPDATE shop.types SET d52 = 1.25, biu = 18446744073709551614 WHERE id = 101")
        .await?;
    e.conn
        .query_drop("DELETE FROM shop.types WHERE id = 102")
        .await?;
    // 3 snapshot reads, 3 inserts, 1 update, 1 delete and its tombstone.
    let recs = alive(
        &mut rowlog,
        read_exact(&e.kafka, "rowlog.app.shop.types", 3, 9, WAIT, QUIET),
    )
    .await;
    let evs = events(&recs);
    let find = |id: i64, op: Op| {
        evs.iter()
            .find(|x| x.op == op && int(image(x), "id") == id)
            .unwrap_or_else(|| panic!("no {op:?} of id {id}"))
    };
    for (i, (_, values)) in snap.into_iter().enumerate() {
        let got = find(i as i64 + 1, Op::Read).after.clone().unwrap();
        assert_eq!(got, typed_row(values), "snapshot row {}", i + 1);
    }
    for (i, (_, values)) in streamed.iter().cloned().enumerate() {
        let got = find(i as i64 + 101, Op::Insert).after.clone().unwrap();
        assert_eq!(got, typed_row(values), "streamed row {}", i + 101);
    }
    let upd = find(101, Op::Update);
    assert_eq!(
        upd.before.clone().unwrap(),
        typed_row(streamed[0].1.clone())
    );
    let mut after = typed_row(streamed[0].1.clone());
    after = after
        .iter()
        .map(|(n, v)| {
            let v = match n {
                "d52" => dec("1.25"),
                "biu" => Value::UInt(18_446_744_073_709_551_614),
                _ => v.clone(),
            };
            (n.to_string(), v)
        })
        .collect();
    assert_eq!(upd.after.clone().unwrap(), after);
    let del = find(102, Op::Delete);
    assert_eq!(
        del.before.clone().unwrap(),
        typed_row(streamed[1].1.clone())
    );
    assert!(
        recs.iter().any(|r| r.value.is_none()),
        "a tombstone follows the delete"
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// The server crashes and restarts mid-stream, then freezes for longer than
/// the read timeout (a dropped link): rowlog reconnects and resumes from its
/// saved offset each time; every row arrives (at least once).
#[tokio::test]
async fn server_crash_and_frozen_link_mid_stream() -> anyhow::Result<()> {
    let mut e = env(&["CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT)"]).await?;
    let config = e.config("");
    let mut rowlog = Rowlog::start(&config);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(rowlog.wait_log("streaming the binlog", WAIT).await);
    let topic = "rowlog.app.shop.kv";
    let has = |id: i64| move |r: &Record| event(r).is_some_and(|e| int(image(&e), "id") == id);
    for id in 1..=100 {
        e.conn
            .exec_drop("INSERT INTO kv VALUES (?, 0)", (id,))
            .await?;
    }
    alive(&mut rowlog, read_until(&e.kafka, topic, 3, WAIT, has(100))).await;

    e.conn.disconnect().await?;
    e.db.crash_and_restart().await?;
    let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&e.db.url_for("shop"))?).await?;
    for id in 101..=200 {
        c.exec_drop("INSERT INTO kv VALUES (?, 0)", (id,)).await?;
    }
    alive(&mut rowlog, read_until(&e.kafka, topic, 3, WAIT, has(200))).await;

    e.db.pause()?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    e.db.resume()?;
    for id in 201..=300 {
        c.exec_drop("INSERT INTO kv VALUES (?, 0)", (id,)).await?;
    }
    alive(&mut rowlog, read_until(&e.kafka, topic, 3, WAIT, has(300))).await;
    let all = read_quiet(&e.kafka, topic, 3, QUIET, WAIT).await;
    let ids: std::collections::BTreeSet<i64> =
        events(&all).iter().map(|x| int(image(x), "id")).collect();
    assert_eq!(ids, (1..=300).collect(), "every row arrives");
    let log = rowlog.log_text();
    assert!(log.contains("transient error, retrying"), "{log}");
    assert!(
        log.contains("no binlog event or heartbeat"),
        "the freeze was not noticed: {log}"
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

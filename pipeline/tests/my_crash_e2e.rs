//! kill -9 of the MySQL source under load, and following a replica after a
//! failover, through the real binary, private MariaDB servers and a real
//! broker (tansu).
//!
//! The crash test checks the source's promise exactly: after ten kills at
//! random points while 50,000 changes are committed, every committed change
//! is in the log at least once, per key in commit order (a replayed change
//! may repeat earlier ones, never skip one), and the table rebuilt from the
//! log equals the table. Duplicates are counted and printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, alive, event, read_exact, read_quiet, read_until};
use mysql_async::prelude::Queryable;
use rowlog_schemas::position::MysqlPosition;
use rowlog_schemas::{ChangeEvent, Op, Position, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::mariadb::MariaDbServer;

const WAIT: Duration = Duration::from_secs(180);
const QUIET: Duration = Duration::from_secs(3);

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

fn config(dir: &std::path::Path, url: &str, kafka: &KafkaServer) -> std::path::PathBuf {
    let path = dir.join("rowlog.yaml");
    std::fs::write(
        &path,
        format!(
            "sources:\n  - name: app\n    mysql:\n      url: {url}\n      server_id: 4243\n      tables: {{ include: [\"shop.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\n  partitions: 3\n",
            kafka.bootstrap_servers()
        ),
    )
    .unwrap();
    path
}

fn int(e: &ChangeEvent, col: &str) -> i64 {
    let row = match e.op {
        Op::Delete => e.before.as_ref().unwrap(),
        _ => e.after.as_ref().unwrap(),
    };
    match row.get(col) {
        Some(Value::Int(i)) => *i,
        other => panic!("{col}: expected an int, got {other:?}"),
    }
}

async fn connect(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::new(mysql_async::Opts::from_url(url).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn kill_9_ten_times_under_50k_changes_loses_nothing() -> anyhow::Result<()> {
    let db = MariaDbServer::start().await?;
    let kafka = KafkaServer::start().await?;
    let url = db.create_database("shop").await?;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT NOT NULL)")
        .await?;
    c.query_drop("CREATE TABLE marker (id INT PRIMARY KEY)")
        .await?;
    c.query_drop("INSERT INTO kv SELECT seq, 0 FROM seq_1_to_200")
        .await?;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &url, &kafka);
    let topic = "rowlog.app.shop.kv";

    // The snapshot first, so every later value comes from the binlog.
    let mut rowlog = Rowlog::start(&cfg);
    alive(
        &mut rowlog,
        read_exact(&kafka, topic, 3, 200, WAIT, Duration::ZERO),
    )
    .await;

    let committed: Arc<Mutex<HashMap<i64, Vec<i64>>>> =
        Arc::new(Mutex::new((1..=200).map(|k| (k, vec![0])).collect()));
    let writer = {
        let committed = committed.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let mut c = connect(&url).await;
            let mut rng = Rng(0xc4a5_0001);
            let mut seq = 0i64;
            while seq < 50_000 {
                let mut tx = c.start_transaction(Default::default()).await.unwrap();
                let mut pending = Vec::new();
                for _ in 0..5 {
                    let k = rng.range(1, 200);
                    seq += 1;
                    tx.exec_drop("UPDATE kv SET v = ? WHERE id = ?", (seq, k))
                        .await
                        .unwrap();
                    pending.push((k, seq));
                }
                tx.commit().await.unwrap();
                let mut m = committed.lock().unwrap();
                for (k, v) in pending {
                    m.get_mut(&k).unwrap().push(v);
                }
            }
        })
    };

    let mut rng = Rng(0xc4a5_0002);
    let mut kills = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(rng.range(200, 1500) as u64)).await;
        rowlog.crash();
        kills += 1;
        rowlog = Rowlog::start(&cfg);
        if kills == 10 {
            break;
        }
    }
    let _dump = LogOnPanic(rowlog.log.clone());
    writer.await?;
    c.query_drop("INSERT INTO marker VALUES (1)").await?;
    alive(
        &mut rowlog,
        read_until(&kafka, "rowlog.app.shop.marker", 3, WAIT, |r| {
            event(r).is_some()
        }),
    )
    .await;
    let records = read_quiet(&kafka, topic, 3, QUIET, WAIT).await;
    let evs: Vec<ChangeEvent> = records.iter().filter_map(event).collect();

    let committed = committed.lock().unwrap().clone();
    let mut per_key: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut last_pos: HashMap<i64, MysqlPosition> = HashMap::new();
    for e in &evs {
        if e.op == Op::Read {
            continue;
        }
        per_key.entry(int(e, "id")).or_default().push(int(e, "v"));
        if let Position::Mysql(p) = &e.position {
            last_pos.insert(int(e, "id"), p.clone());
        }
    }
    let mut duplicates = 0usize;
    for (k, expected) in &committed {
        let index: HashMap<i64, usize> =
            expected.iter().enumerate().map(|(i, v)| (*v, i)).collect();
        let mut max = 0usize; // index 0 is the snapshot's value
        for v in per_key.get(k).map(Vec::as_slice).unwrap_or(&[]) {
            let j = *index
                .get(v)
                .unwrap_or_else(|| panic!("key {k}: value {v} was never committed"));
            if j <= max {
                duplicates += 1;
            } else {
                assert_eq!(
                    j,
                    max + 1,
                    "key {k}: value {v} (change {j}) came before change {} — a change is missing or out of order",
                    max + 1
                );
                max = j;
            }
        }
        assert_eq!(
            max,
            expected.len() - 1,
            "key {k}: only {max} of {} changes in the log",
            expected.len() - 1
        );
    }
    let table: BTreeMap<i64, i64> = c
        .query_map("SELECT id, v FROM kv", |(id, v): (i64, i64)| (id, v))
        .await?
        .into_iter()
        .collect();
    let mut rebuilt = BTreeMap::new();
    for e in &evs {
        rebuilt.insert(int(e, "id"), int(e, "v"));
    }
    assert_eq!(rebuilt, table, "the table rebuilt from the log differs");
    let changes: usize = committed.values().map(|v| v.len() - 1).sum();
    println!(
        "crash test: {kills} kills, {changes} committed changes, {} streamed events, {duplicates} duplicates",
        evs.iter().filter(|e| e.op != Op::Read).count()
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// rowlog follows the primary, stops; the primary keeps writing and a
/// replica (log_slave_updates) follows it; rowlog restarts against the
/// replica with the GTID saved from the primary: every change arrives once,
/// none is missing, and row versions keep growing (a new epoch).
#[tokio::test]
async fn failover_to_a_replica_resumes_by_gtid() -> anyhow::Result<()> {
    let primary = MariaDbServer::start().await?;
    let replica = MariaDbServer::start_with_args(&["--server-id=2"]).await?;
    let kafka = KafkaServer::start().await?;
    let url = primary.create_database("shop").await?;
    let mut p = connect(&url).await;
    p.query_drop("CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT NOT NULL)")
        .await?;
    p.query_drop("INSERT INTO kv SELECT seq, 0 FROM seq_1_to_10")
        .await?;
    let mut r = replica.connect().await?;
    r.query_drop(format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', MASTER_USE_GTID=slave_pos",
        primary.port()
    ))
    .await?;
    r.query_drop("START SLAVE").await?;

    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &url, &kafka);
    let topic = "rowlog.app.shop.kv";
    let mut rowlog = Rowlog::start(&cfg);
    let _dump = LogOnPanic(rowlog.log.clone());
    alive(
        &mut rowlog,
        read_exact(&kafka, topic, 3, 10, WAIT, Duration::ZERO),
    )
    .await;
    for k in 1..=10 {
        p.exec_drop("UPDATE kv SET v = 1 WHERE id = ?", (k,))
            .await?;
    }
    let first = alive(
        &mut rowlog,
        read_exact(&kafka, topic, 3, 20, WAIT, Duration::ZERO),
    )
    .await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());

    // Written while rowlog is down; the replica gets it too.
    for k in 1..=10 {
        p.exec_drop("UPDATE kv SET v = 2 WHERE id = ?", (k,))
            .await?;
    }
    let gtid: String = p.query_first("SELECT @@gtid_binlog_pos").await?.unwrap();
    let waited: Option<i64> = r
        .exec_first("SELECT MASTER_GTID_WAIT(?, 60)", (gtid.as_str(),))
        .await?;
    assert_eq!(waited, Some(0), "the replica did not catch up");

    // Fail over: rowlog now reads the replica.
    let replica_url = replica.url_for("shop");
    let cfg2 = config(dir.path(), &replica_url, &kafka);
    let mut rowlog = Rowlog::start(&cfg2);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    let recs = alive(&mut rowlog, read_exact(&kafka, topic, 3, 30, WAIT, QUIET)).await;
    let evs: Vec<ChangeEvent> = recs.iter().filter_map(event).collect();
    let twos: Vec<&ChangeEvent> = evs.iter().filter(|e| int(e, "v") == 2).collect();
    assert_eq!(
        twos.len(),
        10,
        "each change made during the failover exactly once"
    );
    let mut last: HashMap<i64, i64> = HashMap::new();
    for e in &evs {
        let Position::Mysql(pos) = &e.position else {
            panic!()
        };
        let v = pos.row_version()?;
        if e.op != Op::Read
            && let Some(prev) = last.insert(int(e, "id"), v)
        {
            assert!(v > prev, "row version went backwards after the failover");
        }
    }
    assert!(
        twos.iter()
            .all(|e| matches!(&e.position, Position::Mysql(p) if p.epoch == 1))
    );
    let _ = first;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// kill -9 in the middle of the initial snapshot: the next run resumes
/// after the last saved chunk instead of starting over, and every row ends
/// up in the log.
#[tokio::test]
async fn snapshot_resumes_after_kill_9() -> anyhow::Result<()> {
    let db = MariaDbServer::start().await?;
    let kafka = KafkaServer::start().await?;
    let url = db.create_database("shop").await?;
    let mut c = connect(&url).await;
    c.query_drop("CREATE TABLE kv (id INT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(200))")
        .await?;
    c.query_drop("INSERT INTO kv SELECT seq, seq, REPEAT('x', 200) FROM seq_1_to_40000")
        .await?;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &url, &kafka);
    let topic = "rowlog.app.shop.kv";
    let rowlog = Rowlog::start(&cfg);
    // Two progress lines: the second chunk waited until everything before
    // it — the first chunk's saved key included — was acknowledged, so a
    // saved key survives the kill.
    let deadline = Instant::now() + WAIT;
    while rowlog.log_text().matches("snapshot progress").count() < 2 {
        assert!(Instant::now() < deadline, "{}", rowlog.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rowlog.crash();
    let mut rowlog = Rowlog::start(&cfg);
    let _dump = LogOnPanic(rowlog.log.clone());
    assert!(
        rowlog.wait_log("streaming the binlog", WAIT).await,
        "{}",
        rowlog.log_text()
    );
    assert!(
        rowlog
            .log_text()
            .contains("resuming an interrupted snapshot")
    );
    c.query_drop("UPDATE kv SET v = -1 WHERE id = 40000")
        .await?;
    alive(
        &mut rowlog,
        read_until(&kafka, topic, 3, WAIT, |r| {
            event(r).is_some_and(|e| int(&e, "v") == -1)
        }),
    )
    .await;
    let records = read_quiet(&kafka, topic, 3, QUIET, WAIT).await;
    let evs: Vec<ChangeEvent> = records.iter().filter_map(event).collect();
    let ids: std::collections::BTreeSet<i64> = evs.iter().map(|e| int(e, "id")).collect();
    assert_eq!(ids.len(), 40_000, "every row is in the log");
    let reads = evs.iter().filter(|e| e.op == Op::Read).count();
    println!("snapshot resume: {reads} snapshot reads for 40000 rows");
    // The second run's own count: fewer rows than the table means it
    // continued after a saved key rather than starting over.
    let log = rowlog.log_text();
    let second: usize = log
        .lines()
        .find(|l| l.contains("table snapshot done"))
        .and_then(|l| l.split("rows=").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `table snapshot done rows=N` line: {log}"));
    assert!(
        second < 40_000,
        "the second run read all {second} rows again"
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

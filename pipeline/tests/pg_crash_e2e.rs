#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash test: `kill -9` of `rowlog run --only app` at random points while a
//! writer commits 50,000 changes, restarting it each time; then a clean stop.
//!
//! What must hold afterwards (the source's promise in DESIGN.md):
//! - every committed change is in Kafka at least once;
//! - per key, the distinct events (a duplicate is an event whose position was
//!   seen before for that key) appear in commit order with strictly increasing
//!   positions and are exactly the committed changes of that key — replays of
//!   an unacked window are allowed, regressions and phantom events are not;
//! - duplicates are byte-for-byte the same change (only the read time differs);
//! - a tombstone follows each delete before the key's next change;
//! - the state rebuilt from the topic equals the table.
//!
//! Each (re)start picks, at random, the default producer settings or
//! `linger.ms=500`: with the default the acks come within milliseconds and a
//! kill rarely finds records in flight; the wide window makes most kills land
//! on unacked records, which is where confirming too early would lose them.
//!
//! The random schedule is seeded; the seed is printed (set
//! `ROWLOG_CRASH_SEED` to replay one). tansu's high watermark is unreliable,
//! so completeness is decided by marker rows the writer commits last.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::{Rowlog, confirmed_flush};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rowlog_schemas::encode::json;
use rowlog_schemas::position::PgPosition;
use rowlog_schemas::{ChangeEvent, Op, Position, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

/// Changes the writer commits (before the markers).
const CHANGES: usize = 50_000;
/// Keys the changes are spread over.
const KEYS: u64 = 3_000;
/// Changes per transaction: 1 to this.
const MAX_TX: u64 = 50;
/// The writer takes at least this long, so the kills land while it writes.
const WRITE_FOR: Duration = Duration::from_secs(30);
/// At least this many `kill -9`s.
const MIN_KILLS: usize = 10;
/// Marker rows committed last (ids from `MARKER_BASE`), enough that every
/// partition gets one.
const MARKERS: i64 = 32;
const MARKER_BASE: i64 = 1_000_000;
const PARTITIONS: i32 = 3;
const TOPIC: &str = "rowlog.app.public.items";
const WAIT: Duration = Duration::from_secs(120);

/// splitmix64: a seeded generator, so a failing schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One committed change, as the writer recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    op: Op,
    /// The row's `seq` after the change (unique per change; for a delete,
    /// the change's own number, not in the row).
    seq: i64,
}

/// What the writer committed, in commit order.
#[derive(Debug, Default)]
struct Committed {
    changes: BTreeMap<i64, Vec<Change>>,
    total: usize,
    transactions: usize,
}

/// Commits `CHANGES` random inserts/updates/deletes in transactions of 1 to
/// `MAX_TX` changes, taking at least `WRITE_FOR`; then the marker rows.
async fn write(pg_url: String, seed: u64) -> anyhow::Result<Committed> {
    let (mut client, conn) = tokio_postgres::connect(&pg_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let mut rng = Rng(seed);
    let mut live: HashMap<i64, bool> = HashMap::new();
    let mut out = Committed::default();
    let mut seq: i64 = 0;
    let started = Instant::now();
    let insert = client
        .prepare("INSERT INTO items (id, seq, payload) VALUES ($1, $2, $3)")
        .await?;
    let update = client
        .prepare("UPDATE items SET seq = $2, payload = $3 WHERE id = $1")
        .await?;
    let delete = client.prepare("DELETE FROM items WHERE id = $1").await?;
    while out.total < CHANGES {
        let n = (rng.range(1, MAX_TX) as usize).min(CHANGES - out.total);
        let tx = client.transaction().await?;
        let mut pending: Vec<(i64, Change)> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = rng.range(1, KEYS) as i64;
            seq += 1;
            let len = rng.range(10, 120) as usize;
            let payload: String = (0..len)
                .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
                .collect();
            let exists = live.get(&id).copied().unwrap_or(false);
            let op = if !exists {
                tx.execute(&insert, &[&id, &seq, &payload]).await?;
                Op::Insert
            } else if rng.range(0, 9) < 7 {
                tx.execute(&update, &[&id, &seq, &payload]).await?;
                Op::Update
            } else {
                tx.execute(&delete, &[&id]).await?;
                Op::Delete
            };
            live.insert(id, op != Op::Delete);
            pending.push((id, Change { op, seq }));
        }
        tx.commit().await?;
        out.transactions += 1;
        out.total += pending.len();
        for (id, c) in pending {
            out.changes.entry(id).or_default().push(c);
        }
        // Pace: at least WRITE_FOR in all.
        let due = WRITE_FOR.mul_f64(out.total as f64 / CHANGES as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    // The markers, last: once every one has been read back, every partition
    // has been read past everything committed before them.
    let tx = client.transaction().await?;
    for i in 0..MARKERS {
        seq += 1;
        let id = MARKER_BASE + i;
        tx.execute(&insert, &[&id, &seq, &"marker"]).await?;
        out.changes.entry(id).or_default().push(Change {
            op: Op::Insert,
            seq,
        });
    }
    tx.commit().await?;
    out.transactions += 1;
    out.total += MARKERS as usize;
    Ok(out)
}

/// One record of the table's topic, in log order.
struct Rec {
    partition: i32,
    key: i64,
    /// `None`: a tombstone.
    event: Option<ChangeEvent>,
}

/// Reads the topic from the beginning until every marker came back.
async fn read_until_markers(kafka: &KafkaServer) -> Vec<Rec> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "rowlog-crash-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    let mut markers_seen = std::collections::HashSet::new();
    let mut marker_partitions = std::collections::HashSet::new();
    while markers_seen.len() < MARKERS as usize {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{TOPIC}: {} records and {} of {MARKERS} markers after {WAIT:?}",
                    out.len(),
                    markers_seen.len()
                )
            })
            .unwrap();
        let key: serde_json::Value =
            serde_json::from_slice(msg.key().expect("every record has a key")).unwrap();
        let key = key["id"].as_i64().unwrap();
        let event = msg.payload().map(|v| json::decode(v).unwrap());
        if key >= MARKER_BASE && event.is_some() {
            markers_seen.insert(key);
            marker_partitions.insert(msg.partition());
        }
        out.push(Rec {
            partition: msg.partition(),
            key,
            event,
        });
    }
    // A partition without a marker might not have been read to its end.
    assert_eq!(
        marker_partitions.len(),
        PARTITIONS as usize,
        "the markers must cover every partition"
    );
    out
}

/// Waits until the run logs that it streams (panics if it exits first).
async fn wait_streaming(rowlog: &mut Rowlog) {
    let deadline = Instant::now() + WAIT;
    loop {
        if strip_ansi(&rowlog.log_text()).contains("source: streaming ") {
            return;
        }
        if let Some(status) = rowlog.child.try_wait().unwrap() {
            panic!(
                "rowlog exited on its own ({status}) at start; log:\n{}",
                rowlog.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "rowlog not streaming after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The log without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A config for source `app` with `PARTITIONS` partitions per topic and
/// `linger.ms` (`None`: rowlog's default).
fn config(
    dir: &std::path::Path,
    pg: &PostgresServer,
    kafka: &KafkaServer,
    linger_ms: Option<u32>,
) -> std::path::PathBuf {
    let path = dir.join(format!("rowlog-linger-{}.yaml", linger_ms.unwrap_or(0)));
    let options = linger_ms.map_or(String::new(), |ms| {
        format!("    options: {{ linger.ms: \"{ms}\" }}\n")
    });
    let text = format!(
        "sources:\n  - name: app\n    postgres:\n      url: {url}\n      tables: {{ include: [\"public.*\"] }}\n\
         log:\n  kafka:\n    brokers: [\"{brokers}\"]\n{options}  topic_prefix: rowlog\n  partitions: {PARTITIONS}\n",
        url = pg.url("app"),
        brokers = kafka.bootstrap_servers(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn pg_pos(e: &ChangeEvent) -> PgPosition {
    match e.position {
        Position::Postgres(p) => p,
        Position::Mysql(_) => panic!("a MySQL position from a PostgreSQL source"),
    }
}

fn int(row: &rowlog_schemas::Row, col: &str) -> i64 {
    match row.get(col) {
        Some(Value::Int(i)) => *i,
        other => panic!("{col}: expected an int, got {other:?}"),
    }
}

fn text(row: &rowlog_schemas::Row, col: &str) -> String {
    match row.get(col) {
        Some(Value::Text(s)) => s.clone(),
        other => panic!("{col}: expected text, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_loses_nothing_and_keeps_per_key_order() -> anyhow::Result<()> {
    let seed: u64 = match std::env::var("ROWLOG_CRASH_SEED") {
        Ok(s) => s.parse()?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };
    println!("crash test seed: {seed} (replay with ROWLOG_CRASH_SEED={seed})");
    let t0 = Instant::now();
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute(
        "CREATE TABLE items (id int8 PRIMARY KEY, seq int8 NOT NULL, payload text NOT NULL)",
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let configs = [
        config(dir.path(), &pg, &kafka, None),
        config(dir.path(), &pg, &kafka, Some(500)),
    ];

    // The slot must exist before the first write, or that write is not
    // captured (the table starts empty, so the snapshot is empty).
    let mut rowlog = Rowlog::start(&configs[0]);
    let deadline = Instant::now() + WAIT;
    while confirmed_flush(&c).await.is_none() {
        assert!(
            rowlog.child.try_wait()?.is_none(),
            "rowlog exited at start; log:\n{}",
            rowlog.log_text()
        );
        assert!(Instant::now() < deadline, "no slot after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let writer = tokio::spawn(write(pg.conn_string("app"), seed ^ 0x5eed));
    let mut rng = Rng(seed);
    let mut kills = 0;
    let mut wide = 0;
    let mut from_streaming = 0;
    // Runs during which the slot moved: kills there test that nothing
    // unacked was confirmed.
    let mut advanced = 0;
    while kills < MIN_KILLS || !writer.is_finished() {
        let slot_before = confirmed_flush(&c).await;
        let sleep = Duration::from_millis(rng.range(200, 2000));
        // Two kills in three count their sleep from the moment the run
        // streams: status updates go out every second, so those land around
        // confirmations; the rest count from the process start and often
        // hit the startup (connect, topics, slot checks).
        if rng.range(0, 2) > 0 {
            wait_streaming(&mut rowlog).await;
            from_streaming += 1;
        }
        tokio::time::sleep(sleep).await;
        if let Some(status) = rowlog.child.try_wait()? {
            panic!(
                "rowlog exited on its own ({status}) before kill {}; log:\n{}",
                kills + 1,
                rowlog.log_text()
            );
        }
        rowlog.crash();
        kills += 1;
        if confirmed_flush(&c).await > slot_before {
            advanced += 1;
        }
        let pick = rng.range(0, 1) as usize;
        wide += pick;
        rowlog = Rowlog::start(&configs[pick]);
    }
    let committed = writer.await??;
    let wrote = t0.elapsed();

    // Catch up, then stop cleanly: exit 0, the slot past the markers.
    let records = read_until_markers(&kafka).await;
    let log = rowlog.log_text();
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}; log:\n{log}");
    let confirmed = confirmed_flush(&c).await.expect("the slot");

    // Per key, in log order: dedup by position, check order and content.
    let mut by_key: BTreeMap<i64, Vec<&Rec>> = BTreeMap::new();
    for r in &records {
        by_key.entry(r.key).or_default().push(r);
    }
    let mut duplicates = 0usize;
    let mut tombstones = 0usize;
    let mut rebuilt: BTreeMap<i64, (i64, String)> = BTreeMap::new();
    let mut last_commit = None;
    for (key, recs) in &by_key {
        assert!(
            recs.iter().all(|r| r.partition == recs[0].partition),
            "key {key} is in more than one partition"
        );
        let mut seen: HashMap<PgPosition, &ChangeEvent> = HashMap::new();
        let mut distinct: Vec<(PgPosition, Change)> = Vec::new();
        // A delete waits for its tombstone before the key's next change.
        let mut owes_tombstone: Option<PgPosition> = None;
        for r in recs {
            let Some(e) = &r.event else {
                tombstones += 1;
                owes_tombstone = None;
                continue;
            };
            let pos = pg_pos(e);
            if let Some(first) = seen.get(&pos) {
                duplicates += 1;
                let mut again = e.clone();
                again.ts_ms = first.ts_ms;
                assert_eq!(&again, *first, "key {key}: a duplicate differs");
                continue;
            }
            if let Some((prev, _)) = distinct.last() {
                assert!(
                    pos > *prev,
                    "key {key}: {pos} follows {prev} (a regression after removing duplicates)"
                );
            }
            assert_eq!(
                owes_tombstone, None,
                "key {key}: no tombstone after the delete at {owes_tombstone:?} before {pos}"
            );
            let change = match e.op {
                Op::Insert | Op::Update => {
                    let after = e.after.as_ref().unwrap();
                    assert_eq!(int(after, "id"), *key);
                    rebuilt.insert(*key, (int(after, "seq"), text(after, "payload")));
                    Change {
                        op: e.op,
                        seq: int(after, "seq"),
                    }
                }
                Op::Delete => {
                    assert_eq!(int(e.before.as_ref().unwrap(), "id"), *key);
                    rebuilt.remove(key);
                    owes_tombstone = Some(pos);
                    Change {
                        op: Op::Delete,
                        seq: 0,
                    }
                }
                op => panic!("key {key}: unexpected op {op:?}"),
            };
            last_commit = last_commit.max(Some(pos.commit_lsn));
            seen.insert(pos, e);
            distinct.push((pos, change));
        }
        assert_eq!(
            owes_tombstone, None,
            "key {key}: no tombstone after its last delete"
        );
        // Exactly the committed changes, in commit order (deletes carry no
        // seq in the log: compare their place only).
        let want: Vec<Change> = committed.changes.get(key).cloned().unwrap_or_default();
        let got: Vec<Change> = distinct.into_iter().map(|(_, c)| c).collect();
        let want_cmp: Vec<(Op, i64)> = want
            .iter()
            .map(|c| (c.op, if c.op == Op::Delete { 0 } else { c.seq }))
            .collect();
        let got_cmp: Vec<(Op, i64)> = got.iter().map(|c| (c.op, c.seq)).collect();
        assert_eq!(
            got_cmp, want_cmp,
            "key {key}: the log differs from what was committed"
        );
    }
    for key in committed.changes.keys() {
        assert!(
            by_key.contains_key(key),
            "key {key}: committed but never in the log"
        );
    }

    // The state rebuilt from the log equals the table.
    let table: BTreeMap<i64, (i64, String)> = c
        .query("SELECT id, seq, payload FROM items", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(rebuilt.len(), table.len(), "row count");
    assert!(
        rebuilt == table,
        "the state rebuilt from the log differs from the table"
    );

    // Otherwise the kills never met a confirmed position and the test
    // proved less than it claims.
    assert!(
        advanced >= 3,
        "the slot moved during only {advanced} of {kills} killed runs"
    );
    let last_commit = last_commit.expect("events");
    assert!(
        confirmed >= last_commit,
        "slot confirmed {confirmed}, last commit {last_commit}"
    );
    println!(
        "crash test: seed {seed}, {kills} kills ({from_streaming} timed from streaming, \
         {advanced} after the slot moved; {wide} restarts with linger.ms=500), {} changes in {} transactions written in {:.1}s; \
         {} records read ({} tombstones), {duplicates} duplicates; total {:.1}s",
        committed.total,
        committed.transactions,
        wrote.as_secs_f64(),
        records.len(),
        tombstones,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

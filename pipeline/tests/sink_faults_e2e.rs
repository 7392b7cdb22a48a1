//! SQL follower sinks under faults, through the real binary: the follower
//! database restarts, the broker freezes or is killed and restarted (with
//! durable storage), a corrupt record sits in a table
//! topic, the source adds a column, and two rowlog processes share one
//! sink's partitions while one of them is killed. Every change must take
//! effect exactly once (values are running sums and counters), and
//! `rowlog_offsets` must end at each partition's end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, read_until, until_offsets_at_ends};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rowlog_tests::kafka::{KafkaOptions, KafkaServer, KafkaStorage};
use rowlog_tests::postgres::{PostgresServer, Shutdown};

const WAIT: Duration = Duration::from_secs(180);

fn config(dir: &std::path::Path, src: &str, kafka: &KafkaServer, dst: &str) -> PathBuf {
    let path = dir.join("rowlog.yaml");
    std::fs::write(
        &path,
        format!(
            "sources:\n  - name: app\n    postgres:\n      url: {src}\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\n  partitions: 3\nsinks:\n  - name: replica\n    source: app\n    batch: {{ max_rows: 200, max_wait: 100ms }}\n    postgres:\n      url: {dst}\n      auto_evolve: true\n",
            kafka.bootstrap_servers()
        ),
    )
    .unwrap();
    path
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

/// `id|v|n[|note]` rows of kv, or `None` when the table is not there (yet).
async fn kv(c: &tokio_postgres::Client, with_note: bool) -> Option<Vec<String>> {
    let note = if with_note {
        " || '|' || coalesce(t.note, '-')"
    } else {
        ""
    };
    let sql = format!("SELECT t.id || '|' || t.v || '|' || t.n{note} FROM kv AS t ORDER BY t.id");
    c.query(&sql, &[])
        .await
        .ok()
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Waits until the follower's kv equals the source's; a fresh connection to
/// the follower each time (it may have restarted).
async fn until_equal(
    src: &tokio_postgres::Client,
    dst_url: &str,
    with_note: bool,
    rowlogs: &mut [&mut Rowlog],
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let want = kv(src, with_note).await;
        let got = match tokio_postgres::connect(dst_url, tokio_postgres::NoTls).await {
            Ok((c, conn)) => {
                tokio::spawn(conn);
                kv(&c, with_note).await
            }
            Err(_) => None,
        };
        if want == got {
            return;
        }
        let dead = rowlogs.iter_mut().any(|r| !r.running());
        if Instant::now() > deadline || dead {
            let logs: Vec<String> = rowlogs.iter().map(|r| r.log_text()).collect();
            panic!(
                "follower differs: source {} rows, follower {:?} rows\nlogs:\n{}",
                want.map_or(0, |w| w.len()),
                got.map(|g| g.len()),
                logs.join("\n-----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The source table of these tests: kv with 100 rows of zeros.
async fn create_kv(c: &tokio_postgres::Client) {
    c.batch_execute(
        "CREATE TABLE kv (id int PRIMARY KEY, v bigint NOT NULL, n int NOT NULL);
         INSERT INTO kv SELECT g, 0, 0 FROM generate_series(1, 100) g;",
    )
    .await
    .unwrap();
}

async fn updates(c: &tokio_postgres::Client, from: i64, count: i64) {
    for i in from..from + count {
        let k = i % 100 + 1;
        c.batch_execute(&format!(
            "UPDATE kv SET v = v + {i}, n = n + 1 WHERE id = {k}"
        ))
        .await
        .unwrap();
    }
}

/// The follower restarts, the broker freezes, a corrupt record arrives, the
/// source adds a column: the follower converges each time, the corrupt
/// record lands in the dead-letter topic, and the stored offsets are the
/// partitions' ends.
#[tokio::test]
async fn follower_restart_broker_freeze_corrupt_record_and_new_column() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let mut dst_pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    let src = src_pg.connect("app").await?;
    create_kv(&src).await;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &src_pg.url("app"), &kafka, &dst_url);
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    updates(&src, 0, 300).await;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;

    // The follower goes down while changes keep coming.
    dst_pg.stop_server(Shutdown::Fast)?;
    updates(&src, 300, 300).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    dst_pg.start_again().await?;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;

    // The broker freezes for a while.
    kafka.pause()?;
    updates(&src, 600, 200).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    kafka.resume()?;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;

    // A record that is not a rowlog message.
    let producer: FutureProducer = kafka.client_config().create()?;
    producer
        .send(
            FutureRecord::to("rowlog.app.public.kv")
                .partition(1)
                .key("garbage")
                .payload("this is not json"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    let dead = read_until(&kafka, "rowlog.dlq.replica", 1, WAIT, |r| r.value.is_some()).await;
    let record: serde_json::Value = serde_json::from_slice(dead[0].value.as_ref().unwrap())?;
    assert!(
        record["reason"].as_str().unwrap().contains("decode"),
        "{record}"
    );
    assert_eq!(record["value"], "this is not json");

    // A new column at the source, filled in afterwards.
    src.batch_execute(
        "ALTER TABLE kv ADD COLUMN note text; UPDATE kv SET note = 'n' || id WHERE id <= 10;",
    )
    .await?;
    updates(&src, 800, 100).await;
    until_equal(&src, &dst_url, true, &mut [&mut rowlog]).await;

    // Exactly once: every update counted once.
    let dst = connect(&dst_url).await;
    let total: i64 = dst
        .query_one("SELECT sum(n)::bigint FROM kv", &[])
        .await?
        .get(0);
    assert_eq!(total, 900);
    // Offsets at the partitions' ends (the corrupt record included).
    until_offsets_at_ends(&kafka, &dst, "replica", "rowlog.app.public.kv", 3).await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// One source process and two sink processes sharing the sink's partitions
/// (one consumer group); one sink process is killed mid-way and the other
/// takes its partitions over from the follower's offsets: every change is
/// applied exactly once.
#[tokio::test]
async fn two_processes_share_a_sink_and_one_is_killed() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let dst_url = pg.create_database("replica").await?;
    let src = pg.connect("app").await?;
    create_kv(&src).await;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &pg.url("app"), &kafka, &dst_url);
    let mut source = Rowlog::start_only(&cfg, Some("app"));
    let _d1 = LogOnPanic(source.log.clone());
    let a = Rowlog::start_only(&cfg, Some("replica"));
    let mut b = Rowlog::start_only(&cfg, Some("replica"));
    let _d3 = LogOnPanic(b.log.clone());
    updates(&src, 0, 1500).await;
    // Both members hold partitions before one of them dies.
    let deadline = Instant::now() + WAIT;
    while !(a.log_text().contains("partition assigned")
        && b.log_text().contains("partition assigned"))
    {
        assert!(
            Instant::now() < deadline,
            "a:\n{}\nb:\n{}",
            a.log_text(),
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let a_log = a.log_text();
    a.crash();
    updates(&src, 1500, 1500).await;
    until_equal(&src, &dst_url, false, &mut [&mut source, &mut b]).await;
    let dst = connect(&dst_url).await;
    let total: i64 = dst
        .query_one("SELECT sum(n)::bigint FROM kv", &[])
        .await?
        .get(0);
    assert_eq!(total, 3000);
    // b took over a's partitions.
    let taken: Vec<&str> = a_log
        .lines()
        .filter(|l| l.contains("partition assigned"))
        .collect();
    let b_log = b.log_text();
    for line in &taken {
        let part = line
            .split("partition=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        assert!(
            b_log
                .lines()
                .any(|l| l.contains("partition assigned")
                    && l.contains(&format!("partition={part} "))),
            "b never took partition {part} over:\n{b_log}"
        );
    }
    println!("a held {} partitions before it was killed", taken.len());
    assert!(b.stop(Duration::from_secs(60)).success());
    assert!(source.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// The follower is down when rowlog starts: the sink keeps retrying (the
/// source runs meanwhile) and catches up once the follower is up.
#[tokio::test]
async fn follower_down_at_start_is_retried() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let mut dst_pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    dst_pg.stop_server(Shutdown::Fast)?;
    let src = src_pg.connect("app").await?;
    create_kv(&src).await;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &src_pg.url("app"), &kafka, &dst_url);
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    updates(&src, 0, 200).await;
    assert!(
        rowlog.wait_log("opening the target", WAIT).await,
        "no retry logged:\n{}",
        rowlog.log_text()
    );
    assert!(rowlog.running(), "{}", rowlog.log_text());
    dst_pg.start_again().await?;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// Ids of table `t` in the follower (empty while it does not exist).
async fn ids(c: &tokio_postgres::Client) -> Vec<i64> {
    c.query("SELECT id::int8 FROM t ORDER BY id", &[])
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

/// The offsets fence through the binary: the stored offset moves under a
/// running sink (as when a second worker applied records); the sink's next
/// batch is refused with nothing of it applied, and it reads on from the
/// stored offset: the records before it are never applied by this worker.
#[tokio::test]
async fn a_sink_whose_offsets_moved_reads_on_from_the_stored_ones() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let dst_pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    let src = src_pg.connect("app").await?;
    src.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY);
         INSERT INTO t SELECT generate_series(1, 5);",
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &src_pg.url("app"), &kafka, &dst_url);
    let one_partition = std::fs::read_to_string(&cfg)?.replace("partitions: 3", "partitions: 1");
    std::fs::write(&cfg, one_partition)?;
    let rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    let dst = connect(&dst_url).await;
    let deadline = Instant::now() + WAIT;
    while ids(&dst).await != vec![1, 2, 3, 4, 5] {
        assert!(Instant::now() < deadline, "{}", rowlog.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = "SELECT next_offset FROM rowlog_offsets WHERE sink = 'replica' AND topic = 'rowlog.app.public.t'";
    let next: i64 = dst.query_one(stored, &[]).await?.get(0);
    assert_eq!(next, 5, "one record per snapshot row");
    // "Another worker" applied offsets 5..8 (rows 6, 7, 8).
    dst.execute(
        "UPDATE rowlog_offsets SET next_offset = 8 WHERE sink = 'replica'",
        &[],
    )
    .await?;
    src.batch_execute("INSERT INTO t SELECT generate_series(6, 10)")
        .await?;
    while !ids(&dst).await.contains(&10) {
        assert!(Instant::now() < deadline, "{}", rowlog.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ids(&dst).await, vec![1, 2, 3, 4, 5, 9, 10]);
    let next: i64 = dst.query_one(stored, &[]).await?.get(0);
    assert_eq!(next, 10);
    assert!(
        rowlog.log_text().contains("another worker applied them"),
        "{}",
        rowlog.log_text()
    );
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// The broker is killed (-9) and restarted while the source takes changes
/// (durable SQLite storage): the source and the sink reconnect, the
/// follower ends equal to the source with every change counted once, and
/// the stored offsets are the partitions' ends.
#[tokio::test]
async fn broker_killed_and_restarted_mid_stream() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let dst_pg = PostgresServer::start().await?;
    let mut kafka = KafkaServer::start_with(KafkaOptions {
        storage: KafkaStorage::Sqlite,
        ..KafkaOptions::default()
    })
    .await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    let src = src_pg.connect("app").await?;
    create_kv(&src).await;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), &src_pg.url("app"), &kafka, &dst_url);
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    updates(&src, 0, 300).await;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;

    // Changes keep coming while the broker dies and comes back.
    let writer_conn = src_pg.connect("app").await?;
    let writer = tokio::spawn(async move { updates(&writer_conn, 300, 300).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    kafka.restart().await?;
    writer.await?;
    updates(&src, 600, 100).await;
    until_equal(&src, &dst_url, false, &mut [&mut rowlog]).await;

    let dst = connect(&dst_url).await;
    let total: i64 = dst
        .query_one("SELECT sum(n)::bigint FROM kv", &[])
        .await?
        .get(0);
    assert_eq!(total, 700, "every update counted once");
    until_offsets_at_ends(&kafka, &dst, "replica", "rowlog.app.public.kv", 3).await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

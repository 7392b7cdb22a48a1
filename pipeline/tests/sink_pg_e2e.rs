//! SQL follower sinks end to end through the real binary: a source
//! (PostgreSQL or MariaDB) into tansu, and a PostgreSQL or MariaDB follower
//! applying it. The follower must equal the source (rows compared as text,
//! ordered by key), hold the right offsets, survive kill -9 of rowlog,
//! converge when replayed from the beginning, and send a row it cannot hold
//! to the dead-letter topic while applying the rest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, alive, read_until, until_offsets_at_ends};
use mysql_async::prelude::Queryable;
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::mariadb::MariaDbServer;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(180);

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

fn write_config(dir: &std::path::Path, source: &str, kafka: &KafkaServer, sink: &str) -> PathBuf {
    write_config_with(dir, source, kafka, sink, 3)
}

fn write_config_with(
    dir: &std::path::Path,
    source: &str,
    kafka: &KafkaServer,
    sink: &str,
    partitions: u32,
) -> PathBuf {
    let path = dir.join("rowlog.yaml");
    let text = format!(
        "sources:\n  - name: app\n{source}log:\n  kafka:\n    brokers: [\"{brokers}\"]\n  topic_prefix: rowlog\n  partitions: {partitions}\nsinks:\n  - name: replica\n    source: app\n    batch: {{ max_rows: 500, max_wait: 100ms }}\n{sink}",
        brokers = kafka.bootstrap_servers(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn pg_source(url: &str) -> String {
    format!("    postgres:\n      url: {url}\n      tables: {{ include: [\"public.*\"] }}\n")
}

fn pg_sink(url: &str) -> String {
    format!("    postgres:\n      url: {url}\n")
}

/// `SELECT id, <cols as text> ... ORDER BY id` of a PostgreSQL table.
async fn pg_rows(
    c: &tokio_postgres::Client,
    table: &str,
    cols: &[&str],
) -> Vec<Vec<Option<String>>> {
    let list: Vec<String> = cols.iter().map(|c| format!("t.{c}::text")).collect();
    // Qualified: a bare ORDER BY id would sort by the `id::text` output.
    let sql = format!("SELECT {} FROM {table} AS t ORDER BY t.id", list.join(", "));
    c.query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (0..cols.len())
                .map(|i| r.get::<_, Option<String>>(i))
                .collect()
        })
        .collect()
}

/// Polls until the follower's rows equal the source's (panics after `wait`
/// with both).
async fn until_equal<F, Fut>(rowlog: &mut Rowlog, wait: Duration, mut both: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (Vec<Vec<Option<String>>>, Vec<Vec<Option<String>>>)>,
{
    let deadline = Instant::now() + wait;
    loop {
        let (src, dst) = both().await;
        if src == dst {
            return;
        }
        if Instant::now() > deadline || !rowlog.running() {
            let n = src.len().min(5);
            panic!(
                "follower differs from the source after {wait:?}: source {} rows, follower {} rows; first source rows {:?}, first follower rows {:?}\nlog:\n{}",
                src.len(),
                dst.len(),
                &src[..n],
                &dst[..dst.len().min(5)],
                rowlog.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(12,2), tags text[], at timestamptz, doc jsonb, big bytea)";
const ITEM_COLS: &[&str] = &["id", "name", "price", "tags", "at", "doc", "big"];

/// PostgreSQL → PostgreSQL: inserts, updates (incl. unchanged TOAST),
/// deletes, a truncate and an added column; the follower equals the source
/// and `rowlog_offsets` holds the partitions' ends.
#[tokio::test]
async fn pg_to_pg_follower_equals_the_source() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let follower_url = pg.create_database("replica").await?;
    let src = pg.connect("app").await?;
    src.batch_execute(ITEMS).await?;
    src.batch_execute(
        "INSERT INTO items SELECT g, 'n' || g, g * 1.25, ARRAY['a', 'b' || g], '2024-01-01'::timestamptz + g * interval '1 hour', jsonb_build_object('g', g), decode(repeat('ab', 5000), 'hex') FROM generate_series(1, 200) g",
    )
    .await?;
    let dir = tempfile::tempdir()?;
    // One partition: a truncate is ordered against every key's changes only
    // within one partition (see the sink worker's module doc).
    let cfg = write_config_with(
        dir.path(),
        &pg_source(&pg.url("app")),
        &kafka,
        &pg_sink(&follower_url),
        1,
    );
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    let dst = pg.connect("replica").await?;
    let compare = |cols: &'static [&'static str]| {
        let (s, d) = (&src, &dst);
        move || async move {
            (
                pg_rows(s, "public.items", cols).await,
                pg_rows(d, "public.items", cols).await,
            )
        }
    };
    alive(&mut rowlog, until_equal_ok(&dst)).await;
    until_equal(&mut rowlog, WAIT, compare(ITEM_COLS)).await;

    src.batch_execute(
        "UPDATE items SET name = name || '!' WHERE id % 3 = 0;
         UPDATE items SET price = NULL, tags = '{}' WHERE id % 5 = 0;
         DELETE FROM items WHERE id % 7 = 0;
         INSERT INTO items VALUES (1000, 'late', 1.5, NULL, NULL, '[1,2]', NULL);",
    )
    .await?;
    until_equal(&mut rowlog, WAIT, compare(ITEM_COLS)).await;

    src.batch_execute("TRUNCATE items").await?;
    src.batch_execute("INSERT INTO items (id, name) VALUES (1, 'after truncate')")
        .await?;
    until_equal(&mut rowlog, WAIT, compare(ITEM_COLS)).await;

    // offsets: one row per partition that had records, at its end.
    let n: i64 = dst
        .query_one(
            "SELECT count(*) FROM rowlog_offsets WHERE sink = 'replica'",
            &[],
        )
        .await?
        .get(0);
    assert!(n >= 1, "no offsets stored");
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// Waits until the follower has the items table at all.
async fn until_equal_ok(dst: &tokio_postgres::Client) {
    loop {
        let r = dst
            .query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_name = 'items'",
                &[],
            )
            .await
            .unwrap();
        if r.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// kill -9 of rowlog ten times while the source takes 50,000 changes: the
/// follower ends equal to the source (every change applied exactly once:
/// the values are running sums, so a change applied twice shows).
#[tokio::test]
async fn pg_follower_survives_kill_9_exactly_once() -> anyhow::Result<()> {
    let kv = KvSetup::start().await?;
    let (pg, cfg) = (&kv.pg, &kv.cfg);
    let mut rowlog = Rowlog::start_only(cfg, None);
    let writer = kv_writer(pg.url("app"), 10_000, 0x51_4b01);
    let mut rng = Rng(0x51_4b02);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(rng.range(300, 1500) as u64)).await;
        rowlog.crash();
        rowlog = Rowlog::start_only(cfg, None);
    }
    let _dump = LogOnPanic(rowlog.log.clone());
    writer.await?;
    let dst = kv.converges(&mut rowlog, 50_000).await?;
    // Every stored offset is its partition's end (duplicates a restarted
    // source wrote may still be applying: they change no row but move the
    // offsets).
    until_offsets_at_ends(&kv.kafka, &dst, "replica", "rowlog.app.public.kv", 3).await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// SIGTERM to rowlog five times while the source takes 25,000 changes:
/// each time it exits 0 well within the default 30 s bound, a restart goes
/// on, and the follower ends equal to the source with every change applied
/// once (running sums, as above).
#[tokio::test]
async fn sigterm_under_load_exits_0_and_loses_and_repeats_nothing() -> anyhow::Result<()> {
    let kv = KvSetup::start().await?;
    let (pg, cfg) = (&kv.pg, &kv.cfg);
    let mut rowlog = Rowlog::start_only(cfg, None);
    let writer = kv_writer(pg.url("app"), 5_000, 0x0051_677e);
    let mut rng = Rng(0x0051_677f);
    for _ in 0..5 {
        // SIGTERM while the sink applies (once it holds its partitions:
        // tansu 0.6 never completes a group whose leader left between
        // JoinGroup and SyncGroup, see the test-server notes).
        assert!(
            rowlog.wait_log("partition assigned", WAIT).await,
            "{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(rng.range(300, 1500) as u64)).await;
        let log = rowlog.log_text();
        let started = Instant::now();
        let status = rowlog.stop(Duration::from_secs(60));
        let took = started.elapsed();
        assert!(
            status.success(),
            "exit {status:?} after SIGTERM under load\n{log}"
        );
        assert!(took < Duration::from_secs(30), "took {took:?} to stop");
        rowlog = Rowlog::start_only(cfg, None);
    }
    let _dump = LogOnPanic(rowlog.log.clone());
    writer.await?;
    kv.converges(&mut rowlog, 25_000).await?;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// The kv scenario's servers and config: a PostgreSQL source (database app
/// with table kv) and follower (database replica), a broker, 3 partitions.
struct KvSetup {
    pg: PostgresServer,
    kafka: KafkaServer,
    src: tokio_postgres::Client,
    cfg: PathBuf,
    _dir: tempfile::TempDir,
}

impl KvSetup {
    async fn start() -> anyhow::Result<KvSetup> {
        let pg = PostgresServer::start().await?;
        let kafka = KafkaServer::start().await?;
        pg.create_database("app").await?;
        let follower_url = pg.create_database("replica").await?;
        let src = pg.connect("app").await?;
        src.batch_execute(KV).await?;
        let dir = tempfile::tempdir()?;
        let cfg = write_config(
            dir.path(),
            &pg_source(&pg.url("app")),
            &kafka,
            &pg_sink(&follower_url),
        );
        Ok(KvSetup {
            pg,
            kafka,
            src,
            cfg,
            _dir: dir,
        })
    }

    /// Waits until the follower's kv equals the source's, and checks that
    /// its change counts add up to `changes` (each applied once); returns
    /// a client of the follower.
    async fn converges(
        &self,
        rowlog: &mut Rowlog,
        changes: i64,
    ) -> anyhow::Result<tokio_postgres::Client> {
        let dst = self.pg.connect("replica").await?;
        until_equal_ok_table(&dst, "kv").await;
        let cols: &[&str] = &["id", "v", "n"];
        let (s, d) = (&self.src, &dst);
        until_equal(rowlog, WAIT, move || async move {
            (
                pg_rows(s, "public.kv", cols).await,
                pg_rows(d, "public.kv", cols).await,
            )
        })
        .await;
        let total: i64 = dst
            .query_one("SELECT sum(n)::bigint FROM kv", &[])
            .await?
            .get(0);
        assert_eq!(total, changes);
        Ok(dst)
    }
}

/// 200 rows whose `v` takes running sums and `n` counts the changes, so a
/// change applied twice shows.
const KV: &str = "CREATE TABLE kv (id int PRIMARY KEY, v bigint NOT NULL, n int NOT NULL);
     INSERT INTO kv SELECT g, 0, 0 FROM generate_series(1, 200) g;";

/// Writes `transactions` transactions of five running-sum updates into kv.
fn kv_writer(url: String, transactions: usize, seed: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut rng = Rng(seed);
        for _ in 0..transactions {
            let mut sql = String::from("BEGIN;");
            for _ in 0..5 {
                let k = rng.range(1, 200);
                sql.push_str(&format!(
                    "UPDATE kv SET v = v + {k}, n = n + 1 WHERE id = {k};"
                ));
            }
            sql.push_str("COMMIT;");
            c.batch_execute(&sql).await.unwrap();
        }
    })
}

async fn until_equal_ok_table(dst: &tokio_postgres::Client, table: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = dst
            .query_opt(
                "SELECT 1 FROM information_schema.tables WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap();
        if r.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "table {table} never created");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replaying the whole topic into the same follower (offsets removed)
/// converges to the same state; a row the follower cannot hold goes to the
/// dead-letter topic with its reason while the other rows apply.
#[tokio::test]
async fn replay_converges_and_poison_rows_go_to_the_dead_letter_topic() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let follower_url = pg.create_database("replica").await?;
    let src = pg.connect("app").await?;
    src.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, s text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;",
    )
    .await?;
    let dst = pg.connect("replica").await?;
    // A narrower follower column: 'toolong…' does not fit.
    dst.batch_execute("CREATE TABLE t (id int PRIMARY KEY, s varchar(5))")
        .await?;
    let dir = tempfile::tempdir()?;
    let cfg = write_config(
        dir.path(),
        &pg_source(&pg.url("app")),
        &kafka,
        &pg_sink(&follower_url),
    );
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    src.batch_execute("INSERT INTO t VALUES (51, 'toolong-value'), (52, 'ok')")
        .await?;
    let dead = alive(
        &mut rowlog,
        read_until(&kafka, "rowlog.dlq.replica", 1, WAIT, |r| r.value.is_some()),
    )
    .await;
    let record: serde_json::Value = serde_json::from_slice(dead[0].value.as_ref().unwrap())?;
    assert!(record["reason"].as_str().unwrap().contains("s"), "{record}");
    assert!(
        record["value"].as_str().unwrap().contains("toolong-value"),
        "{record}"
    );
    let expected: Vec<Vec<Option<String>>> = (1..=50)
        .map(|i| vec![Some(i.to_string()), Some(format!("v{i}"))])
        .chain(std::iter::once(vec![Some("52".into()), Some("ok".into())]))
        .collect();
    let deadline = Instant::now() + WAIT;
    while pg_rows(&dst, "t", &["id", "s"]).await != expected {
        assert!(Instant::now() < deadline, "{}", rowlog.log_text());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());

    // Replay from the beginning: forget the offsets, restart.
    dst.batch_execute("DELETE FROM rowlog_offsets").await?;
    src.batch_execute("UPDATE t SET s = 'new' WHERE id = 1")
        .await?;
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    let mut want = expected.clone();
    want[0][1] = Some("new".into());
    let deadline = Instant::now() + WAIT;
    while pg_rows(&dst, "t", &["id", "s"]).await != want {
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// MariaDB → PostgreSQL: unsigned, decimals, dates, JSON and enums arrive
/// with the documented mapping.
#[tokio::test]
async fn mariadb_to_pg_follower_equals_the_source() -> anyhow::Result<()> {
    let db = MariaDbServer::start().await?;
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    let url = db.create_database("shop").await?;
    let follower_url = pg.create_database("replica").await?;
    let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&url)?).await?;
    c.query_drop(
        "CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,2), at DATETIME(6), doc JSON, e ENUM('a','b'))",
    )
    .await?;
    c.query_drop(
        "INSERT INTO items VALUES (18446744073709551615, 'max', 12.50, '2024-02-29 10:00:00.5', '{\"k\": 1}', 'b'), (1, 'one', -0.01, NULL, NULL, 'a')",
    )
    .await?;
    let source = format!(
        "    mysql:\n      url: {url}\n      server_id: 4301\n      tables: {{ include: [\"shop.*\"] }}\n"
    );
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &source, &kafka, &pg_sink(&follower_url));
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    c.query_drop("UPDATE items SET name = 'uno' WHERE id = 1")
        .await?;
    c.query_drop("INSERT INTO items VALUES (2, 'two', 2, '1999-12-31 23:59:59', '[]', 'b')")
        .await?;
    c.query_drop("DELETE FROM items WHERE id = 2").await?;
    c.query_drop("INSERT INTO items VALUES (3, 'three', 3, NULL, NULL, NULL)")
        .await?;
    let dst = pg.connect("replica").await?;
    until_equal_ok_table(&dst, "items").await;
    let want = vec![
        vec![
            Some("1".into()),
            Some("uno".into()),
            Some("-0.01".into()),
            None,
            None,
            Some("a".into()),
        ],
        vec![
            Some("3".into()),
            Some("three".into()),
            Some("3.00".into()),
            None,
            None,
            None,
        ],
        vec![
            Some("18446744073709551615".into()),
            Some("max".into()),
            Some("12.50".into()),
            Some("2024-02-29 10:00:00.5".into()),
            Some("{\"k\": 1}".into()),
            Some("b".into()),
        ],
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        let got = pg_rows(
            &dst,
            "shop.items",
            &["id", "name", "price", "at", "doc", "e"],
        )
        .await;
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "follower: {got:?}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

fn my_sink(url: &str) -> String {
    format!("    mysql:\n      url: {url}\n")
}

/// `SELECT CAST(col AS CHAR) ... ORDER BY id` of a MariaDB table.
async fn my_rows(
    c: &mut mysql_async::Conn,
    table: &str,
    cols: &[&str],
) -> Vec<Vec<Option<String>>> {
    let list: Vec<String> = cols.iter().map(|c| format!("CAST({c} AS CHAR)")).collect();
    let sql = format!("SELECT {} FROM {table} ORDER BY id", list.join(", "));
    let rows: Vec<mysql_async::Row> = c.query(sql).await.unwrap();
    rows.into_iter()
        .map(|r| {
            (0..cols.len())
                .map(|i| r.get::<Option<String>, _>(i).flatten())
                .collect()
        })
        .collect()
}

/// MariaDB → MariaDB and PostgreSQL → MariaDB followers equal their sources,
/// including a secondary unique key whose value moves from one row to
/// another (the case where ON DUPLICATE KEY UPDATE would hit the wrong row).
#[tokio::test]
async fn mariadb_followers_of_mariadb_and_postgres() -> anyhow::Result<()> {
    let src_db = MariaDbServer::start().await?;
    let follower = MariaDbServer::start_with_args(&["--server-id=2"]).await?;
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    let url = src_db.create_database("shop").await?;
    let follower_url = follower.create_database("replica").await?;
    let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&url)?).await?;
    c.query_drop(
        "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100), score DECIMAL(10,3), born DATE, UNIQUE KEY (email))",
    )
    .await?;
    c.query_drop("INSERT INTO users VALUES (1, 'x@a', 1.5, '2000-01-01'), (2, 'y@a', NULL, NULL)")
        .await?;
    let mut f = mysql_async::Conn::new(mysql_async::Opts::from_url(&follower_url)?).await?;
    // The follower table exists up front with its unique key.
    f.query_drop("CREATE DATABASE IF NOT EXISTS shop").await?;
    f.query_drop(
        "CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(100), score DECIMAL(10,3), born DATE, UNIQUE KEY (email))",
    )
    .await?;
    let source = format!(
        "    mysql:\n      url: {url}\n      server_id: 4302\n      tables: {{ include: [\"shop.*\"] }}\n"
    );
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &source, &kafka, &my_sink(&follower_url));
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    // x@a moves from user 1 to a new user 3 (1 first takes z@a).
    c.query_drop("UPDATE users SET email = 'z@a' WHERE id = 1")
        .await?;
    c.query_drop("INSERT INTO users VALUES (3, 'x@a', 3.25, '1990-05-06')")
        .await?;
    c.query_drop("DELETE FROM users WHERE id = 2").await?;
    let cols: &[&str] = &["id", "email", "score", "born"];
    let deadline = Instant::now() + WAIT;
    loop {
        let want = my_rows(&mut c, "shop.users", cols).await;
        let got = my_rows(&mut f, "shop.users", cols).await;
        if want == got {
            break;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "source {want:?}\nfollower {got:?}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());

    // PostgreSQL → the same MariaDB follower (another source, another sink).
    pg.create_database("app").await?;
    let src = pg.connect("app").await?;
    src.batch_execute(
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text, amount numeric(8,2), at timestamptz);
         INSERT INTO notes VALUES (1, 'é😀', 12.50, '2024-01-01 00:00:00+00'), (2, NULL, NULL, NULL);",
    )
    .await?;
    let dir2 = tempfile::tempdir()?;
    let cfg2 = write_config(
        dir2.path(),
        &pg_source(&pg.url("app")),
        &kafka,
        &my_sink(&follower_url),
    );
    let cfg2_text = std::fs::read_to_string(&cfg2)?.replace("name: replica", "name: replica-pg");
    std::fs::write(&cfg2, cfg2_text)?;
    let mut rowlog = Rowlog::start_only(&cfg2, None);
    let _dump2 = LogOnPanic(rowlog.log.clone());
    src.batch_execute("UPDATE notes SET body = 'two' WHERE id = 2")
        .await?;
    let want = vec![
        vec![
            Some("1".into()),
            Some("é😀".into()),
            Some("12.500000000000000000000000000000".into()),
        ],
        vec![Some("2".into()), Some("two".into()), None],
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        let got = match f.query_drop("SELECT 1 FROM public.notes LIMIT 1").await {
            Ok(()) => my_rows(&mut f, "public.notes", &["id", "body", "amount"]).await,
            Err(_) => Vec::new(),
        };
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "follower {got:?}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// Every MariaDB type with edge values (the source issue's all-types table)
/// through the row log into a MariaDB follower whose table has the same
/// definition: every column reads back identical (as text and as hex;
/// geometries as WKT and SRID).
#[tokio::test]
async fn every_mariadb_type_reaches_a_mariadb_follower_unchanged() -> anyhow::Result<()> {
    use rowlog_tests::mysql_types::{COLUMNS, create, row_max, row_min, row_nulls};
    let src_db = MariaDbServer::start().await?;
    let follower = MariaDbServer::start_with_args(&["--server-id=2"]).await?;
    let kafka = KafkaServer::start().await?;
    let url = src_db.create_database("shop").await?;
    let follower_url = follower.create_database("replica").await?;
    let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&url)?).await?;
    c.query_drop("SET SESSION sql_mode='', time_zone='+00:00'")
        .await?;
    c.query_drop(create("shop.types")).await?;
    let mut f = mysql_async::Conn::new(mysql_async::Opts::from_url(&follower_url)?).await?;
    f.query_drop("CREATE DATABASE shop").await?;
    f.query_drop(create("shop.types")).await?;
    // Snapshot rows and streamed rows.
    c.query_drop(row_min("shop.types", 1).0).await?;
    let source = format!(
        "    mysql:\n      url: {url}\n      server_id: 4303\n      tables: {{ include: [\"shop.*\"] }}\n"
    );
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &source, &kafka, &my_sink(&follower_url));
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    // MySQL's invalid-ENUM value '' (index 0) cannot be written under the
    // follower's strict sql_mode (it would go to the dead-letter topic):
    // this row uses a label instead.
    let nulls = row_nulls("shop.types", 3).0.replace(", '')", ", 'a')");
    for sql in [
        row_max("shop.types", 2).0,
        nulls,
        row_min("shop.types", 4).0,
    ] {
        c.query_drop(sql).await?;
    }
    c.query_drop("UPDATE shop.types SET d52 = 1.25, vc_l = 'ü' WHERE id = 4")
        .await?;
    // Text and hex of every column, so binary values compare exactly.
    let cols: Vec<String> = COLUMNS
        .iter()
        .flat_map(|c| match *c {
            "g" | "pt" => [format!("ST_AsText({c})"), format!("ST_SRID({c})")],
            _ => [(*c).to_string(), format!("HEX({c})")],
        })
        .collect();
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let deadline = Instant::now() + WAIT;
    loop {
        let want = my_rows(&mut c, "shop.types", &cols).await;
        let got = my_rows(&mut f, "shop.types", &cols).await;
        if want == got {
            assert_eq!(want.len(), 4);
            break;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "source {want:?}\nfollower {got:?}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

/// Rows of `select` through the simple query protocol: every value in its
/// type's own text output (a bpchar keeps its padding, unlike `::text`).
async fn pg_text_rows(c: &tokio_postgres::Client, select: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(select)
        .await
        .unwrap_or_else(|e| panic!("{select}: {e}"))
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The first difference between two row lists, shortened for a message.
fn first_difference(
    names: &[&str],
    src: &[Vec<Option<String>>],
    dst: &[Vec<Option<String>>],
) -> Option<String> {
    let short = |v: &Option<String>| {
        let s = format!("{v:?}");
        if s.len() > 200 {
            format!(
                "{}… ({} chars)",
                s.chars().take(200).collect::<String>(),
                s.len()
            )
        } else {
            s
        }
    };
    if src.len() != dst.len() {
        return Some(format!(
            "{} source rows, {} follower rows",
            src.len(),
            dst.len()
        ));
    }
    for (s, d) in src.iter().zip(dst) {
        for (i, (a, b)) in s.iter().zip(d).enumerate() {
            if a != b {
                return Some(format!(
                    "row id={:?} column {}: source {}, follower {}",
                    s[0],
                    names.get(i).unwrap_or(&"?"),
                    short(a),
                    short(b)
                ));
            }
        }
    }
    None
}

/// Every PostgreSQL type the source announces, with its edge values, into
/// a PostgreSQL follower created by the sink: through the snapshot and the
/// stream, then updated (to other edge values, to NULLs), a key changed and
/// rows deleted; afterwards every row equals the source's, compared column
/// by column in each type's text output. Where the follower's type is not
/// the source's (json becomes jsonb, enums and network types text) the
/// source side is cast to it first: that is the documented type mapping.
#[tokio::test]
async fn every_postgres_type_reaches_a_postgres_follower_unchanged() -> anyhow::Result<()> {
    use rowlog_tests::pg_types::{DDL, NULLS, VARIANTS, columns, create_table, insert, update};
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let follower_url = pg.create_database("replica").await?;
    let src = pg.connect("app").await?;
    let cols = columns();
    src.batch_execute(DDL).await?;
    src.batch_execute(&create_table(&cols)).await?;
    for v in 0..VARIANTS {
        src.batch_execute(&insert(&cols, v as i64 + 1, v)).await?;
    }
    let dir = tempfile::tempdir()?;
    let cfg = write_config_with(
        dir.path(),
        &pg_source(&pg.url("app")),
        &kafka,
        &pg_sink(&follower_url),
        1,
    );
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    for v in 0..VARIANTS {
        src.batch_execute(&insert(&cols, v as i64 + 101, v)).await?;
    }
    src.batch_execute(&update(&cols, 101, 1)).await?;
    src.batch_execute(&update(&cols, 102, NULLS)).await?;
    src.batch_execute(&update(&cols, 2, 0)).await?;
    src.batch_execute("UPDATE types_t SET id = 206 WHERE id = 106")
        .await?;
    src.batch_execute("DELETE FROM types_t WHERE id IN (1, 103)")
        .await?;

    let names: Vec<&str> = std::iter::once("id")
        .chain(cols.iter().map(|c| c.name))
        .collect();
    let src_exprs: Vec<String> = std::iter::once("id".to_string())
        .chain(cols.iter().map(|c| match (c.kind, c.sql_type) {
            ("json", _) => format!("{}::jsonb", c.name),
            ("json[]", _) => format!("{}::jsonb[]", c.name),
            // box[] prints with `;` between elements; text[] with `,`.
            (_, "box[]") => format!("{}::text[]", c.name),
            _ => c.name.to_string(),
        }))
        .collect();
    let tz = "SET TimeZone = 'UTC';";
    let src_select = format!(
        "{tz} SELECT {} FROM types_t ORDER BY id",
        src_exprs.join(", ")
    );
    let dst_select = format!(
        "{tz} SELECT {} FROM public.types_t ORDER BY id",
        names.join(", ")
    );
    let dst = pg.connect("replica").await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let want = pg_text_rows(&src, &src_select).await;
        let got = match dst
            .simple_query("SELECT 1 FROM public.types_t LIMIT 1")
            .await
        {
            Ok(_) => pg_text_rows(&dst, &dst_select).await,
            Err(_) => Vec::new(),
        };
        let Some(diff) = first_difference(&names, &want, &got) else {
            assert_eq!(want.len(), 10, "ids 2..6, 101, 102, 104, 105, 206");
            break;
        };
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "follower differs: {diff}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

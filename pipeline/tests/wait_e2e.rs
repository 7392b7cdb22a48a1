//! Read-your-writes through the real binary, with one config running a
//! PostgreSQL source, a MariaDB source, a PostgreSQL follower and a MariaDB
//! follower: after each write the test reads the source's position
//! (`pg_current_wal_insert_lsn()`, `@@gtid_binlog_pos`), calls `/wait` and
//! `rowlog wait`, and checks the row in the follower right after the 200.
//! A wait times out with 408 while the follower is down (and answers once
//! it is back), and a malformed position is a 400.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, http_get, until_http};
use mysql_async::prelude::Queryable as _;
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::mariadb::MariaDbServer;
use rowlog_tests::ports::free_port;
use rowlog_tests::postgres::{PostgresServer, Shutdown};

const WAIT: Duration = Duration::from_secs(120);

/// `GET path` of a rowlog that answers.
fn get(port: u16, path: &str) -> (u16, String) {
    http_get(port, path).expect("rowlog answers HTTP")
}

async fn until_ready(rowlog: &mut Rowlog, port: u16) {
    until_http(rowlog, port, "/readyz", WAIT, |s, _| s == 200).await;
}

async fn pg_value(c: &tokio_postgres::Client, id: i32) -> Option<String> {
    // The follower table appears with the first change the sink applies
    // (its key column may be wider than the source's).
    match c
        .query_opt("SELECT v FROM public.t WHERE id = $1::int4", &[&id])
        .await
    {
        Ok(row) => row.map(|r| r.get(0)),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => None,
        Err(e) => panic!("reading the follower: {e}"),
    }
}

async fn my_value(c: &mut mysql_async::Conn, id: i32) -> Option<String> {
    match c
        .exec_first("SELECT v FROM shop.t WHERE id = ?", (id,))
        .await
    {
        Ok(v) => v,
        // 1146: the table does not exist yet.
        Err(mysql_async::Error::Server(e)) if e.code == 1146 => None,
        Err(e) => panic!("reading the follower: {e}"),
    }
}

#[tokio::test]
async fn waits_answer_once_the_follower_has_the_write() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let mut dst_pg = PostgresServer::start().await?;
    let src_my = MariaDbServer::start().await?;
    let dst_my = MariaDbServer::start_with_args(&["--server-id=2"]).await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_pg_url = dst_pg.create_database("replica").await?;
    let src_my_url = src_my.create_database("shop").await?;
    let dst_my_url = dst_my.create_database("replica").await?;
    let pg = src_pg.connect("app").await?;
    pg.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (0, 'seed');",
    )
    .await?;
    let mut my = mysql_async::Conn::new(mysql_async::Opts::from_url(&src_my_url)?).await?;
    my.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(50))")
        .await?;
    my.query_drop("INSERT INTO t VALUES (0, 'seed')").await?;
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("rowlog.yaml");
    let pg_url = src_pg.url("app");
    let brokers = kafka.bootstrap_servers();
    let config = common::TwoPipelines {
        pg_url: &pg_url,
        my_url: &src_my_url,
        server_id: 4711,
        brokers: &brokers,
        partitions: 3,
        dst_pg_url: &dst_pg_url,
        dst_my_url: &dst_my_url,
        port,
    };
    std::fs::write(&cfg, config.yaml())?;
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    until_ready(&mut rowlog, port).await;
    let mut dst_my_conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&dst_my_url)?).await?;
    let dst = dst_pg.connect("replica").await?;

    // Each write is in the follower as soon as /wait says 200: inserts and
    // updates, PostgreSQL and MariaDB, over three partitions per table.
    for i in 1..=15 {
        let (sql, id, want) = if i % 3 == 0 {
            ("UPDATE t SET v = $2 WHERE id = $1", i - 1, format!("u{i}"))
        } else {
            ("INSERT INTO t VALUES ($1, $2)", i, format!("v{i}"))
        };
        pg.execute(sql, &[&id, &want]).await?;
        let lsn: String = pg
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await?
            .get(0);
        let (status, body) = get(
            port,
            &format!("/wait?sink=pg_replica&position={lsn}&timeout_ms=30000"),
        );
        assert_eq!(status, 200, "{body}\n{}", rowlog.log_text());
        assert_eq!(
            pg_value(&dst, id).await.as_deref(),
            Some(want.as_str()),
            "PostgreSQL follower lacks id {id} right after /wait said 200 for {lsn}: {body}"
        );

        let my_sql = if i % 3 == 0 {
            "UPDATE t SET v = ? WHERE id = ?"
        } else {
            "INSERT INTO t (v, id) VALUES (?, ?)"
        };
        my.exec_drop(my_sql, (&want, id)).await?;
        let gtid: String = my.query_first("SELECT @@gtid_binlog_pos").await?.unwrap();
        let (status, body) = get(
            port,
            &format!("/wait?sink=my_replica&position={gtid}&timeout_ms=30000"),
        );
        assert_eq!(status, 200, "{body}\n{}", rowlog.log_text());
        assert_eq!(
            my_value(&mut dst_my_conn, id).await.as_deref(),
            Some(want.as_str()),
            "MariaDB follower lacks id {id} right after /wait said 200 for {gtid}"
        );
    }

    // /status: the MariaDB source streams after a one-row snapshot.
    let doc: serde_json::Value = serde_json::from_str(&get(port, "/status").1)?;
    let shop = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shop")
        .unwrap();
    assert_eq!(shop["phase"], "streaming", "{doc}");
    assert_eq!(shop["snapshot"][0]["table"], "shop.t", "{doc}");
    assert_eq!(shop["snapshot"][0]["rows"], 1, "{doc}");
    // The MariaDB source's lag: caught up, 0 bytes and 0 s behind the
    // binlog end (sampled every 5 s).
    let deadline = Instant::now() + WAIT;
    loop {
        let text = get(port, "/metrics").1;
        let bytes = common::metric(&text, r#"rowlog_source_lag_bytes{source="shop"}"#);
        let secs = common::metric(&text, r#"rowlog_source_lag_seconds{source="shop"}"#);
        if bytes == Some(0.0) && secs == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "MariaDB source lag never 0: {bytes:?} bytes, {secs:?} s\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // `rowlog wait` for scripts: 0 when reached, 1 on timeout, 2 when wrong.
    let url = format!("http://127.0.0.1:{port}");
    let gtid: String = my.query_first("SELECT @@gtid_binlog_pos").await?.unwrap();
    let cli = |sink: &str, pos: &str, timeout: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rowlog"))
            .args([
                "wait",
                "--url",
                &url,
                "--sink",
                sink,
                "--position",
                pos,
                "--timeout",
                timeout,
            ])
            .output()
            .unwrap()
    };
    let out = cli("my_replica", &gtid, "30s");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A GTID the server has not written yet.
    let (domain_server, seq) = gtid.rsplit_once('-').unwrap();
    let ahead = format!("{domain_server}-{}", seq.parse::<u64>()? + 1000);
    let out = cli("my_replica", &ahead, "1s");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    let out = cli("my_replica", "0/16B3748", "1s");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Malformed positions and unknown sinks.
    let (status, body) = get(port, "/wait?sink=pg_replica&position=banana");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not an LSN"), "{body}");
    let (status, _) = get(port, "/wait?sink=my_replica&position=0-1");
    assert_eq!(status, 400);
    let (status, _) = get(port, "/wait?sink=pg_replica");
    assert_eq!(status, 400);
    let (status, _) = get(port, "/wait?sink=nope&position=0/1");
    assert_eq!(status, 404);

    // The follower is down: a wait times out with 408 (and says the sink
    // is behind); once it is back the same wait answers, and the row is there.
    dst_pg.stop_server(Shutdown::Fast)?;
    pg.execute("INSERT INTO t VALUES (100, 'while down')", &[])
        .await?;
    let lsn: String = pg
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await?
        .get(0);
    let started = Instant::now();
    let (status, body) = get(
        port,
        &format!("/wait?sink=pg_replica&position={lsn}&timeout_ms=2000"),
    );
    assert_eq!(status, 408, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(2000));
    assert!(body.contains("has not applied"), "{body}");
    dst_pg.start_again().await?;
    let (status, body) = get(
        port,
        &format!("/wait?sink=pg_replica&position={lsn}&timeout_ms=60000"),
    );
    assert_eq!(status, 200, "{body}\n{}", rowlog.log_text());
    let dst = dst_pg.connect("replica").await?;
    assert_eq!(pg_value(&dst, 100).await.as_deref(), Some("while down"));

    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

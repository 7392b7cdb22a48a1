//! One `rowlog run` with a PostgreSQL source, a MariaDB source, a
//! PostgreSQL follower and a MariaDB follower, under a steady write load,
//! while each server is taken down in turn and brought back: the follower
//! databases, the source databases and the broker (durable storage). For
//! each database `/readyz` goes 503 naming the component that uses it (for
//! the broker: any) and back to 200; in the end both followers equal their sources: nothing
//! lost, nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, until_http};
use mysql_async::prelude::Queryable as _;
use rowlog_tests::kafka::{KafkaOptions, KafkaServer, KafkaStorage};
use rowlog_tests::mariadb::MariaDbServer;
use rowlog_tests::ports::free_port;
use rowlog_tests::postgres::{PostgresServer, Shutdown};

const WAIT: Duration = Duration::from_secs(180);

/// Waits until `/readyz` answers `status` (and, for 503, names `who`).
async fn readyz(rowlog: &mut Rowlog, port: u16, status: u16, who: &str) {
    let named = format!("\"name\":\"{who}\"");
    until_http(rowlog, port, "/readyz", WAIT, |s, body| {
        s == status && (status == 200 || who.is_empty() || body.contains(&named))
    })
    .await;
}

/// Inserts (id, id * 7) into PostgreSQL table t, one row per 20 ms,
/// retrying the same id (idempotently) through any outage; `last` is the
/// last id known committed.
fn pg_writer(
    url: String,
    last: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut id = 1i32;
        let mut client: Option<tokio_postgres::Client> = None;
        while !stop.load(Ordering::SeqCst) {
            if client
                .as_ref()
                .is_none_or(tokio_postgres::Client::is_closed)
            {
                client = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    Ok((c, conn)) => {
                        tokio::spawn(conn);
                        Some(c)
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
            }
            let c = client.as_ref().unwrap();
            match c
                .execute(
                    "INSERT INTO t VALUES ($1, $1 * 7) ON CONFLICT (id) DO NOTHING",
                    &[&id],
                )
                .await
            {
                Ok(_) => {
                    last.store(i64::from(id), Ordering::SeqCst);
                    id += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => {
                    client = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    })
}

/// The same for MariaDB (INSERT IGNORE).
fn my_writer(
    url: String,
    last: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut id = 1i64;
        let mut conn: Option<mysql_async::Conn> = None;
        while !stop.load(Ordering::SeqCst) {
            if conn.is_none() {
                conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
                    .await
                    .ok();
                if conn.is_none() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
            let c = conn.as_mut().unwrap();
            match c
                .exec_drop("INSERT IGNORE INTO t VALUES (?, ? * 7)", (id, id))
                .await
            {
                Ok(()) => {
                    last.store(id, Ordering::SeqCst);
                    id += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => {
                    conn = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    })
}

/// `count sum(v) max(id)` of a PostgreSQL table t (None while it is missing).
async fn pg_summary(url: &str) -> Option<String> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(conn);
    let r = c
        .query_one(
            "SELECT count(*)::text || ' ' || coalesce(sum(v), 0)::text || ' ' || coalesce(max(id), 0)::text FROM public.t",
            &[],
        )
        .await
        .ok()?;
    Some(r.get(0))
}

async fn my_summary(url: &str) -> Option<String> {
    let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(url).ok()?)
        .await
        .ok()?;
    c.query_first(
        "SELECT CONCAT(count(*), ' ', coalesce(sum(v), 0), ' ', coalesce(max(id), 0)) FROM shop.t",
    )
    .await
    .ok()
    .flatten()
}

#[tokio::test]
async fn every_server_down_in_turn_and_nothing_lost() -> anyhow::Result<()> {
    let mut src_pg = PostgresServer::start().await?;
    let mut dst_pg = PostgresServer::start().await?;
    let mut src_my = MariaDbServer::start().await?;
    let mut dst_my = MariaDbServer::start_with_args(&["--server-id=2"]).await?;
    let mut kafka = KafkaServer::start_with(KafkaOptions {
        storage: KafkaStorage::Sqlite,
        ..KafkaOptions::default()
    })
    .await?;
    src_pg.create_database("app").await?;
    let dst_pg_url = dst_pg.create_database("replica").await?;
    let src_my_url = src_my.create_database("shop").await?;
    let dst_my_url = dst_my.create_database("replica").await?;
    src_pg
        .connect("app")
        .await?
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v bigint)")
        .await?;
    let mut my = mysql_async::Conn::new(mysql_async::Opts::from_url(&src_my_url)?).await?;
    my.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)")
        .await?;
    drop(my);
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("rowlog.yaml");
    let pg_url = src_pg.url("app");
    let brokers = kafka.bootstrap_servers();
    let config = common::TwoPipelines {
        pg_url: &pg_url,
        my_url: &src_my_url,
        server_id: 4712,
        brokers: &brokers,
        partitions: 2,
        dst_pg_url: &dst_pg_url,
        dst_my_url: &dst_my_url,
        port,
    };
    std::fs::write(&cfg, config.yaml())?;
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    readyz(&mut rowlog, port, 200, "").await;

    let stop = Arc::new(AtomicBool::new(false));
    let (pg_last, my_last) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
    let writers = [
        pg_writer(src_pg.url("app"), pg_last.clone(), stop.clone()),
        my_writer(src_my_url.clone(), my_last.clone(), stop.clone()),
    ];
    let pause = Duration::from_secs(2);
    let progressed = |last: &AtomicI64, before: i64| last.load(Ordering::SeqCst) > before;

    // The PostgreSQL follower.
    tokio::time::sleep(pause).await;
    dst_pg.stop_server(Shutdown::Immediate)?;
    readyz(&mut rowlog, port, 503, "pg_replica").await;
    tokio::time::sleep(pause).await;
    dst_pg.start_again().await?;
    readyz(&mut rowlog, port, 200, "").await;

    // The MariaDB follower.
    tokio::time::sleep(pause).await;
    dst_my.kill();
    readyz(&mut rowlog, port, 503, "my_replica").await;
    tokio::time::sleep(pause).await;
    dst_my.start_again().await?;
    readyz(&mut rowlog, port, 200, "").await;

    // The PostgreSQL source.
    tokio::time::sleep(pause).await;
    src_pg.stop_server(Shutdown::Immediate)?;
    readyz(&mut rowlog, port, 503, "app").await;
    tokio::time::sleep(pause).await;
    src_pg.start_again().await?;
    readyz(&mut rowlog, port, 200, "").await;

    // The MariaDB source.
    tokio::time::sleep(pause).await;
    src_my.kill();
    readyz(&mut rowlog, port, 503, "shop").await;
    tokio::time::sleep(pause).await;
    src_my.start_again().await?;
    readyz(&mut rowlog, port, 200, "").await;

    // The broker (its storage survives).
    tokio::time::sleep(pause).await;
    let (pg_before, my_before) = (
        pg_last.load(Ordering::SeqCst),
        my_last.load(Ordering::SeqCst),
    );
    kafka.kill();
    // Every component's client reports all brokers down.
    readyz(&mut rowlog, port, 503, "").await;
    tokio::time::sleep(pause).await;
    kafka.start_again().await?;
    readyz(&mut rowlog, port, 200, "").await;

    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await?;
    }
    assert!(
        progressed(&pg_last, pg_before) && progressed(&my_last, my_before),
        "the load did not go on"
    );

    // Both followers equal their sources (count, sum, max id).
    let deadline = Instant::now() + WAIT;
    loop {
        let pg = (
            pg_summary(&src_pg.url("app")).await,
            pg_summary(&dst_pg_url).await,
        );
        let my = (my_summary(&src_my_url).await, my_summary(&dst_my_url).await);
        if pg.0.is_some() && pg.0 == pg.1 && my.0.is_some() && my.0 == my.1 {
            let want = format!("{}", pg_last.load(Ordering::SeqCst));
            assert!(
                pg.0.as_deref().unwrap().starts_with(&format!("{want} ")),
                "{pg:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "followers differ: pg {pg:?}, mariadb {my:?}\nlog:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

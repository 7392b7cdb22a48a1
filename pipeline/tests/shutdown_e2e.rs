//! Shutdown of `rowlog run` when a component cannot finish: with the broker
//! frozen (SIGSTOP) while the source holds unacknowledged records, SIGTERM
//! cannot flush. `--shutdown-timeout` bounds the wait (exit 1, saying so),
//! and a second signal exits at once. (A normal SIGTERM exits 0: every
//! other end-to-end test stops that way.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, alive, pg_config, read_exact};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(90);

/// A running source whose broker is frozen with records in flight.
async fn stuck(
    extra: &[&str],
) -> anyhow::Result<(PostgresServer, KafkaServer, tempfile::TempDir, Rowlog)> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .await?;
    let dir = tempfile::tempdir()?;
    let cfg = pg_config(dir.path(), &pg, "app", &kafka, "", "");
    let mut rowlog = Rowlog::start_with(&cfg, Some("app"), extra);
    alive(
        &mut rowlog,
        read_exact(&kafka, "rowlog.app.public.t", 1, 1, WAIT, Duration::ZERO),
    )
    .await;
    kafka.pause()?;
    c.batch_execute("INSERT INTO t SELECT generate_series(2, 100)")
        .await?;
    // Let the source take the changes in (they cannot be acknowledged).
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok((pg, kafka, dir, rowlog))
}

#[tokio::test]
async fn the_shutdown_timeout_bounds_a_stop_that_cannot_flush() -> anyhow::Result<()> {
    let (_pg, kafka, _dir, mut rowlog) = stuck(&["--shutdown-timeout", "2s"]).await?;
    let _dump = LogOnPanic(rowlog.log.clone());
    let t0 = Instant::now();
    rowlog.term();
    // Still flushing after one second: the broker cannot acknowledge.
    assert!(
        rowlog.wait_exit(Duration::from_secs(1)).is_none(),
        "{}",
        rowlog.log_text()
    );
    let status = rowlog
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("not stopped by the timeout:\n{}", rowlog.log_text()));
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(1), "{}", rowlog.log_text());
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(
        rowlog
            .log_text()
            .contains("did not stop within --shutdown-timeout"),
        "{}",
        rowlog.log_text()
    );
    kafka.resume()?;
    Ok(())
}

#[tokio::test]
async fn a_second_signal_exits_at_once() -> anyhow::Result<()> {
    let (_pg, kafka, _dir, mut rowlog) =
        stuck(&["--shutdown-timeout", "60s", "--log-format", "json"]).await?;
    let _dump = LogOnPanic(rowlog.log.clone());
    rowlog.term();
    assert!(
        rowlog.wait_exit(Duration::from_secs(1)).is_none(),
        "{}",
        rowlog.log_text()
    );
    let t0 = Instant::now();
    rowlog.term();
    let status = rowlog
        .wait_exit(Duration::from_secs(3))
        .unwrap_or_else(|| panic!("a second signal did not stop it:\n{}", rowlog.log_text()));
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(status.code(), Some(1), "{}", rowlog.log_text());
    assert!(
        rowlog.log_text().contains("a second signal"),
        "{}",
        rowlog.log_text()
    );
    // --log-format json: every line is one JSON object, and the source's
    // lines carry its name (the component's span).
    let log = rowlog.log_text();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["span"]["component"] == "app"),
        "{log}"
    );
    kafka.resume()?;
    Ok(())
}

/// A sink that fails for good (its database does not exist): without
/// `--exit-on-failure` the source keeps running; with it the source is
/// stopped too and the process exits 1.
#[tokio::test]
async fn exit_on_failure_stops_the_process_when_a_component_fails() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);")
        .await?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("rowlog.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - name: app\n    postgres:\n      url: {}\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\nsinks:\n  - name: replica\n    source: app\n    postgres:\n      url: {}\n",
            pg.url("app"),
            kafka.bootstrap_servers(),
            pg.url("no_such_database")
        ),
    )?;
    let why = "create the database or fix the url";

    let mut keep = Rowlog::start_only(&cfg, None);
    assert!(keep.wait_log(why, WAIT).await, "{}", keep.log_text());
    assert!(
        keep.wait_exit(Duration::from_secs(3)).is_none(),
        "the source keeps running: {}",
        keep.log_text()
    );
    assert!(
        keep.stop(Duration::from_secs(30)).code() == Some(1),
        "the failure is the exit code"
    );

    let mut strict = Rowlog::start_with(&cfg, None, &["--exit-on-failure"]);
    let _dump = LogOnPanic(strict.log.clone());
    let status = strict
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("still running:\n{}", strict.log_text()));
    assert_eq!(status.code(), Some(1), "{}", strict.log_text());
    let log = strict.log_text();
    assert!(
        log.contains(why) && log.contains("--exit-on-failure"),
        "{log}"
    );
    Ok(())
}

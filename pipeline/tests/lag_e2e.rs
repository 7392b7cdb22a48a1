//! Sink lag thresholds through the real binary: a follower table locked by
//! another session holds the sink's batch (the sink keeps running, it only
//! waits), so its lag grows past `warn_lag` and `critical_lag`: a warning
//! and an error are logged once each, `/readyz` answers 503 naming the
//! sink's lag, the gauges say so; when the lock goes the batch lands, the
//! lag falls to 0, "recovered" is logged and `/readyz` is 200 again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{LogOnPanic, Rowlog, http_get as get, metric, until_http};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::ports::free_port;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(120);

async fn until(
    rowlog: &mut Rowlog,
    port: u16,
    path: &str,
    ok: impl Fn(u16, &str) -> bool,
) -> String {
    until_http(rowlog, port, path, WAIT, ok).await
}

#[tokio::test]
async fn lag_crosses_warn_and_critical_and_recovers() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let dst_pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    let src = src_pg.connect("app").await?;
    src.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');",
    )
    .await?;
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("rowlog.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - name: app\n    postgres:\n      url: {}\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\n  partitions: 1\nsinks:\n  - name: replica\n    source: app\n    warn_lag: 2s\n    critical_lag: 4s\n    postgres:\n      url: {dst_url}\nhttp:\n  listen: \"127.0.0.1:{port}\"\n",
            src_pg.url("app"),
            kafka.bootstrap_servers()
        ),
    )?;
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());
    until(&mut rowlog, port, "/readyz", |s, _| s == 200).await;
    // The snapshot row is in the follower: the table exists.
    let dst = dst_pg.connect("replica").await?;
    let deadline = Instant::now() + WAIT;
    while dst
        .query_opt("SELECT 1 FROM public.t WHERE id = 1", &[])
        .await
        .ok()
        .flatten()
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "no snapshot row:\n{}",
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = until(&mut rowlog, port, "/metrics", |s, b| {
        s == 200 && b.contains("rowlog_sink_lag_level{sink=\"replica\"}")
    })
    .await;
    assert_eq!(
        metric(&metrics, "rowlog_sink_lag_level{sink=\"replica\"}"),
        Some(0.0)
    );

    // Hold the sink: another session locks the follower table.
    let mut locker = dst_pg.connect("replica").await?;
    let tx = locker.transaction().await?;
    tx.batch_execute("LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE")
        .await?;
    src.batch_execute("INSERT INTO t VALUES (2, 'b')").await?;
    let body = until(&mut rowlog, port, "/readyz", |s, _| s == 503).await;
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    let c = &doc["components"][0];
    assert_eq!(c["name"], "replica", "{body}");
    assert_eq!(
        c["state"], "running",
        "the sink is not failing, only behind: {body}"
    );
    assert_eq!(c["lag_level"], "critical", "{body}");
    assert!(c["lag_ms"].as_u64().unwrap() >= 4000, "{body}");
    let metrics = get(port, "/metrics").unwrap().1;
    assert_eq!(
        metric(&metrics, "rowlog_sink_lag_level{sink=\"replica\"}"),
        Some(2.0)
    );
    assert!(metric(&metrics, "rowlog_sink_lag_seconds{sink=\"replica\"}").unwrap() >= 4.0);
    // Still critical a while later: logged once, not per sample.
    tokio::time::sleep(Duration::from_secs(3)).await;

    tx.rollback().await?;
    until(&mut rowlog, port, "/readyz", |s, _| s == 200).await;
    assert!(
        rowlog.wait_log("sink lag recovered", WAIT).await,
        "{}",
        rowlog.log_text()
    );
    let metrics = get(port, "/metrics").unwrap().1;
    assert_eq!(
        metric(&metrics, "rowlog_sink_lag_level{sink=\"replica\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(&metrics, "rowlog_sink_lag_seconds{sink=\"replica\"}"),
        Some(0.0)
    );
    assert!(
        dst.query_opt("SELECT 1 FROM public.t WHERE id = 2", &[])
            .await?
            .is_some()
    );
    let log = rowlog.log_text();
    assert_eq!(log.matches("sink lag reached warn_lag").count(), 1, "{log}");
    assert_eq!(
        log.matches("sink lag reached critical_lag").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("sink lag recovered").count(), 1, "{log}");
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

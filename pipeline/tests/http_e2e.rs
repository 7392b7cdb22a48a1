//! The sidecar's HTTP endpoints through the real binary: `/healthz`,
//! `/readyz` (503 while a component starts or retries, naming it; 200 when
//! all run), `/metrics` (OpenMetrics text whose counters move with the
//! workload) and `/status` (every component's state), with a PostgreSQL
//! source and a PostgreSQL follower whose server is stopped and restarted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{LogOnPanic, Rowlog, metric, until_http};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::ports::free_port;
use rowlog_tests::postgres::{PostgresServer, Shutdown};

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
async fn health_readiness_metrics_and_status() -> anyhow::Result<()> {
    let src_pg = PostgresServer::start().await?;
    let mut dst_pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    src_pg.create_database("app").await?;
    let dst_url = dst_pg.create_database("replica").await?;
    let src = src_pg.connect("app").await?;
    src.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g;",
    )
    .await?;
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("rowlog.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sources:\n  - name: app\n    postgres:\n      url: {}\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\n  partitions: 1\nsinks:\n  - name: replica\n    source: app\n    batch: {{ max_rows: 100, max_wait: 50ms }}\n    postgres:\n      url: {dst_url}\nhttp:\n  listen: \"127.0.0.1:{port}\"\n",
            src_pg.url("app"),
            kafka.bootstrap_servers()
        ),
    )?;
    let mut rowlog = Rowlog::start_only(&cfg, None);
    let _dump = LogOnPanic(rowlog.log.clone());

    until(&mut rowlog, port, "/healthz", |s, b| {
        s == 200 && b == "ok\n"
    })
    .await;
    until(&mut rowlog, port, "/readyz", |s, _| s == 200).await;
    let status: serde_json::Value =
        serde_json::from_str(&until(&mut rowlog, port, "/status", |s, _| s == 200).await)?;
    let components = status["components"].as_array().unwrap();
    let names: Vec<(&str, &str, &str)> = components
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![("app", "source", "running"), ("replica", "sink", "running")]
    );
    // `rowlog status` prints the same as a table (once the source has a
    // durable position to show).
    until(&mut rowlog, port, "/status", |s, b| {
        s == 200 && b.contains("\"position\"")
    })
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rowlog"))
        .args(["status", "--url", &format!("http://127.0.0.1:{port}")])
        .output()?;
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<&str>> = printed
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        vec!["NAME", "KIND", "STATE", "POSITION", "LAG", "LAST", "ERROR"],
        "{printed}"
    );
    let firsts: Vec<&[&str]> = lines[1..].iter().map(|l| &l[..3]).collect();
    assert_eq!(
        firsts,
        vec![
            &["app", "source", "running"][..],
            &["replica", "sink", "running"][..]
        ],
        "{printed}"
    );
    // The source's durable position is an LSN; the sink has none.
    assert!(
        lines[1][3].parse::<rowlog_schemas::position::Lsn>().is_ok(),
        "{printed}"
    );
    assert_eq!(lines[2][3], "-", "{printed}");

    // Ten snapshot rows, then five inserts and three updates streamed.
    src.batch_execute(
        "INSERT INTO t SELECT g, 'v' || g FROM generate_series(11, 15) g;
         UPDATE t SET v = 'u' WHERE id <= 3;",
    )
    .await?;
    let applied = r#"rowlog_sink_rows_applied_total{sink="replica",table="public.t",op="#;
    let text = until(&mut rowlog, port, "/metrics", |s, b| {
        s == 200 && metric(b, &format!(r#"{applied}"update"}}"#)) == Some(3.0)
    })
    .await;
    assert_eq!(
        metric(&text, &format!(r#"{applied}"read"}}"#)),
        Some(10.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, &format!(r#"{applied}"insert"}}"#)),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"rowlog_sink_applied_offset{sink="replica",topic="rowlog.app.public.t",partition="0"}"#
        ),
        Some(18.0),
        "{text}"
    );
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let events = r#"rowlog_source_events_total{source="app",table="public.t",op="#;
    assert_eq!(
        metric(&text, &format!(r#"{events}"read"}}"#)),
        Some(10.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, &format!(r#"{events}"insert"}}"#)),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, &format!(r#"{events}"update"}}"#)),
        Some(3.0),
        "{text}"
    );
    // /status: the source streams after a snapshot of the ten rows.
    let body = until(&mut rowlog, port, "/status", |s, b| {
        s == 200 && b.contains(r#""phase":"streaming""#)
    })
    .await;
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    let app = &doc["components"][0];
    assert_eq!(app["name"], "app", "{body}");
    assert_eq!(app["snapshot"][0]["table"], "public.t", "{body}");
    assert_eq!(app["snapshot"][0]["rows"], 10, "{body}");
    // The source's progress: confirmed LSN, retained WAL, time lag.
    let text = until(&mut rowlog, port, "/metrics", |_, b| {
        metric(b, r#"rowlog_source_confirmed_position{source="app"}"#).is_some_and(|p| p > 0.0)
    })
    .await;
    assert!(
        metric(&text, r#"rowlog_source_lag_bytes{source="app"}"#).is_some_and(|b| b >= 0.0),
        "{text}"
    );
    assert!(
        metric(&text, r#"rowlog_source_lag_seconds{source="app"}"#).is_some_and(|s| s >= 0.0),
        "{text}"
    );
    // Every applied change is in the end-to-end latency histogram.
    assert_eq!(
        metric(
            &text,
            r#"rowlog_sink_end_to_end_seconds_count{sink="replica"}"#
        ),
        Some(18.0),
        "{text}"
    );

    // The follower goes away: the sink retries and /readyz says so.
    dst_pg.stop_server(Shutdown::Fast)?;
    src.batch_execute("UPDATE t SET v = 'x' WHERE id = 4")
        .await?;
    let body = until(&mut rowlog, port, "/readyz", |s, _| s == 503).await;
    let reason: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(reason["ready"], false, "{reason}");
    assert_eq!(reason["components"][0]["name"], "replica", "{reason}");
    assert_eq!(reason["components"][0]["state"], "retrying", "{reason}");
    assert!(
        !reason["components"][0]["error"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{reason}"
    );
    // The record the sink cannot apply shows as consumer lag (high
    // watermarks from librdkafka's statistics, every 5 s)...
    let lag =
        r#"rowlog_sink_consumer_lag{sink="replica",topic="rowlog.app.public.t",partition="0"}"#;
    until(&mut rowlog, port, "/metrics", |_, b| {
        metric(b, lag).is_some_and(|l| l >= 1.0)
    })
    .await;
    dst_pg.start_again().await?;
    until(&mut rowlog, port, "/readyz", |s, _| s == 200).await;
    // ... and is gone once it is applied.
    until(&mut rowlog, port, "/metrics", |_, b| {
        metric(b, lag) == Some(0.0)
    })
    .await;
    until(&mut rowlog, port, "/metrics", |_, b| {
        metric(b, &format!(r#"{applied}"update"}}"#)) == Some(4.0)
    })
    .await;
    assert!(rowlog.stop(Duration::from_secs(60)).success());
    Ok(())
}

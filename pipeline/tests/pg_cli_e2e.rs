//! `rowlog source drop-slot` against a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::pg_config;
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

#[tokio::test]
async fn drop_slot_drops_only_when_asked_and_explains_failures() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute("SELECT pg_create_logical_replication_slot('rowlog_app', 'pgoutput')")
        .await?;
    let dir = tempfile::tempdir()?;
    let config = pg_config(dir.path(), &pg, "app", &kafka, "", "");
    let drop = || {
        Command::new(env!("CARGO_BIN_EXE_rowlog"))
            .args(["source", "drop-slot", "rowlog_app", "-c"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = drop();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM pg_replication_slots", &[])
        .await?
        .get(0);
    assert_eq!(n, 0);
    let out = drop();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("there is no replication slot `rowlog_app`")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rowlog"))
        .args(["source", "drop-slot", "other_slot", "-c"])
        .arg(&config)
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name the source with --source"));
    Ok(())
}

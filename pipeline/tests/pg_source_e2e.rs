//! `rowlog run --only SOURCE`: a real PostgreSQL into a real Kafka-protocol
//! broker (tansu), read back and decoded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Rowlog, confirmed_flush, pg_config, read_topic};
use rowlog_schemas::encode::json;
use rowlog_schemas::{Op, Value};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn snapshot_and_stream_into_kafka_then_stop_cleanly() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    pg.create_database("app").await?;
    let c = pg.connect("app").await?;
    c.batch_execute(
        "CREATE TABLE accounts (id int8 PRIMARY KEY, owner text NOT NULL, balance numeric(12,2));
         INSERT INTO accounts SELECT i, 'owner ' || i, i * 10.5 FROM generate_series(1, 500) i;",
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let config = pg_config(
        dir.path(),
        &pg,
        "app",
        &kafka,
        "",
        "  transaction_topic: true\n",
    );
    let rowlog = Rowlog::start(&config);

    // The snapshot arrives as op=r, one record per row, keyed by the PK.
    let topic = "rowlog.app.public.accounts";
    let snap = read_topic(&kafka, topic, 1, 500, WAIT).await;
    let first = json::decode(snap[0].value.as_ref().unwrap())?;
    assert_eq!(first.op, Op::Read);
    assert_eq!(
        first.after.as_ref().unwrap().get("balance"),
        Some(&Value::Decimal("10.50".parse()?))
    );
    assert_eq!(snap[0].key.as_deref(), Some(&br#"{"id":1}"#[..]));

    c.batch_execute(
        "BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = 1; UPDATE accounts SET balance = balance + 1 WHERE id = 2; COMMIT;
         DELETE FROM accounts WHERE id = 3;",
    )
    .await?;
    // 2 updates + 1 delete + its tombstone.
    let all = read_topic(&kafka, topic, 1, 504, WAIT).await;
    let tail: Vec<_> = all[500..].to_vec();
    let ops: Vec<Option<Op>> = tail
        .iter()
        .map(|r| r.value.as_ref().map(|v| json::decode(v).unwrap().op))
        .collect();
    assert_eq!(
        ops,
        vec![Some(Op::Update), Some(Op::Update), Some(Op::Delete), None]
    );
    assert_eq!(
        tail[3].key.as_deref(),
        Some(&br#"{"id":3}"#[..]),
        "tombstone keyed like the delete"
    );
    let upd = json::decode(tail[0].value.as_ref().unwrap())?;
    assert_eq!(
        upd.after.as_ref().unwrap().get("balance"),
        Some(&Value::Decimal("9.50".parse()?))
    );

    // Transaction metadata: BEGIN/END around the two-update transaction.
    let tx = read_topic(&kafka, "rowlog.app.transactions", 1, 4, WAIT).await;
    let tx_json: Vec<serde_json::Value> = tx
        .iter()
        .map(|r| serde_json::from_slice(r.value.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(tx_json[0]["status"], "BEGIN");
    assert_eq!(tx_json[1]["status"], "END");
    assert_eq!(tx_json[1]["event_count"], 2);

    // SIGTERM: flush, confirm, exit 0; the slot has everything.
    let end_lsn: String = c
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await?
        .get(0);
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    let confirmed = confirmed_flush(&c).await.unwrap();
    let del_commit = json::decode(tail[2].value.as_ref().unwrap())?;
    let rowlog_schemas::Position::Postgres(p) = del_commit.position else {
        panic!()
    };
    assert!(
        confirmed >= p.commit_lsn,
        "slot at {confirmed}, last commit {}",
        p.commit_lsn
    );
    assert!(confirmed <= end_lsn.parse()?);

    // A restart reads its state back from the log (snapshot done), takes no
    // second snapshot and streams on from the slot.
    let rowlog = Rowlog::start(&config);
    c.batch_execute("INSERT INTO accounts VALUES (1000, 'late', 1)")
        .await?;
    let again = read_topic(&kafka, topic, 1, 505, WAIT).await;
    let late = json::decode(again[504].value.as_ref().unwrap())?;
    assert_eq!(late.op, Op::Insert, "log:\n{}", rowlog.log_text());
    assert_eq!(
        late.after.as_ref().unwrap().get("id"),
        Some(&Value::Int(1000))
    );
    let status = rowlog.stop(WAIT);
    assert!(status.success(), "exit status {status}");
    Ok(())
}

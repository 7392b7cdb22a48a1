//! The sink worker in-process against a real PostgreSQL and tansu, checked
//! through the metrics registry the sidecar serves: rows applied per table
//! and operation, dead letters, batch histograms, applied offsets and
//! source positions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use rowlog::metrics;
use rowlog::runtime::sink_worker::SinkWorker;
use rowlog_config::SinkKind;
use rowlog_schemas::encode::json;
use rowlog_schemas::position::{Lsn, PgPosition};
use rowlog_schemas::{ChangeEvent, ColumnSchema, Op, Position, Row, TableId, TableSchema, Value};
use rowlog_sinks::postgres::PgSink;
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

fn event(s: &TableSchema, op: Op, id: i64, v: &str, lsn: u64) -> ChangeEvent {
    let image = Row::new()
        .with("id", Value::Int(id))
        .with("v", Value::Text(v.into()));
    let (before, after) = if op == Op::Delete {
        (Some(image), None)
    } else {
        (None, Some(image))
    };
    ChangeEvent {
        source: "app".into(),
        table: s.table.clone(),
        op,
        key_columns: s.key.clone(),
        before,
        after,
        position: Position::Postgres(PgPosition::new(Lsn(lsn), Lsn(lsn))),
        transaction: None,
        schema_version: s.version(),
        ts_ms: 1_700_000_000_000 + i64::try_from(lsn).unwrap(),
    }
}

/// The metric line starting with `prefix` (labels included), its value.
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_worker_reports_what_it_applied() {
    let pg = PostgresServer::start().await.unwrap();
    let kafka = KafkaServer::start().await.unwrap();
    let dst_url = pg.create_database("replica").await.unwrap();
    let topic = "rowlog.app.public.t";
    kafka.create_topic(topic, 1).await.unwrap();
    let s = TableSchema::new(
        TableId::new("public", "t"),
        vec![
            ColumnSchema {
                name: "id".into(),
                kind: "int".parse().unwrap(),
                source_type: "int8".into(),
                nullable: false,
            },
            ColumnSchema {
                name: "v".into(),
                kind: "text".parse().unwrap(),
                source_type: "text".into(),
                nullable: true,
            },
        ],
        vec!["id".into()],
    )
    .unwrap();
    let mut values: Vec<Option<Vec<u8>>> = [
        event(&s, Op::Insert, 1, "a", 10),
        event(&s, Op::Insert, 2, "b", 20),
        event(&s, Op::Insert, 3, "c", 30),
        event(&s, Op::Update, 2, "B", 40),
        event(&s, Op::Delete, 3, "c", 50),
    ]
    .iter()
    .map(|e| Some(json::encode(e, &s).unwrap()))
    .collect();
    values.push(None); // the delete's tombstone
    values.push(Some(b"{not a rowlog record".to_vec()));
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    for v in &values {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).key(&b"k"[..]);
        if let Some(v) = v {
            record = record.payload(&v[..]);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
    }

    let yaml = format!(
        "sources:\n  - name: app\n    postgres:\n      url: postgres://unused@127.0.0.1:1/app\n      tables: {{ include: [\"public.*\"] }}\nlog:\n  kafka:\n    brokers: [\"{}\"]\n  topic_prefix: rowlog\nsinks:\n  - name: metered\n    source: app\n    batch: {{ max_rows: 100, max_wait: 100ms }}\n    postgres:\n      url: {dst_url}\n      auto_create: true\n",
        kafka.bootstrap_servers()
    );
    let config = rowlog_config::load_str(&yaml, "test.yaml", &rowlog_config::ProcessEnv).unwrap();
    let sink_cfg = config.sinks[0].clone();
    let SinkKind::Postgres(sql) = sink_cfg.kind.clone() else {
        panic!("a postgres sink");
    };
    let worker = SinkWorker::new(sink_cfg, config.log.clone(), PgSink::new("metered", &sql));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(worker.run(rx));

    let dst = pg.connect("replica").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = metrics::global().encode();
        if value(
            &text,
            r#"rowlog_sink_applied_offset{sink="metered",topic="rowlog.app.public.t",partition="0"}"#,
        ) == Some(7.0)
        {
            break text;
        }
        assert!(Instant::now() < deadline, "not applied in time:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rows: Vec<String> = dst
        .query(
            "SELECT t.id || '|' || t.v FROM public.t AS t ORDER BY t.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec!["1|a", "2|B"]);
    let applied = |op: &str| {
        value(
            &text,
            &format!(
                r#"rowlog_sink_rows_applied_total{{sink="metered",table="public.t",op="{op}"}}"#
            ),
        )
    };
    assert_eq!(applied("insert"), Some(3.0), "{text}");
    assert_eq!(applied("update"), Some(1.0), "{text}");
    assert_eq!(applied("delete"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &text,
            r#"rowlog_sink_rows_dead_lettered_total{sink="metered"}"#
        ),
        Some(1.0),
        "{text}"
    );
    let version = Position::Postgres(PgPosition::new(Lsn(50), Lsn(50)))
        .row_version()
        .unwrap();
    #[allow(clippy::cast_precision_loss)]
    let want = version as f64;
    assert_eq!(
        value(
            &text,
            r#"rowlog_sink_applied_source_position{sink="metered",table="public.t"}"#
        ),
        Some(want),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"rowlog_sink_applied_source_time_ms{sink="metered",table="public.t"}"#
        ),
        Some(1_700_000_000_050.0),
        "{text}"
    );
    // The five changes in the end-to-end histogram (their commit times are
    // from 2023).
    assert_eq!(
        value(
            &text,
            r#"rowlog_sink_end_to_end_seconds_count{sink="metered"}"#
        ),
        Some(5.0),
        "{text}"
    );
    let batches = value(&text, r#"rowlog_sink_batch_records_count{sink="metered"}"#).unwrap();
    let records = value(&text, r#"rowlog_sink_batch_records_sum{sink="metered"}"#).unwrap();
    assert!(batches >= 1.0 && records == 7.0, "{text}");
    assert!(
        value(&text, r#"rowlog_sink_batch_seconds_count{sink="metered"}"#) == Some(batches),
        "{text}"
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

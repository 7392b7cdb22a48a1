//! Snapshot chunks against a real server: they see exactly the exported
//! snapshot, continue after a saved key, and decode like the stream does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rowlog_config::TableFilter;
use rowlog_connectors::postgres::catalog::{self, TypeCache};
use rowlog_connectors::postgres::snapshot;
use rowlog_connectors::postgres::types::SESSION_OPTIONS;
use rowlog_schemas::Value;
use rowlog_tests::postgres::PostgresServer;

async fn session(pg: &PostgresServer, db: &str) -> tokio_postgres::Client {
    let mut cfg: tokio_postgres::Config = pg.conn_string(db).parse().unwrap();
    cfg.options(SESSION_OPTIONS);
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test]
async fn chunks_see_the_exported_snapshot_and_resume_after_a_key() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let admin = pg.connect("app").await?;
    admin
        .batch_execute(
            "CREATE TYPE mood AS ENUM ('sad', 'happy');
             CREATE TABLE t (id int8 PRIMARY KEY, name text, amounts numeric[], at timestamptz, m mood);
             INSERT INTO t SELECT i, 'row ' || i, ARRAY[i * 1.5, NULL]::numeric[], '2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second', 'happy'
               FROM generate_series(1, 2500) i;
             CREATE TABLE k (a text NOT NULL, b int NOT NULL, PRIMARY KEY (a, b));
             INSERT INTO k SELECT 'x' || (i % 7), i FROM generate_series(1, 300) i;
             CREATE TABLE heap (v text); ALTER TABLE heap REPLICA IDENTITY FULL;
             INSERT INTO heap SELECT 'h' || i FROM generate_series(1, 250) i;",
        )
        .await?;
    let tables =
        catalog::resolve_tables(&admin, &TableFilter::default(), &Default::default()).await?;
    let mut cache = TypeCache::default();
    let mut desc = std::collections::HashMap::new();
    for t in &tables {
        desc.insert(
            t.id.name.clone(),
            catalog::describe_table(&admin, t, &mut cache).await?,
        );
    }
    assert_eq!(desc["t"].schema.columns[2].kind.to_string(), "decimal[]");
    assert_eq!(desc["t"].schema.columns[4].kind.to_string(), "enum");

    // Export a snapshot, then change the table: the snapshot must not see it.
    let exporter = session(&pg, "app").await;
    exporter
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await?;
    let name: String = exporter
        .query_one("SELECT pg_export_snapshot()", &[])
        .await?
        .get(0);
    admin
        .batch_execute("UPDATE t SET name = 'changed' WHERE id = 7; DELETE FROM t WHERE id = 8; INSERT INTO t (id) VALUES (9999);")
        .await?;

    let reader = session(&pg, "app").await;
    snapshot::begin(&reader, Some(&name)).await?;
    let t = &desc["t"];
    let mut after: Option<Vec<String>> = None;
    let mut all = Vec::new();
    let mut first_chunk_key = None;
    loop {
        let chunk =
            snapshot::read_chunk(&reader, &t.schema, &t.types, after.as_deref(), 1000).await?;
        if chunk.rows.is_empty() {
            break;
        }
        first_chunk_key.get_or_insert(chunk.last_key.clone().unwrap());
        all.extend(chunk.rows);
        after = chunk.last_key;
    }
    assert_eq!(all.len(), 2500);
    let row7 = &all[6];
    assert_eq!(row7.get("name"), Some(&Value::Text("row 7".into())));
    assert_eq!(all[7].get("id"), Some(&Value::Int(8)));
    assert_eq!(
        row7.get("amounts"),
        Some(&Value::Array(vec![
            Value::Decimal("10.5".parse()?),
            Value::Null
        ]))
    );
    assert_eq!(
        row7.get("at"),
        Some(&Value::TimestampTz("2024-01-01T00:00:07".parse()?))
    );
    assert_eq!(row7.get("m"), Some(&Value::Enum("happy".into())));
    assert_eq!(first_chunk_key.unwrap(), vec!["1000".to_string()]);

    // Composite text keys continue exactly after the saved key.
    let k = &desc["k"];
    let first = snapshot::read_chunk(&reader, &k.schema, &k.types, None, 100).await?;
    let rest = snapshot::read_chunk(
        &reader,
        &k.schema,
        &k.types,
        first.last_key.as_deref(),
        1000,
    )
    .await?;
    assert_eq!(first.rows.len() + rest.rows.len(), 300);
    assert!(!first.rows.iter().any(|r| rest.rows.contains(r)));

    // Keyless tables go by ctid.
    let h = &desc["heap"];
    let a = snapshot::read_chunk(&reader, &h.schema, &h.types, None, 200).await?;
    let b = snapshot::read_chunk(&reader, &h.schema, &h.types, a.last_key.as_deref(), 200).await?;
    assert_eq!((a.rows.len(), b.rows.len()), (200, 50));
    snapshot::finish(&reader).await?;
    assert!(snapshot::estimate_rows(&admin, &t.schema).await? >= -1);

    // Resuming in a new transaction (no exported snapshot) continues after the
    // saved key and sees the current data.
    snapshot::begin(&reader, None).await?;
    let resumed = snapshot::read_chunk(
        &reader,
        &t.schema,
        &t.types,
        Some(&["9998".to_string()]),
        10,
    )
    .await?;
    assert_eq!(resumed.rows.len(), 1);
    assert_eq!(resumed.rows[0].get("id"), Some(&Value::Int(9999)));
    snapshot::finish(&reader).await?;
    Ok(())
}

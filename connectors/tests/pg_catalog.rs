//! The PostgreSQL source's catalog checks against a real server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rowlog_config::TableFilter;
use rowlog_connectors::postgres::catalog;
use rowlog_connectors::postgres::types::PgType;
use rowlog_tests::postgres::PostgresServer;

fn filter(include: &[&str], exclude: &[&str]) -> TableFilter {
    TableFilter {
        include: include.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test]
async fn server_check_names_wal_level_and_fix() -> anyhow::Result<()> {
    let logical = PostgresServer::start().await?;
    let info = catalog::check_server(&logical.connect("postgres").await?).await?;
    assert_eq!(info.wal_level, "logical");
    assert!(info.version_num >= 140_000);

    let replica = PostgresServer::start_with_settings(&[("wal_level", "replica")]).await?;
    let err = catalog::check_server(&replica.connect("postgres").await?)
        .await
        .unwrap_err();
    assert!(!err.transient);
    assert!(err.message.contains("wal_level is `replica`"), "{err}");
    assert!(
        err.message.contains("ALTER SYSTEM SET wal_level = logical"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn tables_keys_and_publication() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let db = "app".to_string();
    let c = pg.connect(&db).await?;
    c.batch_execute(
        "CREATE TABLE users (id int8 PRIMARY KEY, email text);
         CREATE TABLE orders (tenant int, id int, PRIMARY KEY (tenant, id));
         CREATE TABLE audit_log (at timestamptz);
         CREATE TABLE events (id int NOT NULL, body text);
         CREATE UNIQUE INDEX events_id ON events (id);
         ALTER TABLE events REPLICA IDENTITY USING INDEX events_id;
         CREATE TABLE blobs (data bytea);
         ALTER TABLE blobs REPLICA IDENTITY FULL;
         CREATE SCHEMA other; CREATE TABLE other.t (id int PRIMARY KEY);",
    )
    .await?;
    let none = Default::default();

    // audit_log has no key: an error that says what to do, unless excluded.
    let err = catalog::resolve_tables(&c, &filter(&["public.*"], &[]), &none)
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("table public.audit_log has no primary key"),
        "{err}"
    );
    assert!(err.message.contains("REPLICA IDENTITY FULL"), "{err}");

    let tables =
        catalog::resolve_tables(&c, &filter(&["public.*"], &["public.audit_*"]), &none).await?;
    let keys: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|t| (t.id.to_string(), t.key.clone()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("public.blobs".to_string(), vec![]),
            ("public.events".to_string(), vec!["id".to_string()]),
            (
                "public.orders".to_string(),
                vec!["tenant".to_string(), "id".to_string()]
            ),
            ("public.users".to_string(), vec!["id".to_string()]),
        ]
    );
    assert_eq!(tables[0].replica_identity, 'f');

    // A key override alone does not make the keyless table usable: once
    // published, PostgreSQL would refuse the application's UPDATE/DELETE.
    let overrides = [("public.audit_log".to_string(), vec!["at".to_string()])]
        .into_iter()
        .collect();
    let err = catalog::resolve_tables(&c, &filter(&["public.audit_log"], &[]), &overrides)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("refuses every UPDATE and DELETE"),
        "{err}"
    );
    assert!(
        err.message
            .contains(r#"ALTER TABLE "public"."audit_log" REPLICA IDENTITY FULL"#),
        "{err}"
    );
    // With REPLICA IDENTITY FULL it keys the table's records.
    c.batch_execute("ALTER TABLE audit_log REPLICA IDENTITY FULL")
        .await?;
    let with_audit =
        catalog::resolve_tables(&c, &filter(&["public.audit_log"], &[]), &overrides).await?;
    assert_eq!(with_audit[0].key, vec!["at".to_string()]);
    // On a table with a key, an override must stay inside what deletes send.
    let bad = [("public.users".to_string(), vec!["email".to_string()])]
        .into_iter()
        .collect();
    let err = catalog::resolve_tables(&c, &filter(&["public.users"], &[]), &bad)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("`email`, which deletes do not carry"),
        "{err}"
    );
    c.batch_execute("ALTER TABLE audit_log REPLICA IDENTITY DEFAULT")
        .await?;

    catalog::ensure_publication(&c, "rowlog_pub", &tables).await?;
    catalog::ensure_publication(&c, "rowlog_pub", &tables).await?; // reuse
    let more = catalog::resolve_tables(&c, &filter(&["*.*"], &["public.audit_*"]), &none).await?;
    let err = catalog::ensure_publication(&c, "rowlog_pub", &more)
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains(r#"ALTER PUBLICATION "rowlog_pub" ADD TABLE "other"."t""#),
        "{err}"
    );
    let err = catalog::ensure_publication(&c, "p2", &[])
        .await
        .unwrap_err();
    assert!(err.message.contains("no table matches"), "{err}");
    Ok(())
}

#[tokio::test]
async fn slots_columns_and_types() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    pg.create_database("app").await?;
    let db = "app".to_string();
    let c = pg.connect(&db).await?;
    c.batch_execute(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE DOMAIN price AS numeric(10,2);
         CREATE TABLE t (id int8 PRIMARY KEY, m mood, ms mood[], p price, v varchar(20) NOT NULL);",
    )
    .await?;
    assert!(catalog::slot_info(&c, "s1").await?.is_none());
    c.batch_execute("SELECT pg_create_logical_replication_slot('s1', 'pgoutput'); SELECT pg_create_logical_replication_slot('s2', 'test_decoding');")
        .await?;
    let s1 = catalog::slot_info(&c, "s1").await?.unwrap();
    catalog::check_slot("s1", &s1, &db)?;
    assert!(s1.retained_wal_bytes.unwrap() >= 0);
    assert!(s1.confirmed_flush_lsn.is_some());
    let s2 = catalog::slot_info(&c, "s2").await?.unwrap();
    let err = catalog::check_slot("s2", &s2, &db).unwrap_err();
    assert!(err.message.contains("plugin test_decoding"), "{err}");
    assert!(catalog::check_slot("s1", &s1, "otherdb").is_err());

    let oid: u32 = c.query_one("SELECT 't'::regclass::oid", &[]).await?.get(0);
    let cols = catalog::columns(&c, oid).await?;
    assert_eq!(cols["p"].source_type, "price");
    assert_eq!(cols["v"].source_type, "character varying(20)");
    assert!(cols["v"].not_null && !cols["m"].not_null);

    let mut cache = std::collections::HashMap::new();
    for name in ["m", "ms", "p"] {
        let oid = cols[name].type_oid;
        let mut pending = vec![oid];
        while let Some(o) = pending.pop() {
            if let Some(ct) = catalog::catalog_type(&c, o).await? {
                pending.extend(
                    [ct.typelem, ct.typbasetype]
                        .into_iter()
                        .filter(|x| *x != 0 && !cache.contains_key(x)),
                );
                cache.insert(o, ct);
            }
        }
    }
    let mut lookup = |o: u32| cache.get(&o).cloned();
    assert_eq!(
        PgType::from_catalog(cols["m"].type_oid, &mut lookup),
        PgType::Enum
    );
    assert_eq!(
        PgType::from_catalog(cols["ms"].type_oid, &mut lookup)
            .kind()
            .to_string(),
        "enum[]"
    );
    assert_eq!(
        PgType::from_catalog(cols["p"].type_oid, &mut lookup),
        PgType::Numeric
    );
    Ok(())
}

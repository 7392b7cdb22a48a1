//! The walsender client and the pgoutput decoder against a real PostgreSQL
//! 15: exported snapshots, streaming, status updates, large streamed
//! transactions, authentication and error classification.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use rowlog_connectors::postgres::pgoutput::{
    Column, Decoder, Delete, Insert, Message, OldTuple, ReplicaIdentity, Update,
};
use rowlog_connectors::postgres::walsender::{
    ConnectConfig, ErrorKind, ReplicationConnection, ReplicationError, ReplicationEvent,
    ReplicationStream, SlotOptions, SnapshotAction, StartOptions, StatusUpdate, Streaming,
};
use rowlog_schemas::position::Lsn;
use rowlog_tests::PostgresServer;

fn text(s: &str) -> Column {
    Column::Text(Bytes::copy_from_slice(s.as_bytes()))
}

async fn replication(url: &str) -> anyhow::Result<ReplicationConnection> {
    let config = ConnectConfig::from_url(url)?;
    Ok(ReplicationConnection::connect(&config).await?)
}

/// The next pgoutput message, skipping keepalives (answering those that ask).
async fn next_message(
    stream: &mut ReplicationStream,
    decoder: &mut Decoder,
) -> anyhow::Result<Message> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.next_event())
            .await
            .context("no message within 20 s")??;
        match event {
            ReplicationEvent::XLogData(x) => return Ok(decoder.decode(x.data)?),
            ReplicationEvent::Keepalive(k) => {
                if k.reply_requested {
                    let mut update = StatusUpdate::up_to(Lsn(0));
                    update.write = k.wal_end;
                    stream.send_status(&update).await?;
                }
            }
        }
    }
}

async fn confirmed_flush(client: &tokio_postgres::Client, slot: &str) -> anyhow::Result<Lsn> {
    let row = client
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await?;
    Ok(row.get::<_, String>(0).parse()?)
}

#[tokio::test]
async fn exported_snapshot_then_stream_of_changes() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let url = pg.create_database("app").await?;
    let sql = pg.connect("app").await?;
    sql.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2));
         CREATE PUBLICATION pub FOR TABLE items;
         INSERT INTO items VALUES (1, 'one', 1.50), (2, 'two', NULL);",
    )
    .await?;

    let mut repl = replication(&url).await?;
    assert_eq!(repl.server_major_version(), Some(15));
    let system = repl.identify_system().await?;
    assert_eq!(system.dbname.as_deref(), Some("app"));
    assert_eq!(system.timeline, 1);
    let slot = repl
        .create_logical_slot("rowlog_slot", &SlotOptions::default())
        .await?;
    assert_eq!(slot.slot_name, "rowlog_slot");
    assert_eq!(slot.output_plugin.as_deref(), Some("pgoutput"));
    let snapshot = slot.snapshot_name.clone().context("no snapshot exported")?;

    // A change committed after the slot exists is not in the snapshot but
    // is streamed.
    sql.execute("INSERT INTO items VALUES (3, 'three', 3)", &[])
        .await?;

    // The replication connection stays idle while another session reads
    // the exported snapshot.
    let reader = pg.connect("app").await?;
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await?;
    let ids: Vec<i32> = reader
        .query("SELECT id FROM items ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        [1, 2],
        "the snapshot sees only rows from before the slot"
    );
    reader.batch_execute("COMMIT").await?;

    sql.batch_execute(
        "BEGIN;
         UPDATE items SET name = 'uno' WHERE id = 1;
         SELECT pg_logical_emit_message(true, 'rowlog', 'marker');
         DELETE FROM items WHERE id = 2;
         COMMIT;",
    )
    .await?;

    let mut options = StartOptions::new(["pub"]);
    options.proto_version = 2;
    options.messages = true;
    options.streaming = Streaming::On;
    let mut stream = repl
        .start_replication("rowlog_slot", slot.consistent_point, &options)
        .await?;
    let mut decoder = Decoder::new();

    // Transaction 1: the insert made while the snapshot was read.
    let Message::Begin(begin) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Begin");
    };
    assert!(begin.final_lsn >= slot.consistent_point);
    let Message::Relation(rel) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Relation");
    };
    assert_eq!(
        (rel.namespace.as_str(), rel.name.as_str()),
        ("public", "items")
    );
    assert_eq!(rel.replica_identity, ReplicaIdentity::Default);
    let cols: Vec<_> = rel
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.is_key(), c.type_oid))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", true, 23),
            ("name", false, 25),
            ("price", false, 1700)
        ]
    );
    assert_eq!(rel.columns[2].type_modifier, (10 << 16 | 2) + 4);
    assert_eq!(
        next_message(&mut stream, &mut decoder).await?,
        Message::Insert(Insert {
            xid: None,
            relation: rel.oid,
            new: vec![text("3"), text("three"), text("3.00")],
        })
    );
    let Message::Commit(commit1) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Commit");
    };
    assert_eq!(commit1.commit_lsn, begin.final_lsn);
    assert_eq!(commit1.commit_time, begin.commit_time);

    // Transaction 2: update, transactional message, delete.
    let Message::Begin(begin2) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Begin");
    };
    assert_eq!(
        next_message(&mut stream, &mut decoder).await?,
        Message::Update(Update {
            xid: None,
            relation: rel.oid,
            old: None,
            new: vec![text("1"), text("uno"), text("1.50")],
        })
    );
    let Message::Message(m) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected a logical message");
    };
    assert!(m.transactional);
    assert_eq!(
        (m.prefix.as_str(), &m.content[..]),
        ("rowlog", &b"marker"[..])
    );
    assert_eq!(
        next_message(&mut stream, &mut decoder).await?,
        Message::Delete(Delete {
            xid: None,
            relation: rel.oid,
            old: OldTuple::Key(vec![text("2"), Column::Null, Column::Null]),
        })
    );
    let Message::Commit(commit2) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Commit");
    };
    assert_eq!(commit2.commit_lsn, begin2.final_lsn);
    assert!(commit2.end_lsn > commit1.end_lsn);

    // Confirming the second transaction moves the slot.
    assert!(confirmed_flush(&sql, "rowlog_slot").await? < commit2.end_lsn);
    stream
        .send_status(&StatusUpdate::up_to(commit2.end_lsn))
        .await?;
    let mut confirmed = Lsn(0);
    for _ in 0..100 {
        confirmed = confirmed_flush(&sql, "rowlog_slot").await?;
        if confirmed == commit2.end_lsn {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(confirmed, commit2.end_lsn);

    // A clean stop returns the connection to command mode.
    let mut repl = stream.finish().await?;
    let slots = repl
        .simple_query(
            "SELECT plugin, active FROM pg_replication_slots WHERE slot_name = 'rowlog_slot'",
        )
        .await?;
    assert_eq!(
        slots[0].values(),
        [Some("pgoutput".to_owned()), Some("f".to_owned())]
    );
    let rows = repl
        .simple_query("SELECT 1 AS one, NULL AS nothing")
        .await?;
    assert_eq!(rows[0].get("one"), Some("1"));
    assert_eq!(rows[0].values(), [Some("1".to_owned()), None]);
    repl.close().await?;

    // Restarting from the confirmed position streams nothing old.
    sql.execute("INSERT INTO items VALUES (4, 'four', 4)", &[])
        .await?;
    let repl = replication(&url).await?;
    let mut stream = repl
        .start_replication("rowlog_slot", Lsn(0), &options)
        .await?;
    let mut decoder = Decoder::new();
    let Message::Begin(b) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Begin");
    };
    assert!(b.final_lsn > commit2.end_lsn);
    assert!(matches!(
        next_message(&mut stream, &mut decoder).await?,
        Message::Relation(_)
    ));
    let Message::Insert(i) = next_message(&mut stream, &mut decoder).await? else {
        bail!("expected Insert");
    };
    assert_eq!(i.new[0], text("4"));
    stream.finish().await?.close().await?;
    Ok(())
}

#[tokio::test]
async fn large_transaction_is_streamed_in_blocks() -> anyhow::Result<()> {
    let pg = PostgresServer::start_with_settings(&[("logical_decoding_work_mem", "64kB")]).await?;
    let url = pg.create_database("app").await?;
    let sql = pg.connect("app").await?;
    sql.batch_execute(
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         ALTER TABLE big REPLICA IDENTITY FULL;
         CREATE PUBLICATION pub FOR TABLE big;",
    )
    .await?;
    let mut repl = replication(&url).await?;
    let slot_options = SlotOptions {
        snapshot: SnapshotAction::Nothing,
        ..SlotOptions::default()
    };
    let slot = repl.create_logical_slot("big_slot", &slot_options).await?;
    assert_eq!(slot.snapshot_name, None);

    const ROWS: usize = 3000;
    sql.batch_execute(&format!(
        "BEGIN;
         INSERT INTO big SELECT g, repeat('x', 100) || g FROM generate_series(1, {ROWS}) g;
         DELETE FROM big WHERE id = 1;
         COMMIT;"
    ))
    .await?;

    let mut options = StartOptions::new(["pub"]);
    options.proto_version = 2;
    options.streaming = Streaming::On;
    let mut stream = repl
        .start_replication("big_slot", slot.consistent_point, &options)
        .await?;
    let mut decoder = Decoder::new();
    let (mut starts, mut stops, mut inserts, mut first_segments) = (0, 0, 0, 0);
    let mut xid = None;
    let mut deleted = None;
    loop {
        match next_message(&mut stream, &mut decoder).await? {
            Message::StreamStart(s) => {
                assert_eq!(starts, stops, "a stream block opened inside another");
                assert_eq!(*xid.get_or_insert(s.xid), s.xid);
                starts += 1;
                first_segments += usize::from(s.first_segment);
            }
            Message::StreamStop => stops += 1,
            Message::Relation(r) => assert_eq!(r.xid, xid, "a streamed Relation carries the xid"),
            Message::Insert(i) => {
                assert!(decoder.in_stream(), "changes arrive inside stream blocks");
                assert_eq!(i.xid, xid);
                inserts += 1;
            }
            Message::Delete(d) => deleted = Some(d),
            Message::StreamCommit(c) => {
                assert_eq!(Some(c.xid), xid);
                assert!(c.end_lsn > c.commit_lsn);
                break;
            }
            Message::Begin(_) | Message::Commit(_) => bail!("the transaction was not streamed"),
            other => bail!("unexpected {other:?}"),
        }
    }
    assert!(
        starts >= 2,
        "{starts} stream blocks for {ROWS} rows over 64kB"
    );
    assert_eq!(starts, stops);
    assert_eq!(first_segments, 1);
    assert_eq!(inserts, ROWS);
    let deleted = deleted.context("no delete")?;
    let OldTuple::Full(old) = deleted.old else {
        bail!("REPLICA IDENTITY FULL sends the old row");
    };
    assert_eq!(old, [text("1"), text(&format!("{}1", "x".repeat(100)))]);
    stream.finish().await?.close().await?;
    Ok(())
}

/// Requires passwords over TCP for every role but `postgres`.
async fn require_passwords(pg: &PostgresServer) -> anyhow::Result<()> {
    std::fs::write(
        pg.data_dir().join("pg_hba.conf"),
        "local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all rep_md5 127.0.0.1/32 md5\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )?;
    let sql = pg.connect("postgres").await?;
    sql.batch_execute(
        "SET password_encryption = 'scram-sha-256';
         CREATE ROLE rep_scram LOGIN REPLICATION PASSWORD 's3cret pass';
         CREATE ROLE no_repl LOGIN PASSWORD 'pw';
         SET password_encryption = 'md5';
         CREATE ROLE rep_md5 LOGIN REPLICATION PASSWORD 'md5pw';
         SELECT pg_reload_conf();",
    )
    .await?;
    // pg_reload_conf only signals; wait until a password is required.
    for _ in 0..100 {
        let url = format!("postgres://rep_scram@127.0.0.1:{}/postgres", pg.port());
        if replication(&url).await.is_err() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("pg_hba.conf was not reloaded")
}

#[tokio::test]
async fn scram_and_md5_auth_and_permanent_auth_errors() -> anyhow::Result<()> {
    let pg =
        PostgresServer::start_with_settings(&[("password_encryption", "scram-sha-256")]).await?;
    require_passwords(&pg).await?;
    let port = pg.port();
    let at = |userinfo: &str| format!("postgres://{userinfo}@127.0.0.1:{port}/postgres");

    let mut scram = replication(&at("rep_scram:s3cret%20pass")).await?;
    assert_eq!(scram.identify_system().await?.timeline, 1);
    scram.close().await?;
    let mut md5 = replication(&at("rep_md5:md5pw")).await?;
    md5.identify_system().await?;
    md5.close().await?;

    let wrong = replication(&at("rep_scram:wrong")).await.unwrap_err();
    let wrong = wrong.downcast::<ReplicationError>()?;
    assert_eq!(wrong.sqlstate(), Some("28P01"), "{wrong}");
    assert!(!wrong.is_transient());
    assert!(
        !wrong.to_string().contains("wrong"),
        "no password in {wrong}"
    );

    let wrong_md5 = replication(&at("rep_md5:nope")).await.unwrap_err();
    assert!(wrong_md5.to_string().contains("28P01"), "{wrong_md5}");

    let none = replication(&at("rep_scram")).await.unwrap_err();
    let none = none.downcast::<ReplicationError>()?;
    assert_eq!(none.kind(), ErrorKind::Auth, "{none}");
    assert!(!none.is_transient());

    let no_privilege = replication(&at("no_repl:pw")).await.unwrap_err();
    let no_privilege = no_privilege.downcast::<ReplicationError>()?;
    assert_eq!(no_privilege.sqlstate(), Some("42501"), "{no_privilege}");
    assert!(!no_privilege.is_transient());
    Ok(())
}

#[tokio::test]
async fn server_errors_carry_sqlstate_and_class() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let url = pg.create_database("app").await?;
    pg.connect("app")
        .await?
        .batch_execute("CREATE PUBLICATION pub FOR ALL TABLES")
        .await?;
    let mut repl = replication(&url).await?;
    let slot = repl
        .create_logical_slot(
            "busy",
            &SlotOptions {
                snapshot: SnapshotAction::Nothing,
                ..SlotOptions::default()
            },
        )
        .await?;

    // Errors in command mode leave the connection usable.
    let missing = repl
        .drop_replication_slot("missing", false)
        .await
        .unwrap_err();
    assert_eq!(missing.sqlstate(), Some("42704"), "{missing}");
    assert!(!missing.is_transient());
    assert!(
        missing
            .to_string()
            .contains("drop replication slot missing"),
        "{missing}"
    );
    let bad_sql = repl
        .simple_query("SELECT nonsense FROM nowhere")
        .await
        .unwrap_err();
    assert_eq!(bad_sql.sqlstate(), Some("42P01"));
    let dup = repl
        .create_logical_slot("busy", &SlotOptions::default())
        .await
        .unwrap_err();
    assert_eq!(dup.sqlstate(), Some("42710"), "{dup}");
    repl.identify_system().await?;

    let options = StartOptions::new(["pub"]);
    let held = repl
        .start_replication("busy", slot.consistent_point, &options)
        .await?;
    let other = replication(&url).await?;
    let in_use = other
        .start_replication("busy", slot.consistent_point, &options)
        .await
        .unwrap_err();
    assert_eq!(in_use.sqlstate(), Some("55006"), "{in_use}");
    assert!(!in_use.is_transient());

    let other = replication(&url).await?;
    let no_slot = other
        .start_replication("nope", Lsn(0), &options)
        .await
        .unwrap_err();
    assert_eq!(no_slot.sqlstate(), Some("42704"), "{no_slot}");

    let bad_db = replication(&format!("postgres://postgres@127.0.0.1:{}/nodb", pg.port()))
        .await
        .unwrap_err()
        .downcast::<ReplicationError>()?;
    assert_eq!(bad_db.sqlstate(), Some("3D000"));
    assert!(!bad_db.is_transient());

    // Nothing listening: transient.
    drop(held);
    let port = pg.port();
    drop(pg);
    let refused = replication(&format!("postgres://postgres@127.0.0.1:{port}/app"))
        .await
        .unwrap_err()
        .downcast::<ReplicationError>()?;
    assert_eq!(refused.kind(), ErrorKind::Io, "{refused}");
    assert!(refused.is_transient());
    Ok(())
}

#[tokio::test]
async fn wal_level_replica_is_a_permanent_error() -> anyhow::Result<()> {
    let pg = PostgresServer::start_with_settings(&[("wal_level", "replica")]).await?;
    let mut repl = replication(&pg.url("postgres")).await?;
    let e = repl
        .create_logical_slot("s", &SlotOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("55000"), "{e}");
    assert!(
        e.server_message().unwrap_or_default().contains("wal_level"),
        "{e}"
    );
    assert!(!e.is_transient());
    Ok(())
}

#[tokio::test]
async fn terminated_or_killed_mid_stream_is_a_transient_error() -> anyhow::Result<()> {
    let mut pg = PostgresServer::start().await?;
    let url = pg.create_database("app").await?;
    let sql = pg.connect("app").await?;
    sql.batch_execute("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE t;")
        .await?;
    let mut repl = replication(&url).await?;
    let slot = repl
        .create_logical_slot(
            "s",
            &SlotOptions {
                snapshot: SnapshotAction::Nothing,
                ..SlotOptions::default()
            },
        )
        .await?;
    let start = slot.consistent_point;
    let stream = repl
        .start_replication("s", start, &StartOptions::new(["pub"]))
        .await?;

    // An administrator ends the walsender: 57P01, transient.
    let mut stream = stream;
    sql.execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 's'",
        &[],
    )
    .await?;
    let error = first_error(&mut stream).await?;
    assert_eq!(error.sqlstate(), Some("57P01"), "{error}");
    assert!(error.is_transient(), "{error}");

    // The whole server dies (SIGKILL): the connection is lost, transient.
    // The slot may still look active for a moment after the terminate.
    let mut stream = loop {
        let repl = replication(&url).await?;
        match repl
            .start_replication("s", start, &StartOptions::new(["pub"]))
            .await
        {
            Ok(stream) => break stream,
            Err(e) if e.sqlstate() == Some("55006") => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(e.into()),
        }
    };
    sql.execute("INSERT INTO t VALUES (1)", &[]).await?;
    let mut decoder = Decoder::new();
    assert!(matches!(
        next_message(&mut stream, &mut decoder).await?,
        Message::Begin(_)
    ));
    pg.process().kill();
    let error = first_error(&mut stream).await?;
    assert!(error.is_transient(), "{error} ({:?})", error.kind());
    assert!(
        matches!(error.kind(), ErrorKind::Closed | ErrorKind::Io),
        "{error}"
    );
    Ok(())
}

/// Reads until the stream fails.
async fn first_error(stream: &mut ReplicationStream) -> anyhow::Result<ReplicationError> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next_event()).await? {
            Ok(_) => continue, // what was sent before
            Err(e) => return Ok(e),
        }
    }
}

/// A slot without a snapshot, and a stream on it.
async fn stream_from_new_slot(
    url: &str,
    slot_options: &SlotOptions,
    options: &StartOptions,
) -> anyhow::Result<ReplicationStream> {
    let mut repl = replication(url).await?;
    let slot = repl.create_logical_slot("s", slot_options).await?;
    Ok(repl
        .start_replication("s", slot.consistent_point, options)
        .await?)
}

#[tokio::test]
async fn unchanged_toast_truncate_and_old_rows() -> anyhow::Result<()> {
    let pg = PostgresServer::start().await?;
    let url = pg.create_database("app").await?;
    let sql = pg.connect("app").await?;
    sql.batch_execute(
        "CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
         CREATE TABLE audit (id int, note text);
         ALTER TABLE audit REPLICA IDENTITY FULL;
         CREATE PUBLICATION pub FOR TABLE docs, audit;",
    )
    .await?;
    let slot_options = SlotOptions {
        snapshot: SnapshotAction::Nothing,
        ..SlotOptions::default()
    };
    let mut stream = stream_from_new_slot(&url, &slot_options, &StartOptions::new(["pub"])).await?;
    sql.batch_execute(
        // ~40 kB of incompressible text: stored out of line (TOAST).
        "INSERT INTO docs SELECT 1, 'draft', string_agg(md5(g::text), '') FROM generate_series(1, 1200) g;
         UPDATE docs SET title = 'final' WHERE id = 1;
         INSERT INTO audit VALUES (7, 'a');
         UPDATE audit SET note = 'b';
         TRUNCATE docs, audit RESTART IDENTITY;",
    )
    .await?;
    let mut decoder = Decoder::new();
    let mut changes = Vec::new();
    while changes.len() < 5 {
        match next_message(&mut stream, &mut decoder).await? {
            Message::Begin(_) | Message::Commit(_) | Message::Relation(_) => {}
            other => changes.push(other),
        }
    }
    let Message::Insert(insert) = &changes[0] else {
        bail!("expected Insert, got {:?}", changes[0]);
    };
    let Column::Text(body) = &insert.new[2] else {
        bail!("the body was sent in full on insert");
    };
    assert_eq!(body.len(), 1200 * 32);
    let Message::Update(update) = &changes[1] else {
        bail!("expected Update");
    };
    assert_eq!(
        update.new,
        [text("1"), text("final"), Column::UnchangedToast],
        "an unchanged TOASTed column is not sent"
    );
    let Message::Update(full) = &changes[3] else {
        bail!("expected Update");
    };
    assert_eq!(full.old, Some(OldTuple::Full(vec![text("7"), text("a")])));
    let Message::Truncate(truncate) = &changes[4] else {
        bail!("expected Truncate");
    };
    assert_eq!(truncate.relations.len(), 2);
    assert!(truncate.restart_identity() && !truncate.cascade());
    Ok(())
}

#[tokio::test]
async fn two_phase_transactions_with_protocol_v3() -> anyhow::Result<()> {
    let pg = PostgresServer::start_with_settings(&[("max_prepared_transactions", "5")]).await?;
    let url = pg.create_database("app").await?;
    let sql = pg.connect("app").await?;
    sql.batch_execute("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE t;")
        .await?;
    let slot_options = SlotOptions {
        snapshot: SnapshotAction::Nothing,
        two_phase: true,
        ..SlotOptions::default()
    };
    let mut options = StartOptions::new(["pub"]);
    options.proto_version = 3;
    options.two_phase = true;
    let mut stream = stream_from_new_slot(&url, &slot_options, &options).await?;
    // One statement per call: COMMIT/ROLLBACK PREPARED refuse to run in the
    // implicit transaction of a multi-statement query.
    for statement in [
        "BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'g1'",
        "COMMIT PREPARED 'g1'",
        "BEGIN; INSERT INTO t VALUES (2); PREPARE TRANSACTION 'g2'",
        "ROLLBACK PREPARED 'g2'",
    ] {
        sql.batch_execute(statement).await?;
    }
    let mut decoder = Decoder::new();
    let mut seen = Vec::new();
    while seen.len() < 8 {
        match next_message(&mut stream, &mut decoder).await? {
            Message::Relation(_) => {}
            Message::BeginPrepare(b) => seen.push(format!("begin prepare {}", b.gid)),
            Message::Insert(i) => seen.push(format!("insert {:?}", i.new)),
            Message::Prepare(p) => seen.push(format!("prepare {}", p.gid)),
            Message::CommitPrepared(c) => seen.push(format!("commit prepared {}", c.gid)),
            Message::RollbackPrepared(r) => {
                assert!(r.rollback_end_lsn > r.prepare_end_lsn);
                seen.push(format!("rollback prepared {}", r.gid))
            }
            other => bail!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            "begin prepare g1",
            "insert [Text(b\"1\")]",
            "prepare g1",
            "commit prepared g1",
            "begin prepare g2",
            "insert [Text(b\"2\")]",
            "prepare g2",
            "rollback prepared g2",
        ]
    );
    Ok(())
}

//! The MySQL/MariaDB source's startup checks against real MariaDB servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mysql_async::prelude::Queryable;
use rowlog_connectors::mysql::{self, checks};
use rowlog_tests::mariadb::MariaDbServer;

async fn check(
    server: &MariaDbServer,
) -> Result<checks::ServerInfo, rowlog_connectors::error::SourceError> {
    let mut conn = mysql::connect(&server.url()).await?;
    let r = checks::check_server(&mut conn).await;
    conn.disconnect().await.ok();
    r
}

#[tokio::test]
async fn default_testkit_server_passes() -> anyhow::Result<()> {
    let server = MariaDbServer::start().await?;
    let info = check(&server).await?;
    assert!(info.mariadb, "{info:?}");
    assert!(info.version_num >= (10, 6), "{info:?}");
    assert_eq!(info.server_id, 1);
    assert_eq!(info.binlog_format, "ROW");
    assert!(info.has_full_row_metadata(), "{info:?}");
    assert!(info.gtid_binlog_pos.is_some(), "{info:?}");
    assert_eq!(info.gtid_mode, None);
    Ok(())
}

async fn expect_failure(args: &[&str], needles: &[&str]) -> anyhow::Result<()> {
    let server = MariaDbServer::start_with_args(args).await?;
    let e = check(&server).await.expect_err("check should fail");
    assert!(!e.transient, "{e}");
    for n in needles {
        assert!(e.message.contains(n), "missing `{n}` in: {e}");
    }
    Ok(())
}

#[tokio::test]
async fn statement_binlog_format_fails_with_fix() -> anyhow::Result<()> {
    expect_failure(
        &["--binlog-format=STATEMENT"],
        &[
            "binlog_format is `STATEMENT`",
            "SET GLOBAL binlog_format = 'ROW'",
            "binlog_format = ROW",
        ],
    )
    .await
}

#[tokio::test]
async fn minimal_row_image_fails_with_fix() -> anyhow::Result<()> {
    expect_failure(
        &["--binlog-row-image=MINIMAL"],
        &[
            "binlog_row_image is `MINIMAL`",
            "SET GLOBAL binlog_row_image = 'FULL'",
            "not supported yet",
        ],
    )
    .await
}

#[tokio::test]
async fn compressed_binlog_fails_with_fix() -> anyhow::Result<()> {
    expect_failure(
        &["--log-bin-compress=ON"],
        &[
            "log_bin_compress is `ON`",
            "SET GLOBAL log_bin_compress = OFF",
        ],
    )
    .await
}

#[tokio::test]
async fn missing_replication_grant_is_named() -> anyhow::Result<()> {
    let server = MariaDbServer::start().await?;
    let mut root = server.connect().await?;
    root.query_drop("CREATE USER 'cdc'@'%' IDENTIFIED BY 'pw'")
        .await?;
    root.query_drop("GRANT REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%'")
        .await?;
    root.disconnect().await?;
    let url = format!("mysql://cdc:pw@127.0.0.1:{}/", server.port());
    let mut conn = mysql::connect(&url).await?;
    let e = checks::check_server(&mut conn)
        .await
        .expect_err("no REPLICATION SLAVE");
    conn.disconnect().await.ok();
    assert!(!e.transient, "{e}");
    assert!(
        e.message.contains("lacks privilege REPLICATION SLAVE"),
        "{e}"
    );
    assert!(!e.message.contains("SELECT (for"), "{e}");
    assert!(
        e.message
            .contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%'"),
        "{e}"
    );
    Ok(())
}

#[tokio::test]
async fn wrong_password_is_permanent_access_denied() -> anyhow::Result<()> {
    let server = MariaDbServer::start().await?;
    let url = format!("mysql://root:wrong@127.0.0.1:{}/", server.port());
    let e = mysql::connect(&url).await.expect_err("wrong password");
    assert!(!e.transient, "{e}");
    assert!(e.message.contains("Access denied"), "{e}");
    assert!(e.message.contains("1045"), "{e}");
    Ok(())
}

#[tokio::test]
async fn refused_connection_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let Err(e) = mysql::connect(&format!("mysql://root@127.0.0.1:{port}/")).await else {
        return; // something took the port meanwhile
    };
    assert!(e.transient, "{e}");
}

/// Reads the server's own binlog files and decodes every MariaDB GTID and
/// GTID_LIST event in them: checks the decoders (including the XA layout)
/// against bytes a real server wrote.
#[tokio::test]
async fn decoders_read_a_real_mariadb_binlog() -> anyhow::Result<()> {
    use rowlog_connectors::mysql::mariadb_events as ev;
    let server = MariaDbServer::start().await?;
    let mut c = server.connect().await?;
    c.query_drop("CREATE DATABASE d").await?;
    c.query_drop("CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB")
        .await?;
    c.query_drop("BEGIN").await?;
    c.query_drop("INSERT INTO d.t VALUES (1)").await?;
    c.query_drop("COMMIT").await?;
    c.query_drop("XA START 'abc','xy',7").await?;
    c.query_drop("INSERT INTO d.t VALUES (2)").await?;
    c.query_drop("XA END 'abc','xy',7").await?;
    c.query_drop("XA PREPARE 'abc','xy',7").await?;
    c.query_drop("XA COMMIT 'abc','xy',7").await?;
    c.query_drop("FLUSH BINARY LOGS").await?;
    let pos: String = c.query_first("SELECT @@gtid_binlog_pos").await?.unwrap();
    let checksum: String = c.query_first("SELECT @@binlog_checksum").await?.unwrap();
    c.disconnect().await?;
    let trailer = if checksum == "NONE" { 0 } else { 4 };

    let dir = server.data_dir().parent().unwrap();
    let mut gtids = Vec::new();
    let mut lists = Vec::new();
    for file in ["binlog.000001", "binlog.000002"] {
        let bytes = std::fs::read(dir.join(file))?;
        assert_eq!(&bytes[..4], b"\xfebin");
        let mut at = 4;
        while at + 19 <= bytes.len() {
            let h = &bytes[at..at + 19];
            let kind = h[4];
            let server_id = u32::from_le_bytes(h[5..9].try_into()?);
            let size = u32::from_le_bytes(h[9..13].try_into()?) as usize;
            let body = &bytes[at + 19..at + size - trailer];
            match kind {
                ev::GTID_EVENT => gtids.push(ev::decode_gtid(body, server_id)?),
                ev::GTID_LIST_EVENT => lists.push(ev::decode_gtid_list(body)?),
                _ => {}
            }
            at += size;
        }
    }
    // CREATE DATABASE, CREATE TABLE, the INSERT, XA PREPARE, XA COMMIT.
    let text: Vec<String> = gtids.iter().map(|g| g.gtid.to_string()).collect();
    assert_eq!(
        text,
        ["0-1-1", "0-1-2", "0-1-3", "0-1-4", "0-1-5"],
        "{gtids:?}"
    );
    assert!(gtids[0].is_standalone() && gtids[1].is_standalone());
    assert!(!gtids[2].is_standalone());
    let xa = ev::XaId {
        format_id: 7,
        gtrid: b"abc".to_vec(),
        bqual: b"xy".to_vec(),
    };
    assert!(gtids[3].is_prepared_xa(), "{:?}", gtids[3]);
    assert_eq!(gtids[3].xa.as_ref(), Some(&xa));
    assert!(gtids[4].is_completed_xa(), "{:?}", gtids[4]);
    assert_eq!(gtids[4].xa.as_ref(), Some(&xa));
    // The second file starts with the state after everything above.
    assert_eq!(lists.last().unwrap().state.to_string(), pos);
    Ok(())
}

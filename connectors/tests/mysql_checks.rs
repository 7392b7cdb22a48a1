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

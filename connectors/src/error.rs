//! Source errors, split the way the runtime must treat them.
//!
//! A *transient* error (connection lost, server restarting, deadlock) means
//! "retry with backoff from the last confirmed position": nothing is lost
//! because positions only move after the log acked the events. A
//! *permanent* error (bad configuration, missing privilege, a table without
//! a key) stops the source with a message that names the place and the fix.

/// An error from a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// Retrying may help.
    pub transient: bool,
    /// What went wrong, where, and how to fix it.
    pub message: String,
}

impl SourceError {
    /// An error that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> SourceError {
        SourceError {
            transient: false,
            message: message.into(),
        }
    }
    /// An error that a retry may get past.
    pub fn transient(message: impl Into<String>) -> SourceError {
        SourceError {
            transient: true,
            message: message.into(),
        }
    }
    /// Prefixes the message with where it happened.
    pub fn context(mut self, place: impl std::fmt::Display) -> SourceError {
        self.message = format!("{place}: {}", self.message);
        self
    }
}

/// Classifies a tokio-postgres error: connection-level failures and the
/// SQLSTATE classes of conditions that pass (08 connection, 40 rollback,
/// 53 resources, 57P0x shutdown) are transient; the rest is permanent.
impl From<tokio_postgres::Error> for SourceError {
    fn from(e: tokio_postgres::Error) -> SourceError {
        let transient = match e.code() {
            Some(code) => {
                let c = code.code();
                c.starts_with("08")
                    || c.starts_with("40")
                    || c.starts_with("53")
                    || c.starts_with("57P")
            }
            // No SQLSTATE: a socket-level failure (refused, reset, timed
            // out: the server is down or restarting) or a closed
            // connection is transient. tokio-postgres says "error connecting
            // to server" / "error communicating with the server" with the
            // io::Error as source, or "timeout waiting for server".
            None => {
                let text = e.to_string();
                e.is_closed()
                    || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
                    || text.starts_with("error connecting to server")
                    || text.starts_with("error communicating with the server")
                    || text.starts_with("timeout waiting for server")
                    || text.contains("connection")
                    || text.contains("I/O")
            }
        };
        let message = match e.as_db_error() {
            Some(db) => format!(
                "{} (SQLSTATE {}){}",
                db.message(),
                db.code().code(),
                db.hint()
                    .map(|h| format!("; hint: {h}"))
                    .unwrap_or_default()
            ),
            // Display leaves out the cause ("error connecting to server"):
            // add it (e.g. "Connection refused (os error 111)").
            None => match std::error::Error::source(&e) {
                Some(cause) if !e.to_string().contains(&cause.to_string()) => {
                    format!("{e}: {cause}")
                }
                _ => e.to_string(),
            },
        };
        SourceError { transient, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_refused_is_transient_and_says_why() {
        // A port nothing listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let conn = format!("host=127.0.0.1 port={port} user=x dbname=x connect_timeout=5");
        let Err(e) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await else {
            return; // something took the port meanwhile; nothing to check
        };
        let se = SourceError::from(e);
        assert!(se.transient, "{se}");
        assert!(se.message.contains("refused"), "{se}");
    }
}

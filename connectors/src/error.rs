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
            None => {
                e.is_closed()
                    || e.to_string().contains("connection")
                    || e.to_string().contains("I/O")
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
            None => e.to_string(),
        };
        SourceError { transient, message }
    }
}

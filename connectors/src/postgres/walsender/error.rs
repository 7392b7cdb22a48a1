//! Errors of the replication connection, classified for retrying.
//!
//! Invariants: every error says where it happened (the endpoint and the
//! step); a server error keeps its SQLSTATE, message, detail and hint as
//! sent. [`ReplicationError::is_transient`] is true only for what a
//! reconnect with backoff can fix (lost connection, server shutting down or
//! starting up, too many connections); bad credentials, missing privileges,
//! a wrong `wal_level`, a missing or busy slot are permanent.

use std::fmt;
use std::io;

use postgres_protocol::message::backend::ErrorResponseBody;

/// What went wrong, broadly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL or options are invalid (never reaches the server).
    Config,
    /// Socket error (refused, reset, timed out...).
    Io,
    /// The server closed the connection, or ended the replication stream.
    Closed,
    /// Connecting or authenticating took longer than the connect timeout.
    Timeout,
    /// Authentication could not proceed on our side (no password given,
    /// unsupported method, the server's SCRAM signature did not verify).
    /// A password the server rejects is a [`ErrorKind::Server`] error with
    /// SQLSTATE `28P01`.
    Auth,
    /// The server answered with an ErrorResponse.
    Server,
    /// The server sent something the protocol does not allow here.
    Protocol,
}

/// An ErrorResponse's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// `ERROR`, `FATAL` or `PANIC` (not localized).
    pub severity: String,
    /// SQLSTATE, e.g. `28P01`.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// Detail, if any.
    pub detail: Option<String>,
    /// Hint, if any.
    pub hint: Option<String>,
}

impl ServerError {
    pub(super) fn parse(body: &ErrorResponseBody) -> ServerError {
        use fallible_iterator::FallibleIterator;
        let mut e = ServerError {
            severity: String::new(),
            code: String::new(),
            message: String::new(),
            detail: None,
            hint: None,
        };
        let mut localized_severity = String::new();
        let mut fields = body.fields();
        // A malformed field list keeps what was read before it.
        while let Ok(Some(field)) = fields.next() {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => e.severity = value,
                b'S' => localized_severity = value,
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                _ => {}
            }
        }
        if e.severity.is_empty() {
            e.severity = localized_severity;
        }
        e
    }
}

/// An error of the replication connection (boxed: results stay small).
#[derive(Debug)]
pub struct ReplicationError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    context: String,
    description: String,
    server: Option<ServerError>,
    source: Option<io::Error>,
}

impl ReplicationError {
    pub(super) fn new(
        kind: ErrorKind,
        context: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        ReplicationError(Box::new(Inner {
            kind,
            context: context.into(),
            description: description.into(),
            server: None,
            source: None,
        }))
    }

    pub(super) fn io(context: impl Into<String>, err: io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        ReplicationError(Box::new(Inner {
            kind,
            context: context.into(),
            description: err.to_string(),
            server: None,
            source: Some(err),
        }))
    }

    pub(super) fn server(context: impl Into<String>, server: ServerError) -> Self {
        ReplicationError(Box::new(Inner {
            kind: ErrorKind::Server,
            context: context.into(),
            description: String::new(),
            server: Some(server),
            source: None,
        }))
    }

    /// The same error, said to have happened at `context`.
    pub(super) fn with_context(mut self, context: String) -> Self {
        self.0.context = context;
        self
    }

    /// The broad kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's SQLSTATE, for a server error.
    pub fn sqlstate(&self) -> Option<&str> {
        self.0.server.as_ref().map(|s| s.code.as_str())
    }

    /// The server's primary message, for a server error.
    pub fn server_message(&self) -> Option<&str> {
        self.0.server.as_ref().map(|s| s.message.as_str())
    }

    /// All fields of the server's ErrorResponse, for a server error.
    pub fn server_error(&self) -> Option<&ServerError> {
        self.0.server.as_ref()
    }

    /// Where it happened: the endpoint and the step.
    pub fn context(&self) -> &str {
        &self.0.context
    }

    /// Whether reconnecting (with backoff) can fix it; see the module doc.
    pub fn is_transient(&self) -> bool {
        match self.0.kind {
            ErrorKind::Io | ErrorKind::Closed | ErrorKind::Timeout => true,
            ErrorKind::Config | ErrorKind::Auth | ErrorKind::Protocol => false,
            ErrorKind::Server => self.sqlstate().is_some_and(sqlstate_is_transient),
        }
    }
}

/// SQLSTATEs a retry can outlive.
fn sqlstate_is_transient(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (too many
    // connections, out of memory or disk); 57P01 admin shutdown, 57P02
    // crash shutdown, 57P03 cannot connect now (starting up or shutting
    // down), 57P05 idle session timeout; 57014 query canceled (e.g.
    // pg_cancel_backend); 40001/40P01 serialization failure, deadlock.
    // Not 57P04 (database dropped), nor 55006 (slot active: permanent for
    // this session; the caller decides whether to wait for the old holder).
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "57P05" | "57014" | "40001" | "40P01"
        )
}

impl fmt::Display for ReplicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.0.context)?;
        match &self.0.server {
            Some(s) => {
                write!(f, "{} {} (SQLSTATE {})", s.severity, s.message, s.code)?;
                if let Some(d) = &s.detail {
                    write!(f, "; detail: {d}")?;
                }
                if let Some(h) = &s.hint {
                    write!(f, "; hint: {h}")?;
                }
                if !self.0.description.is_empty() {
                    write!(f, "; {}", self.0.description)?;
                }
                Ok(())
            }
            None => f.write_str(&self.0.description),
        }
    }
}

impl std::error::Error for ReplicationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str) -> ReplicationError {
        ReplicationError::server(
            "ctx",
            ServerError {
                severity: "FATAL".into(),
                code: code.into(),
                message: "m".into(),
                detail: None,
                hint: Some("h".into()),
            },
        )
    }

    #[test]
    fn classification() {
        for code in ["57P01", "57P03", "08006", "53300", "57014"] {
            assert!(server(code).is_transient(), "{code}");
        }
        for code in [
            "28P01", "28000", "42501", "55000", "42704", "55006", "3D000", "57P04",
        ] {
            assert!(!server(code).is_transient(), "{code}");
        }
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(ReplicationError::io("c", refused).is_transient());
        let eof = ReplicationError::io("c", io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(eof.kind(), ErrorKind::Closed);
        assert!(!ReplicationError::new(ErrorKind::Auth, "c", "no password").is_transient());
    }

    #[test]
    fn display_carries_server_fields() {
        let e = server("28P01");
        assert_eq!(e.to_string(), "ctx: FATAL m (SQLSTATE 28P01); hint: h");
        assert_eq!(e.sqlstate(), Some("28P01"));
        assert_eq!(e.server_message(), Some("m"));
    }
}

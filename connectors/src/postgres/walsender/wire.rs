//! Framing of the PostgreSQL wire protocol over one socket.
//!
//! Invariants:
//! - Reads happen only when the caller asks for the next message, into one
//!   buffer that holds at most one message beyond what a single socket read
//!   returns: a slow caller makes the server block on TCP (backpressure),
//!   never makes us buffer.
//! - A message longer than `max_message_size` is refused from its header,
//!   before any of its body is buffered.
//! - [`Wire::read`] is cancel-safe: bytes read are kept in the buffer when
//!   the future is dropped. Writes are not (drop one and the connection is
//!   unusable).
//! - Message bodies are parsed by the `postgres-protocol` crate, except
//!   CopyBothResponse (`W`), which it does not know.

use std::fmt;

use bytes::{Buf, BytesMut};
use postgres_protocol::message::backend::{Header, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::{ErrorKind, ReplicationError};

/// A connected socket (TCP or Unix; TLS later).
pub(super) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Socket for T {}

/// A backend message.
pub(super) enum Backend {
    /// Parsed by `postgres-protocol`.
    Message(Message),
    /// `W`: CopyBothResponse (the stream started).
    CopyBoth,
}

const READ_CHUNK: usize = 64 * 1024;

/// One framed connection.
pub(super) struct Wire {
    socket: Box<dyn Socket>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    max_message_size: usize,
    /// Endpoint, for error contexts.
    pub(super) endpoint: String,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("endpoint", &self.endpoint)
            .field("buffered", &self.read_buf.len())
            .finish()
    }
}

impl Wire {
    pub(super) fn new(socket: Box<dyn Socket>, max_message_size: usize, endpoint: String) -> Wire {
        Wire {
            socket,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            write_buf: BytesMut::new(),
            max_message_size,
            endpoint,
        }
    }

    /// Context for an error in `step`.
    pub(super) fn context(&self, step: &str) -> String {
        format!("replication connection to {}: {step}", self.endpoint)
    }

    /// The next backend message.
    pub(super) async fn read(&mut self, step: &str) -> Result<Backend, ReplicationError> {
        loop {
            if let Some(message) = self.try_parse(step)? {
                return Ok(message);
            }
            if self.read_buf.capacity() - self.read_buf.len() < 1024 {
                self.read_buf.reserve(READ_CHUNK);
            }
            let n = self
                .socket
                .read_buf(&mut self.read_buf)
                .await
                .map_err(|e| ReplicationError::io(self.context(step), e))?;
            if n == 0 {
                return Err(ReplicationError::new(
                    ErrorKind::Closed,
                    self.context(step),
                    "the server closed the connection",
                ));
            }
        }
    }

    fn try_parse(&mut self, step: &str) -> Result<Option<Backend>, ReplicationError> {
        let header = match Header::parse(&self.read_buf) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.protocol_error(step, format!("bad message header: {e}"))),
        };
        // len counts itself (4 bytes) but not the tag; Header::parse checked len >= 4.
        let total = usize::try_from(header.len())
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        if total > self.max_message_size {
            return Err(self.protocol_error(
                step,
                format!(
                    "the server sent a message of {total} bytes (tag '{}'), over the limit of \
                 {} bytes; raise max_message_size if a single row is that large",
                    header.tag().escape_ascii(),
                    self.max_message_size
                ),
            ));
        }
        if self.read_buf.len() < total {
            self.read_buf.reserve(total - self.read_buf.len());
            return Ok(None);
        }
        if header.tag() == b'W' {
            self.read_buf.advance(total);
            return Ok(Some(Backend::CopyBoth));
        }
        match Message::parse(&mut self.read_buf) {
            Ok(Some(m)) => Ok(Some(Backend::Message(m))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.protocol_error(step, format!("malformed message: {e}"))),
        }
    }

    pub(super) fn protocol_error(&self, step: &str, what: String) -> ReplicationError {
        ReplicationError::new(ErrorKind::Protocol, self.context(step), what)
    }

    /// Encodes a message into the write buffer (sent by [`Wire::flush`]).
    pub(super) fn encode(
        &mut self,
        step: &str,
        build: impl FnOnce(&mut BytesMut) -> std::io::Result<()>,
    ) -> Result<(), ReplicationError> {
        build(&mut self.write_buf).map_err(|e| {
            ReplicationError::new(
                ErrorKind::Config,
                self.context(step),
                format!("cannot encode the message: {e}"),
            )
        })
    }

    /// Writes out everything encoded.
    pub(super) async fn flush(&mut self, step: &str) -> Result<(), ReplicationError> {
        let result = async {
            self.socket.write_all(&self.write_buf).await?;
            self.socket.flush().await
        }
        .await;
        self.write_buf.clear();
        result.map_err(|e| ReplicationError::io(self.context(step), e))
    }

    /// Encodes and sends one message.
    pub(super) async fn send(
        &mut self,
        step: &str,
        build: impl FnOnce(&mut BytesMut) -> std::io::Result<()>,
    ) -> Result<(), ReplicationError> {
        self.encode(step, build)?;
        self.flush(step).await
    }

    /// Closes the write side (best effort).
    pub(super) async fn shutdown(&mut self) {
        let _ = self.socket.shutdown().await;
    }
}

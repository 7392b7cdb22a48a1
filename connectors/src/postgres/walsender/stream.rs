//! A replication connection in streaming (CopyBoth) mode.
//!
//! Invariants:
//! - [`ReplicationStream::next_event`] reads one message per call and
//!   nothing ahead: while the caller does not call it, the server blocks on
//!   the full TCP window (backpressure; memory stays one message). It is
//!   cancel-safe, so it can sit in a `select!` with a status-update timer.
//! - Nothing is acknowledged implicitly: the slot's `confirmed_flush_lsn`
//!   moves only through [`ReplicationStream::send_status`], and a keepalive
//!   with `reply_requested` must be answered by the caller (within
//!   `wal_sender_timeout`, 60 s by default) or the server drops us.
//! - The stream never ends by itself: a server that stops it (CopyDone,
//!   CommandComplete from a walsender stopping for a fast shutdown,
//!   ErrorResponse such as 57P01 on shutdown) or a lost socket is an error,
//!   and [`ReplicationError::is_transient`] says whether to reconnect.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use rowlog_schemas::position::Lsn;

use super::connection::ReplicationConnection;
use super::error::{ErrorKind, ReplicationError, ServerError};
use super::startup::ServerInfo;
use super::wire::{Backend, Wire};
use crate::postgres::pgoutput::PgTimestamp;

/// WAL data: one pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XLogData {
    /// WAL position of the data (0 for messages inside a transaction on
    /// some versions; the change's own LSN otherwise).
    pub wal_start: Lsn,
    /// The server's current end of WAL.
    pub wal_end: Lsn,
    /// The server's clock when it sent this.
    pub server_clock: PgTimestamp,
    /// The pgoutput message (decode with [`crate::postgres::pgoutput`]).
    pub data: Bytes,
}

/// A primary keepalive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// The server's current end of WAL.
    pub wal_end: Lsn,
    /// The server's clock when it sent this.
    pub server_clock: PgTimestamp,
    /// The server wants a status update now.
    pub reply_requested: bool,
}

/// What the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationEvent {
    /// WAL data.
    XLogData(XLogData),
    /// A keepalive.
    Keepalive(Keepalive),
}

/// A standby status update: what the consumer has received, made durable
/// and applied. The slot's `confirmed_flush_lsn` follows `flush`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusUpdate {
    /// Received (written) up to here.
    pub write: Lsn,
    /// Durable up to here: the server may discard WAL before it.
    pub flush: Lsn,
    /// Applied up to here.
    pub apply: Lsn,
    /// Our clock.
    pub clock: PgTimestamp,
    /// Ask the server to answer with a keepalive.
    pub reply_requested: bool,
}

impl StatusUpdate {
    /// Everything up to `lsn` written, flushed and applied, now.
    pub fn up_to(lsn: Lsn) -> StatusUpdate {
        StatusUpdate {
            write: lsn,
            flush: lsn,
            apply: lsn,
            clock: PgTimestamp::now(),
            reply_requested: false,
        }
    }
}

/// Bound on the shutdown handshake in [`ReplicationStream::finish`].
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// A started replication stream.
#[derive(Debug)]
pub struct ReplicationStream {
    wire: Wire,
    info: ServerInfo,
}

impl ReplicationStream {
    pub(super) fn new(conn: ReplicationConnection) -> ReplicationStream {
        let (wire, info) = conn.into_wire();
        ReplicationStream { wire, info }
    }

    /// The next XLogData or keepalive (see the module doc).
    pub async fn next_event(&mut self) -> Result<ReplicationEvent, ReplicationError> {
        const STEP: &str = "streaming";
        loop {
            let message = match self.wire.read(STEP).await? {
                Backend::Message(m) => m,
                Backend::CopyBoth => {
                    return Err(self
                        .wire
                        .protocol_error(STEP, "second CopyBothResponse".to_owned()));
                }
            };
            match message {
                Message::CopyData(body) => return self.copy_data(body.into_bytes()),
                Message::NoticeResponse(_) | Message::ParameterStatus(_) => {}
                Message::ErrorResponse(body) => {
                    return Err(ReplicationError::server(
                        self.wire.context(STEP),
                        ServerError::parse(&body),
                    ));
                }
                Message::CopyDone => {
                    return Err(ReplicationError::new(
                        ErrorKind::Closed,
                        self.wire.context(STEP),
                        "the server ended the replication stream (CopyDone); it may be \
                         shutting down",
                    ));
                }
                // A walsender stopping for a fast shutdown ends the COPY with
                // CommandComplete ("COPY 0", no CopyDone) once we confirmed
                // everything it sent, then exits.
                Message::CommandComplete(_) => {
                    return Err(ReplicationError::new(
                        ErrorKind::Closed,
                        self.wire.context(STEP),
                        "the server ended the replication stream (CommandComplete); it is \
                         shutting down",
                    ));
                }
                _ => {
                    return Err(self
                        .wire
                        .protocol_error(STEP, "unexpected message".to_owned()));
                }
            }
        }
    }

    fn copy_data(&self, data: Bytes) -> Result<ReplicationEvent, ReplicationError> {
        const STEP: &str = "streaming";
        let u64_at = |at: usize| {
            data.get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
        };
        let short = |what: &str| {
            self.wire.protocol_error(
                STEP,
                format!("{what} message of {} bytes is too short", data.len()),
            )
        };
        match data.first() {
            Some(b'w') => {
                let (Some(start), Some(end), Some(clock)) = (u64_at(1), u64_at(9), u64_at(17))
                else {
                    return Err(short("XLogData"));
                };
                Ok(ReplicationEvent::XLogData(XLogData {
                    wal_start: Lsn(start),
                    wal_end: Lsn(end),
                    server_clock: PgTimestamp(clock as i64),
                    data: data.slice(25..),
                }))
            }
            Some(b'k') => {
                let (Some(end), Some(clock), Some(&reply)) = (u64_at(1), u64_at(9), data.get(17))
                else {
                    return Err(short("keepalive"));
                };
                Ok(ReplicationEvent::Keepalive(Keepalive {
                    wal_end: Lsn(end),
                    server_clock: PgTimestamp(clock as i64),
                    reply_requested: reply != 0,
                }))
            }
            Some(tag) => Err(self.wire.protocol_error(
                STEP,
                format!("unknown CopyData message '{}'", tag.escape_ascii()),
            )),
            None => Err(self
                .wire
                .protocol_error(STEP, "empty CopyData message".to_owned())),
        }
    }

    /// Sends a standby status update.
    pub async fn send_status(&mut self, update: &StatusUpdate) -> Result<(), ReplicationError> {
        let mut payload = BytesMut::with_capacity(34);
        payload.put_u8(b'r');
        payload.put_u64(update.write.0);
        payload.put_u64(update.flush.0);
        payload.put_u64(update.apply.0);
        payload.put_i64(update.clock.0);
        payload.put_u8(u8::from(update.reply_requested));
        self.wire
            .send("standby status update", |buf| {
                frontend::CopyData::new(payload.freeze())?.write(buf);
                Ok(())
            })
            .await
    }

    /// Ends streaming cleanly (CopyDone, then reads what the server still
    /// sends up to ReadyForQuery, discarding WAL data) and returns the
    /// connection in command mode. Send a last status update first.
    pub async fn finish(mut self) -> Result<ReplicationConnection, ReplicationError> {
        const STEP: &str = "end of streaming";
        self.wire
            .send(STEP, |buf| {
                frontend::copy_done(buf);
                Ok(())
            })
            .await?;
        let drain = async {
            loop {
                match self.wire.read(STEP).await? {
                    Backend::Message(Message::ReadyForQuery(_)) => return Ok(()),
                    Backend::Message(Message::ErrorResponse(body)) => {
                        return Err(ReplicationError::server(
                            self.wire.context(STEP),
                            ServerError::parse(&body),
                        ));
                    }
                    Backend::Message(
                        Message::CopyData(_)
                        | Message::CopyDone
                        | Message::CommandComplete(_)
                        | Message::NoticeResponse(_)
                        | Message::ParameterStatus(_),
                    ) => {}
                    _ => {
                        return Err(self
                            .wire
                            .protocol_error(STEP, "unexpected message".to_owned()));
                    }
                }
            }
        };
        match tokio::time::timeout(FINISH_TIMEOUT, drain).await {
            Ok(Ok(())) => Ok(ReplicationConnection::from_wire(self.wire, self.info)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ReplicationError::new(
                ErrorKind::Timeout,
                self.wire.context(STEP),
                format!("the server did not end the stream within {FINISH_TIMEOUT:?}"),
            )),
        }
    }
}

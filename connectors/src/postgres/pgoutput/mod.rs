//! Decoder for the `pgoutput` logical replication protocol, versions 1–4.
//!
//! Pure: bytes in, [`Message`]s out, no I/O. Invariants:
//! - Never panics and never indexes unchecked: any malformed input (cut
//!   short, unknown tag or marker, bad UTF-8 in a name, bytes left over) is a
//!   [`DecodeError`] naming the message kind and the byte offset.
//! - Column values and message contents are zero-copy slices of the input
//!   [`Bytes`]; only names (relation, column, type, prefix, gid) are copied
//!   into `String`s.
//! - Inside a streamed block (v2+: between Stream Start and Stream Stop) the
//!   change messages (Relation, Type, Insert, Update, Delete, Truncate,
//!   Message) carry the xid of their (sub)transaction first. [`Decoder`]
//!   tracks the block from the messages it has decoded; [`decode`] takes it
//!   as an argument. A decoder must see every message of a replication
//!   session, in order, from the session's start.
//!
//! Message layouts follow PostgreSQL's "Logical Replication Message Formats"
//! (protocol docs) and `src/backend/replication/logical/proto.c`.

mod message;
mod parse;
mod reader;

#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use message::*;
pub use reader::{DecodeError, Problem};

use reader::Reader;

/// Decodes one pgoutput message. `in_stream` says whether it was sent inside
/// a streamed block (see the module doc).
pub fn decode(data: Bytes, in_stream: bool) -> Result<Message, DecodeError> {
    let Some(&tag) = data.first() else {
        return Err(DecodeError {
            kind: MessageKind::Unknown(None),
            offset: 0,
            problem: Problem::Empty,
        });
    };
    let kind = MessageKind::from_tag(tag);
    let mut r = Reader::new(data, kind);
    let message = match kind {
        MessageKind::Begin => parse::begin(&mut r)?,
        MessageKind::Commit => parse::commit(&mut r)?,
        MessageKind::Origin => parse::origin(&mut r)?,
        MessageKind::Relation => parse::relation(&mut r, in_stream)?,
        MessageKind::Type => parse::type_(&mut r, in_stream)?,
        MessageKind::Insert => parse::insert(&mut r, in_stream)?,
        MessageKind::Update => parse::update(&mut r, in_stream)?,
        MessageKind::Delete => parse::delete(&mut r, in_stream)?,
        MessageKind::Truncate => parse::truncate(&mut r, in_stream)?,
        MessageKind::Message => parse::logical_message(&mut r, in_stream)?,
        MessageKind::StreamStart => parse::stream_start(&mut r)?,
        MessageKind::StreamStop => Message::StreamStop,
        MessageKind::StreamCommit => parse::stream_commit(&mut r)?,
        MessageKind::StreamAbort => parse::stream_abort(&mut r)?,
        MessageKind::BeginPrepare => parse::begin_prepare(&mut r)?,
        MessageKind::Prepare => Message::Prepare(parse::prepare(&mut r)?),
        MessageKind::CommitPrepared => parse::commit_prepared(&mut r)?,
        MessageKind::RollbackPrepared => parse::rollback_prepared(&mut r)?,
        MessageKind::StreamPrepare => Message::StreamPrepare(parse::prepare(&mut r)?),
        MessageKind::Unknown(_) => {
            return Err(DecodeError {
                kind,
                offset: 0,
                problem: Problem::UnknownTag(tag),
            });
        }
    };
    r.finish()?;
    Ok(message)
}

/// Decodes the messages of one replication session in order, tracking
/// whether a streamed block is open.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    in_stream: bool,
}

impl Decoder {
    /// A decoder for a session that has not sent anything yet.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Inside a streamed block (after Stream Start, before Stream Stop)?
    pub fn in_stream(&self) -> bool {
        self.in_stream
    }

    /// Decodes the next message of the session (the payload of one XLogData).
    /// A message that fails to decode leaves the state unchanged.
    pub fn decode(&mut self, data: Bytes) -> Result<Message, DecodeError> {
        let message = decode(data, self.in_stream)?;
        match message {
            Message::StreamStart(_) => self.in_stream = true,
            Message::StreamStop => self.in_stream = false,
            _ => {}
        }
        Ok(message)
    }
}

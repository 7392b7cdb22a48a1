//! A bounds-checked cursor over one pgoutput message, and the decode error.
//!
//! Invariants: every read checks the remaining length first and never
//! indexes past the end; each error carries the message kind and the byte
//! offset (from the start of the message, tag included) where decoding
//! stopped. Byte strings are sliced out of the shared [`Bytes`] buffer,
//! never copied.

use std::fmt;

use bytes::Bytes;
use rowlog_schemas::position::Lsn;

use super::message::{MessageKind, PgTimestamp};

/// Why a pgoutput message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed pgoutput {kind} message at byte {offset}: {problem}")]
pub struct DecodeError {
    /// The message being decoded (from its tag byte).
    pub kind: MessageKind,
    /// Offset from the start of the message (the tag is byte 0).
    pub offset: usize,
    /// What was wrong there.
    pub problem: Problem,
}

/// What was wrong at [`DecodeError::offset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The message is empty (no tag byte).
    Empty,
    /// The tag byte names no pgoutput message.
    UnknownTag(u8),
    /// The message ends before a field of `needed` bytes.
    UnexpectedEnd {
        /// What was being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the message.
        remaining: usize,
    },
    /// A string has no terminating NUL byte.
    UnterminatedString(&'static str),
    /// A string is not valid UTF-8.
    InvalidUtf8(&'static str),
    /// A byte has a value the format does not allow here.
    UnexpectedByte {
        /// What was being read.
        field: &'static str,
        /// The byte found.
        found: u8,
    },
    /// A count or length is negative.
    NegativeLength {
        /// What was being read.
        field: &'static str,
        /// The value found.
        value: i32,
    },
    /// Bytes are left after the last field.
    TrailingBytes(usize),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => write!(f, "empty message"),
            Problem::UnknownTag(t) => write!(f, "unknown message tag {}", show_byte(*t)),
            Problem::UnexpectedEnd {
                field,
                needed,
                remaining,
            } => write!(
                f,
                "message ends inside {field} (needs {needed} bytes, {remaining} left)"
            ),
            Problem::UnterminatedString(field) => write!(f, "{field} has no terminating NUL"),
            Problem::InvalidUtf8(field) => write!(f, "{field} is not valid UTF-8"),
            Problem::UnexpectedByte { field, found } => {
                write!(f, "unexpected {} for {field}", show_byte(*found))
            }
            Problem::NegativeLength { field, value } => write!(f, "{field} is negative ({value})"),
            Problem::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the last field"),
        }
    }
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}' (0x{b:02x})", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

/// Cursor over one message.
#[derive(Debug)]
pub(super) struct Reader {
    buf: Bytes,
    pos: usize,
    kind: MessageKind,
}

impl Reader {
    /// A reader positioned after the tag byte.
    pub(super) fn new(buf: Bytes, kind: MessageKind) -> Reader {
        Reader { buf, pos: 1, kind }
    }

    pub(super) fn error(&self, problem: Problem) -> DecodeError {
        DecodeError {
            kind: self.kind,
            offset: self.pos,
            problem,
        }
    }

    /// Error about the byte just read (offset points at it).
    pub(super) fn error_at_previous(&self, problem: Problem) -> DecodeError {
        DecodeError {
            kind: self.kind,
            offset: self.pos.saturating_sub(1),
            problem,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.error(Problem::UnexpectedEnd {
                field,
                needed: n,
                remaining: self.remaining(),
            })),
        }
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(super) fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(super) fn lsn(&mut self, field: &'static str) -> Result<Lsn, DecodeError> {
        Ok(Lsn(self.u64(field)?))
    }

    pub(super) fn timestamp(&mut self, field: &'static str) -> Result<PgTimestamp, DecodeError> {
        Ok(PgTimestamp(i64::from_be_bytes(self.array(field)?)))
    }

    /// A non-negative count: an Int16 (`wide == false`) or an Int32.
    pub(super) fn count(&mut self, wide: bool, field: &'static str) -> Result<usize, DecodeError> {
        let start = self.pos;
        let value = if wide {
            self.i32(field)?
        } else {
            i32::from(self.i16(field)?)
        };
        usize::try_from(value).map_err(|_| DecodeError {
            kind: self.kind,
            offset: start,
            problem: Problem::NegativeLength { field, value },
        })
    }

    /// `n` bytes as a slice of the shared buffer.
    pub(super) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n, field)?;
        Ok(self.buf.slice(start..self.pos))
    }

    /// A NUL-terminated UTF-8 string.
    pub(super) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let rest = self.buf.get(start..).unwrap_or_default();
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(self.error(Problem::UnterminatedString(field)));
        };
        let text = rest.get(..len).unwrap_or_default();
        let s = std::str::from_utf8(text)
            .map_err(|_| self.error(Problem::InvalidUtf8(field)))?
            .to_owned();
        self.pos = start + len + 1;
        Ok(s)
    }

    /// Fails unless every byte was consumed.
    pub(super) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(Problem::TrailingBytes(n))),
        }
    }

    /// Upper bound for a `Vec` capacity: never more elements than bytes left
    /// (each element takes at least `min_size` bytes), so a forged count
    /// cannot make us allocate.
    pub(super) fn capacity_for(&self, count: usize, min_size: usize) -> usize {
        count.min(self.remaining() / min_size.max(1))
    }
}

//! The pgoutput messages of protocol versions 1–4, as decoded values.
//!
//! Invariants: fields are exactly what the server sent (no defaults filled
//! in); column values are raw bytes sliced from the message (text or binary
//! form, converted to [`rowlog_schemas::Value`] elsewhere); `xid` is `Some`
//! only for a change sent inside a streamed block (protocol v2+).

use std::fmt;

use bytes::Bytes;
use rowlog_schemas::position::Lsn;

/// An object id (`oid`): relations and types.
pub type Oid = u32;

/// A transaction id.
pub type Xid = u32;

/// A PostgreSQL timestamp on the wire: microseconds since 2000-01-01 00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgTimestamp(pub i64);

/// Microseconds from 1970-01-01 (Unix epoch) to 2000-01-01 (PostgreSQL epoch).
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

impl PgTimestamp {
    /// Microseconds since the Unix epoch (saturating).
    pub fn unix_micros(self) -> i64 {
        self.0.saturating_add(PG_EPOCH_UNIX_MICROS)
    }

    /// From microseconds since the Unix epoch (saturating).
    pub fn from_unix_micros(micros: i64) -> PgTimestamp {
        PgTimestamp(micros.saturating_sub(PG_EPOCH_UNIX_MICROS))
    }

    /// The current time of this machine's clock.
    pub fn now() -> PgTimestamp {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        PgTimestamp::from_unix_micros(unix)
    }
}

/// One pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `B`: a transaction starts.
    Begin(Begin),
    /// `C`: a transaction committed.
    Commit(Commit),
    /// `O`: the transaction came from another node (replication origin).
    Origin(Origin),
    /// `R`: describes a relation before its first change in the session,
    /// and again after its definition changed.
    Relation(Relation),
    /// `Y`: describes a non-built-in type used by a following Relation.
    Type(Type),
    /// `I`: a row was inserted.
    Insert(Insert),
    /// `U`: a row was updated.
    Update(Update),
    /// `D`: a row was deleted.
    Delete(Delete),
    /// `T`: relations were truncated.
    Truncate(Truncate),
    /// `M`: a logical decoding message (`pg_logical_emit_message`).
    Message(LogicalMessage),
    /// `S` (v2+): a block of a streamed (not yet committed) transaction starts.
    StreamStart(StreamStart),
    /// `E` (v2+): the current streamed block ends.
    StreamStop,
    /// `c` (v2+): a streamed transaction committed.
    StreamCommit(StreamCommit),
    /// `A` (v2+): a streamed (sub)transaction aborted.
    StreamAbort(StreamAbort),
    /// `b` (v3+): a two-phase transaction's prepare starts.
    BeginPrepare(BeginPrepare),
    /// `P` (v3+): a two-phase transaction was prepared.
    Prepare(Prepare),
    /// `K` (v3+): a prepared transaction was committed.
    CommitPrepared(CommitPrepared),
    /// `r` (v3+): a prepared transaction was rolled back.
    RollbackPrepared(RollbackPrepared),
    /// `p` (v3+): a streamed transaction was prepared.
    StreamPrepare(Prepare),
}

impl Message {
    /// The kind of this message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Begin(_) => MessageKind::Begin,
            Message::Commit(_) => MessageKind::Commit,
            Message::Origin(_) => MessageKind::Origin,
            Message::Relation(_) => MessageKind::Relation,
            Message::Type(_) => MessageKind::Type,
            Message::Insert(_) => MessageKind::Insert,
            Message::Update(_) => MessageKind::Update,
            Message::Delete(_) => MessageKind::Delete,
            Message::Truncate(_) => MessageKind::Truncate,
            Message::Message(_) => MessageKind::Message,
            Message::StreamStart(_) => MessageKind::StreamStart,
            Message::StreamStop => MessageKind::StreamStop,
            Message::StreamCommit(_) => MessageKind::StreamCommit,
            Message::StreamAbort(_) => MessageKind::StreamAbort,
            Message::BeginPrepare(_) => MessageKind::BeginPrepare,
            Message::Prepare(_) => MessageKind::Prepare,
            Message::CommitPrepared(_) => MessageKind::CommitPrepared,
            Message::RollbackPrepared(_) => MessageKind::RollbackPrepared,
            Message::StreamPrepare(_) => MessageKind::StreamPrepare,
        }
    }
}

/// The kind of a message, named by its tag byte (used in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `B`
    Begin,
    /// `C`
    Commit,
    /// `O`
    Origin,
    /// `R`
    Relation,
    /// `Y`
    Type,
    /// `I`
    Insert,
    /// `U`
    Update,
    /// `D`
    Delete,
    /// `T`
    Truncate,
    /// `M`
    Message,
    /// `S`
    StreamStart,
    /// `E`
    StreamStop,
    /// `c`
    StreamCommit,
    /// `A`
    StreamAbort,
    /// `b`
    BeginPrepare,
    /// `P`
    Prepare,
    /// `K`
    CommitPrepared,
    /// `r`
    RollbackPrepared,
    /// `p`
    StreamPrepare,
    /// A tag no version of pgoutput sends (or an empty message: `None`).
    Unknown(Option<u8>),
}

impl MessageKind {
    /// The kind a tag byte names.
    pub fn from_tag(tag: u8) -> MessageKind {
        match tag {
            b'B' => MessageKind::Begin,
            b'C' => MessageKind::Commit,
            b'O' => MessageKind::Origin,
            b'R' => MessageKind::Relation,
            b'Y' => MessageKind::Type,
            b'I' => MessageKind::Insert,
            b'U' => MessageKind::Update,
            b'D' => MessageKind::Delete,
            b'T' => MessageKind::Truncate,
            b'M' => MessageKind::Message,
            b'S' => MessageKind::StreamStart,
            b'E' => MessageKind::StreamStop,
            b'c' => MessageKind::StreamCommit,
            b'A' => MessageKind::StreamAbort,
            b'b' => MessageKind::BeginPrepare,
            b'P' => MessageKind::Prepare,
            b'K' => MessageKind::CommitPrepared,
            b'r' => MessageKind::RollbackPrepared,
            b'p' => MessageKind::StreamPrepare,
            other => MessageKind::Unknown(Some(other)),
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            MessageKind::Begin => "Begin",
            MessageKind::Commit => "Commit",
            MessageKind::Origin => "Origin",
            MessageKind::Relation => "Relation",
            MessageKind::Type => "Type",
            MessageKind::Insert => "Insert",
            MessageKind::Update => "Update",
            MessageKind::Delete => "Delete",
            MessageKind::Truncate => "Truncate",
            MessageKind::Message => "Message",
            MessageKind::StreamStart => "Stream Start",
            MessageKind::StreamStop => "Stream Stop",
            MessageKind::StreamCommit => "Stream Commit",
            MessageKind::StreamAbort => "Stream Abort",
            MessageKind::BeginPrepare => "Begin Prepare",
            MessageKind::Prepare => "Prepare",
            MessageKind::CommitPrepared => "Commit Prepared",
            MessageKind::RollbackPrepared => "Rollback Prepared",
            MessageKind::StreamPrepare => "Stream Prepare",
            MessageKind::Unknown(Some(t)) => return write!(f, "unknown (tag 0x{t:02x})"),
            MessageKind::Unknown(None) => "empty",
        };
        f.write_str(name)
    }
}

/// `B`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
    /// Transaction id.
    pub xid: Xid,
}

/// `C`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Flags (currently unused, 0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// End LSN of the transaction (what a slot may confirm).
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
}

/// `O`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// LSN of the commit on the origin server.
    pub commit_lsn: Lsn,
    /// Origin name.
    pub name: String,
}

/// REPLICA IDENTITY of a relation (`relreplident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: the primary key.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: all columns.
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

impl ReplicaIdentity {
    /// From `relreplident`.
    pub fn from_byte(b: u8) -> Option<ReplicaIdentity> {
        match b {
            b'd' => Some(ReplicaIdentity::Default),
            b'n' => Some(ReplicaIdentity::Nothing),
            b'f' => Some(ReplicaIdentity::Full),
            b'i' => Some(ReplicaIdentity::Index),
            _ => None,
        }
    }
}

/// `R`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Relation oid (what the change messages refer to).
    pub oid: Oid,
    /// Schema name (`pg_catalog` is sent as an empty string).
    pub namespace: String,
    /// Relation name.
    pub name: String,
    /// REPLICA IDENTITY setting.
    pub replica_identity: ReplicaIdentity,
    /// The published columns, in order.
    pub columns: Vec<RelationColumn>,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Flags: bit 0 = part of the replica identity key.
    pub flags: u8,
    /// Column name.
    pub name: String,
    /// Type oid.
    pub type_oid: Oid,
    /// Type modifier (`atttypmod`, -1 when none).
    pub type_modifier: i32,
}

impl RelationColumn {
    /// Part of the key (replica identity)?
    pub fn is_key(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// `Y`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Type oid.
    pub oid: Oid,
    /// Schema name (`pg_catalog` is sent as an empty string).
    pub namespace: String,
    /// Type name.
    pub name: String,
}

/// One column value in a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// `n`: SQL NULL.
    Null,
    /// `u`: an unchanged TOASTed value the server did not send.
    UnchangedToast,
    /// `t`: the type's text output.
    Text(Bytes),
    /// `b`: the type's binary send format (`binary 'true'`).
    Binary(Bytes),
}

/// A row image: one [`Column`] per column of the relation.
pub type Tuple = Vec<Column>;

/// The old row image of an Update or Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: key columns only (REPLICA IDENTITY DEFAULT or INDEX); the other
    /// columns are [`Column::Null`] placeholders.
    Key(Tuple),
    /// `O`: the whole old row (REPLICA IDENTITY FULL).
    Full(Tuple),
}

/// `I`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Relation oid.
    pub relation: Oid,
    /// The new row.
    pub new: Tuple,
}

/// `U`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Relation oid.
    pub relation: Oid,
    /// The old key or row, when the replica identity sends one (the key only
    /// if it changed).
    pub old: Option<OldTuple>,
    /// The new row.
    pub new: Tuple,
}

/// `D`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Relation oid.
    pub relation: Oid,
    /// The old key or row.
    pub old: OldTuple,
}

/// `T`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Option bits as sent: 1 = CASCADE, 2 = RESTART IDENTITY.
    pub options: u8,
    /// Truncated relations.
    pub relations: Vec<Oid>,
}

impl Truncate {
    /// `TRUNCATE ... CASCADE`
    pub fn cascade(&self) -> bool {
        self.options & 1 != 0
    }

    /// `TRUNCATE ... RESTART IDENTITY`
    pub fn restart_identity(&self) -> bool {
        self.options & 2 != 0
    }
}

/// `M`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    /// Xid, inside a streamed block only.
    pub xid: Option<Xid>,
    /// Emitted inside a transaction (delivered at its commit)?
    pub transactional: bool,
    /// LSN of the message.
    pub lsn: Lsn,
    /// Prefix given to `pg_logical_emit_message`.
    pub prefix: String,
    /// Content.
    pub content: Bytes,
}

/// `S`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart {
    /// The streamed (top-level) transaction.
    pub xid: Xid,
    /// The first block of this transaction?
    pub first_segment: bool,
}

/// `c`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommit {
    /// The streamed transaction.
    pub xid: Xid,
    /// Flags (currently unused, 0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// End LSN of the transaction.
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
}

/// `A`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    /// The top-level transaction.
    pub xid: Xid,
    /// The aborted subtransaction (equal to `xid` when the whole transaction
    /// aborted).
    pub subxid: Xid,
    /// LSN and time of the abort: sent only with protocol v4 and
    /// `streaming 'parallel'`.
    pub abort: Option<(Lsn, PgTimestamp)>,
}

/// `b`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginPrepare {
    /// LSN of the prepare record.
    pub prepare_lsn: Lsn,
    /// End LSN of the prepared transaction.
    pub end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// Transaction id.
    pub xid: Xid,
    /// Global transaction id (`PREPARE TRANSACTION 'gid'`).
    pub gid: String,
}

/// `P` and `p`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepare {
    /// Flags (currently unused, 0).
    pub flags: u8,
    /// LSN of the prepare record.
    pub prepare_lsn: Lsn,
    /// End LSN of the prepared transaction.
    pub end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// Transaction id.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

/// `K`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPrepared {
    /// Flags (currently unused, 0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// End LSN of the commit.
    pub end_lsn: Lsn,
    /// Commit time.
    pub commit_time: PgTimestamp,
    /// Transaction id.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

/// `r`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPrepared {
    /// Flags (currently unused, 0).
    pub flags: u8,
    /// End LSN of the prepared transaction.
    pub prepare_end_lsn: Lsn,
    /// End LSN of the rollback.
    pub rollback_end_lsn: Lsn,
    /// Prepare time.
    pub prepare_time: PgTimestamp,
    /// Rollback time.
    pub rollback_time: PgTimestamp,
    /// Transaction id.
    pub xid: Xid,
    /// Global transaction id.
    pub gid: String,
}

//! Field-by-field parsing of each pgoutput message body.
//!
//! Invariants: each function reads exactly the fields PostgreSQL's
//! `logicalrep_write_*` functions (src/backend/replication/logical/proto.c)
//! write, in order; the caller checks that nothing is left over.

use super::message::*;
use super::reader::{DecodeError, Problem, Reader};

/// The xid that precedes a change inside a streamed block.
fn stream_xid(r: &mut Reader, in_stream: bool) -> Result<Option<Xid>, DecodeError> {
    if in_stream {
        Ok(Some(r.u32("xid")?))
    } else {
        Ok(None)
    }
}

pub(super) fn begin(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::Begin(Begin {
        final_lsn: r.lsn("final LSN")?,
        commit_time: r.timestamp("commit time")?,
        xid: r.u32("xid")?,
    }))
}

pub(super) fn commit(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::Commit(Commit {
        flags: r.u8("flags")?,
        commit_lsn: r.lsn("commit LSN")?,
        end_lsn: r.lsn("end LSN")?,
        commit_time: r.timestamp("commit time")?,
    }))
}

pub(super) fn origin(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::Origin(Origin {
        commit_lsn: r.lsn("origin commit LSN")?,
        name: r.string("origin name")?,
    }))
}

pub(super) fn relation(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    let xid = stream_xid(r, in_stream)?;
    let oid = r.u32("relation oid")?;
    let namespace = r.string("namespace")?;
    let name = r.string("relation name")?;
    let identity = r.u8("replica identity")?;
    let replica_identity = ReplicaIdentity::from_byte(identity).ok_or_else(|| {
        r.error_at_previous(Problem::UnexpectedByte {
            field: "replica identity",
            found: identity,
        })
    })?;
    let n = r.count(false, "column count")?;
    // flags (1) + name NUL (1) + type oid (4) + typmod (4)
    let mut columns = Vec::with_capacity(r.capacity_for(n, 10));
    for _ in 0..n {
        columns.push(RelationColumn {
            flags: r.u8("column flags")?,
            name: r.string("column name")?,
            type_oid: r.u32("column type oid")?,
            type_modifier: r.i32("column type modifier")?,
        });
    }
    Ok(Message::Relation(Relation {
        xid,
        oid,
        namespace,
        name,
        replica_identity,
        columns,
    }))
}

pub(super) fn type_(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    Ok(Message::Type(Type {
        xid: stream_xid(r, in_stream)?,
        oid: r.u32("type oid")?,
        namespace: r.string("namespace")?,
        name: r.string("type name")?,
    }))
}

fn tuple(r: &mut Reader) -> Result<Tuple, DecodeError> {
    let n = r.count(false, "column count")?;
    let mut columns = Vec::with_capacity(r.capacity_for(n, 1));
    for _ in 0..n {
        let column = match r.u8("column kind")? {
            b'n' => Column::Null,
            b'u' => Column::UnchangedToast,
            kind @ (b't' | b'b') => {
                let len = r.count(true, "column value length")?;
                let value = r.bytes(len, "column value")?;
                if kind == b't' {
                    Column::Text(value)
                } else {
                    Column::Binary(value)
                }
            }
            found => {
                return Err(r.error_at_previous(Problem::UnexpectedByte {
                    field: "column kind ('n', 'u', 't' or 'b')",
                    found,
                }));
            }
        };
        columns.push(column);
    }
    Ok(columns)
}

fn expect_new(r: &mut Reader) -> Result<Tuple, DecodeError> {
    match r.u8("new tuple marker")? {
        b'N' => tuple(r),
        found => Err(r.error_at_previous(Problem::UnexpectedByte {
            field: "new tuple marker ('N')",
            found,
        })),
    }
}

pub(super) fn insert(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    Ok(Message::Insert(Insert {
        xid: stream_xid(r, in_stream)?,
        relation: r.u32("relation oid")?,
        new: expect_new(r)?,
    }))
}

pub(super) fn update(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    let xid = stream_xid(r, in_stream)?;
    let relation = r.u32("relation oid")?;
    let (old, new) = match r.u8("tuple marker")? {
        b'K' => (Some(OldTuple::Key(tuple(r)?)), expect_new(r)?),
        b'O' => (Some(OldTuple::Full(tuple(r)?)), expect_new(r)?),
        b'N' => (None, tuple(r)?),
        found => {
            return Err(r.error_at_previous(Problem::UnexpectedByte {
                field: "tuple marker ('K', 'O' or 'N')",
                found,
            }));
        }
    };
    Ok(Message::Update(Update {
        xid,
        relation,
        old,
        new,
    }))
}

pub(super) fn delete(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    let xid = stream_xid(r, in_stream)?;
    let relation = r.u32("relation oid")?;
    let old = match r.u8("tuple marker")? {
        b'K' => OldTuple::Key(tuple(r)?),
        b'O' => OldTuple::Full(tuple(r)?),
        found => {
            return Err(r.error_at_previous(Problem::UnexpectedByte {
                field: "tuple marker ('K' or 'O')",
                found,
            }));
        }
    };
    Ok(Message::Delete(Delete { xid, relation, old }))
}

pub(super) fn truncate(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    let xid = stream_xid(r, in_stream)?;
    let n = r.count(true, "relation count")?;
    let options = r.u8("options")?;
    let mut relations = Vec::with_capacity(r.capacity_for(n, 4));
    for _ in 0..n {
        relations.push(r.u32("relation oid")?);
    }
    Ok(Message::Truncate(Truncate {
        xid,
        options,
        relations,
    }))
}

pub(super) fn logical_message(r: &mut Reader, in_stream: bool) -> Result<Message, DecodeError> {
    let xid = stream_xid(r, in_stream)?;
    let flags = r.u8("flags")?;
    let lsn = r.lsn("message LSN")?;
    let prefix = r.string("prefix")?;
    let len = r.count(true, "content length")?;
    let content = r.bytes(len, "content")?;
    Ok(Message::Message(LogicalMessage {
        xid,
        transactional: flags & 1 != 0,
        lsn,
        prefix,
        content,
    }))
}

pub(super) fn stream_start(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::StreamStart(StreamStart {
        xid: r.u32("xid")?,
        first_segment: r.u8("first segment flag")? == 1,
    }))
}

pub(super) fn stream_commit(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::StreamCommit(StreamCommit {
        xid: r.u32("xid")?,
        flags: r.u8("flags")?,
        commit_lsn: r.lsn("commit LSN")?,
        end_lsn: r.lsn("end LSN")?,
        commit_time: r.timestamp("commit time")?,
    }))
}

/// The abort LSN and time follow only with v4 and `streaming 'parallel'`;
/// the message has no other optional part, so the length tells.
pub(super) fn stream_abort(r: &mut Reader) -> Result<Message, DecodeError> {
    let xid = r.u32("xid")?;
    let subxid = r.u32("subtransaction xid")?;
    let abort = if r.is_empty() {
        None
    } else {
        Some((r.lsn("abort LSN")?, r.timestamp("abort time")?))
    };
    Ok(Message::StreamAbort(StreamAbort { xid, subxid, abort }))
}

pub(super) fn begin_prepare(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::BeginPrepare(BeginPrepare {
        prepare_lsn: r.lsn("prepare LSN")?,
        end_lsn: r.lsn("end LSN")?,
        prepare_time: r.timestamp("prepare time")?,
        xid: r.u32("xid")?,
        gid: r.string("gid")?,
    }))
}

pub(super) fn prepare(r: &mut Reader) -> Result<Prepare, DecodeError> {
    Ok(Prepare {
        flags: r.u8("flags")?,
        prepare_lsn: r.lsn("prepare LSN")?,
        end_lsn: r.lsn("end LSN")?,
        prepare_time: r.timestamp("prepare time")?,
        xid: r.u32("xid")?,
        gid: r.string("gid")?,
    })
}

pub(super) fn commit_prepared(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::CommitPrepared(CommitPrepared {
        flags: r.u8("flags")?,
        commit_lsn: r.lsn("commit LSN")?,
        end_lsn: r.lsn("end LSN")?,
        commit_time: r.timestamp("commit time")?,
        xid: r.u32("xid")?,
        gid: r.string("gid")?,
    }))
}

pub(super) fn rollback_prepared(r: &mut Reader) -> Result<Message, DecodeError> {
    Ok(Message::RollbackPrepared(RollbackPrepared {
        flags: r.u8("flags")?,
        prepare_end_lsn: r.lsn("prepare end LSN")?,
        rollback_end_lsn: r.lsn("rollback end LSN")?,
        prepare_time: r.timestamp("prepare time")?,
        rollback_time: r.timestamp("rollback time")?,
        xid: r.u32("xid")?,
        gid: r.string("gid")?,
    }))
}

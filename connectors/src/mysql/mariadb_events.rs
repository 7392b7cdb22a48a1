//! Decoders for MariaDB's own binlog events that mysql_common does not know:
//! GTID (type 162) and GTID_LIST (type 163).
//!
//! Input is the event *body*: the bytes after the 19-byte common event header
//! and without the 4-byte CRC32 trailer when `binlog_checksum=CRC32` (strip
//! it first). The server id is not in the body: it comes from the common
//! header and is passed in.
//!
//! Layouts (MariaDB `log_event.cc`, `Gtid_log_event` / `Gtid_list_log_event`):
//!
//! GTID: `seq_no u64 | domain_id u32 | flags2 u8 |` then `commit_id u64` when
//! `flags2 & FL_GROUP_COMMIT_ID`, else 6 zero bytes of padding — except in
//! XA groups, where `format_id u32 | gtrid_len u8 | bqual_len u8 | data`
//! follows `flags2`/`commit_id` directly (as the server reads and writes it). Then,
//! optionally, `flags_extra u8` (`& 1`: `extra_engines u8`; `& (4|8)`:
//! `start_alter_seq_no u64`) and zero padding. All integers little-endian.
//!
//! GTID_LIST: `count u32` (low 28 bits the number of entries, high 4 bits
//! flags) then `count × (domain u32 | server u32 | seq u64)`. The list holds
//! the last GTID of every (domain, server) pair; per domain the most recent
//! one comes last, so folding the entries in order gives the binlog state.
//!
//! Invariant: no input makes these functions panic; every short read is an
//! error that names the event and the body offset.
//!
//! `connectors/tests/mysql_checks.rs` decodes the binlog files a real
//! MariaDB wrote (plain, standalone DDL and XA PREPARE/COMMIT groups).

use rowlog_schemas::position::{MariadbGtid, MariadbGtidList};

use crate::error::SourceError;

/// Binlog event type of MariaDB's GTID event.
pub const GTID_EVENT: u8 = 162;
/// Binlog event type of MariaDB's GTID_LIST event.
pub const GTID_LIST_EVENT: u8 = 163;

/// `flags2` bits of the GTID event.
pub mod flags2 {
    /// The event group is a single statement without BEGIN/COMMIT (DDL, or
    /// a non-transactional statement).
    pub const STANDALONE: u8 = 1;
    /// A group commit id follows.
    pub const GROUP_COMMIT_ID: u8 = 2;
    /// The group touches only transactional tables.
    pub const TRANSACTIONAL: u8 = 4;
    /// May be applied in parallel with others.
    pub const ALLOW_PARALLEL: u8 = 8;
    /// Waited for a row lock of another transaction.
    pub const WAITED: u8 = 16;
    /// A DDL statement.
    pub const DDL: u8 = 32;
    /// An `XA PREPARE` group.
    pub const PREPARED_XA: u8 = 64;
    /// An `XA COMMIT`/`XA ROLLBACK` of a prepared XA transaction.
    pub const COMPLETED_XA: u8 = 128;
}

const EXTRA_MULTI_ENGINE: u8 = 1;
const EXTRA_COMMIT_ALTER: u8 = 4;
const EXTRA_ROLLBACK_ALTER: u8 = 8;

/// The XA transaction id carried by an XA GTID event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XaId {
    /// `formatID`.
    pub format_id: u32,
    /// Global transaction id.
    pub gtrid: Vec<u8>,
    /// Branch qualifier.
    pub bqual: Vec<u8>,
}

/// A decoded MariaDB GTID event: the start of an event group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidEvent {
    /// `domain-server-seq`.
    pub gtid: MariadbGtid,
    /// Raw `flags2` (see [`flags2`]).
    pub flags2: u8,
    /// Group commit id, when the server grouped this commit with others.
    pub commit_id: Option<u64>,
    /// The XA id of an XA PREPARE / XA COMMIT group.
    pub xa: Option<XaId>,
    /// Raw `flags_extra`, 0 when absent.
    pub flags_extra: u8,
}

impl GtidEvent {
    /// A single statement without BEGIN/COMMIT: the group ends after it
    /// (no XID event follows).
    pub fn is_standalone(&self) -> bool {
        self.flags2 & flags2::STANDALONE != 0
    }
    /// `XA PREPARE` group: its rows are not committed yet.
    pub fn is_prepared_xa(&self) -> bool {
        self.flags2 & flags2::PREPARED_XA != 0
    }
    /// `XA COMMIT`/`XA ROLLBACK` of a prepared transaction.
    pub fn is_completed_xa(&self) -> bool {
        self.flags2 & flags2::COMPLETED_XA != 0
    }
}

/// A little-endian reader that reports short reads with the event name and
/// offset.
struct Reader<'a> {
    event: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], SourceError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(SourceError::permanent(format!(
                "MariaDB {} event truncated at body offset {}: {what} needs {n} bytes, {} left (body is {} bytes)",
                self.event,
                self.pos,
                self.buf.len().saturating_sub(self.pos),
                self.buf.len()
            ))),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, SourceError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, SourceError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, SourceError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// Decodes a GTID event body (type 162); `server_id` is the common header's.
pub fn decode_gtid(body: &[u8], server_id: u32) -> Result<GtidEvent, SourceError> {
    let mut r = Reader {
        event: "GTID (type 162)",
        buf: body,
        pos: 0,
    };
    let seq = r.u64("seq_no")?;
    let domain = r.u32("domain_id")?;
    let flags2 = r.u8("flags2")?;
    let commit_id = if flags2 & flags2::GROUP_COMMIT_ID != 0 {
        Some(r.u64("commit_id")?)
    } else {
        None
    };
    let xa = if flags2 & (flags2::PREPARED_XA | flags2::COMPLETED_XA) != 0 {
        let format_id = r.u32("XA formatID")?;
        let gtrid_len = usize::from(r.u8("XA gtrid_length")?);
        let bqual_len = usize::from(r.u8("XA bqual_length")?);
        let gtrid = r.take(gtrid_len, "XA gtrid")?.to_vec();
        let bqual = r.take(bqual_len, "XA bqual")?.to_vec();
        Some(XaId {
            format_id,
            gtrid,
            bqual,
        })
    } else {
        if commit_id.is_none() {
            // The fixed part is 19 bytes: 6 bytes of padding in place of
            // the commit id. Require them (MariaDB always writes them).
            r.take(6, "padding")?;
        }
        None
    };
    let mut flags_extra = 0;
    if r.remaining() > 0 {
        flags_extra = r.u8("flags_extra")?;
        if flags_extra & EXTRA_MULTI_ENGINE != 0 {
            r.u8("extra_engines")?;
        }
        if flags_extra & (EXTRA_COMMIT_ALTER | EXTRA_ROLLBACK_ALTER) != 0 {
            r.u64("start_alter seq_no")?;
        }
    }
    Ok(GtidEvent {
        gtid: MariadbGtid {
            domain,
            server: server_id,
            seq,
        },
        flags2,
        commit_id,
        xa,
        flags_extra,
    })
}

/// A decoded GTID_LIST event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GtidListEvent {
    /// Every entry, in event order (one per domain and server).
    pub entries: Vec<MariadbGtid>,
    /// The high 4 bits of the count field.
    pub flags: u8,
    /// The binlog state: the last entry of each domain.
    pub state: MariadbGtidList,
}

/// Decodes a GTID_LIST event body (type 163).
pub fn decode_gtid_list(body: &[u8]) -> Result<GtidListEvent, SourceError> {
    let mut r = Reader {
        event: "GTID_LIST (type 163)",
        buf: body,
        pos: 0,
    };
    let count_field = r.u32("count")?;
    let count = (count_field & ((1 << 28) - 1)) as usize;
    let flags = (count_field >> 28) as u8;
    // Check the size before allocating: a corrupt count must not allocate
    // gigabytes.
    if count.saturating_mul(16) > r.remaining() {
        return Err(SourceError::permanent(format!(
            "MariaDB GTID_LIST (type 163) event truncated at body offset 4: {count} entries need {} bytes, {} left",
            count.saturating_mul(16),
            r.remaining()
        )));
    }
    let mut entries = Vec::with_capacity(count);
    let mut state = MariadbGtidList::default();
    for _ in 0..count {
        let domain = r.u32("domain_id")?;
        let server = r.u32("server_id")?;
        let seq = r.u64("seq_no")?;
        let g = MariadbGtid {
            domain,
            server,
            seq,
        };
        entries.push(g);
        state.advance(g);
    }
    Ok(GtidListEvent {
        entries,
        flags,
        state,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn gtid_body(seq: u64, domain: u32, flags: u8, tail: &[u8]) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend(domain.to_le_bytes());
        b.push(flags);
        b.extend(tail);
        b
    }

    #[test]
    fn plain_transaction_gtid() {
        let body = gtid_body(42, 3, flags2::TRANSACTIONAL, &[0; 6]);
        let e = decode_gtid(&body, 7).unwrap();
        assert_eq!(e.gtid.to_string(), "3-7-42");
        assert!(!e.is_standalone());
        assert_eq!(e.commit_id, None);
        assert_eq!(e.xa, None);
        assert_eq!(e.flags_extra, 0);
    }

    #[test]
    fn standalone_ddl_with_group_commit_id_and_extra_flags() {
        let mut tail = 99u64.to_le_bytes().to_vec();
        tail.extend([EXTRA_MULTI_ENGINE, 2, 0, 0]); // extra engines + padding
        let body = gtid_body(
            u64::MAX,
            u32::MAX,
            flags2::STANDALONE | flags2::GROUP_COMMIT_ID | flags2::DDL,
            &tail,
        );
        let e = decode_gtid(&body, 1).unwrap();
        assert!(e.is_standalone());
        assert_eq!(e.commit_id, Some(99));
        assert_eq!(e.flags_extra, EXTRA_MULTI_ENGINE);
        assert_eq!(e.gtid.seq, u64::MAX);
        assert_eq!(e.gtid.domain, u32::MAX);
    }

    #[test]
    fn xa_prepare_gtid() {
        let mut tail = 1u32.to_le_bytes().to_vec();
        tail.extend([3, 2]);
        tail.extend(b"abcxy");
        let body = gtid_body(5, 0, flags2::PREPARED_XA, &tail);
        let e = decode_gtid(&body, 2).unwrap();
        assert!(e.is_prepared_xa());
        assert!(!e.is_completed_xa());
        assert_eq!(
            e.xa,
            Some(XaId {
                format_id: 1,
                gtrid: b"abc".to_vec(),
                bqual: b"xy".to_vec()
            })
        );
    }

    #[test]
    fn truncated_gtid_names_event_and_offset() {
        let body = gtid_body(1, 0, flags2::GROUP_COMMIT_ID, &[1, 2]);
        let e = decode_gtid(&body, 1).unwrap_err();
        assert!(!e.transient);
        assert!(e.message.contains("GTID (type 162)"), "{e}");
        assert!(e.message.contains("offset 13"), "{e}");
        assert!(e.message.contains("commit_id"), "{e}");
        let e = decode_gtid(&[0; 5], 1).unwrap_err();
        assert!(e.message.contains("offset 0"), "{e}");
        // Missing padding.
        assert!(decode_gtid(&gtid_body(1, 0, 0, &[0; 3]), 1).is_err());
        // XA data shorter than its lengths.
        let mut tail = 1u32.to_le_bytes().to_vec();
        tail.extend([200, 0, b'a']);
        let e = decode_gtid(&gtid_body(1, 0, flags2::COMPLETED_XA, &tail), 1).unwrap_err();
        assert!(e.message.contains("XA gtrid"), "{e}");
        assert!(e.message.contains("offset 19"), "{e}");
    }

    fn entry(d: u32, s: u32, q: u64) -> Vec<u8> {
        let mut b = d.to_le_bytes().to_vec();
        b.extend(s.to_le_bytes());
        b.extend(q.to_le_bytes());
        b
    }

    #[test]
    fn gtid_list_state_takes_last_entry_per_domain() {
        let mut body = 3u32.to_le_bytes().to_vec();
        body.extend(entry(0, 2, 10));
        body.extend(entry(0, 1, 12));
        body.extend(entry(5, 1, 3));
        let e = decode_gtid_list(&body).unwrap();
        assert_eq!(e.entries.len(), 3);
        assert_eq!(e.flags, 0);
        assert_eq!(e.state.to_string(), "0-1-12,5-1-3");
    }

    #[test]
    fn empty_gtid_list_and_flags() {
        let e = decode_gtid_list(&(1u32 << 28).to_le_bytes()).unwrap();
        assert!(e.entries.is_empty());
        assert_eq!(e.flags, 1);
        assert_eq!(e.state.to_string(), "");
    }

    #[test]
    fn truncated_gtid_list_names_event_and_offset() {
        let e = decode_gtid_list(&[1, 0]).unwrap_err();
        assert!(e.message.contains("GTID_LIST (type 163)"), "{e}");
        assert!(e.message.contains("offset 0"), "{e}");
        let mut body = 2u32.to_le_bytes().to_vec();
        body.extend(entry(0, 1, 1));
        let e = decode_gtid_list(&body).unwrap_err();
        assert!(e.message.contains("offset 4"), "{e}");
        // A huge count does not allocate or panic.
        assert!(decode_gtid_list(&u32::MAX.to_le_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64), server in any::<u32>()) {
            let _ = decode_gtid(&body, server);
            let _ = decode_gtid_list(&body);
        }

        #[test]
        fn gtid_roundtrip(seq in any::<u64>(), domain in any::<u32>(), server in any::<u32>()) {
            let e = decode_gtid(&gtid_body(seq, domain, 0, &[0; 6]), server).unwrap();
            prop_assert_eq!(e.gtid, MariadbGtid { domain, server, seq });
        }
    }
}

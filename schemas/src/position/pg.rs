//! PostgreSQL positions: LSNs and the position of one change.
//!
//! Invariants:
//! - An [`Lsn`] is a byte offset in the WAL; `Display` is PostgreSQL's own
//!   `XXXXXXXX/XXXXXXXX` form (upper-case hex, no leading zeros) and parses back.
//! - A [`PgPosition`] orders changes the way pgoutput delivers them: by the
//!   commit LSN of their transaction, then by the change's own WAL record LSN
//!   (which strictly increases inside one transaction).
//!
//! ## Row version
//!
//! [`PgPosition::row_version`] is the change's own record LSN. The ordinal of
//! the change inside its transaction needs no bits of its own: every change is
//! a separate WAL record, so the record LSN already increases with the
//! ordinal. Across transactions the record LSN is *per row* monotonic in
//! commit order: a transaction that changes a row another transaction changed
//! must wait for the row lock (or, for a re-used key, the unique-index check)
//! until that one has committed, so its own record lies after the other's
//! commit record. Sinks compare versions per row only, which is all they need.
//!
//! Folding the ordinal into the *commit* LSN instead (`commit << k | ordinal`)
//! cannot fit: a busy cluster writes 2^47 bytes of WAL (128 TiB) in weeks, and
//! a transaction may hold millions of changes. An LSN itself stays below 2^63
//! (8 EiB of WAL, ~290 years at 1 GB/s), so the version never overflows in
//! practice; past it, `row_version` returns an error instead of wrapping.
//!
//! Snapshot rows (op `r`) use the LSN from which the slot decodes
//! (its `restart_lsn` when the snapshot was exported) as their change LSN:
//! every transaction the snapshot did not see has all its records at or after
//! that LSN, so a streamed change always outranks the snapshot row it follows.

use std::fmt;
use std::str::FromStr;

use crate::error::ValueError;

/// A WAL location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Lsn, ValueError> {
        let err = || {
            ValueError::new(format!(
                "`{s}` is not an LSN; expected the form 16/B374D848"
            ))
        };
        let (hi, lo) = s.split_once('/').ok_or_else(err)?;
        let hex = |x: &str| {
            if x.is_empty() || x.len() > 8 || !x.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            u64::from_str_radix(x, 16).map_err(|_| err())
        };
        Ok(Lsn(hex(hi)? << 32 | hex(lo)?))
    }
}

/// Where one change sits in a PostgreSQL source's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PgPosition {
    /// End LSN of the commit record of the change's transaction (the slot may
    /// confirm this once everything up to it is durable in the log).
    pub commit_lsn: Lsn,
    /// LSN of the change's own WAL record.
    pub change_lsn: Lsn,
}

impl PgPosition {
    /// Position of a change.
    pub fn new(commit_lsn: Lsn, change_lsn: Lsn) -> PgPosition {
        PgPosition {
            commit_lsn,
            change_lsn,
        }
    }

    /// The row version sinks store (see the module doc).
    pub fn row_version(&self) -> Result<i64, ValueError> {
        i64::try_from(self.change_lsn.0).map_err(|_| {
            ValueError::new(format!(
                "LSN {} is beyond 2^63 and cannot be a row version",
                self.change_lsn
            ))
        })
    }
}

impl fmt::Display for PgPosition {
    /// `COMMIT` when both LSNs are equal, otherwise `COMMIT@CHANGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.commit_lsn == self.change_lsn {
            write!(f, "{}", self.commit_lsn)
        } else {
            write!(f, "{}@{}", self.commit_lsn, self.change_lsn)
        }
    }
}

impl FromStr for PgPosition {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<PgPosition, ValueError> {
        match s.split_once('@') {
            Some((c, x)) => Ok(PgPosition::new(c.parse()?, x.parse()?)),
            None => {
                let l: Lsn = s.parse()?;
                Ok(PgPosition::new(l, l))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text() {
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!("0/16B3748".parse::<Lsn>().unwrap(), Lsn(0x16B_3748));
        for bad in ["", "16", "/1", "1/", "G/1", "123456789/0", "1/2/3"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_order_by_commit_then_change() {
        let a: PgPosition = "0/200@0/100".parse().unwrap();
        let b: PgPosition = "0/200@0/180".parse().unwrap();
        let c: PgPosition = "0/300@0/150".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(c.to_string(), "0/300@0/150");
        assert_eq!("0/300".parse::<PgPosition>().unwrap().to_string(), "0/300");
        assert!(
            PgPosition::new(Lsn(u64::MAX), Lsn(u64::MAX))
                .row_version()
                .is_err()
        );
    }
}

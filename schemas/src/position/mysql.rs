//! MySQL/MariaDB positions: binlog file/offset, GTIDs and GTID sets.
//!
//! Invariants:
//! - A [`MysqlPosition`] names one row of one rows event: the binlog file and
//!   the event's offset, the row's index inside the event, the GTID of its
//!   transaction when the server has GTIDs, and an *epoch* that the connector
//!   raises when it starts reading from a different server (failover). Binlogs
//!   hold whole transactions in commit order, so ordering by
//!   (epoch, file sequence, offset, row) is commit order.
//! - Text forms: `mysql-bin.000003:4711`, `mysql-bin.000003:4711+2` (third
//!   row of the event), `…@0-1-42` (MariaDB GTID) or `…@3E11FA47-…:42`
//!   (MySQL GTID), `e1/…` (epoch 1). `Display` → `FromStr` is the identity.
//!
//! ## Row version
//!
//! `epoch << 55 | file_sequence << 32 | (offset + row)`. The in-event row
//! index is folded into the offset: every row takes at least one byte of its
//! rows event, so `offset + row` stays below the next event's offset and the
//! mapping is strictly monotonic. Binlog event offsets are 32-bit in the event
//! header (files rotate at `max_binlog_size` ≤ 1 GiB), file sequences stay far
//! below 2^23 (8 million files, petabytes of binlog) and the epoch below 256
//! failovers; a position outside these bounds makes `row_version` return an
//! error, never a wrapped number. A file/offset version does not survive a
//! failover by itself — the new server numbers its files from its own start —
//! which is what the epoch is for.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::ValueError;

/// A binlog file and a byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BinlogPos {
    /// File name, e.g. `mysql-bin.000003`.
    pub file: String,
    /// Byte offset of an event.
    pub pos: u64,
}

impl BinlogPos {
    /// The numeric suffix of the file name (`mysql-bin.000003` → 3).
    pub fn file_sequence(&self) -> Option<u64> {
        let (_, n) = self.file.rsplit_once('.')?;
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse().ok())
            .flatten()
    }
}

impl Ord for BinlogPos {
    fn cmp(&self, other: &BinlogPos) -> Ordering {
        (self.file_sequence(), &self.file, self.pos).cmp(&(
            other.file_sequence(),
            &other.file,
            other.pos,
        ))
    }
}
impl PartialOrd for BinlogPos {
    fn partial_cmp(&self, other: &BinlogPos) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BinlogPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

impl FromStr for BinlogPos {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<BinlogPos, ValueError> {
        let err = || {
            ValueError::new(format!(
                "`{s}` is not a binlog position; expected FILE:OFFSET such as mysql-bin.000003:4711"
            ))
        };
        let (file, pos) = s.rsplit_once(':').ok_or_else(err)?;
        if file.is_empty() || file.contains(['/', '@', '+', ':']) {
            return Err(err());
        }
        if pos.is_empty() || !pos.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        Ok(BinlogPos {
            file: file.to_string(),
            pos: pos.parse().map_err(|_| err())?,
        })
    }
}

/// A MariaDB GTID `domain-server-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariadbGtid {
    /// Replication domain.
    pub domain: u32,
    /// Server that wrote the transaction.
    pub server: u32,
    /// Sequence number, increasing within the domain.
    pub seq: u64,
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

fn digits<T: FromStr>(x: &str) -> Option<T> {
    (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) && (x == "0" || !x.starts_with('0')))
        .then(|| x.parse().ok())
        .flatten()
}

impl FromStr for MariadbGtid {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<MariadbGtid, ValueError> {
        let mut it = s.split('-');
        match (
            it.next().and_then(digits),
            it.next().and_then(digits),
            it.next().and_then(digits),
            it.next(),
        ) {
            (Some(domain), Some(server), Some(seq), None) => Ok(MariadbGtid {
                domain,
                server,
                seq,
            }),
            _ => Err(ValueError::new(format!(
                "`{s}` is not a MariaDB GTID; expected DOMAIN-SERVER-SEQUENCE such as 0-1-4711"
            ))),
        }
    }
}

/// A MySQL GTID `source_uuid:transaction_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MysqlGtid {
    /// Server UUID of the originating server.
    pub uuid: Uuid,
    /// Transaction number (≥ 1).
    pub seq: u64,
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uuid, self.seq)
    }
}

impl FromStr for MysqlGtid {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<MysqlGtid, ValueError> {
        let err = || ValueError::new(format!("`{s}` is not a MySQL GTID; expected UUID:N"));
        let (u, n) = s.rsplit_once(':').ok_or_else(err)?;
        let uuid = Uuid::parse_str(u).map_err(|_| err())?;
        if uuid.hyphenated().to_string() != u {
            return Err(err());
        }
        let seq: u64 = digits(n).filter(|&n| n > 0).ok_or_else(err)?;
        Ok(MysqlGtid { uuid, seq })
    }
}

/// The GTID of one transaction, in the server family's own form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gtid {
    /// MariaDB `domain-server-seq`.
    Mariadb(MariadbGtid),
    /// MySQL `uuid:n`.
    Mysql(MysqlGtid),
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gtid::Mariadb(g) => g.fmt(f),
            Gtid::Mysql(g) => g.fmt(f),
        }
    }
}

impl FromStr for Gtid {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Gtid, ValueError> {
        if s.contains(':') {
            s.parse().map(Gtid::Mysql)
        } else {
            s.parse().map(Gtid::Mariadb)
        }
    }
}

/// MariaDB's replication state: the last GTID per domain (`gtid_slave_pos`
/// form `0-1-100,1-2-7`). Sorted by domain, one entry per domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MariadbGtidList(Vec<MariadbGtid>);

impl MariadbGtidList {
    /// Records that `gtid` was applied (replaces the domain's entry).
    pub fn advance(&mut self, gtid: MariadbGtid) {
        match self.0.binary_search_by_key(&gtid.domain, |g| g.domain) {
            Ok(i) => self.0[i] = gtid,
            Err(i) => self.0.insert(i, gtid),
        }
    }
    /// Whether `gtid` is at or before this state in its domain.
    pub fn contains(&self, gtid: &MariadbGtid) -> bool {
        self.0
            .iter()
            .any(|g| g.domain == gtid.domain && g.seq >= gtid.seq)
    }
    /// Entries, by domain.
    pub fn gtids(&self) -> &[MariadbGtid] {
        &self.0
    }
}

impl fmt::Display for MariadbGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for MariadbGtidList {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<MariadbGtidList, ValueError> {
        let mut list = MariadbGtidList::default();
        if s.is_empty() {
            return Ok(list);
        }
        for part in s.split(',') {
            let g: MariadbGtid = part.trim().parse()?;
            if list.0.iter().any(|x| x.domain == g.domain) {
                return Err(ValueError::new(format!(
                    "GTID list `{s}` names domain {} twice",
                    g.domain
                )));
            }
            list.advance(g);
        }
        Ok(list)
    }
}

/// A MySQL GTID set (`uuid:1-42:50,uuid2:1-5`): per server UUID, sorted
/// disjoint inclusive intervals of transaction numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MysqlGtidSet(BTreeMap<Uuid, Vec<(u64, u64)>>);

impl MysqlGtidSet {
    /// Adds one transaction.
    pub fn add(&mut self, gtid: MysqlGtid) {
        self.add_interval(gtid.uuid, gtid.seq, gtid.seq);
    }

    fn add_interval(&mut self, uuid: Uuid, lo: u64, hi: u64) {
        let ivs = self.0.entry(uuid).or_default();
        ivs.push((lo, hi));
        ivs.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ivs.len());
        for &(a, b) in ivs.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ivs = merged;
    }

    /// Whether the set holds `gtid`.
    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        self.0
            .get(&gtid.uuid)
            .is_some_and(|ivs| ivs.iter().any(|&(a, b)| a <= gtid.seq && gtid.seq <= b))
    }

    /// Number of transactions in the set.
    pub fn len(&self) -> u128 {
        self.0
            .values()
            .flatten()
            .map(|&(a, b)| u128::from(b - a) + 1)
            .sum()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Per server UUID, its sorted disjoint inclusive intervals.
    pub fn intervals(&self) -> impl Iterator<Item = (&Uuid, &[(u64, u64)])> {
        self.0.iter().map(|(u, ivs)| (u, ivs.as_slice()))
    }
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (uuid, ivs)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{uuid}")?;
            for &(a, b) in ivs {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<MysqlGtidSet, ValueError> {
        let err = |why: &str| {
            ValueError::new(format!(
                "`{s}` is not a MySQL GTID set ({why}); expected UUID:1-42[:50-60][,UUID:…]"
            ))
        };
        let mut set = MysqlGtidSet::default();
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Ok(set);
        }
        for part in compact.split(',') {
            let mut it = part.split(':');
            let uuid = it
                .next()
                .and_then(|u| Uuid::parse_str(u).ok())
                .ok_or_else(|| err("bad server UUID"))?;
            let mut any = false;
            for iv in it {
                any = true;
                let (a, b) = match iv.split_once('-') {
                    Some((a, b)) => (digits(a), digits(b)),
                    None => (digits(iv), digits(iv)),
                };
                match (a, b) {
                    (Some(a), Some(b)) if 1 <= a && a <= b => set.add_interval(uuid, a, b),
                    _ => return Err(err("bad interval")),
                }
            }
            if !any {
                return Err(err("a UUID without intervals"));
            }
        }
        Ok(set)
    }
}

/// Where one row change sits in a MySQL/MariaDB source's stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MysqlPosition {
    /// Raised by the connector each time it follows a different server.
    pub epoch: u8,
    /// File and offset of the rows event (or of the event, for DDL/commits).
    pub binlog: BinlogPos,
    /// Index of the row inside its rows event.
    pub row: u32,
    /// GTID of the transaction, when the server uses GTIDs.
    pub gtid: Option<Gtid>,
}

const FILE_SEQ_BITS: u32 = 23;

impl MysqlPosition {
    /// The row version sinks store (see the module doc).
    pub fn row_version(&self) -> Result<i64, ValueError> {
        let seq = self.binlog.file_sequence().ok_or_else(|| {
            ValueError::new(format!(
                "binlog file `{}` has no numeric suffix, so {self} has no row version",
                self.binlog.file
            ))
        })?;
        if seq >= 1 << FILE_SEQ_BITS {
            return Err(ValueError::new(format!(
                "binlog file sequence {seq} of {self} is beyond 2^23; row versions need a new epoch"
            )));
        }
        let offset = self.binlog.pos + u64::from(self.row);
        if offset > u64::from(u32::MAX) {
            return Err(ValueError::new(format!(
                "binlog offset {offset} of {self} is beyond 2^32; row versions cannot hold it"
            )));
        }
        let v = u64::from(self.epoch) << 55 | seq << 32 | offset;
        i64::try_from(v).map_err(|_| ValueError::new(format!("{self} does not fit a row version")))
    }
}

impl Ord for MysqlPosition {
    fn cmp(&self, other: &MysqlPosition) -> Ordering {
        (self.epoch, &self.binlog, self.row, &self.gtid).cmp(&(
            other.epoch,
            &other.binlog,
            other.row,
            &other.gtid,
        ))
    }
}
impl PartialOrd for MysqlPosition {
    fn partial_cmp(&self, other: &MysqlPosition) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MysqlPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "e{}/", self.epoch)?;
        }
        write!(f, "{}", self.binlog)?;
        if self.row > 0 {
            write!(f, "+{}", self.row)?;
        }
        if let Some(g) = &self.gtid {
            write!(f, "@{g}")?;
        }
        Ok(())
    }
}

impl FromStr for MysqlPosition {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<MysqlPosition, ValueError> {
        let err = || {
            ValueError::new(format!(
                "`{s}` is not a MySQL position; expected [eN/]FILE:OFFSET[+ROW][@GTID] such as mysql-bin.000003:4711+2@0-1-42"
            ))
        };
        let (rest, gtid) = match s.split_once('@') {
            Some((r, g)) => (r, Some(g.parse::<Gtid>()?)),
            None => (s, None),
        };
        let (epoch, rest) = match rest.split_once('/') {
            Some((e, r)) => (
                e.strip_prefix('e')
                    .and_then(digits::<u8>)
                    .filter(|&e| e > 0)
                    .ok_or_else(err)?,
                r,
            ),
            None => (0, rest),
        };
        let (rest, row) = match rest.rsplit_once('+') {
            Some((r, n)) => (r, digits::<u32>(n).filter(|&n| n > 0).ok_or_else(err)?),
            None => (rest, 0),
        };
        let pos = MysqlPosition {
            epoch,
            binlog: rest.parse()?,
            row,
            gtid,
        };
        if pos.to_string() != s {
            return Err(err());
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for s in [
            "mysql-bin.000003:4711",
            "mysql-bin.000003:4711+2",
            "e3/mysql-bin.000003:4711+2@0-1-42",
            "binlog.000001:4@3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
        ] {
            let p: MysqlPosition = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        for bad in [
            "",
            "file",
            "file:",
            "file:x",
            "e0/f.1:4",
            "f.1:4+0",
            "f.1:4@1-2",
            "a/b/f.1:4",
        ] {
            assert!(bad.parse::<MysqlPosition>().is_err(), "{bad}");
        }
    }

    #[test]
    fn order_is_file_sequence_then_offset_then_row() {
        let p = |s: &str| s.parse::<MysqlPosition>().unwrap();
        let seq = [
            p("mysql-bin.000009:900"),
            p("mysql-bin.000010:4"),
            p("mysql-bin.000010:4+1"),
            // A real next event starts past the rows of the one before it.
            p("mysql-bin.000010:90"),
            p("e1/mysql-bin.000001:4"),
        ];
        for w in seq.windows(2) {
            assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
            assert!(w[0].row_version().unwrap() < w[1].row_version().unwrap());
        }
        assert!(p("mysql-bin.000001:4294967295+1").row_version().is_err());
        assert!(p("mysql-bin.8388608:4").row_version().is_err());
        assert!(
            p("e255/mysql-bin.8388607:4294967295")
                .row_version()
                .unwrap()
                > 0
        );
    }

    #[test]
    fn gtid_sets() {
        let mut set: MysqlGtidSet = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7"
            .parse()
            .unwrap();
        let g = |n| MysqlGtid {
            uuid: Uuid::parse_str("3e11fa47-71ca-11e1-9e33-c80aa9429562").unwrap(),
            seq: n,
        };
        assert!(set.contains(&g(5)) && !set.contains(&g(6)));
        set.add(g(6));
        assert_eq!(set.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7");
        assert_eq!(set.len(), 7);
        let mut list: MariadbGtidList = "0-1-100,2-1-5".parse().unwrap();
        list.advance("0-2-101".parse().unwrap());
        assert_eq!(list.to_string(), "0-2-101,2-1-5");
        assert!(list.contains(&"0-1-90".parse().unwrap()));
        assert!("0-1-1,0-2-2".parse::<MariadbGtidList>().is_err());
    }
}

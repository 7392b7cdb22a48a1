//! Unit tests on hand-built messages, laid out as `proto.c` writes them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use proptest::prelude::*;
use rowlog_schemas::position::Lsn;

use super::*;

/// Builds a message the way the server writes it.
#[derive(Default)]
struct B(Vec<u8>);

impl B {
    fn tag(t: u8) -> B {
        B(vec![t])
    }
    fn u8(mut self, v: u8) -> B {
        self.0.push(v);
        self
    }
    fn i16(mut self, v: i16) -> B {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> B {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> B {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> B {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn str(mut self, s: &str) -> B {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    fn text(self, s: &str) -> B {
        let b = self.u8(b't').i32(s.len() as i32);
        b.raw(s.as_bytes())
    }
    fn raw(mut self, bytes: &[u8]) -> B {
        self.0.extend_from_slice(bytes);
        self
    }
    fn bytes(self) -> Bytes {
        Bytes::from(self.0)
    }
}

fn text(s: &str) -> Column {
    Column::Text(Bytes::copy_from_slice(s.as_bytes()))
}

const TS: i64 = 786_000_000_123_456; // 2024-11-27-ish, µs since 2000

fn begin() -> B {
    B::tag(b'B').u64(0x1_0000_0200).u64(TS as u64).u32(740)
}

fn commit() -> B {
    B::tag(b'C').u8(0).u64(0x200).u64(0x228).u64(TS as u64)
}

fn relation(stream_xid: Option<u32>) -> B {
    let mut b = B::tag(b'R');
    if let Some(x) = stream_xid {
        b = b.u32(x);
    }
    b.u32(16384)
        .str("public")
        .str("items")
        .u8(b'd')
        .i16(3)
        .u8(1)
        .str("id")
        .u32(23)
        .i32(-1)
        .u8(0)
        .str("name")
        .u32(1043)
        .i32(68)
        .u8(0)
        .str("body")
        .u32(25)
        .i32(-1)
}

fn insert(stream_xid: Option<u32>) -> B {
    let mut b = B::tag(b'I');
    if let Some(x) = stream_xid {
        b = b.u32(x);
    }
    b.u32(16384)
        .u8(b'N')
        .i16(4)
        .text("1")
        .u8(b'n')
        .u8(b'u')
        .u8(b'b')
        .i32(2)
        .raw(&[0, 255])
}

/// One valid sample of every message kind.
fn samples() -> Vec<(&'static str, bool, B)> {
    vec![
        ("begin", false, begin()),
        ("commit", false, commit()),
        ("origin", false, B::tag(b'O').u64(0x99).str("node_a")),
        ("relation", false, relation(None)),
        ("relation in stream", true, relation(Some(741))),
        (
            "type",
            false,
            B::tag(b'Y').u32(70000).str("public").str("mood"),
        ),
        (
            "type in stream",
            true,
            B::tag(b'Y').u32(741).u32(70000).str("").str("mood"),
        ),
        ("insert", false, insert(None)),
        ("insert in stream", true, insert(Some(742))),
        (
            "update no old",
            false,
            B::tag(b'U').u32(16384).u8(b'N').i16(1).text("2"),
        ),
        (
            "update key",
            false,
            B::tag(b'U')
                .u32(16384)
                .u8(b'K')
                .i16(2)
                .text("1")
                .u8(b'n')
                .u8(b'N')
                .i16(2)
                .text("2")
                .text("x"),
        ),
        (
            "update old",
            true,
            B::tag(b'U')
                .u32(9)
                .u32(16384)
                .u8(b'O')
                .i16(1)
                .text("1")
                .u8(b'N')
                .i16(1)
                .text("2"),
        ),
        (
            "delete key",
            false,
            B::tag(b'D').u32(16384).u8(b'K').i16(1).text("1"),
        ),
        (
            "delete old",
            true,
            B::tag(b'D').u32(9).u32(16384).u8(b'O').i16(1).text("1"),
        ),
        (
            "truncate",
            false,
            B::tag(b'T').i32(2).u8(3).u32(16384).u32(16390),
        ),
        (
            "truncate in stream",
            true,
            B::tag(b'T').u32(9).i32(1).u8(0).u32(16384),
        ),
        (
            "message",
            false,
            B::tag(b'M')
                .u8(1)
                .u64(0x300)
                .str("rowlog")
                .i32(3)
                .raw(b"abc"),
        ),
        (
            "message in stream",
            true,
            B::tag(b'M').u32(9).u8(0).u64(0x300).str("p").i32(0),
        ),
        ("stream start", false, B::tag(b'S').u32(741).u8(1)),
        ("stream stop", true, B::tag(b'E')),
        (
            "stream commit",
            false,
            B::tag(b'c')
                .u32(741)
                .u8(0)
                .u64(0x500)
                .u64(0x528)
                .u64(TS as u64),
        ),
        ("stream abort v2", false, B::tag(b'A').u32(741).u32(745)),
        (
            "stream abort v4",
            false,
            B::tag(b'A').u32(741).u32(745).u64(0x600).u64(TS as u64),
        ),
        (
            "begin prepare",
            false,
            B::tag(b'b')
                .u64(0x700)
                .u64(0x728)
                .u64(TS as u64)
                .u32(750)
                .str("gid-1"),
        ),
        (
            "prepare",
            false,
            B::tag(b'P')
                .u8(0)
                .u64(0x700)
                .u64(0x728)
                .u64(TS as u64)
                .u32(750)
                .str("gid-1"),
        ),
        (
            "commit prepared",
            false,
            B::tag(b'K')
                .u8(0)
                .u64(0x800)
                .u64(0x828)
                .u64(TS as u64)
                .u32(750)
                .str("gid-1"),
        ),
        (
            "rollback prepared",
            false,
            B::tag(b'r')
                .u8(0)
                .u64(0x728)
                .u64(0x828)
                .u64(TS as u64)
                .u64(TS as u64 + 5)
                .u32(750)
                .str("gid-1"),
        ),
        (
            "stream prepare",
            false,
            B::tag(b'p')
                .u8(0)
                .u64(0x700)
                .u64(0x728)
                .u64(TS as u64)
                .u32(750)
                .str("gid-2"),
        ),
    ]
}

#[test]
fn every_sample_decodes() {
    for (name, in_stream, b) in samples() {
        decode(b.bytes(), in_stream).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn begin_and_commit_fields() {
    assert_eq!(
        decode(begin().bytes(), false).unwrap(),
        Message::Begin(Begin {
            final_lsn: Lsn(0x1_0000_0200),
            commit_time: PgTimestamp(TS),
            xid: 740,
        })
    );
    assert_eq!(
        decode(commit().bytes(), false).unwrap(),
        Message::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(0x200),
            end_lsn: Lsn(0x228),
            commit_time: PgTimestamp(TS),
        })
    );
    assert_eq!(PgTimestamp(0).unix_micros(), 946_684_800_000_000);
    assert_eq!(
        PgTimestamp::from_unix_micros(946_684_800_000_001),
        PgTimestamp(1)
    );
}

#[test]
fn relation_fields_and_key_bit() {
    let Message::Relation(r) = decode(relation(Some(7)).bytes(), true).unwrap() else {
        panic!("not a relation");
    };
    assert_eq!(r.xid, Some(7));
    assert_eq!(
        (r.oid, r.namespace.as_str(), r.name.as_str()),
        (16384, "public", "items")
    );
    assert_eq!(r.replica_identity, ReplicaIdentity::Default);
    let cols: Vec<_> = r
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.is_key(), c.type_oid, c.type_modifier))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", true, 23, -1),
            ("name", false, 1043, 68),
            ("body", false, 25, -1)
        ]
    );
}

#[test]
fn tuple_column_kinds() {
    assert_eq!(
        decode(insert(None).bytes(), false).unwrap(),
        Message::Insert(Insert {
            xid: None,
            relation: 16384,
            new: vec![
                text("1"),
                Column::Null,
                Column::UnchangedToast,
                Column::Binary(Bytes::from_static(&[0, 255])),
            ],
        })
    );
}

#[test]
fn update_and_delete_old_images() {
    let all: Vec<_> = samples()
        .into_iter()
        .map(|(n, s, b)| (n, decode(b.bytes(), s).unwrap()))
        .collect();
    let get = |name: &str| all.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    assert_eq!(
        get("update key"),
        Message::Update(Update {
            xid: None,
            relation: 16384,
            old: Some(OldTuple::Key(vec![text("1"), Column::Null])),
            new: vec![text("2"), text("x")],
        })
    );
    assert_eq!(
        get("update old"),
        Message::Update(Update {
            xid: Some(9),
            relation: 16384,
            old: Some(OldTuple::Full(vec![text("1")])),
            new: vec![text("2")],
        })
    );
    let Message::Update(u) = get("update no old") else {
        panic!()
    };
    assert_eq!(u.old, None);
    assert_eq!(
        get("delete old"),
        Message::Delete(Delete {
            xid: Some(9),
            relation: 16384,
            old: OldTuple::Full(vec![text("1")]),
        })
    );
    let Message::Truncate(t) = get("truncate") else {
        panic!()
    };
    assert!(t.cascade() && t.restart_identity());
    assert_eq!(t.relations, [16384, 16390]);
    let Message::Message(m) = get("message") else {
        panic!()
    };
    assert!(m.transactional);
    assert_eq!((m.prefix.as_str(), &m.content[..]), ("rowlog", &b"abc"[..]));
}

#[test]
fn streaming_and_two_phase_fields() {
    assert_eq!(
        decode(B::tag(b'A').u32(1).u32(2).bytes(), false).unwrap(),
        Message::StreamAbort(StreamAbort {
            xid: 1,
            subxid: 2,
            abort: None
        })
    );
    assert_eq!(
        decode(B::tag(b'A').u32(1).u32(2).u64(0x600).u64(5).bytes(), false).unwrap(),
        Message::StreamAbort(StreamAbort {
            xid: 1,
            subxid: 2,
            abort: Some((Lsn(0x600), PgTimestamp(5))),
        })
    );
    let rb = B::tag(b'r')
        .u8(0)
        .u64(1)
        .u64(2)
        .u64(3)
        .u64(4)
        .u32(5)
        .str("g");
    assert_eq!(
        decode(rb.bytes(), false).unwrap(),
        Message::RollbackPrepared(RollbackPrepared {
            flags: 0,
            prepare_end_lsn: Lsn(1),
            rollback_end_lsn: Lsn(2),
            prepare_time: PgTimestamp(3),
            rollback_time: PgTimestamp(4),
            xid: 5,
            gid: "g".into(),
        })
    );
    let sp = B::tag(b'p').u8(0).u64(1).u64(2).u64(3).u32(4).str("g");
    assert!(matches!(decode(sp.bytes(), false).unwrap(), Message::StreamPrepare(p) if p.xid == 4));
}

#[test]
fn decoder_tracks_streamed_blocks() {
    let mut d = Decoder::new();
    d.decode(B::tag(b'S').u32(741).u8(1).bytes()).unwrap();
    assert!(d.in_stream());
    let Message::Insert(i) = d.decode(insert(Some(742)).bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(i.xid, Some(742));
    // Without the xid prefix, the same bytes read as a different relation and
    // fail: the state matters.
    assert!(d.decode(insert(None).bytes()).is_err());
    assert!(d.in_stream(), "a failed decode changes nothing");
    assert_eq!(d.decode(B::tag(b'E').bytes()).unwrap(), Message::StreamStop);
    assert!(!d.in_stream());
    let Message::Insert(i) = d.decode(insert(None).bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(i.xid, None);
}

#[test]
fn every_truncation_is_a_located_error() {
    for (name, in_stream, b) in samples() {
        let full = b.bytes();
        for cut in 0..full.len() {
            if name == "stream abort v4" && cut == 9 {
                continue; // the v2 form of the same message
            }
            let e = decode(full.slice(..cut), in_stream)
                .err()
                .unwrap_or_else(|| panic!("{name} cut at {cut} decoded"));
            assert!(e.offset <= cut, "{name} cut at {cut}: {e}");
            if cut > 0 {
                assert_eq!(
                    e.kind,
                    MessageKind::from_tag(full[0]),
                    "{name} cut at {cut}"
                );
                assert!(
                    matches!(
                        e.problem,
                        Problem::UnexpectedEnd { .. } | Problem::UnterminatedString(_)
                    ),
                    "{name} cut at {cut}: {e}"
                );
            }
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    for (name, in_stream, b) in samples() {
        if name == "stream abort v2" {
            continue; // 16 more bytes make it the v4 form; one more is checked below
        }
        let len = b.0.len();
        let e = decode(b.u8(0).bytes(), in_stream).unwrap_err();
        assert_eq!(
            (e.offset, &e.problem),
            (len, &Problem::TrailingBytes(1)),
            "{name}"
        );
    }
    let e = decode(B::tag(b'A').u32(1).u32(2).u8(0).bytes(), false).unwrap_err();
    assert!(matches!(e.problem, Problem::UnexpectedEnd { .. }), "{e}");
}

#[test]
fn bad_bytes_are_named_with_their_offset() {
    let e = decode(Bytes::new(), false).unwrap_err();
    assert_eq!(
        (e.kind, e.offset, e.problem),
        (MessageKind::Unknown(None), 0, Problem::Empty)
    );

    let e = decode(Bytes::from_static(b"Z123"), false).unwrap_err();
    assert_eq!(e.problem, Problem::UnknownTag(b'Z'));
    assert_eq!(
        e.to_string(),
        "malformed pgoutput unknown (tag 0x5a) message at byte 0: unknown message tag 'Z' (0x5a)"
    );

    let e = decode(B::tag(b'U').u32(1).u8(b'X').bytes(), false).unwrap_err();
    assert_eq!((e.kind, e.offset), (MessageKind::Update, 5));
    assert_eq!(
        e.to_string(),
        "malformed pgoutput Update message at byte 5: unexpected 'X' (0x58) for tuple marker ('K', 'O' or 'N')"
    );

    let e = decode(B::tag(b'U').u32(1).u8(b'K').i16(0).u8(b'O').bytes(), false).unwrap_err();
    assert_eq!(
        (e.offset, e.problem.clone()),
        (
            8,
            Problem::UnexpectedByte {
                field: "new tuple marker ('N')",
                found: b'O'
            }
        )
    );

    let e = decode(B::tag(b'I').u32(1).u8(b'N').i16(1).u8(b'x').bytes(), false).unwrap_err();
    assert_eq!((e.kind, e.offset), (MessageKind::Insert, 8));

    let e = decode(B::tag(b'I').u32(1).u8(b'N').i16(-1).bytes(), false).unwrap_err();
    assert_eq!(
        (e.offset, e.problem),
        (
            6,
            Problem::NegativeLength {
                field: "column count",
                value: -1
            }
        )
    );

    let e = decode(
        B::tag(b'I')
            .u32(1)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(i32::MIN)
            .bytes(),
        false,
    )
    .unwrap_err();
    assert_eq!(e.offset, 9);

    let e = decode(
        B::tag(b'I')
            .u32(1)
            .u8(b'N')
            .i16(1)
            .u8(b't')
            .i32(1000)
            .raw(b"ab")
            .bytes(),
        false,
    )
    .unwrap_err();
    assert_eq!(
        (e.offset, e.problem),
        (
            13,
            Problem::UnexpectedEnd {
                field: "column value",
                needed: 1000,
                remaining: 2
            }
        )
    );

    let e = decode(
        B::tag(b'R')
            .u32(1)
            .str("public")
            .str("t")
            .u8(b'z')
            .i16(0)
            .bytes(),
        false,
    )
    .unwrap_err();
    assert_eq!((e.offset, e.kind), (14, MessageKind::Relation));

    let e = decode(B::tag(b'Y').u32(1).raw(&[0xff, 0]).str("t").bytes(), false).unwrap_err();
    assert_eq!(
        (e.offset, e.problem),
        (5, Problem::InvalidUtf8("namespace"))
    );

    let e = decode(B::tag(b'T').i32(-2).u8(0).bytes(), false).unwrap_err();
    assert_eq!(e.offset, 1);

    // A forged huge count is an error, not a huge allocation.
    let e = decode(B::tag(b'T').i32(i32::MAX).u8(0).u32(1).bytes(), false).unwrap_err();
    assert!(matches!(e.problem, Problem::UnexpectedEnd { .. }));
}

fn tag_and_tail() -> impl Strategy<Value = Vec<u8>> {
    let tags: Vec<u8> = b"BCORYIUDTMSEcAbPKrpZ".to_vec();
    (
        proptest::sample::select(tags),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(tag, mut tail)| {
            tail.insert(0, tag);
            tail
        })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), in_stream: bool) {
        let _ = decode(Bytes::from(data), in_stream);
    }

    #[test]
    fn random_bodies_never_panic(data in tag_and_tail(), in_stream: bool) {
        if let Err(e) = decode(Bytes::from(data.clone()), in_stream) {
            prop_assert!(e.offset <= data.len());
        }
    }

    #[test]
    fn mutated_samples_never_panic(index in 0usize..28, pos: prop::sample::Index, byte: u8, in_stream: bool) {
        let all = samples();
        let (_, _, b) = &all[index % all.len()];
        let mut data = b.0.clone();
        let at = pos.index(data.len());
        data[at] = byte;
        if let Err(e) = decode(Bytes::from(data.clone()), in_stream) {
            prop_assert!(e.offset <= data.len());
        }
    }
}

//! Property tests: encode → decode is the identity, for JSON and Avro, for
//! every value kind and its edge values, and positions print and parse back
//! with row versions that follow their order.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns build fixtures
use proptest::collection::vec;
use proptest::prelude::*;
use rowlog_schemas::encode::{avro::AvroCodec, json, wire};
use rowlog_schemas::position::{
    BinlogPos, Gtid, Lsn, MariadbGtid, MysqlGtid, MysqlPosition, PgPosition,
};
use rowlog_schemas::value::{
    BitString, Date, DateTime, Interval, MICROS_PER_DAY, Time, TimeTz, Uuid,
};
use rowlog_schemas::{
    ChangeEvent, ColumnSchema, Op, Position, Row, SourceKind, TableId, TableSchema, TxInfo, Value,
    ValueKind,
};

fn scalar_kinds() -> Vec<ValueKind> {
    ValueKind::scalars().collect()
}

fn arb_kind() -> impl Strategy<Value = ValueKind> {
    let scalar = proptest::sample::select(scalar_kinds());
    prop_oneof![
        6 => scalar.clone(),
        2 => scalar.clone().prop_map(|k| ValueKind::Array(Box::new(k))),
        1 => scalar.prop_map(|k| ValueKind::Array(Box::new(ValueKind::Array(Box::new(k))))),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("😀𝄞🀄 four-byte".to_string()),
        Just("quote\" backslash\\ nul\u{0} newline\n".to_string()),
        any::<String>(),
    ]
}

fn arb_date() -> impl Strategy<Value = Date> {
    prop_oneof![
        Just(Date::INFINITY),
        Just(Date::NEG_INFINITY),
        Just(Date::ZERO),
        (-4712i32..=5_874_897, 0u8..=12, 0u8..=31)
            .prop_map(|(y, m, d)| Date::new(y, m, d).unwrap()),
    ]
}

fn arb_datetime() -> impl Strategy<Value = DateTime> {
    prop_oneof![
        Just(DateTime::INFINITY),
        Just(DateTime::NEG_INFINITY),
        (
            arb_date().prop_filter("finite", |d| !d.is_infinite()),
            0..MICROS_PER_DAY
        )
            .prop_map(|(d, us)| DateTime::new(d, us).unwrap()),
    ]
}

fn decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NaN".to_string()),
        Just("Infinity".to_string()),
        Just("-Infinity".to_string()),
        Just("99999999999999999999999999999999999999".to_string()),
        Just("-0.00000000000000000000000000000000000001".to_string()),
        Just("-99999999999999999999999999999999999.999999999999999999999999999999".to_string()),
        "-?[1-9][0-9]{0,40}(\\.[0-9]{1,40})?",
        "-?0\\.[0-9]{1,40}",
    ]
}

fn float64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(5e-324),
        any::<u64>().prop_map(f64::from_bits),
    ]
}

fn float32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(-0.0f32),
        Just(f32::MAX),
        Just(1e-45f32),
        Just(0.1f32),
        any::<u32>().prop_map(f32::from_bits),
    ]
}

/// A non-null value of `kind`, with edge values weighted in.
fn arb_value(kind: &ValueKind) -> BoxedStrategy<Value> {
    match kind {
        ValueKind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ValueKind::Int => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), any::<i64>()]
            .prop_map(Value::Int)
            .boxed(),
        ValueKind::UInt => prop_oneof![Just(u64::MAX), Just(0), any::<u64>()]
            .prop_map(Value::UInt)
            .boxed(),
        ValueKind::Float32 => float32().prop_map(Value::Float32).boxed(),
        ValueKind::Float64 => float64().prop_map(Value::Float64).boxed(),
        ValueKind::Decimal => decimal()
            .prop_map(|s| Value::Decimal(s.parse().unwrap()))
            .boxed(),
        ValueKind::Text => text().prop_map(Value::Text).boxed(),
        ValueKind::Json => prop_oneof![Just(r#"{"a": 1, "a": 2}"#.to_string()), text()]
            .prop_map(Value::Json)
            .boxed(),
        ValueKind::Enum => text().prop_map(Value::Enum).boxed(),
        ValueKind::Bytes => vec(any::<u8>(), 0..40).prop_map(Value::Bytes).boxed(),
        ValueKind::Date => arb_date().prop_map(Value::Date).boxed(),
        ValueKind::Time => (-3_020_399_000_000i64..=3_020_399_000_000)
            .prop_map(|us| Value::Time(Time::from_micros(us).unwrap()))
            .boxed(),
        ValueKind::TimeTz => (0..=MICROS_PER_DAY, -57_599i32..=57_599)
            .prop_map(|(us, off)| Value::TimeTz(TimeTz::new(us, off).unwrap()))
            .boxed(),
        ValueKind::Timestamp => arb_datetime().prop_map(Value::Timestamp).boxed(),
        ValueKind::TimestampTz => arb_datetime().prop_map(Value::TimestampTz).boxed(),
        ValueKind::Interval => (any::<i32>(), any::<i32>(), any::<i64>())
            .prop_map(|(months, days, micros)| {
                Value::Interval(Interval {
                    months,
                    days,
                    micros,
                })
            })
            .boxed(),
        ValueKind::Uuid => any::<[u8; 16]>()
            .prop_map(|b| Value::Uuid(Uuid::from_bytes(b)))
            .boxed(),
        ValueKind::Set => vec(text(), 0..4).prop_map(Value::Set).boxed(),
        ValueKind::Bits => "[01]{0,70}"
            .prop_map(|s| Value::Bits(s.parse::<BitString>().unwrap()))
            .boxed(),
        ValueKind::Array(inner) => {
            let elem = prop_oneof![1 => Just(Value::Null), 4 => arb_value(inner)];
            vec(elem, 0..4).prop_map(Value::Array).boxed()
        }
    }
}

/// NULL, absent (when allowed) or a value of `kind`.
fn arb_cell(kind: &ValueKind, absent_ok: bool) -> BoxedStrategy<Value> {
    if absent_ok {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Absent), 6 => arb_value(kind)].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => arb_value(kind)].boxed()
    }
}

fn column_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_][a-z0-9_]{0,8}", "[ -~]{1,6}", "\\PC{1,4}"]
}

fn arb_schema() -> impl Strategy<Value = TableSchema> {
    (
        vec((column_name(), arb_kind(), any::<bool>()), 1..7),
        0usize..3,
        "[a-z]{1,5}",
        "\\PC{1,6}",
    )
        .prop_filter_map("unique column names", |(cols, nkey, ns, name)| {
            let mut seen = std::collections::HashSet::new();
            if !cols.iter().all(|(n, _, _)| seen.insert(n.clone())) {
                return None;
            }
            let columns: Vec<ColumnSchema> = cols
                .into_iter()
                .map(|(name, kind, nullable)| ColumnSchema {
                    source_type: kind.to_string(),
                    name,
                    kind,
                    nullable,
                })
                .collect();
            let key = columns.iter().take(nkey).map(|c| c.name.clone()).collect();
            TableSchema::new(TableId::new(ns, name), columns, key).ok()
        })
}

fn arb_position(kind: SourceKind) -> BoxedStrategy<Position> {
    match kind {
        SourceKind::Postgres => (any::<u64>(), any::<u64>())
            .prop_map(|(c, x)| Position::Postgres(PgPosition::new(Lsn(c), Lsn(x))))
            .boxed(),
        SourceKind::Mysql => {
            let gtid = prop_oneof![
                Just(None),
                (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(domain, server, seq)| Some(
                    Gtid::Mariadb(MariadbGtid {
                        domain,
                        server,
                        seq
                    })
                )),
                (any::<[u8; 16]>(), 1..u64::MAX).prop_map(|(u, seq)| Some(Gtid::Mysql(
                    MysqlGtid {
                        uuid: Uuid::from_bytes(u),
                        seq
                    }
                ))),
            ];
            (
                any::<u8>(),
                "[a-z-]{1,8}\\.[0-9]{6}",
                any::<u64>(),
                any::<u32>(),
                gtid,
            )
                .prop_map(|(epoch, file, pos, row, gtid)| {
                    Position::Mysql(MysqlPosition {
                        epoch,
                        binlog: BinlogPos { file, pos },
                        row,
                        gtid,
                    })
                })
                .boxed()
        }
    }
}

fn arb_row(schema: &TableSchema, key_present: bool) -> BoxedStrategy<Row> {
    let cells: Vec<BoxedStrategy<(String, Value)>> = schema
        .columns
        .iter()
        .map(|c| {
            let is_key = schema.key.contains(&c.name);
            let name = c.name.clone();
            arb_cell(&c.kind, !(is_key && key_present))
                .prop_map(move |v| (name.clone(), v))
                .boxed()
        })
        .collect();
    cells
        .prop_map(|cells| cells.into_iter().collect::<Row>())
        .boxed()
}

fn arb_event() -> impl Strategy<Value = (ChangeEvent, TableSchema)> {
    (
        arb_schema(),
        prop_oneof![Just(SourceKind::Postgres), Just(SourceKind::Mysql)],
    )
        .prop_flat_map(|(schema, kind)| {
            let op = proptest::sample::select(vec![
                Op::Insert,
                Op::Update,
                Op::Delete,
                Op::Truncate,
                Op::Read,
            ]);
            let tx = proptest::option::of(
                (text(), any::<i64>(), any::<u64>().prop_map(|o| o >> 1)).prop_map(
                    |(id, commit_time_us, ordinal)| TxInfo {
                        id,
                        commit_time_us,
                        ordinal,
                    },
                ),
            );
            (
                Just(schema.clone()),
                op,
                arb_row(&schema, true),
                arb_row(&schema, false),
                any::<bool>(),
                arb_position(kind),
                tx,
                text(),
                any::<i64>(),
            )
                .prop_map(
                    |(
                        schema,
                        op,
                        full,
                        partial,
                        has_before,
                        position,
                        transaction,
                        source,
                        ts_ms,
                    )| {
                        let (before, after) = match op {
                            Op::Insert | Op::Read => (None, Some(full)),
                            Op::Update => (has_before.then_some(partial), Some(full)),
                            Op::Delete => (Some(full), None),
                            Op::Truncate => (None, None),
                        };
                        let event = ChangeEvent {
                            source,
                            table: schema.table.clone(),
                            op,
                            key_columns: schema.key.clone(),
                            before,
                            after,
                            position,
                            transaction,
                            schema_version: schema.version(),
                            ts_ms,
                        };
                        (event, schema)
                    },
                )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trip((event, schema) in arb_event()) {
        let bytes = json::encode(&event, &schema).unwrap();
        prop_assert_eq!(json::decode(&bytes).unwrap(), event.clone());
        // The caching decoder: the same event, the declared schema, and the
        // same schema (one Arc) for the next record of the table version.
        let mut decoder = json::Decoder::new();
        let (first, declared) = decoder.decode(&bytes).unwrap();
        prop_assert_eq!(&first, &event);
        prop_assert_eq!(&*declared, &json::decode_with_schema(&bytes).unwrap().1);
        let (again, cached) = decoder.decode(&bytes).unwrap();
        prop_assert_eq!(&again, &event);
        prop_assert!(std::sync::Arc::ptr_eq(&declared, &cached));
        if let Some(key) = event.key() {
            let kb = json::encode_key(&key).unwrap();
            prop_assert_eq!(json::decode_key(&kb, &schema).unwrap(), key);
        }
    }

    #[test]
    fn avro_round_trip((event, schema) in arb_event()) {
        let codec = AvroCodec::new(event.position.kind(), &schema).unwrap();
        let datum = codec.encode(&event).unwrap();
        let framed = wire::frame(42, &datum);
        let (id, inner) = wire::unframe(&framed).unwrap();
        prop_assert_eq!(id, 42);
        prop_assert_eq!(codec.decode(inner).unwrap(), event.clone());
        // A consumer that only has the registry's schema text decodes the same.
        let rebuilt = AvroCodec::from_schema_json(codec.value_schema_json()).unwrap();
        prop_assert_eq!(rebuilt.decode(inner).unwrap(), event.clone());
        if let Some(key) = event.key().filter(|k| k.iter().all(|(_, v)| !v.is_null())) {
            let kb = codec.encode_key(&key).unwrap();
            prop_assert_eq!(rebuilt.decode_key(&kb).unwrap(), key);
        }
    }

    #[test]
    fn every_value_kind_round_trips_alone(kind in arb_kind(), seed in any::<u64>()) {
        // Single-column tables make sure each kind is exercised on its own,
        // in both encodings, including as a key.
        let _ = seed;
        let schema = TableSchema::new(
            TableId::new("s", "t"),
            vec![ColumnSchema { name: "c".into(), kind: kind.clone(), source_type: String::new(), nullable: true }],
            vec!["c".into()],
        ).unwrap();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for _ in 0..8 {
            let v = arb_value(&kind).new_tree(&mut runner).unwrap().current();
            let event = ChangeEvent {
                source: "src".into(),
                table: schema.table.clone(),
                op: Op::Insert,
                key_columns: schema.key.clone(),
                before: None,
                after: Some(Row::new().with("c", v.clone())),
                position: Position::Postgres("0/10".parse().unwrap()),
                transaction: None,
                schema_version: schema.version(),
                ts_ms: 0,
            };
            prop_assert_eq!(json::decode(&json::encode(&event, &schema).unwrap()).unwrap(), event.clone());
            let codec = AvroCodec::new(SourceKind::Postgres, &schema).unwrap();
            prop_assert_eq!(codec.decode(&codec.encode(&event).unwrap()).unwrap(), event.clone());
            let key = Row::new().with("c", v);
            prop_assert_eq!(codec.decode_key(&codec.encode_key(&key).unwrap()).unwrap(), key.clone());
            prop_assert_eq!(json::decode_key(&json::encode_key(&key).unwrap(), &schema).unwrap(), key);
        }
    }

    #[test]
    fn positions_print_and_parse_back(p in prop_oneof![arb_position(SourceKind::Postgres), arb_position(SourceKind::Mysql)]) {
        prop_assert_eq!(Position::parse(p.kind(), &p.to_string()).unwrap(), p);
    }

    #[test]
    fn pg_row_version_increases_within_a_transaction(commit in any::<u64>(), a in 0u64..1 << 62, d in 1u64..1 << 20) {
        let first = PgPosition::new(Lsn(commit), Lsn(a));
        let second = PgPosition::new(Lsn(commit), Lsn(a + d));
        prop_assert!(first < second);
        prop_assert!(first.row_version().unwrap() < second.row_version().unwrap());
    }

    #[test]
    fn mysql_row_version_follows_stream_order(
        epoch in 0u8..=254,
        seq in 1u64..(1 << 23) - 2,
        events in vec((1u32..50, 1u64..5_000), 1..30),
        rotate_at in any::<usize>(),
    ) {
        // A stream of rows events: each event's rows, then the next event
        // starts after the bytes of those rows; one rotation to the next file.
        let mut stream = Vec::new();
        let (mut file, mut pos) = (seq, 4u64);
        for (i, (rows, gap)) in events.iter().enumerate() {
            if i == rotate_at % events.len() {
                file += 1;
                pos = 4;
            }
            for row in 0..*rows {
                stream.push(MysqlPosition {
                    epoch,
                    binlog: BinlogPos { file: format!("mysql-bin.{file:06}"), pos },
                    row,
                    gtid: None,
                });
            }
            pos += u64::from(*rows) + gap;
        }
        let mut next_epoch = stream.last().unwrap().clone();
        next_epoch.epoch += 1;
        next_epoch.binlog = BinlogPos { file: "other-bin.000001".into(), pos: 4 };
        next_epoch.row = 0;
        stream.push(next_epoch);
        for w in stream.windows(2) {
            prop_assert!(w[0] < w[1]);
            prop_assert!(w[0].row_version().unwrap() < w[1].row_version().unwrap(), "{} vs {}", w[0], w[1]);
        }
    }
}

#[test]
fn null_and_absent_stay_apart_in_json() {
    let schema = TableSchema::new(
        TableId::new("public", "t"),
        vec![
            ColumnSchema {
                name: "id".into(),
                kind: ValueKind::Int,
                source_type: "int8".into(),
                nullable: false,
            },
            ColumnSchema {
                name: "a".into(),
                kind: ValueKind::Text,
                source_type: "text".into(),
                nullable: true,
            },
            ColumnSchema {
                name: "b".into(),
                kind: ValueKind::Text,
                source_type: "text".into(),
                nullable: true,
            },
        ],
        vec!["id".into()],
    )
    .unwrap();
    let event = ChangeEvent {
        source: "app".into(),
        table: schema.table.clone(),
        op: Op::Update,
        key_columns: vec!["id".into()],
        before: None,
        after: Some(
            Row::new()
                .with("id", Value::Int(1))
                .with("a", Value::Null)
                .with("b", Value::Absent),
        ),
        position: Position::Postgres("0/200@0/180".parse().unwrap()),
        transaction: Some(TxInfo {
            id: "771".into(),
            commit_time_us: 1_700_000_000_000_123,
            ordinal: 1,
        }),
        schema_version: schema.version(),
        ts_ms: 1_700_000_000_005,
    };
    let bytes = json::encode(&event, &schema).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["after"], serde_json::json!({"id": 1, "a": null}));
    assert_eq!(doc["op"], "u");
    assert_eq!(doc["source"]["pos"], "0/200@0/180");
    assert_eq!(doc["source"]["ts_ms"], 1_700_000_000_000i64);
    assert_eq!(doc["transaction"]["id"], "771");
    assert_eq!(json::decode(&bytes).unwrap(), event);
}

#[test]
fn decimals_are_digit_strings_not_base64() {
    let v = Value::Decimal("-12345678901234567890.123456789012345678".parse().unwrap());
    assert_eq!(
        json::value_to_json(&v).unwrap(),
        serde_json::json!("-12345678901234567890.123456789012345678")
    );
    assert_eq!(
        json::value_to_json(&Value::UInt(u64::MAX))
            .unwrap()
            .to_string(),
        "18446744073709551615"
    );
    assert_eq!(
        json::value_to_json(&Value::Float32(0.1))
            .unwrap()
            .to_string(),
        "0.1"
    );
    assert_eq!(
        json::value_to_json(&Value::Float64(f64::NAN)).unwrap(),
        serde_json::json!("NaN")
    );
}

#[test]
fn invalid_events_are_refused_with_their_place() {
    let schema = TableSchema::new(
        TableId::new("public", "t"),
        vec![ColumnSchema {
            name: "id".into(),
            kind: ValueKind::Int,
            source_type: "int8".into(),
            nullable: false,
        }],
        vec!["id".into()],
    )
    .unwrap();
    let mut event = ChangeEvent {
        source: "app".into(),
        table: schema.table.clone(),
        op: Op::Insert,
        key_columns: vec!["id".into()],
        before: None,
        after: Some(Row::new().with("id", Value::Text("x".into()))),
        position: Position::Postgres("0/10".parse().unwrap()),
        transaction: None,
        schema_version: schema.version(),
        ts_ms: 0,
    };
    let err = json::encode(&event, &schema).unwrap_err();
    assert!(err.place.contains("public.t.id"), "{err}");
    event.after = Some(Row::new().with("id", Value::Absent));
    assert!(
        json::encode(&event, &schema)
            .unwrap_err()
            .message
            .contains("absent")
    );
    event.after = None;
    assert!(json::encode(&event, &schema).is_err());
    for garbage in [&b""[..], b"{}", b"[1]", b"\xff", b"{\"op\":\"x\"}"] {
        assert!(json::decode(garbage).is_err());
        assert!(json::Decoder::new().decode(garbage).is_err());
    }
    // A value of the wrong kind and a column the record does not declare
    // are named with table, column and position.
    let good = String::from_utf8(
        json::encode(
            &{
                let mut e = event.clone();
                e.after = Some(Row::new().with("id", Value::Int(7)));
                e
            },
            &schema,
        )
        .unwrap(),
    )
    .unwrap();
    for (bad, place, why) in [
        (
            good.replace("\"id\":7", "\"id\":\"seven\""),
            "public.t.id (after) at 0/10",
            "seven",
        ),
        (
            good.replace("\"id\":7", "\"id\":true"),
            "public.t.id (after) at 0/10",
            "`true` is not a valid `int` value",
        ),
        (
            good.replace("\"id\":7", "\"id\":7,\"extra\":1"),
            "public.t.extra (after)",
            "not listed in rowlog.types",
        ),
        (
            good.replace("\"after\":{", "\"after\":[{")
                .replace("},\"source\"", "}],\"source\""),
            "after",
            "expected an object",
        ),
    ] {
        assert_ne!(bad, good);
        for err in [
            json::decode(bad.as_bytes()).unwrap_err(),
            json::Decoder::new().decode(bad.as_bytes()).unwrap_err(),
        ] {
            assert_eq!(err.place, place, "{err}");
            assert!(err.message.contains(why), "{err}");
        }
    }
}

#[test]
fn multi_dimensional_arrays_round_trip_under_a_one_dimensional_kind() {
    // PostgreSQL's int[] holds any number of dimensions.
    let int_arr: ValueKind = "int[]".parse().unwrap();
    let two = Value::Array(vec![
        Value::Array(vec![Value::Int(1), Value::Null]),
        Value::Array(vec![Value::Int(3), Value::Int(4)]),
    ]);
    let j = json::value_to_json(&two).unwrap();
    assert_eq!(j, serde_json::json!([[1, null], [3, 4]]));
    assert_eq!(json::json_to_value(&int_arr, &j).unwrap(), two);
    let text_arr: ValueKind = "text[]".parse().unwrap();
    let three = Value::Array(vec![Value::Array(vec![Value::Array(vec![Value::Text(
        "[x]".into(),
    )])])]);
    let j = json::value_to_json(&three).unwrap();
    assert_eq!(json::json_to_value(&text_arr, &j).unwrap(), three);
    // A nested array of the wrong element kind is still refused.
    assert!(json::json_to_value(&int_arr, &serde_json::json!([["a"]])).is_err());
}

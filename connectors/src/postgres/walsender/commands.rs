//! The replication commands we send, as text, and their options.
//!
//! Invariants: pure (no I/O); slot names are checked against PostgreSQL's
//! own rule (`[a-z0-9_]{1,63}`) and so need no quoting; publication names
//! and other values are quoted as identifiers inside string literals, so no
//! name can inject a command.

use rowlog_schemas::position::Lsn;

/// What CREATE_REPLICATION_SLOT does with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotAction {
    /// Export it: another session can `SET TRANSACTION SNAPSHOT` to it
    /// until this connection runs its next command.
    Export,
    /// Use it in this session's (open, repeatable read) transaction.
    Use,
    /// No snapshot.
    Nothing,
}

/// Options of a new logical slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotOptions {
    /// Dropped when the session ends.
    pub temporary: bool,
    /// What to do with the slot's initial snapshot.
    pub snapshot: SnapshotAction,
    /// Decode prepared transactions at PREPARE (needs protocol v3 to stream).
    pub two_phase: bool,
}

impl Default for SlotOptions {
    fn default() -> Self {
        SlotOptions {
            temporary: false,
            snapshot: SnapshotAction::Export,
            two_phase: false,
        }
    }
}

/// pgoutput's `streaming` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    /// Send transactions only at commit (decoding spills to disk).
    Off,
    /// Stream transactions larger than `logical_decoding_work_mem` in
    /// blocks (protocol v2+).
    On,
    /// Like `On`, and Stream Abort carries its LSN and time (v4+, PG 16+).
    Parallel,
}

/// The pgoutput options of START_REPLICATION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOptions {
    /// pgoutput protocol version, 1–4 (v2: streaming, v3: two-phase, v4:
    /// parallel streaming; PostgreSQL 14 knows up to 2, 15 up to 3).
    pub proto_version: u32,
    /// Publications whose tables are decoded (at least one).
    pub publication_names: Vec<String>,
    /// Send logical decoding messages (`pg_logical_emit_message`).
    pub messages: bool,
    /// Stream large in-progress transactions.
    pub streaming: Streaming,
    /// Column values in binary instead of text form.
    pub binary: bool,
    /// Decode two-phase transactions at PREPARE (v3+).
    pub two_phase: bool,
    /// `origin` (PG 16+): `any` or `none`.
    pub origin: Option<String>,
}

impl StartOptions {
    /// Protocol v1, text values, no messages, no streaming.
    pub fn new(publications: impl IntoIterator<Item = impl Into<String>>) -> StartOptions {
        StartOptions {
            proto_version: 1,
            publication_names: publications.into_iter().map(Into::into).collect(),
            messages: false,
            streaming: Streaming::Off,
            binary: false,
            two_phase: false,
            origin: None,
        }
    }
}

/// Checks a slot name the way PostgreSQL does.
pub(super) fn check_slot_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err(format!(
            "slot name `{name}` must be 1 to 63 characters long"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "slot name `{name}` may contain only lower-case letters, digits and underscores"
        ));
    }
    Ok(())
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `CREATE_REPLICATION_SLOT`, in the syntax of the server's major version
/// (the parenthesized options exist since PostgreSQL 15).
pub(super) fn create_slot(
    name: &str,
    options: &SlotOptions,
    server_major: u32,
) -> Result<String, String> {
    check_slot_name(name)?;
    let temporary = if options.temporary { " TEMPORARY" } else { "" };
    if server_major >= 15 {
        let snapshot = match options.snapshot {
            SnapshotAction::Export => "export",
            SnapshotAction::Use => "use",
            SnapshotAction::Nothing => "nothing",
        };
        let two_phase = if options.two_phase { ", TWO_PHASE" } else { "" };
        Ok(format!(
            "CREATE_REPLICATION_SLOT {name}{temporary} LOGICAL pgoutput (SNAPSHOT '{snapshot}'{two_phase})"
        ))
    } else {
        let snapshot = match options.snapshot {
            SnapshotAction::Export => "EXPORT_SNAPSHOT",
            SnapshotAction::Use => "USE_SNAPSHOT",
            SnapshotAction::Nothing => "NOEXPORT_SNAPSHOT",
        };
        let two_phase = if options.two_phase { " TWO_PHASE" } else { "" };
        Ok(format!(
            "CREATE_REPLICATION_SLOT {name}{temporary} LOGICAL pgoutput {snapshot}{two_phase}"
        ))
    }
}

/// `START_REPLICATION SLOT ... LOGICAL ...` with pgoutput's options.
pub(super) fn start_replication(
    slot: &str,
    start: Lsn,
    options: &StartOptions,
) -> Result<String, String> {
    check_slot_name(slot)?;
    let v = options.proto_version;
    if !(1..=4).contains(&v) {
        return Err(format!("proto_version {v} is not one of 1, 2, 3, 4"));
    }
    if options.publication_names.is_empty() {
        return Err("at least one publication is needed".to_owned());
    }
    let needs = |what: &str, min: u32| {
        if v < min {
            Err(format!(
                "{what} needs proto_version {min} or later, not {v}"
            ))
        } else {
            Ok(())
        }
    };
    let publications = options
        .publication_names
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join(",");
    let mut opts = vec![
        format!("proto_version '{v}'"),
        format!("publication_names {}", quote_literal(&publications)),
    ];
    if options.messages {
        opts.push("messages 'true'".to_owned());
    }
    match options.streaming {
        Streaming::Off => {}
        Streaming::On => {
            needs("streaming", 2)?;
            opts.push("streaming 'true'".to_owned());
        }
        Streaming::Parallel => {
            needs("streaming 'parallel'", 4)?;
            opts.push("streaming 'parallel'".to_owned());
        }
    }
    if options.binary {
        opts.push("binary 'true'".to_owned());
    }
    if options.two_phase {
        needs("two_phase", 3)?;
        opts.push("two_phase 'true'".to_owned());
    }
    if let Some(origin) = &options.origin {
        opts.push(format!("origin {}", quote_literal(origin)));
    }
    Ok(format!(
        "START_REPLICATION SLOT {slot} LOGICAL {start} ({})",
        opts.join(", ")
    ))
}

/// `DROP_REPLICATION_SLOT name [WAIT]`.
pub(super) fn drop_slot(name: &str, wait: bool) -> Result<String, String> {
    check_slot_name(name)?;
    Ok(format!(
        "DROP_REPLICATION_SLOT {name}{}",
        if wait { " WAIT" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn create_slot_syntax_by_version() {
        let export = SlotOptions::default();
        assert_eq!(
            create_slot("s1", &export, 15).unwrap(),
            "CREATE_REPLICATION_SLOT s1 LOGICAL pgoutput (SNAPSHOT 'export')"
        );
        let temp = SlotOptions {
            temporary: true,
            snapshot: SnapshotAction::Nothing,
            two_phase: true,
        };
        assert_eq!(
            create_slot("s1", &temp, 16).unwrap(),
            "CREATE_REPLICATION_SLOT s1 TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE)"
        );
        assert_eq!(
            create_slot("s1", &export, 14).unwrap(),
            "CREATE_REPLICATION_SLOT s1 LOGICAL pgoutput EXPORT_SNAPSHOT"
        );
        assert!(create_slot("S1", &export, 15).is_err());
        assert!(create_slot("a;b", &export, 15).is_err());
        assert!(create_slot(&"a".repeat(64), &export, 15).is_err());
    }

    #[test]
    fn start_replication_options() {
        let mut o = StartOptions::new(["pub", "we\"ird'pub"]);
        o.proto_version = 2;
        o.messages = true;
        o.streaming = Streaming::On;
        assert_eq!(
            start_replication("s1", Lsn(0x1_0000_0010), &o).unwrap(),
            "START_REPLICATION SLOT s1 LOGICAL 1/10 (proto_version '2', \
             publication_names '\"pub\",\"we\"\"ird''pub\"', messages 'true', streaming 'true')"
        );
        o.streaming = Streaming::Parallel;
        assert!(
            start_replication("s1", Lsn(0), &o)
                .unwrap_err()
                .contains("proto_version 4")
        );
        o.proto_version = 4;
        o.two_phase = true;
        o.binary = true;
        o.origin = Some("none".into());
        assert!(
            start_replication("s1", Lsn(0), &o)
                .unwrap()
                .ends_with("streaming 'parallel', binary 'true', two_phase 'true', origin 'none')")
        );
        o.proto_version = 5;
        assert!(start_replication("s1", Lsn(0), &o).is_err());
        assert!(start_replication("s1", Lsn(0), &StartOptions::new(Vec::<String>::new())).is_err());
    }
}

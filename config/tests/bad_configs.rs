//! Every malformed config under `tests/bad/` fails to load with an error at the
//! expected `line:column`, key path and message (table in `tests/bad/EXPECTED`).

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rowlog_config::{ConfigErrors, load_bytes, load_with_env};

struct Case {
    file: String,
    pos: String,
    path: String,
    fragment: String,
}

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad")
}

fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(bad_dir().join("EXPECTED")).unwrap();
    table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.splitn(4, " | ").collect();
            assert_eq!(cols.len(), 4, "bad EXPECTED line: {l}");
            Case {
                file: cols[0].to_owned(),
                pos: cols[1].to_owned(),
                path: cols[2].to_owned(),
                fragment: cols[3].to_owned(),
            }
        })
        .collect()
}

/// An environment where the variable of `undefined-env-var.yaml` is not set.
fn env() -> BTreeMap<String, String> {
    BTreeMap::from([("PG_PASSWORD".to_owned(), "x".to_owned())])
}

fn expected_prefix(origin: &str, c: &Case) -> String {
    if c.path == "-" {
        format!("{origin}:{}: ", c.pos)
    } else {
        format!("{origin}:{}: {}: ", c.pos, c.path)
    }
}

#[test]
fn each_bad_config_fails_with_a_located_message() {
    let cases = cases();
    assert!(cases.len() >= 20, "only {} bad configs", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let path = bad_dir().join(&c.file);
        let origin = path.display().to_string();
        let result = load_with_env(&path, &env());
        let Err(errors) = result else {
            failures.push(format!("{}: loaded without error", c.file));
            continue;
        };
        let prefix = expected_prefix(&origin, c);
        let hit = errors
            .iter()
            .map(|e| e.to_string())
            .any(|line| line.starts_with(&prefix) && line.contains(&c.fragment));
        if !hit {
            failures.push(format!(
                "{}: expected a line starting {prefix:?} containing {:?}, got:\n{errors}",
                c.file, c.fragment
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn table_and_directory_agree() {
    let listed: Vec<String> = cases().into_iter().map(|c| c.file).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(bad_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, on_disk);
}

#[test]
fn ten_megabyte_file_is_rejected_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text = line.repeat(10 * 1024 * 1024 / line.len() + 1);
    std::fs::write(&path, &text).unwrap();
    let errors = load_with_env(&path, &env()).unwrap_err();
    let msg = errors.to_string();
    assert!(msg.contains(":1:1: file is"), "{msg}");
    assert!(msg.contains(&format!("{} bytes", text.len())), "{msg}");
    assert!(msg.contains("limit of 1048576 bytes"), "{msg}");
    // The same through the in-memory entry point.
    let errors = load_bytes(text.as_bytes(), "mem.yaml", &env()).unwrap_err();
    assert!(errors.to_string().contains("limit of 1048576 bytes"));
}

#[test]
fn unreadable_paths_are_reported_not_panicked() {
    let e = load_with_env(bad_dir().join("no-such-file.yaml"), &env()).unwrap_err();
    assert!(
        e.to_string().contains("no-such-file.yaml: cannot open"),
        "{e}"
    );
    let e = load_with_env(bad_dir(), &env()).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
}

fn load(text: &str) -> Result<rowlog_config::Config, ConfigErrors> {
    rowlog_config::load_str(text, "t.yaml", &env())
}

#[test]
fn all_problems_are_reported_in_document_order() {
    let text = "\
sources:
  - name: app
    postgres:
      url: postgres://h/app
      snapshot: sometimes
  - name: b
    mysql: { url: 'mysql://h', server_id: 1, snapshot_lock: none }
log:
  kafka: { brokers: [] }
  partitions: 0
sinks:
  - name: s1
    source: nope
    redis: { url: 'redis://h' }
  - name: s2
    source: app
    batch: { max_rows: 0 }
    search: { url: 'ftp://h' }
";
    // Deserialization errors (one per list item / section) come first ...
    let e = load(text).unwrap_err();
    let lines: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(
        lines[0].starts_with("t.yaml:5:17: sources[0].postgres.snapshot: unknown value"),
        "{e}"
    );
    assert!(
        lines[1].starts_with("t.yaml:7:46: sources[1].mysql.snapshot_lock: unknown key"),
        "{e}"
    );
    assert!(lines[1].contains("did you mean `snapshot_locking`?"), "{e}");
    // ... and once the structure is right, every semantic problem at once.
    let fixed = text
        .replace("snapshot: sometimes", "snapshot: never")
        .replace("snapshot_lock:", "snapshot_locking:");
    let e = load(&fixed).unwrap_err();
    let lines: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let expect = [
        "t.yaml:9:21: log.kafka.brokers: at least one broker",
        "t.yaml:10:15: log.partitions: partitions must be from 1 to 10000",
        "t.yaml:13:13: sinks[0].source: no source named `nope`",
        "t.yaml:17:24: sinks[1].batch.max_rows: max_rows must be from 1",
        "t.yaml:18:20: sinks[1].search.url: URL scheme `ftp` is not accepted",
    ];
    assert_eq!(lines.len(), expect.len(), "{e}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(line.starts_with(want), "{line}\n  wanted {want}");
    }
}

#[test]
fn interpolated_values_feed_typed_fields_but_quotes_keep_strings() {
    // Block style: in a flow mapping `{ a: ${X} }` the braces would end the mapping.
    let base = "sources:\n  - name: a\n    mysql:\n      url: mysql://h\n      server_id: SERVER\nlog:\n  kafka: { brokers: ['h:1'] }\n";
    let env = BTreeMap::from([("SID".to_owned(), "42".to_owned())]);
    let c = rowlog_config::load_str(&base.replace("SERVER", "${SID}"), "t.yaml", &env).unwrap();
    let rowlog_config::SourceKind::Mysql(m) = &c.sources[0].kind else {
        panic!("kind")
    };
    assert_eq!(m.server_id, 42);
    let e =
        rowlog_config::load_str(&base.replace("SERVER", "\"${SID}\""), "t.yaml", &env).unwrap_err();
    assert!(e.to_string().contains("remove the quotes"), "{e}");
    // A variable's value can never add structure: it stays one scalar.
    let env = BTreeMap::from([("SID".to_owned(), "1, extra: 2}".to_owned())]);
    let e = rowlog_config::load_str(&base.replace("SERVER", "${SID}"), "t.yaml", &env).unwrap_err();
    assert!(
        e.to_string().contains("server_id: expected a whole number"),
        "{e}"
    );
}

/// Port 0 asks the OS for a free port: fine for `http.listen`, never for a
/// broker address.
#[test]
fn port_zero_is_for_listening_only() {
    let base = "sources:\n  - name: app\n    postgres:\n      url: postgres://h/app\nlog:\n  kafka:\n    brokers: [\"BROKER\"]\nhttp:\n  listen: \"LISTEN\"\n";
    let cfg = |broker: &str, listen: &str| base.replace("BROKER", broker).replace("LISTEN", listen);
    let ok = load(&cfg("k:9092", "127.0.0.1:0")).unwrap();
    assert_eq!(ok.http.listen, "127.0.0.1:0");
    let err = load(&cfg("k:0", "127.0.0.1:8080")).unwrap_err().to_string();
    assert!(
        err.contains("log.kafka.brokers[0]") && err.contains("port 0 is out of range"),
        "{err}"
    );
}

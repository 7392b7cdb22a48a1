//! Every file in `config/examples/` is a complete, valid config, and its printed
//! effective form loads back to the same thing.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

fn examples() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_expected_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "quickstart.yaml",
        "postgres.yaml",
        "mysql.yaml",
        "sink-postgres.yaml",
        "sink-mysql.yaml",
        "sink-redis.yaml",
        "sink-search.yaml",
    ] {
        assert!(names.iter().any(|n| n == want), "missing example {want}");
    }
}

#[test]
fn examples_load_with_an_empty_environment() {
    let env = BTreeMap::new();
    for path in examples() {
        if let Err(e) = rowlog_config::load_with_env(&path, &env) {
            panic!("{} does not load:\n{e}", path.display());
        }
    }
}

#[test]
fn printed_config_round_trips() {
    let env = BTreeMap::new();
    for path in examples() {
        let config = rowlog_config::load_with_env(&path, &env).unwrap();
        let printed = config.redacted_yaml();
        let again = rowlog_config::load_str(&printed, "printed.yaml", &env).unwrap_or_else(|e| {
            panic!(
                "{}: printed form does not load:\n{e}\n{printed}",
                path.display()
            )
        });
        assert_eq!(again.redacted_yaml(), printed, "{}", path.display());
    }
}

#[test]
fn defaults_are_filled_in() {
    let text = "sources:\n  - name: my-app\n    postgres: { url: 'postgres://h/db' }\nlog:\n  kafka: { brokers: ['h:9092'] }\nsinks:\n  - { name: c, source: my-app, redis: { url: 'redis://h' } }\n";
    let c = rowlog_config::load_str(text, "t.yaml", &BTreeMap::new()).unwrap();
    let rowlog_config::SourceKind::Postgres(pg) = &c.sources[0].kind else {
        panic!("kind")
    };
    assert_eq!(pg.slot_name(), "rowlog_my_app");
    assert_eq!(pg.publication_name(), "rowlog_my_app");
    assert_eq!(pg.snapshot, rowlog_config::SnapshotMode::Initial);
    assert_eq!(c.log.topic_prefix, "rowlog");
    assert_eq!(c.log.partitions, 1);
    assert!(c.log.tombstones);
    assert_eq!(c.http.listen, "127.0.0.1:8080");
    let s = &c.sinks[0];
    assert_eq!(s.batch.max_rows, 1000);
    assert_eq!(s.batch.max_wait.as_millis(), 200);
    assert_eq!(s.on_error, rowlog_config::OnError::DeadLetter);
    let rowlog_config::SinkKind::Redis(r) = &s.kind else {
        panic!("kind")
    };
    assert_eq!(r.key_template, "{schema}.{table}:{key}");
}

#[test]
fn empty_sinks_key_means_no_sinks() {
    let text = "sources:\n  - name: a\n    postgres: { url: 'postgres://h/db' }\nlog:\n  kafka: { brokers: ['h:9092'] }\nsinks:\n";
    let c = rowlog_config::load_str(text, "t.yaml", &BTreeMap::new()).unwrap();
    assert!(c.sinks.is_empty());
    let e = rowlog_config::load_str(
        &text.replace("sinks:\n", "sinks: 5\n"),
        "t.yaml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("t.yaml:6:8: sinks: expected a list"),
        "{e}"
    );
}

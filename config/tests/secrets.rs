//! Known secret strings never appear in `Debug` of the config, in the printed
//! config, or in error messages — while the code can still get at them.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

const SECRETS: &[&str] = &[
    "pw-INLINE-1",
    "pw-URL-2",
    "pw-SASL-3",
    "pw-FILE-4",
    "pw-REGISTRY-5",
    "pw-ENV-6",
    "pw-TOKEN-7",
];

fn config_text(dir: &std::path::Path) -> String {
    std::fs::write(dir.join("pg.secret"), "pw-FILE-4\n").unwrap();
    format!(
        "\
sources:
  - name: app
    postgres:
      url: postgres://rowlog@127.0.0.1:5432/app
      password: pw-INLINE-1
  - name: shop
    mysql:
      url: mysql://rowlog:pw-URL-2@127.0.0.1:3306
      server_id: 9
log:
  kafka:
    brokers: ['127.0.0.1:9092']
    options:
      sasl.password: pw-SASL-3
      sasl.oauthbearer.token: pw-TOKEN-7
      compression.type: zstd
  format: avro
  schema_registry: {{ url: 'http://127.0.0.1:8081', username: u, password: pw-REGISTRY-5 }}
sinks:
  - name: replica
    source: app
    postgres:
      url: postgres://rowlog@127.0.0.1:5433/replica
      password_file: {}
  - name: cache
    source: shop
    redis: {{ url: 'redis://127.0.0.1:6379/0', password: '${{REDIS_PW}}', key_template: '{{key}}' }}
",
        dir.join("pg.secret").display()
    )
}

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([("REDIS_PW".to_owned(), "pw-ENV-6".to_owned())])
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} leaks {s}:\n{text}");
    }
}

#[test]
fn secrets_are_redacted_but_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let c = rowlog_config::load_str(&config_text(dir.path()), "s.yaml", &env()).unwrap();
    assert_clean("Debug", &format!("{c:?}"));
    assert_clean("pretty Debug", &format!("{c:#?}"));
    let printed = c.redacted_yaml();
    assert_clean("redacted_yaml", &printed);
    assert!(printed.contains("***"), "{printed}");
    assert!(printed.contains("compression.type: zstd"), "{printed}");

    // The real values are still there for the code that connects.
    let mut seen = Vec::new();
    for s in &c.sources {
        match &s.kind {
            rowlog_config::SourceKind::Postgres(p) => {
                seen.push(p.password().unwrap().expose().to_owned())
            }
            rowlog_config::SourceKind::Mysql(m) => {
                seen.push(m.password().unwrap().expose().to_owned())
            }
        }
    }
    for v in c.log.kafka.options.0.values() {
        seen.push(v.expose().to_owned());
    }
    seen.push(
        c.log
            .schema_registry
            .as_ref()
            .unwrap()
            .password()
            .unwrap()
            .expose()
            .to_owned(),
    );
    for s in &c.sinks {
        match &s.kind {
            rowlog_config::SinkKind::Postgres(k) => {
                seen.push(k.password().unwrap().expose().to_owned())
            }
            rowlog_config::SinkKind::Redis(k) => {
                seen.push(k.password().unwrap().expose().to_owned())
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for s in SECRETS {
        assert!(
            seen.iter().any(|v| v == s),
            "{s} not reachable; got {seen:?}"
        );
    }
}

#[test]
fn secrets_do_not_leak_into_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Feed the secret env var into a number field and break a URL that holds a password.
    let text = config_text(dir.path())
        .replace("server_id: 9", "server_id: ${REDIS_PW}")
        .replace(
            "postgres://rowlog@127.0.0.1:5433/replica",
            "postgres://u:pw-URL-2@[bad/replica",
        );
    let e = rowlog_config::load_str(&text, "s.yaml", &env()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("server_id"), "{msg}");
    assert_clean("errors", &msg);
    assert_clean("errors Debug", &format!("{e:?}"));
}

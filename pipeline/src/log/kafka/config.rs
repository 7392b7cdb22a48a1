//! librdkafka options for rowlog's producer and admin client.
//!
//! Forced (a different value in `log.kafka.options` is an error, the same value
//! is accepted):
//! - `bootstrap.servers` from `log.kafka.brokers`;
//! - `enable.idempotence=true`, `acks=all`: no loss and no duplicates from
//!   librdkafka's own retries, per-partition order kept across retries;
//! - `partitioner=murmur2_random`: the Java client's key → partition mapping
//!   (murmur2 of the key), so topics written by Debezium and by rowlog agree on
//!   where a key lives; null keys go to a random partition.
//!
//! Defaults that `log.kafka.options` may override (under either name):
//! - `linger.ms=10`: batch for up to 10 ms; a CDC stream is bursty and batches
//!   are what make it fast, 10 ms is small next to commit latency;
//! - `batch.size=1000000`: up to 1 MB per partition batch;
//! - `compression.type=lz4`: cheap on CPU, typically halves JSON rows;
//! - `message.timeout.ms=600000` (10 min): librdkafka keeps retrying a record
//!   (reconnecting, following leader moves, across broker restarts) for this
//!   long before the record fails; a failed record fails the writer and the
//!   source restarts from its last confirmed position. `0` means forever;
//! - `queue.buffering.max.messages` / `.kbytes`: twice the writer's own in-flight
//!   limits, so those limits (not librdkafka's queue) are what applies.
//!
//! Everything else in `log.kafka.options` is passed through as is.
//!
//! Sink consumers ([`consumer_config`]) get these defaults instead of the
//! producer's, again overridable in `log.kafka.options`:
//! - `session.timeout.ms=6000` (Kafka's minimum by default): a dead member's
//!   partitions move on within seconds, and a broker that holds the first
//!   JoinGroup for part of the session timeout (tansu holds it for half)
//!   lets a sink start sooner;
//! - `queued.max.messages.kbytes=2048`, `fetch.max.bytes=1048576`: a bounded
//!   prefetch (librdkafka's defaults are 64 MB per partition and 50 MB
//!   fetches, held whole and decompressed, in librdkafka's own malloc
//!   arenas; at 8 MB/2 MB they were ~50 MB of a sink's RSS);
//! - `fetch.queue.backoff.ms=10`: once that queue is full librdkafka stops
//!   fetching for this long (default 1 s); with a bounded queue the 1 s
//!   pause, not the broker, capped reading at ~80k records/s;
//! - `fetch.wait.max.ms=20`: how long a fetch may wait for data. Kafka
//!   answers a waiting fetch as soon as data arrives, so this only sets how
//!   often an idle consumer asks; tansu 0.6 answered in ~250 ms steps, which
//!   alone made the end-to-end p99 ~270 ms at 2,000 changes/s (25 ms with
//!   this setting; `scripts/bench e2e-latency`).

use rdkafka::ClientConfig;
use rowlog_config::model::log::{KafkaOptions, Log, is_sensitive_option};

use super::AppenderOptions;
use crate::log::error::LogError;

/// Options rowlog sets and a config may only repeat: names (first is
/// canonical, the rest are librdkafka aliases), value, accepted spellings.
const FORCED: &[(&[&str], &str, &[&str])] = &[
    (&["enable.idempotence"], "true", &["true"]),
    (&["acks", "request.required.acks"], "all", &["all", "-1"]),
    (&["partitioner"], "murmur2_random", &["murmur2_random"]),
];

/// Options rowlog sets unless the config does (under any of the names).
const DEFAULTS: &[(&[&str], &str)] = &[
    (&["linger.ms", "queue.buffering.max.ms"], "10"),
    (&["batch.size"], "1000000"),
    (&["compression.type", "compression.codec"], "lz4"),
    (&["message.timeout.ms", "delivery.timeout.ms"], "600000"),
    // Broker states for /readyz (log::brokers).
    (&["statistics.interval.ms"], "5000"),
];

/// Options a sink's consumer gets unless the config sets them.
const CONSUMER_DEFAULTS: &[(&[&str], &str)] = &[
    (&["session.timeout.ms"], "6000"),
    (&["queued.max.messages.kbytes"], "2048"),
    (&["fetch.max.bytes"], "1048576"),
    (&["fetch.queue.backoff.ms"], "10"),
    (&["fetch.wait.max.ms"], "20"),
];

/// A sink consumer's options: [`base_config`] with [`CONSUMER_DEFAULTS`].
/// Group, commit and offset settings are the worker's to set.
pub fn consumer_config(log: &Log) -> Result<ClientConfig, LogError> {
    let mut config = base_config(log)?;
    for (names, value) in CONSUMER_DEFAULTS {
        set_default(&mut config, &log.kafka.options, names, value);
    }
    Ok(config)
}

/// Options that must come from rowlog, never from `log.kafka.options`.
const REFUSED: &[&str] = &["bootstrap.servers", "transactional.id"];

/// `bootstrap.servers` plus the user's options: the base of every client.
pub(crate) fn base_config(log: &Log) -> Result<ClientConfig, LogError> {
    let options = &log.kafka.options;
    for name in REFUSED {
        if options.0.contains_key(*name) {
            return Err(LogError::Option {
                option: (*name).to_owned(),
                reason: "rowlog sets this itself; remove it (brokers go in log.kafka.brokers)"
                    .to_owned(),
            });
        }
    }
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", log.kafka.brokers.join(","));
    for (name, value) in &options.0 {
        config.set(name, value.expose());
    }
    Ok(config)
}

/// The producer's options: [`base_config`] with the forced options and defaults.
pub(crate) fn producer_config(
    log: &Log,
    options: &AppenderOptions,
) -> Result<ClientConfig, LogError> {
    let mut config = base_config(log)?;
    let user = &log.kafka.options;
    for (names, value, accepted) in FORCED {
        for name in *names {
            if let Some(v) = user.0.get(*name)
                && !accepted.contains(&v.expose().trim())
            {
                return Err(LogError::Option {
                    option: (*name).to_owned(),
                    reason: format!(
                        "rowlog requires {}={value} (found {:?}) for its delivery guarantees; \
                         remove the option",
                        names[0],
                        v.expose()
                    ),
                });
            }
        }
        config.set(names[0], *value);
    }
    for (names, value) in DEFAULTS {
        set_default(&mut config, user, names, value);
    }
    let messages = options
        .max_in_flight
        .saturating_mul(2)
        .clamp(100_000, 10_000_000);
    set_default(
        &mut config,
        user,
        &["queue.buffering.max.messages"],
        &messages.to_string(),
    );
    let kbytes = (options.max_in_flight_bytes / 1024)
        .saturating_mul(2)
        .clamp(1_048_576, 2_147_483_647);
    set_default(
        &mut config,
        user,
        &["queue.buffering.max.kbytes"],
        &kbytes.to_string(),
    );
    Ok(config)
}

fn set_default(config: &mut ClientConfig, user: &KafkaOptions, names: &[&str], value: &str) {
    if !names.iter().any(|n| user.0.contains_key(*n)) {
        config.set(names[0], value);
    }
}

/// A librdkafka refusal of an option, with secret values kept out of it.
pub(crate) fn option_error(key: &str, description: &str) -> LogError {
    let reason = if is_sensitive_option(key) {
        "librdkafka refuses the value (not shown: it is a secret)".to_owned()
    } else {
        description.to_owned()
    };
    LogError::Option {
        option: key.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rowlog_config::model::log::{Format, Kafka, KafkaValue};

    use super::*;

    fn log(options: &[(&str, &str)]) -> Log {
        Log {
            kafka: Kafka {
                brokers: vec!["k1:9092".to_owned(), "k2:9092".to_owned()],
                options: KafkaOptions(
                    options
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), KafkaValue::Plain((*v).to_owned())))
                        .collect::<BTreeMap<_, _>>(),
                ),
            },
            topic_prefix: "rowlog".to_owned(),
            partitions: 1,
            replication_factor: 1,
            format: Format::Json,
            schema_registry: None,
            tombstones: true,
            transaction_topic: false,
        }
    }

    fn get<'a>(c: &'a ClientConfig, key: &str) -> Option<&'a str> {
        c.get(key)
    }

    #[test]
    fn forced_options_and_defaults_are_set() {
        let c = producer_config(&log(&[]), &AppenderOptions::default()).unwrap();
        assert_eq!(get(&c, "bootstrap.servers"), Some("k1:9092,k2:9092"));
        assert_eq!(get(&c, "enable.idempotence"), Some("true"));
        assert_eq!(get(&c, "acks"), Some("all"));
        assert_eq!(get(&c, "partitioner"), Some("murmur2_random"));
        assert_eq!(get(&c, "linger.ms"), Some("10"));
        assert_eq!(get(&c, "batch.size"), Some("1000000"));
        assert_eq!(get(&c, "compression.type"), Some("lz4"));
        assert_eq!(get(&c, "message.timeout.ms"), Some("600000"));
        assert_eq!(get(&c, "queue.buffering.max.messages"), Some("200000"));
    }

    #[test]
    fn consumers_get_their_own_defaults_which_options_override() {
        let c = consumer_config(&log(&[])).unwrap();
        assert_eq!(get(&c, "session.timeout.ms"), Some("6000"));
        assert_eq!(get(&c, "fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(get(&c, "fetch.max.bytes"), Some("1048576"));
        assert_eq!(get(&c, "fetch.wait.max.ms"), Some("20"));
        assert_eq!(get(&c, "queued.max.messages.kbytes"), Some("2048"));
        assert_eq!(get(&c, "enable.idempotence"), None, "no producer options");
        let c = consumer_config(&log(&[("session.timeout.ms", "45000")])).unwrap();
        assert_eq!(get(&c, "session.timeout.ms"), Some("45000"));
    }

    #[test]
    fn user_options_pass_through_and_override_defaults_under_any_name() {
        let c = producer_config(
            &log(&[
                ("linger.ms", "50"),
                ("compression.codec", "zstd"),
                ("delivery.timeout.ms", "1000"),
                ("client.id", "me"),
            ]),
            &AppenderOptions::default(),
        )
        .unwrap();
        assert_eq!(get(&c, "linger.ms"), Some("50"));
        assert_eq!(get(&c, "compression.codec"), Some("zstd"));
        assert_eq!(get(&c, "compression.type"), None);
        assert_eq!(get(&c, "delivery.timeout.ms"), Some("1000"));
        assert_eq!(get(&c, "message.timeout.ms"), None);
        assert_eq!(get(&c, "client.id"), Some("me"));
    }

    #[test]
    fn forced_options_may_be_repeated_but_not_changed() {
        producer_config(
            &log(&[("acks", "-1"), ("partitioner", "murmur2_random")]),
            &AppenderOptions::default(),
        )
        .unwrap();
        for (k, v) in [
            ("acks", "1"),
            ("request.required.acks", "0"),
            ("partitioner", "consistent_random"),
            ("enable.idempotence", "false"),
        ] {
            let err = producer_config(&log(&[(k, v)]), &AppenderOptions::default()).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("log.kafka.options.{k}:")),
                "{text}"
            );
            assert!(text.contains("rowlog requires"), "{text}");
        }
    }

    #[test]
    fn bootstrap_servers_in_options_is_refused() {
        let err = base_config(&log(&[("bootstrap.servers", "x:1")])).unwrap_err();
        assert!(err.to_string().contains("log.kafka.brokers"), "{err}");
    }

    #[test]
    fn secret_values_stay_out_of_option_errors() {
        let e = option_error("sasl.password", "Invalid value \"hunter2\"");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = option_error("linger.ms", "Invalid value \"x\"");
        assert!(e.to_string().contains("Invalid value"), "{e}");
    }
}

//! Follows one key of a topic for `scripts/bench`: prints the newest value of
//! `--key` every time it changes, reading new records only every
//! `--interval-ms` (the partition is paused in between, so an idle broker is
//! not polled: tansu's fetches are costly enough to slow what is measured).
//!
//! Usage:
//!
//! ```text
//! kafka-last-record --brokers HOST:PORT --topic TOPIC --key KEY
//!     [--partition 0] [--interval-ms 500]
//! ```
//!
//! Reads partition `--partition` from its beginning and keeps following it
//! until killed. Stdout gets the value (lossy UTF-8, tombstones as an empty
//! line) of the last record with key `--key` read in a round, one line per
//! round in which it changed. Meant for state topics (rowlog's
//! `<prefix>.<source>.state`, key `offset`).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

#[derive(Debug)]
struct Args {
    brokers: String,
    topic: String,
    key: String,
    partition: i32,
    interval: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        brokers: String::new(),
        topic: String::new(),
        key: String::new(),
        partition: 0,
        interval: Duration::from_millis(500),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => args.brokers = value()?,
            "--topic" => args.topic = value()?,
            "--key" => args.key = value()?,
            "--partition" => args.partition = value()?.parse().context("--partition")?,
            "--interval-ms" => {
                args.interval = Duration::from_millis(value()?.parse().context("--interval-ms")?);
            }
            "-h" | "--help" => {
                eprintln!(
                    "usage: kafka-last-record --brokers HOST:PORT --topic TOPIC --key KEY \
                     [--partition N] [--interval-ms MS]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    for (name, v) in [
        ("--brokers", &args.brokers),
        ("--topic", &args.topic),
        ("--key", &args.key),
    ] {
        if v.is_empty() {
            bail!("{name} is required (try --help)");
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    use std::io::Write;

    let args = parse_args()?;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", "kafka-last-record")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("creating the consumer")?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&args.topic, args.partition, Offset::Beginning)?;
    consumer.assign(&tpl).context("assigning the partition")?;
    let key = args.key.as_bytes();
    let mut printed: Option<Vec<u8>> = None;
    let mut out = std::io::stdout().lock();
    loop {
        // One round: read what has arrived (bounded, so a busy topic cannot
        // keep us from reporting), then pause until the next round.
        let mut newest: Option<Vec<u8>> = None;
        let round_end = Instant::now() + Duration::from_millis(200);
        while let Some(msg) = consumer.poll(round_end.saturating_duration_since(Instant::now())) {
            match msg {
                Ok(m) if m.key() == Some(key) => {
                    newest = Some(m.payload().unwrap_or_default().to_vec());
                }
                Ok(_) => {}
                // The topic may not exist yet; keep trying.
                Err(e) => eprintln!("kafka-last-record: {e}"),
            }
            if Instant::now() >= round_end {
                break;
            }
        }
        if let Some(v) = newest
            && printed.as_ref() != Some(&v)
        {
            writeln!(out, "{}", String::from_utf8_lossy(&v)).context("writing stdout")?;
            out.flush().context("writing stdout")?;
            printed = Some(v);
        }
        consumer.pause(&consumer.assignment()?).context("pausing")?;
        std::thread::sleep(args.interval);
        consumer
            .resume(&consumer.assignment()?)
            .context("resuming")?;
    }
}

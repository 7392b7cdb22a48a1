//! `rowlog-quickstart`: what `scripts/quickstart` runs. It shows the whole
//! pipeline on private servers and tells the user what happens at each step:
//!
//! 1. starts a PostgreSQL with `wal_level=logical` (the source), a second
//!    PostgreSQL (the follower) and a tansu Kafka-protocol broker, each on a
//!    free port in its own temp dir;
//! 2. creates a demo table `public.orders` with three rows;
//! 3. runs `rowlog run -c config/examples/quickstart.yaml`, pointing the
//!    config's variables (`APP_URL`, `REPLICA_URL`, `KAFKA_BROKER`,
//!    `ROWLOG_HTTP`) at those servers;
//! 4. inserts, updates and deletes rows, prints the records as they arrive
//!    in the topic `rowlog.app.public.orders`, waits for the last write with
//!    `/wait`, and prints the follower's table next to the source's;
//! 5. prints where `/metrics`, `/status` and `/wait` answer, and keeps
//!    everything running until Ctrl-C (or, with `--non-interactive`, stops
//!    at once). Stopping sends SIGTERM to rowlog and removes every server
//!    and temp dir; the servers also die with this process if it is killed.
//!
//! Exit 0 once "changes arrived" (the follower equals the source) was
//! printed and everything stopped cleanly; 1 with the reason otherwise.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rowlog_tests::ports::free_port;
use rowlog_tests::{KafkaServer, PostgresServer};

const TOPIC: &str = "rowlog.app.public.orders";
const READY_TIMEOUT: Duration = Duration::from_secs(120);

struct Args {
    interactive: bool,
    rowlog: PathBuf,
    config: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut interactive = true;
    let mut rowlog = None;
    let mut config = PathBuf::from("config/examples/quickstart.yaml");
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--non-interactive" => interactive = false,
            "--rowlog" => rowlog = it.next().map(PathBuf::from),
            "--config" => {
                config = it
                    .next()
                    .map(PathBuf::from)
                    .context("--config needs a file")?
            }
            "-h" | "--help" => {
                println!(
                    "usage: rowlog-quickstart [--non-interactive] [--rowlog BIN] [--config FILE]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    // By default the `rowlog` binary built next to this one.
    let rowlog = match rowlog {
        Some(p) => p,
        None => std::env::current_exe()
            .context("locating this binary")?
            .with_file_name("rowlog"),
    };
    if !rowlog.is_file() {
        bail!(
            "{} not found: build it with `cargo build -p rowlog` (scripts/quickstart does)",
            rowlog.display()
        );
    }
    if !config.is_file() {
        bail!(
            "{} not found: run from the repository root",
            config.display()
        );
    }
    Ok(Args {
        interactive,
        rowlog,
        config,
    })
}

fn step(text: &str) {
    println!("\n==> {text}");
}

/// The rowlog child: SIGTERM and a wait on drop, so an early error stops it.
struct Rowlog {
    child: Child,
    log: PathBuf,
}

impl Rowlog {
    fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id())?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "rowlog did not stop within 40 s of SIGTERM (log: {})",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rowlog {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.terminate();
        }
    }
}

fn log_tail(path: &PathBuf) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, String)> {
    let r = http.get(url).send().await?;
    let code = r.status().as_u16();
    Ok((code, r.text().await?))
}

/// `id | customer | amount | status` of `public.orders`, by id.
async fn orders(c: &tokio_postgres::Client) -> anyhow::Result<Vec<[String; 4]>> {
    let rows = c
        .query(
            "SELECT id::text, customer, amount::text, status FROM public.orders ORDER BY id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| [r.get(0), r.get(1), r.get(2), r.get(3)])
        .collect())
}

fn print_table(title: &str, rows: &[[String; 4]]) {
    println!("  {title}:");
    println!("     id  customer    amount  status");
    for r in rows {
        println!("    {:>3}  {:<8}  {:>8}  {}", r[0], r[1], r[2], r[3]);
    }
}

/// One record of the topic in a line: partition/offset, op, key, row after.
fn describe(msg: &rdkafka::message::BorrowedMessage<'_>) -> (String, Option<String>) {
    let key = msg
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default();
    let Some(value) = msg.payload() else {
        return (
            format!(
                "  {}/{:<3} tombstone  key={key}",
                msg.partition(),
                msg.offset()
            ),
            None,
        );
    };
    let doc: serde_json::Value = serde_json::from_slice(value).unwrap_or_default();
    let payload = if doc.get("payload").is_some() {
        &doc["payload"]
    } else {
        &doc
    };
    let op = payload["op"].as_str().unwrap_or("?").to_string();
    let row = if op == "d" {
        format!("before={}", payload["before"])
    } else {
        format!("after={}", payload["after"])
    };
    (
        format!(
            "  {}/{:<3} op={op}  key={key}  {row}",
            msg.partition(),
            msg.offset()
        ),
        Some(op),
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(clippy::too_many_lines)] // one linear story, step by step
async fn run() -> anyhow::Result<()> {
    let args = args()?;
    step(
        "starting a PostgreSQL source (wal_level=logical), a PostgreSQL follower and a tansu broker",
    );
    let source = PostgresServer::start().await?;
    let follower = PostgresServer::start().await?;
    let kafka = KafkaServer::start().await?;
    source.create_database("app").await?;
    let replica_url = follower.create_database("replica").await?;
    println!("  source:   {}", source.url("app"));
    println!("  follower: {replica_url}");
    println!("  broker:   {}", kafka.bootstrap_servers());

    step("creating public.orders in the source with three rows");
    let app = source.connect("app").await?;
    app.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), status text NOT NULL DEFAULT 'new');
         INSERT INTO orders VALUES (1, 'ada', 12.50, 'new'), (2, 'grace', 99.00, 'paid'), (3, 'linus', 5.25, 'new');",
    )
    .await?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::Builder::new()
        .prefix("rowlog-quickstart")
        .tempdir()?;
    let log = dir.path().join("rowlog.log");
    step(&format!(
        "running rowlog run -c {} (log: {})",
        args.config.display(),
        log.display()
    ));
    let mut cmd = Command::new(&args.rowlog);
    cmd.args(["run", "-c"])
        .arg(&args.config)
        .env("APP_URL", source.url("app"))
        .env("REPLICA_URL", &replica_url)
        .env("KAFKA_BROKER", kafka.bootstrap_servers())
        .env("ROWLOG_HTTP", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    let mut rowlog = Rowlog {
        child: rowlog_tests::process::spawn_tied_to_process(cmd)?,
        log: log.clone(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(70))
        .build()?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok((200, _)) = get(&http, &format!("{base}/readyz")).await {
            break;
        }
        if let Some(status) = rowlog.child.try_wait()? {
            bail!("rowlog exited with {status}:\n{}", log_tail(&log));
        }
        if Instant::now() > deadline {
            bail!(
                "rowlog not ready after {READY_TIMEOUT:?}:\n{}",
                log_tail(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  ready: {base}/readyz answers 200");

    step("changing the source: two inserts, an update, a delete");
    for sql in [
        "INSERT INTO orders VALUES (4, 'barbara', 42.00, 'new')",
        "INSERT INTO orders VALUES (5, 'ken', 7.10, 'new')",
        "UPDATE orders SET status = 'paid' WHERE id = 1",
        "DELETE FROM orders WHERE id = 3",
    ] {
        println!("  {sql};");
        app.batch_execute(sql).await?;
    }
    let lsn: String = app
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await?
        .get(0);

    step(&format!(
        "the changes arriving in the Kafka topic {TOPIC} (partition/offset)"
    ));
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", "rowlog-quickstart")
        .set("enable.auto.commit", "false")
        .create()?;
    let partitions = {
        let md = consumer.fetch_metadata(Some(TOPIC), Duration::from_secs(10))?;
        md.topics().first().map_or(0, |t| t.partitions().len())
    };
    if partitions == 0 {
        bail!("topic {TOPIC} does not exist:\n{}", log_tail(&log));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(TOPIC, i32::try_from(p)?, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    // Three snapshot reads, two creates, an update, a delete.
    let want = [("r", 3), ("c", 2), ("u", 1), ("d", 1)];
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while want
        .iter()
        .any(|(op, n)| seen.get(*op).copied().unwrap_or(0) < *n)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, consumer.recv())
            .await
            .map_err(|_| {
                anyhow!(
                    "only {seen:?} of {want:?} arrived in {TOPIC} within 60 s:\n{}",
                    log_tail(&log)
                )
            })??;
        let (line, op) = describe(&msg);
        println!("{line}");
        if let Some(op) = op {
            *seen.entry(op).or_default() += 1;
        }
    }

    step(&format!(
        "waiting until the follower has the last write ({lsn}) with /wait"
    ));
    let wait_url = format!("{base}/wait?sink=replica&position={lsn}&timeout_ms=60000");
    let (code, body) = get(&http, &wait_url).await?;
    println!("  GET {wait_url}\n  {code} {}", body.trim());
    if code != 200 {
        bail!("/wait answered {code}: {body}\n{}", log_tail(&log));
    }
    let replica = follower.connect("replica").await?;
    let want_rows = orders(&app).await?;
    let got_rows = orders(&replica).await?;
    print_table("source app.public.orders", &want_rows);
    print_table("follower replica.public.orders", &got_rows);
    if want_rows != got_rows {
        bail!(
            "the follower differs from the source right after /wait:\n{}",
            log_tail(&log)
        );
    }
    println!(
        "\nchanges arrived: the follower equals the source ({} rows)",
        got_rows.len()
    );

    step("where to look");
    println!("  {base}/metrics   Prometheus metrics (rows applied, lag, latency)");
    println!("  {base}/status    every component's state (or: rowlog status --url {base})");
    println!("  {base}/readyz    200 when everything runs");
    println!(
        "  {base}/wait?sink=replica&position=<pg_current_wal_insert_lsn()>   read-your-writes"
    );
    println!("  source:   psql '{}'", source.url("app"));
    println!("  follower: psql '{replica_url}'");
    println!("  rowlog's log: {}", log.display());

    if args.interactive {
        println!(
            "\nEverything keeps running: change public.orders in the source and watch the follower. Ctrl-C stops it all."
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    step("stopping rowlog and the servers");
    let status = rowlog.terminate()?;
    if !status.success() {
        bail!(
            "rowlog exited with {status} after SIGTERM:\n{}",
            log_tail(&log)
        );
    }
    drop(consumer);
    drop((app, replica));
    drop((source, follower, kafka));
    println!("  stopped; every temp dir is removed");
    Ok(())
}

//! `rowlog run -c FILE [--only NAME,...]`: the sidecar. It runs the
//! configured sources (PostgreSQL and MySQL/MariaDB) into the row log and the
//! SQL follower sinks (PostgreSQL, MySQL/MariaDB) from it; Redis and search
//! sinks are refused with a clear message until they exist.
//!
//! Invariants: SIGINT/SIGTERM stop reading, flush the log, confirm the
//! durable position to the source, and exit 0; a permanent error exits 1
//! with the error on stderr; transient errors are retried inside the source
//! with backoff. Nothing is kept on local disk. The HTTP endpoints
//! ([`rowlog::http`]) are bound before any component starts (a bind error
//! stops the run) and answer until every component has ended.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use rowlog_config::{Config, Sink as SinkConfig, SinkKind, Source, SourceKind};
use rowlog_connectors::mysql::offset::MysqlOffset;
use rowlog_connectors::mysql::source::{MysqlSource, RunEnd as MysqlRunEnd};
use rowlog_connectors::postgres::source::{PgSource, RunEnd};
use rowlog_schemas::position::Lsn;
use rowlog_sinks::mysql::MysqlSink;
use rowlog_sinks::postgres::PgSink;
use tokio::sync::watch;
use tracing::Instrument as _;

use rowlog::log::kafka::{AppenderOptions, KafkaAppender};
use rowlog::runtime::emitter::LogEmitter;
use rowlog::runtime::sink_worker::SinkWorker;
use rowlog::status::{Registry, State};
use rowlog::wait::{Flavor, SourceAt};

/// Arguments of `rowlog run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,

    /// Run only these sources and sinks (comma-separated names).
    #[arg(long, value_name = "NAME,...")]
    pub only: Option<String>,

    /// On SIGTERM/SIGINT, how long to wait for components to flush and
    /// commit before exiting with an error (a second signal exits at once).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: std::time::Duration,

    /// When a component stops on a permanent error, stop the others too
    /// (gracefully) and exit 1, so that a supervisor (systemd, Kubernetes)
    /// restarts the process. Without it the others keep running and
    /// /readyz reports the failed component.
    #[arg(long)]
    pub exit_on_failure: bool,

    /// Log lines as human text or one JSON object per line.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// `30s`, `500ms`, `2m`: the config's duration syntax.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<rowlog_config::Duration>()
        .map(|d| d.get())
        .map_err(|e| e.to_string())
}

/// Runs the command; returns the exit code.
pub fn run(args: &RunArgs) -> ExitCode {
    init_logging(args.log_format);
    let config = match rowlog_config::load(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rowlog: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_sources(
        config,
        args.only.as_deref(),
        args.shutdown_timeout,
        args.exit_on_failure,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rowlog: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROWLOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn run_sources(
    config: Config,
    only: Option<&str>,
    shutdown_timeout: std::time::Duration,
    exit_on_failure: bool,
) -> Result<(), String> {
    let (selected, sinks) = select(&config, only)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let signalled = stop_tx.clone();
    tokio::spawn(async move {
        let stop_tx = signalled;
        wait_for_signal().await;
        tracing::info!(timeout = ?shutdown_timeout, "stopping: flushing the log and confirming positions");
        let _ = stop_tx.send(true);
        // Every commit point is durable (offsets with the rows, positions
        // after the broker's acknowledgement), so leaving early is safe: the
        // next start resumes from them.
        tokio::select! {
            _ = wait_for_signal() => {
                tracing::warn!("a second signal: exiting now; the next start resumes from the last commit points");
            }
            _ = tokio::time::sleep(shutdown_timeout) => {
                tracing::error!(timeout = ?shutdown_timeout, "components did not stop within --shutdown-timeout; exiting; the next start resumes from the last commit points");
            }
        }
        std::process::exit(1);
    });
    for source in &selected {
        let rules = match &source.kind {
            SourceKind::Postgres(pg) => &pg.columns,
            SourceKind::Mysql(my) => &my.columns,
        };
        if !rules.exclude.is_empty() || !rules.mask.is_empty() {
            return Err(format!(
                "source `{}`: `columns.exclude` / `columns.mask` are not implemented yet, and rowlog will not silently write columns you asked it to drop or mask; remove them (or exclude the tables) for now",
                source.name
            ));
        }
    }
    let writer = Arc::new(
        KafkaAppender::new(&config.log, AppenderOptions::default())
            .map_err(|e| format!("log.kafka: {e}"))?,
    );
    // Components are known (and /readyz says "starting") before any starts.
    let registry = Registry::new();
    for source in &selected {
        registry.register(&source.name, "source");
    }
    for sink in &sinks {
        registry.register(&sink.name, "sink");
    }
    let waits = rowlog::wait::Waits::default();
    let listener = rowlog::http::bind(&config.http.listen).await?;
    let (http_stop, http_stop_rx) = watch::channel(false);
    let http = tokio::spawn(rowlog::http::serve(
        listener,
        registry.clone(),
        waits.clone(),
        http_stop_rx,
    ));
    // A source whose broker is unreachable is retrying (librdkafka retries
    // by itself; nothing fails until the message timeout).
    let source_names: Vec<String> = selected.iter().map(|s| s.name.clone()).collect();
    let brokers_task = {
        let writer = writer.clone();
        let registry = registry.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut was_down = vec![false; source_names.len()];
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let down = rowlog::log::LogWriter::brokers_down(writer.as_ref());
                for (name, was) in source_names.iter().zip(was_down.iter_mut()) {
                    rowlog::runtime::lag::report_brokers(&registry, name, down, was);
                }
            }
        })
    };
    let mut tasks = Vec::new();
    for source in selected {
        let name = source.name.clone();
        let mut stop = stop_rx.clone();
        match source.kind {
            SourceKind::Postgres(pg) => {
                let mut emitter: LogEmitter<KafkaAppender, Lsn> = source_emitter(
                    &waits,
                    &registry,
                    &writer,
                    &config.log,
                    &name,
                    Flavor::Postgres,
                    SourceAt::from_lsn,
                )?;
                let status = registry.clone();
                let span = tracing::info_span!("source", component = %name);
                tasks.push(tokio::spawn(
                    async move {
                        let src = PgSource::new(name.clone(), pg);
                        let gauges = tokio::spawn(publish_progress(
                            name.clone(),
                            src.progress(),
                            status.clone(),
                            pg_figures,
                        ));
                        let end = src.run(&mut emitter, &mut stop).await;
                        gauges.abort();
                        let end = end
                            .map(|_: RunEnd| ())
                            .map_err(|e| format!("source `{name}` stopped: {e}"));
                        (name, end)
                    }
                    .instrument(span),
                ));
            }
            SourceKind::Mysql(my) => {
                let mut emitter: LogEmitter<KafkaAppender, MysqlOffset> = source_emitter(
                    &waits,
                    &registry,
                    &writer,
                    &config.log,
                    &name,
                    Flavor::Mysql,
                    SourceAt::from_mysql,
                )?;
                let status = registry.clone();
                let span = tracing::info_span!("source", component = %name);
                tasks.push(tokio::spawn(
                    async move {
                        let src = MysqlSource::new(name.clone(), my);
                        let gauges = tokio::spawn(publish_progress(
                            name.clone(),
                            src.progress(),
                            status.clone(),
                            mysql_figures,
                        ));
                        let end = src.run(&mut emitter, &mut stop).await;
                        gauges.abort();
                        let end = end
                            .map(|_: MysqlRunEnd| ())
                            .map_err(|e| format!("source `{name}` stopped: {e}"));
                        (name, end)
                    }
                    .instrument(span),
                ));
            }
        }
    }
    for sink in sinks {
        let name = sink.name.clone();
        let stop = stop_rx.clone();
        let log = config.log.clone();
        let applied = waits.add_sink(&name, &sink.source, &log.topic_prefix);
        match sink.kind.clone() {
            SinkKind::Postgres(sql) => {
                let worker = SinkWorker::new(sink, log, PgSink::new(&name, &sql))
                    .with_status(registry.clone())
                    .with_applied(applied);
                let span = tracing::info_span!("sink", component = %name);
                tasks.push(tokio::spawn(
                    async move { (name, worker.run(stop).await) }.instrument(span),
                ));
            }
            SinkKind::Mysql(sql) => {
                let worker = SinkWorker::new(sink, log, MysqlSink::new(&name, &sql))
                    .with_status(registry.clone())
                    .with_applied(applied);
                let span = tracing::info_span!("sink", component = %name);
                tasks.push(tokio::spawn(
                    async move { (name, worker.run(stop).await) }.instrument(span),
                ));
            }
            SinkKind::Redis(_) | SinkKind::Search(_) => {
                return Err(format!(
                    "sink `{name}`: Redis and search sinks are not implemented yet; leave them out (or run the others with --only)"
                ));
            }
        }
    }
    // Components end in any order; with --exit-on-failure the first
    // permanent error stops the others (they flush and commit as on SIGTERM).
    let mut tasks: futures_util::stream::FuturesUnordered<_> = tasks.into_iter().collect();
    let mut failed = Vec::new();
    while let Some(t) = futures_util::StreamExt::next(&mut tasks).await {
        match t {
            Ok((name, Ok(()))) => registry.set(&name, State::Stopped),
            Ok((name, Err(e))) => {
                registry.set(&name, State::Failed { error: e.clone() });
                if exit_on_failure && !*stop_tx.borrow() {
                    tracing::error!(component = %name, "{e}; stopping the other components (--exit-on-failure)");
                    let _ = stop_tx.send(true);
                } else {
                    tracing::error!(component = %name, "{e}; the other components keep running (/readyz reports this one as failed)");
                }
                failed.push(e);
            }
            Err(e) => failed.push(format!("a task failed: {e}")),
        }
    }
    brokers_task.abort();
    let _ = http_stop.send(true);
    match http.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failed.push(e),
        Err(e) => failed.push(format!("the http task failed: {e}")),
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

/// Source `name`'s emitter: it reports to `registry`, and its checkpoints
/// go to a task tracking its durable progress for `/wait` (registered in
/// `waits`).
fn source_emitter<M: Clone + Send + Sync + 'static>(
    waits: &rowlog::wait::Waits,
    registry: &Registry,
    writer: &Arc<KafkaAppender>,
    log: &rowlog_config::LogConfig,
    name: &str,
    flavor: Flavor,
    to_at: rowlog::runtime::emitter::ToSourceAt<M>,
) -> Result<LogEmitter<KafkaAppender, M>, String> {
    let emitter =
        LogEmitter::new(writer.clone(), log, name).map_err(|e| format!("source `{name}`: {e}"))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = waits.add_source(name, flavor);
    tokio::spawn(rowlog::wait::track_source(
        writer.clone(),
        log.topic_prefix.clone(),
        name.to_string(),
        rx,
        progress,
        Some(registry.clone()),
    ));
    Ok(emitter
        .with_status(registry.clone())
        .with_progress(tx, to_at))
}

/// What a source's progress says, for [`publish_progress`].
struct Figures<'a> {
    streaming: bool,
    snapshot: &'a [(rowlog_schemas::TableId, u64, i64)],
    lag_bytes: Option<i64>,
    lag_seconds: Option<f64>,
    confirmed: Option<i64>,
}

fn pg_figures(p: &rowlog_connectors::postgres::source::Progress, now_us: i64) -> Figures<'_> {
    Figures {
        streaming: p.streaming,
        snapshot: &p.snapshot,
        lag_bytes: p.retained_wal_bytes,
        lag_seconds: p.lag_seconds(now_us),
        confirmed: p
            .confirmed
            .map(|lsn| i64::try_from(lsn.0).unwrap_or(i64::MAX)),
    }
}

fn mysql_figures(p: &rowlog_connectors::mysql::source::Progress, now_us: i64) -> Figures<'_> {
    Figures {
        streaming: p.streaming,
        snapshot: &p.snapshot,
        lag_bytes: p.behind_bytes,
        lag_seconds: p.lag_seconds(now_us),
        confirmed: None,
    }
}

/// Publishes a source's progress as gauges and in `/status`, once a second
/// (`lag_seconds` may grow with the clock, not only with new progress).
async fn publish_progress<P: Clone + Send + Sync + 'static>(
    name: String,
    progress: watch::Receiver<P>,
    status: Registry,
    figures: for<'a> fn(&'a P, i64) -> Figures<'a>,
) {
    let m = &rowlog::metrics::global().source;
    let labels = rowlog::metrics::SourceLabels {
        source: name.clone(),
    };
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let p = progress.borrow().clone();
        let now_us = rowlog_connectors::emit::now_ms().saturating_mul(1000);
        let f = figures(&p, now_us);
        publish_phase(&status, &name, f.streaming, f.snapshot);
        if let Some(bytes) = f.lag_bytes {
            m.lag_bytes.get_or_create(&labels).set(bytes);
        }
        if let Some(secs) = f.lag_seconds {
            m.lag_seconds.get_or_create(&labels).set(secs);
        }
        if let Some(position) = f.confirmed {
            m.confirmed_position.get_or_create(&labels).set(position);
        }
    }
}

/// A source's phase and snapshot progress for `/status` (nothing until it
/// snapshots or streams).
fn publish_phase(
    status: &Registry,
    name: &str,
    streaming: bool,
    snapshot: &[(rowlog_schemas::TableId, u64, i64)],
) {
    if !streaming && snapshot.is_empty() {
        return;
    }
    let tables = snapshot
        .iter()
        .map(|(t, rows, estimate)| rowlog::status::SnapshotTable {
            table: t.to_string(),
            rows: *rows,
            estimate: *estimate,
        })
        .collect();
    status.set_phase(
        name,
        if streaming { "streaming" } else { "snapshot" },
        tables,
    );
}

/// The sources and sinks to run: all, or those `--only` names (a
/// comma-separated list of source and sink names).
fn select(config: &Config, only: Option<&str>) -> Result<(Vec<Source>, Vec<SinkConfig>), String> {
    let Some(only) = only else {
        return Ok((config.sources.clone(), config.sinks.clone()));
    };
    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    for name in only.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if let Some(s) = config.sources.iter().find(|s| s.name == name) {
            sources.push(s.clone());
        } else if let Some(s) = config.sinks.iter().find(|s| s.name == name) {
            sinks.push(s.clone());
        } else {
            let names: Vec<&str> = config
                .sources
                .iter()
                .map(|s| s.name.as_str())
                .chain(config.sinks.iter().map(|s| s.name.as_str()))
                .collect();
            return Err(format!(
                "--only {name}: no such source or sink (names: {})",
                names.join(", ")
            ));
        }
    }
    Ok((sources, sinks))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

//! `rowlog source ...`: operations on a source database.
//!
//! `rowlog source drop-slot SLOT -c FILE` drops a PostgreSQL replication
//! slot of a configured source. rowlog never drops a slot by itself: a
//! dropped slot loses the changes it held, so this is an explicit command,
//! and it refuses a slot that a walsender is using.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rowlog_config::SourceKind;

/// Arguments of `rowlog source`.
#[derive(Debug, Args)]
pub struct SourceArgs {
    #[command(subcommand)]
    pub command: SourceCommand,
}

/// `rowlog source` subcommands.
#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Drop a PostgreSQL replication slot (its retained changes are lost).
    DropSlot {
        /// Slot name.
        slot: String,
        /// Config file naming the source.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: PathBuf,
        /// The source whose database holds the slot (default: the one whose
        /// `slot:` is SLOT).
        #[arg(long, value_name = "SOURCE")]
        source: Option<String>,
    },
}

/// Runs the command; returns the exit code.
pub fn run(args: &SourceArgs) -> ExitCode {
    match &args.command {
        SourceCommand::DropSlot {
            slot,
            config,
            source,
        } => match drop_slot(slot, config, source.as_deref()) {
            Ok(()) => {
                eprintln!("dropped replication slot `{slot}`");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rowlog source drop-slot: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn drop_slot(slot: &str, config: &std::path::Path, source: Option<&str>) -> Result<(), String> {
    let cfg = rowlog_config::load(config).map_err(|e| e.to_string())?;
    let pg = cfg
        .sources
        .iter()
        .filter_map(|s| match &s.kind {
            SourceKind::Postgres(p) => Some((s.name.as_str(), p)),
            SourceKind::Mysql(_) => None,
        })
        .find(|(name, p)| match source {
            Some(wanted) => *name == wanted,
            None => p.slot_name() == slot,
        })
        .map(|(_, p)| p.clone())
        .ok_or_else(|| match source {
            Some(s) => format!("no PostgreSQL source named `{s}` in {}", config.display()),
            None => format!(
                "no PostgreSQL source in {} uses slot `{slot}`; name the source with --source",
                config.display()
            ),
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let mut pc: tokio_postgres::Config = pg.url.expose().as_str().parse().map_err(|e| format!("source url: {e}"))?;
        if let Some(p) = pg.password() {
            pc.password(p.expose());
        }
        let (client, conn) = pc
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting to {}: {e}", pg.url.redacted()))?;
        tokio::spawn(conn);
        let row = client
            .query_opt("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .map_err(|e| e.to_string())?;
        match row {
            None => Err(format!("there is no replication slot `{slot}` on {}", pg.url.redacted())),
            Some(r) if r.get::<_, bool>(0) => Err(format!(
                "slot `{slot}` is in use by a running walsender; stop the rowlog process using it first"
            )),
            Some(_) => client
                .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
                .await
                .map(|_| ())
                .map_err(|e| format!("dropping slot `{slot}`: {e}")),
        }
    })
}

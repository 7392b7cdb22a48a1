//! Command-line interface: the argument types and dispatch to subcommands.
//!
//! Invariant: subcommands write their results to stdout and diagnostics to stderr,
//! and report failure only through the returned exit code (never by panicking).

pub mod check;
pub mod client;
pub mod run;
pub mod source;
pub mod status;
pub mod wait;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// rowlog: change-data-capture from PostgreSQL and MySQL/MariaDB through Kafka.
#[derive(Debug, Parser)]
#[command(name = "rowlog", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config files offline (syntax, types, references, env variables).
    Check(check::CheckArgs),
    /// Run the configured sources and sinks (or `--only` some), serving
    /// /healthz, /readyz, /metrics, /status and /wait on `http.listen`.
    Run(run::RunArgs),
    /// Operations on a source database (e.g. `drop-slot`).
    Source(source::SourceArgs),
    /// Print a running `rowlog run`'s components and their states.
    Status(status::StatusArgs),
    /// Wait until a sink of a running `rowlog run` has applied every change
    /// up to a source position (read-your-writes in scripts).
    Wait(wait::WaitArgs),
}

/// Run the parsed command.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check::run(&args, &rowlog_config::ProcessEnv),
        Command::Run(args) => run::run(&args),
        Command::Source(args) => source::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Wait(args) => wait::run(&args),
    }
}

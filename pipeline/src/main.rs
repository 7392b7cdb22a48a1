//! `rowlog`: change-data-capture from PostgreSQL and MySQL/MariaDB through Kafka
//! into followers, caches and search indexes.
//!
//! The binary is a thin shell: argument parsing here, each subcommand in its own
//! module under [`cli`]. Exit codes: 0 success, 1 a command found a problem (e.g. an
//! invalid config), 2 bad usage (from clap).

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: fewer CPU cycles in the many small
/// allocations of decoding and applying records, and freed memory returns to
/// the system instead of staying in per-thread arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::run(args)
}

//! `rowlog check`: offline validation of config files.
//!
//! Invariants: no network access (only the config files and their `password_file`s
//! are read); every file is checked even when an earlier one fails; errors go to
//! stderr one per line as `FILE:LINE:COL: key.path: message (hint: ...)`; with
//! `--print`, stdout carries only the effective configs, secrets shown as `***`;
//! the exit code is 0 when every file is valid and 1 otherwise.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rowlog_config::Env;

/// Arguments of `rowlog check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config file to check (repeat for several files).
    #[arg(short = 'c', long = "config", value_name = "FILE", required = true)]
    pub config: Vec<PathBuf>,

    /// Print the effective config (variables interpolated, defaults filled in,
    /// secrets redacted) to stdout.
    #[arg(long)]
    pub print: bool,
}

/// Check every file; return the process exit code.
pub fn run(args: &CheckArgs, env: &dyn Env) -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let ok = check_files(args, env, &mut stdout.lock(), &mut stderr.lock());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The testable core: write results to `out`, diagnostics to `err`; true when all
/// files are valid.
pub fn check_files(
    args: &CheckArgs,
    env: &dyn Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> bool {
    let mut all_ok = true;
    let many = args.config.len() > 1;
    for (i, path) in args.config.iter().enumerate() {
        match rowlog_config::load_with_env(path, env) {
            Ok(config) => {
                let _ = writeln!(
                    err,
                    "{}: ok ({}, {})",
                    path.display(),
                    count(config.sources.len(), "source"),
                    count(config.sinks.len(), "sink")
                );
                if args.print {
                    if many {
                        if i > 0 {
                            let _ = writeln!(out, "---");
                        }
                        let _ = writeln!(out, "# {}", path.display());
                    }
                    let yaml = config.redacted_yaml();
                    let _ = write!(out, "{yaml}");
                    if !yaml.ends_with('\n') {
                        let _ = writeln!(out);
                    }
                }
            }
            Err(errors) => {
                all_ok = false;
                let _ = writeln!(err, "{errors}");
                let _ = writeln!(err, "{}: {}", path.display(), count(errors.len(), "error"));
            }
        }
    }
    all_ok
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

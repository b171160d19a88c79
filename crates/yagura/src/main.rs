//! `yagura`: the command-line entry point. Each subcommand lives in `cmd/<name>.rs` with its
//! clap `Args` and a `run` function; `main` only parses, sets up logging and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod cmd;
mod progress;

/// mimalloc instead of the system allocator: the API server's list requests spent ~10 % of
/// their CPU in glibc malloc/free and ~1.5 % with mimalloc (BENCHMARKS.md, "Server and
/// console", session 7; the alert list bench runs on the same allocator). Its effect on
/// `yagura detect` is in "Batch detection end to end", session 7.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// yagura (櫓, "watchtower"): monitoring of illicit communications across many organizations.
#[derive(Debug, Parser)]
#[command(name = "yagura", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Where yagura keeps its state (state database, indicators, event store).
    #[arg(
        long,
        global = true,
        env = "YAGURA_DATA_DIR",
        default_value = "yagura-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: cmd::Command,
}

/// Options every subcommand may use.
#[derive(Debug, Clone)]
pub struct Globals {
    pub data_dir: PathBuf,
    pub quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let globals = Globals {
        data_dir: cli.data_dir,
        quiet: cli.quiet,
    };
    match cmd::run(cli.command, &globals) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: "loading x: reading y: …".
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

//! `yagura analytics defaults | check FILE | run --inventory FILE [--config FILE] PATH…`
//!
//! The behavioural analytics and network policy on their own: print or validate their
//! configuration, or run them over normalized events (ECS JSON lines, as `yagura parse`
//! writes them) and write the alerts as contract JSON lines.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory};

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Print the default configuration (every setting, as TOML).
    Defaults,
    /// Validate a configuration file: exit 0 when valid, 2 with the reason when not.
    Check(CheckArgs),
    /// Run the analytics over ECS JSON lines (`-` for stdin); alerts as JSON lines.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (TOML).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The inventory (organizations, networks, egress gateways, isolated networks).
    #[arg(long)]
    pub inventory: PathBuf,
    /// Analytics configuration (TOML); the defaults when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the alerts (stdout by default).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// ECS JSON lines files, in event-time order (`-` for stdin).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(cmd: AnalyticsCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        AnalyticsCommand::Defaults => {
            print!("{}", toml::to_string(&AnalyticsConfig::default())?);
            Ok(ExitCode::SUCCESS)
        }
        AnalyticsCommand::Check(args) => check(&args),
        AnalyticsCommand::Run(args) => run_files(&args, globals),
    }
}

fn load_config(
    path: &Path,
) -> anyhow::Result<Result<AnalyticsConfig, yagura_analytics::ConfigError>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(AnalyticsConfig::from_toml(&text))
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    match load_config(&args.file)? {
        Ok(_) => {
            println!("{}: valid", args.file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", args.file.display());
            Ok(ExitCode::from(2))
        }
    }
}

fn run_files(args: &RunArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let inv_text = std::fs::read_to_string(&args.inventory)
        .with_context(|| format!("reading {}", args.inventory.display()))?;
    let inventory = Inventory::from_toml(&inv_text)
        .with_context(|| format!("loading inventory {}", args.inventory.display()))?;
    let config = match &args.config {
        Some(p) => load_config(p)?.with_context(|| format!("loading {}", p.display()))?,
        None => AnalyticsConfig::default(),
    };
    let mut analytics = Analytics::new(config, &inventory).context("analytics configuration")?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let progress = Progress::spinner("events", globals.quiet);
    let started = Instant::now();
    let (mut rejected, mut alerts) = (0u64, 0u64);
    let write_alerts =
        |list: Vec<yagura_model::Alert>, out: &mut dyn Write| -> anyhow::Result<u64> {
            let n = list.len() as u64;
            for a in list {
                serde_json::to_writer(&mut *out, &a)?;
                out.write_all(b"\n")?;
            }
            Ok(n)
        };
    for path in &args.paths {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(BufReader::new(std::io::stdin().lock()))
        } else {
            Box::new(BufReader::new(
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
            ))
        };
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(&line) {
                Ok(ev) => {
                    analytics.observe(&ev);
                    alerts += write_alerts(analytics.drain_alerts(), &mut *out)?;
                }
                Err(e) => {
                    rejected += 1;
                    if rejected <= 10 {
                        tracing::warn!("{}:{}: not an ECS event: {e}", path.display(), i + 1);
                    }
                }
            }
            progress.inc(1);
        }
    }
    alerts += write_alerts(analytics.finish(), &mut *out)?;
    out.flush()?;
    progress.finish();
    let c = analytics.counters();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    if !globals.quiet {
        eprintln!(
            "analytics: {} events ({} rejected lines, {} without an organization), {alerts} alerts, {:.0} events/s",
            c.events,
            rejected,
            c.unattributed,
            c.events as f64 / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

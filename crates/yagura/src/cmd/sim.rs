//! `yagura sim --out DIR [--seed N] [--orgs N] [--hosts N] [--days N] [--scenario FILE]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use yagura_sim::{SimConfig, simulate};

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Output directory: DIR/inventory.toml, DIR/<org>/…, DIR/intel/, DIR/truth.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed: the same seed (and scenario) gives byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Organizations, centers included (8 to 200).
    #[arg(long, default_value_t = 12)]
    pub orgs: usize,
    /// PCs of a typical organization (ministries have more, centers fewer).
    #[arg(long, default_value_t = 40)]
    pub hosts: usize,
    /// Simulated days (1 to 60).
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// First simulated day (JST), YYYY-MM-DD.
    #[arg(long, default_value = "2026-01-05")]
    pub start: String,
    /// Scenario TOML replacing the embedded default (crates/yagura-sim/scenarios/default.toml).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Worker threads (0 = all cores); the output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_date(s: &str) -> anyhow::Result<i64> {
    let mut it = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        anyhow::bail!("--start {s:?} is not YYYY-MM-DD");
    };
    let y: i64 = y.parse().with_context(|| format!("--start {s:?}: year"))?;
    let m: u32 = m.parse().with_context(|| format!("--start {s:?}: month"))?;
    let d: u32 = d.parse().with_context(|| format!("--start {s:?}: day"))?;
    anyhow::ensure!(
        (1970..2190).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d),
        "--start {s:?} is not a valid date"
    );
    Ok(yagura_sim::out::days_from_civil(y, m, d))
}

pub fn run(args: &SimArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let scenario = match &args.scenario {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading scenario {}", p.display()))?,
        None => yagura_sim::DEFAULT_SCENARIO.to_owned(),
    };
    let cfg = SimConfig {
        seed: args.seed,
        orgs: args.orgs,
        hosts: args.hosts,
        days: args.days,
        start_day: parse_date(&args.start)?,
        threads: args.threads,
        scenario,
        ..SimConfig::default()
    };
    let progress = Progress::spinner("simulating", globals.quiet);
    let t = Instant::now();
    let summary = simulate(&cfg, &args.out)
        .with_context(|| format!("simulating into {}", args.out.display()))?;
    progress.finish();
    let secs = t.elapsed().as_secs_f64();
    if !globals.quiet {
        for o in &summary.orgs {
            eprintln!(
                "  {:<14} {:<22} {:>6} PCs {:>12} events",
                o.org,
                o.kind.as_str(),
                o.pcs,
                o.events
            );
        }
        eprintln!(
            "{}: {} organizations, {} days, {} events in {:.1} s ({:.0} events/s), {} truth items, {} indicators",
            args.out.display(),
            summary.orgs.len(),
            summary.days,
            summary.events,
            secs,
            summary.events as f64 / secs.max(1e-9),
            summary.truth,
            summary.indicators
        );
    }
    Ok(ExitCode::SUCCESS)
}

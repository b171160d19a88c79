//! `yagura intel import|export|stats`: the indicator store under `--data-dir`.
//!
//! Indicators live in `<data-dir>/intel/indicators.jsonl` (see `yagura_intel::persist`) until
//! the state store takes them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use yagura_intel::export::{ExportOptions, to_misp, to_stix};
use yagura_intel::import::{FeedDefaults, Format, import_path};
use yagura_intel::persist;
use yagura_model::{Timestamp, Tlp};

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Import indicator files or directories (STIX 2.1, MISP event JSON or feed, CSV with a
    /// header, plain lists such as maltrail trails and ipsum; format detected per file).
    Import(ImportArgs),
    /// Export the stored indicators as a STIX 2.1 bundle or a MISP event.
    Export(ExportArgs),
    /// Counts of the stored indicators by kind, TLP and source.
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories (a MISP feed directory is read through its manifest.json).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Force the format instead of detecting it: stix, misp, misp-manifest, csv, list.
    #[arg(long)]
    pub format: Option<String>,
    /// Source name for indicators whose data does not name one (default: from the path).
    #[arg(long)]
    pub source: Option<String>,
    /// TLP for indicators whose data carries no marking (clear, green, amber, amber+strict, red).
    #[arg(long, default_value = "amber")]
    pub tlp: String,
    /// Confidence 0–100 for indicators whose data gives none.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub confidence: u8,
    /// Expire indicators without their own valid_until this many days after import.
    #[arg(long)]
    pub expire_days: Option<u32>,
    /// Tag added to every imported indicator (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Mark the indicators as context only (not for detection; MISP to_ids false).
    #[arg(long)]
    pub no_ids: bool,
    /// Write every rejected record as JSON lines to this file.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Print the import reports as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Do not search the stored events (`<data-dir>/events/`) for the new indicators.
    #[arg(long)]
    pub no_retro_hunt: bool,
    /// MISP warninglists directory (`lists/*/list.json`) for the retro-hunt: known-benign
    /// values do not alert.
    #[arg(long, value_name = "DIR")]
    pub warninglists: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Stix,
    Misp,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file (stdout by default).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Export only indicators at or below this TLP (the sharing ceiling).
    #[arg(long, default_value = "red")]
    pub max_tlp: String,
    /// The producing organization named in the export.
    #[arg(long, default_value = "yagura")]
    pub producer: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print the counts as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: IntelCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        IntelCommand::Import(a) => import(&a, globals),
        IntelCommand::Export(a) => export(&a, globals),
        IntelCommand::Stats(a) => stats(&a, globals),
    }
}

fn load(globals: &Globals) -> anyhow::Result<yagura_intel::IndicatorStore> {
    persist::load(&globals.data_dir).with_context(|| {
        format!(
            "loading indicators from {}",
            persist::snapshot_path(&globals.data_dir).display()
        )
    })
}

fn import(args: &ImportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let tlp: Tlp = args.tlp.parse().context("--tlp")?;
    let format: Option<Format> = match &args.format {
        Some(f) => Some(f.parse().context("--format")?),
        None => None,
    };
    let defaults = FeedDefaults {
        source: args.source.clone(),
        tlp,
        confidence: args.confidence,
        valid_for_secs: args.expire_days.map(|d| i64::from(d) * 86_400),
        tags: args.tags.clone(),
        to_ids: !args.no_ids,
        now: Timestamp::now(),
        format,
    };
    let mut store = load(globals)?;
    let before = store.len();
    let known: std::collections::HashSet<(yagura_model::IndicatorKind, String, Option<u16>)> =
        store
            .iter()
            .map(|r| (r.kind, r.value.to_owned(), r.port))
            .collect();
    let progress = Progress::items(args.paths.len() as u64, "importing", globals.quiet);
    let mut reports = Vec::new();
    for p in &args.paths {
        progress.set_message(p.display().to_string());
        let r = import_path(&mut store, p, &defaults)
            .with_context(|| format!("importing {}", p.display()))?;
        reports.extend(r);
        progress.inc(1);
    }
    progress.finish();
    let saved = persist::save(&store, &globals.data_dir).context("saving indicators")?;
    let mut fresh = yagura_intel::IndicatorStore::new();
    for r in store.iter() {
        if !known.contains(&(r.kind, r.value.to_owned(), r.port)) {
            fresh.insert(&r.to_indicator());
        }
    }

    let rejects: usize = reports.iter().map(|r| r.rejects.len()).sum();
    if let Some(path) = &args.rejects {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for r in &reports {
            for j in &r.rejects {
                let line = serde_json::json!({"file": r.origin, "location": j.location, "value": j.value, "reason": j.reason});
                writeln!(w, "{line}").with_context(|| format!("writing {}", path.display()))?;
            }
        }
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        // Per file only when few files; always the total.
        if reports.len() <= 20 {
            for r in &reports {
                let fmt = r.format.map_or("?", Format::as_str);
                eprintln!(
                    "{}: {fmt}, {} values, {} new, {} merged, {} rejected",
                    r.origin,
                    r.values,
                    r.added,
                    r.merged,
                    r.rejects.len()
                );
                for j in r.rejects.iter().take(10) {
                    eprintln!("  rejected {} {:?}: {}", j.location, j.value, j.reason);
                }
                if r.rejects.len() > 10 {
                    eprintln!("  … {} more (use --rejects FILE)", r.rejects.len() - 10);
                }
            }
        }
        let values: usize = reports.iter().map(|r| r.values).sum();
        eprintln!(
            "imported {} files: {values} values, {} new indicators, {rejects} rejected; {} indicators stored in {}",
            reports.len(),
            store.len() - before.min(store.len()),
            store.len(),
            saved.display()
        );
    }
    if !args.no_retro_hunt {
        retro_hunt(args, globals, &fresh, defaults.now)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Searches the stored events for the new indicators; past contacts become retrospective
/// alerts in the state DB, correlated into incidents.
fn retro_hunt(
    args: &ImportArgs,
    globals: &Globals,
    fresh: &yagura_intel::IndicatorStore,
    imported_at: Timestamp,
) -> anyhow::Result<()> {
    let dir = crate::cmd::hunt::events_dir(globals);
    if !yagura_eventstore::EventStore::exists(&dir) {
        tracing::info!(dir = %dir.display(), "no event store: no retro-hunt");
        return Ok(());
    }
    if fresh.is_empty() {
        eprintln!("retro-hunt: no new indicators");
        return Ok(());
    }
    let events = crate::cmd::hunt::open_events_read_only(globals)?;
    let warninglists = match &args.warninglists {
        Some(d) => yagura_intel::Warninglists::load_dir(d)
            .with_context(|| format!("loading warninglists from {}", d.display()))?,
        None => yagura_intel::Warninglists::new(),
    };
    let scope = yagura_model::Scope::orgs(events.organizations()?);
    let started = std::time::Instant::now();
    let opts = yagura_engine::retro::RetroOptions {
        scope: scope.clone(),
        imported_at: Some(imported_at),
        ..Default::default()
    };
    let report =
        yagura_engine::retro::retro_hunt(&events, fresh, std::sync::Arc::new(warninglists), &opts)
            .context("retro-hunting the stored events")?;
    let hunted = started.elapsed().as_secs_f64();
    let matched: u64 = report.events_matched.values().sum();
    eprintln!(
        "retro-hunt: {} new indicators ({} CIDR ranges not searchable) over {} organizations, {} splits: {matched} stored events bear them; {} retrospective alerts ({} suppressed by warninglists), {hunted:.2}s",
        report.indicators,
        report.skipped_cidr,
        scope.len(),
        report.splits_searched,
        report.alerts.len(),
        report.suppressed
    );
    if report.truncated {
        eprintln!(
            "retro-hunt: only the first {} matching events were examined",
            report.events_examined
        );
    }
    let mut per_org: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &report.alerts {
        *per_org.entry(a.org.as_str()).or_default() += 1;
    }
    for (org, n) in &per_org {
        eprintln!(
            "  {org}\t{n} alerts\t{} events",
            report
                .events_matched
                .iter()
                .find(|(o, _)| o.as_str() == *org)
                .map_or(0, |(_, n)| *n)
        );
    }
    if report.alerts.is_empty() {
        return Ok(());
    }
    let state = crate::cmd::detect::open_state(globals, None)?;
    let scope = crate::cmd::detect::system_scope(None, &report.alerts).intersect(&scope);
    let c = yagura_engine::incidents::correlate_into_store(
        &state,
        &scope,
        &report.alerts,
        &yagura_engine::CorrelationConfig::default(),
        Timestamp::now(),
    )
    .context("storing retrospective alerts")?;
    eprintln!(
        "retro-hunt: alerts stored in {}; {} incidents created or updated, {} campaigns",
        globals.data_dir.join("state.db").display(),
        c.incidents.len(),
        c.campaigns.len()
    );
    Ok(())
}

fn export(args: &ExportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let max_tlp: Tlp = args.max_tlp.parse().context("--max-tlp")?;
    let store = load(globals)?;
    if store.is_empty() {
        bail!(
            "no indicators in {} (import some with `yagura intel import`)",
            globals.data_dir.display()
        );
    }
    let opts = ExportOptions {
        producer: args.producer.clone(),
        now: Timestamp::now(),
        max_tlp,
        title: format!("{} indicator export", args.producer),
    };
    let (doc, report) = match args.format {
        ExportFormat::Stix => to_stix(&store, &opts),
        ExportFormat::Misp => to_misp(&store, &opts),
    };
    let text = serde_json::to_string_pretty(&doc)?;
    match &args.output {
        Some(p) => {
            std::fs::write(p, text + "\n").with_context(|| format!("writing {}", p.display()))?
        }
        None => println!("{text}"),
    }
    eprintln!("exported {} indicators", report.exported);
    for (why, n) in &report.skipped {
        eprintln!("  not exported: {n} ({why})");
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(args: &StatsArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = load(globals)?;
    let s = store.stats();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} indicators ({} with an expiry)", s.total, s.with_expiry);
    println!("by kind:");
    for (k, n) in &s.by_kind {
        println!("  {k:<10} {n:>10}");
    }
    println!("by TLP:");
    for (t, n) in &s.by_tlp {
        println!("  {:<17} {n:>10}", t.label());
    }
    let mut sources: Vec<_> = s.by_source.iter().collect();
    sources.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("by source ({} sources, largest first):", sources.len());
    for (src, n) in sources.iter().take(20) {
        println!("  {src:<40} {n:>10}");
    }
    if sources.len() > 20 {
        println!("  … {} more (--json for all)", sources.len() - 20);
    }
    Ok(ExitCode::SUCCESS)
}

//! `yagura ingest [--inventory FILE] [--format F] [--org ORG] PATH…`: reads telemetry files
//! or directories (`ROOT/<org-id>/**`) and stores the normalized events durably in
//! `<data-dir>/events/` for hunting and retro-hunts. No detection (that is `yagura detect`,
//! which stores events too with `--store`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::Args;
use yagura_engine::batch::{self, BatchOptions, Detectors, Progress as Counters};
use yagura_engine::stages::{StoreStage, StoreStageReport};
use yagura_formats::Reject;

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The inventory: only organization directories it names are read. Default:
    /// `PATH/inventory.toml` when PATH is a telemetry directory that has one.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Force the input format instead of detecting it per file.
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Organization of events read from files outside a telemetry directory.
    #[arg(long, value_name = "ORG-ID")]
    pub org: Option<String>,
    /// Events per durable batch (one fsync each).
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
    /// Files or telemetry directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A run id for batch ids: the same input files (paths, sizes, modification times) give the
/// same id, so an interrupted and retried run does not store its batches twice while they
/// are in the write-ahead log.
pub fn run_id(files: &[batch::InputFile]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.path.hash(&mut h);
        if let Ok(md) = std::fs::metadata(&f.path) {
            md.len().hash(&mut h);
            if let Ok(m) = md.modified() {
                m.hash(&mut h);
            }
        }
    }
    format!("run-{:016x}", h.finish())
}

pub fn run(args: IngestArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let inventory = crate::cmd::detect::inventory_for(args.inventory.as_ref(), &args.paths)?;
    let (format, default_org) =
        crate::cmd::detect::format_and_org(args.format.as_deref(), args.org.as_deref())?;
    let files = crate::cmd::detect::discover_files(&args.paths, inventory.as_ref())?;
    if files.is_empty() {
        bail!("no telemetry files found");
    }
    let store = Arc::new(crate::cmd::hunt::open_events(globals)?);
    let stored = Arc::new(Mutex::new(StoreStageReport::default()));
    let detectors = Detectors {
        per_event: Vec::new(),
        ordered: vec![Box::new(StoreStage::new(
            Arc::clone(&store),
            run_id(&files),
            args.batch,
            Arc::clone(&stored),
        ))],
    };
    let shown = Arc::new(Mutex::new(0usize));
    let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> = Arc::new(Mutex::new(move |r: Reject| {
        let mut n = shown.lock().unwrap_or_else(|p| p.into_inner());
        if *n < 10 {
            tracing::warn!(file = %r.file, line = r.line, reason = %r.reason, "rejected");
        }
        *n += 1;
    }));
    let counters = Arc::new(Counters::default());
    let bar = Progress::spinner("ingesting", globals.quiet);
    let options = BatchOptions {
        format,
        default_org,
        ..BatchOptions::default()
    };
    let cpu0 = crate::cmd::detect::cpu_seconds();
    let (_, report) = batch::run(files, detectors, &options, counters, on_reject);
    bar.finish();
    let cpu = crate::cmd::detect::cpu_seconds() - cpu0;
    let stored = stored.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = &stored.error {
        bail!("{e}");
    }
    let stats = store.stats().context("event store statistics")?;
    eprintln!(
        "ingest: {} files, {} events stored in {} batches ({} already stored), {} rejected lines, {} without organization; {:.1}s, {cpu:.1} CPU-s; store: {} splits, {} events, {:.1} MiB",
        report.files,
        stored.events,
        stored.batches,
        stored.duplicates,
        report.rejects,
        stored.without_org,
        report.elapsed_s,
        stats.splits,
        stats.docs,
        stats.split_bytes as f64 / 1_048_576.0
    );
    Ok(ExitCode::SUCCESS)
}

//! `yagura detect [--inventory FILE] [--rules DIR]… [--no-builtin-rules] [--intel FILE]…
//! [--format F] [--output FILE] PATH…` (DESIGN.md §5).
//!
//! Beyond the contract: `--store` also keeps the run in the data directory (events in
//! `<data-dir>/events/`, alerts, incidents and campaigns in `<data-dir>/state.db`), and
//! `--incidents FILE` / `--campaigns FILE` write the incidents and campaigns correlated from
//! this run's alerts as JSON lines.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use yagura_engine::CorrelationConfig;
use yagura_engine::batch::{self, BatchOptions, Detectors, Progress as Counters};
use yagura_engine::stages::{AnalyticsStage, IocStage, StoreStage, StoreStageReport, sigma_stages};
use yagura_formats::{Format, Reject};
use yagura_model::{Inventory, OrgId, Scope, Timestamp};

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The inventory (organizations, networks). Default: `PATH/inventory.toml` when PATH is a
    /// telemetry directory that has one.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Directories of Sigma rules to load in addition to the built-in ones.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in detection content.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Indicator files (STIX 2.1, MISP, CSV, plain lists) to match.
    #[arg(long = "intel", value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Force the input format instead of detecting it per file.
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Write alerts here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Organization of events read from files outside a telemetry directory.
    #[arg(long, value_name = "ORG-ID")]
    pub org: Option<String>,
    /// MISP warninglists directory (`lists/*/list.json`): known-benign values do not alert.
    #[arg(long, value_name = "DIR")]
    pub warninglists: Option<PathBuf>,
    /// Analytics configuration (TOML); defaults are built in.
    #[arg(long, value_name = "FILE")]
    pub analytics_config: Option<PathBuf>,
    /// Write rejected lines (file, line, reason) as JSON lines here.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Keep the run under the data directory: normalized events in `<data-dir>/events/`
    /// (for `yagura hunt` and retro-hunts), alerts correlated into incidents and campaigns
    /// in `<data-dir>/state.db`.
    #[arg(long)]
    pub store: bool,
    /// Write the incidents correlated from this run's alerts here as JSON lines (with
    /// `--store`: the incidents created or updated in the state DB).
    #[arg(long, value_name = "FILE")]
    pub incidents: Option<PathBuf>,
    /// Write the campaigns (incidents of several organizations sharing infrastructure) here as
    /// JSON lines.
    #[arg(long, value_name = "FILE")]
    pub campaigns: Option<PathBuf>,
    /// Files or telemetry directories (`ROOT/<org-id>/**`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: DetectArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let inventory = inventory_for(args.inventory.as_ref(), &args.paths)?;
    let (format, default_org) = format_and_org(args.format.as_deref(), args.org.as_deref())?;
    let files = discover_files(&args.paths, inventory.as_ref())?;
    if files.is_empty() {
        bail!(
            "no telemetry files found under {}",
            display_paths(&args.paths)
        );
    }

    let stored = Arc::new(Mutex::new(StoreStageReport::default()));
    let event_store = if args.store {
        Some(Arc::new(crate::cmd::hunt::open_events(globals)?))
    } else {
        None
    };
    let store_stage = event_store.as_ref().map(|store| {
        StoreStage::new(
            Arc::clone(store),
            crate::cmd::ingest::run_id(&files),
            20_000,
            Arc::clone(&stored),
        )
    });

    let rejects_out: Option<BufWriter<std::fs::File>> = args
        .rejects
        .as_ref()
        .map(|p| {
            std::fs::File::create(p)
                .with_context(|| format!("creating {}", p.display()))
                .map(BufWriter::new)
        })
        .transpose()?;
    let rejects_out = Arc::new(Mutex::new(rejects_out));
    let sink = Arc::clone(&rejects_out);
    let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> = Arc::new(Mutex::new(move |r: Reject| {
        tracing::debug!(file = %r.file, line = r.line, reason = %r.reason, "rejected");
        if let Some(w) = sink.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let line = serde_json::json!({"file": r.file, "line": r.line, "reason": r.reason, "excerpt": r.excerpt});
            // A failing rejects file must not stop detection; it is reported at the end.
            let _ = writeln!(w, "{line}");
        }
    }));

    let (alerts, report) = run_batch(
        &args,
        files,
        inventory.as_ref(),
        globals,
        on_reject,
        format,
        default_org,
        store_stage,
    )?;

    if let Some(mut w) = rejects_out.lock().unwrap_or_else(|p| p.into_inner()).take() {
        w.flush().context("writing the rejects file")?;
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    for a in &alerts {
        serde_json::to_writer(&mut out, a)?;
        out.write_all(b"\n")?;
    }
    out.flush().context("writing alerts")?;

    eprintln!(
        "detect: {} files, {} events, {} rejected lines, {} alerts ({} detections aggregated), {:.1}s, {:.0} events/s (after {:.1}s loading the detection content)",
        report.files,
        report.events,
        report.rejects,
        report.alerts,
        report.raw_alerts,
        report.elapsed_s,
        report.events_per_s,
        report.load_s
    );
    tracing::info!(
        cpu_s = format!("{:.2}", report.ordered_cpu_s),
        waited_for_readers_s = format!("{:.2}", report.ordered_wait_s),
        "ordered stages (the serial part of the pipeline)"
    );
    if let Some(store) = &event_store {
        let stored = stored.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = &stored.error {
            bail!("{e}");
        }
        let stats = store.stats().context("event store statistics")?;
        eprintln!(
            "detect: stored {} events in {} ({} without organization skipped); store: {} splits, {} events",
            stored.events,
            store.dir().display(),
            stored.without_org,
            stats.splits,
            stats.docs
        );
    }
    if args.store || args.incidents.is_some() || args.campaigns.is_some() {
        let correlation = if args.store {
            let state = open_state(globals, inventory.as_ref())?;
            let scope = system_scope(inventory.as_ref(), &alerts);
            yagura_engine::incidents::correlate_into_store(
                &state,
                &scope,
                &alerts,
                &CorrelationConfig::default(),
                Timestamp::now(),
            )
            .context("storing alerts and incidents")?
        } else {
            yagura_engine::correlate(
                &[],
                &[],
                &alerts,
                &CorrelationConfig::default(),
                Timestamp::now(),
            )
        };
        write_json_lines(args.incidents.as_deref(), &correlation.incidents)?;
        write_json_lines(args.campaigns.as_deref(), &correlation.campaigns)?;
        eprintln!(
            "detect: {} incidents created or updated ({} alerts opened incidents, {} joined existing ones, {} below the opening severity), {} campaigns{}",
            correlation.incidents.len(),
            correlation.opened,
            correlation.joined,
            correlation.unassigned,
            correlation.campaigns.len(),
            if args.store {
                format!("; state in {}", globals.data_dir.join("state.db").display())
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the state DB of the data directory; with an inventory, loads its organizations.
pub fn open_state(
    globals: &Globals,
    inventory: Option<&Inventory>,
) -> anyhow::Result<yagura_store::SqliteStore> {
    use yagura_store::StateStore;
    std::fs::create_dir_all(&globals.data_dir)
        .with_context(|| format!("creating {}", globals.data_dir.display()))?;
    let path = globals.data_dir.join("state.db");
    let state = yagura_store::SqliteStore::open(&path)
        .with_context(|| format!("opening the state DB {}", path.display()))?;
    if let Some(inv) = inventory {
        state
            .replace_orgs(inv.orgs())
            .context("loading the inventory into the state DB")?;
    }
    Ok(state)
}

/// The scope of a system job: every organization of the inventory, plus those of `alerts`.
pub fn system_scope(inventory: Option<&Inventory>, alerts: &[yagura_model::Alert]) -> Scope {
    let mut orgs: std::collections::BTreeSet<OrgId> =
        alerts.iter().map(|a| a.org.clone()).collect();
    if let Some(inv) = inventory {
        orgs.extend(inv.orgs().iter().map(|o| o.id.clone()));
    }
    Scope::orgs(orgs)
}

/// Writes `items` as JSON lines to `path` (nothing when `None`).
pub fn write_json_lines<T: serde::Serialize>(
    path: Option<&Path>,
    items: &[T],
) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let mut w = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for i in items {
        serde_json::to_writer(&mut w, i)?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// CPU seconds (user + system) this process has used so far (Linux `/proc/self/stat`; 0 where
/// it cannot be read).
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // rest starts at field 3 (state): utime is index 11, stime 12; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Builds the detectors of `args` and runs them over `files` with a progress display: what
/// `yagura detect` and `yagura demo` share. `store`, when given, keeps the events in the
/// event store (last ordered stage, after every detector).
#[allow(clippy::too_many_arguments)] // the batch's inputs, each needed; a struct would only rename them
pub fn run_batch(
    args: &DetectArgs,
    files: Vec<batch::InputFile>,
    inventory: Option<&Inventory>,
    globals: &Globals,
    on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>>,
    format: Option<Format>,
    default_org: Option<OrgId>,
    store: Option<StoreStage>,
) -> anyhow::Result<(Vec<yagura_model::Alert>, batch::BatchReport)> {
    let n_files = files.len();
    // The content loads while the reader threads already parse ahead (bounded): the start-up
    // overlaps reading instead of preceding it.
    let load = || -> anyhow::Result<Detectors> {
        let mut detectors = build_detectors(args, inventory, globals)?;
        if let Some(stage) = store {
            detectors.ordered.push(Box::new(stage));
        }
        tracing::info!(?detectors, files = n_files, "detectors loaded");
        Ok(detectors)
    };
    let counters = Arc::new(Counters::default());
    let bar = Progress::items(n_files as u64, "detect", globals.quiet);
    let ticker = spawn_ticker(Arc::clone(&counters), bar.clone());
    let options = BatchOptions {
        format,
        default_org,
        ..BatchOptions::default()
    };
    let result = batch::run_while_loading(files, load, &options, Arc::clone(&counters), on_reject);
    ticker.stop();
    bar.finish();
    let (alerts, report) = result?;
    tracing::info!(
        load_s = format!("{:.2}", report.load_s),
        parsed_while_loading = report.parsed_while_loading,
        "detection content loaded while the readers parsed ahead"
    );
    Ok((alerts, report))
}

/// `--format` and `--org` as the batch commands take them.
pub fn format_and_org(
    format: Option<&str>,
    org: Option<&str>,
) -> anyhow::Result<(Option<Format>, Option<OrgId>)> {
    let format = format
        .map(|f| f.parse::<Format>().map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()?;
    let org = org.map(OrgId::new).transpose().context("--org")?;
    Ok((format, org))
}

/// The telemetry files under `paths`, warning about those outside every organization.
pub fn discover_files(
    paths: &[PathBuf],
    inventory: Option<&Inventory>,
) -> anyhow::Result<Vec<batch::InputFile>> {
    let (files, skipped) = batch::discover(paths, inventory)?;
    for s in &skipped {
        tracing::warn!(path = %s.display(), "skipped: not under an organization directory of the inventory");
    }
    Ok(files)
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inventory named, or `PATH/inventory.toml` of the first telemetry directory that has one.
pub fn inventory_for(
    inventory: Option<&PathBuf>,
    paths: &[PathBuf],
) -> anyhow::Result<Option<Inventory>> {
    let path = match inventory {
        Some(p) => p.clone(),
        None => match paths
            .iter()
            .map(|p| p.join("inventory.toml"))
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    Ok(Some(read_inventory(&path)?))
}

pub fn read_inventory(path: &Path) -> anyhow::Result<Inventory> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Inventory::from_toml(&text).with_context(|| format!("loading {}", path.display()))
}

pub(crate) fn build_detectors(
    args: &DetectArgs,
    inventory: Option<&Inventory>,
    globals: &Globals,
) -> anyhow::Result<Detectors> {
    let mut detectors = Detectors::default();

    // The kinds of content load independently: indicators (one thread, seconds for millions
    // of them), warninglists, Sigma rules (parsed on every core) and the analytics (trigram
    // model), so they load at the same time and the slowest alone sets the start-up time.
    let (ioc, sigma, analytics) = std::thread::scope(|scope| {
        let sigma = scope.spawn(|| load_sigma(args));
        let analytics = scope.spawn(|| load_analytics(args, inventory));
        let warninglists = scope.spawn(|| load_warninglists(args));
        let ioc = load_indicators(args, globals, || joined(warninglists.join()));
        (ioc, joined(sigma.join()), joined(analytics.join()))
    });
    if let Some(stage) = ioc? {
        detectors.per_event.push(stage);
    }
    if let Some(sigma) = sigma? {
        // Detection rules run in the reading threads; correlations on the ordered stream.
        detectors.per_event.push(sigma.detect);
        detectors.ordered.extend(sigma.correlate);
    }
    if let Some(analytics) = analytics? {
        detectors.ordered.push(Box::new(AnalyticsStage(analytics)));
    }
    Ok(detectors)
}

/// The result of a loading thread (a panic becomes an error).
fn joined<T>(r: std::thread::Result<anyhow::Result<T>>) -> anyhow::Result<T> {
    r.unwrap_or_else(|_| Err(anyhow::anyhow!("loading detection content panicked")))
}

/// Indicators: the files named with --intel, plus what `yagura intel import` stored.
fn load_indicators(
    args: &DetectArgs,
    globals: &Globals,
    warninglists: impl FnOnce() -> anyhow::Result<yagura_intel::Warninglists>,
) -> anyhow::Result<Option<Arc<dyn batch::EventStage>>> {
    let mut store = yagura_intel::IndicatorStore::new();
    let snapshot = yagura_intel::persist::snapshot_path(&globals.data_dir);
    if snapshot.is_file() {
        store = yagura_intel::persist::load(&globals.data_dir)
            .with_context(|| format!("loading indicators from {}", snapshot.display()))?;
        tracing::info!(indicators = store.len(), "loaded stored indicators");
    }
    let defaults = yagura_intel::FeedDefaults {
        now: yagura_model::Timestamp::now(),
        ..Default::default()
    };
    // The files are independent until they are merged: they are read and normalized on
    // every core (Sigma compiles and the readers parse ahead beside them, so a few threads
    // suffice), and merged in path order into the same store a sequential import builds.
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZero::get)
        .unwrap_or(1)
        .min(8);
    let reports = yagura_intel::import_paths(&mut store, &args.intel, &defaults, threads)
        .context("importing indicators")?;
    for r in &reports {
        tracing::info!(origin = %r.origin, added = r.added, rejected = r.rejects.len(), "indicators imported");
        for rej in r.rejects.iter().take(5) {
            tracing::warn!(origin = %r.origin, "indicator not imported: {rej:?}");
        }
    }
    // Loaded on its own thread meanwhile; an error in it is reported even without indicators.
    let warninglists = warninglists()?;
    if store.is_empty() {
        return Ok(None);
    }
    let matcher = yagura_intel::LiveMatcher::new(store, Arc::new(warninglists));
    Ok(Some(Arc::new(IocStage::new(Arc::new(matcher)))))
}

/// MISP warninglists (`--warninglists`): known-benign values that do not alert.
fn load_warninglists(args: &DetectArgs) -> anyhow::Result<yagura_intel::Warninglists> {
    match &args.warninglists {
        Some(dir) => yagura_intel::Warninglists::load_dir(dir)
            .with_context(|| format!("loading warninglists from {}", dir.display())),
        None => Ok(yagura_intel::Warninglists::new()),
    }
}

/// Sigma: built-in content unless disabled, plus --rules directories.
fn load_sigma(args: &DetectArgs) -> anyhow::Result<Option<yagura_engine::stages::SigmaStages>> {
    let opts = yagura_sigma::LoadOptions {
        builtin: !args.no_builtin_rules,
        ..Default::default()
    };
    let rules =
        yagura_sigma::RuleSet::load_with(&args.rules, opts).context("loading Sigma rules")?;
    let report = rules.report();
    tracing::info!(
        loaded = report.count(yagura_sigma::LoadStatus::Loaded),
        unsupported = report.count(yagura_sigma::LoadStatus::Unsupported),
        invalid = report.count(yagura_sigma::LoadStatus::Invalid),
        "Sigma rules"
    );
    if rules.rules().is_empty() {
        return Ok(None);
    }
    let stages = sigma_stages(Arc::new(rules), None).context("preparing Sigma correlation")?;
    Ok(Some(stages))
}

/// Behavioural analytics and network policy (built-in content).
fn load_analytics(
    args: &DetectArgs,
    inventory: Option<&Inventory>,
) -> anyhow::Result<Option<yagura_analytics::Analytics>> {
    if args.no_builtin_rules {
        return Ok(None);
    }
    let empty;
    let inv = match inventory {
        Some(inv) => inv,
        None => {
            empty = Inventory::from_orgs(Vec::new())?;
            &empty
        }
    };
    let config = match &args.analytics_config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            yagura_analytics::AnalyticsConfig::from_toml(&text)
                .with_context(|| format!("loading {}", p.display()))?
        }
        None => yagura_analytics::AnalyticsConfig::default(),
    };
    let analytics =
        yagura_analytics::Analytics::new(config, inv).context("analytics configuration")?;
    Ok(Some(analytics))
}

/// Updates the progress display from the shared counters until stopped.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn spawn_ticker(counters: Arc<Counters>, bar: Progress) -> Ticker {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let mut done = 0;
        while !flag.load(Ordering::Relaxed) {
            let now = counters.files_done.load(Ordering::Relaxed);
            bar.inc(now - done);
            done = now;
            bar.set_message(format!(
                "detect: {} events, {} rejected",
                counters.events.load(Ordering::Relaxed),
                counters.rejects.load(Ordering::Relaxed)
            ));
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    Ticker {
        stop,
        handle: Some(handle),
    }
}

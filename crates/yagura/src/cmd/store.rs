//! `yagura store retain [--dir DIR] [--config FILE] [--inventory FILE] [--max-age-days N]
//! [--max-size SIZE] [--dry-run]`: applies the event store's retention now (what `yagura serve`
//! does every `[ingest.retention] interval_secs`) and prints per organization what it removed
//! (or, with `--dry-run`, would remove) as JSON lines. Also the retention thread of `serve`.
//! The command opens the store as `yagura hunt` does: not while a server has it open (one
//! `EventStore` per directory; the server runs the same rules on its own thread).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use yagura_eventstore::{EventStore, OrgRetention, RetentionPlan};
use yagura_model::{Inventory, OrgId, Timestamp};
use yagura_server::config::ServerConfig;
use yagura_server::config::retention::{RawLimit, RetentionRules};
use yagura_store::{NewAuditRecord, StateStore};

use crate::Globals;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Delete events past the retention limits (age, size) of their organization, whole
    /// splits at a time, and print per organization what was removed and what is kept as
    /// JSON lines. The limits are `[ingest.retention]` of the server configuration, the
    /// command-line defaults overriding its defaults; nothing configured deletes nothing. For a
    /// store no running server has open (`yagura serve` applies the same rules itself).
    Retain(RetainArgs),
}

#[derive(Debug, Args)]
pub struct RetainArgs {
    /// The event store directory. Default: `[ingest] events_dir` of --config, else
    /// `<data-dir>/events`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The server configuration (`yagura serve --config`) whose `[ingest.retention]` applies.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The inventory (for overrides by organization, sector or kind). Default: the
    /// configuration's `inventory`.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Every organization's age limit in days, or `unlimited` (overrides the configuration's
    /// default; its overrides still apply).
    #[arg(long, value_name = "DAYS")]
    pub max_age_days: Option<String>,
    /// Every organization's size limit: bytes, `500GB`, `20GiB`, or `unlimited`.
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Only print what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(command: StoreCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Retain(a) => retain(a, globals),
    }
}

fn raw_limit(s: &str) -> RawLimit {
    match s.trim().parse::<i64>() {
        Ok(n) => RawLimit::Number(n),
        Err(_) => RawLimit::Text(s.to_string()),
    }
}

fn retain(args: RetainArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ServerConfig::from_toml(&text, path)?
        }
        None => ServerConfig::default(),
    };
    let ingest = cfg.ingest.as_ref();
    let mut section = ingest.and_then(|i| i.retention.clone()).unwrap_or_default();
    if let Some(a) = &args.max_age_days {
        section.max_age_days = Some(raw_limit(a));
    }
    if let Some(s) = &args.max_size {
        section.max_size = Some(raw_limit(s));
    }
    let rules = section.rules()?;
    let inventory = match args.inventory.as_ref().or(cfg.inventory.as_ref()) {
        Some(p) => Some(crate::cmd::detect::read_inventory(p)?),
        None => None,
    };
    rules.check_inventory(inventory.as_ref())?;
    let dir = args
        .dir
        .clone()
        .or_else(|| ingest.and_then(|i| i.events_dir.clone()))
        .unwrap_or_else(|| crate::cmd::hunt::events_dir(globals));
    if !EventStore::exists(&dir) {
        bail!("no event store in {}", dir.display());
    }
    if !rules.deletes_anything() {
        eprintln!("retain: no retention limit configured: nothing is deleted");
    }
    // The state database: the split catalogue lives there, and the audit trail.
    let db = cfg
        .database
        .clone()
        .unwrap_or_else(|| globals.data_dir.join("state.db"));
    let opts = crate::cmd::hunt::store_options(&db);
    // A dry run only reads: it also works beside the `yagura serve` that owns the store (which
    // applies the same rules itself); a real run needs the store to itself.
    let store = if args.dry_run {
        EventStore::open_read_only(&dir, opts)
    } else {
        EventStore::open(&dir, opts)
    }
    .with_context(|| format!("opening the event store {}", dir.display()))?;
    let now = Timestamp::now();
    let policy = |o: &OrgId| rules.policy(o, inventory.as_ref());
    let plan = if args.dry_run {
        store.plan_retention(now, policy)?
    } else {
        store.apply_retention(now, policy)?
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (org, r) in &plan.orgs {
            writeln!(out, "{}", report_line(org, r, args.dry_run))?;
        }
        out.flush()?;
    }
    let t = plan.total();
    eprintln!(
        "retain{}: {} splits, {} events, {:.1} MiB {} in {} organizations",
        if args.dry_run { " (dry run)" } else { "" },
        t.splits_removed,
        t.docs_removed,
        t.bytes_removed as f64 / 1_048_576.0,
        if args.dry_run {
            "would be removed"
        } else {
            "removed"
        },
        plan.orgs.values().filter(|o| !o.removed.is_empty()).count()
    );
    if !args.dry_run && t.splits_removed > 0 {
        // Recorded in the state DB's audit trail.
        if db.is_file() {
            let state = yagura_store::SqliteStore::open(&db)
                .with_context(|| format!("opening state store {}", db.display()))?;
            audit(&state, &plan, now, "yagura store retain");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One organization's JSON line: its policy, what is (or would be) removed and what stays.
pub fn report_line(org: &OrgId, r: &OrgRetention, dry_run: bool) -> serde_json::Value {
    let removed = r.report();
    serde_json::json!({
        "org": org,
        "dry_run": dry_run,
        "max_age_days": r.policy.max_age_secs.map(|s| s / 86_400),
        "max_bytes": r.policy.max_bytes,
        "removed": {
            "splits": removed.splits_removed,
            "events": removed.docs_removed,
            "bytes": removed.bytes_removed,
            "newest": r.removed.iter().map(|s| s.max_ts).max(),
        },
        "kept": {
            "splits": r.kept_splits,
            "events": r.kept_docs,
            "bytes": r.kept_bytes,
            "oldest": r.kept_from,
        },
    })
}

/// Records each organization's removals in the audit trail (`events.retention` by `system`).
/// A failure is logged: the deletion is done and logged through `tracing` already.
pub fn audit(state: &dyn StateStore, plan: &RetentionPlan, now: Timestamp, via: &str) {
    for (org, r) in plan.orgs.iter().filter(|(_, r)| !r.removed.is_empty()) {
        let removed = r.report();
        let record = NewAuditRecord {
            time: now,
            actor: "system".into(),
            org: org.clone(),
            action: "events.retention".into(),
            target: "event-store".into(),
            details: serde_json::json!({
                "via": via,
                "splits": removed.splits_removed,
                "events": removed.docs_removed,
                "bytes": removed.bytes_removed,
                "newest": r.removed.iter().map(|s| s.max_ts).max(),
                "max_age_days": r.policy.max_age_secs.map(|s| s / 86_400),
                "max_bytes": r.policy.max_bytes,
            }),
        };
        if let Err(e) = state.append_audit(&record) {
            tracing::warn!(%org, error = %e, "could not record retention in the audit trail");
        }
    }
}

/// One retention pass of `yagura serve`: applies `rules`, logs and audits what it removed.
fn retention_pass(
    store: &EventStore,
    rules: &RetentionRules,
    inventory: &Inventory,
    state: &dyn StateStore,
) {
    let now = Timestamp::now();
    match store.apply_retention(now, |o| rules.policy(o, Some(inventory))) {
        Ok(plan) => {
            for (org, r) in plan.orgs.iter().filter(|(_, r)| !r.removed.is_empty()) {
                let removed = r.report();
                tracing::info!(
                    %org,
                    splits = removed.splits_removed,
                    events = removed.docs_removed,
                    bytes = removed.bytes_removed,
                    kept_events = r.kept_docs,
                    kept_bytes = r.kept_bytes,
                    "event store retention"
                );
            }
            audit(state, &plan, now, "yagura serve");
        }
        Err(e) => tracing::warn!(error = %e, "event store retention failed"),
    }
}

/// `yagura serve`'s retention thread: a pass at start, then every `rules.interval_secs`, until
/// `stop`. The store's maintenance lock serializes it with flushes and compaction's swaps (a
/// compaction whose input it removed discards its output).
pub fn retention_loop(
    store: &EventStore,
    rules: &RetentionRules,
    inventory: &Inventory,
    state: &dyn StateStore,
    stop: &AtomicBool,
) {
    let every = Duration::from_secs(rules.interval_secs);
    let mut next = Instant::now();
    let mut purge = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            retention_pass(store, rules, inventory, state);
            next = Instant::now() + every;
        }
        // The files of removed splits go after a grace period (hunts under way).
        if purge.elapsed() >= Duration::from_secs(10) {
            store.purge_retired_splits();
            purge = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

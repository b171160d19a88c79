//! `yagura hunt` (search stored events for indicators) and `yagura events` (put events into
//! the event store, flush, compact, apply retention, show figures).
//!
//! The event store lives in `<data-dir>/events/` (WAL, `catalogue.sqlite`, splits).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use yagura_eventstore::{
    CompactOptions, EventStore, FieldFilter, HuntQuery, RetentionPolicy, StoreOptions,
};
use yagura_model::{Inventory, OrgId, Scope, Timestamp};

use crate::Globals;

fn store_dir(globals: &Globals) -> PathBuf {
    globals.data_dir.join("events")
}

fn open_store(globals: &Globals) -> anyhow::Result<EventStore> {
    let dir = store_dir(globals);
    EventStore::open(&dir, StoreOptions::default())
        .with_context(|| format!("opening the event store in {}", dir.display()))
}

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Indicators (domains, IPs, URLs, hashes, e-mail addresses, user names). Domains also
    /// match their subdomains.
    pub indicators: Vec<String>,
    /// Read more indicators from a file, one per line (`#` starts a comment).
    #[arg(long, short = 'f')]
    pub file: Vec<PathBuf>,
    /// Only events whose ECS field equals the value (case-insensitive), e.g.
    /// `--field event.dataset=zeek.dns`. Repeatable; all must hold.
    #[arg(long = "field", value_name = "FIELD=VALUE")]
    pub fields: Vec<String>,
    /// Start of the time range (RFC 3339, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the time range (RFC 3339, exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Organizations to search (repeatable). With `--inventory`/`--as`, narrows that scope.
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    /// Inventory file: with `--as`, the scope is what that organization may see.
    #[arg(long, requires = "as_org")]
    pub inventory: Option<PathBuf>,
    /// The organization the hunt runs as (its supervision subtree is the scope).
    #[arg(long = "as", requires = "inventory")]
    pub as_org: Option<String>,
    /// Most events printed (counts are always complete).
    #[arg(long)]
    pub limit: Option<usize>,
}

fn read_indicator_file(p: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(p).with_context(|| format!("reading indicators {}", p.display()))?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            out.push(line.to_string());
        }
    }
    Ok(())
}

fn parse_time(s: &Option<String>, what: &str) -> anyhow::Result<Option<Timestamp>> {
    s.as_deref()
        .map(|t| Timestamp::parse_rfc3339(t).with_context(|| format!("--{what} {t:?}")))
        .transpose()
}

fn scope_of(args: &HuntArgs) -> anyhow::Result<Scope> {
    let mut explicit = BTreeSet::new();
    for o in &args.orgs {
        explicit.insert(OrgId::new(o).with_context(|| format!("--org {o:?}"))?);
    }
    match (&args.inventory, &args.as_org) {
        (Some(inv), Some(who)) => {
            let text = std::fs::read_to_string(inv)
                .with_context(|| format!("reading {}", inv.display()))?;
            let inv = Inventory::from_toml(&text)
                .with_context(|| format!("loading inventory {}", inv.display()))?;
            let visible = inv.visible_from(who);
            if visible.is_empty() {
                bail!("organization {who:?} is not in the inventory");
            }
            Ok(if explicit.is_empty() {
                visible
            } else {
                visible.intersect(&Scope::orgs(explicit))
            })
        }
        _ if !explicit.is_empty() => Ok(Scope::orgs(explicit)),
        _ => bail!("a hunt needs a scope: --org ORG (repeatable) or --inventory FILE --as ORG"),
    }
}

pub fn hunt(args: HuntArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut indicators = args.indicators.clone();
    for f in &args.file {
        read_indicator_file(f, &mut indicators)?;
    }
    let filters = args
        .fields
        .iter()
        .map(|f| FieldFilter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .context("--field")?;
    if indicators.is_empty() && filters.is_empty() {
        bail!("nothing to hunt for: give indicators, --file or --field");
    }
    let q = HuntQuery {
        scope: scope_of(&args)?,
        indicators,
        filters,
        from: parse_time(&args.from, "from")?,
        to: parse_time(&args.to, "to")?,
        limit: args.limit,
    };
    let store = open_store(globals)?;
    let r = store.hunt(&q).context("hunting")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for h in &r.hits {
        serde_json::to_writer(&mut out, &h.event)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if !globals.quiet {
        for (org, n) in &r.counts {
            eprintln!("{org}\t{n}");
        }
        eprintln!(
            "{} matching events in {} organizations ({} splits searched, {} printed)",
            r.total(),
            r.counts.len(),
            r.splits_searched,
            r.hits.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Store ECS JSON lines files (each event needs `organization.id`); each file is one
    /// durable batch whose id is derived from its path and content (re-running is a no-op).
    Ingest {
        files: Vec<PathBuf>,
    },
    /// Build splits from everything still only in the write-ahead log.
    Flush,
    /// Merge small splits.
    Compact,
    /// Delete splits older than `--max-age-days` or beyond `--max-mib` per organization.
    Retain {
        #[arg(long)]
        max_age_days: Option<i64>,
        #[arg(long)]
        max_mib: Option<u64>,
    },
    /// Show the store's figures.
    Stats,
}

pub fn events(cmd: EventsCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = open_store(globals)?;
    match cmd {
        EventsCommand::Ingest { files } => {
            let mut rejected = false;
            for f in &files {
                let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                let file_id = fnv1a(f.to_string_lossy().as_bytes(), &data);
                // Batches of 10,000 lines; ids derived from path, content and chunk.
                let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
                let (mut stored, mut again) = (0u64, 0u64);
                for (c, chunk) in lines.chunks(10_000).enumerate() {
                    if chunk.iter().all(|l| l.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    let id = format!("file:{file_id:016x}:{c}");
                    match store.ingest_json_lines(&id, &chunk.join(&b'\n')) {
                        Ok(ack) if ack.duplicate => again += u64::from(ack.count),
                        Ok(ack) => stored += u64::from(ack.count),
                        Err(yagura_eventstore::StoreError::Rejected(rs)) => {
                            rejected = true;
                            eprintln!("{}: lines {}..: batch rejected", f.display(), c * 10_000 + 1);
                            for r in rs {
                                eprintln!("  line {}: {}", c * 10_000 + r.record, r.reason);
                            }
                        }
                        Err(e) => {
                            return Err(e).with_context(|| format!("storing {}", f.display()));
                        }
                    }
                }
                if !globals.quiet {
                    eprintln!("{}: {stored} events stored, {again} already stored", f.display());
                }
            }
            let rep = store.flush().context("flushing")?;
            if !globals.quiet {
                eprintln!("{} splits built, {} events", rep.splits, rep.events);
            }
            Ok(if rejected {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        EventsCommand::Flush => {
            let rep = store.flush().context("flushing")?;
            println!("{} splits built, {} events", rep.splits, rep.events);
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Compact => {
            let rep = store.compact(CompactOptions::default()).context("compacting")?;
            println!("{} splits merged into {}", rep.splits_removed, rep.splits_added);
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Retain {
            max_age_days,
            max_mib,
        } => {
            let policy = RetentionPolicy {
                max_age_secs: max_age_days.map(|d| d.saturating_mul(86_400)),
                max_bytes: max_mib.map(|m| m.saturating_mul(1 << 20)),
            };
            let rep = store
                .apply_retention(Timestamp::now(), |_| policy)
                .context("applying retention")?;
            println!(
                "{} splits deleted ({} events, {} bytes)",
                rep.splits_removed, rep.docs_removed, rep.bytes_removed
            );
            Ok(ExitCode::SUCCESS)
        }
        EventsCommand::Stats => {
            let s = store.stats().context("reading figures")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "splits": s.splits,
                    "events": s.docs,
                    "split_bytes": s.split_bytes,
                    "wal_bytes": s.wal_bytes,
                    "pending_events": s.pending_events,
                    "checkpoint": s.checkpoint,
                }))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// FNV-1a over the path and the content: a stable batch id per file version.
fn fnv1a(a: &[u8], b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in a.iter().chain([0u8].iter()).chain(b) {
        h ^= u64::from(*byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

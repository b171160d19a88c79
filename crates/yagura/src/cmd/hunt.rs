//! `yagura hunt [INDICATOR]… [--indicators FILE]… [--filter FIELD=VALUE]… [--from T] [--to T]
//! [--org ORG]… [--as ORG]`: stored events bearing any of the indicators, as JSON lines on
//! stdout; counts per organization on stderr. The store is `<data-dir>/events/`, filled by
//! `yagura ingest` or `yagura detect --store`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use yagura_eventstore::{EventStore, FieldFilter, HuntQuery, StoreOptions};
use yagura_model::{OrgId, Scope, Timestamp};

use crate::Globals;

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Indicators: IP addresses, domains (subdomains match too), URLs, hashes, e-mail
    /// addresses, user or file names, JA3/JA4 fingerprints.
    #[arg(value_name = "INDICATOR")]
    pub indicators: Vec<String>,
    /// Read indicators from a file, one per line (`#` starts a comment; `-` is stdin).
    #[arg(long = "indicators", short = 'f', value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Keep only events whose ECS field equals the value (case-insensitive), e.g.
    /// `event.dataset=zeek.dns`, `source.ip=10.1.2.3`. Repeatable; all must hold.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    pub filters: Vec<String>,
    /// Events at or after this time: RFC 3339, a date (`2026-01-05`), or an age (`7d`, `12h`,
    /// `30m`: that long before now).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Events before this time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Search only these organizations (repeatable).
    #[arg(long = "org", value_name = "ORG-ID")]
    pub orgs: Vec<String>,
    /// Search what this organization may see (itself and the organizations it supervises,
    /// from the inventory).
    #[arg(long = "as", value_name = "ORG-ID")]
    pub as_org: Option<String>,
    /// The inventory for --as (default: `<data-dir>/inventory.toml`).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Most events printed (counts are always complete).
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    /// Print only the counts.
    #[arg(long)]
    pub count: bool,
    /// Print `{"org","matched","event"}` objects instead of bare events.
    #[arg(long)]
    pub with_matches: bool,
}

/// The event store of the data directory.
pub fn events_dir(globals: &Globals) -> PathBuf {
    globals.data_dir.join("events")
}

/// The event store's options for a state database at `state_db`: the split catalogue lives
/// there, beside the state tables (DESIGN.md).
pub fn store_options(state_db: &Path) -> StoreOptions {
    StoreOptions {
        catalogue: Some(state_db.to_path_buf()),
        ..StoreOptions::default()
    }
}

/// Opens the event store under the data directory (creating it), its catalogue in the data
/// directory's state database.
pub fn open_events(globals: &Globals) -> anyhow::Result<EventStore> {
    let dir = events_dir(globals);
    EventStore::open(&dir, store_options(&globals.data_dir.join("state.db")))
        .with_context(|| format!("opening the event store {}", dir.display()))
}

/// Opens the event store under the data directory for hunting only: beside a running
/// `yagura serve` or `yagura ingest` that owns it, nothing is locked, deleted or truncated.
pub fn open_events_read_only(globals: &Globals) -> anyhow::Result<EventStore> {
    open_read_only_at(&events_dir(globals), &globals.data_dir.join("state.db"))
}

/// Opens the event store in `dir`, its catalogue in the state database `state_db`, for
/// hunting only (see [`open_events_read_only`]).
pub fn open_read_only_at(dir: &Path, state_db: &Path) -> anyhow::Result<EventStore> {
    EventStore::open_read_only(dir, store_options(state_db))
        .with_context(|| format!("opening the event store {} to read it", dir.display()))
}

/// Parses RFC 3339, `YYYY-MM-DD` (UTC midnight) or an age before `now` (`90s`, `30m`, `12h`,
/// `7d`).
pub fn parse_time(s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(|c| "smhd".contains(*c))
        && let Ok(n) = s[..s.len() - 1].parse::<i64>()
    {
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        return Ok(now.saturating_sub_secs(n.saturating_mul(secs)));
    }
    if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        return Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z"))
            .with_context(|| format!("invalid date {s:?}"));
    }
    Timestamp::parse_rfc3339(s).with_context(|| {
        format!("invalid time {s:?} (RFC 3339, YYYY-MM-DD, or an age such as 7d, 12h, 30m)")
    })
}

/// Reads indicators from a file (or stdin for `-`): one per line, `#` comments, blanks skipped.
fn read_indicators(path: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        ))
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {} line {}", path.display(), n + 1))?;
        let v = line.split('#').next().unwrap_or("").trim();
        if !v.is_empty() {
            out.push(v.to_string());
        }
    }
    Ok(())
}

/// The scope of a command run by the operator: `--org` and/or `--as`; with neither, every
/// organization that has stored events.
pub fn operator_scope(
    orgs: &[String],
    as_org: Option<&str>,
    inventory: Option<&Path>,
    globals: &Globals,
    store: &EventStore,
) -> anyhow::Result<Scope> {
    let listed: BTreeSet<OrgId> = orgs
        .iter()
        .map(|o| OrgId::new(o).with_context(|| format!("--org {o:?}")))
        .collect::<anyhow::Result<_>>()?;
    let mut scope = match as_org {
        Some(who) => {
            let path = inventory
                .map(Path::to_path_buf)
                .unwrap_or_else(|| globals.data_dir.join("inventory.toml"));
            let inv = crate::cmd::detect::read_inventory(&path)
                .context("--as needs the inventory (--inventory FILE)")?;
            if inv.get(who).is_none() {
                bail!("--as {who:?}: no such organization in {}", path.display());
            }
            inv.visible_from(who)
        }
        None if listed.is_empty() => Scope::orgs(store.organizations()?),
        None => Scope::orgs(listed.clone()),
    };
    if as_org.is_some() && !listed.is_empty() {
        scope = scope.intersect(&Scope::orgs(listed));
    }
    Ok(scope)
}

pub fn run(args: HuntArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut indicators = args.indicators.clone();
    for f in &args.files {
        read_indicators(f, &mut indicators)?;
    }
    let filters = args
        .filters
        .iter()
        .map(|f| FieldFilter::parse(f).with_context(|| format!("--filter {f:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if indicators.is_empty() && filters.is_empty() && args.from.is_none() && args.to.is_none() {
        bail!("nothing to hunt for: give indicators, --indicators FILE, --filter or a time range");
    }
    let now = Timestamp::now();
    let from = args
        .from
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let to = args.to.as_deref().map(|s| parse_time(s, now)).transpose()?;

    let dir = events_dir(globals);
    if !EventStore::exists(&dir) {
        bail!(
            "no event store at {} (fill it with `yagura ingest` or `yagura detect --store`)",
            dir.display()
        );
    }
    let store = open_events_read_only(globals)?;
    let scope = operator_scope(
        &args.orgs,
        args.as_org.as_deref(),
        args.inventory.as_deref(),
        globals,
        &store,
    )?;
    let started = Instant::now();
    let result = store
        .hunt(&HuntQuery {
            scope: scope.clone(),
            indicators: indicators.clone(),
            filters,
            from,
            to,
            limit: Some(if args.count { 0 } else { args.limit }),
        })
        .context("hunting")?;
    let elapsed = started.elapsed().as_secs_f64();

    if !args.count {
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        for h in &result.hits {
            if args.with_matches {
                let line =
                    serde_json::json!({"org": h.org, "matched": h.matched, "event": h.event});
                serde_json::to_writer(&mut out, &line)?;
            } else {
                serde_json::to_writer(&mut out, &h.event)?;
            }
            out.write_all(b"\n")?;
        }
        out.flush().context("writing events")?;
    }
    let total = result.total();
    eprintln!(
        "hunt: {} indicators, {} organizations in scope: {total} matching events ({} splits searched, {} pending events scanned, {elapsed:.3}s)",
        indicators.len(),
        scope.len(),
        result.splits_searched,
        result.pending_scanned
    );
    for (org, n) in &result.counts {
        eprintln!("  {org}\t{n}");
    }
    if !args.count && total > result.hits.len() as u64 {
        eprintln!(
            "hunt: printed the first {} of {total} events (raise --limit)",
            result.hits.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = Timestamp::from_secs(1_000_000);
        assert_eq!(
            parse_time("7d", now).unwrap(),
            Timestamp::from_secs(1_000_000 - 7 * 86_400)
        );
        assert_eq!(
            parse_time("30m", now).unwrap(),
            Timestamp::from_secs(1_000_000 - 1800)
        );
        assert_eq!(
            parse_time("2026-01-05", now).unwrap(),
            Timestamp::parse_rfc3339("2026-01-05T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2026-01-05T01:02:03Z", now).unwrap(),
            Timestamp::parse_rfc3339("2026-01-05T01:02:03Z").unwrap()
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("d", now).is_err());
    }
}

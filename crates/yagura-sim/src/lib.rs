//! `yagura-sim`: simulated monitored estates, scripted campaigns with ground truth, and
//! exercise scoring (DESIGN.md §4–5: `yagura sim`, `yagura exercise score`).
//!
//! [`simulate`] writes a telemetry directory: `inventory.toml`, `<org>/…` logs in the formats
//! real tools write (Squid, Zeek TSV/JSON, Suricata EVE, Windows `evtx` JSON lines, RFC
//! 5424/3164 syslog, the `yagura-mailgw` mail-gateway log), `intel/` (a STIX 2.1 bundle and a
//! plain list) and `truth.jsonl`. [`score::score`] grades alerts against the truth.
//!
//! Determinism: every random stream is seeded from `(seed, label)` ([`rng::SimRng`]); each
//! organization's files depend only on `(seed, org id)` and the campaign plan, which is made
//! single-threaded before generation. Output is byte-identical for any thread count.

pub mod benign;
pub mod campaign;
pub mod estate;
pub mod intel;
pub mod out;
pub mod records;
pub mod render;
pub mod rng;
pub mod score;
pub mod sink;
pub mod truth;
pub mod universe;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use yagura_model::{OrgKind, Timestamp};

pub use campaign::{DEFAULT_SCENARIO, Scenario};
pub use score::{Score, score};
pub use truth::{TruthItem, TruthKind};

/// Why a simulation or a scoring run failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid scenario: {0}")]
    Scenario(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SimError {
    pub fn io(path: &Path, source: std::io::Error) -> SimError {
        SimError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    /// Organizations in the estate (centers included), 8..=200.
    pub orgs: usize,
    /// PCs of a typical organization (ministries have more, centers fewer).
    pub hosts: usize,
    pub days: u32,
    /// First simulated day (00:00 JST), as days since 1970-01-01.
    pub start_day: i64,
    /// Worker threads (0 = all available cores). Output does not depend on it.
    pub threads: usize,
    /// Scenario TOML (the embedded default unless replaced).
    pub scenario: String,
    /// Sites in the popular web universe.
    pub sites: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            orgs: 12,
            hosts: 40,
            days: 3,
            // Monday 2026-01-05.
            start_day: out::days_from_civil(2026, 1, 5),
            threads: 0,
            scenario: DEFAULT_SCENARIO.to_owned(),
            sites: 20_000,
        }
    }
}

/// Per-organization counts.
#[derive(Debug, Clone, Serialize)]
pub struct OrgSummary {
    pub org: String,
    pub kind: OrgKind,
    pub pcs: usize,
    pub events: u64,
    pub files: BTreeMap<String, u64>,
}

/// What a simulation wrote (also saved as `DIR/exercise.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub days: u32,
    pub orgs: Vec<OrgSummary>,
    pub events: u64,
    pub truth: usize,
    pub indicators: usize,
    pub campaigns: Vec<String>,
    /// Benign activity a detector may find suspicious but must not alert on.
    pub benign_notes: Vec<String>,
}

/// Builds the estate, plans the campaigns and writes everything under `dir`.
pub fn simulate(cfg: &SimConfig, dir: &Path) -> Result<Summary, SimError> {
    if cfg.days == 0 || cfg.days > 60 {
        return Err(SimError::Config(format!(
            "--days must be between 1 and 60 (got {})",
            cfg.days
        )));
    }
    let scenario = Scenario::from_toml(&cfg.scenario)?;
    let estate = estate::build(cfg.seed, cfg.orgs, cfg.hosts)?;
    let start_ns = (cfg.start_day * 86_400 - out::JST_OFFSET_S) * out::NS;
    let end_ns = start_ns + i64::from(cfg.days) * 86_400 * out::NS;
    let plan = campaign::plan(&estate, &scenario, cfg.seed, start_ns, end_ns)?;
    let universe = universe::Universe::new(cfg.seed, cfg.sites.max(200));
    fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    let inv = dir.join("inventory.toml");
    fs::write(&inv, estate.inventory_toml()).map_err(|e| SimError::io(&inv, e))?;
    let indicators = intel::write(dir, &plan.feed, Timestamp::from_nanos(start_ns))?;
    let truth_path = dir.join("truth.jsonl");
    let mut truth_text = Vec::new();
    for t in &plan.truth {
        serde_json::to_writer(&mut truth_text, t)
            .map_err(|e| SimError::Config(format!("truth serialization: {e}")))?;
        truth_text.push(b'\n');
    }
    fs::write(&truth_path, &truth_text).map_err(|e| SimError::io(&truth_path, e))?;

    let poller_org = estate
        .orgs
        .iter()
        .position(|o| o.org.kind == OrgKind::CiOperator);
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        cfg.threads
    }
    .clamp(1, estate.orgs.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<sink::SinkStats, SimError>>>> =
        Mutex::new((0..estate.orgs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(plan_o) = estate.orgs.get(i) else {
                        break;
                    };
                    let injected = plan.per_org.get(i).map(Vec::as_slice).unwrap_or(&[]);
                    let r = generate_org(
                        dir,
                        plan_o,
                        &universe,
                        cfg.seed,
                        poller_org == Some(i),
                        injected,
                        (start_ns, end_ns),
                    );
                    if let Ok(mut v) = results.lock()
                        && let Some(slot) = v.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| SimError::Config("a generator thread panicked".into()))?;
    let mut orgs = Vec::new();
    let mut events = 0;
    for (p, r) in estate.orgs.iter().zip(results) {
        let stats =
            r.ok_or_else(|| SimError::Config(format!("{} was not generated", p.id())))??;
        events += stats.events();
        orgs.push(OrgSummary {
            org: p.id().to_owned(),
            kind: p.org.kind,
            pcs: p.pcs.len(),
            events: stats.events(),
            files: stats.files,
        });
    }
    let mut benign_notes = vec![
        format!(
            "every PC beacons to {} every 10 minutes (antivirus) and fetches http://{}/… hourly (update check)",
            universe::AV_HEARTBEAT,
            universe::UPDATE_CHECK
        ),
        "svc-backup touches every server and PC at 01:00 JST; svc-sql logs on every 15 minutes"
            .to_owned(),
    ];
    if let Some(p) = poller_org.and_then(|i| estate.orgs.get(i))
        && let Some(s) = p.servers.get(2)
    {
        benign_notes.push(format!(
            "{} ({}) of {} polls {} every {} s around the clock (a benign, rare periodic poller)",
            s.name,
            s.ip,
            p.id(),
            benign::RARE_POLLER_HOST,
            benign::RARE_POLLER_PERIOD_S
        ));
    }
    let summary = Summary {
        seed: cfg.seed,
        start: Timestamp::from_nanos(start_ns),
        end: Timestamp::from_nanos(end_ns),
        days: cfg.days,
        orgs,
        events,
        truth: plan.truth.len(),
        indicators,
        campaigns: scenario
            .campaign
            .iter()
            .map(|c| c.common().id.clone())
            .collect(),
        benign_notes,
    };
    let p = dir.join("exercise.json");
    let mut f = fs::File::create(&p).map_err(|e| SimError::io(&p, e))?;
    serde_json::to_writer_pretty(&mut f, &summary)
        .map_err(|e| SimError::Config(format!("summary serialization: {e}")))?;
    f.write_all(b"\n").map_err(|e| SimError::io(&p, e))?;
    Ok(summary)
}

fn generate_org(
    dir: &Path,
    plan: &estate::OrgPlan,
    universe: &universe::Universe,
    seed: u64,
    poller: bool,
    injected: &[records::Activity],
    (start_ns, end_ns): (i64, i64),
) -> Result<sink::SinkStats, SimError> {
    let mut sink = sink::OrgSink::create(dir, plan, start_ns, end_ns)?;
    let mut benign = benign::Benign::new(plan, universe, seed, poller);
    let mut k = 0;
    let mut hour = start_ns;
    while hour < end_ns {
        benign.hour(hour, &mut sink);
        let next = hour + 3600 * out::NS;
        while let Some(a) = injected.get(k) {
            if a.ts() >= next {
                break;
            }
            sink.activity(a);
            k += 1;
        }
        sink.flush()?;
        hour = next;
    }
    sink.finish()
}

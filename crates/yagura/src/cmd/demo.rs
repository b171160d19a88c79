//! `yagura demo [--listen ADDR] [--dir DIR] [--orgs N] [--days N] [--hosts N] [--seed N]`
//!
//! The whole platform on the embedded default, in one command: simulate an estate with the
//! default campaigns, detect on it with every detector, load the alerts into a SQLite state
//! store, create a center analyst and one organization's security officer with random
//! passwords, and serve the API and the console. The estate's events go into an event store
//! for hunting: in the background once the console is up (the hunt page covers what is
//! stored so far), kept and reused with the estate.

use std::io::{BufRead, BufReader};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use yagura_engine::batch;
use yagura_engine::stages::{StoreStage, StoreStageReport};
use yagura_eventstore::{EventStore, StoreOptions as EventStoreOptions};
use yagura_formats::{ReadOptions, Reject};
use yagura_model::{EvidenceRef, Inventory, OrgId, Role};
use yagura_server::auth::{self, PasswordHashing};
use yagura_server::{AppState, EvidenceRecord, EvidenceSource, StateOptions};
use yagura_store::{NewAuditRecord, NewUser, SqliteStore, StateStore};

use crate::Globals;
use crate::cmd::detect::{DetectArgs, run_batch};
use crate::cmd::sim::SimArgs;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to serve the console and API on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Working directory (estate, state database). Default: `yagura-demo` in the system's
    /// temporary directory. An estate already simulated there with the same parameters is
    /// reused; the state database is recreated on every start.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Organizations, centers included.
    #[arg(long, default_value_t = 12)]
    pub orgs: usize,
    /// Simulated days.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// PCs of a typical organization.
    #[arg(long, default_value_t = 20)]
    pub hosts: usize,
    /// Simulation seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Prepare everything, print the logins, and exit instead of serving (for scripts).
    #[arg(long)]
    pub no_serve: bool,
}

pub fn run(args: DemoArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join("yagura-demo"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let estate = dir.join("estate");

    // 1. The estate (reused when the same parameters produced it before).
    let params = format!(
        "seed={} orgs={} hosts={} days={}\n",
        args.seed, args.orgs, args.hosts, args.days
    );
    let marker = dir.join("estate.params");
    let reuse = estate.join("inventory.toml").is_file()
        && std::fs::read_to_string(&marker).is_ok_and(|p| p == params);
    if reuse {
        eprintln!("demo: reusing the estate in {}", estate.display());
    } else {
        if estate.exists() {
            std::fs::remove_dir_all(&estate)
                .with_context(|| format!("removing the old estate {}", estate.display()))?;
        }
        eprintln!(
            "demo: simulating {} organizations over {} days into {}",
            args.orgs,
            args.days,
            estate.display()
        );
        let sim = SimArgs {
            out: estate.clone(),
            seed: args.seed,
            orgs: args.orgs,
            hosts: args.hosts,
            days: args.days,
            start: "2026-01-05".into(),
            scenario: None,
            threads: 0,
        };
        crate::cmd::sim::run(&sim, globals)?;
        std::fs::write(&marker, &params)
            .with_context(|| format!("writing {}", marker.display()))?;
    }
    let inventory = crate::cmd::detect::read_inventory(&estate.join("inventory.toml"))?;

    // 2. Detection with every detector and the estate's intelligence feeds.
    let detect = DetectArgs {
        inventory: None,
        rules: vec![],
        no_builtin_rules: false,
        intel: ["feed.stix.json", "feed.txt"]
            .iter()
            .map(|f| estate.join("intel").join(f))
            .filter(|p| p.is_file())
            .collect(),
        format: None,
        output: None,
        org: None,
        warninglists: None,
        analytics_config: None,
        rejects: None,
        store: false,
        incidents: None,
        campaigns: None,
        paths: vec![estate.clone()],
    };
    let (files, _) = batch::discover(&detect.paths, Some(&inventory))?;
    let rejects = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&rejects);
    let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> =
        Arc::new(Mutex::new(move |_r: Reject| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }));
    // Indicators come from the estate's feeds only, not from a data directory.
    let detect_globals = Globals {
        data_dir: dir.join("data"),
        quiet: globals.quiet,
    };
    let (alerts, report) = run_batch(
        &detect,
        files,
        Some(&inventory),
        &detect_globals,
        on_reject,
        None,
        None,
        None,
    )?;
    eprintln!(
        "demo: {} events, {} rejected lines, {} alerts ({:.1} s)",
        report.events, report.rejects, report.alerts, report.elapsed_s
    );

    // 3. A fresh state store with the alerts.
    let db = dir.join("state.db");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let store = Arc::new(
        SqliteStore::open(&db).with_context(|| format!("opening state store {}", db.display()))?,
    );

    // 4. The event store (reused with the estate when a previous start completed it).
    let events_dir = dir.join("events");
    let events_marker = dir.join("events.params");
    let events_ready = reuse
        && EventStore::exists(&events_dir)
        && std::fs::read_to_string(&events_marker).is_ok_and(|p| p == params);
    if !events_ready && events_dir.exists() {
        std::fs::remove_dir_all(&events_dir)
            .with_context(|| format!("removing the old event store {}", events_dir.display()))?;
    }
    let events = Arc::new(
        EventStore::open(&events_dir, EventStoreOptions::default())
            .with_context(|| format!("opening the event store {}", events_dir.display()))?,
    );

    // 5. The server state and the two demo users.
    let options = StateOptions {
        evidence: Some(Arc::new(EstateEvidence {
            root: estate.clone(),
        })),
        events: Some(Arc::clone(&events)),
        ..StateOptions::default()
    };
    let dyn_store: Arc<dyn StateStore> = store.clone();
    let state = AppState::new(
        dyn_store,
        inventory.clone(),
        PasswordHashing::standard()?,
        options,
    )
    .context("loading organizations into the state store")?;
    // The alerts, correlated into incidents (and campaigns across organizations), as
    // `yagura detect --store` keeps them.
    let everything =
        yagura_model::Scope::orgs(inventory.orgs().iter().map(|o| o.id.clone()).collect());
    let correlation = yagura_engine::incidents::correlate_into_store(
        &*store,
        &everything,
        &alerts,
        &yagura_engine::CorrelationConfig::default(),
        yagura_model::Timestamp::now(),
    )
    .context("storing alerts and incidents")?;
    eprintln!(
        "demo: {} incidents, {} campaigns",
        correlation.incidents.len(),
        correlation.campaigns.len()
    );
    let center = inventory
        .orgs()
        .iter()
        .find(|o| o.is_center() && o.monitored_by.is_none())
        .context("the estate has no top-level center")?
        .id
        .clone();
    let officer_org = busiest_org(&inventory, &alerts).context("the estate has no alerts")?;
    let analyst = create_user(&state, "analyst", &center, Role::Analyst)?;
    let officer_name = format!("officer-{officer_org}");
    let officer = create_user(&state, &officer_name, &officer_org, Role::OrgOfficer)?;

    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    let local = listener.local_addr()?;
    println!();
    println!(
        "yagura demo is ready ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    println!("  console:   http://{local}/console/");
    println!("  API:       http://{local}/api/v1 (OpenAPI: http://{local}/api/openapi.json)");
    println!("  center analyst ({center}):            user analyst  password {analyst}");
    println!("  security officer of {officer_org}:  user {officer_name}  password {officer}");
    println!("  data:      {}", dir.display());
    let fill = (!events_ready).then(|| EventFill {
        store: Arc::clone(&events),
        estate: estate.clone(),
        inventory: inventory.clone(),
        marker: events_marker.clone(),
        params: params.clone(),
    });
    if args.no_serve {
        if let Some(fill) = fill {
            fill.run()?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(fill) = fill {
        println!(
            "  hunting:   events are being stored in the background (the hunt page covers what is stored so far)"
        );
        std::thread::Builder::new()
            .name("demo-events".into())
            .spawn(move || {
                if let Err(e) = fill.run() {
                    eprintln!("demo: storing events for hunting failed: {e:#}");
                }
            })
            .context("starting the event store fill")?;
    }
    println!("  (Ctrl-C to stop)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        yagura_server::serve(listener, yagura_server::router(state), None, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Stores the estate's events in the event store (what `yagura ingest` does), then marks the
/// store complete for these estate parameters.
struct EventFill {
    store: Arc<EventStore>,
    estate: PathBuf,
    inventory: Inventory,
    marker: PathBuf,
    params: String,
}

impl EventFill {
    fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let cpu0 = crate::cmd::detect::cpu_seconds();
        let (files, _) =
            batch::discover(std::slice::from_ref(&self.estate), Some(&self.inventory))?;
        let stored = Arc::new(Mutex::new(StoreStageReport::default()));
        let detectors = batch::Detectors {
            per_event: Vec::new(),
            ordered: vec![Box::new(StoreStage::new(
                Arc::clone(&self.store),
                crate::cmd::ingest::run_id(&files),
                20_000,
                Arc::clone(&stored),
            ))],
        };
        let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> = Arc::new(Mutex::new(|_r: Reject| {}));
        batch::run(
            files,
            detectors,
            &batch::BatchOptions::default(),
            Arc::new(batch::Progress::default()),
            on_reject,
        );
        let report = stored.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = &report.error {
            anyhow::bail!("{e}");
        }
        self.store.flush().context("flushing the event store")?;
        std::fs::write(&self.marker, &self.params)
            .with_context(|| format!("writing {}", self.marker.display()))?;
        eprintln!(
            "demo: {} events stored for hunting ({:.0} s, {:.0} CPU-s)",
            report.events,
            started.elapsed().as_secs_f64(),
            crate::cmd::detect::cpu_seconds() - cpu0
        );
        Ok(())
    }
}

/// The monitored (non-center) organization with the most alerts.
fn busiest_org(inventory: &Inventory, alerts: &[yagura_model::Alert]) -> Option<OrgId> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in alerts {
        if inventory
            .get(a.org.as_str())
            .is_some_and(|o| !o.is_center())
        {
            *counts.entry(a.org.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .and_then(|(o, _)| OrgId::new(o).ok())
}

/// Creates a user with a random password; returns the password.
fn create_user(state: &AppState, name: &str, org: &OrgId, role: Role) -> anyhow::Result<String> {
    let password = auth::random_hex(8)?;
    let user = state.store().create_user(&NewUser {
        name: name.to_owned(),
        display_name: name.to_owned(),
        org: org.clone(),
        role,
        password_hash: state.hashing().hash(&password)?,
    })?;
    state.store().append_audit(&NewAuditRecord {
        time: state.now(),
        actor: "system".into(),
        org: org.clone(),
        action: "user.create".into(),
        target: user.name,
        details: serde_json::json!({"id": user.id, "role": role.as_str(), "demo": true}),
    })?;
    Ok(password)
}

/// Longest source line shown as evidence.
const MAX_EVIDENCE_LINE: usize = 64 * 1024;

/// Evidence records read back from the simulated estate's files.
#[derive(Debug)]
pub struct EstateEvidence {
    pub root: PathBuf,
}

impl EvidenceSource for EstateEvidence {
    fn lookup(&self, org: &OrgId, ev: &EvidenceRef) -> Result<EvidenceRecord, String> {
        let rel = Path::new(&ev.file);
        // Only files of the alert's own organization, inside the root.
        let mut parts = rel.components();
        let first_ok = matches!(parts.next(), Some(Component::Normal(c)) if c == org.as_str());
        if !first_ok || !parts.all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!("{}: not a file of {org}", ev.file));
        }
        let path = self.root.join(rel);
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", ev.file))?;
        let mut reader = BufReader::new(file);
        let mut headers: Vec<u8> = Vec::new();
        let mut buf = Vec::new();
        let mut n = 0u64;
        let raw = loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("{}: {e}", ev.file))?;
            if read == 0 {
                return Err(format!("{}: has no line {}", ev.file, ev.line));
            }
            n += 1;
            if n == ev.line {
                break buf.clone();
            }
            // Header lines (Zeek `#fields`, W3C `#Fields:`) are needed to read a record.
            if buf.first() == Some(&b'#') && headers.len() < MAX_EVIDENCE_LINE {
                headers.extend_from_slice(&buf);
            }
        };
        let mut raw = raw;
        raw.truncate(MAX_EVIDENCE_LINE);
        let mut doc = headers;
        doc.extend_from_slice(&raw);
        let opts = ReadOptions {
            org: Some(org.clone()),
            ..ReadOptions::default()
        };
        let event = yagura_formats::read_bytes(&doc, &ev.file, &opts)
            .ok()
            .and_then(|records| records.into_iter().find_map(Result::ok))
            .and_then(|e| serde_json::to_value(&e).ok())
            .map(|mut v| {
                if let Some(file) = v.pointer_mut("/log/file")
                    && let Some(obj) = file.as_object_mut()
                {
                    obj.insert("line".into(), ev.line.into());
                    obj.insert("path".into(), ev.file.clone().into());
                }
                v
            });
        Ok(EvidenceRecord {
            raw: String::from_utf8_lossy(&raw).trim_end().to_owned(),
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_stays_inside_the_organization() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("moh/proxy")).unwrap();
        std::fs::write(
            dir.path().join("moh/proxy/access.log"),
            "1767571200.000 5 10.1.0.5 TCP_MISS/200 512 GET http://a.example/ - HIER_DIRECT/203.0.113.5 text/html\n\
             1767571201.000 5 10.1.0.6 TCP_MISS/200 512 GET http://b.example/x - HIER_DIRECT/203.0.113.6 text/html\n",
        )
        .unwrap();
        let src = EstateEvidence {
            root: dir.path().to_owned(),
        };
        let moh = OrgId::new("moh").unwrap();
        let ev = |file: &str, line| EvidenceRef {
            file: file.into(),
            line,
        };
        let rec = src.lookup(&moh, &ev("moh/proxy/access.log", 2)).unwrap();
        assert!(rec.raw.contains("b.example"), "{rec:?}");
        let event = rec.event.expect("normalized");
        assert_eq!(event["log"]["file"]["line"], 2);
        assert!(event.to_string().contains("b.example"));
        assert!(src.lookup(&moh, &ev("moh/proxy/access.log", 9)).is_err());
        let other = OrgId::new("mof").unwrap();
        assert!(src.lookup(&other, &ev("moh/proxy/access.log", 1)).is_err());
        assert!(src.lookup(&moh, &ev("moh/../mof/x.log", 1)).is_err());
        assert!(src.lookup(&moh, &ev("/etc/passwd", 1)).is_err());
    }
}

//! The streaming side of `yagura serve` (`[ingest]` in the configuration): the event store,
//! the HTTP push sink, syslog listeners, file tails, and the consumer thread that builds
//! splits and runs the detectors (`yagura_engine::stream`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use yagura_engine::stream::{Consumer, ConsumerOptions, Intake, IntakeError, Submitted};
use yagura_eventstore::{EventStore, StoreOptions};
use yagura_formats::Format;
use yagura_model::{Inventory, OrgId, Scope};
use yagura_server::api::ingest::{IngestReceipt, IngestRefusal, IngestSink, RejectedLine};
use yagura_server::config::IngestSection;
use yagura_store::StateStore;

use crate::Globals;

/// The HTTP push sink over the intake.
#[derive(Debug)]
pub struct HttpSink(pub Intake);

fn refusal(e: IntakeError) -> IngestRefusal {
    match e {
        IntakeError::Busy => IngestRefusal::Busy,
        IntakeError::Backlog(m) => IngestRefusal::Backlog(m),
        IntakeError::DiskFull(m) => IngestRefusal::DiskFull(m),
        IntakeError::Invalid(m) => IngestRefusal::Invalid(m),
        IntakeError::Unavailable(m) => IngestRefusal::Unavailable(m),
    }
}

fn receipt(s: Submitted) -> IngestReceipt {
    IngestReceipt {
        accepted: s.accepted,
        duplicate: s.duplicate,
        rejected: s
            .rejected
            .into_iter()
            .map(|r| RejectedLine {
                line: r.line,
                reason: r.reason,
            })
            .collect(),
    }
}

fn parse_format(f: Option<&str>) -> Result<Option<Format>, String> {
    f.map(|f| f.parse::<Format>().map_err(|e| e.to_string()))
        .transpose()
}

impl IngestSink for HttpSink {
    fn submit(
        &self,
        org: &OrgId,
        batch_id: &str,
        format: Option<&str>,
        body: &[u8],
    ) -> Result<IngestReceipt, IngestRefusal> {
        let format = parse_format(format).map_err(IngestRefusal::Invalid)?;
        self.0
            .submit(org, batch_id, format, body, false)
            .map(receipt)
            .map_err(refusal)
    }
}

/// Everything `[ingest]` started; [`Stream::stop`] ends it (a last flush included).
pub struct Stream {
    pub intake: Intake,
    /// The event store the consumer fills (hunts search it too).
    pub events: Arc<EventStore>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Syslog listeners (dropping them stops them).
    listeners: Vec<yagura_ingest::Listener>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("threads", &self.threads.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl Stream {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.listeners.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens the event store, builds the detectors and starts the consumer and the file tails.
/// Syslog listeners are started by [`start_listeners`] inside the async runtime.
pub fn start(
    section: &IngestSection,
    inventory: &Inventory,
    state: Arc<dyn StateStore>,
    state_db: &std::path::Path,
    globals: &Globals,
) -> anyhow::Result<Stream> {
    // Retention's rules are checked before anything starts (an override for an organization
    // absent from the inventory is an error).
    let retention = match &section.retention {
        Some(r) => {
            let rules = r.rules()?;
            rules.check_inventory(Some(inventory))?;
            Some(rules)
        }
        None => None,
    };
    let dir = section
        .events_dir
        .clone()
        .unwrap_or_else(|| globals.data_dir.join("events"));
    let opts = StoreOptions {
        // The consumer flushes (with detection); ingest never does.
        flush_events: usize::MAX,
        max_pending_events: section.max_pending_events,
        // Per-split costs are fixed (writer, term dictionaries, fsyncs): one split per
        // organization and day per flush instead of one per hour (BENCHMARKS.md).
        split_span_secs: section.split_span_secs,
        compacted_split_format: section.compacted_split_format,
        // The split catalogue in the server's state database (DESIGN.md).
        ..crate::cmd::hunt::store_options(state_db)
    };
    let store = Arc::new(
        EventStore::open(&dir, opts)
            .with_context(|| format!("opening the event store {}", dir.display()))?,
    );
    let args = crate::cmd::detect::DetectArgs {
        inventory: None,
        rules: section.rules.clone(),
        no_builtin_rules: !section.builtin_rules,
        intel: section.intel.clone(),
        format: None,
        output: None,
        org: None,
        warninglists: None,
        analytics_config: section.analytics_config.clone(),
        rejects: None,
        store: false,
        incidents: None,
        campaigns: None,
        paths: Vec::new(),
    };
    let detectors = crate::cmd::detect::build_detectors(&args, Some(inventory), globals)?;
    tracing::info!(?detectors, "stream detectors");
    let scope = Scope::orgs(inventory.orgs().iter().map(|o| o.id.clone()).collect());
    let retention_state = Arc::clone(&state);
    let consumer = Consumer::new(
        Arc::clone(&store),
        state,
        detectors,
        ConsumerOptions {
            flush_events: section.flush_events,
            flush_interval: Duration::from_secs(section.flush_interval_secs),
            aggregation: Default::default(),
            correlation: Default::default(),
            checkpoint_path: dir.join("detectors.json"),
            scope,
            compact_every: 0,
            checkpoint_events: section.detector_checkpoint_events,
            checkpoint_interval: Duration::from_secs(section.detector_checkpoint_interval_secs),
        },
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let s = Arc::clone(&stop);
    threads.push(
        std::thread::Builder::new()
            .name("yagura-consumer".into())
            .spawn(move || consumer.run(s))
            .context("starting the stream consumer")?,
    );
    if section.compact_interval_secs > 0 {
        // Compaction on its own thread: it builds its outputs without blocking the consumer's
        // flushes (only its catalogue swaps take the store's maintenance lock).
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        let every = Duration::from_secs(section.compact_interval_secs);
        threads.push(
            std::thread::Builder::new()
                .name("yagura-compaction".into())
                .spawn(move || compaction_loop(&store, every, &stop))
                .context("starting the compaction thread")?,
        );
    }
    if let Some(rules) = retention {
        tracing::info!(
            interval_secs = rules.interval_secs,
            defaults = ?rules.defaults,
            overrides = rules.orgs.len() + rules.sectors.len() + rules.kinds.len(),
            active = rules.deletes_anything(),
            "event store retention"
        );
        if rules.deletes_anything() {
            // Retention on its own thread, every `interval_secs` (crate::cmd::store).
            let store = Arc::clone(&store);
            let stop = Arc::clone(&stop);
            let inventory = inventory.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("yagura-retention".into())
                    .spawn(move || {
                        crate::cmd::store::retention_loop(
                            &store,
                            &rules,
                            &inventory,
                            retention_state.as_ref(),
                            &stop,
                        )
                    })
                    .context("starting the retention thread")?,
            );
        }
    }
    let intake = Intake::new(Arc::clone(&store));
    if !section.tail.is_empty() {
        let checkpoints = yagura_ingest::CheckpointFile::new(dir.join("tails.json"));
        let known = checkpoints.load()?;
        let shared = Arc::new(std::sync::Mutex::new((checkpoints, known)));
        for t in &section.tail {
            let org = OrgId::new(&t.org).context("tail org")?;
            let format = parse_format(t.format.as_deref()).map_err(anyhow::Error::msg)?;
            let path = t.path.clone();
            let intake = intake.clone();
            let stop = Arc::clone(&stop);
            let shared = Arc::clone(&shared);
            threads.push(
                std::thread::Builder::new()
                    .name("yagura-tail".into())
                    .spawn(move || tail_loop(path, org, format, intake, shared, stop))
                    .context("starting a file tail")?,
            );
        }
    }
    Ok(Stream {
        intake,
        events: store,
        stop,
        threads,
        listeners: Vec::new(),
    })
}

/// Every `every`: merges small splits and rewrites sealed organization-days into the store's
/// compacted split format (tiered storage: ingest writes format 3, a sealed day is rewritten
/// once into format 4). Until `stop`; a compaction under way finishes first (a kill during it
/// loses nothing: the catalogue swap is one transaction).
fn compaction_loop(store: &EventStore, every: Duration, stop: &AtomicBool) {
    let mut next = std::time::Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        if std::time::Instant::now() >= next {
            match store.compact(yagura_eventstore::CompactOptions::default()) {
                Ok(r) if r.splits_removed > 0 => tracing::info!(
                    removed = r.splits_removed,
                    added = r.splits_added,
                    events = r.docs_removed,
                    "event store compaction"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "event store compaction failed"),
            }
            next = std::time::Instant::now() + every;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

type SharedCheckpoints = Arc<
    std::sync::Mutex<(
        yagura_ingest::CheckpointFile,
        BTreeMap<String, yagura_ingest::Checkpoint>,
    )>,
>;

/// Follows one file: each poll's lines become one batch (id = path, inode and byte range, so a
/// re-read after a crash is an idempotent retry); the checkpoint moves only once the batch is
/// durable.
fn tail_loop(
    path: PathBuf,
    org: OrgId,
    format: Option<Format>,
    intake: Intake,
    checkpoints: SharedCheckpoints,
    stop: Arc<AtomicBool>,
) {
    let key = path.display().to_string();
    let start = checkpoints
        .lock()
        .map(|g| g.1.get(&key).copied())
        .unwrap_or(None);
    let mut tailer = match yagura_ingest::Tailer::new(&path, start, Default::default()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(path = %key, error = %e, "cannot follow file");
            return;
        }
    };
    let mut pending: Option<yagura_ingest::Batch> = None;
    while !stop.load(Ordering::Relaxed) {
        let batch = match pending.take() {
            Some(b) => b,
            None => match tailer.poll(5000) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(path = %key, error = %e, "tail poll failed");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            },
        };
        if batch.lines.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let mut body = Vec::new();
        for l in &batch.lines {
            match l {
                yagura_ingest::Line::Text(t) => {
                    body.extend_from_slice(t);
                    body.push(b'\n');
                }
                yagura_ingest::Line::TooLong { len, offset } => {
                    tracing::warn!(path = %key, len, offset, "line too long: skipped");
                    body.push(b'\n'); // keep line numbers
                }
            }
        }
        let id = String::from_utf8_lossy(&batch.id(&path)).into_owned();
        let id: String = id
            .chars()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        match intake.submit(&org, &id, format, &body, true) {
            Ok(s) => {
                for r in s.rejected.iter().take(5) {
                    tracing::warn!(path = %key, line = r.line, reason = %r.reason, "line rejected");
                }
                if let Ok(mut g) = checkpoints.lock() {
                    g.1.insert(key.clone(), batch.to);
                    let (file, map) = &*g;
                    if let Err(e) = file.store(map) {
                        tracing::warn!(error = %e, "storing tail checkpoints");
                    }
                }
            }
            Err(e) => {
                // Not durable: retry the same batch (same id) after a pause.
                tracing::warn!(path = %key, error = %e, "tail batch not stored; retrying");
                pending = Some(batch);
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Starts the syslog listeners of `section` (inside the async runtime). Messages are batched
/// (up to 2,000 or 200 ms) and stored with `wait`: when the log is behind, the batching task
/// stops draining the channel, the listeners' bounded channel fills, and TCP/TLS senders are
/// slowed by TCP itself (UDP counts drops).
pub async fn start_listeners(
    stream: &mut Stream,
    section: &IngestSection,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    for l in &section.syslog {
        let org = OrgId::new(&l.org).context("syslog org")?;
        let format = parse_format(l.format.as_deref()).map_err(anyhow::Error::msg)?;
        let protocol = match l.protocol.as_str() {
            "udp" => yagura_ingest::Protocol::Udp,
            "tcp" => yagura_ingest::Protocol::Tcp,
            _ => yagura_ingest::Protocol::Tls(
                tls.clone()
                    .context("a tls syslog listener needs the [tls] certificate")?,
            ),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<yagura_ingest::Message>(10_000);
        let config = yagura_ingest::ListenerConfig::new(org.as_str(), protocol);
        let listener = yagura_ingest::Listener::bind(l.listen, config, tx)
            .await
            .with_context(|| format!("syslog listener on {}", l.listen))?;
        eprintln!(
            "yagura syslog ({}) listening on {} for {org}",
            l.protocol,
            listener.local_addr()
        );
        let intake = stream.intake.clone();
        let name = format!("syslog/{org}/{}", listener.local_addr());
        tokio::spawn(async move {
            let mut seq = 0u64;
            let run = run_nonce();
            loop {
                let Some(first) = rx.recv().await else { break };
                let mut msgs = vec![first];
                let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
                while msgs.len() < 2000 {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(m)) => msgs.push(m),
                        _ => break,
                    }
                }
                let mut body = Vec::new();
                for m in msgs {
                    match m.body {
                        Ok(b) => {
                            body.extend(b.into_iter().filter(|c| *c != b'\n'));
                            body.push(b'\n');
                        }
                        Err(e) => tracing::warn!(peer = %m.peer, error = %e, "syslog framing"),
                    }
                }
                seq += 1;
                let id = format!("{name}/{run}/{seq}");
                let intake = intake.clone();
                let org = org.clone();
                // Retried until durable (queue full, backlog, disk full): meanwhile the channel
                // fills and TCP/TLS senders are slowed down; only an invalid batch is dropped.
                let res = tokio::task::spawn_blocking(move || {
                    loop {
                        match intake.submit(&org, &id, format, &body, true) {
                            Err(IntakeError::Invalid(m)) => return Err(m),
                            Err(e) => {
                                tracing::warn!(error = %e, "syslog batch not stored yet; retrying");
                                std::thread::sleep(Duration::from_secs(1));
                            }
                            Ok(s) => return Ok(s),
                        }
                    }
                })
                .await;
                match res {
                    Ok(Ok(s)) => {
                        for r in s.rejected.iter().take(5) {
                            tracing::warn!(listener = %name, line = r.line, reason = %r.reason, "syslog message rejected");
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(listener = %name, error = %e, "syslog batch rejected")
                    }
                    Err(e) => tracing::error!(listener = %name, error = %e, "syslog task"),
                }
            }
        });
        stream.listeners.push(listener);
    }
    Ok(())
}

/// A per-start nonce so that syslog batch ids of two runs never collide.
fn run_nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t:x}-{}", std::process::id())
}

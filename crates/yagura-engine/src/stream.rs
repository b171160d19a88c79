//! Streaming: the intake of `yagura serve` (bodies of pushed lines → durable batches) and the
//! consumer behind it (WAL → splits, detectors on the stream, alerts → state DB → incidents).
//!
//! # Exactly once, and detector state across restarts
//! The consumer works in [`EventStore::flush_with`]: while the splits of the pending batches
//! are built (on another thread), and before the catalogue transaction that publishes them and
//! moves the WAL checkpoint, the hook runs every detector over the new events in LSN order and
//! stores the alerts (deterministic ids: storing one twice is an update). Every
//! `checkpoint_events` events or `checkpoint_interval` (and on a clean stop) it also writes the
//! **detector checkpoint** (`detectors.json`: the last LSN the detectors have seen, each
//! ordered stage's serialized state, the open alert aggregates) and then moves the store's WAL
//! floor to that LSN ([`EventStore::retain_wal_after`]): the WAL keeps every record the detector
//! checkpoint does not cover, even once it is published in a split. After a crash the consumer
//! restores the detector checkpoint, replays the events published since (still in the WAL,
//! [`EventStore::replay_published`]) into the detectors only — not into the store —, and then
//! the store's own replay of the unpublished batches follows as usual (the detectors skip what
//! they have already seen). So no window in progress is forgotten and no event is counted twice.
//!
//! We chose serializing the state over replaying a window of the WAL because the analytics'
//! windows are long (hours to days of baselines): keeping that much WAL would defeat
//! truncation. Writing it at every flush, though, cost more than anything else the consumer
//! did once the state reached ~100 MB (BENCHMARKS.md, "Session 11"): a checkpoint every
//! `checkpoint_events` events bounds both its cost per event and the WAL kept for the replay.
//!
//! Sigma *correlation* windows (the built-in password-spray and brute-force rules, and any
//! loaded correlation rule) are part of that checkpoint: rsigma's `export_state` snapshot,
//! keyed by each correlation's stable identifier, so a checkpoint also survives a rule reload
//! (windows of rules no longer loaded are dropped).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use yagura_eventstore::{EventStore, PendingBatch, StoreError};
use yagura_formats::{Format, ReadOptions};
use yagura_model::{Alert, Event, OrgId, Scope, Timestamp};

use crate::aggregate::{AggregationConfig, Aggregator};
use crate::batch::Detectors;
use crate::incidents::{CorrelationConfig, correlate_into_store};

/// Errors of the intake.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The write-ahead log's queue is full: retry in a moment (HTTP 429).
    #[error("intake is busy (write-ahead log queue full): retry later")]
    Busy,
    /// The consumer is behind (too many events waiting for the store): retry later (HTTP 503).
    #[error("intake is saturated: {0}")]
    Backlog(String),
    /// The disk is full: nothing was written (HTTP 507).
    #[error("disk full: {0}")]
    DiskFull(String),
    /// The request itself is unacceptable (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// Anything else (HTTP 503: the log may be poisoned or closed).
    #[error("intake unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for IntakeError {
    fn from(e: StoreError) -> IntakeError {
        if e.is_disk_full() {
            IntakeError::DiskFull(e.to_string())
        } else if matches!(e, StoreError::Wal(yagura_eventstore::WalError::QueueFull)) {
            IntakeError::Busy
        } else if e.is_backpressure() {
            IntakeError::Backlog(e.to_string())
        } else if matches!(
            e,
            StoreError::Rejected(_) | StoreError::Wal(yagura_eventstore::WalError::InvalidBatch(_))
        ) {
            IntakeError::Invalid(e.to_string())
        } else {
            IntakeError::Unavailable(e.to_string())
        }
    }
}

/// A line of a pushed body that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReject {
    /// 1-based line number in the body (0: the body as a whole).
    pub line: u64,
    pub reason: String,
}

/// What happened to a pushed body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    /// Events stored (durable: fsynced) — or, for a duplicate, stored by the first attempt.
    pub accepted: u64,
    /// The batch id was already stored: nothing was stored twice.
    pub duplicate: bool,
    /// Lines not stored, with the reason.
    pub rejected: Vec<LineReject>,
}

/// Most rejected lines listed in one answer (the count is always complete).
pub const MAX_LISTED_REJECTS: usize = 1000;

/// The intake: parses pushed bodies (any format yagura reads, detected or named) into events of
/// one organization and appends them to the event store's write-ahead log.
#[derive(Debug, Clone)]
pub struct Intake {
    store: Arc<EventStore>,
    /// Events accepted since start (for metrics and tests).
    pub accepted: Arc<AtomicU64>,
}

impl Intake {
    pub fn new(store: Arc<EventStore>) -> Intake {
        Intake {
            store,
            accepted: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn store(&self) -> &Arc<EventStore> {
        &self.store
    }

    /// Parses `body` (JSON lines / NDJSON of ECS events by default; any yagura format when
    /// named or detected) and stores the good lines as one batch `batch_id` of organization
    /// `org`, returning once they are fsynced. A line naming another organization is rejected:
    /// an organization's key never writes another organization's events. `wait`: block while
    /// the WAL queue is full instead of failing with [`IntakeError::Busy`].
    pub fn submit(
        &self,
        org: &OrgId,
        batch_id: &str,
        format: Option<Format>,
        body: &[u8],
        wait: bool,
    ) -> Result<Submitted, IntakeError> {
        // Saturated: refuse before parsing (a refused body is sent again, and parsing it
        // each time would spend the CPU the consumer needs to catch up).
        self.store.admit()?;
        let (events, rejected) = parse_body(org, batch_id, format, body)?;
        if events.is_empty() {
            return Ok(Submitted {
                accepted: 0,
                duplicate: false,
                rejected,
            });
        }
        let n = events.len() as u64;
        let ack = if wait {
            self.store.ingest(batch_id, events)?
        } else {
            self.store.try_ingest(batch_id, events)?
        };
        if !ack.duplicate {
            self.accepted.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Submitted {
            accepted: if ack.duplicate {
                u64::from(ack.count)
            } else {
                n
            },
            duplicate: ack.duplicate,
            rejected,
        })
    }
}

/// Parses a pushed body into events of `org` and line rejects.
pub fn parse_body(
    org: &OrgId,
    label: &str,
    format: Option<Format>,
    body: &[u8],
) -> Result<(Vec<Event>, Vec<LineReject>), IntakeError> {
    let opts = ReadOptions {
        format,
        // Only a stamp for syslog lines without a year; never the wall clock otherwise.
        syslog_reference: Some(Timestamp::now()),
        ..ReadOptions::default()
    };
    let records = match yagura_formats::read_bytes(body, label, &opts) {
        Ok(r) => r,
        Err(e) => {
            return Ok((
                Vec::new(),
                vec![LineReject {
                    line: 0,
                    reason: e.to_string(),
                }],
            ));
        }
    };
    let mut events = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    let mut reject = |line: u64, reason: String| {
        if rejected.len() < MAX_LISTED_REJECTS {
            rejected.push(LineReject { line, reason });
        }
    };
    for r in records {
        match r {
            Ok(mut ev) => {
                match &ev.organization.id {
                    Some(o) if o != org => {
                        let line = ev.log.file.line.unwrap_or(0);
                        reject(
                            line,
                            format!("organization.id {o} is not the key's organization {org}"),
                        );
                        continue;
                    }
                    Some(_) => {}
                    None => ev.organization.id = Some(org.clone()),
                }
                events.push(ev);
            }
            Err(r) => reject(r.line, r.reason),
        }
    }
    Ok((events, rejected))
}

/// Tunables of the consumer.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Flush when this many events are pending…
    pub flush_events: usize,
    /// …or when the oldest pending event waited this long.
    pub flush_interval: Duration,
    pub aggregation: AggregationConfig,
    pub correlation: CorrelationConfig,
    /// Where the detector checkpoint is kept (`detectors.json`).
    pub checkpoint_path: PathBuf,
    /// The organizations whose incidents alerts are correlated with (a system job's scope).
    pub scope: Scope,
    /// Merge small splits every this many flushes (0: never).
    pub compact_every: u32,
    /// Write the detector checkpoint once this many events were detected since the last one…
    pub checkpoint_events: u64,
    /// …or this long after the last one (when events came meanwhile); and always on a clean
    /// stop. The events since the last checkpoint are kept in the WAL and replayed into the
    /// detectors after a crash.
    pub checkpoint_interval: Duration,
}

/// The detector checkpoint (see the module docs).
#[derive(Debug, Default, Serialize, Deserialize)]
struct DetectorCheckpoint {
    /// Last LSN every detector has seen.
    lsn: u64,
    /// Highest event time seen (drives the closing of alert aggregates).
    watermark: Option<Timestamp>,
    /// State of each ordered stage that has some, by stage name.
    stages: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>,
    /// Alert aggregates still open.
    open_alerts: Vec<Alert>,
}

/// Figures of a running consumer.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub flushes: AtomicU64,
    pub events: AtomicU64,
    pub alerts: AtomicU64,
    pub failures: AtomicU64,
    /// LSN of the last detector checkpoint written.
    pub detector_lsn: AtomicU64,
    /// Detector checkpoints written.
    pub checkpoints: AtomicU64,
    /// Events replayed into the detectors at start (published after the detector checkpoint).
    pub replayed: AtomicU64,
    /// Events the detectors never saw: published after the detector checkpoint but no longer in
    /// the WAL when the consumer started (a checkpoint lost, or a WAL truncated by another
    /// writer of the store). Their windows are incomplete; the events themselves are stored.
    pub replay_gap: AtomicU64,
}

/// Errors of the consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("detector checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The consumer: drains the event store's pending batches into splits, running the detectors
/// on them (see the module docs for the ordering that makes it exactly-once).
pub struct Consumer {
    store: Arc<EventStore>,
    state: Arc<dyn yagura_store::StateStore>,
    detectors: Detectors,
    aggregator: Aggregator,
    opts: ConsumerOptions,
    /// Last LSN fed to the detectors (in memory: a failed publish is retried without feeding
    /// the same events twice).
    seen_lsn: u64,
    watermark: Option<Timestamp>,
    pub stats: Arc<ConsumerStats>,
    flushes: u32,
    /// LSN covered by the last detector checkpoint written (the store's WAL floor).
    checkpoint_lsn: u64,
    last_checkpoint: Instant,
    /// Set by [`Consumer::run`] when stopping: the next hook writes a checkpoint.
    stopping: bool,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("detectors", &self.detectors)
            .field("seen_lsn", &self.seen_lsn)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer resuming from the detector checkpoint at `opts.checkpoint_path` (if any):
    /// restores the detectors' state, keeps the store's WAL from that checkpoint on, and
    /// replays into the detectors the events the store published after it (see the module
    /// docs).
    pub fn new(
        store: Arc<EventStore>,
        state: Arc<dyn yagura_store::StateStore>,
        mut detectors: Detectors,
        opts: ConsumerOptions,
    ) -> Result<Consumer, ConsumerError> {
        let cp_err = |reason: String| ConsumerError::Checkpoint {
            path: opts.checkpoint_path.clone(),
            reason,
        };
        let cp: DetectorCheckpoint = match std::fs::read(&opts.checkpoint_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| cp_err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DetectorCheckpoint::default(),
            Err(e) => return Err(cp_err(e.to_string())),
        };
        for stage in detectors.ordered.iter_mut() {
            if let Some(st) = cp.stages.get(stage.name()) {
                stage
                    .restore(st)
                    .map_err(|e| cp_err(format!("stage {}: {e}", stage.name())))?;
            }
        }
        // Before any flush of this process: the WAL keeps what the checkpoint does not cover.
        store.retain_wal_after(cp.lsn);
        let aggregator = Aggregator::resume(opts.aggregation, cp.open_alerts);
        let stats = Arc::new(ConsumerStats::default());
        stats.detector_lsn.store(cp.lsn, Ordering::Relaxed);
        let mut consumer = Consumer {
            store,
            state,
            detectors,
            aggregator,
            opts,
            seen_lsn: cp.lsn,
            watermark: cp.watermark,
            stats,
            flushes: 0,
            checkpoint_lsn: cp.lsn,
            last_checkpoint: Instant::now(),
            stopping: false,
        };
        consumer.catch_up()?;
        tracing::info!(
            detector_lsn = consumer.seen_lsn,
            replayed = consumer.stats.replayed.load(Ordering::Relaxed),
            "stream consumer resumes"
        );
        Ok(consumer)
    }

    /// Replays into the detectors the events published after the detector checkpoint (a crash
    /// since it was written), stores the alerts they raise (the same ids as before the crash:
    /// updates) and checkpoints.
    fn catch_up(&mut self) -> Result<(), ConsumerError> {
        let after = self.seen_lsn;
        let through = self.store.checkpoint();
        if through <= after {
            return Ok(());
        }
        let started = Instant::now();
        let mut raw = Vec::new();
        let store = Arc::clone(&self.store);
        let read = store.replay_published(after, |lsn, ev| {
            self.feed(ev, &mut raw);
            self.seen_lsn = lsn;
            Ok::<(), std::convert::Infallible>(())
        })?;
        let missed = match read.first_lsn {
            Some(first) => first - after - 1,
            None => through - after,
        };
        self.seen_lsn = self.seen_lsn.max(through);
        self.stats.replayed.store(read.records, Ordering::Relaxed);
        self.stats.replay_gap.store(missed, Ordering::Relaxed);
        if missed > 0 {
            tracing::warn!(
                missed,
                detector_checkpoint = after,
                store_checkpoint = through,
                "stream consumer: published events no longer in the write-ahead log were not \
                 seen by the detectors (their windows are incomplete; the events are stored)"
            );
        }
        self.store_alerts(raw)
            .and_then(|()| self.write_checkpoint())
            .map_err(|reason| ConsumerError::Checkpoint {
                path: self.opts.checkpoint_path.clone(),
                reason,
            })?;
        tracing::info!(
            events = read.records,
            secs = started.elapsed().as_secs_f64(),
            "stream consumer: detectors caught up with the store"
        );
        Ok(())
    }

    /// One round: publishes every pending batch (with detection). Returns the events
    /// published.
    pub fn step(&mut self) -> Result<u64, ConsumerError> {
        let store = Arc::clone(&self.store);
        let report = store.flush_with(|batches| self.detect(batches))?;
        if report.events > 0 || report.splits > 0 {
            self.stats.flushes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .events
                .fetch_add(report.events, Ordering::Relaxed);
            self.flushes += 1;
            if self.opts.compact_every > 0 && self.flushes.is_multiple_of(self.opts.compact_every) {
                match self
                    .store
                    .compact(yagura_eventstore::CompactOptions::default())
                {
                    Ok(r) => tracing::debug!(?r, "compaction"),
                    Err(e) => tracing::warn!(error = %e, "compaction failed"),
                }
            }
        }
        Ok(report.events)
    }

    /// Runs every detector over one event.
    fn feed(&mut self, ev: &Event, raw: &mut Vec<Alert>) {
        for stage in self.detectors.per_event.iter() {
            stage.on_event(ev, raw);
        }
        for stage in self.detectors.ordered.iter_mut() {
            stage.on_event(ev, raw);
        }
        if self.watermark.is_none_or(|w| ev.timestamp > w) {
            self.watermark = Some(ev.timestamp);
        }
    }

    /// The flush hook: detectors over the new events, alerts stored, and the detector
    /// checkpoint when it is due.
    fn detect(&mut self, batches: &[Arc<PendingBatch>]) -> Result<(), String> {
        let mut raw = Vec::new();
        let mut last = self.seen_lsn;
        for b in batches {
            for (i, ev) in b.events().enumerate() {
                let lsn = b.first_lsn() + i as u64;
                last = last.max(lsn);
                if lsn <= self.seen_lsn {
                    continue; // seen before a crash or a failed publish
                }
                self.feed(ev, &mut raw);
            }
        }
        self.seen_lsn = last;
        self.store_alerts(raw)?;
        if self.checkpoint_due() {
            self.write_checkpoint()?;
        }
        Ok(())
    }

    /// Aggregates the raised alerts and stores the closed and the open aggregates.
    fn store_alerts(&mut self, raw: Vec<Alert>) -> Result<(), String> {
        self.stats
            .alerts
            .fetch_add(raw.len() as u64, Ordering::Relaxed);
        for a in raw {
            self.aggregator.push(a);
        }
        let mut alerts = match self.watermark {
            Some(w) => self.aggregator.drain_idle(w),
            None => Vec::new(),
        };
        // Open aggregates are stored too (same ids as when they close: an update).
        alerts.extend(self.aggregator.open_alerts());
        if !alerts.is_empty() {
            correlate_into_store(
                self.state.as_ref(),
                &self.opts.scope,
                &alerts,
                &self.opts.correlation,
                Timestamp::now(),
            )
            .map_err(|e| format!("storing alerts: {e}"))?;
        }
        Ok(())
    }

    fn checkpoint_due(&self) -> bool {
        let since = self.seen_lsn.saturating_sub(self.checkpoint_lsn);
        since > 0
            && (self.stopping
                || since >= self.opts.checkpoint_events
                || self.last_checkpoint.elapsed() >= self.opts.checkpoint_interval)
    }

    /// Writes the detector checkpoint at `seen_lsn` (every event up to it is durable in the
    /// WAL), then lets the store truncate the WAL up to it.
    fn write_checkpoint(&mut self) -> Result<(), String> {
        let mut stages = std::collections::BTreeMap::new();
        for stage in self.detectors.ordered.iter() {
            if let Some(st) = stage.checkpoint()? {
                stages.insert(stage.name().to_owned(), st);
            }
        }
        let cp = DetectorCheckpoint {
            lsn: self.seen_lsn,
            watermark: self.watermark,
            stages,
            open_alerts: self.aggregator.open_alerts(),
        };
        write_atomic(&self.opts.checkpoint_path, &cp)
            .map_err(|e| format!("writing {}: {e}", self.opts.checkpoint_path.display()))?;
        self.store.retain_wal_after(cp.lsn);
        self.checkpoint_lsn = cp.lsn;
        self.last_checkpoint = Instant::now();
        self.stats.detector_lsn.store(cp.lsn, Ordering::Relaxed);
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs until `stop` is set: flushes when enough events are pending or the oldest waited
    /// `flush_interval`; a failing flush (disk full, state DB) is retried with a growing pause
    /// while intake keeps answering from the WAL (and refuses with backpressure once the
    /// pending bound is reached). A last flush on stop.
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        let mut oldest: Option<Instant> = None;
        let mut pause = Duration::from_millis(50);
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            self.stopping = stopping;
            let pending = self.store.pending_events();
            if pending > 0 && oldest.is_none() {
                oldest = Some(Instant::now());
            }
            let due = pending >= self.opts.flush_events
                || oldest.is_some_and(|t| t.elapsed() >= self.opts.flush_interval)
                || (stopping && pending > 0);
            if due {
                match self.step() {
                    Ok(_) => {
                        oldest = None;
                        pause = Duration::from_millis(50);
                    }
                    Err(e) => {
                        self.stats.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "stream consumer: flush failed, retrying");
                        if stopping {
                            return;
                        }
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
            if stopping {
                // Nothing was pending: the detectors may still be ahead of their checkpoint.
                if self.checkpoint_due()
                    && let Err(e) = self.write_checkpoint()
                {
                    tracing::warn!(error = %e, "stream consumer: last detector checkpoint failed");
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Writes `value` as JSON to `path` atomically and durably (temporary file, fsync, rename,
/// fsync of the directory).
fn write_atomic(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        // The analytics' state of a large estate is tens of MB of JSON per flush: write it in
        // 1 MiB pieces rather than the default 8 KiB (one `write` per piece).
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut f);
        serde_json::to_writer(&mut w, value).map_err(std::io::Error::other)?;
        w.flush()?;
        drop(w);
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;

//! The event store: WAL in front, tantivy splits behind, the catalogue in between.
//!
//! Data directory layout:
//!
//! ```text
//! <dir>/wal/{first_lsn:020}.wal      write-ahead log segments (crate::wal)
//! <dir>/catalogue.sqlite             published splits + WAL checkpoint (crate::catalogue)
//! <dir>/splits/<org>/<split id>/     one tantivy index per split (crate::split)
//! ```
//!
//! Life of an event: [`EventStore::ingest`] validates the batch, writes it to the WAL (durable
//! when the call returns) and keeps it in memory (*pending*). [`EventStore::flush`] builds one
//! split per organization and time bucket from the contiguous run of pending batches after
//! the checkpoint, seals each with a tantivy commit, then publishes the splits and the new
//! checkpoint in one catalogue transaction, and finally drops WAL segments at or below it.
//! Hunts read published splits and the pending events, so an acknowledged event is always
//! visible to a hunt exactly once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use yagura_model::{Event, OrgId, Scope, Timestamp};

use crate::catalogue::{Catalogue, CatalogueError, PublishedBatch, SplitMeta};
use crate::retention::RetentionPlan;
pub use crate::retention::RetentionPolicy;
use crate::split::{self, Fields, Row, SplitCache, SplitError};
use crate::terms::{event_terms, indicator_stem, normalize_indicator};
use crate::wal::{OpenError, Wal, WalError, WalOptions};
use tantivy::DocAddress;

/// Errors of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error("batch rejected: {}", .0.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<Reject>),
    #[error(
        "event store is over its memory bound ({pending} events waiting for a flush that fails): {reason}"
    )]
    Backpressure { pending: usize, reason: String },
    #[error("event store I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write-ahead log record {lsn} is not a valid event: {reason}")]
    BadLogRecord { lsn: u64, reason: String },
    #[error("invalid hunt: {0}")]
    InvalidHunt(String),
    #[error("flush hook failed (nothing published): {0}")]
    Hook(String),
    #[error("split format {0} cannot be built (only 3 and 4)")]
    UnsupportedFormat(u32),
    #[error(
        "event store {0} is open in another process (a running `yagura serve`? hunt through its \
         API, /api/v1/hunt, or stop it first)"
    )]
    InUse(PathBuf),
    #[error("event store opened read-only: {0} is not possible")]
    ReadOnly(&'static str),
    /// The catalogue database describes another store directory (or none) than the one opened:
    /// opening would delete the directory's splits as orphans, so nothing is done.
    #[error("split catalogue mismatch: {0}")]
    ForeignCatalogue(String),
}

impl StoreError {
    /// The batch was refused for lack of room (disk full): retry once space is freed.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Wal(WalError::DiskFull(_)) => true,
            StoreError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(28 | 122))
                    || source.kind() == std::io::ErrorKind::StorageFull
            }
            _ => false,
        }
    }

    /// The batch was refused because intake is saturated (queue full or too many pending
    /// events): retry later.
    pub fn is_backpressure(&self) -> bool {
        matches!(
            self,
            StoreError::Wal(WalError::QueueFull) | StoreError::Backpressure { .. }
        )
    }
}

/// Why one record of a batch was rejected (1-based record number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub record: usize,
    pub reason: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}: {}", self.record, self.reason)
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The splits of a hunt opened before its lookups (each with whether this hunt opened it) and
/// the dictionary fields it searches.
type Opened<'a> = (&'a [(Arc<split::OpenSplit>, bool)], &'a [&'a str]);

/// Threads opening the splits of a large hunt with read-ahead: opening is a few small
/// dependent reads per split, so more threads than cores keep more of them in flight.
const OPEN_THREADS: usize = 8;

/// Options of the event store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub wal: WalOptions,
    /// The SQLite database holding the split catalogue: `None` = `catalogue.sqlite` in the
    /// store's directory (a store on its own: tests, benches, the demo); `Some(path)` = the
    /// platform's state database, beside the state tables, as DESIGN.md places the segment
    /// catalogue (`yagura` passes `<data-dir>/state.db`, or `serve`'s `database`). A store's
    /// own `catalogue.sqlite` found when opening it with an external catalogue that describes no
    /// store yet is moved there (its rows copied in one transaction, the file renamed
    /// `catalogue.sqlite.moved`).
    pub catalogue: Option<PathBuf>,
    /// Width of a split's time bucket (events of one organization and bucket share a split).
    pub split_span_secs: i64,
    /// `ingest` flushes when this many events are pending.
    pub flush_events: usize,
    /// Beyond this many pending events (flushes failing), `ingest` refuses with backpressure.
    pub max_pending_events: usize,
    /// Memory budget of tantivy's writer while building a split.
    pub writer_memory: usize,
    /// Threads building the splits of one flush (each split is built by one thread).
    pub build_threads: usize,
    /// Threads running the term lookups of one hunt (each split is looked up by one thread).
    /// With `hunt_read_ahead`, a hunt of at least [`split::PREFETCH_MIN_TERMS`] indicators
    /// opens its splits, and looks up those it opened, on at least 8 threads (waiting on the
    /// disk, not computing).
    pub hunt_threads: usize,
    /// Hunts map split files with `MADV_RANDOM` and read ahead exactly the dictionary FSTs,
    /// postings and doc-store blocks they use, all splits at once ([`crate::readahead`]); off,
    /// they read through the kernel's read-around (the read path before session 10, kept as
    /// the reference of tests and measurements).
    pub hunt_read_ahead: bool,
    /// Ids of published batches are remembered for this many records behind the checkpoint
    /// (a client retry within that window is acknowledged without storing twice, even after
    /// the WAL segment holding the batch is gone).
    pub batch_id_window: u64,
    /// Split format that flushes build: [`split::FORMAT_V3`] (events in tantivy's doc store,
    /// the default) or [`split::FORMAT`] (4: the columnar event block). Format 4 stores 0.87×
    /// the gzip of the raw logs against format 3's 1.22× at 1M-event splits (BENCHMARKS.md,
    /// "Event store", session 10), but builds splits with ~45 % more CPU (zstd level 9 over
    /// every column): ingest writes format 3 and compaction rewrites sealed windows into
    /// `compacted_split_format`.
    pub split_format: u32,
    /// Split format that compaction writes for sealed windows ([`CompactOptions::
    /// seal_after_secs`]): [`split::FORMAT`] (4, the default) or [`split::FORMAT_V3`]. Ingest
    /// writes `split_format` (3: cheap to build) and a sealed organization-day is rewritten
    /// once into format 4 (0.87× the gzip of the raw logs at 1M-event splits, BENCHMARKS.md
    /// "Event store", session 10).
    pub compacted_split_format: u32,
    /// zstd level of the columns of a split's event block (split format 4).
    pub block_level: i32,
    /// Rows per chunk of a split's event block: a hunt decompresses, per chunk holding a hit,
    /// the columns of the hit's shape in that chunk.
    pub block_chunk_rows: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            wal: WalOptions::default(),
            catalogue: None,
            split_span_secs: 3600,
            flush_events: 500_000,
            max_pending_events: 2_000_000,
            writer_memory: 64 << 20,
            build_threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .clamp(1, 4),
            hunt_threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .clamp(1, 8),
            hunt_read_ahead: true,
            batch_id_window: 100_000_000,
            split_format: split::FORMAT_V3,
            compacted_split_format: split::FORMAT,
            block_level: split::BLOCK_ZSTD_LEVEL,
            block_chunk_rows: split::BLOCK_CHUNK_ROWS,
        }
    }
}

/// Acknowledgement of an ingested batch (durable on return).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestAck {
    pub first_lsn: u64,
    pub count: u32,
    /// The batch id was already ingested: nothing was stored twice.
    pub duplicate: bool,
}

/// A durable batch not yet published in a split (see [`EventStore::flush_with`]).
#[derive(Debug)]
pub struct PendingBatch {
    first_lsn: u64,
    batch_id: Vec<u8>,
    events: Vec<Event>,
    /// `jsons[i]`: the ECS JSON of `events[i]` (the WAL payload; the stored event). Kept
    /// apart from `events` so that a batch's events are never moved one by one.
    jsons: Vec<String>,
}

impl PendingBatch {
    /// LSN of the batch's first event (event `i` has `first_lsn + i`).
    pub fn first_lsn(&self) -> u64 {
        self.first_lsn
    }

    /// The batch id the client gave.
    pub fn batch_id(&self) -> &[u8] {
        &self.batch_id
    }

    /// The events, in LSN order.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &Event> {
        self.events.iter()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[derive(Debug, Default)]
struct Pending {
    /// Last LSN published in a split.
    checkpoint: u64,
    batches: BTreeMap<u64, Arc<PendingBatch>>,
    events: usize,
}

#[derive(Debug)]
struct Inner {
    catalogue: Catalogue,
    cache: SplitCache,
}

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub splits: usize,
    pub events: u64,
    pub checkpoint: u64,
    pub wal_segments_removed: usize,
}

/// An equality filter on an ECS field (`event.dataset=dns`, `source.ip=10.0.0.1`); text is
/// compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFilter {
    pub field: String,
    pub value: String,
}

impl FieldFilter {
    /// Parses `field=value`.
    pub fn parse(s: &str) -> Result<FieldFilter, StoreError> {
        let (f, v) = s
            .split_once('=')
            .ok_or_else(|| StoreError::InvalidHunt(format!("filter {s:?} is not field=value")))?;
        let f = f.trim();
        if f.is_empty() {
            return Err(StoreError::InvalidHunt(format!(
                "filter {s:?} has no field"
            )));
        }
        Ok(FieldFilter {
            field: f.to_string(),
            value: v.trim().to_string(),
        })
    }

    fn matches(&self, ev: &Event) -> bool {
        let mut hit = false;
        ev.for_each_value(&self.field, |v| {
            if !hit && v.to_text().eq_ignore_ascii_case(&self.value) {
                hit = true;
            }
        });
        hit
    }
}

/// A hunt: events of the organizations in `scope`, in `[from, to)`, bearing any of the
/// `indicators` (all events when empty) and passing every filter.
#[derive(Debug, Clone, Default)]
pub struct HuntQuery {
    pub scope: Scope,
    pub indicators: Vec<String>,
    pub filters: Vec<FieldFilter>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Most events returned (counts are always complete).
    pub limit: Option<usize>,
}

/// One matching event.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntHit {
    pub org: OrgId,
    /// The normalized indicators the event bears.
    pub matched: Vec<String>,
    pub event: Event,
}

/// The answer to a hunt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HuntResult {
    /// Matching events, by time (at most `limit`).
    pub hits: Vec<HuntHit>,
    /// Matching events per organization (all of them, regardless of `limit`).
    pub counts: BTreeMap<OrgId, u64>,
    /// Splits opened after pruning by scope and time.
    pub splits_searched: usize,
    /// Pending (not yet flushed) events examined.
    pub pending_scanned: usize,
}

impl HuntResult {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What retention or compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub splits_removed: usize,
    pub splits_added: usize,
    pub bytes_removed: u64,
    pub docs_removed: u64,
}

/// Compaction settings (see [`EventStore::compact_at`]): splits under `small_docs` documents
/// of one organization and the same `window_secs` window are merged, up to `max_docs` per
/// output split; once the window is sealed (ended `seal_after_secs` ago; `None`: never), its
/// splits are rewritten into the store's `compacted_split_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactOptions {
    pub small_docs: u64,
    pub window_secs: i64,
    pub max_docs: u64,
    /// A window is sealed this long after its end (late events after that land in new
    /// splits, rewritten by a later compaction with the window's other small splits).
    pub seal_after_secs: Option<i64>,
    /// Output splits built at once (each holds its inputs' events in memory while built).
    pub threads: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            small_docs: 200_000,
            window_secs: 86_400,
            max_docs: 5_000_000,
            seal_after_secs: Some(2 * 3600),
            threads: 1,
        }
    }
}

/// How compaction writes one output split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// tantivy's segment merge of splits of this format (no re-indexing).
    Merge(u32),
    /// Events read back and indexed again into this format ([`split::rebuild`]).
    Rebuild(u32),
}

/// Packs `splits` (in order) into groups of at most `max_docs` documents (a split larger than
/// that is a group of its own).
fn pack_splits(splits: Vec<SplitMeta>, max_docs: u64) -> Vec<Vec<SplitMeta>> {
    let mut packs: Vec<Vec<SplitMeta>> = Vec::new();
    let mut docs = 0u64;
    for s in splits {
        match packs.last_mut() {
            Some(p) if docs.saturating_add(s.num_docs) <= max_docs => {
                docs += s.num_docs;
                p.push(s);
            }
            _ => {
                docs = s.num_docs;
                packs.push(vec![s]);
            }
        }
    }
    packs
}

/// Store-wide figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub splits: usize,
    pub docs: u64,
    pub split_bytes: u64,
    pub wal_bytes: u64,
    pub pending_events: usize,
    pub checkpoint: u64,
}

/// The event store.
#[derive(Debug)]
pub struct EventStore {
    dir: PathBuf,
    fields: Fields,
    opts: StoreOptions,
    /// The write-ahead log's writer; `None` when opened read-only.
    wal: Option<Wal>,
    pending: Mutex<Pending>,
    inner: Mutex<Inner>,
    /// Serializes flush, retention and the catalogue swaps of compaction (they all rewrite
    /// the catalogue).
    maintenance: Mutex<()>,
    /// One compaction at a time (it builds its outputs without the maintenance lock).
    compaction: Mutex<()>,
    /// Directories of splits that compaction replaced or retention removed, and when: deleted
    /// [`RETIRE_GRACE`] later (by a later swap, compaction or retention,
    /// [`EventStore::purge_retired_splits`], or when the store is dropped), so that a hunt
    /// that listed them in the catalogue just before the swap can still open them. Not in the
    /// catalogue: a crash leaves them to the next open, which deletes them.
    retired: Mutex<Vec<(std::time::Instant, PathBuf)>>,
    /// WAL records above this LSN are kept even once published ([`EventStore::
    /// retain_wal_after`]); `u64::MAX`: no floor, a flush truncates through its checkpoint.
    wal_floor: std::sync::atomic::AtomicU64,
    /// `<dir>/lock`, locked exclusively for the store's lifetime: a second process opening the
    /// store would delete the splits the first is building as orphans and cut its WAL's tail
    /// being written as torn.
    /// `None` when opened read-only ([`EventStore::open_read_only`]).
    _lock: Option<std::fs::File>,
}

/// How long the files of a split replaced by compaction or removed by retention outlive its
/// catalogue row.
const RETIRE_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

impl Drop for EventStore {
    fn drop(&mut self) {
        self.purge_retired(std::time::Duration::ZERO);
    }
}

fn remove_split_dir(p: &Path) {
    if let Err(e) = std::fs::remove_dir_all(p) {
        tracing::warn!(path = %p.display(), error = %e, "could not delete split files");
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves consistent data here (every mutation is a single
    // assignment or insert), so poisoning is cleared rather than propagated.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EventStore {
    /// Opens (or creates) the store in `dir`: removes unpublished split directories, replays
    /// the WAL after the checkpoint into the pending events.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<EventStore, StoreError> {
        for f in [opts.split_format, opts.compacted_split_format] {
            if f != split::FORMAT && f != split::FORMAT_V3 {
                return Err(StoreError::UnsupportedFormat(f));
            }
        }
        std::fs::create_dir_all(dir.join("splits")).map_err(io_err(dir))?;
        let lock_path = dir.join("lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    source: e,
                });
            }
        }
        let catalogue = open_catalogue(dir, &opts, true)?;
        let checkpoint = catalogue.checkpoint()?;
        let published: BTreeSet<(String, String)> = catalogue
            .all()?
            .into_iter()
            .map(|s| (s.org.as_str().to_string(), s.id))
            .collect();
        remove_orphans(&dir.join("splits"), &published)?;

        let mut assembler = PendingAssembler {
            pending: Pending {
                checkpoint,
                ..Pending::default()
            },
            current: None,
        };
        let (wal, stats) = Wal::open(&dir.join("wal"), opts.wal.clone(), checkpoint, |rec| {
            assembler.push(rec)
        })
        .map_err(open_error)?;
        tracing::info!(
            checkpoint,
            replayed = stats.records_replayed,
            truncated = stats.truncated_bytes,
            "event store opened"
        );
        Ok(EventStore::assemble(
            dir,
            opts,
            catalogue,
            assembler.pending,
            Some(wal),
            Some(lock_file),
        ))
    }

    /// Opens the store in `dir` for hunting only, beside the process that has it open (a
    /// running `yagura serve`): no lock, nothing deleted or truncated, no WAL writer. The
    /// published splits are read through the catalogue; the events acknowledged but not yet
    /// published are read from the WAL's segments as they are now (a batch being written is
    /// left out). Ingest, flush, compaction and retention fail with [`StoreError::ReadOnly`].
    /// A split that the owner's compaction or retention deletes during a long hunt (60 s after
    /// unpublishing it) fails that hunt with an I/O error rather than giving partial answers.
    pub fn open_read_only(dir: &Path, opts: StoreOptions) -> Result<EventStore, StoreError> {
        if !EventStore::exists(dir) {
            return Err(StoreError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no event store here (no store-id, no catalogue)",
                ),
            });
        }
        let catalogue = open_catalogue(dir, &opts, false)?;
        let checkpoint = catalogue.checkpoint()?;
        let mut assembler = PendingAssembler {
            pending: Pending {
                checkpoint,
                ..Pending::default()
            },
            current: None,
        };
        crate::wal::read_segments(&dir.join("wal"), checkpoint, u64::MAX, true, |rec| {
            assembler.push(rec)
        })
        .map_err(open_error)?;
        Ok(EventStore::assemble(
            dir,
            opts,
            catalogue,
            assembler.pending,
            None,
            None,
        ))
    }

    /// The store's handle around its opened parts.
    fn assemble(
        dir: &Path,
        opts: StoreOptions,
        catalogue: Catalogue,
        pending: Pending,
        wal: Option<Wal>,
        lock: Option<std::fs::File>,
    ) -> EventStore {
        EventStore {
            dir: dir.to_path_buf(),
            fields: Fields {
                block_level: opts.block_level,
                block_chunk_rows: opts.block_chunk_rows,
                ..if opts.split_format == split::FORMAT_V3 {
                    Fields::v3()
                } else {
                    Fields::new()
                }
            },
            opts,
            wal,
            pending: Mutex::new(pending),
            inner: Mutex::new(Inner {
                catalogue,
                cache: SplitCache::default(),
            }),
            maintenance: Mutex::new(()),
            compaction: Mutex::new(()),
            retired: Mutex::new(Vec::new()),
            wal_floor: std::sync::atomic::AtomicU64::new(u64::MAX),
            _lock: lock,
        }
    }

    /// Whether `dir` holds an event store (its `store-id`, or its own catalogue from before the
    /// identity).
    pub fn exists(dir: &Path) -> bool {
        dir.join(STORE_ID_FILE).is_file() || dir.join(OWN_CATALOGUE).is_file()
    }

    /// The WAL's writer, or [`StoreError::ReadOnly`] naming what `needs` it.
    fn writable(&self, needs: &'static str) -> Result<&Wal, StoreError> {
        self.wal.as_ref().ok_or(StoreError::ReadOnly(needs))
    }

    /// Keeps the write-ahead log's records with LSN above `lsn` even once they are published
    /// in splits (a flush then deletes only segments wholly at or below `lsn`). A stream
    /// consumer whose detectors checkpoint their state less often than the store publishes
    /// sets it to its detector checkpoint's LSN, so that after a crash the events published
    /// since can be replayed into its detectors ([`EventStore::replay_published`]). The floor
    /// is not persisted: the consumer sets it again when it starts, before its first flush.
    pub fn retain_wal_after(&self, lsn: u64) {
        self.wal_floor
            .store(lsn, std::sync::atomic::Ordering::SeqCst);
    }

    /// The LSN through which events are published in splits (the store's WAL checkpoint).
    pub fn checkpoint(&self) -> u64 {
        lock(&self.pending).checkpoint
    }

    /// Hands `on_event` the events published in splits with LSN above `after` that are still
    /// in the write-ahead log (kept by [`EventStore::retain_wal_after`]), in LSN order and as
    /// the flushes showed them to their hook: a batch that a flush did not store because its
    /// id was already published is left out here too. Returns what was read; a
    /// [`ReadBack::first_lsn`] above `after + 1` means the log no longer held the events in
    /// between (they were truncated before a floor protected them).
    pub fn replay_published<E: std::fmt::Display>(
        &self,
        after: u64,
        mut on_event: impl FnMut(u64, &Event) -> Result<(), E>,
    ) -> Result<crate::wal::ReadBack, StoreError> {
        let through = self.checkpoint();
        // Whether the batch being read was stored by its flush (decided at its first record).
        let mut stored = true;
        let replay = |rec: crate::wal::ReplayRecord<'_>| -> Result<(), StoreError> {
            if rec.index == 0 || rec.lsn == after + 1 {
                let first_lsn = rec.lsn - u64::from(rec.index);
                stored = match lock(&self.inner).catalogue.batch(rec.batch_id)? {
                    Some(b) => b.first_lsn == first_lsn,
                    // Published so long ago that the catalogue forgot its id: it was stored.
                    None => true,
                };
            }
            if !stored {
                return Ok(());
            }
            let ev = parse_log_record(&rec)?;
            on_event(rec.lsn, &ev).map_err(|e| StoreError::Hook(e.to_string()))
        };
        crate::wal::read_segments(&self.dir.join("wal"), after, through, false, replay)
            .map_err(open_error)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn split_path(&self, org: &OrgId, id: &str) -> PathBuf {
        self.dir.join("splits").join(org.as_str()).join(id)
    }

    /// Validates and durably stores a batch of events under `batch_id`. Returns once the batch
    /// is fsynced. Every event must carry `organization.id`; otherwise the whole batch is
    /// rejected with the reasons and nothing is written. A retried `batch_id` is acknowledged
    /// again without storing anything twice.
    pub fn ingest(&self, batch_id: &str, events: Vec<Event>) -> Result<IngestAck, StoreError> {
        self.ingest_inner(batch_id, events, true)
    }

    /// Like [`EventStore::ingest`], but refuses with backpressure
    /// ([`StoreError::is_backpressure`]: WAL queue full) instead of waiting for room in the
    /// write-ahead log's queue: for callers that answer "429, retry later".
    pub fn try_ingest(&self, batch_id: &str, events: Vec<Event>) -> Result<IngestAck, StoreError> {
        self.ingest_inner(batch_id, events, false)
    }

    /// Refuses with backpressure ([`StoreError::Backpressure`]) while the events waiting for a
    /// flush are at `max_pending_events`, as [`EventStore::ingest`] would: lets an intake
    /// refuse a body before spending CPU on parsing it.
    pub fn admit(&self) -> Result<(), StoreError> {
        let p = lock(&self.pending);
        if p.events >= self.opts.max_pending_events {
            return Err(StoreError::Backpressure {
                pending: p.events,
                reason: "flush is not keeping up or failing".into(),
            });
        }
        Ok(())
    }

    fn ingest_inner(
        &self,
        batch_id: &str,
        events: Vec<Event>,
        wait: bool,
    ) -> Result<IngestAck, StoreError> {
        // A retry of a batch published long ago (its WAL segment deleted) is still known.
        if let Some(b) = lock(&self.inner).catalogue.batch(batch_id.as_bytes())? {
            return Ok(IngestAck {
                first_lsn: b.first_lsn,
                count: b.count,
                duplicate: true,
            });
        }
        let mut jsons = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut rejects = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            if ev.org().is_none() {
                rejects.push(Reject {
                    record: i + 1,
                    reason: "no organization.id".into(),
                });
                continue;
            }
            // Room for a typical event up front: `to_string` starts at 128 bytes and grows
            // twice for the ~330-byte events of an HTTP push.
            let mut buf = Vec::with_capacity(512);
            match serde_json::to_writer(&mut buf, ev) {
                Ok(()) => {
                    payloads.push(buf.clone());
                    // serde_json writes UTF-8 only; a failure here would be a serde_json bug,
                    // reported like any serialization failure.
                    match String::from_utf8(buf) {
                        Ok(json) => jsons.push(json),
                        Err(e) => rejects.push(Reject {
                            record: i + 1,
                            reason: format!("cannot serialize: {e}"),
                        }),
                    }
                }
                Err(e) => rejects.push(Reject {
                    record: i + 1,
                    reason: format!("cannot serialize: {e}"),
                }),
            }
        }
        if !rejects.is_empty() {
            return Err(StoreError::Rejected(rejects));
        }
        self.admit()?;
        let ack = if wait {
            self.writable("ingest")?
                .append(batch_id.as_bytes(), payloads)?
        } else {
            self.writable("ingest")?
                .try_append(batch_id.as_bytes(), payloads)?
        };
        let need_flush = {
            let mut p = lock(&self.pending);
            if !ack.duplicate && ack.first_lsn > p.checkpoint {
                p.events += events.len();
                p.batches.insert(
                    ack.first_lsn,
                    Arc::new(PendingBatch {
                        first_lsn: ack.first_lsn,
                        batch_id: batch_id.as_bytes().to_vec(),
                        events,
                        jsons,
                    }),
                );
            }
            p.events >= self.opts.flush_events
        };
        if need_flush {
            // One flush at a time: when another ingest is already flushing, this one returns
            // (its events are pending and go with the next flush) instead of queueing behind
            // it and then flushing a sliver of new events into extra small splits. The batch is
            // durable already; a failing flush is retried by later calls and surfaces as
            // backpressure once memory is at its bound.
            if let Ok(guard) = self.maintenance.try_lock() {
                let still_due = lock(&self.pending).events >= self.opts.flush_events;
                if still_due && let Err(e) = self.flush_locked(guard, |_| Ok::<(), String>(())) {
                    tracing::warn!(error = %e, "flush after ingest failed");
                }
            }
        }
        Ok(IngestAck {
            first_lsn: ack.first_lsn,
            count: ack.count,
            duplicate: ack.duplicate,
        })
    }

    /// Parses JSON lines (one ECS event per line, blank lines ignored) and ingests them as one
    /// batch. Any malformed line rejects the batch with every line's reason.
    pub fn ingest_json_lines(&self, batch_id: &str, data: &[u8]) -> Result<IngestAck, StoreError> {
        let mut events = Vec::new();
        let mut rejects = Vec::new();
        for (i, line) in data.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Event>(line) {
                Ok(ev) if ev.org().is_none() => rejects.push(Reject {
                    record: i + 1,
                    reason: "no organization.id".into(),
                }),
                Ok(ev) => events.push(ev),
                Err(e) => rejects.push(Reject {
                    record: i + 1,
                    reason: e.to_string(),
                }),
            }
        }
        if !rejects.is_empty() {
            return Err(StoreError::Rejected(rejects));
        }
        if events.is_empty() {
            return Err(StoreError::Rejected(vec![Reject {
                record: 0,
                reason: "batch has no events".into(),
            }]));
        }
        self.ingest(batch_id, events)
    }

    /// Builds splits from the pending events after the checkpoint and publishes them with the
    /// new checkpoint in one catalogue transaction.
    pub fn flush(&self) -> Result<FlushReport, StoreError> {
        self.flush_locked(lock(&self.maintenance), |_| Ok::<(), String>(()))
    }

    /// [`EventStore::flush`] with a hook run on the batches about to be published (in LSN
    /// order, batches already published under the same id left out), while their splits are
    /// built (on another thread) and before the catalogue transaction. A stream consumer runs
    /// its detectors there and checkpoints their state, so that the detector checkpoint is never
    /// behind the WAL checkpoint. A hook error, or a failed build after the hook succeeded,
    /// publishes nothing (the events stay pending; a consumer's hook skips on the retry what its
    /// detectors have already seen, as after a failed publish).
    pub fn flush_with<E: std::fmt::Display>(
        &self,
        hook: impl FnOnce(&[Arc<PendingBatch>]) -> Result<(), E>,
    ) -> Result<FlushReport, StoreError> {
        self.flush_locked(lock(&self.maintenance), hook)
    }

    /// Number of events pending (durable, not yet in a split).
    pub fn pending_events(&self) -> usize {
        lock(&self.pending).events
    }

    /// The batches pending after the checkpoint (durable, not yet in a split), in LSN order.
    pub fn pending_batches(&self) -> Vec<Arc<PendingBatch>> {
        lock(&self.pending).batches.values().cloned().collect()
    }

    /// [`EventStore::flush`] with the maintenance lock held (the guard proves it).
    fn flush_locked<E: std::fmt::Display>(
        &self,
        _m: MutexGuard<'_, ()>,
        hook: impl FnOnce(&[Arc<PendingBatch>]) -> Result<(), E>,
    ) -> Result<FlushReport, StoreError> {
        self.writable("flush")?;
        let (batches, checkpoint) = {
            let p = lock(&self.pending);
            let mut next = p.checkpoint + 1;
            let mut out = Vec::new();
            for (first, b) in p.batches.range(next..) {
                if *first != next {
                    break; // a gap: an earlier batch is acknowledged but not yet pending
                }
                next += b.events.len() as u64;
                out.push(Arc::clone(b));
            }
            (out, next - 1)
        };
        let mut report = FlushReport {
            checkpoint,
            ..FlushReport::default()
        };
        if batches.is_empty() {
            return Ok(report);
        }
        // Exactly once per batch id: a batch whose id is already published (a retry that
        // raced the truncation of the WAL segment holding the original) or that repeats an
        // earlier batch of this flush is not stored again. It still moves the checkpoint.
        let fresh: Vec<Arc<PendingBatch>> = {
            let inner = lock(&self.inner);
            let mut seen: BTreeSet<&[u8]> = BTreeSet::new();
            let mut out = Vec::with_capacity(batches.len());
            for b in &batches {
                if !seen.insert(b.batch_id.as_slice()) {
                    continue;
                }
                if inner.catalogue.batch(&b.batch_id)?.is_some() {
                    tracing::warn!(
                        batch = %String::from_utf8_lossy(&b.batch_id),
                        "batch already published: not stored twice"
                    );
                    continue;
                }
                out.push(Arc::clone(b));
            }
            out
        };
        let published_ids: Vec<PublishedBatch> = fresh
            .iter()
            .map(|b| PublishedBatch {
                id: b.batch_id.clone(),
                first_lsn: b.first_lsn,
                count: b.events.len() as u32,
            })
            .collect();
        // Group by organization and time bucket.
        let span = self
            .opts
            .split_span_secs
            .max(1)
            .saturating_mul(1_000_000_000);
        let mut groups: BTreeMap<(OrgId, i64), Vec<Row<'_>>> = BTreeMap::new();
        for b in &fresh {
            for (ev, json) in b.events.iter().zip(&b.jsons) {
                let Some(org) = ev.org() else { continue };
                let bucket = ev.timestamp.nanos().div_euclid(span);
                groups
                    .entry((org.clone(), bucket))
                    .or_default()
                    .push(Row { event: ev, json });
            }
        }
        let mut built: Vec<SplitMeta> = Vec::new();
        let result = (|| -> Result<(), StoreError> {
            // The splits are built (and their directories synced) on another thread while the
            // hook runs here: both only read the batches, and nothing is published before both
            // succeeded. A stream consumer's hook (detection, the detector checkpoint's write
            // and fsync) would otherwise leave the build threads' cores idle, and the build
            // threads the hook's (BENCHMARKS.md, "Session 10: durable ingest").
            let (built_res, hook_res) = std::thread::scope(|s| {
                let builder =
                    s.spawn(|| -> Result<Vec<SplitMeta>, (Vec<SplitMeta>, StoreError)> {
                        let mut done = Vec::new();
                        if let Err(e) = self.build_splits(groups, &mut done) {
                            return Err((done, e));
                        }
                        let orgs: BTreeSet<&OrgId> = done.iter().map(|s| &s.org).collect();
                        let synced = orgs.into_iter().try_for_each(|org| {
                            crate::wal::sync_dir(&self.dir.join("splits").join(org.as_str()))
                        });
                        match synced {
                            Ok(()) => Ok(done),
                            Err(e) => Err((done, e.into())),
                        }
                    });
                let hook_res = hook(&fresh).map_err(|e| StoreError::Hook(e.to_string()));
                (builder.join(), hook_res)
            });
            match built_res {
                Ok(Ok(done)) => built = done,
                Ok(Err((done, e))) => {
                    built = done;
                    return Err(e);
                }
                // A panic while building propagates, as it did when the build ran here.
                Err(p) => std::panic::resume_unwind(p),
            }
            hook_res?;
            let mut inner = lock(&self.inner);
            inner
                .catalogue
                .publish_batches(&built, &[], Some(checkpoint), &published_ids)?;
            let horizon = checkpoint.saturating_sub(self.opts.batch_id_window);
            if horizon > 0 {
                inner.catalogue.forget_batches_before(horizon)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for s in &built {
                let _ = std::fs::remove_dir_all(self.split_path(&s.org, &s.id));
            }
            return Err(e);
        }
        {
            let mut p = lock(&self.pending);
            for b in &batches {
                if p.batches.remove(&b.first_lsn).is_some() {
                    p.events -= b.events.len();
                }
            }
            p.checkpoint = checkpoint;
        }
        report.splits = built.len();
        report.events = built.iter().map(|s| s.num_docs).sum();
        let floor = self.wal_floor.load(std::sync::atomic::Ordering::SeqCst);
        report.wal_segments_removed = self
            .writable("flush")?
            .truncate_through(checkpoint.min(floor))?;
        Ok(report)
    }

    /// Builds one split per group on up to `build_threads` threads (largest groups first, each
    /// thread taking the next group). Every split built is pushed to `built`, also when another
    /// fails, so that the caller can remove them all.
    fn build_splits(
        &self,
        groups: BTreeMap<(OrgId, i64), Vec<Row<'_>>>,
        built: &mut Vec<SplitMeta>,
    ) -> Result<(), StoreError> {
        let mut jobs: Vec<(OrgId, Vec<Row<'_>>)> = groups
            .into_iter()
            .map(|((org, _), rows)| (org, rows))
            .collect();
        jobs.sort_by_key(|(_, rows)| std::cmp::Reverse(rows.len()));
        let threads = self.opts.build_threads.clamp(1, jobs.len().max(1));
        let queue = Mutex::new(jobs.into_iter());
        let out: Mutex<Vec<SplitMeta>> = Mutex::new(Vec::new());
        let first_err: Mutex<Option<StoreError>> = Mutex::new(None);
        let work = || {
            loop {
                if lock(&first_err).is_some() {
                    return;
                }
                let Some((org, rows)) = lock(&queue).next() else {
                    return;
                };
                let id = new_split_id(0);
                let path = self.split_path(&org, &id);
                let n = rows.len() as u64;
                match split::build(&path, &self.fields, rows, self.opts.writer_memory) {
                    Ok(b) => lock(&out).push(SplitMeta {
                        id,
                        org,
                        min_ts: b.min_ts,
                        max_ts: b.max_ts,
                        num_docs: n,
                        bytes: b.bytes,
                        generation: 0,
                        format: self.fields.format(),
                    }),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&path);
                        lock(&first_err).get_or_insert(e.into());
                        return;
                    }
                }
            }
        };
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 1..threads {
                    s.spawn(work);
                }
                work();
            });
        }
        let mut out = out
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Deterministic catalogue order: by organization, then time.
        out.sort_by(|a, b| (&a.org, a.min_ts).cmp(&(&b.org, b.min_ts)));
        built.extend(out);
        match first_err
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Opens `splits` (through the cache) and runs the term lookups of a hunt on each: the
    /// documents bearing any of `terms` (every document when `None`) and, separately, the
    /// documents found only through a URL stem (candidates to re-check), on up to
    /// `hunt_threads` threads; results in `splits` order. With read-ahead, the doc-store
    /// blocks of the first `hint_docs` documents of each split (and of every candidate) are
    /// asked for as soon as the split is looked up, so they arrive while other splits are.
    fn lookup_splits(
        &self,
        splits: &[SplitMeta],
        terms: Option<&[String]>,
        stems: &[String],
        (from, to): (Option<Timestamp>, Option<Timestamp>),
        hint_docs: usize,
    ) -> Result<Vec<SplitLookup>, StoreError> {
        let prefetch = terms.is_some_and(|t| t.len() >= split::PREFETCH_MIN_TERMS);
        if !prefetch {
            let threads = self.opts.hunt_threads;
            return self.lookup_each(splits, threads, None, terms, stems, (from, to), hint_docs);
        }
        if self.opts.hunt_read_ahead {
            // A large hunt reads nearly every page of the FST of every dictionary it searches.
            // The splits are opened first, on enough threads to keep several of their small
            // reads in flight; then one thread asks the kernel for the FSTs of every split (the
            // disk sees them all queued) while the lookups run, in the same order, each split
            // opened by this hunt loading its FSTs first (waiting for them in large reads).
            let threads = self.opts.hunt_threads.max(OPEN_THREADS);
            let open = par_map(threads, splits, |meta| self.open_split(meta))?;
            let mut fields = vec!["observables", "ip_bytes"];
            if !stems.is_empty() {
                fields.push("url_stem");
            }
            // Splits opened now are looked up on as many threads as they were opened: their
            // lookups wait mostly on the disk (the term-info blocks of the terms present are
            // still read one 4 KiB page at a time), so more of them keep more reads in flight.
            let threads = if open.iter().any(|(_, fresh)| *fresh) {
                threads
            } else {
                self.opts.hunt_threads
            };
            let (open_ref, fields_ref) = (&open, &fields);
            return std::thread::scope(|s| {
                s.spawn(move || {
                    // Cheap where the pages are cached (a split open before this hunt).
                    for (o, _) in open_ref {
                        o.prefetch_dictionaries(fields_ref);
                    }
                });
                let opened = (open_ref.as_slice(), fields_ref.as_slice());
                self.lookup_each(
                    splits,
                    threads,
                    Some(opened),
                    terms,
                    stems,
                    (from, to),
                    hint_docs,
                )
            });
        }
        // Without read-ahead (the read path before session 10): one thread asks the kernel to
        // read whole dictionary files, in the order the lookups take the splits.
        let dirs: Vec<PathBuf> = splits
            .iter()
            .map(|m| self.split_path(&m.org, &m.id))
            .collect();
        std::thread::scope(|s| {
            s.spawn(move || dirs.iter().for_each(|d| split::prefetch_dictionaries(d)));
            let threads = self.opts.hunt_threads;
            self.lookup_each(splits, threads, None, terms, stems, (from, to), hint_docs)
        })
    }

    /// The split of `meta`, from the cache (`false`) or opened now (`true`; outside the lock:
    /// other threads keep looking up meanwhile).
    fn open_split(&self, meta: &SplitMeta) -> Result<(Arc<split::OpenSplit>, bool), StoreError> {
        if let Some(o) = lock(&self.inner).cache.cached(&meta.id) {
            return Ok((o, false));
        }
        let path = self.split_path(&meta.org, &meta.id);
        let o = Arc::new(split::OpenSplit::open_with(
            &path,
            self.opts.hunt_read_ahead,
        )?);
        lock(&self.inner).cache.insert(&meta.id, Arc::clone(&o));
        Ok((o, true))
    }

    /// The lookups of [`EventStore::lookup_splits`] on `threads` threads. `opened`, when
    /// given, holds the splits already open, in `splits` order, and the dictionary fields whose
    /// FSTs are loaded before the lookups of a split opened by this hunt (a large hunt reads
    /// them whole: loaded in large reads, not faulted page by page).
    #[allow(clippy::too_many_arguments)]
    fn lookup_each(
        &self,
        splits: &[SplitMeta],
        threads: usize,
        opened: Option<Opened<'_>>,
        terms: Option<&[String]>,
        stems: &[String],
        (from, to): (Option<Timestamp>, Option<Timestamp>),
        hint_docs: usize,
    ) -> Result<Vec<SplitLookup>, StoreError> {
        let items: Vec<(usize, &SplitMeta)> = splits.iter().enumerate().collect();
        par_map(threads, &items, |&(i, meta)| {
            let open = match opened.and_then(|(o, fields)| Some((o.get(i)?, fields))) {
                Some(((o, fresh), fields)) => {
                    if *fresh {
                        o.load_dictionaries(fields);
                    }
                    Arc::clone(o)
                }
                None => self.open_split(meta)?.0,
            };
            // Bounds only when the split is not entirely inside the range.
            let from = from.filter(|f| meta.min_ts < *f);
            let to = to.filter(|t| meta.max_ts >= *t);
            let docs = match terms {
                Some(terms) => {
                    let found = open.lookup_terms(terms)?;
                    open.prefetch_postings(&found);
                    open.postings(&found, from, to)?
                }
                None => open.search(None, from, to)?,
            };
            // Candidates found only through a URL stem must be re-checked on the event.
            let c = open.search_stems(stems, from, to)?;
            let candidates = if c.is_empty() {
                c
            } else {
                let exact: std::collections::HashSet<_> = docs.iter().copied().collect();
                c.into_iter().filter(|d| !exact.contains(d)).collect()
            };
            if candidates.is_empty() {
                open.prefetch_docs(&docs[..docs.len().min(hint_docs)]);
            } else {
                // Every hit of the split is read (and checked).
                let mut all = docs.clone();
                all.extend_from_slice(&candidates);
                all.sort_unstable();
                open.prefetch_docs(&all);
            }
            Ok((open, docs, candidates))
        })
    }

    /// Runs a hunt. See [`HuntQuery`].
    pub fn hunt(&self, q: &HuntQuery) -> Result<HuntResult, StoreError> {
        let mut set: Vec<String> = q
            .indicators
            .iter()
            .filter_map(|i| normalize_indicator(i))
            .collect();
        set.sort_unstable();
        set.dedup();
        if !q.indicators.is_empty() && set.is_empty() {
            return Err(StoreError::InvalidHunt("every indicator is blank".into()));
        }
        if let (Some(f), Some(t)) = (q.from, q.to)
            && f >= t
        {
            return Err(StoreError::InvalidHunt(format!(
                "empty time range {}..{}",
                f.to_rfc3339(),
                t.to_rfc3339()
            )));
        }
        let lookup: std::collections::HashSet<&str> = set.iter().map(String::as_str).collect();
        let terms = (!set.is_empty()).then_some(set.as_slice());
        // Indicators with a `?` may be URLs that format 2 splits index by stem only.
        let mut stems: Vec<String> = set
            .iter()
            .filter_map(|i| indicator_stem(i))
            .map(str::to_string)
            .collect();
        stems.sort_unstable();
        stems.dedup();
        let limit = q.limit.unwrap_or(usize::MAX);

        // Pending first, then the catalogue: see the module docs for why this order.
        let pending: Vec<Arc<PendingBatch>> =
            lock(&self.pending).batches.values().cloned().collect();
        let (checkpoint, splits) = {
            let inner = lock(&self.inner);
            (
                inner.catalogue.checkpoint()?,
                inner.catalogue.prune(&q.scope, q.from, q.to)?,
            )
        };

        let mut res = HuntResult::default();
        let matched_of = |ev: &Event| -> Vec<String> {
            let mut m = BTreeSet::new();
            event_terms(ev, |_, t| {
                if lookup.contains(t) {
                    m.insert(t.to_string());
                }
            });
            m.into_iter().collect()
        };
        // Two passes over the splits, each on up to `hunt_threads` threads (they only read):
        // the term lookups, then the events to read. The results are merged in catalogue
        // order, so they do not depend on the threads.
        // A split whose hits are not checked on their events reads at most `limit` of them.
        let hint_docs = if q.filters.is_empty() {
            limit
        } else {
            usize::MAX
        };
        let looked_up = self.lookup_splits(&splits, terms, &stems, (q.from, q.to), hint_docs)?;
        res.splits_searched = splits.len();
        // What each split reads: nothing, the first `take` hits (counts come from the posting
        // lists), or every hit (filters and stem candidates are checked on the event). `take`
        // assumes verified splits before it contribute nothing, so it never reads too few; the
        // merge below keeps exactly the first `limit` hits.
        let mut before = 0usize;
        let jobs: Vec<(&SplitMeta, SplitLookup, Read)> = splits
            .iter()
            .zip(looked_up)
            .map(|(meta, (open, docs, candidates))| {
                let read = if docs.is_empty() && candidates.is_empty() {
                    Read::Nothing
                } else if q.filters.is_empty() && candidates.is_empty() {
                    let take = docs.len().min(limit.saturating_sub(before));
                    before = before.saturating_add(docs.len());
                    Read::First(take)
                } else {
                    Read::Verify
                };
                (meta, (open, docs, candidates), read)
            })
            .collect();
        let per_split = par_map(self.opts.hunt_threads, &jobs, |(meta, lookup, read)| {
            let (open, docs, candidates) = lookup;
            let mut hits = Vec::new();
            let count = match *read {
                Read::Nothing => 0,
                Read::First(take) => {
                    for json in open.fetch(&docs[..take])? {
                        let event = parse_stored(&open.path, &json)?;
                        hits.push(HuntHit {
                            org: meta.org.clone(),
                            matched: matched_of(&event),
                            event,
                        });
                    }
                    docs.len() as u64
                }
                Read::Verify => {
                    // Every hit is checked on its event. The events are read in document
                    // order (block row order in format 4, so each chunk of the block is
                    // decoded once, not once per batch of hits in time order), and the first
                    // `limit` hits by time are kept: the same events as a read in time order.
                    let unverified: std::collections::HashSet<DocAddress> =
                        candidates.iter().copied().collect();
                    let mut all = docs.clone();
                    all.extend_from_slice(candidates);
                    open.time_order(&mut all)?;
                    let mut by_doc: Vec<(DocAddress, usize)> =
                        all.iter().enumerate().map(|(rank, &d)| (d, rank)).collect();
                    by_doc.sort_unstable();
                    let mut best: std::collections::BinaryHeap<ByRank> =
                        std::collections::BinaryHeap::new();
                    let mut count = 0u64;
                    for batch in by_doc.chunks(4096) {
                        let addrs: Vec<DocAddress> = batch.iter().map(|b| b.0).collect();
                        for (&(doc, rank), json) in batch.iter().zip(open.fetch(&addrs)?) {
                            let event = parse_stored(&open.path, &json)?;
                            let matched = matched_of(&event);
                            if unverified.contains(&doc) && matched.is_empty() {
                                continue; // same stem, another query string
                            }
                            if !q.filters.iter().all(|f| f.matches(&event)) {
                                continue;
                            }
                            count += 1;
                            if best.len() == limit && best.peek().is_none_or(|top| top.0 < rank) {
                                continue;
                            }
                            best.push(ByRank(
                                rank,
                                HuntHit {
                                    org: meta.org.clone(),
                                    matched,
                                    event,
                                },
                            ));
                            if best.len() > limit {
                                best.pop();
                            }
                        }
                    }
                    let mut kept = best.into_vec();
                    kept.sort_unstable_by_key(|h| h.0);
                    hits.extend(kept.into_iter().map(|h| h.1));
                    count
                }
            };
            Ok((count, hits))
        })?;
        for ((meta, _, _), (count, hits)) in jobs.iter().zip(per_split) {
            if count == 0 {
                continue;
            }
            *res.counts.entry(meta.org.clone()).or_default() += count;
            let room = limit.saturating_sub(res.hits.len());
            res.hits.extend(hits.into_iter().take(room));
        }
        for b in &pending {
            for (i, ev) in b.events.iter().enumerate() {
                if b.first_lsn + i as u64 <= checkpoint {
                    continue; // already published, found in a split
                }
                res.pending_scanned += 1;
                let Some(org) = ev.org() else { continue };
                if !q.scope.contains(org.as_str())
                    || q.from.is_some_and(|f| ev.timestamp < f)
                    || q.to.is_some_and(|t| ev.timestamp >= t)
                {
                    continue;
                }
                let matched = matched_of(ev);
                if (!set.is_empty() && matched.is_empty())
                    || !q.filters.iter().all(|f| f.matches(ev))
                {
                    continue;
                }
                *res.counts.entry(org.clone()).or_default() += 1;
                if res.hits.len() < limit {
                    res.hits.push(HuntHit {
                        org: org.clone(),
                        matched,
                        event: ev.clone(),
                    });
                }
            }
        }
        res.hits.sort_by_key(|h| h.event.timestamp);
        Ok(res)
    }

    /// What [`EventStore::apply_retention`] would delete now (a dry run): see
    /// [`crate::retention::plan`].
    pub fn plan_retention(
        &self,
        now: Timestamp,
        policy_for: impl Fn(&OrgId) -> RetentionPolicy,
    ) -> Result<RetentionPlan, StoreError> {
        let all = lock(&self.inner).catalogue.all()?;
        Ok(crate::retention::plan(all, now, policy_for))
    }

    /// Deletes whole splits by age and size, per organization (`policy_for` gives each
    /// organization's policy; [`crate::retention::plan`] says which), and returns what it
    /// deleted. Planned and unpublished under the maintenance lock, so a compaction whose
    /// inputs it deletes discards its output. The files are deleted like those compaction
    /// replaces, [`RETIRE_GRACE`] later (a hunt that listed the splits just before still reads
    /// them).
    pub fn apply_retention(
        &self,
        now: Timestamp,
        policy_for: impl Fn(&OrgId) -> RetentionPolicy,
    ) -> Result<RetentionPlan, StoreError> {
        self.writable("retention")?;
        let plan = {
            let _m = lock(&self.maintenance);
            let plan = self.plan_retention(now, policy_for)?;
            let doomed: Vec<SplitMeta> = plan.removed().cloned().collect();
            self.swap_splits(&doomed, &[])?;
            let at = std::time::Instant::now();
            lock(&self.retired).extend(doomed.iter().map(|s| (at, self.split_path(&s.org, &s.id))));
            plan
        };
        self.purge_retired(RETIRE_GRACE);
        Ok(plan)
    }

    /// Deletes the files of splits that retention or compaction unpublished at least
    /// [`RETIRE_GRACE`] ago (a long-running server calls it now and then, so that their disk
    /// space comes back even when neither runs again soon).
    pub fn purge_retired_splits(&self) {
        self.purge_retired(RETIRE_GRACE);
    }

    /// `added` published and `doomed` unpublished in one transaction, their open handles
    /// forgotten; files untouched.
    fn swap_splits(
        &self,
        doomed: &[SplitMeta],
        added: &[SplitMeta],
    ) -> Result<MaintenanceReport, StoreError> {
        let report = MaintenanceReport {
            splits_removed: doomed.len(),
            splits_added: added.len(),
            bytes_removed: doomed.iter().map(|s| s.bytes).sum(),
            docs_removed: doomed.iter().map(|s| s.num_docs).sum(),
        };
        if doomed.is_empty() && added.is_empty() {
            return Ok(report);
        }
        let ids: Vec<String> = doomed.iter().map(|s| s.id.clone()).collect();
        {
            let mut inner = lock(&self.inner);
            inner.catalogue.publish(added, &ids, None)?;
            for id in &ids {
                inner.cache.forget(id);
            }
        }
        Ok(report)
    }

    /// Deletes the directories of splits that compaction replaced at least `grace` ago (all
    /// of them with a zero `grace`).
    fn purge_retired(&self, grace: std::time::Duration) {
        let due: Vec<PathBuf> = {
            let mut retired = lock(&self.retired);
            let (due, keep) = std::mem::take(&mut *retired)
                .into_iter()
                .partition(|(at, _)| at.elapsed() >= grace);
            *retired = keep;
            due.into_iter().map(|(_, p)| p).collect()
        };
        for p in due {
            remove_split_dir(&p);
        }
    }

    /// Compacts the store's splits (see [`EventStore::compact_at`]), with the wall clock as
    /// *now*.
    pub fn compact(&self, opts: CompactOptions) -> Result<MaintenanceReport, StoreError> {
        self.compact_at(opts, Timestamp::now())
    }

    /// Compaction, per organization and `window_secs` window:
    /// - a window that ended at least `seal_after_secs` before `now` is *sealed*: its splits of
    ///   format 3 or 4 that are not in the store's `compacted_split_format`, or are under
    ///   `small_docs`, are rewritten (events read back and indexed again, [`split::rebuild`])
    ///   into splits of the compacted format of at most `max_docs` events each — a lone split
    ///   already in that format is left alone. Ingest keeps writing cheap format 3 splits; a
    ///   sealed day is rewritten once into format 4 (tiered storage).
    /// - otherwise (and for splits of formats 1 and 2) splits under `small_docs` of the same
    ///   format are merged (tantivy's segment merge, no re-indexing), as before.
    ///
    /// Outputs are built without the maintenance lock (flushes go on meanwhile; one compaction
    /// runs at a time) on `threads` threads, and each replaces its inputs in one catalogue
    /// transaction taken under the maintenance lock, only if every input is still published
    /// (retention may have deleted one meanwhile: the output is then discarded). The inputs'
    /// files are deleted [`RETIRE_GRACE`] later (a hunt that listed them just before the swap
    /// still opens them). A crash before that transaction leaves an unpublished directory that
    /// the next open deletes; after it, the inputs' directories, which the next open deletes
    /// likewise.
    pub fn compact_at(
        &self,
        opts: CompactOptions,
        now: Timestamp,
    ) -> Result<MaintenanceReport, StoreError> {
        self.writable("compaction")?;
        let _c = lock(&self.compaction);
        self.purge_retired(RETIRE_GRACE);
        let all = lock(&self.inner).catalogue.all()?;
        let window = opts.window_secs.max(1).saturating_mul(1_000_000_000);
        let target = self.opts.compacted_split_format;
        let sealed_before = opts
            .seal_after_secs
            .map(|s| now.saturating_sub_secs(s.max(0)).nanos());
        let mut groups: BTreeMap<(OrgId, i64), Vec<SplitMeta>> = BTreeMap::new();
        for s in all {
            groups
                .entry((s.org.clone(), s.min_ts.nanos().div_euclid(window)))
                .or_default()
                .push(s);
        }
        let mut plan: Vec<(Vec<SplitMeta>, Rewrite)> = Vec::new();
        for ((_, w), splits) in groups {
            let end = w.saturating_add(1).saturating_mul(window);
            let sealed = sealed_before.is_some_and(|b| end <= b);
            let mut by_format: BTreeMap<u32, Vec<SplitMeta>> = BTreeMap::new();
            let mut convert = Vec::new();
            for s in splits {
                let convertible = s.format == split::FORMAT || s.format == split::FORMAT_V3;
                if sealed && convertible {
                    if s.format != target || s.num_docs < opts.small_docs {
                        convert.push(s);
                    }
                } else if s.num_docs < opts.small_docs {
                    by_format.entry(s.format).or_default().push(s);
                }
            }
            for pack in pack_splits(convert, opts.max_docs) {
                if pack.len() >= 2 || pack.iter().any(|s| s.format != target) {
                    plan.push((pack, Rewrite::Rebuild(target)));
                }
            }
            for (format, splits) in by_format {
                for pack in pack_splits(splits, opts.max_docs) {
                    if pack.len() >= 2 {
                        plan.push((pack, Rewrite::Merge(format)));
                    }
                }
            }
        }
        let reports = par_map(opts.threads, &plan, |(pack, rewrite)| {
            self.compact_pack(pack, *rewrite)
        })?;
        let mut total = MaintenanceReport::default();
        for r in reports {
            total.splits_removed += r.splits_removed;
            total.splits_added += r.splits_added;
            total.bytes_removed += r.bytes_removed;
            total.docs_removed += r.docs_removed;
        }
        Ok(total)
    }

    /// Writes one output split from `pack` (splits of one organization) and swaps it in.
    fn compact_pack(
        &self,
        pack: &[SplitMeta],
        rewrite: Rewrite,
    ) -> Result<MaintenanceReport, StoreError> {
        let Some(first) = pack.first() else {
            return Ok(MaintenanceReport::default());
        };
        let org = first.org.clone();
        let generation = pack.iter().map(|s| s.generation).max().unwrap_or(0) + 1;
        let id = new_split_id(generation);
        let out = self.split_path(&org, &id);
        let inputs: Vec<PathBuf> = pack
            .iter()
            .map(|s| self.split_path(&s.org, &s.id))
            .collect();
        let input_refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let docs: u64 = pack.iter().map(|s| s.num_docs).sum();
        let (bytes, format) = match rewrite {
            Rewrite::Merge(format) => (split::merge(&input_refs, &out), format),
            Rewrite::Rebuild(format) => (
                split::rebuild(
                    &input_refs,
                    &out,
                    &self.fields_of(format),
                    self.opts.writer_memory,
                )
                .map(|b| b.bytes),
                format,
            ),
        };
        let still_published = || -> Result<bool, StoreError> {
            let ids: BTreeSet<String> = lock(&self.inner)
                .catalogue
                .all()?
                .into_iter()
                .map(|s| s.id)
                .collect();
            Ok(pack.iter().all(|s| ids.contains(&s.id)))
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&out);
                // An input deleted by retention meanwhile: nothing to compact any more.
                if !still_published()? {
                    return Ok(MaintenanceReport::default());
                }
                return Err(e.into());
            }
        };
        let merged = SplitMeta {
            id,
            org: org.clone(),
            min_ts: pack
                .iter()
                .map(|s| s.min_ts)
                .min()
                .unwrap_or(Timestamp::from_nanos(0)),
            max_ts: pack
                .iter()
                .map(|s| s.max_ts)
                .max()
                .unwrap_or(Timestamp::from_nanos(0)),
            num_docs: docs,
            bytes,
            generation,
            format,
        };
        let swap = (|| {
            crate::wal::sync_dir(&self.dir.join("splits").join(org.as_str()))?;
            let _m = lock(&self.maintenance);
            if !still_published()? {
                return Ok(None);
            }
            let r = self.swap_splits(pack, std::slice::from_ref(&merged))?;
            let now = std::time::Instant::now();
            lock(&self.retired).extend(pack.iter().map(|s| (now, self.split_path(&s.org, &s.id))));
            Ok(Some(r))
        })();
        self.purge_retired(RETIRE_GRACE);
        match swap {
            Ok(Some(r)) => Ok(r),
            Ok(None) => {
                let _ = std::fs::remove_dir_all(&out);
                Ok(MaintenanceReport::default())
            }
            Err(e) => {
                // Not published (the transaction failed or was not reached): remove it.
                let _ = std::fs::remove_dir_all(&out);
                Err(e)
            }
        }
    }

    /// The fields of the splits of `format` (3 or 4) this store builds.
    fn fields_of(&self, format: u32) -> Fields {
        Fields {
            block_level: self.opts.block_level,
            block_chunk_rows: self.opts.block_chunk_rows,
            ..if format == split::FORMAT_V3 {
                Fields::v3()
            } else {
                Fields::new()
            }
        }
    }

    /// The organizations with stored events (published or pending). For an operator's
    /// "everything" scope; it is still an explicit list.
    pub fn organizations(&self) -> Result<BTreeSet<OrgId>, StoreError> {
        let mut orgs: BTreeSet<OrgId> = lock(&self.inner).catalogue.orgs()?.into_iter().collect();
        let p = lock(&self.pending);
        for b in p.batches.values() {
            for ev in &b.events {
                if let Some(o) = ev.org()
                    && !orgs.contains(o)
                {
                    orgs.insert(o.clone());
                }
            }
        }
        Ok(orgs)
    }

    /// The published splits.
    pub fn splits(&self) -> Result<Vec<SplitMeta>, StoreError> {
        Ok(lock(&self.inner).catalogue.all()?)
    }

    /// Store-wide figures.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let splits = self.splits()?;
        let (pending_events, checkpoint) = {
            let p = lock(&self.pending);
            (p.events, p.checkpoint)
        };
        let wal_dir = self.dir.join("wal");
        let mut wal_bytes = 0;
        for e in std::fs::read_dir(&wal_dir).map_err(io_err(&wal_dir))? {
            let e = e.map_err(io_err(&wal_dir))?;
            wal_bytes += e.metadata().map_err(io_err(&wal_dir))?.len();
        }
        Ok(StoreStats {
            splits: splits.len(),
            docs: splits.iter().map(|s| s.num_docs).sum(),
            split_bytes: splits.iter().map(|s| s.bytes).sum(),
            wal_bytes,
            pending_events,
            checkpoint,
        })
    }
}

/// What a hunt reads from one split (see [`EventStore::hunt`]).
#[derive(Debug, Clone, Copy)]
enum Read {
    Nothing,
    /// The first `n` hits (in document order); the count is the number of hits.
    First(usize),
    /// Every hit, each checked on its event (filters, URL stem candidates).
    Verify,
}

/// `f` on every item, on up to `threads` threads taking items from a shared counter; the
/// results in item order. The first error in item order is returned (after an error, threads
/// stop taking items).
fn par_map<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> Result<R, StoreError> + Sync,
) -> Result<Vec<R>, StoreError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, StoreError>>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        while !failed.load(Relaxed) {
            let i = next.fetch_add(1, Relaxed);
            let Some(item) = items.get(i) else { return };
            let r = f(item);
            if r.is_err() {
                failed.store(true, Relaxed);
            }
            *lock(&slots[i]) = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    let mut out = Vec::with_capacity(items.len());
    let mut first_err = None;
    for slot in slots {
        // A slot stays empty only when threads stopped after an error: that error is among
        // the slots and is returned.
        match slot
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// One split's answer to the term lookups of a hunt: the open split, the documents bearing an
/// indicator, and the documents found only through a URL stem (to re-check on the event).
type SplitLookup = (Arc<split::OpenSplit>, Vec<DocAddress>, Vec<DocAddress>);

/// An error of reading the WAL: the log's own, or the record callback's.
fn open_error(e: OpenError<StoreError>) -> StoreError {
    match e {
        OpenError::Wal(w) => StoreError::Wal(w),
        OpenError::Replay(r) => r,
    }
}

/// Assembles WAL records, in LSN order, into the pending batches of a store being opened.
struct PendingAssembler {
    pending: Pending,
    /// The batch whose records are being read.
    current: Option<PendingBatch>,
}

impl PendingAssembler {
    fn push(&mut self, rec: crate::wal::ReplayRecord<'_>) -> Result<(), StoreError> {
        let (ev, json) = parse_log_record_with_json(&rec)?;
        let b = self.current.get_or_insert_with(|| PendingBatch {
            first_lsn: rec.lsn,
            batch_id: rec.batch_id.to_vec(),
            events: Vec::with_capacity(rec.count as usize),
            jsons: Vec::with_capacity(rec.count as usize),
        });
        b.events.push(ev);
        b.jsons.push(json.to_string());
        if rec.index + 1 == rec.count
            && let Some(b) = self.current.take()
        {
            self.pending.events += b.events.len();
            self.pending.batches.insert(b.first_lsn, Arc::new(b));
        }
        Ok(())
    }
}

/// The store directory's identity file: the id its catalogue's `store_identity` row must name.
const STORE_ID_FILE: &str = "store-id";
/// A store's own catalogue database (when [`StoreOptions::catalogue`] is `None`).
const OWN_CATALOGUE: &str = "catalogue.sqlite";

/// The catalogue of the store in `dir` ([`StoreOptions::catalogue`]), checked to describe this
/// directory: the directory's `store-id` and the catalogue's `store_identity` row must agree
/// (a directory opened against another store's catalogue, or a catalogue lost or replaced,
/// would otherwise have its splits deleted as orphans). `writable`: binds a new store (writes
/// both), adopts a store from before the identity (its own catalogue, no id yet), and moves a
/// store's own catalogue into an external database that describes no store yet; read-only, a
/// store whose catalogue has not moved yet is read from its own.
fn open_catalogue(
    dir: &Path,
    opts: &StoreOptions,
    writable: bool,
) -> Result<Catalogue, StoreError> {
    let id_path = dir.join(STORE_ID_FILE);
    let mut dir_id = match std::fs::read_to_string(&id_path) {
        Ok(s) => Some(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(StoreError::Io {
                path: id_path,
                source: e,
            });
        }
    };
    let own = dir.join(OWN_CATALOGUE);
    // The catalogue's database when it is not the store's own.
    let external = opts.catalogue.as_deref().filter(|db| *db != own.as_path());
    if external.is_none()
        && let Some(d) = &dir_id
        && !own.is_file()
    {
        // Not even created: the store's catalogue is elsewhere (the state database).
        return Err(StoreError::ForeignCatalogue(format!(
            "{} is store {d}, whose catalogue is not in the directory (it is in a state \
             database: open the store with it)",
            dir.display()
        )));
    }
    let mut catalogue = Catalogue::open(external.unwrap_or(&own))?;
    let mut cat_id = catalogue.store_id()?;
    if let Some(db) = external
        && cat_id.is_none()
        && own.is_file()
    {
        let own_catalogue = Catalogue::open(&own)?;
        let own_id = own_catalogue.store_id()?;
        if own_id.is_some() && own_id != dir_id {
            return Err(StoreError::ForeignCatalogue(format!(
                "{} names store {own_id:?}, the directory is store {dir_id:?}",
                own.display()
            )));
        }
        if !writable {
            // Only an owner moves it: read it where it is.
            return Ok(own_catalogue);
        }
        drop(own_catalogue);
        let id = match &dir_id {
            Some(id) => id.clone(),
            None => write_store_id(dir)?,
        };
        catalogue.import(&own, &id)?;
        let moved = dir.join("catalogue.sqlite.moved");
        std::fs::rename(&own, &moved).map_err(io_err(&own))?;
        for side in ["catalogue.sqlite-wal", "catalogue.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.join(side));
        }
        crate::wal::sync_dir(dir)?;
        tracing::info!(
            store = %dir.display(),
            catalogue = %db.display(),
            "split catalogue moved into the state database"
        );
        cat_id = Some(id.clone());
        dir_id = Some(id);
    }
    match (dir_id, cat_id) {
        (Some(d), Some(c)) if d == c => Ok(catalogue),
        (Some(d), Some(c)) => Err(StoreError::ForeignCatalogue(format!(
            "the catalogue describes store {c}, {} is store {d}",
            dir.display()
        ))),
        (Some(d), None) => Err(StoreError::ForeignCatalogue(format!(
            "{} is store {d}, but the catalogue{} describes no store (lost or replaced?)",
            dir.display(),
            external
                .map(|p| format!(" in {}", p.display()))
                .unwrap_or_default()
        ))),
        (None, Some(c)) => Err(StoreError::ForeignCatalogue(format!(
            "the catalogue describes store {c}, but {} has no store-id (a new or replaced \
             directory?)",
            dir.display()
        ))),
        (None, None) => {
            if external.is_some() && has_events(dir) {
                return Err(StoreError::ForeignCatalogue(format!(
                    "{} holds events but no catalogue describes them",
                    dir.display()
                )));
            }
            if writable {
                // A new store, or one from before the identity (its own catalogue): bind them.
                let id = write_store_id(dir)?;
                catalogue.set_store_id(&id)?;
            }
            Ok(catalogue)
        }
    }
}

/// Writes a new `store-id` (durably) and returns it.
fn write_store_id(dir: &Path) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let path = dir.join(STORE_ID_FILE);
    let tmp = dir.join("store-id.tmp");
    (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, format!("{id}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })()
    .map_err(io_err(&path))?;
    crate::wal::sync_dir(dir)?;
    Ok(id)
}

/// Whether `dir` holds split directories or WAL records.
fn has_events(dir: &Path) -> bool {
    let has_splits =
        std::fs::read_dir(dir.join("splits")).is_ok_and(|it| it.flatten().next().is_some());
    let has_records = std::fs::read_dir(dir.join("wal")).is_ok_and(|it| {
        it.flatten().any(|e| {
            e.metadata()
                .is_ok_and(|m| m.len() > crate::wal::MAGIC.len() as u64)
        })
    });
    has_splits || has_records
}

/// The event of a WAL record (its payload is the event's ECS JSON).
fn parse_log_record(rec: &crate::wal::ReplayRecord<'_>) -> Result<Event, StoreError> {
    parse_log_record_with_json(rec).map(|(ev, _)| ev)
}

fn parse_log_record_with_json<'a>(
    rec: &crate::wal::ReplayRecord<'a>,
) -> Result<(Event, &'a str), StoreError> {
    let bad = |reason: String| StoreError::BadLogRecord {
        lsn: rec.lsn,
        reason,
    };
    let json = std::str::from_utf8(rec.payload).map_err(|e| bad(e.to_string()))?;
    let ev: Event = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    Ok((ev, json))
}

fn parse_stored(path: &Path, json: &str) -> Result<Event, StoreError> {
    serde_json::from_str(json).map_err(|e| {
        StoreError::Split(SplitError::BadDocument {
            path: path.to_path_buf(),
            doc: json.chars().take(80).collect(),
            reason: e.to_string(),
        })
    })
}

fn new_split_id(generation: u32) -> String {
    format!("g{generation}-{}", uuid::Uuid::new_v4().simple())
}

/// Deletes split directories that the catalogue does not list (built, then crashed before
/// the publishing transaction): their events are still in the WAL after the checkpoint.
fn remove_orphans(root: &Path, published: &BTreeSet<(String, String)>) -> Result<(), StoreError> {
    let mut orphans = HashMap::new();
    for org in std::fs::read_dir(root).map_err(io_err(root))? {
        let org = org.map_err(io_err(root))?;
        if !org.file_type().map_err(io_err(root))?.is_dir() {
            continue;
        }
        let org_name = org.file_name().to_string_lossy().into_owned();
        for split in std::fs::read_dir(org.path()).map_err(io_err(&org.path()))? {
            let split = split.map_err(io_err(&org.path()))?;
            let id = split.file_name().to_string_lossy().into_owned();
            if !published.contains(&(org_name.clone(), id.clone())) {
                orphans.insert(split.path(), id);
            }
        }
    }
    for path in orphans.keys() {
        tracing::warn!(path = %path.display(), "removing unpublished split");
        std::fs::remove_dir_all(path).map_err(io_err(path))?;
    }
    Ok(())
}

/// A hit with its rank in time order (the heap of a hunt's first `limit` hits orders by rank
/// only; ranks are distinct).
struct ByRank(usize, HuntHit);

impl PartialEq for ByRank {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for ByRank {}

impl PartialOrd for ByRank {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByRank {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests;

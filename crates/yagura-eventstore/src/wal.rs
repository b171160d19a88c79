//! The write-ahead log: durable, group-committed, idempotent batches of records.
//!
//! # On-disk format
//! The log is a directory of segment files named `{first_lsn:020}.wal`. Each segment starts
//! with the 8-byte magic [`MAGIC`] and then holds frames:
//!
//! ```text
//! frame = len:u32le  crc:u32le  body[len]          crc = CRC-32 (IEEE) of body
//! body  = lsn:u64le  id_len:u8  batch_id[id_len]  index:u32le  count:u32le  payload
//! ```
//!
//! Every record has its own log sequence number (`lsn`, dense, starting at 1) and its own CRC.
//! A batch of `count` records is written contiguously and never spans two segments, so an
//! incomplete batch can only be the tail of the last segment.
//!
//! # Durability
//! One writer thread owns the files. [`Wal::append`] queues the batch on a bounded channel and
//! blocks until the writer has written *and* `fdatasync`ed it; the writer drains every batch
//! waiting in the queue into one write and one sync (group commit), so concurrent appenders
//! share an fsync. A batch id already in the log is acknowledged again without being written
//! (idempotent retries); the window is the batches still held in the retained segments.
//!
//! # Recovery
//! [`Wal::open`] scans the segments in order. In the last segment, the first frame that is
//! short, fails its CRC or breaks the LSN sequence ends the log: the file is truncated there
//! (a torn tail from a crash: it was never acknowledged), and so is an incomplete trailing
//! batch. The same defects in an earlier segment are corruption and fail the open.
//!
//! # Errors
//! A failed write (disk full, quota) truncates the segment back to its last durable length and
//! fails only the batches of that group with [`WalError::DiskFull`] / [`WalError::Io`]; the log
//! stays usable once space is freed. A failed `fsync` cannot be retried safely (the kernel may
//! have dropped the dirty pages), so it poisons the log until it is reopened.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Magic at the start of every segment file.
pub const MAGIC: &[u8; 8] = b"YGWAL001";
const FRAME_HEADER: usize = 8;
const BODY_FIXED: usize = 8 + 1 + 4 + 4;
/// Longest accepted batch id, in bytes.
pub const MAX_BATCH_ID: usize = 255;

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("disk full: the batch was not written (free space and retry): {0}")]
    DiskFull(io::Error),
    #[error("write-ahead log I/O error at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("write-ahead log is poisoned after a failed fsync; reopen it ({0})")]
    Poisoned(String),
    #[error("write-ahead log corrupt in {path} at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    #[error("write-ahead log queue is full (backpressure: retry later)")]
    QueueFull,
    #[error("write-ahead log is closed")]
    Closed,
}

impl WalError {
    fn io(path: &Path, source: io::Error) -> WalError {
        if is_disk_full(&source) {
            WalError::DiskFull(source)
        } else {
            WalError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122 on Linux) both mean "no room": a clean refusal, not damage.
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28 | 122))
}

/// Fault injection for crash-path tests: consulted before each group write and each sync.
pub trait FaultInjector: Send + Sync + std::fmt::Debug {
    /// Before writing `len` bytes: `Err((n, e))` writes only the first `n` bytes, then fails
    /// with `e` (a partial write followed by an error, as on a full disk).
    fn before_write(&self, len: usize) -> Result<(), (usize, io::Error)>;
    /// Before `fdatasync`: an error makes the sync fail.
    fn before_sync(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Options of the write-ahead log.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A new segment is started when the current one reaches this size.
    pub segment_bytes: u64,
    /// Batches waiting for the writer (bounded queue; `append` blocks, `try_append` fails).
    pub queue_batches: usize,
    /// Largest accepted record (bounds memory per batch).
    pub max_record_bytes: usize,
    /// Most records in one batch.
    pub max_batch_records: usize,
    /// Most bytes written by one group commit (the writer stops draining the queue there).
    pub max_group_bytes: usize,
    /// Test hook: inject write and sync failures.
    pub fault: Option<Arc<dyn FaultInjector>>,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            queue_batches: 1024,
            max_record_bytes: 4 << 20,
            max_batch_records: 100_000,
            max_group_bytes: 16 << 20,
            fault: None,
        }
    }
}

/// The acknowledgement of a durable batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// LSN of the batch's first record.
    pub first_lsn: u64,
    /// Number of records.
    pub count: u32,
    /// True when the batch id was already in the log: nothing was written this time.
    pub duplicate: bool,
}

impl Ack {
    /// LSN of the batch's last record (`first_lsn - 1` for an empty batch).
    pub fn last_lsn(&self) -> u64 {
        self.first_lsn + u64::from(self.count) - 1
    }
}

/// A record found by replay.
#[derive(Debug)]
pub struct ReplayRecord<'a> {
    pub lsn: u64,
    pub batch_id: &'a [u8],
    pub index: u32,
    pub count: u32,
    pub payload: &'a [u8],
}

/// What [`Wal::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub segments: usize,
    /// Records handed to the replay callback (those after the checkpoint).
    pub records_replayed: u64,
    pub batches_replayed: u64,
    /// Bytes cut from the end of the last segment (torn or incomplete tail).
    pub truncated_bytes: u64,
    /// The LSN the next record will get.
    pub next_lsn: u64,
}

/// What [`read_segments`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadBack {
    /// LSN of the first record read (`None`: no record of the range is left in the log).
    pub first_lsn: Option<u64>,
    /// LSN of the last record read.
    pub last_lsn: u64,
    pub records: u64,
}

#[derive(Debug, Clone, Copy)]
struct BatchLoc {
    first_lsn: u64,
    count: u32,
}

struct Request {
    batch_id: Vec<u8>,
    records: Vec<Vec<u8>>,
    reply: SyncSender<Result<Ack, WalError>>,
}

type AckRx = Receiver<Result<Ack, WalError>>;

enum Msg {
    Append(Request),
    /// Remove sealed segments whose records all have `lsn <= .0`.
    Truncate(u64, SyncSender<Result<usize, WalError>>),
}

#[derive(Debug)]
struct Segment {
    first_lsn: u64,
    path: PathBuf,
}

/// The write-ahead log handle. Cheap to share across threads (`&Wal` is enough to append).
#[derive(Debug)]
pub struct Wal {
    tx: Option<SyncSender<Msg>>,
    writer: Option<JoinHandle<()>>,
    opts: WalOptions,
    dir: PathBuf,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, replays every complete batch containing records
    /// with `lsn > after_lsn` through `on_record` (in LSN order), truncates a torn tail and
    /// starts the writer thread.
    pub fn open<E>(
        dir: &Path,
        opts: WalOptions,
        after_lsn: u64,
        mut on_record: impl FnMut(ReplayRecord<'_>) -> Result<(), E>,
    ) -> Result<(Wal, ReplayStats), OpenError<E>> {
        fs::create_dir_all(dir).map_err(|e| OpenError::Wal(WalError::io(dir, e)))?;
        let mut segments = list_segments(dir).map_err(OpenError::Wal)?;
        let mut stats = ReplayStats {
            segments: segments.len(),
            next_lsn: after_lsn + 1,
            ..ReplayStats::default()
        };
        let mut index: HashMap<Vec<u8>, BatchLoc> = HashMap::new();
        let mut expected_lsn: Option<u64> = None;
        let n = segments.len();
        let mut active_len = MAGIC.len() as u64;
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == n;
            let data =
                fs::read(&seg.path).map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
            if let Some(exp) = expected_lsn
                && seg.first_lsn != exp
            {
                return Err(OpenError::Wal(WalError::Corrupt {
                    path: seg.path.clone(),
                    offset: 0,
                    reason: format!("segment starts at lsn {} but {exp} expected", seg.first_lsn),
                }));
            }
            let scan = scan_segment(&data, seg.first_lsn, |rec| {
                if rec.lsn > after_lsn {
                    stats.records_replayed += 1;
                    if rec.index + 1 == rec.count {
                        stats.batches_replayed += 1;
                    }
                    on_record(rec)
                } else {
                    Ok(())
                }
            })
            .map_err(OpenError::Replay)?;
            for (id, loc) in scan.batches {
                index.insert(id, loc);
            }
            if let Some(reason) = scan.defect {
                if !last {
                    return Err(OpenError::Wal(WalError::Corrupt {
                        path: seg.path.clone(),
                        offset: scan.valid_len,
                        reason,
                    }));
                }
                tracing::warn!(
                    path = %seg.path.display(),
                    offset = scan.valid_len,
                    cut = data.len() as u64 - scan.valid_len,
                    %reason,
                    "truncating torn write-ahead log tail"
                );
            }
            if last {
                let valid = scan.valid_len;
                stats.truncated_bytes = data.len() as u64 - valid;
                if stats.truncated_bytes > 0 {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&seg.path)
                        .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
                    f.set_len(valid)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
                }
                active_len = valid;
            }
            expected_lsn = Some(scan.next_lsn);
        }
        if let Some(next) = expected_lsn {
            stats.next_lsn = stats.next_lsn.max(next);
        }
        if stats.next_lsn <= after_lsn {
            stats.next_lsn = after_lsn + 1;
        }
        // The active segment: the last one if it exists and continues the sequence, else new.
        if expected_lsn.is_some_and(|next| next < stats.next_lsn) {
            // The whole log is at or below the checkpoint (already in the store): start afresh.
            for seg in segments.drain(..) {
                fs::remove_file(&seg.path)
                    .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
            }
            index.clear();
            expected_lsn = None;
        }
        let file = match segments.last() {
            Some(seg) if expected_lsn == Some(stats.next_lsn) => {
                let mut f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&seg.path)
                    .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
                if active_len < MAGIC.len() as u64 {
                    f.set_len(0)
                        .and_then(|()| f.write_all(MAGIC))
                        .and_then(|()| f.sync_all())
                        .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
                    active_len = MAGIC.len() as u64;
                }
                f.seek(SeekFrom::Start(active_len))
                    .map_err(|e| OpenError::Wal(WalError::io(&seg.path, e)))?;
                f
            }
            _ => {
                let (f, seg) = create_segment(dir, stats.next_lsn).map_err(OpenError::Wal)?;
                active_len = MAGIC.len() as u64;
                segments.push(seg);
                f
            }
        };
        let (tx, rx) = mpsc::sync_channel(opts.queue_batches.max(1));
        let writer = Writer {
            dir: dir.to_path_buf(),
            file,
            len: active_len,
            next_lsn: stats.next_lsn,
            segments: segments.into(),
            index,
            opts: opts.clone(),
            poisoned: None,
        };
        let handle = std::thread::Builder::new()
            .name("yagura-wal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| OpenError::Wal(WalError::io(dir, e)))?;
        Ok((
            Wal {
                tx: Some(tx),
                writer: Some(handle),
                opts,
                dir: dir.to_path_buf(),
            },
            stats,
        ))
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn request(
        &self,
        batch_id: &[u8],
        records: Vec<Vec<u8>>,
    ) -> Result<(Request, AckRx), WalError> {
        if batch_id.is_empty() || batch_id.len() > MAX_BATCH_ID {
            return Err(WalError::InvalidBatch(format!(
                "batch id must be 1..={MAX_BATCH_ID} bytes, got {}",
                batch_id.len()
            )));
        }
        if records.is_empty() {
            return Err(WalError::InvalidBatch("batch has no records".into()));
        }
        if records.len() > self.opts.max_batch_records {
            return Err(WalError::InvalidBatch(format!(
                "batch has {} records, the limit is {}",
                records.len(),
                self.opts.max_batch_records
            )));
        }
        if let Some((i, r)) = records
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() > self.opts.max_record_bytes)
        {
            return Err(WalError::InvalidBatch(format!(
                "record {i} has {} bytes, the limit is {}",
                r.len(),
                self.opts.max_record_bytes
            )));
        }
        let (reply, rx) = mpsc::sync_channel(1);
        Ok((
            Request {
                batch_id: batch_id.to_vec(),
                records,
                reply,
            },
            rx,
        ))
    }

    /// Appends a batch and returns once it is durable (written and fsynced). Blocks while the
    /// queue is full. A batch id already in the log returns the original acknowledgement with
    /// `duplicate: true` and writes nothing.
    pub fn append(&self, batch_id: &[u8], records: Vec<Vec<u8>>) -> Result<Ack, WalError> {
        let (req, rx) = self.request(batch_id, records)?;
        let tx = self.tx.as_ref().ok_or(WalError::Closed)?;
        tx.send(Msg::Append(req)).map_err(|_| WalError::Closed)?;
        rx.recv().map_err(|_| WalError::Closed)?
    }

    /// Like [`Wal::append`] but fails with [`WalError::QueueFull`] instead of waiting for room
    /// in the queue (for callers that answer "429 retry later").
    pub fn try_append(&self, batch_id: &[u8], records: Vec<Vec<u8>>) -> Result<Ack, WalError> {
        let (req, rx) = self.request(batch_id, records)?;
        let tx = self.tx.as_ref().ok_or(WalError::Closed)?;
        match tx.try_send(Msg::Append(req)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(WalError::QueueFull),
            Err(TrySendError::Disconnected(_)) => return Err(WalError::Closed),
        }
        rx.recv().map_err(|_| WalError::Closed)?
    }

    /// Deletes sealed segments whose records are all at or below `checkpoint_lsn` (they are in
    /// the store). The active segment is never deleted. Returns the number removed.
    pub fn truncate_through(&self, checkpoint_lsn: u64) -> Result<usize, WalError> {
        let tx = self.tx.as_ref().ok_or(WalError::Closed)?;
        let (reply, rx) = mpsc::sync_channel(1);
        tx.send(Msg::Truncate(checkpoint_lsn, reply))
            .map_err(|_| WalError::Closed)?;
        rx.recv().map_err(|_| WalError::Closed)?
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

/// Error of [`Wal::open`]: the log's own, or the replay callback's.
#[derive(Debug, thiserror::Error)]
pub enum OpenError<E> {
    #[error(transparent)]
    Wal(WalError),
    #[error("replay: {0}")]
    Replay(E),
}

fn segment_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.wal")
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>, WalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| WalError::io(dir, e))? {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if stem.len() == 20
            && let Ok(first_lsn) = stem.parse::<u64>()
        {
            out.push(Segment {
                first_lsn,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.first_lsn);
    Ok(out)
}

/// Reads, from the segment files of the log in `dir`, the records with `after < lsn <= through`
/// still in the log, in LSN order, without disturbing a writer that goes on appending. Records
/// already truncated are not an error: [`ReadBack::first_lsn`] says where the log resumed; a
/// caller that needs them must keep the writer from truncating below `after` meanwhile. With
/// `tail_in_progress`, a defect in the last segment ends the read quietly (another process's
/// write in progress, or a torn tail its next open will cut); without, `through` must be
/// durable (acknowledged) and a defect before it is corruption.
pub fn read_segments<E>(
    dir: &Path,
    after: u64,
    through: u64,
    tail_in_progress: bool,
    mut on_record: impl FnMut(ReplayRecord<'_>) -> Result<(), E>,
) -> Result<ReadBack, OpenError<E>> {
    let mut out = ReadBack::default();
    if through <= after {
        return Ok(out);
    }
    let segments = match list_segments(dir) {
        Ok(s) => s,
        Err(WalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Ok(out);
        }
        Err(e) => return Err(OpenError::Wal(e)),
    };
    let mut expected: Option<u64> = None;
    for (i, seg) in segments.iter().enumerate() {
        // Segment i holds lsns [first_i, first_{i+1}).
        let next_first = segments.get(i + 1).map_or(u64::MAX, |s| s.first_lsn);
        if next_first <= after + 1 {
            continue;
        }
        if seg.first_lsn > through {
            break;
        }
        let data = match fs::read(&seg.path) {
            Ok(d) => d,
            // Truncated meanwhile by the log's writer (only a reader without a floor sees it).
            Err(e) if tail_in_progress && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(OpenError::Wal(WalError::io(&seg.path, e))),
        };
        let scan = scan_segment(&data, seg.first_lsn, |rec| {
            if rec.lsn <= after || rec.lsn > through {
                return Ok(());
            }
            if let Some(exp) = expected
                && rec.lsn != exp
            {
                return Err(OpenError::Wal(WalError::Corrupt {
                    path: seg.path.clone(),
                    offset: 0,
                    reason: format!("lsn {} where {exp} expected", rec.lsn),
                }));
            }
            out.first_lsn.get_or_insert(rec.lsn);
            out.last_lsn = rec.lsn;
            out.records += 1;
            expected = Some(rec.lsn + 1);
            on_record(rec).map_err(OpenError::Replay)
        })?;
        // A defect past `through` is the writer's tail being appended; before it, damage.
        if let Some(reason) = scan.defect
            && scan.next_lsn <= through
        {
            if tail_in_progress && i + 1 == segments.len() {
                break;
            }
            return Err(OpenError::Wal(WalError::Corrupt {
                path: seg.path.clone(),
                offset: scan.valid_len,
                reason,
            }));
        }
    }
    Ok(out)
}

fn create_segment(dir: &Path, first_lsn: u64) -> Result<(File, Segment), WalError> {
    let path = dir.join(segment_name(first_lsn));
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| WalError::io(&path, e))?;
    f.write_all(MAGIC)
        .and_then(|()| f.sync_all())
        .map_err(|e| WalError::io(&path, e))?;
    sync_dir(dir)?;
    Ok((f, Segment { first_lsn, path }))
}

/// Makes a directory entry (file creation, rename, removal) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| WalError::io(dir, e))
}

/// What a scan of one segment's bytes found (for tools and fuzzing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCheck {
    /// Length of the valid prefix (whole batches).
    pub valid_len: u64,
    /// Records in complete batches.
    pub records: u64,
    /// Why the scan stopped early, if it did.
    pub defect: Option<String>,
}

/// Scans a segment's bytes (starting with [`MAGIC`]) whose first record has `first_lsn`.
pub fn check_segment(data: &[u8], first_lsn: u64) -> SegmentCheck {
    let mut records = 0u64;
    let scan = scan_segment::<std::convert::Infallible>(data, first_lsn, |_| {
        records += 1;
        Ok(())
    });
    match scan {
        Ok(s) => SegmentCheck {
            valid_len: s.valid_len,
            records,
            defect: s.defect,
        },
        Err(never) => match never {},
    }
}

struct Scan {
    valid_len: u64,
    next_lsn: u64,
    batches: Vec<(Vec<u8>, BatchLoc)>,
    defect: Option<String>,
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Decoded frame body.
struct Body<'a> {
    lsn: u64,
    batch_id: &'a [u8],
    index: u32,
    count: u32,
    payload: &'a [u8],
}

fn decode_body(body: &[u8]) -> Option<Body<'_>> {
    let lsn = read_u64(body, 0)?;
    let id_len = usize::from(*body.get(8)?);
    let batch_id = body.get(9..9 + id_len)?;
    let index = read_u32(body, 9 + id_len)?;
    let count = read_u32(body, 13 + id_len)?;
    let payload = body.get(17 + id_len..)?;
    Some(Body {
        lsn,
        batch_id,
        index,
        count,
        payload,
    })
}

/// Scans one segment; replays complete batches; stops at the first defect.
fn scan_segment<E>(
    data: &[u8],
    first_lsn: u64,
    mut on_record: impl FnMut(ReplayRecord<'_>) -> Result<(), E>,
) -> Result<Scan, E> {
    let mut scan = Scan {
        valid_len: 0,
        next_lsn: first_lsn,
        batches: Vec::new(),
        defect: None,
    };
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        scan.defect = Some("missing segment magic".into());
        return Ok(scan);
    }
    let mut pos = MAGIC.len();
    scan.valid_len = pos as u64;
    // Frames of the batch being read: (offset, lsn) of its first frame and its frames' spans.
    let mut open_batch: Vec<(usize, usize)> = Vec::new();
    let mut batch_start = pos;
    let mut lsn = first_lsn;
    loop {
        if pos == data.len() {
            if !open_batch.is_empty() {
                scan.defect = Some("incomplete batch at end of log".into());
            }
            break;
        }
        let (Some(len), Some(crc)) = (read_u32(data, pos), read_u32(data, pos + 4)) else {
            scan.defect = Some("short frame header".into());
            break;
        };
        let start = pos + FRAME_HEADER;
        let Some(body) = data.get(start..start + len as usize) else {
            scan.defect = Some("short frame body".into());
            break;
        };
        if crc32fast::hash(body) != crc {
            scan.defect = Some("frame checksum mismatch".into());
            break;
        }
        let Some(b) = decode_body(body) else {
            scan.defect = Some("malformed frame body".into());
            break;
        };
        if b.lsn != lsn {
            scan.defect = Some(format!("lsn {} where {lsn} expected", b.lsn));
            break;
        }
        if b.count == 0 || b.index >= b.count || b.index as usize != open_batch.len() {
            scan.defect = Some(format!(
                "record {} of {} out of order (batch has {} so far)",
                b.index,
                b.count,
                open_batch.len()
            ));
            break;
        }
        if open_batch.is_empty() {
            batch_start = pos;
        }
        open_batch.push((start, start + len as usize));
        pos = start + len as usize;
        lsn += 1;
        if b.index + 1 == b.count {
            // Complete batch: replay it.
            let first = lsn - u64::from(b.count);
            for &(s, e) in &open_batch {
                if let Some(rb) = data.get(s..e).and_then(decode_body) {
                    on_record(ReplayRecord {
                        lsn: rb.lsn,
                        batch_id: rb.batch_id,
                        index: rb.index,
                        count: rb.count,
                        payload: rb.payload,
                    })?;
                }
            }
            scan.batches.push((
                b.batch_id.to_vec(),
                BatchLoc {
                    first_lsn: first,
                    count: b.count,
                },
            ));
            open_batch.clear();
            scan.valid_len = pos as u64;
            scan.next_lsn = lsn;
        }
    }
    // `valid_len` ends at the last complete batch: an incomplete batch and anything after a
    // defect are cut.
    debug_assert!(open_batch.is_empty() || scan.valid_len == batch_start as u64);
    Ok(scan)
}

fn encode_record(
    out: &mut Vec<u8>,
    lsn: u64,
    batch_id: &[u8],
    index: u32,
    count: u32,
    payload: &[u8],
) {
    let body_len = BODY_FIXED + batch_id.len() + payload.len();
    let at = out.len();
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let body_at = out.len();
    out.extend_from_slice(&lsn.to_le_bytes());
    out.push(batch_id.len() as u8);
    out.extend_from_slice(batch_id);
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[body_at..]);
    out[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}

struct Writer {
    dir: PathBuf,
    file: File,
    len: u64,
    next_lsn: u64,
    segments: VecDeque<Segment>,
    index: HashMap<Vec<u8>, BatchLoc>,
    opts: WalOptions,
    poisoned: Option<String>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut buf = Vec::with_capacity(1 << 20);
        while let Ok(first) = rx.recv() {
            let mut group = Vec::new();
            let mut bytes = 0usize;
            let mut next = Some(first);
            loop {
                match next.take() {
                    Some(Msg::Append(req)) => {
                        bytes += req.records.iter().map(|r| r.len() + 64).sum::<usize>();
                        group.push(req);
                    }
                    Some(Msg::Truncate(lsn, reply)) => {
                        // Commit what is gathered first, to keep the order of operations.
                        self.commit(std::mem::take(&mut group), &mut buf);
                        bytes = 0;
                        let _ = reply.send(self.truncate(lsn));
                    }
                    None => {}
                }
                if bytes >= self.opts.max_group_bytes {
                    break;
                }
                match rx.try_recv() {
                    Ok(m) => next = Some(m),
                    Err(_) => break,
                }
            }
            self.commit(group, &mut buf);
        }
        // Channel closed: everything acknowledged was already synced.
    }

    fn truncate(&mut self, checkpoint_lsn: u64) -> Result<usize, WalError> {
        let mut removed = 0;
        // Segment i holds lsns [first_i, first_{i+1}); removable when first_{i+1} - 1 <= cp.
        while self.segments.len() >= 2 {
            let next_first = self.segments.get(1).map_or(u64::MAX, |s| s.first_lsn);
            if next_first.saturating_sub(1) > checkpoint_lsn {
                break;
            }
            let Some(seg) = self.segments.pop_front() else {
                break;
            };
            fs::remove_file(&seg.path).map_err(|e| WalError::io(&seg.path, e))?;
            removed += 1;
        }
        if removed > 0 {
            let oldest = self.segments.front().map_or(self.next_lsn, |s| s.first_lsn);
            self.index.retain(|_, loc| loc.first_lsn >= oldest);
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    fn fail_all(group: Vec<(Request, Option<Ack>)>, err: impl Fn() -> WalError) {
        for (req, _) in group {
            let _ = req.reply.send(Err(err()));
        }
    }

    fn commit(&mut self, group: Vec<Request>, buf: &mut Vec<u8>) {
        if group.is_empty() {
            return;
        }
        if let Some(p) = &self.poisoned {
            let p = p.clone();
            for req in group {
                let _ = req.reply.send(Err(WalError::Poisoned(p.clone())));
            }
            return;
        }
        // A segment with no record yet is never rotated (a `segment_bytes` below the magic's
        // length would otherwise create the same file again).
        if self.len >= self.opts.segment_bytes
            && self.len > MAGIC.len() as u64
            && let Err(e) = self.rotate()
        {
            let msg = e.to_string();
            let disk_full = matches!(e, WalError::DiskFull(_));
            for req in group {
                let err = if disk_full {
                    WalError::DiskFull(io::Error::new(io::ErrorKind::StorageFull, msg.clone()))
                } else {
                    WalError::Io {
                        path: self.dir.clone(),
                        source: io::Error::other(msg.clone()),
                    }
                };
                let _ = req.reply.send(Err(err));
            }
            return;
        }
        buf.clear();
        let mut lsn = self.next_lsn;
        let mut planned: Vec<(Request, Option<Ack>)> = Vec::with_capacity(group.len());
        let mut new_ids: HashMap<Vec<u8>, BatchLoc> = HashMap::new();
        for req in group {
            let known = self
                .index
                .get(&req.batch_id)
                .or_else(|| new_ids.get(&req.batch_id))
                .copied();
            if let Some(loc) = known {
                planned.push((
                    req,
                    Some(Ack {
                        first_lsn: loc.first_lsn,
                        count: loc.count,
                        duplicate: true,
                    }),
                ));
                continue;
            }
            let count = req.records.len() as u32;
            for (i, r) in req.records.iter().enumerate() {
                encode_record(buf, lsn + i as u64, &req.batch_id, i as u32, count, r);
            }
            new_ids.insert(
                req.batch_id.clone(),
                BatchLoc {
                    first_lsn: lsn,
                    count,
                },
            );
            planned.push((
                req,
                Some(Ack {
                    first_lsn: lsn,
                    count,
                    duplicate: false,
                }),
            ));
            lsn += u64::from(count);
        }
        if !buf.is_empty() {
            let path = self
                .segments
                .back()
                .map_or_else(|| self.dir.clone(), |s| s.path.clone());
            if let Err(e) = self.write_group(buf) {
                // Undo the partial write so the log ends on its last durable batch.
                let restored = self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.seek(SeekFrom::Start(self.len)).map(|_| ()));
                if let Err(re) = restored {
                    self.poisoned = Some(format!("could not undo a failed write: {re}"));
                }
                let full = is_disk_full(&e);
                let text = e.to_string();
                Self::fail_all(planned, || {
                    if full {
                        WalError::DiskFull(io::Error::new(io::ErrorKind::StorageFull, text.clone()))
                    } else {
                        WalError::Io {
                            path: path.clone(),
                            source: io::Error::new(e.kind(), text.clone()),
                        }
                    }
                });
                return;
            }
            let synced = match &self.opts.fault {
                Some(f) => f.before_sync(),
                None => Ok(()),
            }
            .and_then(|()| self.file.sync_data());
            if let Err(e) = synced {
                let msg = format!("fsync of {} failed: {e}", path.display());
                self.poisoned = Some(msg.clone());
                Self::fail_all(planned, || WalError::Poisoned(msg.clone()));
                return;
            }
            self.len += buf.len() as u64;
            self.next_lsn = lsn;
            self.index.extend(new_ids);
        }
        for (req, ack) in planned {
            if let Some(ack) = ack {
                let _ = req.reply.send(Ok(ack));
            }
        }
    }

    fn write_group(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(f) = &self.opts.fault
            && let Err((n, e)) = f.before_write(buf.len())
        {
            self.file.write_all(&buf[..n.min(buf.len())])?;
            return Err(e);
        }
        self.file.write_all(buf)
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let (f, seg) = create_segment(&self.dir, self.next_lsn)?;
        self.file = f;
        self.len = MAGIC.len() as u64;
        self.segments.push_back(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! One split: an immutable tantivy index of the events of one organization and time range.
//!
//! Split format 4 (written since 2026-11-27 morning; `SplitMeta::format`, column `format` of
//! the catalogue): the index of format 3 below *without* the stored `event` field; the events
//! are in a columnar block file beside the index ([`crate::block`], `events.blk`), addressed by
//! row = tantivy document id (the segment is built in the block's row order). Rows are ordered
//! by `event.dataset`, `source.ip`, time (events of one source and dataset are alike: their
//! columns compress far better than in time order), so document order is no longer time
//! order: [`OpenSplit::search`] returns the documents of a format 4 split ordered by their `ts`.
//!
//! Split format 3 (2026-11-27 night; read, and merged with its own kind):
//!
//! | field | options | holds |
//! |---|---|---|
//! | `observables` | raw term, docs only, no fieldnorms | every indicator term of the event (see [`crate::terms`]) except URLs with a query string and addresses |
//! | `ip_bytes` | bytes, indexed (docs only), no fieldnorms | every term that is an IP address in canonical text, as its 4 or 16 bytes ([`crate::terms::ip_key`]) |
//! | `url_stem` | raw term, docs only, no fieldnorms | URLs with a query string, cut at the `?`, without scheme (candidates, re-checked on the stored event) |
//! | `ts` | i64, fast | `@timestamp` in UTC nanoseconds (range filters read the fast field) |
//! | `org`, `dataset` | fast | dimensions |
//! | `event` | stored (zstd level 3 doc store, 128 KiB blocks) | the normalized event as ECS JSON |
//!
//! Split format 2: the same without `ip_bytes` (addresses as text in `observables`), doc store
//! blocks of 1 MiB.
//! Split format 1: `observables` also held the URLs with a query string (as recorded and
//! without scheme), eight per-kind term fields (empty since the per-kind era), `ts` indexed
//! and fast, `org`/`dataset` indexed and fast, fieldnorms on every indexed field, zstd level 6
//! in 64 KiB blocks. Older splits stay readable: a reader resolves its fields by name from the
//! split's own schema; a hunt looks addresses up in `ip_bytes` where the split has it and as
//! text in `observables` otherwise, every other indicator in `observables` (exact in every
//! format), plus `url_stem`, where the split has it, for indicators with a `?` (re-checked).
//! Compaction merges splits of the same format (tantivy merges equal schemas and settings
//! only) and, once a window is sealed, rewrites splits of format 3 or 4 into the store's
//! compacted format with [`rebuild`] (events read back and indexed again).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use tantivy::collector::DocSetCollector;
use tantivy::postings::TermInfo;
use tantivy::query::{AllQuery, Query, RangeQuery};
use tantivy::schema::{
    BytesOptions, FAST, Field, FieldType, IndexRecordOption, STORED, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexSettings, InvertedIndexReader, ReloadPolicy,
    TantivyDocument, Term,
};
use yagura_model::Timestamp;

use crate::terms::{IpKey, index_keys, ip_key};

/// The split format written now (see the module docs).
pub const FORMAT: u32 = 4;
/// Split format 3 (read, and merged with its own kind, never written by the store).
pub const FORMAT_V3: u32 = 3;
/// Split format 2 (read, and merged with its own kind, never written).
pub const FORMAT_V2: u32 = 2;
/// The first split format (read, and merged with its own kind, never written).
pub const FORMAT_V1: u32 = 1;

/// Errors of building or reading a split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("split {path}: {source}")]
    Tantivy {
        path: PathBuf,
        source: tantivy::TantivyError,
    },
    #[error("split {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Block(#[from] crate::block::BlockError),
    #[error("split {path}: stored event {doc} is not valid: {reason}")]
    BadDocument {
        path: PathBuf,
        doc: String,
        reason: String,
    },
}

/// The fields of the schema of a split format the store builds: [`FORMAT`] ([`Fields::new`])
/// or, for tests and measurements, [`FORMAT_V3`] ([`Fields::v3`]).
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub observables: Field,
    pub url_stem: Field,
    pub ip: Field,
    pub ts: Field,
    pub org: Field,
    pub dataset: Field,
    /// The stored event of format 3; `None` in format 4 (events in the block file).
    pub event: Option<Field>,
    /// zstd level of the block's columns (format 4).
    pub block_level: i32,
    /// Rows per chunk of the block (format 4).
    pub block_chunk_rows: usize,
}

/// Name of the binary address field of format 3 (format 1 has an empty text field `ip`).
const IP_FIELD: &str = "ip_bytes";

impl Fields {
    /// The schema of [`FORMAT`] (4): the index only.
    pub fn new() -> Fields {
        Fields::with(false)
    }

    /// The schema of [`FORMAT_V3`]: the index and the stored `event` field.
    pub fn v3() -> Fields {
        Fields::with(true)
    }

    /// The split format these fields build.
    pub fn format(&self) -> u32 {
        if self.event.is_some() {
            FORMAT_V3
        } else {
            FORMAT
        }
    }

    fn with(stored: bool) -> Fields {
        let mut b = Schema::builder();
        // Raw terms, document lists only: no frequencies, no positions, no fieldnorms (nothing
        // is scored; a hunt is a term-set membership test).
        let term = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        );
        let observables = b.add_text_field("observables", term.clone());
        let url_stem = b.add_text_field("url_stem", term);
        // Addresses as 4 or 16 bytes: a third of the dictionary bytes of their text form.
        let ip = b.add_bytes_field(IP_FIELD, BytesOptions::default().set_indexed());
        let ts = b.add_i64_field(TS_FIELD, FAST);
        let org = b.add_text_field("org", FAST);
        let dataset = b.add_text_field("dataset", FAST);
        let event = stored.then(|| b.add_text_field("event", STORED));
        Fields {
            schema: b.build(),
            observables,
            url_stem,
            ip,
            ts,
            org,
            dataset,
            event,
            block_level: BLOCK_ZSTD_LEVEL,
            block_chunk_rows: BLOCK_CHUNK_ROWS,
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Fields::new()
    }
}

/// The fields a reader needs, resolved by name in one split's own schema (any format).
#[derive(Debug, Clone, Copy)]
pub struct ReadFields {
    pub observables: Field,
    /// `None` in format 1 splits (their `observables` hold URLs with query strings in full).
    pub url_stem: Option<Field>,
    /// `None` before format 3 (their `observables` hold addresses as text).
    pub ip: Option<Field>,
    pub ts: Field,
    /// `None` in format 4 (events in the block file).
    pub event: Option<Field>,
}

impl ReadFields {
    fn of(schema: &Schema, path: &Path) -> Result<ReadFields, SplitError> {
        let get = |name: &str| {
            schema.get_field(name).map_err(|_| SplitError::BadDocument {
                path: path.to_path_buf(),
                doc: "schema".into(),
                reason: format!("split schema has no field {name:?}"),
            })
        };
        Ok(ReadFields {
            observables: get("observables")?,
            url_stem: schema.get_field("url_stem").ok(),
            ip: schema
                .get_field(IP_FIELD)
                .ok()
                .filter(|f| matches!(schema.get_field_entry(*f).field_type(), FieldType::Bytes(_))),
            ts: get("ts")?,
            event: schema.get_field("event").ok(),
        })
    }
}

/// Name of the timestamp field (i64 UTC nanoseconds, fast) in every format.
const TS_FIELD: &str = "ts";

/// zstd level of the doc store of format 3 (and 2) splits. Level 9 would store ~17 % less
/// at ~4.5× the compression CPU (BENCHMARKS.md, "Event store"): not worth it while split
/// building bounds durable ingest.
pub const ZSTD_LEVEL: i32 = 3;

/// Doc store block size of format 3 splits. A hunt decompresses one whole block per block
/// holding a hit, so the block size is the price of every event a retro-hunt reads: 128 KiB
/// blocks cost ~0.1 ms each against ~1 ms for format 2's 1 MiB ones, for ~2.5 % more bytes on
/// this JSON (64 KiB: ~7 %).
pub const DOCSTORE_BLOCK: usize = 128 << 10;

/// zstd level of the columns of a format 4 block (BENCHMARKS.md, "session 7").
pub const BLOCK_ZSTD_LEVEL: i32 = 9;

/// Rows per chunk of a format 4 block: a hunt decompresses, per chunk holding hits, the
/// columns of their shapes in that chunk, so the chunk is the price of a hit in another chunk.
/// 1,024 rows cost ~4 % more block bytes than 4,096 and a quarter of the decompression per such
/// hit (BENCHMARKS.md, "Event store", session 8). Old blocks keep their own chunk sizes.
pub const BLOCK_CHUNK_ROWS: usize = 1024;

/// Index settings of every format 3 and 4 split (format 4 stores nothing in the doc store): zstd level 3 doc store in 128 KiB blocks,
/// compressed on the building thread (splits of a flush are built in parallel instead).
pub fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK,
        docstore_compress_dedicated_thread: false,
        ..IndexSettings::default()
    }
}

/// An event ready to be indexed: its timestamp, dimensions and JSON.
#[derive(Debug)]
pub struct Row<'a> {
    pub event: &'a yagura_model::Event,
    pub json: &'a str,
}

/// Summary of a built split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    pub num_docs: u64,
    pub min_ts: Timestamp,
    pub max_ts: Timestamp,
    pub bytes: u64,
}

fn tantivy_err(path: &Path) -> impl Fn(tantivy::TantivyError) -> SplitError + '_ {
    move |source| SplitError::Tantivy {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds a split (format [`FORMAT`]) in the new directory `dir` from `rows` (sorted here by
/// time), written as one segment by the calling thread (no writer threads, no merges) and
/// sealed: every file fsynced, then `meta.json`, then the directory. The caller publishes it
/// in the catalogue. `writer_memory` bounds the initial term hash table (sized to the rows).
pub fn build(
    dir: &Path,
    fields: &Fields,
    mut rows: Vec<Row<'_>>,
    writer_memory: usize,
) -> Result<Built, SplitError> {
    std::fs::create_dir_all(dir).map_err(|source| SplitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if fields.event.is_some() {
        rows.sort_by_key(|r| r.event.timestamp);
    } else {
        // Entity order: the rows of one dataset and source are alike (stable: ties keep the
        // order of arrival).
        rows.sort_by(|a, b| {
            (a.event.dataset(), a.event.source.ip, a.event.timestamp).cmp(&(
                b.event.dataset(),
                b.event.source.ip,
                b.event.timestamp,
            ))
        });
    }
    let io = |source| SplitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut block = match fields.event {
        Some(_) => None,
        None => Some(
            crate::block::BlockWriter::new(fields.block_level, fields.block_chunk_rows)
                .map_err(io)?,
        ),
    };
    let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| SplitError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    // The term table starts at about three terms per row and grows if needed; a fixed large
    // budget would allocate and clear a big table for every small split.
    let budget = rows
        .len()
        .saturating_mul(512)
        .clamp(1 << 20, writer_memory.max(1 << 20));
    let mut writer = Index::builder()
        .schema(fields.schema.clone())
        .settings(index_settings())
        .single_segment_index_writer::<TantivyDocument>(mmap, budget)
        .map_err(tantivy_err(dir))?;
    let mut min_ts = i64::MAX;
    let mut max_ts = i64::MIN;
    let mut terms: Vec<String> = Vec::new();
    let mut stems: Vec<String> = Vec::new();
    let mut ips: Vec<IpKey> = Vec::new();
    for row in &rows {
        let ev = row.event;
        let ts = ev.timestamp.nanos();
        min_ts = min_ts.min(ts);
        max_ts = max_ts.max(ts);
        let mut doc = TantivyDocument::new();
        terms.clear();
        stems.clear();
        ips.clear();
        index_keys(
            ev,
            |k| ips.push(k),
            |t| terms.push(t.to_string()),
            |t| stems.push(t.to_string()),
        );
        terms.sort_unstable();
        terms.dedup();
        stems.sort_unstable();
        stems.dedup();
        ips.sort_unstable();
        ips.dedup();
        for t in terms.drain(..) {
            doc.add_text(fields.observables, t);
        }
        for k in &ips {
            doc.add_bytes(fields.ip, k.as_bytes());
        }
        for t in stems.drain(..) {
            doc.add_text(fields.url_stem, t);
        }
        doc.add_i64(fields.ts, ts);
        if let Some(org) = ev.org() {
            doc.add_text(fields.org, org.as_str());
        }
        if let Some(ds) = ev.dataset() {
            doc.add_text(fields.dataset, ds);
        }
        match (fields.event, block.as_mut()) {
            (Some(f), _) => doc.add_text(f, row.json),
            (None, Some(b)) => b.push(row.json).map_err(io)?,
            (None, None) => {}
        }
        writer.add_document(doc).map_err(tantivy_err(dir))?;
    }
    writer.finalize().map_err(tantivy_err(dir))?;
    // The block is fsynced before the directory, like every index file.
    if let Some(b) = block {
        b.write_to(&dir.join(crate::block::FILE_NAME)).map_err(io)?;
    }
    crate::wal::sync_dir(dir).map_err(|e| SplitError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(Built {
        num_docs: rows.len() as u64,
        min_ts: Timestamp::from_nanos(if rows.is_empty() { 0 } else { min_ts }),
        max_ts: Timestamp::from_nanos(if rows.is_empty() { 0 } else { max_ts }),
        bytes: dir_bytes(dir)?,
    })
}

/// Total size of the files in `dir` (not recursive: a split directory is flat).
pub fn dir_bytes(dir: &Path) -> Result<u64, SplitError> {
    let io = |source| SplitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut total = 0;
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let md = e.metadata().map_err(io)?;
        if md.is_file() {
            total += md.len();
        }
    }
    Ok(total)
}

/// An open split.
pub struct OpenSplit {
    pub index: Index,
    pub reader: IndexReader,
    pub path: PathBuf,
    /// The fields of this split's own schema (format 1 to 4).
    pub fields: ReadFields,
    /// The events of a format 4 split (its schema has no `event` field).
    pub block: Option<crate::block::BlockReader>,
    /// Per segment (in the searcher's order), where its postings and doc-store blocks lie,
    /// for read-ahead hints; `None` unless opened with read-ahead ([`OpenSplit::open_with`]).
    hints: Option<Vec<SegmentHints>>,
}

/// Where a segment's posting lists and doc-store blocks lie in its files (see
/// [`crate::readahead`]); a part whose layout was not recognized is `None` (no hints).
#[derive(Debug)]
struct SegmentHints {
    /// The `.term` file and the FST of each field's term dictionary in it.
    fsts: Option<(std::fs::File, Ranges)>,
    /// The `.idx` file and the start of each field's postings in it.
    postings: Option<(std::fs::File, Vec<(u32, u64)>)>,
    /// The `.store` file and its blocks: (first document after the block, bytes).
    store: Option<(std::fs::File, Ranges)>,
}

/// Byte ranges in a file, each with a number (a field id, or the first document after a
/// doc-store block).
type Ranges = Vec<(u32, std::ops::Range<u64>)>;

/// At most this many bytes of doc-store blocks are read ahead per split and hunt: the hits
/// of a hunt matching very many events are read as before, not all queued at once.
pub const PREFETCH_MAX_DOC_BYTES: u64 = 64 << 20;

impl std::fmt::Debug for OpenSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSplit")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A hunt with at least this many terms reads most blocks of every term dictionary it
/// searches (sorted terms spread over all of them), so the dictionaries are worth reading
/// ahead; a hunt for a few indicators touches a few blocks and is left alone.
pub const PREFETCH_MIN_TERMS: usize = 1_000;

/// Asks the kernel to read the term dictionaries (`*.term`) of the split in `dir` into the
/// page cache in the background (`posix_fadvise(POSIX_FADV_WILLNEED)`). A cold hunt otherwise
/// faults the memory-mapped dictionaries in one read-around window (≈128 KiB) at a time, each
/// fault waiting for its read: ≈55 ms of waiting per 1M-event split on this machine, against
/// ≈13 ms to read the same bytes sequentially. A hint only: a split that cannot be listed or
/// opened here is looked up as before (and reports its error there), and on systems without
/// `fadvise` this does nothing.
pub fn prefetch_dictionaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "term")
            && let Ok(file) = std::fs::File::open(&path)
        {
            advise_will_need(&file);
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn advise_will_need(file: &std::fs::File) {
    if let Err(e) = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::WillNeed) {
        tracing::debug!(error = %e, "fadvise(WILLNEED) failed; the hunt reads on demand");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn advise_will_need(_file: &std::fs::File) {}

impl OpenSplit {
    /// Opens the split at `path` (its files mapped with the kernel's default read-around).
    pub fn open(path: &Path) -> Result<OpenSplit, SplitError> {
        OpenSplit::open_with(path, false)
    }

    /// Opens the split at `path`; with `read_ahead`, for hunting cold: its files are mapped
    /// with `MADV_RANDOM` (a page fault reads its page, not the 8 MiB read-around window of
    /// the measuring VM) and the layout of its postings and doc store is learnt, so that
    /// [`OpenSplit::prefetch_postings`] and [`OpenSplit::prefetch_docs`] can ask for exactly
    /// what a hunt reads (see [`crate::readahead`]).
    pub fn open_with(path: &Path, read_ahead: bool) -> Result<OpenSplit, SplitError> {
        let index = if read_ahead {
            let dir = tantivy::directory::MmapDirectory::open_with_madvice(
                path,
                tantivy::directory::Advice::Random,
            )
            .map_err(|e| SplitError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
            Index::open(dir).map_err(tantivy_err(path))?
        } else {
            Index::open_in_dir(path).map_err(tantivy_err(path))?
        };
        let fields = ReadFields::of(&index.schema(), path)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            // Blocks are 128 KiB (1 MiB in format 2) decompressed: a small cache per split.
            .doc_store_cache_num_blocks(8)
            .try_into()
            .map_err(tantivy_err(path))?;
        let block = match fields.event {
            Some(_) => None,
            None => Some(crate::block::BlockReader::open(
                &path.join(crate::block::FILE_NAME),
            )?),
        };
        let hints = read_ahead.then(|| {
            reader
                .searcher()
                .segment_readers()
                .iter()
                .map(|seg| {
                    let id = seg.segment_id().uuid_string();
                    let file = |ext: &str| {
                        crate::readahead::TantivyFile::open(&path.join(format!("{id}.{ext}")))
                    };
                    let fsts = file("term").and_then(|f| {
                        let fsts = f.dictionary_fsts()?;
                        Some((f.file, fsts))
                    });
                    let postings = file("idx").and_then(|f| {
                        let starts = f
                            .composite_fields()?
                            .into_iter()
                            .map(|(field, r)| (field, r.start))
                            .collect();
                        Some((f.file, starts))
                    });
                    let store = file("store").and_then(|f| {
                        let blocks = f.doc_store_blocks(seg.max_doc())?;
                        Some((f.file, blocks))
                    });
                    SegmentHints {
                        fsts,
                        postings,
                        store,
                    }
                })
                .collect()
        });
        Ok(OpenSplit {
            index,
            reader,
            path: path.to_path_buf(),
            fields,
            block,
            hints,
        })
    }

    /// Per segment: whether the layouts of its term dictionaries, postings and doc store were
    /// recognized for read-ahead (see [`crate::readahead`]), and its number of doc-store blocks.
    #[cfg(test)]
    pub(crate) fn read_ahead_layouts(&self) -> Vec<(bool, bool, Option<usize>)> {
        self.hints
            .iter()
            .flatten()
            .map(|h| {
                (
                    h.fsts.is_some(),
                    h.postings.is_some(),
                    h.store.as_ref().map(|(_, b)| b.len()),
                )
            })
            .collect()
    }

    /// Asks the kernel to read the FSTs of the term dictionaries of `fields` (by name) in the
    /// background: what a large hunt's term lookups touch (the term-info stores after them are
    /// read for the terms present only). Nothing unless opened with read-ahead.
    pub fn prefetch_dictionaries(&self, fields: &[&str]) {
        self.for_each_fst_file(fields, |file, ranges| {
            crate::readahead::will_need(file, ranges)
        });
    }

    /// Reads the FSTs of the term dictionaries of `fields` into the page cache and waits for
    /// them (plain reads of this split's `.term` file, in 1 MiB pieces, into a buffer dropped
    /// after): the first large hunt over a split just opened reads them whole anyway, and its
    /// term lookups would otherwise fault them one 4 KiB page at a time wherever the read-ahead
    /// of [`OpenSplit::prefetch_dictionaries`] has not arrived yet. Pages already cached or
    /// being read are not read again. Nothing unless opened with read-ahead.
    pub fn load_dictionaries(&self, fields: &[&str]) {
        self.for_each_fst_file(fields, |file, ranges| crate::readahead::load(file, ranges));
    }

    /// Per segment whose term-dictionary layout was recognized: its `.term` file and the byte
    /// ranges of the FSTs of `fields` (by name) in it. Nothing unless opened with read-ahead.
    fn for_each_fst_file(
        &self,
        fields: &[&str],
        mut f: impl FnMut(&std::fs::File, &mut dyn Iterator<Item = std::ops::Range<u64>>),
    ) {
        let Some(hints) = &self.hints else { return };
        let schema = self.index.schema();
        let ids: Vec<u32> = fields
            .iter()
            .filter_map(|name| schema.get_field(name).ok())
            .map(|f| f.field_id())
            .collect();
        for (file, fsts) in hints.iter().filter_map(|seg| seg.fsts.as_ref()) {
            let mut ranges = fsts
                .iter()
                .filter(|(field, _)| ids.contains(field))
                .map(|(_, r)| r.clone());
            f(file, &mut ranges);
        }
    }

    /// Asks the kernel to read the posting lists of the terms `found` in the background (all
    /// at once), before [`OpenSplit::postings`] reads them. Nothing unless opened with
    /// read-ahead.
    pub fn prefetch_postings(&self, found: &TermLookup) {
        let Some(hints) = &self.hints else { return };
        for (seg, terms) in hints.iter().zip(&found.segments) {
            let Some((file, starts)) = &seg.postings else {
                continue;
            };
            let ranges = terms.iter().filter_map(|(field, info)| {
                let base = starts.iter().find(|(f, _)| *f == field.field_id())?.1;
                Some(base + info.postings_range.start as u64..base + info.postings_range.end as u64)
            });
            crate::readahead::will_need(file, crate::readahead::merged(ranges.collect()));
        }
    }

    /// Asks the kernel to read the doc-store blocks holding `docs` in the background (all at
    /// once, at most [`PREFETCH_MAX_DOC_BYTES`]), before [`OpenSplit::fetch`] reads them.
    /// Nothing unless opened with read-ahead, nor for a format 4 split (events in its block).
    pub fn prefetch_docs(&self, docs: &[DocAddress]) {
        let Some(hints) = &self.hints else { return };
        if self.fields.event.is_none() {
            return;
        }
        let mut budget = PREFETCH_MAX_DOC_BYTES;
        for (ord, seg) in hints.iter().enumerate() {
            let Some((file, blocks)) = &seg.store else {
                continue;
            };
            let mut ranges: Vec<std::ops::Range<u64>> = Vec::new();
            for d in docs.iter().filter(|d| d.segment_ord as usize == ord) {
                let i = blocks.partition_point(|(end, _)| *end <= d.doc_id);
                if let Some((_, r)) = blocks.get(i)
                    && ranges.last() != Some(r)
                {
                    ranges.push(r.clone());
                }
            }
            let mut ranges = crate::readahead::merged(ranges);
            let mut kept = 0;
            for r in &ranges {
                let len = r.end - r.start;
                if len > budget {
                    break;
                }
                budget -= len;
                kept += 1;
            }
            ranges.truncate(kept);
            crate::readahead::will_need(file, ranges);
        }
    }

    /// The documents bearing any of `terms` (all documents if `terms` is `None`) and whose
    /// timestamp is in `[from, to)`, in document (time) order. `terms` are normalized hunt
    /// terms; an address in canonical text is looked up as its [`IpKey`] in format 3 splits and
    /// as text in older ones, every other term in `observables`.
    pub fn search(
        &self,
        terms: Option<&[String]>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        let Some(terms) = terms else {
            return self.search_all(from, to);
        };
        let found = self.lookup_terms(terms)?;
        self.postings(&found, from, to)
    }

    /// The term-dictionary step of [`OpenSplit::search`]: the term infos of those of `terms`
    /// present in this split (see [`OpenSplit::search`] for which field each term is looked up
    /// in).
    pub fn lookup_terms(&self, terms: &[String]) -> Result<TermLookup, SplitError> {
        let Some(ip) = self.fields.ip else {
            let keys: Vec<&[u8]> = terms.iter().map(|t| t.as_bytes()).collect();
            return self.lookup_keys(&[(self.fields.observables, keys)]);
        };
        let mut text: Vec<&[u8]> = Vec::with_capacity(terms.len());
        let mut ips: Vec<IpKey> = Vec::new();
        for t in terms {
            match ip_key(t) {
                Some(k) => ips.push(k),
                None => text.push(t.as_bytes()),
            }
        }
        ips.sort_unstable();
        let ips: Vec<&[u8]> = ips.iter().map(IpKey::as_bytes).collect();
        self.lookup_keys(&[(self.fields.observables, text), (ip, ips)])
    }

    /// The documents whose `url_stem` holds any of `stems` (sorted), in `[from, to)`:
    /// candidates for URL indicators with a query string, to be re-checked on the stored
    /// event. Empty for a format 1 split (its `observables` hold such URLs in full).
    pub fn search_stems(
        &self,
        stems: &[String],
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        match self.fields.url_stem {
            Some(f) if !stems.is_empty() => {
                let keys: Vec<&[u8]> = stems.iter().map(|t| t.as_bytes()).collect();
                let found = self.lookup_keys(&[(f, keys)])?;
                self.postings(&found, from, to)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The term-set lookup of a hunt: one term-dictionary lookup per term (an FST walk of the
    /// term's bytes, ~0.1–0.3 µs; an absent term usually stops after its first bytes); the
    /// posting lists of the terms present are read by [`OpenSplit::postings`]. Tantivy's
    /// `TermSetQuery` instead builds an FST of the whole term set per split and intersects it
    /// with the dictionary: ≈33 ms per split for 10,000 terms whatever the split's size
    /// (BENCHMARKS.md, "Event store").
    /// `keys` are term-dictionary keys (a text term's bytes, an [`IpKey`]'s bytes) per field.
    fn lookup_keys(&self, keys: &[(Field, Vec<&[u8]>)]) -> Result<TermLookup, SplitError> {
        let io = |source| SplitError::Io {
            path: self.path.clone(),
            source,
        };
        let searcher = self.reader.searcher();
        let mut segments = Vec::with_capacity(searcher.segment_readers().len());
        for seg in searcher.segment_readers() {
            let mut found = Vec::new();
            for (field, terms) in keys {
                if terms.is_empty() {
                    continue;
                }
                let inverted = seg
                    .inverted_index(*field)
                    .map_err(tantivy_err(&self.path))?;
                let dict = inverted.terms();
                for t in terms {
                    if let Some(info) = dict.get(t).map_err(io)? {
                        found.push((*field, info));
                    }
                }
            }
            segments.push(found);
        }
        Ok(TermLookup { segments })
    }

    /// The postings step of a hunt: the documents of the terms `found` by
    /// [`OpenSplit::lookup_terms`], deduplicated, then the `ts` fast field for documents of a
    /// split that straddles a time bound; in time order.
    pub fn postings(
        &self,
        found: &TermLookup,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        let io = |source| SplitError::Io {
            path: self.path.clone(),
            source,
        };
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        let mut docs: Vec<DocId> = Vec::new();
        for (seg_ord, (seg, terms)) in searcher
            .segment_readers()
            .iter()
            .zip(&found.segments)
            .enumerate()
        {
            docs.clear();
            let mut inverted: Option<(Field, std::sync::Arc<InvertedIndexReader>)> = None;
            for (field, info) in terms {
                if inverted.as_ref().is_none_or(|(f, _)| f != field) {
                    let inv = seg
                        .inverted_index(*field)
                        .map_err(tantivy_err(&self.path))?;
                    inverted = Some((*field, inv));
                }
                let Some((_, inverted)) = &inverted else {
                    continue;
                };
                let mut postings = inverted
                    .read_block_postings_from_terminfo(info, IndexRecordOption::Basic)
                    .map_err(io)?;
                loop {
                    let block = postings.docs();
                    if block.is_empty() {
                        break;
                    }
                    docs.extend_from_slice(block);
                    postings.advance();
                }
            }
            if docs.is_empty() {
                continue;
            }
            docs.sort_unstable();
            docs.dedup();
            let alive = seg.alive_bitset();
            let ts = if from.is_some() || to.is_some() {
                Some(
                    seg.fast_fields()
                        .i64(TS_FIELD)
                        .map_err(tantivy_err(&self.path))?,
                )
            } else {
                None
            };
            for &doc in &docs {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                if let Some(col) = &ts {
                    let Some(t) = col.first(doc) else { continue };
                    if from.is_some_and(|f| t < f.nanos()) || to.is_some_and(|e| t >= e.nanos()) {
                        continue;
                    }
                }
                out.push(DocAddress::new(seg_ord as u32, doc));
            }
        }
        self.time_order(&mut out)?;
        Ok(out)
    }

    /// Orders `docs` by time (then document): the document order of format 1–3 splits, by
    /// the `ts` fast field in format 4 (entity order).
    pub fn time_order(&self, docs: &mut [DocAddress]) -> Result<(), SplitError> {
        docs.sort_unstable();
        if self.block.is_none() || docs.len() < 2 {
            return Ok(());
        }
        let searcher = self.reader.searcher();
        let mut cols = Vec::new();
        for seg in searcher.segment_readers() {
            cols.push(
                seg.fast_fields()
                    .i64(TS_FIELD)
                    .map_err(tantivy_err(&self.path))?,
            );
        }
        let ts = |d: &DocAddress| {
            cols.get(d.segment_ord as usize)
                .and_then(|c| c.first(d.doc_id))
                .unwrap_or(i64::MIN)
        };
        docs.sort_by_cached_key(|d| (ts(d), *d));
        Ok(())
    }

    /// Every document in `[from, to)`, in document order.
    fn search_all(
        &self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        let ts = self.fields.ts;
        let query: Box<dyn Query> = if from.is_some() || to.is_some() {
            let lo = from.map_or(Bound::Unbounded, |f| {
                Bound::Included(Term::from_field_i64(ts, f.nanos()))
            });
            let hi = to.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(ts, t.nanos()))
            });
            Box::new(RangeQuery::new(lo, hi))
        } else {
            Box::new(AllQuery)
        };
        let searcher = self.reader.searcher();
        let mut hits: Vec<DocAddress> = searcher
            .search(&*query, &DocSetCollector)
            .map_err(tantivy_err(&self.path))?
            .into_iter()
            .collect();
        self.time_order(&mut hits)?;
        Ok(hits)
    }

    /// The stored event JSON of each address.
    pub fn fetch(&self, docs: &[DocAddress]) -> Result<Vec<String>, SplitError> {
        let searcher = self.reader.searcher();
        let Some(event) = self.fields.event else {
            // Format 4: row = document id, segments stacked in order.
            let mut base = Vec::new();
            let mut n = 0u64;
            for seg in searcher.segment_readers() {
                base.push(n);
                n += u64::from(seg.max_doc());
            }
            let mut rows = Vec::with_capacity(docs.len());
            for d in docs {
                let b =
                    base.get(d.segment_ord as usize)
                        .ok_or_else(|| SplitError::BadDocument {
                            path: self.path.clone(),
                            doc: format!("{d:?}"),
                            reason: "no such segment".into(),
                        })?;
                rows.push(b + u64::from(d.doc_id));
            }
            return match &self.block {
                Some(block) => Ok(block.get(&rows)?),
                None => Err(SplitError::BadDocument {
                    path: self.path.clone(),
                    doc: "block".into(),
                    reason: "format 4 split without its event block".into(),
                }),
            };
        };
        let mut out = Vec::with_capacity(docs.len());
        for &d in docs {
            let doc: TantivyDocument = searcher.doc(d).map_err(tantivy_err(&self.path))?;
            let json = doc
                .get_first(event)
                .and_then(|v| v.as_str())
                .ok_or_else(|| SplitError::BadDocument {
                    path: self.path.clone(),
                    doc: format!("{d:?}"),
                    reason: "no stored event".into(),
                })?;
            out.push(json.to_string());
        }
        Ok(out)
    }

    /// Number of documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Every stored event of the split in document order (format 4: the block's rows; older
    /// formats: the doc store read sequentially, each block decompressed once).
    pub fn all_events(&self) -> Result<Vec<String>, SplitError> {
        let searcher = self.reader.searcher();
        let docs = searcher.num_docs();
        let Some(event) = self.fields.event else {
            let block = self.block.as_ref().ok_or_else(|| SplitError::BadDocument {
                path: self.path.clone(),
                doc: "block".into(),
                reason: "format 4 split without its event block".into(),
            })?;
            if block.num_rows() != docs {
                return Err(SplitError::BadDocument {
                    path: self.path.clone(),
                    doc: "block".into(),
                    reason: format!("{} block rows for {docs} documents", block.num_rows()),
                });
            }
            return Ok(block.all()?);
        };
        let mut out = Vec::with_capacity(usize::try_from(docs).unwrap_or(0));
        for seg in searcher.segment_readers() {
            let store = seg.get_store_reader(1).map_err(|source| SplitError::Io {
                path: self.path.clone(),
                source,
            })?;
            for doc in store.iter::<TantivyDocument>(seg.alive_bitset()) {
                let doc = doc.map_err(tantivy_err(&self.path))?;
                let json = doc
                    .get_first(event)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| SplitError::BadDocument {
                        path: self.path.clone(),
                        doc: format!("#{}", out.len()),
                        reason: "no stored event".into(),
                    })?;
                out.push(json.to_string());
            }
        }
        Ok(out)
    }
}

/// Rewrites the splits `inputs` (any format with stored events) as one new split of `fields`'
/// format in `out` (the cross-format path of compaction: format 3 splits into format 4): every
/// stored event is read back, parsed as the WAL replay parses it, and indexed and stored again
/// by [`build`], its JSON text unchanged (byte for byte). Returns the new split's summary; its
/// `num_docs` is checked against the inputs' documents here, so a short read cannot lose events
/// silently. Memory: the JSON and the parsed events of all inputs at once (a 1M-event
/// organization-day peaked at ≈ 2.7 GB RSS in the bench; compaction packs at most
/// `CompactOptions::max_docs` events).
pub fn rebuild(
    inputs: &[&Path],
    out: &Path,
    fields: &Fields,
    writer_memory: usize,
) -> Result<Built, SplitError> {
    let mut jsons: Vec<String> = Vec::new();
    let mut docs = 0u64;
    for p in inputs {
        let open = OpenSplit::open(p)?;
        docs += open.num_docs();
        jsons.extend(open.all_events()?);
    }
    let mut events = Vec::with_capacity(jsons.len());
    for (i, json) in jsons.iter().enumerate() {
        let ev: yagura_model::Event =
            serde_json::from_str(json).map_err(|e| SplitError::BadDocument {
                path: out.to_path_buf(),
                doc: format!("input event #{i}"),
                reason: e.to_string(),
            })?;
        events.push(ev);
    }
    let rows: Vec<Row<'_>> = events
        .iter()
        .zip(&jsons)
        .map(|(event, json)| Row { event, json })
        .collect();
    let built = build(out, fields, rows, writer_memory)?;
    if built.num_docs != docs {
        return Err(SplitError::BadDocument {
            path: out.to_path_buf(),
            doc: "split".into(),
            reason: format!("rebuilt {} events from {docs} documents", built.num_docs),
        });
    }
    Ok(built)
}

/// Merges `inputs` (same schema) into the new split directory `out`.
pub fn merge(inputs: &[&Path], out: &Path) -> Result<u64, SplitError> {
    std::fs::create_dir_all(out).map_err(|source| SplitError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut indices = Vec::with_capacity(inputs.len());
    for p in inputs {
        indices.push(Index::open_in_dir(p).map_err(tantivy_err(p))?);
    }
    let dir = tantivy::directory::MmapDirectory::open(out).map_err(|e| SplitError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    tantivy::indexer::merge_indices(&indices, dir).map_err(tantivy_err(out))?;
    // Format 4: the blocks concatenated in the same order as the merged documents (segments
    // are stacked in input order; nothing is deleted in a split).
    let blocks: Vec<PathBuf> = inputs
        .iter()
        .map(|p| p.join(crate::block::FILE_NAME))
        .collect();
    if blocks.iter().any(|b| b.exists()) {
        let io = |source| SplitError::Io {
            path: out.to_path_buf(),
            source,
        };
        let mut w =
            crate::block::BlockWriter::new(BLOCK_ZSTD_LEVEL, BLOCK_CHUNK_ROWS).map_err(io)?;
        for b in &blocks {
            for json in crate::block::BlockReader::open(b)?.all()? {
                w.push(&json).map_err(io)?;
            }
        }
        w.write_to(&out.join(crate::block::FILE_NAME)).map_err(io)?;
    }
    crate::wal::sync_dir(out).map_err(|e| SplitError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    dir_bytes(out)
}

/// The term infos a hunt found in one split ([`OpenSplit::lookup_terms`]), per segment in
/// segment order: the input of [`OpenSplit::postings`].
#[derive(Debug, Default, Clone)]
pub struct TermLookup {
    segments: Vec<Vec<(Field, TermInfo)>>,
}

impl TermLookup {
    /// Number of (segment, term) pairs found.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cache of open splits, by id.
#[derive(Debug, Default)]
pub struct SplitCache {
    open: HashMap<String, std::sync::Arc<OpenSplit>>,
}

impl SplitCache {
    /// The split `id` if it is open.
    pub fn cached(&self, id: &str) -> Option<std::sync::Arc<OpenSplit>> {
        self.open.get(id).cloned()
    }

    /// Keeps `split` open under `id` (a split opened by another thread meanwhile is replaced:
    /// both are the same immutable files).
    pub fn insert(&mut self, id: &str, split: std::sync::Arc<OpenSplit>) {
        self.open.insert(id.to_string(), split);
    }

    pub fn forget(&mut self, id: &str) {
        self.open.remove(id);
    }
}

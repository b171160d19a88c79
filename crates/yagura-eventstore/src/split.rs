//! One split: an immutable tantivy index of the events of one organization and time range.
//!
//! Split format 2 (written since 2026-11-26 evening; `SplitMeta::format`, column `format` of the
//! catalogue):
//!
//! | field | options | holds |
//! |---|---|---|
//! | `observables` | raw term, docs only, no fieldnorms | every indicator term of the event (see [`crate::terms`]) except URLs with a query string |
//! | `url_stem` | raw term, docs only, no fieldnorms | URLs with a query string, cut at the `?`, without scheme (candidates, re-checked on the stored event) |
//! | `ts` | i64, fast | `@timestamp` in UTC nanoseconds (range queries run on the fast field) |
//! | `org`, `dataset` | fast | dimensions |
//! | `event` | stored (zstd level 3 doc store, 1 MiB blocks) | the normalized event as ECS JSON |
//!
//! Split format 1 (before): `observables` also held the URLs with a query string (as recorded
//! and without scheme), eight per-kind term fields (empty since the per-kind era), `ts` indexed
//! and fast, `org`/`dataset` indexed and fast, fieldnorms on every indexed field, zstd level 6 in
//! 64 KiB blocks. Format 1 splits stay readable: a reader resolves its fields by name from the
//! split's own schema, and a hunt asks `observables` for every indicator (exact in both
//! formats) plus `url_stem`, where the split has it, for indicators with a `?` (re-checked).
//! Compaction merges only splits of the same format (tantivy merges equal schemas only).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use tantivy::collector::DocSetCollector;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermSetQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{DocAddress, Index, IndexReader, IndexSettings, ReloadPolicy, TantivyDocument, Term};
use yagura_model::Timestamp;

use crate::terms::index_terms;

/// The split format written now (see the module docs).
pub const FORMAT: u32 = 2;
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
    #[error("split {path}: stored event {doc} is not valid: {reason}")]
    BadDocument {
        path: PathBuf,
        doc: String,
        reason: String,
    },
}

/// The fields of the schema of the split format written now ([`FORMAT`]).
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub observables: Field,
    pub url_stem: Field,
    pub ts: Field,
    pub org: Field,
    pub dataset: Field,
    pub event: Field,
}

impl Fields {
    pub fn new() -> Fields {
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
        let ts = b.add_i64_field("ts", FAST);
        let org = b.add_text_field("org", FAST);
        let dataset = b.add_text_field("dataset", FAST);
        let event = b.add_text_field("event", STORED);
        Fields {
            schema: b.build(),
            observables,
            url_stem,
            ts,
            org,
            dataset,
            event,
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
    pub ts: Field,
    pub event: Field,
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
            ts: get("ts")?,
            event: get("event")?,
        })
    }
}

/// zstd level of the doc store of format 2 splits.
pub const ZSTD_LEVEL: i32 = 3;

/// Doc store block size of format 2 splits: big blocks compress the repetitive JSON much
/// better; a hunt decompresses one block per hit's block (≈1 ms), and hunts fetch few events.
pub const DOCSTORE_BLOCK: usize = 1 << 20;

/// Index settings of every format 2 split: zstd level 3 doc store in 1 MiB blocks, compressed
/// on the building thread (splits of a flush are built in parallel instead).
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
    rows.sort_by_key(|r| r.event.timestamp);
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
    for row in &rows {
        let ev = row.event;
        let ts = ev.timestamp.nanos();
        min_ts = min_ts.min(ts);
        max_ts = max_ts.max(ts);
        let mut doc = TantivyDocument::new();
        terms.clear();
        stems.clear();
        index_terms(
            ev,
            |t| terms.push(t.to_string()),
            |t| stems.push(t.to_string()),
        );
        terms.sort_unstable();
        terms.dedup();
        stems.sort_unstable();
        stems.dedup();
        for t in terms.drain(..) {
            doc.add_text(fields.observables, t);
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
        doc.add_text(fields.event, row.json);
        writer.add_document(doc).map_err(tantivy_err(dir))?;
    }
    writer.finalize().map_err(tantivy_err(dir))?;
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
    /// The fields of this split's own schema (format 1 or 2).
    pub fields: ReadFields,
}

impl std::fmt::Debug for OpenSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSplit")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl OpenSplit {
    pub fn open(path: &Path) -> Result<OpenSplit, SplitError> {
        let index = Index::open_in_dir(path).map_err(tantivy_err(path))?;
        let fields = ReadFields::of(&index.schema(), path)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            // Blocks are up to 1 MiB decompressed: a small cache per open split.
            .doc_store_cache_num_blocks(4)
            .try_into()
            .map_err(tantivy_err(path))?;
        Ok(OpenSplit {
            index,
            reader,
            path: path.to_path_buf(),
            fields,
        })
    }

    /// The documents whose `observables` contain any of `terms` (all documents if `terms` is
    /// `None`) and whose timestamp is in `[from, to)`, in document (time) order.
    pub fn search(
        &self,
        terms: Option<&[String]>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        self.search_field(self.fields.observables, terms, from, to)
    }

    /// The documents whose `url_stem` holds any of `stems`, in `[from, to)`: candidates for
    /// URL indicators with a query string, to be re-checked on the stored event. Empty for a
    /// format 1 split (its `observables` hold such URLs in full).
    pub fn search_stems(
        &self,
        stems: &[String],
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        match self.fields.url_stem {
            Some(f) if !stems.is_empty() => self.search_field(f, Some(stems), from, to),
            _ => Ok(Vec::new()),
        }
    }

    fn search_field(
        &self,
        field: Field,
        terms: Option<&[String]>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        let ts = self.fields.ts;
        let base: Box<dyn Query> = match terms {
            Some(t) => Box::new(TermSetQuery::new(
                t.iter().map(|v| Term::from_field_text(field, v)),
            )),
            None => Box::new(AllQuery),
        };
        let query: Box<dyn Query> = if from.is_some() || to.is_some() {
            let lo = from.map_or(Bound::Unbounded, |f| {
                Bound::Included(Term::from_field_i64(ts, f.nanos()))
            });
            let hi = to.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(ts, t.nanos()))
            });
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, base),
                (Occur::Must, Box::new(RangeQuery::new(lo, hi))),
            ]))
        } else {
            base
        };
        let searcher = self.reader.searcher();
        let mut hits: Vec<DocAddress> = searcher
            .search(&*query, &DocSetCollector)
            .map_err(tantivy_err(&self.path))?
            .into_iter()
            .collect();
        hits.sort_unstable();
        Ok(hits)
    }

    /// The stored event JSON of each address.
    pub fn fetch(&self, docs: &[DocAddress]) -> Result<Vec<String>, SplitError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(docs.len());
        for &d in docs {
            let doc: TantivyDocument = searcher.doc(d).map_err(tantivy_err(&self.path))?;
            let json = doc
                .get_first(self.fields.event)
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
    crate::wal::sync_dir(out).map_err(|e| SplitError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    dir_bytes(out)
}

/// A cache of open splits, by id.
#[derive(Debug, Default)]
pub struct SplitCache {
    open: HashMap<String, std::sync::Arc<OpenSplit>>,
}

impl SplitCache {
    pub fn get(&mut self, id: &str, path: &Path) -> Result<std::sync::Arc<OpenSplit>, SplitError> {
        if let Some(s) = self.open.get(id) {
            return Ok(s.clone());
        }
        let s = std::sync::Arc::new(OpenSplit::open(path)?);
        self.open.insert(id.to_string(), s.clone());
        Ok(s)
    }

    pub fn forget(&mut self, id: &str) {
        self.open.remove(id);
    }
}

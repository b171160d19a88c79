//! One split: an immutable tantivy index of the events of one organization and time range.
//!
//! Schema (identical for every split, so splits can be merged):
//!
//! | field | options | holds |
//! |---|---|---|
//! | `observables` | raw term, docs only | every indicator term of the event (see [`crate::terms`]) |
//! | `ip`, `domain`, `url`, `hash`, `email`, `user`, `file`, `fingerprint` | raw term, docs only | empty since 2026-11-26 (kept so older splits still merge; no query used them) |
//! | `ts` | i64, indexed + fast | `@timestamp` in UTC nanoseconds |
//! | `org`, `dataset` | raw term, fast | dimensions |
//! | `event` | stored (zstd doc store) | the normalized event as ECS JSON |

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use tantivy::collector::DocSetCollector;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermSetQuery};
use tantivy::schema::{FAST, Field, INDEXED, STORED, STRING, Schema, Value};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{DocAddress, Index, IndexReader, IndexSettings, ReloadPolicy, TantivyDocument, Term};
use yagura_model::Timestamp;

use crate::terms::{TermKind, event_terms};

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

/// The fields of the split schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub observables: Field,
    pub by_kind: [Field; 8],
    pub ts: Field,
    pub org: Field,
    pub dataset: Field,
    pub event: Field,
}

impl Fields {
    pub fn new() -> Fields {
        let mut b = Schema::builder();
        let observables = b.add_text_field("observables", STRING);
        let by_kind = TermKind::ALL.map(|k| b.add_text_field(k.field_name(), STRING));
        let ts = b.add_i64_field("ts", INDEXED | FAST);
        let org = b.add_text_field("org", STRING | FAST);
        let dataset = b.add_text_field("dataset", STRING | FAST);
        let event = b.add_text_field("event", STORED);
        Fields {
            schema: b.build(),
            observables,
            by_kind,
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

/// zstd level of the doc store. Fixed: tantivy merges only splits with equal settings.
pub const ZSTD_LEVEL: i32 = 6;

/// Index settings of every split: zstd-compressed doc store in 64 KiB blocks.
pub fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(ZSTD_LEVEL),
        }),
        docstore_blocksize: 64 * 1024,
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

/// Builds a split in the new directory `dir` from `rows` (sorted here by time) and seals it
/// with a tantivy commit. The caller publishes it in the catalogue.
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
    let index = Index::builder()
        .schema(fields.schema.clone())
        .settings(index_settings())
        .create_in_dir(dir)
        .map_err(tantivy_err(dir))?;
    let mut writer = index
        .writer_with_num_threads::<TantivyDocument>(1, writer_memory.max(15_000_000))
        .map_err(tantivy_err(dir))?;
    let mut min_ts = i64::MAX;
    let mut max_ts = i64::MIN;
    let mut terms: Vec<String> = Vec::new();
    for row in &rows {
        let ev = row.event;
        let ts = ev.timestamp.nanos();
        min_ts = min_ts.min(ts);
        max_ts = max_ts.max(ts);
        let mut doc = TantivyDocument::new();
        terms.clear();
        event_terms(ev, |_, t| terms.push(t.to_string()));
        terms.sort_unstable();
        terms.dedup();
        // Only `observables` is populated: hunts query it alone (the per-kind fields stay in
        // the schema, empty, so that splits built before and after merge).
        for t in terms.drain(..) {
            doc.add_text(fields.observables, t);
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
    writer.commit().map_err(tantivy_err(dir))?;
    writer.wait_merging_threads().map_err(tantivy_err(dir))?;
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
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err(path))?;
        Ok(OpenSplit {
            index,
            reader,
            path: path.to_path_buf(),
        })
    }

    /// The documents whose `observables` contain any of `terms` (all documents if `terms` is
    /// `None`) and whose timestamp is in `[from, to)`, in document (time) order.
    pub fn search(
        &self,
        fields: &Fields,
        terms: Option<&[String]>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<DocAddress>, SplitError> {
        let base: Box<dyn Query> = match terms {
            Some(t) => Box::new(TermSetQuery::new(
                t.iter()
                    .map(|v| Term::from_field_text(fields.observables, v)),
            )),
            None => Box::new(AllQuery),
        };
        let query: Box<dyn Query> = if from.is_some() || to.is_some() {
            let lo = from.map_or(Bound::Unbounded, |f| {
                Bound::Included(Term::from_field_i64(fields.ts, f.nanos()))
            });
            let hi = to.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(fields.ts, t.nanos()))
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
    pub fn fetch(&self, fields: &Fields, docs: &[DocAddress]) -> Result<Vec<String>, SplitError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(docs.len());
        for &d in docs {
            let doc: TantivyDocument = searcher.doc(d).map_err(tantivy_err(&self.path))?;
            let json = doc
                .get_first(fields.event)
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

//! The on-disk snapshot of the indicator store under `--data-dir`, until the state store
//! (SQLite, behind the store trait) takes indicators.
//!
//! File: `<data-dir>/intel/indicators.jsonl`, JSON lines, written to a temporary file and
//! renamed into place (a crash leaves the old snapshot). Line 1 is the header
//! `{"format":"yagura-intel-snapshot","version":1}`; then one line per provenance record
//! `{"meta":ID,"source":…,"confidence":…,"tlp":…,"first_seen"…,"tags":[…],"to_ids":…}` and
//! one compact array per indicator `[KIND,VALUE,PORT|null,META_ID]`. Sharing provenance keeps
//! 1.5 M maltrail indicators near 60 MB instead of 350 MB as full objects.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use yagura_model::{IndicatorKind, Timestamp, Tlp};

use crate::store::{IndicatorStore, Meta};

pub const FORMAT: &str = "yagura-intel-snapshot";
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {reason}")]
    Corrupt {
        path: String,
        line: usize,
        reason: String,
    },
}

/// The snapshot file of a data directory.
pub fn snapshot_path(data_dir: &Path) -> PathBuf {
    data_dir.join("intel").join("indicators.jsonl")
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct MetaLine {
    meta: u32,
    source: String,
    confidence: u8,
    tlp: Tlp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    to_ids: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// Writes the store to `<data_dir>/intel/indicators.jsonl` atomically.
pub fn save(store: &IndicatorStore, data_dir: &Path) -> Result<PathBuf, PersistError> {
    let path = snapshot_path(data_dir);
    let io = |p: &Path, e: std::io::Error| PersistError::Io {
        path: p.display().to_string(),
        source: e,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let tmp = path.with_extension("jsonl.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let line =
        |w: &mut BufWriter<std::fs::File>, v: &dyn erased::Ser| -> Result<(), PersistError> {
            v.write(w).map_err(|e| io(&tmp, e))?;
            w.write_all(b"\n").map_err(|e| io(&tmp, e))
        };
    line(
        &mut w,
        &Header {
            format: FORMAT.into(),
            version: VERSION,
        },
    )?;
    for (i, m) in store.metas().iter().enumerate() {
        line(
            &mut w,
            &MetaLine {
                meta: u32::try_from(i).unwrap_or(u32::MAX),
                source: m.source.to_string(),
                confidence: m.confidence,
                tlp: m.tlp,
                first_seen: m.first_seen,
                last_seen: m.last_seen,
                valid_from: m.valid_from,
                valid_until: m.valid_until,
                tags: m.tags.iter().map(|t| t.to_string()).collect(),
                to_ids: m.to_ids,
                description: m.description.as_deref().map(str::to_owned),
            },
        )?;
    }
    for e in store.entries() {
        line(&mut w, &(e.kind, &*e.value, e.port, e.meta))?;
    }
    let file = w.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    Ok(path)
}

mod erased {
    /// Object-safe serialization to a writer.
    pub trait Ser {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(w, self).map_err(std::io::Error::other)
        }
    }
}

/// Reads the snapshot of `data_dir`; an absent snapshot is an empty store.
pub fn load(data_dir: &Path) -> Result<IndicatorStore, PersistError> {
    let path = snapshot_path(data_dir);
    let p = path.display().to_string();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IndicatorStore::new()),
        Err(e) => return Err(PersistError::Io { path: p, source: e }),
    };
    let corrupt = |line: usize, reason: String| PersistError::Corrupt {
        path: p.clone(),
        line,
        reason,
    };
    let mut store = IndicatorStore::new();
    let mut remap: Vec<u32> = Vec::new();
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| PersistError::Io {
            path: p.clone(),
            source: e,
        })?;
        if n == 1 {
            let h: Header = serde_json::from_str(&line).map_err(|e| corrupt(n, e.to_string()))?;
            if h.format != FORMAT || h.version != VERSION {
                return Err(corrupt(
                    n,
                    format!("unsupported snapshot {} v{}", h.format, h.version),
                ));
            }
            continue;
        }
        if line.starts_with('[') {
            let (kind, value, port, meta): (IndicatorKind, String, Option<u16>, u32) =
                serde_json::from_str(&line).map_err(|e| corrupt(n, e.to_string()))?;
            let m = *remap
                .get(meta as usize)
                .ok_or_else(|| corrupt(n, format!("unknown meta {meta}")))?;
            store.insert_with_meta(kind, &value, port, m);
        } else {
            let m: MetaLine = serde_json::from_str(&line).map_err(|e| corrupt(n, e.to_string()))?;
            if m.meta as usize != remap.len() {
                return Err(corrupt(n, format!("meta {} out of order", m.meta)));
            }
            let id = store.intern(Meta {
                source: m.source.into(),
                confidence: m.confidence.min(100),
                tlp: m.tlp,
                first_seen: m.first_seen,
                last_seen: m.last_seen,
                valid_from: m.valid_from,
                valid_until: m.valid_until,
                tags: m.tags.into_iter().map(Into::into).collect(),
                to_ids: m.to_ids,
                description: m.description.map(Into::into),
            });
            remap.push(id);
        }
    }
    Ok(store)
}

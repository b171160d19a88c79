//! Import: format detection and the readers (STIX 2.1 bundles, MISP events and feeds, CSV
//! with a header mapping, plain lists such as maltrail trails and ipsum levels).
//!
//! Every record either becomes indicators or a [`Reject`] carrying its location and reason;
//! nothing is dropped silently. Values are normalized by [`crate::normalize`] before they reach
//! the store.

use std::path::{Path, PathBuf};

use yagura_model::{IndicatorKind, Timestamp, Tlp};

use crate::normalize::{self, Normalized};
use crate::store::{IndicatorStore, Inserted, Meta};

pub mod csv;
pub mod list;
pub mod misp;
pub mod stix;

/// The formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A STIX 2.1 bundle.
    Stix,
    /// MISP event JSON (`{"Event": …}`, a list of them, or a REST `{"response": […]}`).
    MispEvent,
    /// A MISP feed's `manifest.json`: the event files `<uuid>.json` beside it are read.
    MispManifest,
    /// CSV with a header row naming the columns.
    Csv,
    /// One value per line, `#` comments (maltrail trails, ipsum, most blocklists).
    List,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Stix => "stix",
            Format::MispEvent => "misp-event",
            Format::MispManifest => "misp-manifest",
            Format::Csv => "csv",
            Format::List => "list",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = ImportError;
    fn from_str(s: &str) -> Result<Format, ImportError> {
        Ok(match s {
            "stix" => Format::Stix,
            "misp" | "misp-event" => Format::MispEvent,
            "misp-manifest" | "misp-feed" => Format::MispManifest,
            "csv" => Format::Csv,
            "list" | "txt" => Format::List,
            other => return Err(ImportError::UnknownFormat(other.to_owned())),
        })
    }
}

/// Per-feed defaults, applied where the data does not say.
#[derive(Debug, Clone)]
pub struct FeedDefaults {
    /// The source name; derived from the file path when `None`.
    pub source: Option<String>,
    pub tlp: Tlp,
    pub confidence: u8,
    /// Expiry: indicators without their own `valid_until` expire this many seconds after
    /// `now` (or after their own `valid_from`).
    pub valid_for_secs: Option<i64>,
    pub tags: Vec<String>,
    pub to_ids: bool,
    /// Import time (the library reads no clock).
    pub now: Timestamp,
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
}

impl Default for FeedDefaults {
    fn default() -> FeedDefaults {
        FeedDefaults {
            source: None,
            // Conservative: data of unknown handling is not passed on beyond the recipient.
            tlp: Tlp::Amber,
            confidence: 50,
            valid_for_secs: None,
            tags: Vec::new(),
            to_ids: true,
            now: Timestamp::EPOCH,
            format: None,
        }
    }
}

impl FeedDefaults {
    pub(crate) fn valid_until(&self, from: Option<Timestamp>) -> Option<Timestamp> {
        let ttl = self.valid_for_secs?;
        Some(from.unwrap_or(self.now).saturating_add_secs(ttl))
    }

    pub(crate) fn valid_from(&self) -> Option<Timestamp> {
        self.valid_for_secs.map(|_| self.now)
    }
}

/// A record that did not become an indicator, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reject {
    /// `line 12`, `indicator--…`, `attribute 5f0c…`, …
    pub location: String,
    pub value: String,
    pub reason: String,
}

/// What one import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub origin: String,
    pub format: Option<Format>,
    /// Indicator values read (before deduplication).
    pub values: usize,
    /// New indicators.
    pub added: usize,
    /// Values already present from the same source (provenance merged).
    pub merged: usize,
    pub rejects: Vec<Reject>,
}

impl ImportReport {
    pub(crate) fn reject(
        &mut self,
        location: impl Into<String>,
        value: &str,
        reason: impl ToString,
    ) {
        self.rejects.push(Reject {
            location: location.into(),
            value: value.chars().take(200).collect(),
            reason: reason.to_string(),
        });
    }

    pub(crate) fn count(&mut self, r: Inserted) {
        self.values += 1;
        match r {
            Inserted::New => self.added += 1,
            Inserted::Merged => self.merged += 1,
        }
    }

    /// Folds another report (the event files of a MISP feed) into this one.
    pub fn absorb(&mut self, other: ImportReport) {
        self.values += other.values;
        self.added += other.added;
        self.merged += other.merged;
        self.rejects.extend(other.rejects);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not valid JSON: {reason}")]
    Json { origin: String, reason: String },
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("unknown format {0:?} (expected stix, misp, misp-manifest, csv or list)")]
    UnknownFormat(String),
}

/// Detects the format of a file from its content (and name, for MISP manifests).
pub fn detect(name: &str, bytes: &[u8]) -> Format {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    let first = start.and_then(|i| bytes.get(i)).copied();
    if matches!(first, Some(b'{' | b'[')) {
        let head = bytes.get(..bytes.len().min(4096)).unwrap_or(bytes);
        let head = String::from_utf8_lossy(head);
        if head.contains("\"type\"") && head.contains("\"bundle\"") {
            return Format::Stix;
        }
        if head.contains("\"Event\"") || head.contains("\"response\"") {
            return Format::MispEvent;
        }
        if name.ends_with("manifest.json") || head.contains("\"info\"") {
            return Format::MispManifest;
        }
        if head.contains("\"spec_version\"") || head.contains("\"objects\"") {
            return Format::Stix;
        }
        return Format::MispEvent;
    }
    if csv::looks_like_csv(bytes) {
        return Format::Csv;
    }
    Format::List
}

/// Imports bytes of a known or detected format. `origin` names the data in reports and
/// serves as the default source; MISP manifests need [`import_path`] (they reference files).
pub fn import_bytes(
    store: &mut IndicatorStore,
    origin: &str,
    bytes: &[u8],
    defaults: &FeedDefaults,
) -> Result<ImportReport, ImportError> {
    let format = defaults.format.unwrap_or_else(|| detect(origin, bytes));
    let mut report = ImportReport {
        origin: origin.to_owned(),
        format: Some(format),
        ..ImportReport::default()
    };
    match format {
        Format::List => list::import(store, origin, bytes, defaults, &mut report),
        Format::Csv => csv::import(store, origin, bytes, defaults, &mut report)?,
        Format::Stix => stix::import(store, origin, bytes, defaults, &mut report)?,
        Format::MispEvent => misp::import_events(store, origin, bytes, defaults, &mut report)?,
        Format::MispManifest => {
            return Err(ImportError::Invalid {
                origin: origin.to_owned(),
                reason: "a MISP feed manifest must be imported from its directory".into(),
            });
        }
    }
    Ok(report)
}

/// Imports a file (a MISP `manifest.json` brings its event files along) or every file of a
/// directory, recursively, in path order.
pub fn import_path(
    store: &mut IndicatorStore,
    path: &Path,
    defaults: &FeedDefaults,
) -> Result<Vec<ImportReport>, ImportError> {
    let io = |e: std::io::Error| ImportError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files).map_err(io)?;
        files.sort();
        // A MISP feed directory: the manifest reads the events; skip them as separate files.
        if let Some(m) = files
            .iter()
            .find(|f| f.file_name().is_some_and(|n| n == "manifest.json"))
            .cloned()
        {
            return Ok(vec![import_manifest(store, &m, defaults)?]);
        }
        let mut out = Vec::new();
        for f in files {
            out.extend(import_path(store, &f, defaults)?);
        }
        return Ok(out);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let origin = path.display().to_string();
    let format = defaults.format.unwrap_or_else(|| detect(&origin, &bytes));
    if format == Format::MispManifest {
        return Ok(vec![import_manifest(store, path, defaults)?]);
    }
    let mut d = defaults.clone();
    if d.source.is_none() {
        d.source = Some(source_from_path(path));
    }
    d.format = Some(format);
    Ok(vec![import_bytes(store, &origin, &bytes, &d)?])
}

/// Imports several files or directories: the same store and reports as [`import_path`] on
/// each path in turn, but independent files (each file of a directory, each MISP feed) are
/// read and normalized on up to `threads` threads, each into its own store, and merged here in
/// path order.
///
/// A file's store is moved in whole when none of its sources is in the store yet (maltrail's
/// and ipsum's files each have their own source, derived from the path), which gives exactly
/// what the sequential import builds. A file sharing a source with what came before (the same
/// feed given twice, `defaults.source` naming one source for everything, records naming a
/// source another file also names) is imported again on this thread in its turn, so the
/// de-duplication, the provenance merges and the report's added/merged counts are those of the
/// sequential import too. An error stops the import at that file, as [`import_path`] does:
/// the files before it are in the store, none after it.
pub fn import_paths<P: AsRef<Path>>(
    store: &mut IndicatorStore,
    paths: &[P],
    defaults: &FeedDefaults,
    threads: usize,
) -> Result<Vec<ImportReport>, ImportError> {
    let mut units = Vec::new();
    for path in paths {
        if !plan(path.as_ref(), &mut units) {
            break;
        }
    }
    let workers = threads.min(units.len());
    let mut out = Vec::new();
    if workers <= 1 || defaults.source.is_some() {
        // One named source for everything: every file after the first would be re-imported.
        for unit in units {
            out.extend(unit.import(store, defaults)?);
        }
        return Ok(out);
    }
    let mut sources: std::collections::HashSet<Box<str>> =
        store.metas().iter().map(|m| m.source.clone()).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let template = store.empty_like();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..workers {
            let tx = tx.clone();
            let (units, next, failed, template) = (&units, &next, &failed, &template);
            scope.spawn(move || {
                use std::sync::atomic::Ordering::Relaxed;
                while !failed.load(Relaxed) {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(unit) = units.get(i) else { break };
                    let mut local = template.empty_like();
                    let r = unit.import(&mut local, defaults);
                    if r.is_err() {
                        failed.store(true, Relaxed);
                    }
                    if tx.send((i, local, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Merge in path order as the files arrive.
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0;
        for (i, local, r) in rx {
            pending.insert(i, (local, r));
            while let Some((local, r)) = pending.remove(&want) {
                let reports = r?;
                let unit = units.get(want);
                want += 1;
                let before = store.metas().len();
                if local.metas().iter().any(|m| sources.contains(&m.source)) {
                    if let Some(unit) = unit {
                        out.extend(unit.import(store, defaults)?);
                    }
                } else {
                    store.append_disjoint(local);
                    out.extend(reports);
                }
                for m in store.metas().get(before..).unwrap_or_default() {
                    sources.insert(m.source.clone());
                }
            }
        }
        Ok(out)
    })
}

/// One independent piece of an import: a file, or a MISP feed (its manifest), or the error
/// that listing a directory gave (the import stops there).
enum Unit {
    File(PathBuf),
    Manifest(PathBuf),
    Failed(std::sync::Mutex<Option<ImportError>>),
}

impl Unit {
    fn import(
        &self,
        store: &mut IndicatorStore,
        defaults: &FeedDefaults,
    ) -> Result<Vec<ImportReport>, ImportError> {
        match self {
            Unit::File(f) => import_path(store, f, defaults),
            Unit::Manifest(m) => Ok(vec![import_manifest(store, m, defaults)?]),
            Unit::Failed(e) => Err(e.lock().ok().and_then(|mut e| e.take()).unwrap_or_else(|| {
                ImportError::Invalid {
                    origin: String::new(),
                    reason: "listing the directory failed".into(),
                }
            })),
        }
    }
}

/// Lists the units of `path` in [`import_path`]'s order; false after a listing error.
fn plan(path: &Path, units: &mut Vec<Unit>) -> bool {
    if !path.is_dir() {
        units.push(Unit::File(path.to_path_buf()));
        return true;
    }
    let mut files = Vec::new();
    if let Err(e) = walk(path, &mut files) {
        units.push(Unit::Failed(std::sync::Mutex::new(Some(ImportError::Io {
            path: path.display().to_string(),
            source: e,
        }))));
        return false;
    }
    files.sort();
    if let Some(m) = files
        .iter()
        .find(|f| f.file_name().is_some_and(|n| n == "manifest.json"))
    {
        units.push(Unit::Manifest(m.clone()));
    } else {
        units.extend(files.into_iter().map(Unit::File));
    }
    true
}

fn import_manifest(
    store: &mut IndicatorStore,
    manifest: &Path,
    defaults: &FeedDefaults,
) -> Result<ImportReport, ImportError> {
    let bytes = std::fs::read(manifest).map_err(|e| ImportError::Io {
        path: manifest.display().to_string(),
        source: e,
    })?;
    let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    misp::import_manifest(store, manifest, &dir, &bytes, defaults)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.') && n != "LICENSE" && !n.ends_with(".md"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// `…/trails/static/malware/emotet.txt` → `maltrail/malware/emotet`;
/// `…/ipsum/levels/3.txt` → `ipsum/level-3`; otherwise `<parent>/<stem>`.
pub fn source_from_path(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let full = path.to_string_lossy();
    if full.contains("trails/static") {
        if parent == "static" {
            return format!("maltrail/{stem}");
        }
        return format!("maltrail/{parent}/{stem}");
    }
    if full.contains("ipsum") && parent == "levels" {
        return format!("ipsum/level-{stem}");
    }
    if parent.is_empty() {
        stem
    } else {
        format!("{parent}/{stem}")
    }
}

/// Provenance for one record, from the defaults plus what the record says.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordMeta {
    pub source: Option<String>,
    pub confidence: Option<u8>,
    pub tlp: Option<Tlp>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub tags: Vec<String>,
    pub to_ids: Option<bool>,
    pub description: Option<String>,
}

impl RecordMeta {
    pub(crate) fn into_meta(self, origin: &str, d: &FeedDefaults) -> Meta {
        let valid_from = self.valid_from.or_else(|| d.valid_from());
        let valid_until = self.valid_until.or_else(|| d.valid_until(valid_from));
        let mut tags: Vec<Box<str>> = Vec::new();
        for t in d.tags.iter().chain(self.tags.iter()) {
            let t = t.trim();
            if !t.is_empty() && !tags.iter().any(|x| &**x == t) {
                tags.push(t.into());
            }
        }
        Meta {
            source: self
                .source
                .or_else(|| d.source.clone())
                .unwrap_or_else(|| origin.to_owned())
                .into(),
            confidence: self.confidence.unwrap_or(d.confidence).min(100),
            tlp: self.tlp.unwrap_or(d.tlp),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            valid_from,
            valid_until,
            tags: tags.into_boxed_slice(),
            to_ids: self.to_ids.unwrap_or(d.to_ids),
            description: self.description.map(Into::into),
        }
    }
}

/// Inserts one normalized value under interned provenance `meta`.
pub(crate) fn insert(
    store: &mut IndicatorStore,
    report: &mut ImportReport,
    n: &Normalized,
    meta: u32,
) {
    let r = store.insert_with_meta(n.kind, &n.value, n.port, meta);
    report.count(r);
}

/// Normalizes a typed value or reports it.
pub(crate) fn typed(
    report: &mut ImportReport,
    location: &str,
    kind: IndicatorKind,
    raw: &str,
) -> Option<Normalized> {
    match normalize::value(kind, raw) {
        Ok(n) => Some(n),
        Err(e) => {
            report.reject(location, raw, e);
            None
        }
    }
}

/// Parses a timestamp as feeds write it: RFC 3339, a date, or epoch seconds.
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Some(t);
    }
    if let Ok(t) = Timestamp::parse_rfc3339(&s.replacen(' ', "T", 1)) {
        return Some(t);
    }
    if s.len() == 10
        && s.as_bytes().get(4) == Some(&b'-')
        && let Ok(t) = Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z"))
    {
        return Some(t);
    }
    if s.len() == 19
        && s.as_bytes().get(10) == Some(&b' ')
        && let Ok(t) = Timestamp::parse_rfc3339(&format!("{}Z", s.replacen(' ', "T", 1)))
    {
        return Some(t);
    }
    Timestamp::parse_epoch_decimal(s).ok()
}

/// `1`, `true`, `yes` (MISP writes booleans as strings).
pub(crate) fn parse_bool(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::Number(n) => Some(n.as_i64() != Some(0)),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" => Some(true),
            "0" | "false" | "no" | "n" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A confidence 0–100 from a number or a numeric string.
pub(crate) fn parse_confidence(v: &serde_json::Value) -> Option<u8> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !(0.0..=100.0).contains(&n) {
        return None;
    }
    Some(n.round() as u8)
}

#[cfg(test)]
mod tests;

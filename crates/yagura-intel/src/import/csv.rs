//! CSV with a header row. Columns are mapped by name (case-insensitive, first match wins):
//!
//! | field | header names |
//! |---|---|
//! | value (required) | `value`, `indicator`, `ioc`, `observable`, `ioc_value` |
//! | kind | `type`, `kind`, `indicator_type`, `ioc_type` (yagura kinds, MISP attribute types, `ip`, `hash`) |
//! | port | `port`, `dst_port` |
//! | source | `source`, `feed`, `provider` |
//! | confidence | `confidence`, `score` (0–100) |
//! | TLP | `tlp` |
//! | tags | `tags`, `tag`, `malware`, `family`, `threat` (split on `;`, `|` and `,`) |
//! | dates | `first_seen`, `last_seen`, `valid_from`, `valid_until` / `expires` / `expiry` |
//! | to-IDS | `to_ids`, `ids` |
//! | description | `description`, `comment` |
//!
//! A row without a usable kind is classified like a list line. The delimiter (`,`, `;`, tab)
//! is taken from the header. A custom mapping can be given with [`CsvMapping`].

use yagura_model::IndicatorKind;

use super::{
    FeedDefaults, ImportError, ImportReport, RecordMeta, insert, parse_bool, parse_confidence,
    parse_time, typed,
};
use crate::normalize;
use crate::store::IndicatorStore;

const VALUE: &[&str] = &["value", "indicator", "ioc", "observable", "ioc_value"];
const KIND: &[&str] = &["type", "kind", "indicator_type", "ioc_type"];
const PORT: &[&str] = &["port", "dst_port"];
const SOURCE: &[&str] = &["source", "feed", "provider"];
const CONFIDENCE: &[&str] = &["confidence", "score", "confidence_level"];
const TLP: &[&str] = &["tlp"];
const TAGS: &[&str] = &[
    "tags",
    "tag",
    "malware",
    "family",
    "threat",
    "threat_type",
    "malware_printable",
];
const FIRST: &[&str] = &["first_seen", "firstseen", "first_seen_utc"];
const LAST: &[&str] = &["last_seen", "lastseen", "last_online"];
const FROM: &[&str] = &["valid_from"];
const UNTIL: &[&str] = &["valid_until", "expires", "expiry", "expiration"];
const IDS: &[&str] = &["to_ids", "ids"];
const DESC: &[&str] = &["description", "comment"];

/// Column indexes of the fields (from the header, or given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvMapping {
    pub value: usize,
    pub kind: Option<usize>,
    pub port: Option<usize>,
    pub source: Option<usize>,
    pub confidence: Option<usize>,
    pub tlp: Option<usize>,
    pub tags: Vec<usize>,
    pub first_seen: Option<usize>,
    pub last_seen: Option<usize>,
    pub valid_from: Option<usize>,
    pub valid_until: Option<usize>,
    pub to_ids: Option<usize>,
    pub description: Option<usize>,
}

fn norm_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('#')
        .trim()
        .trim_matches('"')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

impl CsvMapping {
    /// Maps header names; `None` when no value column is recognized.
    pub fn from_header<'a>(header: impl IntoIterator<Item = &'a str>) -> Option<CsvMapping> {
        let names: Vec<String> = header.into_iter().map(norm_header).collect();
        let find = |keys: &[&str]| names.iter().position(|n| keys.contains(&n.as_str()));
        Some(CsvMapping {
            value: find(VALUE)?,
            kind: find(KIND),
            port: find(PORT),
            source: find(SOURCE),
            confidence: find(CONFIDENCE),
            tlp: find(TLP),
            tags: names
                .iter()
                .enumerate()
                .filter(|(_, n)| TAGS.contains(&n.as_str()))
                .map(|(i, _)| i)
                .collect(),
            first_seen: find(FIRST),
            last_seen: find(LAST),
            valid_from: find(FROM),
            valid_until: find(UNTIL),
            to_ids: find(IDS),
            description: find(DESC),
        })
    }
}

fn delimiter(first_line: &str) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

fn header_line(bytes: &[u8]) -> Option<&str> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(str::trim)
        .find(|l| {
            let commented_non_header = l.starts_with('#')
                && CsvMapping::from_header(l.split(char::from(delimiter(l)))).is_none();
            !l.is_empty() && !commented_non_header
        })
}

/// Is this text CSV with a recognizable header?
pub fn looks_like_csv(bytes: &[u8]) -> bool {
    let Some(h) = header_line(bytes) else {
        return false;
    };
    let d = char::from(delimiter(h));
    h.contains(d) && CsvMapping::from_header(h.split(d).map(|c| c.trim_matches('"'))).is_some()
}

/// Maps CSV type names (yagura kinds, MISP attribute types, common words) to kinds.
pub fn kind_from_name(name: &str) -> Option<IndicatorKind> {
    use IndicatorKind as K;
    let n = name.trim().to_ascii_lowercase();
    if let Ok(k) = n.parse::<IndicatorKind>() {
        return Some(k);
    }
    Some(match n.as_str() {
        "ip" | "ip-dst" | "ip-src" | "ipv4-addr" | "ipv6-addr" | "ip_address" | "ipaddress" => {
            K::Ipv4
        }
        "domain-name" | "fqdn" => K::Domain,
        "host" => K::Hostname,
        "uri" | "link" => K::Url,
        "sha-1" | "sha1_hash" => K::Sha1,
        "sha-256" | "sha256_hash" => K::Sha256,
        "md5_hash" => K::Md5,
        "email-src" | "email-dst" | "email-addr" | "e-mail" => K::Email,
        "filename" | "file" | "file_name" => K::FileName,
        "ja3-fingerprint-md5" => K::Ja3,
        "ja4+" => K::Ja4,
        "cidr" | "network" | "subnet" => K::Cidr,
        _ => return None,
    })
}

pub(crate) fn import(
    store: &mut IndicatorStore,
    origin: &str,
    bytes: &[u8],
    d: &FeedDefaults,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let invalid = |reason: &str| ImportError::Invalid {
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    let header = header_line(bytes).ok_or_else(|| invalid("no header row"))?;
    let delim = delimiter(header);
    let start = memchr_find(bytes, header.as_bytes()).unwrap_or(0);
    let body = bytes.get(start..).unwrap_or(bytes);
    // A commented header (`# first_seen,value,…`, as abuse.ch writes it) is the header.
    let uncommented;
    let body = if header.starts_with('#') {
        let rest = body.get(header.len()..).unwrap_or(&[]);
        let mut v = header.trim_start_matches('#').trim().as_bytes().to_vec();
        v.extend_from_slice(rest);
        uncommented = v;
        &uncommented[..]
    } else {
        body
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(true)
        .has_headers(true)
        .comment(Some(b'#'))
        .from_reader(body);
    let hdr = rdr
        .headers()
        .map_err(|e| invalid(&format!("header: {e}")))?
        .clone();
    let map = CsvMapping::from_header(hdr.iter()).ok_or_else(|| {
        invalid("the header names no value column (value, indicator, ioc, observable)")
    })?;
    import_records(store, origin, &mut rdr, &map, d, report);
    Ok(())
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Imports the records of a reader with an explicit mapping.
pub fn import_records<R: std::io::Read>(
    store: &mut IndicatorStore,
    origin: &str,
    rdr: &mut csv::Reader<R>,
    map: &CsvMapping,
    d: &FeedDefaults,
    report: &mut ImportReport,
) {
    let mut last_meta: Option<(crate::store::Meta, u32)> = None;
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.reject(format!("line {line}"), "", e);
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let loc = format!("line {line}");
        let col = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .map(|s| s.trim().trim_matches('"').trim())
                .filter(|s| !s.is_empty())
        };
        let Some(raw) = col(Some(map.value)) else {
            report.reject(loc, "", "empty value column");
            continue;
        };
        // ThreatFox writes `ip:port` as a type: the value says what it is.
        let kind = col(map.kind).filter(|k| !k.eq_ignore_ascii_case("ip:port"));
        let mut n = match kind {
            Some(k) => match kind_from_name(k) {
                Some(kind) => {
                    let Some(n) = typed(report, &loc, kind, raw) else {
                        continue;
                    };
                    n
                }
                None => {
                    report.reject(loc, raw, format!("unknown indicator type {k:?}"));
                    continue;
                }
            },
            None => match normalize::classify(raw) {
                Ok(n) => n,
                Err(e) => {
                    report.reject(loc, raw, e);
                    continue;
                }
            },
        };
        if let Some(p) = col(map.port) {
            match p.parse::<u16>() {
                Ok(p) => n.port = Some(p),
                Err(_) => {
                    report.reject(loc, p, "port is not a number 0–65535");
                    continue;
                }
            }
        }
        let mut m = RecordMeta {
            source: col(map.source).map(str::to_owned),
            ..RecordMeta::default()
        };
        if let Some(c) = col(map.confidence) {
            match parse_confidence(&serde_json::Value::String(c.to_owned())) {
                Some(c) => m.confidence = Some(c),
                None => {
                    report.reject(loc, raw, format!("confidence {c:?} is not 0–100"));
                    continue;
                }
            }
        }
        if let Some(t) = col(map.tlp) {
            match t.parse() {
                Ok(t) => m.tlp = Some(t),
                Err(e) => {
                    report.reject(loc, raw, e);
                    continue;
                }
            }
        }
        for &i in &map.tags {
            if let Some(t) = col(Some(i)) {
                m.tags.extend(
                    t.split([';', '|', ','])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        let mut bad_time = None;
        let mut time = |i: Option<usize>| {
            let s = col(i)?;
            let t = parse_time(s);
            if t.is_none() {
                bad_time = Some(s.to_owned());
            }
            t
        };
        m.first_seen = time(map.first_seen);
        m.last_seen = time(map.last_seen);
        m.valid_from = time(map.valid_from);
        m.valid_until = time(map.valid_until);
        if let Some(s) = bad_time {
            report.reject(loc, raw, format!("unreadable date {s:?}"));
            continue;
        }
        if let Some(b) = col(map.to_ids) {
            m.to_ids = parse_bool(&serde_json::Value::String(b.to_owned()));
        }
        m.description = col(map.description).map(str::to_owned);
        let meta = m.into_meta(origin, d);
        let id = match &last_meta {
            Some((prev, id)) if *prev == meta => *id,
            _ => {
                let id = store.intern(meta.clone());
                last_meta = Some((meta, id));
                id
            }
        };
        insert(store, report, &n, id);
    }
}

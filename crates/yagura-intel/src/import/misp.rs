//! MISP event JSON and MISP feeds.
//!
//! Accepted shapes: `{"Event": {…}}`, a list of those, the REST search answer
//! `{"response": [{"Event": …}]}`, and a feed directory (`manifest.json` naming `<uuid>.json`
//! event files). MISP writes numbers and booleans as strings (`"to_ids": "1"`,
//! `"timestamp": "1700000000"`); both spellings are read.
//!
//! Attribute types map onto indicator kinds (`ip-dst`, `ip-src` → IP or CIDR; `ip-dst|port` →
//! IP with port; `domain`, `hostname`; `domain|ip` → both; `url`, `uri`; `md5`, `sha1`,
//! `sha256`; `filename|<hash>` → file name and hash; `filename`; `email-src`, `email-dst`,
//! `email`; `ja3-fingerprint-md5`). Attributes of other types (text, comments, vulnerabilities,
//! …) are reported as rejects with their type, as are deleted attributes. Attributes inside
//! MISP objects are read the same way. Event and attribute tags become tags; `tlp:*` tags set
//! the TLP (the attribute's over the event's); the creating organization (`Orgc.name`) is the
//! source unless the feed defaults name one.

use std::path::Path;

use serde_json::Value;
use yagura_model::{IndicatorKind, Timestamp, Tlp};

use super::{
    FeedDefaults, ImportError, ImportReport, RecordMeta, insert, parse_bool, parse_time, typed,
};
use crate::normalize::Normalized;
use crate::store::IndicatorStore;

fn s<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

fn time_of(v: Option<&Value>) -> Option<Timestamp> {
    match v? {
        Value::String(s) => parse_time(s),
        Value::Number(n) => n.as_i64().map(Timestamp::from_secs),
        _ => None,
    }
}

fn tags_of(o: &Value) -> Vec<&str> {
    o.get("Tag")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| s(t, "name"))
        .collect()
}

fn tlp_of(tags: &[&str]) -> Option<Tlp> {
    tags.iter()
        .filter(|t| t.to_ascii_lowercase().starts_with("tlp:"))
        .filter_map(|t| t.parse::<Tlp>().ok())
        .max()
}

/// The kinds an attribute type yields, one per `|`-separated component.
fn kinds_of(misp_type: &str) -> Option<Vec<IndicatorKind>> {
    use IndicatorKind as K;
    let one = |t: &str| -> Option<K> {
        Some(match t {
            "ip-dst" | "ip-src" | "ip" => K::Ipv4,
            "domain" => K::Domain,
            "hostname" => K::Hostname,
            "url" | "uri" => K::Url,
            "md5" => K::Md5,
            "sha1" => K::Sha1,
            "sha256" => K::Sha256,
            "filename" => K::FileName,
            "email" | "email-src" | "email-dst" | "email-reply-to" => K::Email,
            "ja3-fingerprint-md5" => K::Ja3,
            "ja4" | "ja4-fingerprint" => K::Ja4,
            _ => return None,
        })
    };
    match misp_type.split_once('|') {
        Some((a, "port")) => Some(vec![one(a)?]),
        Some((a, b)) => Some(vec![one(a)?, one(b)?]),
        None => Some(vec![one(misp_type)?]),
    }
}

struct EventCtx<'a> {
    origin: &'a str,
    source: Option<String>,
    tags: Vec<String>,
    tlp: Option<Tlp>,
    date: Option<Timestamp>,
}

fn import_attribute(
    store: &mut IndicatorStore,
    ev: &EventCtx<'_>,
    a: &Value,
    d: &FeedDefaults,
    report: &mut ImportReport,
) {
    let uuid = s(a, "uuid").unwrap_or("?");
    let loc = format!("attribute {uuid}");
    let ty = s(a, "type").unwrap_or("");
    let raw = match a.get("value") {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            report.reject(loc, "", "attribute without a value");
            return;
        }
    };
    if a.get("deleted").and_then(parse_bool) == Some(true) {
        report.reject(loc, &raw, "deleted attribute");
        return;
    }
    let Some(kinds) = kinds_of(ty) else {
        report.reject(
            loc,
            &raw,
            format!("attribute type {ty:?} is not an indicator kind"),
        );
        return;
    };
    let parts: Vec<&str> = if kinds.len() == 2 || ty.ends_with("|port") {
        raw.splitn(2, '|').collect()
    } else {
        vec![raw.as_str()]
    };
    let mut values: Vec<Normalized> = Vec::new();
    for (k, v) in kinds.iter().zip(parts.iter()) {
        let k = match k {
            IndicatorKind::Ipv4 if v.contains('/') => IndicatorKind::Cidr,
            k => *k,
        };
        match typed(report, &loc, k, v) {
            Some(n) => values.push(n),
            None => return,
        }
    }
    if ty.ends_with("|port") {
        match parts.get(1).map(|p| p.trim().parse::<u16>()) {
            Some(Ok(p)) => {
                for n in &mut values {
                    if matches!(n.kind, IndicatorKind::Ipv4 | IndicatorKind::Ipv6) {
                        n.port = Some(p);
                    }
                }
            }
            _ => {
                report.reject(loc, &raw, "port is not a number 0–65535");
                return;
            }
        }
    }
    let atags = tags_of(a);
    let mut tags = ev.tags.clone();
    tags.extend(
        atags
            .iter()
            .filter(|t| !t.to_ascii_lowercase().starts_with("tlp:"))
            .map(|t| (*t).to_owned()),
    );
    if let Some(c) = s(a, "category") {
        tags.push(format!("misp:category={c}"));
    }
    let m = RecordMeta {
        source: ev.source.clone(),
        confidence: None,
        tlp: tlp_of(&atags).or(ev.tlp),
        first_seen: time_of(a.get("first_seen")).or(ev.date),
        last_seen: time_of(a.get("last_seen")).or_else(|| time_of(a.get("timestamp"))),
        valid_from: None,
        valid_until: None,
        tags,
        to_ids: a.get("to_ids").and_then(parse_bool),
        description: s(a, "comment").filter(|c| !c.is_empty()).map(str::to_owned),
    };
    let meta = store.intern(m.into_meta(ev.origin, d));
    for n in &values {
        insert(store, report, n, meta);
    }
}

fn import_event(
    store: &mut IndicatorStore,
    origin: &str,
    e: &Value,
    d: &FeedDefaults,
    report: &mut ImportReport,
) {
    let etags = tags_of(e);
    let mut tags: Vec<String> = etags
        .iter()
        .filter(|t| !t.to_ascii_lowercase().starts_with("tlp:"))
        .map(|t| (*t).to_owned())
        .collect();
    if let Some(info) = s(e, "info") {
        tags.push(format!("misp:event={info}"));
    }
    let ctx = EventCtx {
        origin,
        source: d.source.clone().or_else(|| {
            e.get("Orgc")
                .and_then(|o| s(o, "name"))
                .map(|n| format!("misp/{n}"))
        }),
        tags,
        tlp: tlp_of(&etags),
        date: s(e, "date").and_then(parse_time),
    };
    for a in e
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        import_attribute(store, &ctx, a, d, report);
    }
    for o in e
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for a in o
            .get("Attribute")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            import_attribute(store, &ctx, a, d, report);
        }
    }
}

pub(crate) fn import_events(
    store: &mut IndicatorStore,
    origin: &str,
    bytes: &[u8],
    d: &FeedDefaults,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| ImportError::Json {
        origin: origin.to_owned(),
        reason: e.to_string(),
    })?;
    let list: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => vec![&doc],
        },
        _ => Vec::new(),
    };
    let mut n = 0;
    for item in list {
        let Some(e) = item.get("Event").filter(|e| e.is_object()) else {
            continue;
        };
        n += 1;
        import_event(store, origin, e, d, report);
    }
    if n == 0 {
        return Err(ImportError::Invalid {
            origin: origin.to_owned(),
            reason: "no MISP \"Event\" object found".into(),
        });
    }
    Ok(())
}

/// Imports a MISP feed: the manifest's events, each from `<dir>/<uuid>.json`.
pub(crate) fn import_manifest(
    store: &mut IndicatorStore,
    manifest: &Path,
    dir: &Path,
    bytes: &[u8],
    d: &FeedDefaults,
) -> Result<ImportReport, ImportError> {
    let origin = manifest.display().to_string();
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| ImportError::Json {
        origin: origin.clone(),
        reason: e.to_string(),
    })?;
    let Value::Object(events) = doc else {
        return Err(ImportError::Invalid {
            origin,
            reason: "a MISP manifest is an object keyed by event uuid".into(),
        });
    };
    let mut report = ImportReport {
        origin: origin.clone(),
        format: Some(super::Format::MispManifest),
        ..ImportReport::default()
    };
    let mut uuids: Vec<&String> = events.keys().collect();
    uuids.sort();
    for uuid in uuids {
        let safe = !uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !safe {
            report.reject(format!("manifest entry {uuid}"), uuid, "not an event uuid");
            continue;
        }
        let file = dir.join(format!("{uuid}.json"));
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                report.reject(format!("event {uuid}"), &format!("{uuid}.json"), e);
                continue;
            }
        };
        let name = file.display().to_string();
        let mut sub = ImportReport::default();
        match import_events(store, &name, &bytes, d, &mut sub) {
            Ok(()) => report.absorb(sub),
            Err(e) => report.reject(format!("event {uuid}"), &format!("{uuid}.json"), e),
        }
    }
    Ok(report)
}
